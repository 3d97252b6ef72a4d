#!/usr/bin/env bash
# t-batch-schedule.sh: `submit --schedule` creates a job schedule whose job
# manager task runs `blobmill submit --skip-existing` for each night's job.
# The schedule carries no key (a SAS in the job manager's environment, a
# job-scoped token for Batch); the local service makes the first job at
# once, and the test runs its job manager's command line as a node would
# (words split like Batch, AZ_BATCH_* set), which adds tasks only for the
# blobs without an output.
. "$top_srcdir/tests/integration/batch-lib.sh"

batch_start --pool pool1
batch_ctl '{"active_secs": 3600}'
fill_input 12
bm mb data-out >/dev/null || fail "mb data-out"
echo done >done.txt
for n in 0 1 2; do
	bm put done.txt "data-out/in00000$n-result.txt" >/dev/null || fail "put output $n"
done
storage_key=$AZURE_STORAGE_ACCESS_KEY
sas=$(python3 "$top_srcdir/tests/integration/azblob.py" sas data-in rl) || fail "sas"

echo "--- an account key is refused for the job manager"
bm submit --input data-in --output data-out --image app:1 --command 'app {in} {out}' \
	--pool pool1 --job nokey --schedule PT24H >out.txt 2>err.txt && fail "schedule with a key"
grep -q "needs a SAS token" err.txt || fail "no SAS message: $(cat err.txt)"

echo "--- the nodes' identity instead of a SAS: the job manager signs in with it"
uai=/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nodes
bm submit --input data-in --output data-out --image app:1 --command 'app {in} {out}' \
	--pool pool1 --job withidentity --schedule PT24H --node-identity "$uai" \
	>out.txt 2>err.txt || fail "schedule with --node-identity: $(cat err.txt)"
batch_get state >state-uai.json
UAI="$uai" python3 - state-uai.json <<'PY' || fail "job manager environment with a node identity"
import json, os, sys
d = json.load(open(sys.argv[1]))
jm = d["schedules"]["withidentity"]["jobSpecification"]["jobManagerTask"]
env = {e["name"]: e["value"] for e in jm["environmentSettings"]}
assert env.get("AZURE_STORAGE_AUTH_TYPE") == "MSI", env
assert env.get("AZURE_STORAGE_IDENTITY_RESOURCE_ID") == os.environ["UAI"], env
assert "AZURE_STORAGE_SAS_TOKEN" not in env and "AZURE_STORAGE_ACCESS_KEY" not in env, env
PY
grep -qF "$storage_key" state-uai.json && fail "the account key reached the job schedule"
echo "ok: the job manager gets the nodes' identity, no key or SAS"

unset AZURE_STORAGE_ACCESS_KEY
export AZURE_STORAGE_SAS_TOKEN=$sas
bm submit --input data-in --output data-out --image app:1 --command 'app {in} {out}' \
	--pool pool1 --job later --schedule P1D --start 2030-01-01T02:00:00Z \
	>out.txt 2>err.txt || fail "schedule with --start: $(cat err.txt)"
cat out.txt
# --env NAME takes its value here, where the job manager cannot.
export BM_NIGHT_MODE=fast
bm submit --input data-in --output data-out --image app:1 --command 'app {in} {out}' \
	--pool pool1 --job nightly --schedule PT24H --node-blobmill "$BLOBMILL" \
	--env BM_NIGHT_MODE --env 'GREETING=a b' \
	>out.txt 2>err.txt || fail "schedule: $(cat err.txt)"
cat out.txt
batch_get state >state.json
expect_eq "recurrence" "P1D 2030-01-01T02:00:00Z" \
	"$(jq_py 'd["schedules"]["later"]["schedule"]["recurrenceInterval"] + " " + d["schedules"]["later"]["schedule"]["doNotRunUntil"]' <state.json)"
jm() { jq_py "d['schedules']['nightly']['jobSpecification']$1" <state.json; }
expect_eq "pool of the scheduled jobs" pool1 "$(jm "['poolInfo']['poolId']")"
expect_eq "job manager token scope" "['job']" "$(jm "['jobManagerTask']['authenticationTokenSettings']['access']")"
expect_eq "job manager environment" \
	"['AZURE_STORAGE_ACCOUNT', 'AZURE_STORAGE_BLOB_ENDPOINT', 'AZURE_STORAGE_SAS_TOKEN']" \
	"$(jm "['jobManagerTask']['environmentSettings']" | python3 -c 'import ast, sys; print(sorted(e["name"] for e in ast.literal_eval(sys.stdin.read())))')"
cmd=$(jm "['jobManagerTask']['commandLine']")
echo "job manager: $cmd"
case "$cmd" in
*"submit --job \"\$AZ_BATCH_JOB_ID\" --skip-existing"*"--input"*"data-in"*"--pool"*"pool1"*) ;;
*) fail "job manager command line: $cmd" ;;
esac
grep -qF "$storage_key" state.json && fail "the storage key reached the Batch service"
grep -qF "$AZURE_BATCH_ACCESS_KEY" state.json && fail "the Batch key reached the Batch service"
expect_eq "first job of the schedule" True "$(jq_py '"nightly:job-1" in d["jobs"]' <state.json)"

echo "--- the night: the job manager's command, run as a node runs it"
batch_ctl '{"tokens": {"tok-nightly": "nightly:job-1"}}'
printf '%s' "$cmd" | python3 -c 'import shlex, sys; sys.stdout.write("\0".join(shlex.split(sys.stdin.read())))' >cmd.0
mapfile -d '' words <cmd.0
(
	export AZ_BATCH_ACCOUNT_URL=$AZURE_BATCH_ENDPOINT AZURE_STORAGE_ACCESS_KEY=$storage_key
	unset AZURE_BATCH_ENDPOINT AZURE_BATCH_ACCOUNT AZURE_BATCH_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN
	export AZ_BATCH_JOB_ID=nightly:job-1 AZ_BATCH_AUTHENTICATION_TOKEN=tok-nightly
	exec "${words[@]}"
) >night.txt 2>night.err || fail "job manager run: $(cat night.err)"
cat night.err night.txt
batch_get state >state2.json
expect_eq "tasks of the night (9 new blobs + the job manager)" 10 \
	"$(jq_py 'len(d["jobs"]["nightly:job-1"]["tasks"])' <state2.json)"
expect_eq "blobs with outputs skipped" "in000003 in000011" \
	"$(jq_py '" ".join(sorted(t["displayName"] for t in d["jobs"]["nightly:job-1"]["tasks"] if t["id"] != "blobmill-submit")[::8])' <state2.json)"
expect_eq "--env reaches the night's tasks" "BM_NIGHT_MODE=fast GREETING=a b" \
	"$(jq_py '" ".join(e["name"] + "=" + e["value"] for e in [t for t in d["jobs"]["nightly:job-1"]["tasks"] if t["id"] != "blobmill-submit"][0]["environmentSettings"])' <state2.json)"
expect_eq "the night's job ends with its tasks" terminatejob \
	"$(jq_py 'd["jobs"]["nightly:job-1"]["onAllTasksComplete"]' <state2.json)"
expect_eq "signature failures" 0 "$(batch_get stats | jq_py 'd["auth_failures"]')"
