#!/usr/bin/env bash
# t-fuse-parallel: N tasks writing through one mount at once, as a Batch
# node with several task slots runs them, are served at once:
#   - 16 small files closed at once keep 16 uploads in flight: a proxy
#     in front of Azurite holds every PUT a few seconds and counts the
#     most it held at once. libfuse's default of 10 worker threads held
#     that to 10 (each waiting close holds a worker); the daemon runs up
#     to 64 (fusefs/mount_loop.c);
#   - 4 writers of 40 MiB at once (2 under BLOBMILL_QUICK), past the
#     32 MiB Put Blob limit, share the write-behind pool: every block is
#     sent exactly once (5 Put Block and one Put Block List per file, no
#     Put Blob), and every file arrives exact.
set -u
. "$top_srcdir/tests/lib/fuse.sh"
. "$top_srcdir/tests/lib/faultproxy.sh"

# cp SRC DST for i = 1..N, all at once; "%d" in SRC or DST stands for i.
cp_at_once() { # N SRC DST
	local i pids=()
	for i in $(seq 1 "$1"); do
		# shellcheck disable=SC2059
		cp "$(printf "$2" "$i")" "$(printf "$3" "$i")" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		# shellcheck disable=SC2059
		wait "${pids[$i]}" || fail "cp to $(printf "$3" $((i + 1))) failed"
	done
}

fuse_test_begin
trap 'fuse_cleanup; faultproxy_stop; fuse_test_end' EXIT
az_mb par || fail "cannot create container"
opts=(-o attr_timeout=240 -o entry_timeout=240 -o negative_timeout=120)

# --- 16 small closes at once, behind a proxy holding each PUT ----------
n=16
hold=2
[ -n "${BLOBMILL_QUICK:-}" ] && hold=4 # ASan: slower to start 16 cp
faultproxy_start --rule 'PUT =delay' --stall-seconds "$hold" ||
	fail "faultproxy did not start"
m=$dir/mnt
AZURITE_ENDPOINT=$FAULTPROXY_ENDPOINT fuse_mount "$m" "$dir/tmp" par \
	"${opts[@]}" || fail "mount through the proxy failed"
for i in $(seq 1 $n); do
	head -c 4096 /dev/urandom >"$dir/s$i"
done
cp_at_once "$n" "$dir/s%d" "$m/s%d"
fuse_unmount "$m"
faultproxy_stop
held=$(sed -n 's/.*"max_in_flight": \([0-9]*\).*/\1/p' "$FAULTPROXY_ERR" | tail -n 1)
expect_eq "Put Blob requests" "$n" "$(grep -c '"method": "PUT"' "$FAULTPROXY_LOG")"
[ -n "$held" ] && [ "$held" -gt 10 ] ||
	fail "at most ${held:-?} of $n closes uploaded at once (libfuse's default limit is 10)"
echo "figure: $n small files closed at once: $held uploads in flight at once"
for i in $(seq 1 $n); do
	az_get par "s$i" "$dir/got" || fail "s$i not in storage"
	cmp -s "$dir/s$i" "$dir/got" || fail "s$i differs in storage"
done
echo "ok: $n small files exact in storage"

# --- N large writers at once share the write-behind pool ---------------
w=4
[ -n "${BLOBMILL_QUICK:-}" ] && w=2
head -c $((40 << 20)) /dev/urandom >"$dir/big"
m2=$dir/mnt2
fuse_mount "$m2" "$dir/tmp2" par --block-size-mb=8 "${opts[@]}" ||
	fail "mount failed"
blocks0=$(fuse_stat "$m2" put_block)
lists0=$(fuse_stat "$m2" put_block_list)
puts0=$(fuse_stat "$m2" put)
cp_at_once "$w" "$dir/big" "$m2/big%d"
expect_eq "Put Block requests ($w x 40 MiB in 8 MiB blocks)" $((w * 5)) \
	$(($(fuse_stat "$m2" put_block) - blocks0))
expect_eq "Put Block List requests" "$w" \
	$(($(fuse_stat "$m2" put_block_list) - lists0))
expect_eq "Put Blob requests" 0 $(($(fuse_stat "$m2" put) - puts0))
fuse_unmount "$m2"
for i in $(seq 1 $w); do
	az_get par "big$i" "$dir/got" || fail "big$i not in storage"
	cmp -s "$dir/big" "$dir/got" || fail "big$i differs in storage"
done
echo "ok: $w writers of 40 MiB at once, each block sent once, all exact"
