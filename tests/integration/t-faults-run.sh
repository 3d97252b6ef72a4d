#!/usr/bin/env bash
# t-faults-run: `blobmill run --runtime host --stage` through the fault
# proxy (10% of requests faulted; retries on, then off). Each task's output
# blob, if it exists, holds exactly the sha256 of its input; a run exits 0
# only when every task succeeded, and otherwise names each task that did
# not; a rerun with --skip-existing finishes what is left.
set -u
. "$top_srcdir/tests/lib/faultcheck.sh"

[ -x "$BLOBMILL" ] || skip "blobmill not built"
"$BLOBMILL" run --help >/dev/null 2>&1 || skip "blobmill run not built"
command -v bwrap >/dev/null || skip "bubblewrap (bwrap) is not installed"
bwrap --dev-bind / / true 2>/dev/null ||
	skip "bwrap cannot create a mount namespace here"
fc_start

# A run makes few requests (about two per task), so the seeds are ones
# whose faults fall early (faultproxy.py --dry-run 28: 5 to 7 faults).
if [ -n "${BLOBMILL_QUICK:-}" ]; then
	n=12
	seeds="49:5 47:0"
else
	n=30
	seeds="49:5 47:0 60:1"
fi
seeds=${FAULT_SEEDS:-$seeds} # SEED:MAX-RETRY ..., to replay one run
sizes=(0 1 100 4096 65537 262144 1048577 2097152)
"$BLOBMILL" mb runin || fail "mb runin"
names=()
for i in $(seq 0 $((n - 1))); do
	name="d$((i % 3))/in $i é.dat"
	head -c "${sizes[$((i % ${#sizes[@]}))]}" /dev/urandom >"$dir/src.$i"
	"$BLOBMILL" put "$dir/src.$i" "runin/$name" || fail "put '$name'"
	names+=("$name")
done

# check_outputs OUT: every output present holds its input's sha256; sets
# present (how many).
check_outputs() {
	local i want got
	present=0
	for i in $(seq 0 $((n - 1))); do
		want="$(fc_sha "$dir/src.$i")  -"
		rm -f "$dir/out"
		got=$(fc_blob_sha "$1" "${names[$i]}-result.txt")
		[ "$got" = absent ] && continue
		az_curl GET "$AZURITE_ENDPOINT" \
			"$1/$(fc_urlencode "${names[$i]}-result.txt")" -o "$dir/out" ||
			fail "cannot read output of '${names[$i]}'"
		[ "$(cat "$dir/out")" = "$want" ] ||
			fail "output of '${names[$i]}' holds '$(head -c 100 "$dir/out")', want '$want'"
		present=$((present + 1))
	done
}

for sr in $seeds; do
	fc_seed "$sr"
	out="runout$seed"
	"$BLOBMILL" mb "$out" || fail "mb $out"
	run() {
		AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT timeout 600 \
			"$BLOBMILL" run --runtime host --stage --parallel 4 \
			--max-retry="$retries" --max-retry-interval-in-seconds=2 \
			--input runin --output "$out" --image none --run-options "" \
			--run-dir "$dir/run-$seed-$1" --command 'sha256sum < {in} > {out}' \
			"${@:2}" >"$dir/run.log" 2>&1
	}
	run 1
	rc=$?
	[ "$rc" -ne 124 ] || fail "blobmill run still running after 600 s"
	check_outputs "$out"
	fc_count tasks "$n"
	fc_count outputs_verified "$present"
	if [ "$rc" -eq 0 ]; then
		[ "$present" -eq "$n" ] ||
			fail "run exited 0 with $present of $n outputs"
	else
		# Each missing output is named in the run's report, or the
		# run stopped with one line saying why (a failed listing).
		missing=0
		for i in $(seq 0 $((n - 1))); do
			[ "$(fc_blob_sha "$out" "${names[$i]}-result.txt")" = absent ] ||
				continue
			missing=$((missing + 1))
			grep -qF "${names[$i]}" "$dir/run.log" ||
				grep -q '^blobmill: ' "$dir/run.log" ||
				fail "task of '${names[$i]}' failed silently: $(tail -n 5 "$dir/run.log")"
		done
		fc_count task_failures_reported "$missing"
		echo "seed $seed: run exited $rc with $missing of $n outputs missing: $(tail -n 1 "$dir/run.log")"
		# Rerun on a healthy network: only what is left.
		faultproxy_toggle
		run 2 --skip-existing || fail "rerun failed: $(tail -n 5 "$dir/run.log")"
		check_outputs "$out"
		[ "$present" -eq "$n" ] || fail "rerun left $((n - present)) outputs missing"
		fc_count outputs_verified_after_rerun "$present"
		grep -q "$((n - missing)) skipped" "$dir/run.log" ||
			fail "rerun did not skip the $((n - missing)) done: $(tail -n 1 "$dir/run.log")"
		echo "ok: a rerun with --skip-existing did only the $missing left"
	fi
	faultproxy_stop
	fc_count requests "$(faultproxy_count)"
	fc_count faults_injected "$(faultproxy_count any)"
	echo "seed $seed (--max-retry=$retries): run exit $rc, $(faultproxy_count any) faults in $(faultproxy_count) requests"
done
fc_count wrong_outputs 0
fc_figures
echo "ok: every task output was right or its failure was reported"
