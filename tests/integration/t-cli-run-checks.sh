#!/bin/bash
# t-cli-run-checks.sh: what `blobmill run` checks before its first task and
# tells at the end, one behaviour per check:
#   - a missing output or input container stops the run with one line that
#     says what to do, before any task runs;
#   - an image that is not here and cannot be pulled stops it too (podman);
#   - failed tasks are listed again at the end and written to
#     RUN-DIR/failed.txt (removed by a rerun without failures);
#   - on a terminal (script -qc), the progress line shows the total once
#     the listing is in.
. "$top_srcdir/tests/integration/tasks-lib.sh"

command -v bwrap >/dev/null || skip "bubblewrap (bwrap) is not installed"
bwrap --dev-bind / / true 2>/dev/null ||
	skip "bwrap cannot create a mount namespace here"

T=$(test_dir)
trap 'azurite_stop; rm -rf "$T"' EXIT
azurite_start || fail "azurite did not start"
"$BLOBMILL" mb data-in || fail "mb data-in"
for i in 0 1 2 3 4; do
	printf 'blob %d' $i | "$BLOBMILL" put - "data-in/f$i.txt" || fail "put"
done
printf 'x' | "$BLOBMILL" put - $'data-in/new\nline.txt' || fail "put newline"

run_host() {
	"$BLOBMILL" run --runtime host --parallel 2 --input data-in \
		--run-options "--volume $T:/t" --run-dir "$T/run" "$@"
}

echo "--- missing containers: one line, no task run"
out=$(run_host --output nosuch --command 'true {in}' 2>&1) &&
	fail "run with a missing output container must fail"
expect_eq "missing output" \
	"blobmill: run: output container 'nosuch' not found: create it with 'blobmill mb nosuch'" "$out"
[ ! -e "$T/run" ] || fail "a task ran before the output container was checked"
out=$("$BLOBMILL" run --runtime host --input nosuch --command 'true' 2>&1) &&
	fail "run with a missing input container must fail"
expect_eq "missing input" \
	"blobmill: run: input container 'nosuch' not found: create it with 'blobmill mb nosuch'" "$out"

echo "--- failed tasks listed again and in failed.txt"
run_host --command 'test {index} -ne 1 && test {index} -ne 3' \
	>"$T/out" 2>"$T/err" && fail "a run with failing tasks must exit 1"
grep -q "^run: 2 tasks failed (all in $T/run/failed.txt):" "$T/err" ||
	fail "no list of failures at the end: $(cat "$T/err")"
expect_eq "failed.txt" "$(printf 'f1.txt\nf3.txt')" "$(sort "$T/run/failed.txt")"
tail -n 2 "$T/err" | sort | grep -q '^  f1.txt$' || fail "f1.txt not listed at the end: $(cat "$T/err")"
# A name with a newline stays one line, C-quoted as ls prints it.
run_host --prefix new --command 'false {in}' >/dev/null 2>&1
expect_eq "failed.txt quotes a newline" '"new\nline.txt"' "$(cat "$T/run/failed.txt")"
run_host --command 'true {in}' >/dev/null 2>&1 || fail "a run without failures"
[ ! -e "$T/run/failed.txt" ] || fail "failed.txt of an earlier run was left"
echo "ok: failures listed at the end and in failed.txt"

echo "--- the total on a terminal"
script -qec "$(printf '%q ' "$BLOBMILL" run --runtime host --parallel 1 \
	--input data-in --prefix f --run-options "--volume $T:/t" \
	--run-dir "$T/run2" --command 'sleep 0.3')" /dev/null >"$T/tty" ||
	fail "run on a terminal: $(cat -v "$T/tty")"
grep -aq ", [0-9]/5, ETA" "$T/tty" || grep -aq ", [0-9]/5" "$T/tty" ||
	fail "no total on the progress line: $(cat -v "$T/tty")"
echo "ok: the progress line shows the total while tasks run"

echo "--- an image that is not here and cannot be pulled"
if command -v podman >/dev/null && podman --runtime runc info >/dev/null 2>&1; then
	out=$("$BLOBMILL" run --runtime podman --input data-in --run-dir "$T/run3" \
		--image localhost:1/blobmill-no-such-image:1 --command 'true' 2>&1) &&
		fail "run with a missing image must fail"
	case "$out" in
	*"image 'localhost:1/blobmill-no-such-image:1' is not on this machine and cannot be pulled ("*"): load it (podman load -i FILE) or check --image")
		echo "ok: missing image: ${out##*$'\n'}" ;;
	*) fail "missing image: $out" ;;
	esac
	[ ! -e "$T/run3" ] || fail "a task ran before the image was checked"
else
	echo "note: podman cannot run here; the image check is not exercised"
fi
