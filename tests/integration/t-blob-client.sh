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
connects=$(sed -n 's/^stats: .* connects=\([0-9]*\)$/\1/p' "$dir/out")
[ -n "$connects" ] && [ "$connects" -le 8 ] ||
	fail "expected at most 8 connections for $ours requests, got '$connects'"
echo "ok: $ours requests over $connects connections"

"$check" mb scenario2 || fail "create container 'scenario2'"
"$check" check scenario2 2>"$dir/err" || { cat "$dir/err"; fail "check of an existing container"; }

echo "# the blob operations under a container SAS"
"$check" mb sas-scenario || fail "create container 'sas-scenario'"
sas=$("$check" sas sas-scenario racwdl) || fail "make a SAS"
env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="$sas" \
	"$check" sas-all sas-scenario >"$dir/out" 2>"$dir/err" ||
	{ cat "$dir/out" "$dir/err"; fail "blob-client-check sas-all failed"; }
sed 's/^/sas: /' "$dir/out"
echo "# a read-only SAS cannot write"
ro=$("$check" sas sas-scenario rl) || fail "make a SAS"
echo data >"$dir/small"
rc=0
env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="$ro" \
	"$check" put sas-scenario x "$dir/small" 2>"$dir/err" || rc=$?
expect_eq "exit code writing with a read-only SAS" 3 "$rc"
grep -q "^permission denied: cannot upload 'sas-scenario/x': permission denied (403 AuthorizationPermissionMismatch" "$dir/err" ||
	{ cat "$dir/err"; fail "read-only SAS: not 'permission denied'"; }
grep -qF "${ro##*sig=}" "$dir/err" && fail "the SAS signature was printed"
cat "$dir/err"
echo "# a tampered SAS"
rc=0
env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="${ro}x" \
	"$check" check sas-scenario 2>"$dir/err" || rc=$?
expect_eq "exit code with a tampered SAS" 3 "$rc"
grep -q "^authentication failed: cannot access container 'sas-scenario': authentication failed (403 " "$dir/err" ||
	{ cat "$dir/err"; fail "tampered SAS: not 'authentication failed'"; }
cat "$dir/err"

echo "# a wrong key"
wrong='AAAAvdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
rc=0
AZURE_STORAGE_ACCESS_KEY=$wrong "$check" check scenario2 2>"$dir/err" || rc=$?
expect_eq "exit code with a wrong key" 3 "$rc"
expect_eq "one line" 1 "$(wc -l <"$dir/err")"
grep -q "^authentication failed: .*403" "$dir/err" ||
	{ cat "$dir/err"; fail "wrong key: not 'authentication failed'"; }
grep -qF "$wrong" "$dir/err" && fail "the key was printed"
cat "$dir/err"

echo "# a missing container"
rc=0
"$check" check no-such-container 2>"$dir/err" || rc=$?
expect_eq "exit code with a missing container" 3 "$rc"
grep -q "^container not found: cannot access container 'no-such-container': .*404 ContainerNotFound" "$dir/err" ||
	{ cat "$dir/err"; fail "missing container message"; }
cat "$dir/err"

echo "# a closed port"
rc=0
AZURE_STORAGE_BLOB_ENDPOINT="http://127.0.0.1:1/$AZURITE_ACCOUNT" \
	"$check" check scenario2 2>"$dir/err" || rc=$?
expect_eq "exit code with a closed port" 3 "$rc"
grep -q "^endpoint unreachable: cannot access container 'scenario2': cannot connect to '127.0.0.1:1': connection refused$" "$dir/err" ||
	{ cat "$dir/err"; fail "closed port message"; }
cat "$dir/err"

rm -rf "$dir"
