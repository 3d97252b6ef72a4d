#!/usr/bin/env bash
# t-batch-partial.sh: a submit that cannot add every task says exactly
# which were not added and why, exits 1 and leaves the job open
# (onAllTasksComplete stays noaction); the same command run again adds
# exactly the missing tasks and only then lets the job end. Transient
# servererror results are retried without being reported.
. "$top_srcdir/tests/integration/batch-lib.sh"

# task_make_id: basename, '-', 16 hex digits of SHA-256 of the name.
task_id() {
	printf '%s-%s' "$1" "$(printf '%s' "$1" | sha256sum | cut -c1-16)"
}

batch_start --pool pool1
fill_input 120
bad=$(task_id in000007)
busy=$(task_id in000042)
flaky=$(task_id in000099)
batch_ctl "{\"active_secs\": 3600, \"clienterror\": {\"$bad\": \"The commandLine is invalid.\"},
	\"servererror\": {\"$busy\": 100, \"$flaky\": 2}}"

submit --pool pool1 --job nightly >out.txt 2>err.txt && fail "partial submit exited 0"
cat err.txt
grep -q "task '$bad' (blob 'in000007') not added: InvalidPropertyValue: The commandLine is invalid." err.txt ||
	fail "the clienterror task is not named with its reason"
grep -q "task '$busy' (blob 'in000042') not added: servererror after 5 attempts: ServerBusy" err.txt ||
	fail "the servererror task is not named"
grep -q "$flaky" err.txt && fail "a task added on retry is reported as failed"
grep -q "job 'nightly': 118 of 120 tasks added, 2 not added" err.txt ||
	fail "no exact partial summary"
expect_eq "lines naming tasks" 2 "$(grep -c 'not added:' err.txt)"
batch_get state >state.json
expect_eq "tasks in the job" 118 "$(jq_py 'len(d["jobs"]["nightly"]["tasks"])' <state.json)"
expect_eq "job left open" noaction \
	"$(jq_py 'd["jobs"]["nightly"]["onAllTasksComplete"]' <state.json)"
expect_eq "missing tasks" "$bad $busy" \
	"$(jq_py '" ".join(sorted({"'"$bad"'", "'"$busy"'"} - {t["id"] for t in d["jobs"]["nightly"]["tasks"]}))' <state.json)"

echo "--- the same command again adds the two missing tasks"
batch_ctl '{"clienterror": {}, "servererror": {}}'
n_before=$(batch_get stats | jq_py 'len(d["addtaskcollection_sizes"])')
submit --pool pool1 --job nightly >out2.txt 2>err2.txt || fail "rerun: $(cat err2.txt)"
cat err2.txt out2.txt
grep -q "added 2 tasks in 1 requests (118 already in the job)" out2.txt ||
	fail "rerun summary: $(cat out2.txt)"
expect_eq "the rerun's request" "[2]" \
	"$(batch_get stats | jq_py 'd["addtaskcollection_sizes"]['"$n_before"':]')"
batch_get state >state2.json
expect_eq "tasks in the job" 120 "$(jq_py 'len(d["jobs"]["nightly"]["tasks"])' <state2.json)"
expect_eq "job now ends with its tasks" terminatejob \
	"$(jq_py 'd["jobs"]["nightly"]["onAllTasksComplete"]' <state2.json)"
