#!/usr/bin/env bash
# t-blob-resume: the Azure client behind tests/faultproxy.py, with faults
# scripted per request. A Get Blob cut after part of its body (reset,
# truncated, stalled) resumes from the next byte with If-Match on the first
# ETag, and a 503 with Retry-After is retried: the file arrives byte for
# byte, each byte once. A listing page cut mid-body is fetched again and
# no entry is repeated or lost. Uploads survive lost responses, and a
# body damaged on the way is refused by the service (its Content-MD5)
# and sent again, never stored.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"
. "$top_srcdir/tests/lib/faultproxy.sh"

check="$top_builddir/tests/integration/blob-client-check"
[ -x "$check" ] || fail "missing $check (make check builds it)"
command -v python3 >/dev/null || skip "python3 is needed for the proxy"
azurite_start || skip "azurite could not be started"
dir=$(test_dir)
trap 'faultproxy_stop; azurite_stop; rm -rf "$dir"' EXIT

"$check" mb resume || fail "create container"
head -c $((3 * 1024 * 1024 + 777)) /dev/urandom >"$dir/src"
name='dir/ünï $(x) & "q" #1.bin'
"$check" put resume "$name" "$dir/src" || fail "upload"
for i in $(seq -w 1 12); do
	echo "$i" >"$dir/small"
	"$check" put resume "page/blob-$i" "$dir/small" || fail "upload $i"
done

# Stalls last 6 s; the client gives up after 3 s below 1 byte/s.
export BM_TEST_RETRIES=5

echo "# get: reset, truncated, 503, stalled, then whole"
faultproxy_start --script 1:reset_mid,2:truncate,3:http503,4:stall_mid \
	--stall-seconds 6 --retry-after 1 || fail "faultproxy did not start"
AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT \
	"$check" get resume "$name" >"$dir/got" 2>"$dir/err" ||
	{ cat "$dir/err" "$FAULTPROXY_ERR"; fail "get through the proxy"; }
cmp "$dir/src" "$dir/got" || fail "content differs after resumes"
echo "ok: 3 MiB arrived byte for byte through 4 faults"
grep -q '^stats: requests=5 .* get=5 .* retries=1 ' "$dir/err" ||
	{ cat "$dir/err"; fail "expected 5 Get requests, 1 of them a bm_http retry"; }
expect_eq "faults injected" 4 "$(faultproxy_count any)"
faultproxy_stop

echo "# get: the blob changes between the cut and the resume"
# The proxy stalls the first response mid-body; meanwhile the blob is
# overwritten, so the resume (If-Match on the first ETag) must fail.
faultproxy_start --script 1:stall_mid --stall-seconds 6 ||
	fail "faultproxy did not start"
(AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT \
	"$check" get resume "$name" >"$dir/got2" 2>"$dir/err2"; echo $? >"$dir/rc2") &
getpid=$!
sleep 1.5
head -c 1000 /dev/urandom >"$dir/other"
"$check" put resume "$name" "$dir/other" || fail "overwrite"
wait "$getpid"
expect_eq "exit code when the blob changed mid-get" 3 "$(cat "$dir/rc2")"
grep -q "^blob changed: cannot get '.*': blob changed (412 ConditionNotMet" "$dir/err2" ||
	{ cat "$dir/err2"; fail "expected 'blob changed'"; }
echo "ok: $(head -n 1 "$dir/err2")"
faultproxy_stop

echo "# listing: a page cut mid-body is fetched again"
faultproxy_start --script 2:reset_mid,3:truncate || fail "faultproxy did not start"
AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT \
	"$check" ls resume page/ 5 >"$dir/ls" 2>"$dir/err" ||
	{ cat "$dir/err"; fail "listing through the proxy"; }
expect_eq "entries listed once each" \
	"$(seq -w 1 12 | sed 's|^|page/blob-|')" "$(cat "$dir/ls")"
grep -q '^stats: requests=5 list=5 ' "$dir/err" ||
	{ cat "$dir/err"; fail "expected 3 pages + 2 refetches"; }
faultproxy_stop

echo "# upload: lost responses and server errors"
faultproxy_start --seed 7 --rate 0.3 --faults reset,http500,http503,reset_mid ||
	fail "faultproxy did not start"
AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT \
	"$check" put resume "up/$name" "$dir/src" 2>"$dir/err" ||
	{ cat "$dir/err" "$FAULTPROXY_ERR"; fail "upload through the proxy"; }
faultproxy_stop
"$check" get resume "up/$name" >"$dir/got" || fail "get after upload"
cmp "$dir/src" "$dir/got" || fail "uploaded content differs"
n=$(faultproxy_count any)
[ "$n" -ge 1 ] || fail "no fault was injected"
echo "ok: 4 Put Block + Put Block List survived $n injected fault(s)"

echo "# upload: a body damaged on the way is refused and sent again"
# The proxy flips one byte of the body of requests 1 and 3 (two of the
# four Put Block), then of the single Put Blob. Every upload carries its
# Content-MD5, so the service refuses the damaged body (400 Md5Mismatch)
# instead of storing it, and the client sends it again.
faultproxy_start --script 1:corrupt,3:corrupt,8:corrupt ||
	fail "faultproxy did not start"
AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT \
	"$check" put resume "md5/blocks" "$dir/src" 2>"$dir/err" ||
	{ cat "$dir/err" "$FAULTPROXY_ERR"; fail "block upload through the proxy"; }
grep -q '^stats: requests=7 .* retries=2 ' "$dir/err" ||
	{ cat "$dir/err"; fail "expected 4 Put Block + list + 2 sent again"; }
AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT \
	"$check" put resume "md5/single" "$dir/other" 2>"$dir/err" ||
	{ cat "$dir/err" "$FAULTPROXY_ERR"; fail "Put Blob through the proxy"; }
grep -q '^stats: requests=2 .* retries=1 ' "$dir/err" ||
	{ cat "$dir/err"; fail "expected the Put Blob sent twice"; }
expect_eq "bodies damaged" 3 "$(faultproxy_count corrupt)"
faultproxy_stop
"$check" get resume "md5/blocks" >"$dir/got" || fail "get md5/blocks"
cmp "$dir/src" "$dir/got" || fail "a damaged block was stored"
"$check" get resume "md5/single" >"$dir/got" || fail "get md5/single"
cmp "$dir/other" "$dir/got" || fail "a damaged Put Blob was stored"
echo "ok: 3 damaged bodies refused by the service and sent again"
