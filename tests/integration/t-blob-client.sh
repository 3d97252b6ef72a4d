#!/usr/bin/env bash
# t-blob-client: every operation of the Azure blob client (bm_blob_azure,
# bm_http, bm_listing) against a real Azurite, through blob-client-check:
# hostile names round-tripped byte for byte, listing flat / by delimiter /
# in pages, ranges, If-Match, metadata, parallel blocks, copy, delete,
# containers. Then the three failures a user meets first: a wrong key, a
# missing container, a closed port — each one line with its own category.
# Request counts are checked against Azurite's own access log.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

check="$top_builddir/tests/integration/blob-client-check"
[ -x "$check" ] || fail "missing $check (make check builds it)"
azurite_start || skip "azurite could not be started"
dir=$(test_dir)

echo "# the whole scenario"
"$check" all scenario >"$dir/out" 2>"$dir/err" ||
	{ cat "$dir/out" "$dir/err"; fail "blob-client-check all failed"; }
cat "$dir/out"

# Our counters and Azurite's log agree on the number of requests.
ours=$(sed -n 's/^stats: requests=\([0-9]*\) .*/\1/p' "$dir/out")
theirs=$(azurite_requests)
expect_eq "requests counted by bm_http vs Azurite's log" "$theirs" "$ours"
expect_eq "List requests in Azurite's log" \
	"$(sed -n 's/^stats: .* list=\([0-9]*\) .*/\1/p' "$dir/out")" \
	"$(azurite_requests 'comp=list')"
expect_eq "Put Block requests in Azurite's log" 6 \
	"$(azurite_requests 'comp=block&')"
# Connections are reused: far fewer connects than requests (4 parallel
# uploaders, and a handle is dropped after the one aborted transfer).
connects=$(sed -n 's/^stats: .* connects=\([0-9]*\) .*/\1/p' "$dir/out")
[ -n "$connects" ] && [ "$connects" -le 8 ] ||
	fail "expected at most 8 connections for $ours requests, got '$connects'"
echo "ok: $ours requests over $connects connections"

echo "# 8 threads on one client"
"$check" mb threads || fail "create container 'threads'"
"$check" fill threads t/ 400 2>"$dir/err" || { cat "$dir/err"; fail "fill"; }
grep -q "^stats: requests=400 .* put=400 .* retries=0 " "$dir/err" ||
	{ cat "$dir/err"; fail "400 puts from 8 threads: wrong counts"; }
connects=$(sed -n 's/^stats: .* connects=\([0-9]*\) .*/\1/p' "$dir/err")
[ "$connects" -le 8 ] || fail "8 threads opened $connects connections"
"$check" ls threads t/ 0 >"$dir/ls" 2>/dev/null || fail "ls threads"
expect_eq "blobs put by 8 threads, listed" "$(seq -f 't/%06g' 0 399)" \
	"$(cat "$dir/ls")"
echo "ok: 400 puts from 8 threads over $connects connections"

"$check" mb scenario2 || fail "create container 'scenario2'"
"$check" check scenario2 2>"$dir/err" || { cat "$dir/err"; fail "check of an existing container"; }

echo "# the blob operations under a container SAS"
"$check" mb sas-scenario || fail "create container 'sas-scenario'"
sas=$("$check" sas sas-scenario racwdl) || fail "make a SAS"
env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="$sas" \
	"$check" sas-all sas-scenario >"$dir/out" 2>"$dir/err" ||
	{ cat "$dir/out" "$dir/err"; fail "blob-client-check sas-all failed"; }
sed 's/^/sas: /' "$dir/out"
# expect_error WHAT REGEX [VAR=VALUE...] -- ARGS...: blob-client-check ARGS
# (with the environment changes) fails with exit code 3 and exactly one
# line on stderr matching REGEX.
expect_error() {
	local what=$1 regex=$2 rc=0
	shift 2
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	env "${envs[@]}" "$check" "$@" 2>"$dir/err" || rc=$?
	expect_eq "exit code: $what" 3 "$rc"
	expect_eq "one line: $what" 1 "$(wc -l <"$dir/err")"
	grep -q "$regex" "$dir/err" || { cat "$dir/err"; fail "$what"; }
	cat "$dir/err"
}
sas_env=(-u AZURE_STORAGE_ACCESS_KEY)

echo "# a read-only SAS cannot write"
ro=$("$check" sas sas-scenario rl) || fail "make a SAS"
echo data >"$dir/small"
expect_error "read-only SAS" \
	"^permission denied: cannot upload 'sas-scenario/x': permission denied (403 AuthorizationPermissionMismatch" \
	"${sas_env[@]}" AZURE_STORAGE_SAS_TOKEN="$ro" -- put sas-scenario x "$dir/small"
grep -qF "${ro##*sig=}" "$dir/err" && fail "the SAS signature was printed"

echo "# debug logging: one line per request, no secret"
env "${sas_env[@]}" AZURE_STORAGE_SAS_TOKEN="$sas" BM_TEST_DEBUG=1 \
	"$check" get sas-scenario 'new-only-if-absent' >/dev/null 2>"$dir/err" ||
	{ cat "$dir/err"; fail "get with debug logging"; }
grep -q "debug: http: GET get .*/sas-scenario/new-only-if-absent -> 200 ([0-9]* ms)" "$dir/err" ||
	{ cat "$dir/err"; fail "no debug line for the request"; }
grep -qF "${sas##*sig=}" "$dir/err" && fail "the SAS signature was logged"
grep -q "REDACTED\|sig=" "$dir/err" && fail "the SAS (even redacted) reached the log"
grep "debug: http:" "$dir/err"

echo "# a tampered SAS"
expect_error "tampered SAS" \
	"^authentication failed: cannot access container 'sas-scenario': authentication failed (403 " \
	"${sas_env[@]}" AZURE_STORAGE_SAS_TOKEN="${ro}x" -- check sas-scenario

echo "# a wrong key"
wrong='AAAAvdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
expect_error "wrong key" \
	"^authentication failed: cannot access container 'scenario2': authentication failed (403 " \
	AZURE_STORAGE_ACCESS_KEY="$wrong" -- check scenario2
grep -qF "$wrong" "$dir/err" && fail "the key was printed"

echo "# a missing container"
expect_error "missing container" \
	"^container not found: cannot access container 'no-such-container': container not found (404 ContainerNotFound" \
	-- check no-such-container

echo "# a closed port"
expect_error "closed port" \
	"^endpoint unreachable: cannot access container 'scenario2': cannot connect to '127.0.0.1:1': connection refused$" \
	AZURE_STORAGE_BLOB_ENDPOINT="http://127.0.0.1:1/$AZURITE_ACCOUNT" -- check scenario2

rm -rf "$dir"
