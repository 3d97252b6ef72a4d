# tests/lib/azurite.sh: start a private Azurite (Blob service only) for one
# test, on a free loopback port with its own data directory; stop it by PID
# when the test exits, whether it passed or failed.
#
#   . "$top_srcdir/tests/lib/azurite.sh"
#   azurite_start            # sets AZURITE_PORT, AZURITE_ENDPOINT, AZURITE_PID,
#                            # AZURITE_DIR and exports AZURE_STORAGE_* for
#                            # the well-known development account
#   azurite_requests [REGEX] # number of requests in Azurite's access log
#   azurite_stop             # also run by the EXIT trap
#
# AZURITE_EXTRA_ARGS (words) are passed on to Azurite, e.g.
# "--cert FILE --key FILE" to serve HTTPS (AZURITE_ENDPOINT then says
# https).
#
# Azurite comes from npm, installed once into the build tree
# ($AZURITE_HOME, default $top_builddir/tests/.azurite). Set AZURITE_BIN to
# use another installation.

AZURITE_ACCOUNT=devstoreaccount1
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
AZURITE_VERSION=${AZURITE_VERSION:-3.37.0}

azurite_install() {
	: "${AZURITE_HOME:=${top_builddir:-.}/tests/.azurite}"
	if [ -n "${AZURITE_BIN:-}" ] && [ -x "$AZURITE_BIN" ]; then
		return 0
	fi
	AZURITE_BIN="$AZURITE_HOME/node_modules/.bin/azurite-blob"
	[ -x "$AZURITE_BIN" ] && return 0
	command -v npm >/dev/null 2>&1 || {
		echo "azurite: npm not found: apt-get install npm" >&2
		return 1
	}
	mkdir -p "$AZURITE_HOME"
	# Several tests may start at once under make -j: one installs, the
	# others wait for it.
	(
		flock 9
		[ -x "$AZURITE_BIN" ] ||
			npm install --prefix "$AZURITE_HOME" --no-audit \
				--no-fund --loglevel=error \
				"azurite@$AZURITE_VERSION" >&2
	) 9>"$AZURITE_HOME/.install.lock"
	[ -x "$AZURITE_BIN" ] || {
		echo "azurite: installation into $AZURITE_HOME failed" >&2
		return 1
	}
}

# A free TCP port on 127.0.0.1, chosen by the kernel.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

azurite_start() {
	azurite_install || return 1
	AZURITE_DIR=$(mktemp -d "${TEST_TMPDIR:-/tmp}/azurite.XXXXXX") || return 1
	local tries=0
	while :; do
		AZURITE_PORT=$(free_port)
		"$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
			--location "$AZURITE_DIR" --skipApiVersionCheck --loose \
			--disableProductStyleUrl --disableTelemetry \
			--debug "$AZURITE_DIR/debug.log" ${AZURITE_EXTRA_ARGS:-} \
			>"$AZURITE_DIR/access.log" 2>&1 &
		AZURITE_PID=$!
		trap azurite_stop EXIT
		local i
		# Up to 30 s: a first start, or one under a parallel ASan run
		# on 2 cores, can take well over 10 s.
		for i in $(seq 1 300); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$AZURITE_PORT") 2>/dev/null; then
				break
			fi
			kill -0 "$AZURITE_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$AZURITE_PID" 2>/dev/null &&
			(exec 3<>"/dev/tcp/127.0.0.1/$AZURITE_PORT") 2>/dev/null; then
			break
		fi
		# Stop this attempt but keep its directory: the next attempt
		# runs in it, and its log is shown if all attempts fail.
		kill "$AZURITE_PID" 2>/dev/null
		wait "$AZURITE_PID" 2>/dev/null
		AZURITE_PID=
		tries=$((tries + 1))
		if [ "$tries" -ge 3 ]; then
			echo "azurite: did not start; log follows" >&2
			cat "$AZURITE_DIR/access.log" >&2
			azurite_stop
			return 1
		fi
	done
	local scheme=http
	case " ${AZURITE_EXTRA_ARGS:-} " in *" --cert "*) scheme=https ;; esac
	AZURITE_ENDPOINT="$scheme://127.0.0.1:$AZURITE_PORT/$AZURITE_ACCOUNT"
	export AZURITE_PORT AZURITE_ENDPOINT AZURITE_PID AZURITE_DIR
	export AZURE_STORAGE_ACCOUNT="$AZURITE_ACCOUNT"
	export AZURE_STORAGE_ACCESS_KEY="$AZURITE_KEY"
	export AZURE_STORAGE_BLOB_ENDPOINT="$AZURITE_ENDPOINT"
	unset AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_CONNECTION_STRING
}

# Requests Azurite has logged so far whose access-log line matches REGEX
# (default: every request). Lines look like
#   127.0.0.1 - - [..] "GET /devstoreaccount1/c?restype=container&comp=list HTTP/1.1" 200 -
# Azurite writes a line when a response ends, so a count taken right after a
# client exits can miss the last request: wait until the log has stopped
# growing (two reads 0.2 s apart agree, 5 s at most).
azurite_requests() {
	local log="$AZURITE_DIR/access.log" size prev= i
	for i in $(seq 1 25); do
		size=$(stat -c %s "$log" 2>/dev/null || echo 0)
		[ "$size" = "$prev" ] && break
		prev=$size
		sleep 0.2
	done
	grep -cE "\"[A-Z]+ /[^ ]*${1:-}[^ ]* HTTP" "$log" || true
}

azurite_stop() {
	if [ -n "${AZURITE_PID:-}" ]; then
		kill "$AZURITE_PID" 2>/dev/null
		wait "$AZURITE_PID" 2>/dev/null
		AZURITE_PID=
	fi
	if [ -n "${AZURITE_DIR:-}" ] && [ -z "${KEEP_AZURITE_DIR:-}" ]; then
		rm -rf "$AZURITE_DIR"
	fi
}
