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
#   faultproxy_toggle         # injection off/on (SIGUSR1)
#   faultproxy_stop           # SIGTERM; the log then ends with a summary
#
# No trap is set here: the test's own EXIT trap calls faultproxy_stop
# (after unmounting, before azurite_stop).

faultproxy_start() {
	local dir
	dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/faultproxy.XXXXXX") || return 1
	FAULTPROXY_LOG="$dir/requests.jsonl"
	FAULTPROXY_ERR="$dir/stderr.log"
	python3 "$top_srcdir/tests/faultproxy.py" \
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
	python3 - "$FAULTPROXY_LOG" "${1:-}" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "summary" in r:
        continue
    want = sys.argv[2]
    if not want or (want == "any" and r.get("fault")) or r.get("fault") == want:
        n += 1
print(n)
EOF
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
