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

# one_line_error NAME EXPECTED-EXIT FILE: exactly one line on stderr.
one_line_error() {
	[ "$2" = "$3" ] || fail "$1: exit $3, expected $2: $(cat "$4")"
	expect_eq "$1: lines on stderr" 1 "$(wc -l <"$4")"
	cat "$4"
}

echo "--- wrong key"
rc=0
AZURE_BATCH_ACCESS_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())') \
	submit --pool pool1 --job j1 2>err.txt || rc=$?
one_line_error "wrong key" 1 $rc err.txt
grep -q "authentication failed (403 AuthenticationFailed: Server failed to authenticate the request" err.txt ||
	fail "wrong key: not the service's message"
grep -q "check the Batch account key" err.txt || fail "wrong key: no hint"
grep -qF "$AZURE_BATCH_ACCESS_KEY" err.txt && fail "wrong key: key printed"
grep -q "MAC signature" err.txt && fail "wrong key: signature details printed"

echo "--- missing pool"
rc=0
submit --pool nopool --job j1 2>err.txt || rc=$?
one_line_error "missing pool" 1 $rc err.txt
grep -q "pool 'nopool' not found" err.txt || fail "missing pool: message"
grep -q -- "--auto-pool" err.txt || fail "missing pool: no way out named"

echo "--- a job on another pool"
batch_ctl '{"active_secs": 3600}'
submit --pool pool1 --job j2 >/dev/null 2>err.txt || fail "submit j2: $(cat err.txt)"
rc=0
submit --pool pool2 --job j2 2>err.txt || rc=$?
one_line_error "job on another pool" 1 $rc err.txt
grep -q "job 'j2' already exists on pool 'pool1': rerun with that pool to add its missing tasks, or use a new --job ID" err.txt ||
	fail "job on another pool: message"

echo "--- a completed job"
batch_ctl '{"active_secs": 0, "run_secs": 0}'
submit --pool pool1 --job j3 >/dev/null 2>err.txt || fail "submit j3: $(cat err.txt)"
rc=0
submit --pool pool1 --job j3 2>err.txt || rc=$?
one_line_error "completed job" 1 $rc err.txt
grep -q "job 'j3' already exists and is completed, so it takes no more tasks: use a new --job ID" err.txt ||
	fail "completed job: message"

echo "--- a request the service rejects"
rc=0
submit --pool pool1 --job 'bad id!' 2>err.txt || rc=$?
one_line_error "rejected job" 1 $rc err.txt
grep -q "cannot create job 'bad id!': .*(400 InvalidPropertyValue: The value provided for one of the properties in the request body is invalid.; PropertyName: id; Reason:" err.txt ||
	fail "rejected job: code, message and property"

echo "--- a missing input container: no job is created"
rc=0
bm submit --input nosuch --image app:1 --command 'app {in} {out}' --pool pool1 --job j5 2>err.txt || rc=$?
one_line_error "missing input" 1 $rc err.txt
grep -q "nosuch" err.txt || fail "missing input: container not named"
expect_eq "job created for a missing input" False \
	"$(batch_get state | jq_py '"j5" in d["jobs"]')"

echo "--- no Batch account, unreachable endpoint, bad options"
rc=0
env -u AZURE_BATCH_ENDPOINT "$BLOBMILL" submit --input data-in --image a --command x \
	--pool pool1 --job j4 2>err.txt || rc=$?
one_line_error "no endpoint" 2 $rc err.txt
grep -q "no Batch account URL: give --batch-url or set AZURE_BATCH_ENDPOINT" err.txt || fail "no endpoint: message"
rc=0
submit --pool pool1 --job j4 --batch-url http://127.0.0.1:9 --max-retry 0 2>err.txt || rc=$?
one_line_error "unreachable" 1 $rc err.txt
rc=0
submit --job j4 2>err.txt || rc=$?
one_line_error "no pool option" 2 $rc err.txt
rc=0
submit --pool pool1 --job j4 --schedule 24h 2>err.txt || rc=$?
one_line_error "bad recurrence" 2 $rc err.txt
grep -q "invalid --schedule '24h'" err.txt || fail "bad recurrence: message"
echo "ok: every error is one line with its cause"
