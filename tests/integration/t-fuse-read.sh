#!/usr/bin/env bash
# t-fuse-read: the read path of blobmill-fuse, by Azurite's access log and
# the daemon's peak RSS (VmHWM):
#   - the mount's readahead window is 256 KiB, not the kernel's 128;
#   - the first 4 KiB of a large blob: exactly one GET, of at most 1 MiB,
#     and no prefetch after it;
#   - a sequential read through a fresh mount: the right bytes, and peak
#     RSS within 64 MiB whatever the file size (the read buffer budget);
#   - a warm reread on the same mount: the right bytes; 0 requests for a
#     file larger than a block whose pages are all still cached (the
#     kernel keeps its pages for an unchanged ETag);
#   - after the blob is replaced, a reopen (once the attributes expire)
#     reads the new version, not the kept pages;
#   - many files open at once, each read 8 MiB: peak RSS still within
#     64 MiB, every byte right.
# 1 GiB and 24 open files, or 64 MiB and 6 when BLOBMILL_QUICK is set (the
# RSS bound is checked only then: sanitizers inflate RSS).
set -u
. "$top_srcdir/tests/lib/fuse.sh"

fuse_test_begin

mib=1024 nopen=24
[ -n "${BLOBMILL_QUICK:-}" ] && mib=64 nopen=6
rss_max=$((64 << 10)) # KiB
az_mb data || fail "cannot create container"
m=$dir/mnt

pattern() { # MIB SEED > file
	openssl enc -aes-128-ctr -pass "pass:$2" -nosalt -pbkdf2 \
		</dev/zero 2>/dev/null | head -c $(($1 << 20))
}
put_file() { # NAME FILE
	az_curl PUT "$AZURITE_ENDPOINT" "data/$1" \
		-h "x-ms-blob-type: BlockBlob" \
		-h "Content-Length: $(stat -c %s "$2")" -T "$2" -o /dev/null -f
}
all_requests() { azurite_requests | tr -d ' '; }
# Requests for blob NAME itself (GETs; a lookup's List names the prefix
# in its query and does not count).
blob_requests() { azurite_requests "data/$1" | tr -d ' '; }
daemon_hwm() { # MNT -> KiB
	local pid
	pid=$(pgrep -f -- "blobmill-fuse $1 " | head -1)
	awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"
}
check_rss() { # WHAT MNT
	local hwm
	hwm=$(daemon_hwm "$2")
	echo "figure: daemon peak RSS, $1: $((hwm >> 10)) MiB"
	[ -n "${BLOBMILL_QUICK:-}" ] && return 0
	[ "$hwm" -le "$rss_max" ] ||
		fail "daemon peak RSS $((hwm >> 10)) MiB for $1 (max 64)"
}

pattern "$mib" one >"$dir/big" || fail "cannot make the test file"
put_file big "$dir/big" || fail "cannot upload the big blob"
sum=$(sha256sum <"$dir/big" | cut -d' ' -f1)
pattern 3 v1 >"$dir/v1"
pattern 3 v2 >"$dir/v2"
put_file small "$dir/v1" || fail "cannot upload small"
pattern 12 three >"$dir/mid"
for i in $(seq 0 "$nopen"); do
	put_file "mid$i" "$dir/mid" || fail "cannot upload mid$i"
done
opts=(-o attr_timeout=2 -o entry_timeout=2 -o negative_timeout=2)

# First 4 KiB: one GET of at most 1 MiB, and nothing after it. Long
# timeouts here: the mount's listing primed big's attributes, and on a
# loaded machine the 2 s of opts ran out before the head, which then
# counted a lookup's List as well.
fuse_mount "$m" "$dir/tmp" data -o attr_timeout=60 -o entry_timeout=60 \
	-o negative_timeout=60 || fail "mount failed"
stat "$m/big" >/dev/null || fail "stat big"
# A sequential reader reaches the daemon in 256 KiB read requests, not
# 128 KiB ones: the mount's readahead window (mount_readahead.c).
expect_eq "the mount's readahead (KiB)" 256 \
	"$(cat "/sys/class/bdi/$(mountpoint -d "$m")/read_ahead_kb")"
