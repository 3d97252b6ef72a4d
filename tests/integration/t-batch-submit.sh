#!/usr/bin/env bash
# t-batch-submit.sh: `blobmill submit` against the local Batch service
# (tests/batch_server.py, which checks every request's SharedKey
# signature) with the input listed from a real Azurite: 250 blobs become
# 250 tasks in 3 addtaskcollection requests (100 + 100 + 50), the job is
# set to end with its tasks only after they are all in, a rerun adds
# nothing (existing ids listed across odata.nextLink pages), and a reply
# lost behind a 503 (the service applied the request) ends with every task
# added once: the retry's TaskExists counts as added.
. "$top_srcdir/tests/integration/batch-lib.sh"

batch_start --pool pool1 --page-size 100
# Tasks stay active: a job whose tasks are all done would end (terminatejob)
# and take no more.
batch_ctl '{"active_secs": 3600}'
fill_input 250

submit --pool pool1 --job job1 >out.txt 2>err.txt ||
	fail "submit: $(cat err.txt)"
cat out.txt
expect_eq "request sizes" "[50, 100, 100]" \
	"$(batch_get stats | jq_py 'sorted(d["addtaskcollection_sizes"])')"
batch_get state >state.json
expect_eq "tasks in the job" 250 "$(jq_py 'len(d["jobs"]["job1"]["tasks"])' <state.json)"
expect_eq "distinct task ids" 250 \
	"$(jq_py 'len({t["id"].lower() for t in d["jobs"]["job1"]["tasks"]})' <state.json)"
expect_eq "input blobs named by the tasks" "in000000 in000249" \
	"$(jq_py '" ".join(sorted(t["displayName"] for t in d["jobs"]["job1"]["tasks"])[::249])' <state.json)"
expect_eq "image of the tasks" "app:1" \
	"$(jq_py 'd["jobs"]["job1"]["tasks"][0]["containerSettings"]["imageName"]' <state.json)"
expect_eq "pool of the job" pool1 \
	"$(jq_py 'd["jobs"]["job1"]["poolInfo"]["poolId"]' <state.json)"
expect_eq "job ends with its tasks" terminatejob \
	"$(jq_py 'd["jobs"]["job1"]["onAllTasksComplete"]' <state.json)"
grep -q "added 250 tasks in 3 requests" out.txt || fail "summary: $(cat out.txt)"
expect_eq "signature failures" 0 "$(batch_get stats | jq_py 'd["auth_failures"]')"

echo "--- rerun with the same job: nothing to add"
submit --pool pool1 --job job1 >out2.txt 2>err2.txt || fail "rerun: $(cat err2.txt)"
grep -q "added 0 tasks in 0 requests (250 already in the job)" out2.txt ||
	fail "rerun summary: $(cat out2.txt)"
expect_eq "addtaskcollection requests after the rerun" 3 \
	"$(batch_get stats | jq_py 'len(d["addtaskcollection_sizes"])')"
expect_eq "task list pages of the rerun (250 ids, 100 a page)" 3 \
	"$(batch_get stats | jq_py 'd["requests"]["GET /jobs/{}/tasks"]')"

echo "--- a reply lost behind a 503: the retry's TaskExists counts as added"
batch_ctl '{"commit_then_503": 1, "retry_after": 0}'
submit --pool pool1 --job job2 --requests 1 --include 'in00000*' >out3.txt 2>err3.txt ||
	fail "submit with a lost reply: $(cat err3.txt)"
grep -q "added 10 tasks" out3.txt || fail "lost reply summary: $(cat out3.txt)"
expect_eq "tasks in job2" 10 \
	"$(batch_get state | jq_py 'len(d["jobs"]["job2"]["tasks"])')"
echo "--- hostile blob names reach the job byte for byte"
bm mb odd >/dev/null || fail "mb odd"
# 1,004 bytes: the output name (+ "-result.txt") must fit in 1,024 too.
# 1,000 characters in folders: a component past 255 bytes could be no
# file under /data-in or /data-out, so no task (t-tasks-skip-report.sh)
long=long/$(python3 -c 'print("/".join(["L" * 199] * 5), end="")')
odd=("it's \$(touch pwned) \`x\`" $'new\nline' '"quoted" & spaced ' 'ünïcødé/☃.txt' "$long")
echo x >x.txt
for n in "${odd[@]}"; do
	bm put x.txt "odd/$n" >/dev/null || fail "put '$n'"
done
submit --pool pool1 --job odd --input odd >out4.txt 2>err4.txt || fail "submit odd: $(cat err4.txt)"
printf '%s\0' "${odd[@]}" | sort -z >expected.0
batch_get state | python3 -c 'import json, sys; d = json.load(sys.stdin); sys.stdout.write("".join(t["displayName"] + "\0" for t in d["jobs"]["odd"]["tasks"]))' |
	sort -z >got.0
cmp -s expected.0 got.0 || fail "task displayNames differ from the blob names"
expect_eq "task ids are safe" 5 \
	"$(batch_get state | jq_py 'sum(1 for t in d["jobs"]["odd"]["tasks"] if __import__("re").fullmatch("[A-Za-z0-9_-]{1,64}", t["id"]))')"
[ ! -e pwned ] || fail "a blob name was run as a command"
echo "ok: 250 tasks in 3 chunks, rerun adds nothing, lost reply handled"
