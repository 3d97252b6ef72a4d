#!/bin/bash
# --skip-existing (nightly drops): a second run does nothing; after one
# output is deleted a third run does exactly that one. Each run lists the
# output container once and asks nothing per blob.
. "$top_srcdir/tests/integration/tasks-lib.sh"

command -v bwrap >/dev/null || skip "bubblewrap (bwrap) is not installed"
bwrap --dev-bind / / true 2>/dev/null ||
	skip "bwrap cannot create a mount namespace here"

tasks_setup
N=${#HOSTILE_NAMES[@]}

run_skip() {
	"$BLOBMILL" run --runtime host --stage --skip-existing --parallel 4 \
		--input data-in --output data-out --image none \
		--command '/app/argv.sh {out} {name} {basename} {in}' \
		--run-options "--volume $T/app:/app" \
		--run-dir "$T/run" >"$T/log" 2>&1 || {
		cat "$T/log" >&2
		fail "run --skip-existing failed"
	}
}

# Requests for the output container's listing and for single blobs of it.
out_lists() { azurite_requests 'data-out\?[^ ]*comp=list'; }
out_heads() { azurite_requests 'data-out/'; }

run_skip
grep -q "^run: $N tasks: $N succeeded, 0 failed, 0 retries; 0 skipped" "$T/log" ||
	{ cat "$T/log" >&2; fail "first run"; }
tasks_check_outputs "" -result.txt "${HOSTILE_NAMES[@]}"

lists=$(out_lists)
heads=$(out_heads)
run_skip
grep -q "^run: 0 tasks: 0 succeeded, 0 failed, 0 retries; $N skipped" "$T/log" ||
	{ cat "$T/log" >&2; fail "second run must do nothing"; }
expect_eq "listings of data-out in the second run" 1 $(($(out_lists) - lists))
expect_eq "requests per output blob in the second run" 0 \
	$(($(out_heads) - heads))

"$BLOBMILL" rm "data-out/it's.txt-result.txt" || fail "rm one output"
run_skip
grep -q "^run: 1 tasks: 1 succeeded, 0 failed, 0 retries; $((N - 1)) skipped" "$T/log" ||
	{ cat "$T/log" >&2; fail "third run must do exactly one task"; }
grep -q "^ok .* it's.txt " "$T/log" || { cat "$T/log" >&2; fail "which task"; }
tasks_check_outputs "" -result.txt "it's.txt"
echo "ok: rerun after a loss does exactly what is missing"