a0=$(all_requests)
rx0=$(fuse_stat "$m" received)
head -c 4096 "$m/big" | cmp -s - <(head -c 4096 "$dir/big") ||
	fail "first 4 KiB differ"
sleep 1
expect_eq "requests for the first 4 KiB (azurite)" 1 $(($(all_requests) - a0))
rx=$(($(fuse_stat "$m" received) - rx0))
[ "$rx" -le $(((1 << 20) + 65536)) ] ||
	fail "first 4 KiB transferred $rx bytes (max 1 MiB)"
echo "figure: first 4 KiB of $mib MiB: 1 GET, $rx bytes received"
fuse_unmount "$m"

# Cold sequential read, then a warm one on the same mount.
fuse_mount "$m" "$dir/tmp" data "${opts[@]}" || fail "remount failed"
expect_eq "sha256 through a fresh mount" "$sum" \
	"$(sha256sum <"$m/big" | cut -d' ' -f1)"
check_rss "reading $mib MiB" "$m"
a0=$(all_requests)
expect_eq "sha256 of a warm reread" "$sum" \
	"$(sha256sum <"$m/big" | cut -d' ' -f1)"
echo "figure: warm reread of $mib MiB: $(($(all_requests) - a0)) requests"

# Warm reread of a file larger than a block (so not in the whole-file
# cache): 0 requests while the kernel keeps its pages. This VM's host
# pages out cache pages it sees unused (DAMON), a few percent within
# seconds, and a page gone costs a GET: strict when fincore sees every
# page still cached.
cmp -s "$m/mid0" "$dir/mid" || fail "read mid0"
missing=$(($(stat -c %s "$m/mid0") / 4096 -
	$(fincore -b -n -o PAGES "$m/mid0" | tr -d ' ')))
a0=$(blob_requests mid0)
cmp -s "$m/mid0" "$dir/mid" || fail "reread mid0"
warm=$(($(blob_requests mid0) - a0))
if [ "$missing" -eq 0 ]; then
	expect_eq "GETs for a warm reread of 12 MiB" 0 "$warm"
else
	echo "note: $missing pages evicted before the reread: $warm requests"
	[ "$warm" -le $((2 * missing)) ] || fail "warm reread: $warm requests"
fi

# A new version of the same size replaces the kept pages once the
# attributes expire.
cmp -s "$m/small" "$dir/v1" || fail "read small"
cmp -s "$m/small" "$dir/v1" || fail "reread small"
put_file small "$dir/v2" || fail "cannot replace small"
sleep 3
cmp -s "$m/small" "$dir/v2" || fail "reopen after a change reads old pages"
a0=$(blob_requests small)
cmp -s "$m/small" "$dir/v2" || fail "reread of the new version"
expect_eq "GETs for a reread of the new version" 0 \
	$(($(blob_requests small) - a0))
fuse_unmount "$m"
rm -f "$dir/big"

# Many files open at once, each read 8 MiB: one budget for all.
head -c $((8 << 20)) "$dir/mid" >"$dir/mid8"
fuse_mount "$m" "$dir/tmp" data "${opts[@]}" || fail "remount failed"
fds=()
for i in $(seq 1 "$nopen"); do
	exec {fd}<"$m/mid$i" || fail "open mid$i"
	fds+=("$fd")
	head -c $((8 << 20)) <&"$fd" >"$dir/got" || fail "read mid$i"
	cmp -s "$dir/got" "$dir/mid8" || fail "mid$i: wrong bytes"
done
# And again in another order, while all are still open.
for fd in "${fds[@]}"; do
	cmp -s <(head -c $((4 << 20)) <&"$fd") <(tail -c +$(((8 << 20) + 1)) \
		"$dir/mid") || fail "second read of fd $fd: wrong bytes"
done
for fd in "${fds[@]}"; do
	exec {fd}<&-
done
check_rss "$nopen files of 12 MiB open at once" "$m"
fuse_unmount "$m"
exit 0
