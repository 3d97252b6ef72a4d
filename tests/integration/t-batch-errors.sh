#!/usr/bin/env bash
# t-batch-errors.sh: what `blobmill submit` says when it cannot: a wrong
# Batch key (the service's 403 message, and what to check; the key itself
# never printed), a pool that does not exist, a job that exists but cannot
# take tasks (completed, or on another pool: how to reuse it), a request
# the service rejects (its code, message and the property), no Batch
# account, an unreachable endpoint. Each is one line and a nonzero exit.
. "$top_srcdir/tests/integration/batch-lib.sh"

batch_start --pool pool1 --pool pool2
fill_input 5

# fails NAME EXPECTED-EXIT CMD...: CMD exits EXPECTED-EXIT with exactly
# one line on stderr (kept in err.txt, and shown).
fails() {
	local name=$1 want=$2 rc=0
	shift 2
	"$@" 2>err.txt || rc=$?
	[ "$want" = "$rc" ] || fail "$name: exit $rc, expected $want: $(cat err.txt)"
	expect_eq "$name: lines on stderr" 1 "$(wc -l <err.txt)"
	cat err.txt
}

echo "--- wrong key"
AZURE_BATCH_ACCESS_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())') \
	fails "wrong key" 1 submit --pool pool1 --job j1
grep -q "authentication failed (403 AuthenticationFailed: Server failed to authenticate the request" err.txt ||
	fail "wrong key: not the service's message"
grep -q "check the Batch account key" err.txt || fail "wrong key: no hint"
grep -qF "$AZURE_BATCH_ACCESS_KEY" err.txt && fail "wrong key: key printed"
grep -q "MAC signature" err.txt && fail "wrong key: signature details printed"

echo "--- missing pool"
fails "missing pool" 1 submit --pool nopool --job j1
grep -q "pool 'nopool' not found" err.txt || fail "missing pool: message"
grep -q -- "--auto-pool" err.txt || fail "missing pool: no way out named"

# resubmit_fails NAME CONTROL JOB POOL MESSAGE: with the service set by
# CONTROL, JOB goes to pool1; a second submit to POOL fails with MESSAGE.
resubmit_fails() {
	batch_ctl "$2"
	submit --pool pool1 --job "$3" >/dev/null 2>err.txt || fail "submit $3: $(cat err.txt)"
	fails "$1" 1 submit --pool "$4" --job "$3"
	grep -q "$5" err.txt || fail "$1: message"
}

echo "--- a job on another pool"
resubmit_fails "job on another pool" '{"active_secs": 3600}' j2 pool2 \
	"job 'j2' already exists on pool 'pool1': rerun with that pool to add its missing tasks, or use a new --job ID"

echo "--- a completed job"
resubmit_fails "completed job" '{"active_secs": 0, "run_secs": 0}' j3 pool1 \
	"job 'j3' already exists and is completed, so it takes no more tasks: use a new --job ID"

echo "--- a request the service rejects"
fails "rejected job" 1 submit --pool pool1 --job 'bad id!'
grep -q "cannot create job 'bad id!': .*(400 InvalidPropertyValue: The value provided for one of the properties in the request body is invalid.; PropertyName: id; Reason:" err.txt ||
	fail "rejected job: code, message and property"

echo "--- a missing input container: no job is created"
fails "missing input" 1 bm submit --input nosuch --image app:1 --command 'app {in} {out}' --pool pool1 --job j5
grep -q "nosuch" err.txt || fail "missing input: container not named"
expect_eq "job created for a missing input" False \
	"$(batch_get state | jq_py '"j5" in d["jobs"]')"

echo "--- no Batch account, unreachable endpoint, bad options"
fails "no endpoint" 2 env -u AZURE_BATCH_ENDPOINT "$BLOBMILL" submit --input data-in --image a --command x \
	--pool pool1 --job j4
grep -q "no Batch account URL: give --batch-url or set AZURE_BATCH_ENDPOINT" err.txt || fail "no endpoint: message"
fails "unreachable" 1 submit --pool pool1 --job j4 --batch-url http://127.0.0.1:9 --max-retry 0
fails "no pool option" 2 submit --job j4
fails "bad recurrence" 2 submit --pool pool1 --job j4 --schedule 24h
grep -q "invalid --schedule '24h'" err.txt || fail "bad recurrence: message"
echo "ok: every error is one line with its cause"
