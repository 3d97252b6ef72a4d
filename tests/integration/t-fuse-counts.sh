#!/usr/bin/env bash
# t-fuse-counts: what blobmill-fuse costs in requests, from its own
# counters (user.blobmill.stats) and from Azurite's access log:
#   - the mount's one List request primes the top level: a stat of a
#     top-level name (there or not) costs nothing;
#   - ls -l of N blobs: ceil(N/5000) List requests, no request per file,
#     the lookup of the directory included;
#   - the same ls -l again within the timeouts: no request at all;
#   - a miss repeated within negative_timeout: one request in all;
#   - a file written through the mount is listed at once;
#   - rereads, and reads of what was written, come from the file cache.
# N is 5,001 (two pages), or 1,200 when BLOBMILL_QUICK is set.
set -u
. "$top_srcdir/tests/lib/fuse.sh"

fuse_test_begin

n=5001
[ -n "${BLOBMILL_QUICK:-}" ] && n=1200
pages=$(((n + 4999) / 5000))
az_mb data || fail "cannot create container"
az_put_many data d/f "$n" || fail "cannot create $n blobs"
az_put_many data deep/e/g 1 || fail "cannot create deep/e/g0"
m=$dir/mnt
fuse_mount "$m" "$dir/tmp" data -o attr_timeout=240 -o entry_timeout=240 \
	-o negative_timeout=120 || fail "mount failed"

list0=$(fuse_stat "$m" list)
req0=$(fuse_stat "$m" requests)
az0=$(azurite_requests 'comp=list')
ls -l "$m/d" >"$dir/ls1" || fail "ls -l"
expect_eq "entries listed" "$n" "$(grep -c ' f[0-9]*$' "$dir/ls1")"
expect_eq "List requests for ls -l of $n blobs (daemon)" "$pages" \
	$(($(fuse_stat "$m" list) - list0))
expect_eq "all requests for ls -l of $n blobs (daemon)" "$pages" \
	$(($(fuse_stat "$m" requests) - req0))
expect_eq "List requests for ls -l of $n blobs (azurite)" "$pages" \
	$(($(azurite_requests 'comp=list') - az0))
echo "figure: ls -l of $n blobs: $pages List requests, 0 per file"

req1=$(fuse_stat "$m" requests)
ls -l "$m/d" >"$dir/ls2" || fail "ls -l again"
cmp -s "$dir/ls1" "$dir/ls2" || fail "second listing differs"
stat "$m/d/f17" >/dev/null || fail "stat f17"
expect_eq "requests for a repeated ls -l and a stat" 0 \
	$(($(fuse_stat "$m" requests) - req1))

req2=$(fuse_stat "$m" requests)
stat "$m/nothing-here" 2>/dev/null && fail "missing file found"
stat "$m/d/nothing" 2>/dev/null && fail "missing file found"
[ -d "$m/deep" ] || fail "deep is not a directory"
expect_eq "requests for misses and a stat the listings answer" 0 \
	$(($(fuse_stat "$m" requests) - req2))
stat "$m/deep/nothing" 2>/dev/null && fail "missing file found"
stat "$m/deep/nothing" 2>/dev/null && fail "missing file found"
expect_eq "requests for a miss in an unlisted directory, twice" 1 \
	$(($(fuse_stat "$m" requests) - req2))
stat "$m/deep/e/g0" >/dev/null || fail "stat deep/e/g0"
expect_eq "requests for a stat two levels down" 3 \
	$(($(fuse_stat "$m" requests) - req2))

echo "fresh" >"$m/d/new.txt" || fail "write"
ls "$m/d" | grep -qx new.txt || fail "a new file is not listed at once"
expect_eq "size seen at once" 6 "$(stat -c %s "$m/d/new.txt")"

# The whole-file cache: a reread, and a read of what was just written,
# cost no request.
req3=$(fuse_stat "$m" requests)
expect_eq "written file read back" fresh "$(cat "$m/d/new.txt")"
expect_eq "requests to read back a file just written" 0 \
	$(($(fuse_stat "$m" requests) - req3))
cat "$m/d/f42" >/dev/null || fail "read f42"
expect_eq "requests for a first read" 1 $(($(fuse_stat "$m" requests) - req3))
cat "$m/d/f42" >/dev/null || fail "reread f42"
expect_eq "requests for a reread" 1 $(($(fuse_stat "$m" requests) - req3))
expect_eq "entries after one write" $((n + 1)) "$(ls "$m/d" | wc -l)"
fuse_unmount "$m"
exit 0
