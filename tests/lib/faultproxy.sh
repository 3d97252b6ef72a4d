# tests/lib/faultproxy.sh: run tests/faultproxy.py in front of a test's
# Azurite, and read what it injected.
#
#   . "$top_srcdir/tests/lib/faultproxy.sh"
#   faultproxy_start [faultproxy.py options...]   # after azurite_start; sets
#                    # FAULTPROXY_PORT, FAULTPROXY_PID, FAULTPROXY_LOG (JSON
#                    # lines), FAULTPROXY_ERR (its stderr) and
#                    # FAULTPROXY_ENDPOINT (blob endpoint through the proxy)
#   faultproxy_count [FAULT]  # requests logged so far (with that fault;
#                             # "any" for every injected fault)
#   faultproxy_wait N         # until N requests are logged (a request is
#                             # logged just after it is answered), max 5 s
#   faultproxy_toggle         # injection off/on (SIGUSR1)
#   faultproxy_stop           # SIGTERM; the log then ends with a summary
#
# No trap is set here: the test's own EXIT trap calls faultproxy_stop
# (after unmounting, before azurite_stop).

# Debian's python3, not a version manager's shim (which costs ~0.7 s per
# start here).
: "${BM_PYTHON:=$(command -v /usr/bin/python3 || command -v python3)}"

faultproxy_start() {
	local dir
	dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/faultproxy.XXXXXX") || return 1
	FAULTPROXY_LOG="$dir/requests.jsonl"
	FAULTPROXY_ERR="$dir/stderr.log"
	"$BM_PYTHON" "$top_srcdir/tests/faultproxy.py" \
		--target-port "$AZURITE_PORT" --port-file "$dir/port" \
		--log "$FAULTPROXY_LOG" "$@" 2>"$FAULTPROXY_ERR" &
	FAULTPROXY_PID=$!
	local i
	for i in $(seq 1 100); do
		[ -s "$dir/port" ] && break
		kill -0 "$FAULTPROXY_PID" 2>/dev/null || break
		sleep 0.05
	done
	if ! [ -s "$dir/port" ]; then
		echo "faultproxy: did not start:" >&2
		cat "$FAULTPROXY_ERR" >&2
		return 1
	fi
	FAULTPROXY_PORT=$(cat "$dir/port")
	FAULTPROXY_ENDPOINT="http://127.0.0.1:$FAULTPROXY_PORT/$AZURITE_ACCOUNT"
	export FAULTPROXY_PORT FAULTPROXY_PID FAULTPROXY_LOG FAULTPROXY_ERR \
		FAULTPROXY_ENDPOINT
}

faultproxy_count() {
	[ -f "$FAULTPROXY_LOG" ] || { echo 0; return; }
	# JSON lines with sorted keys: "fault": null or "fault": "NAME".
	case "${1:-}" in
	"") grep -c '"seq": ' "$FAULTPROXY_LOG" ;;
	any) grep '"seq": ' "$FAULTPROXY_LOG" | grep -vc '"fault": null' ;;
	*) grep -c "\"fault\": \"$1\"" "$FAULTPROXY_LOG" ;;
	esac
}

faultproxy_wait() {
	local i
	for i in $(seq 1 50); do
		[ "$(faultproxy_count)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

faultproxy_toggle() {
	kill -USR1 "$FAULTPROXY_PID"
}

faultproxy_stop() {
	if [ -n "${FAULTPROXY_PID:-}" ]; then
		kill "$FAULTPROXY_PID" 2>/dev/null
		wait "$FAULTPROXY_PID" 2>/dev/null
		FAULTPROXY_PID=
	fi
}
