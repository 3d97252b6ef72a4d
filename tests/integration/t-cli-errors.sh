#!/usr/bin/env bash
# t-cli-errors.sh: every way the storage CLI can fail gives one line on
# stderr naming the cause and a nonzero exit; the three failures users meet
# most (wrong key, missing container, closed port) read differently; bad
# configuration and bad options are usage errors (exit 2); a failed get
# never leaves a partial file; secrets never appear in an error.
. "$top_srcdir/tests/integration/cli-lib.sh"
# expect_fail WHAT EXIT-CODE PATTERN CMD...: CMD exits with EXIT-CODE and
# prints exactly one line on stderr, starting "blobmill: " and matching
# PATTERN (grep -E). The line is left in ./last.err.
expect_fail() {
	local what=$1 code=$2 pattern=$3 rc
	shift 3
	"$@" >last.out 2>last.err
	rc=$?
	[ "$rc" -eq "$code" ] ||
		fail "$what: exit $rc, expected $code; stderr: $(cat last.err)"
	[ "$(wc -l <last.err)" -eq 1 ] ||
		fail "$what: expected one line on stderr, got: $(cat last.err)"
	grep -q '^blobmill: ' last.err || fail "$what: '$(cat last.err)'"
	grep -Eq -- "$pattern" last.err ||
		fail "$what: '$(cat last.err)' does not match '$pattern'"
	if grep -Fq -- "$AZURITE_KEY" last.err ||
		{ [ -n "${secret:-}" ] && grep -Fq -- "$secret" last.err; }; then
		fail "$what: a secret is in the error line"
	fi
	echo "ok: $what: $(cat last.err)"
}

bm mb data || fail "mb data"
printf 'hello\n' | bm put - data/hello || fail "put data/hello"

echo "--- the three distinct failures"
secret=$(head -c 64 /dev/urandom | base64 -w 0)
AZURE_STORAGE_ACCESS_KEY=$secret expect_fail "wrong key" 1 \
	'authentication failed \(403' bm ls data
wrong_key=$(cat last.err)
secret=
expect_fail "missing container" 1 \
	"cannot list 'nosuch': container 'nosuch' not found \(404 ContainerNotFound\): create it with 'blobmill mb nosuch'\$" \
	bm ls nosuch
missing=$(cat last.err)
port=$(free_port)
AZURE_STORAGE_BLOB_ENDPOINT=http://127.0.0.1:$port/$AZURITE_ACCOUNT \
	expect_fail "closed port" 1 "endpoint unreachable" \
	bm ls --max-retry 1 data
closed=$(cat last.err)
[ "$wrong_key" != "$missing" ] && [ "$missing" != "$closed" ] &&
	[ "$wrong_key" != "$closed" ] || fail "the three errors are not distinct"
echo "ok: wrong key, missing container and closed port read differently"

echo "--- the other operations name their subject"
expect_fail "get of a missing blob" 1 "cannot get 'data/nope': .*not found" \
	bm get data/nope
expect_fail "rm of a missing blob" 1 "cannot delete 'data/nope'.*not found" \
	bm rm data/nope
expect_fail "put into a missing container" 1 \
	"cannot upload 'nosuch/x': container 'nosuch' not found.*: create it with 'blobmill mb nosuch'" \
	bm put - nosuch/x </dev/null
expect_fail "rb of a missing container" 1 "container not found" bm rb nosuch
expect_fail "mb of an existing container" 1 "already exists" bm mb data
expect_fail "put of a missing file" 1 "cannot open 'no-such-file'" \
	bm put no-such-file data/x
expect_fail "get of a blob name with a newline" 1 \
	"cannot get 'data/two\\\\nlines': .*not found" bm get $'data/two\nlines'
expect_fail "get of a blob name with ESC[2J" 1 \
	"cannot get 'data/x\\\\x1b\\[2Jy': .*not found" bm get $'data/x\e[2Jy'

