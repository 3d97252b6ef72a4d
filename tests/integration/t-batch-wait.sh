#!/usr/bin/env bash
# t-batch-wait.sh: `submit --wait` follows the tasks (active -> running ->
# completed on the local service's clock) with a progress line, then names
# each failed task with its exit code and where its stdout/stderr are, and
# exits 1; with every task succeeding, and the service throttling the
# polls (503 + Retry-After), it exits 0.
. "$top_srcdir/tests/integration/batch-lib.sh"

batch_start --pool pool1
fill_input 20
batch_ctl '{"active_secs": 0.5, "run_secs": 1.0, "fail_pattern": "in00000[3-5]", "fail_exit": 3}'

start=$(date +%s)
submit --pool pool1 --job mixed --wait >out.txt 2>err.txt && fail "--wait with failed tasks exited 0"
cat err.txt out.txt
grep -q "running" err.txt || fail "no progress line while tasks ran"
grep -q "job 'mixed': 0 active, 0 running, 20 completed of 20 (17 succeeded, 3 failed), ETA 0s" err.txt ||
	fail "no final progress line"
expect_eq "failed tasks named" 3 "$(grep -c "^failed: task 'in00000[3-5]-[0-9a-f]*' (blob 'in00000[3-5]'): exit code 3 (FailureExitCode" out.txt)"
grep -q "^  stdout: $AZURE_BATCH_ENDPOINT/jobs/mixed/tasks/in000004-[0-9a-f]*/files/stdout.txt$" out.txt ||
	fail "no stdout location"
grep -q "^  stderr: $AZURE_BATCH_ENDPOINT/jobs/mixed/tasks/in000004-[0-9a-f]*/files/stderr.txt$" out.txt ||
	fail "no stderr location"
grep -q "^job 'mixed': 20 tasks completed: 17 succeeded, 3 failed$" out.txt || fail "no summary"
[ $(($(date +%s) - start)) -ge 1 ] || fail "--wait returned before the tasks ran"
expect_eq "the failure listing asked only for failed tasks" True \
	"$(batch_get stats | jq_py 'd["requests"]["GET /jobs/{}/tasks"] <= 2')"

echo "--- all succeed; the polls are throttled (503 + Retry-After: 1)"
batch_ctl '{"fail_pattern": "", "active_secs": 0.2, "run_secs": 0.3,
	"fail503": 3, "retry_after": 1, "fail503_routes": ["GET /jobs/{}/taskcounts"]}'
start=$(date +%s)
submit --pool pool1 --job good --wait >out2.txt 2>err2.txt ||
	fail "--wait on succeeded tasks: $(cat err2.txt)"
elapsed=$(($(date +%s) - start))
cat err2.txt out2.txt
grep -q "^job 'good': 20 tasks completed: 20 succeeded, 0 failed$" out2.txt || fail "no summary"
grep -q "^failed:" out2.txt && fail "a failure listed"
expect_eq "503s served to the polls" 3 "$(batch_get stats | jq_py 'd.get("served_503", 0)')"
[ "$elapsed" -ge 3 ] || fail "3 polls throttled with Retry-After: 1 took only ${elapsed}s"
echo "ok: --wait follows, summarizes and exits by the outcome"
