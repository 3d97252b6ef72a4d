#!/usr/bin/env bash
# t-batch-split.sh: a service whose request limit is below blobmill's
# (413 RequestBodyTooLarge for 100 tasks, not for 50) gets halved chunks:
# every task is added exactly once, no request the service accepted holds
# more than 50 tasks, and the job still ends with its tasks.
. "$top_srcdir/tests/integration/batch-lib.sh"

batch_start --pool pool1
batch_ctl '{"active_secs": 3600}'
fill_input 250

# The size of a 100-task request, from a first job without a limit.
submit --pool pool1 --job probe --include 'in0000[0-9][0-9]' >/dev/null 2>err.txt ||
	fail "probe: $(cat err.txt)"
full=$(batch_get stats | jq_py 'max(d["addtaskcollection_bytes"])')
limit=$((full * 6 / 10))
batch_ctl "{\"max_body\": $limit}"
echo "100-task request: $full bytes; service limit now $limit"

submit --pool pool1 --job split >out.txt 2>err.txt || fail "submit: $(cat err.txt)"
cat out.txt
batch_get stats >stats.json
sizes=$(jq_py 'd["addtaskcollection_sizes"][1:]' <stats.json)
echo "request sizes (negative: refused with 413): $sizes"
expect_eq "a 413 happened" True "$(jq_py 'any(s < 0 for s in d["addtaskcollection_sizes"])' <stats.json)"
expect_eq "largest accepted request" 50 \
	"$(jq_py 'max(s for s in d["addtaskcollection_sizes"][1:])' <stats.json)"
expect_eq "tasks accepted in all" 250 \
	"$(jq_py 'sum(s for s in d["addtaskcollection_sizes"][1:] if s > 0)' <stats.json)"
batch_get state >state.json
expect_eq "tasks in the job" 250 "$(jq_py 'len(d["jobs"]["split"]["tasks"])' <state.json)"
expect_eq "job ends with its tasks" terminatejob \
	"$(jq_py 'd["jobs"]["split"]["onAllTasksComplete"]' <state.json)"

echo "--- a single task larger than the limit is reported, not dropped"
batch_ctl '{"max_body": 300}'
submit --pool pool1 --job toolarge --include in000001 >out2.txt 2>err2.txt &&
	fail "submit of a task over the limit succeeded"
cat err2.txt
grep -q "task 'in000001-[0-9a-f]*' (blob 'in000001') not added: .*413" err2.txt ||
	fail "no line naming the task refused with 413"
grep -q "0 of 1 tasks added, 1 not added" err2.txt || fail "no partial summary"