echo "--- SAS credentials"
sas=$(azb sas data rl) || fail "cannot make a SAS"
# bm_sas TOKEN CMD...: blobmill with a SAS token instead of the key
bm_sas() {
	env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="$1" \
		"$BLOBMILL" "${@:2}"
}
expect_eq "ls with a read/list SAS" hello "$(bm_sas "$sas" ls data)"
bad_sas=${sas%%sig=*}sig=$(head -c 32 /dev/urandom | base64 -w 0 |
	sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')
secret=${bad_sas##*sig=}
expect_fail "SAS with a wrong signature" 1 "authentication failed" \
	bm_sas "$bad_sas" ls data
secret=${sas##*sig=}
expect_fail "put with a read-only SAS" 1 "cannot upload 'data/x'" \
	bm_sas "$sas" put - data/x </dev/null
secret=

echo "--- configuration errors (exit 2)"
cfg() { # NAME LINES...: a config file readable by its owner only
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
	chmod 600 "$f"
}
cfg good.cfg "accountName $AZURITE_ACCOUNT" "accountKey $AZURITE_KEY" \
	"blobEndpoint $AZURITE_ENDPOINT"
# The file's key wins over a wrong key in the environment.
expect_eq "ls with a config file" hello \
	"$(AZURE_STORAGE_ACCESS_KEY=$(head -c 64 /dev/urandom | base64 -w 0) \
		bm ls --config-file=good.cfg data)"
# The environment fills what the file leaves unset (here the endpoint).
cfg noendpoint.cfg "accountName $AZURITE_ACCOUNT" "accountKey $AZURITE_KEY"
expect_eq "config file + endpoint from the environment" hello \
	"$(bm ls --config-file=noendpoint.cfg data)"
printf 'accountName %s\r\naccountKey %s\r\nblobEndpoint %s\r\n' \
	"$AZURITE_ACCOUNT" "$AZURITE_KEY" "$AZURITE_ENDPOINT" >crlf.cfg
chmod 600 crlf.cfg
expect_eq "ls with a CRLF config file" hello \
	"$(bm ls --config-file=crlf.cfg data)"
# Without the environment, which would fill what these files leave out.
bm_noenv() {
	env -u AZURE_STORAGE_ACCOUNT -u AZURE_STORAGE_ACCESS_KEY \
		-u AZURE_STORAGE_BLOB_ENDPOINT "$BLOBMILL" "$@"
}
cfg nokey.cfg "accountName $AZURITE_ACCOUNT" "blobEndpoint $AZURITE_ENDPOINT"
expect_fail "config: missing key" 2 "no credentials" \
	bm_noenv ls --config-file=nokey.cfg data
cfg unknown.cfg "accountName $AZURITE_ACCOUNT" "accountKey $AZURITE_KEY" \
	"blobEndpoint $AZURITE_ENDPOINT" "fooBar 1"
expect_fail "config: unknown key" 2 "fooBar" \
	bm_noenv ls --config-file=unknown.cfg data
cfg b64.cfg "accountName $AZURITE_ACCOUNT" "accountKey not*base64!" \
	"blobEndpoint $AZURITE_ENDPOINT"
expect_fail "config: bad base64" 2 "base64" bm_noenv ls --config-file=b64.cfg data
cfg both.cfg "accountName $AZURITE_ACCOUNT" "accountKey $AZURITE_KEY" \
	"sasToken $sas" "blobEndpoint $AZURITE_ENDPOINT"
secret=${sas##*sig=}
expect_fail "config: both key and SAS" 2 "both" \
	bm_noenv ls --config-file=both.cfg data
secret=
expect_fail "config: no such file" 2 "cannot read config file 'nofile.cfg'" \
	bm_noenv ls --config-file=nofile.cfg data
expect_fail "environment: nothing set" 2 "no storage account" bm_noenv ls data
expect_fail "environment: bad base64 key" 2 "base64" \
	env AZURE_STORAGE_ACCESS_KEY='a#b' "$BLOBMILL" ls data

echo "--- bad command lines (exit 2)"
expect_fail "bad --max-retry" 2 "invalid value 'many' for --max-retry" \
	bm ls --max-retry many data
expect_fail "bad --use-https" 2 "expected true or false" \
	bm ls --use-https=yes data
expect_fail "bad --block-size-mb" 2 "block-size-mb" \
	bm put --block-size-mb 0 - data/x
expect_fail "unknown option" 2 "unknown option '--frobnicate'" \
	bm ls --frobnicate data
expect_fail "option of another command" 2 "does not apply" \
	bm get -l data/hello
expect_fail "missing operand" 2 "wrong number of arguments" bm get
expect_fail "bad container name" 2 "invalid container name 'Bad_Name'" \
	bm ls Bad_Name
expect_fail "get without a blob name" 2 "names no blob" bm get data
expect_fail "unknown command" 2 "'frob' is not a command" bm frob

echo "--- a failed get leaves nothing behind"
head -c $((3 * 1024 * 1024)) /dev/urandom | bm put - data/big ||
	fail "put data/big"
printf 'keep me\n' >keep
expect_fail "get of a missing blob over a file" 1 "not found" \
	bm get data/nope keep
expect_eq "the existing file is untouched" "keep me" "$(cat keep)"
# A 1 MiB file size limit makes the write fail after the first MiB.
expect_fail "get that fails half way" 1 "cannot write 'half': File too large" \
	bash -c 'ulimit -f 1024; trap "" XFSZ; exec "$0" get data/big half' \
	"$BLOBMILL"
[ ! -e half ] || fail "a failed get left a partial file"
leftovers=$(find . -name '.blobmill-get-*' | wc -l)
expect_eq "temporary files left by failed gets" 0 "$leftovers"
# A download stalled half way (by the fault proxy) and then killed: the
# signal removes the temporary, and FILE never appears.
. "$top_srcdir/tests/lib/faultproxy.sh"
faultproxy_start --script 1:stall_mid --stall-seconds 60 ||
	fail "cannot start the fault proxy"
trap 'faultproxy_stop; azurite_stop; [ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$cli_test_dir"' EXIT
AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT "$BLOBMILL" get data/big killed &
pid=$!
for _ in $(seq 1 200); do
	[ -n "$(find . -name '.blobmill-get-*' -size +0)" ] && break
	sleep 0.05
done
[ -n "$(find . -name '.blobmill-get-*' -size +0)" ] ||
	fail "the stalled get wrote nothing to its temporary"
kill -TERM "$pid"
wait "$pid"
expect_eq "exit status of a get killed by SIGTERM" 143 $?
faultproxy_stop
[ ! -e killed ] || fail "a killed get left its file"
expect_eq "temporary files left by a killed get" 0 \
	"$(find . -name '.blobmill-get-*' | wc -l)"
expect_fail "get to a full disk (stdout)" 1 "cannot write" \
	bash -c 'exec "$0" get data/big >/dev/full' "$BLOBMILL"
expect_fail "ls to a full disk" 1 "cannot write output" \
	bash -c 'exec "$0" ls data >/dev/full' "$BLOBMILL"

echo "--- --insecure warns"
bm ls --insecure data >/dev/null 2>insecure.err || fail "ls --insecure"
grep -q "^blobmill: warning: --insecure" insecure.err ||
	fail "--insecure did not warn: $(cat insecure.err)"
echo "ok: --insecure warns"
exit 0
