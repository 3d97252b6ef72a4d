#!/bin/bash
# blobmill run --runtime host --stage over a container of hostile names:
# every task's app receives exactly the intended argv (checked byte for
# byte through its output blob), outputs in folders get their parent
# directories, nothing in a name runs as a command.
. "$top_srcdir/tests/integration/tasks-lib.sh"

command -v bwrap >/dev/null || skip "bubblewrap (bwrap) is not installed"
bwrap --dev-bind / / true 2>/dev/null ||
	skip "bwrap cannot create a mount namespace here"

tasks_setup

run_host() {
	"$BLOBMILL" run --runtime host --stage --parallel 4 \
		--input data-in --output data-out --image none \
		--run-options "--volume $T/app:/app --volume /mnt/data-in:/data-in --volume /mnt/data-out:/data-out" \
		--run-dir "$T/run" "$@"
}

tasks_run_hostile host none

# Each task keeps its stdout.txt/stderr.txt like Batch.
[ "$(find "$T/run" -name stdout.txt | wc -l)" -eq ${#HOSTILE_NAMES[@]} ] ||
	fail "per-task stdout.txt"
echo "ok: per-task stdout.txt/stderr.txt"

# The longest name Azure allows.
long=$(tasks_long_name)
printf 'content of %s' "$long" | "$BLOBMILL" put - "data-in/$long" ||
	fail "put 1,024-character name"
run_host --command '/app/argv.sh {out} {name} {basename} {in}' \
	--prefix long- --output-name 'long-{index}.out' >"$T/log" 2>&1 || {
	cat "$T/log" >&2
	fail "run of the 1,024-character name"
}
"$BLOBMILL" get data-out/long-0.out "$T/got" || fail "long output missing"
tasks_expect "$long" >"$T/want"
cmp -s "$T/got" "$T/want" || fail "1,024-character name's output differs"
echo "ok: 1,024-character name"

# One component past NAME_MAX cannot be a file: {in} cannot name it, so
# the blob is skipped with a clear message (exit 1).
huge=longer-$(printf '%0300d' 0)
printf x | "$BLOBMILL" put - "data-in/$huge" || fail "put 300-byte name"
run_host --command '/app/argv.sh {out} {in}' --prefix longer- \
	--output-name 'longer.out' >"$T/log" 2>&1 &&
	fail "a 300-byte component cannot be staged"
grep -q "skipped blob '$huge': {in} cannot be its path under the in dir: a path component longer than 255 bytes" "$T/log" ||
	{ cat "$T/log" >&2; fail "NAME_MAX message"; }
# Without {in} the task is made, but staging cannot hold the input.
run_host --command '/app/argv.sh {out} x' --prefix longer- \
	--output-name 'longer.out' >"$T/log" 2>&1 &&
	fail "a 300-byte component cannot be staged"
grep -q "cannot stage .*: a path component longer than 255 bytes" "$T/log" ||
	{ cat "$T/log" >&2; fail "staging NAME_MAX message"; }
echo "ok: a component past NAME_MAX is refused with a clear message"

# A failing task: nonzero exit, retries, the summary says so.
run_host --command 'exit 3' --max-retries 2 --include 'plain.txt' \
	>"$T/log" 2>&1 && fail "a failing task must make run exit nonzero"
grep -q "exit status 3 after 3 attempts" "$T/log" ||
	{ cat "$T/log" >&2; fail "failure line"; }
grep -q "^run: 1 tasks: 0 succeeded, 1 failed, 2 retries" "$T/log" ||
	{ cat "$T/log" >&2; fail "failure summary"; }
echo "ok: failing task retried and reported"
