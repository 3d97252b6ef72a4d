#!/usr/bin/env bash
# t-fuse-big: a large file through blobmill-fuse: written with dd (parallel
# Put Block + Put Block List), read back through a fresh mount with
# matching sha256 (parallel prefetch), and the first 4 KiB of it read
# through another fresh mount with at most 2 requests and at most one
# block transferred. 1 GiB, or 64 MiB when BLOBMILL_QUICK is set.
set -u
. "$top_srcdir/tests/lib/fuse.sh"

fuse_test_begin

mib=1024
[ -n "${BLOBMILL_QUICK:-}" ] && mib=64
az_mb data || fail "cannot create container"
m=$dir/mnt
opts=(-o attr_timeout=240 -o entry_timeout=240 -o negative_timeout=120
	--block-size-mb=8 --max-concurrency=8)

# A reproducible pattern, cheaper than /dev/urandom and not compressible.
openssl enc -aes-128-ctr -pass pass:blobmill -nosalt -pbkdf2 \
	</dev/zero 2>/dev/null | head -c $((mib << 20)) >"$dir/big" ||
	fail "cannot make the test file"
sum=$(sha256sum <"$dir/big" | cut -d' ' -f1)

fuse_mount "$m" "$dir/tmp" data "${opts[@]}" || fail "mount failed"
dd if="$dir/big" of="$m/big.bin" bs=1M status=none || fail "dd into the mount"
rm -f "$dir/big"
expect_eq "size through the mount" $((mib << 20)) "$(stat -c %s "$m/big.bin")"
blocks=$(fuse_stat "$m" put_block)
# Sent while dd wrote (write-behind) or at close, but each block once.
expect_eq "Put Block requests" $((mib / 8)) "$blocks"
fuse_unmount "$m"

fuse_mount "$m" "$dir/tmp" data "${opts[@]}" || fail "remount failed"
start=$(date +%s.%N)
got=$(sha256sum <"$m/big.bin" | cut -d' ' -f1)
end=$(date +%s.%N)
expect_eq "sha256 read back through a fresh mount" "$sum" "$got"
echo "figure: sequential read of $mib MiB: $(echo "$end - $start" | bc 2>/dev/null || echo "?") s"
az_curl GET "$AZURITE_ENDPOINT" data/big.bin | sha256sum | cut -d' ' -f1 \
	>"$dir/curlsum"
expect_eq "sha256 by curl" "$sum" "$(cat "$dir/curlsum")"
fuse_unmount "$m"

fuse_mount "$m" "$dir/tmp" data "${opts[@]}" || fail "remount failed"
req0=$(fuse_stat "$m" requests)
rx0=$(fuse_stat "$m" received)
head -c 4096 "$m/big.bin" | cmp -s - <(az_curl GET "$AZURITE_ENDPOINT" \
	data/big.bin -h "Range: bytes=0-4095") || fail "first 4 KiB differ"
req=$(($(fuse_stat "$m" requests) - req0))
rx=$(($(fuse_stat "$m" received) - rx0))
[ "$req" -eq 1 ] || fail "first 4 KiB took $req requests, not one GET"
[ "$rx" -le $(((8 << 20) + 65536)) ] || fail "first 4 KiB transferred $rx bytes"
echo "figure: first 4 KiB of $mib MiB: $req requests, $rx bytes received"
fuse_unmount "$m"
exit 0
