# tests/integration/batch-lib.sh: the set-up shared by the Azure Batch
# tests (t-batch-*.sh). Sourcing it starts a private Azurite (the input
# listings are real) and enters a fresh test directory; batch_start starts
# the local Batch service (tests/batch_server.py) with a random account key.
# Both stop at exit (KEEP_TEST_DIR=1 keeps the directory).
#
#   batch_start [SERVER-ARGS...]  exports AZURE_BATCH_ENDPOINT/_ACCOUNT/
#                                 _ACCESS_KEY for the started server
#   batch_ctl JSON                sets faults and timing (POST /_control)
#   batch_get stats|state         the server's counters or stored objects
#   jq_py EXPR < JSON             python3 expression over `d` (the JSON)
#   fill_input N                  container data-in with N blobs in000000..
#   bm ARGS...                    the blobmill CLI under test
#   submit ARGS...                bm submit with the usual template
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

[ -x "$BLOBMILL" ] || fail "no blobmill at $BLOBMILL"
batch_test_dir=$(test_dir)
BATCH_PID=
batch_cleanup() {
	if [ -n "$BATCH_PID" ]; then
		kill "$BATCH_PID" 2>/dev/null
		wait "$BATCH_PID" 2>/dev/null
	fi
	azurite_stop
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$batch_test_dir"
}
azurite_start || fail "cannot start azurite"
trap batch_cleanup EXIT
cd "$batch_test_dir" || fail "cannot enter $batch_test_dir"

bm() { "$BLOBMILL" "$@"; }

batch_start() {
	local i
	export AZURE_BATCH_ACCOUNT=testbatch
	AZURE_BATCH_ACCESS_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')
	export AZURE_BATCH_ACCESS_KEY
	rm -f batch.port
	python3 "$top_srcdir/tests/batch_server.py" --account "$AZURE_BATCH_ACCOUNT" \
		--key "$AZURE_BATCH_ACCESS_KEY" --port-file batch.port \
		"$@" 2>batch-server.log &
	BATCH_PID=$!
	for i in $(seq 1 100); do
		[ -s batch.port ] && break
		kill -0 "$BATCH_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -s batch.port ] || fail "batch server did not start: $(cat batch-server.log)"
	export AZURE_BATCH_ENDPOINT="http://127.0.0.1:$(cat batch.port)"
}

batch_ctl() {
	curl -sf -X POST --data "$1" "$AZURE_BATCH_ENDPOINT/_control" >/dev/null ||
		fail "batch server control: $1"
}

batch_get() {
	curl -sf "$AZURE_BATCH_ENDPOINT/_control/$1" || fail "batch server: $1"
}

jq_py() {
	python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}

fill_input() {
	bm mb data-in >/dev/null || fail "mb data-in"
	python3 "$top_srcdir/tests/integration/azblob.py" populate data-in in "$1" ||
		fail "populate data-in"
}

submit() {
	bm submit --input data-in --image app:1 \
		--command 'python app.py {in} {out}' --poll-interval 0.2 "$@"
}
