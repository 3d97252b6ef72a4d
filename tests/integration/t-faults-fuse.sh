#!/usr/bin/env bash
# t-faults-fuse: blobmill-fuse between real tools and the fault proxy (10%
# of requests faulted, two seeds). 200 files of mixed sizes (0 B to
# 64 MiB; 40 files up to 2 MiB under BLOBMILL_QUICK) are written with cp, the mount is
# taken down and up again, and every file is read back with cat and listed
# with ls -l, all under faults. Every close either succeeds and the blob in
# Azurite (read behind the proxy's back) has the file's sha256, or fails
# and the test records which; no read returns wrong bytes; no syscall
# outlives the bound; the daemon is alive at the end. Prints the figures.
set -u
. "$top_srcdir/tests/lib/faultcheck.sh"

fm_need
fc_start mnt
mnt="$dir/mnt"

# One syscall (a close that uploads, a read that downloads) may take the
# retry budget (120 s) plus an attempt's timeout; 300 s is the bound the
# docs promise (docs/RELIABILITY.md).
bound=300
c=fusefaults
"$BLOBMILL" mb "$c" 2>/dev/null || az_curl PUT "$AZURITE_ENDPOINT" \
	"$c?restype=container" -o /dev/null || fail "cannot create '$c'"

if [ -n "${BLOBMILL_QUICK:-}" ]; then
	seeds="21:5 22:1"
	per_seed=20
	big=
else
	seeds="21:5 22:1"
	per_seed=100
	big=1
fi
seeds=${FAULT_SEEDS:-$seeds} # SEED:MAX-RETRY ..., to replay one run
# size_of I: the size of file I (mixed; one 64 MiB and one 16 MiB file
# per seed in full runs).
size_of() {
	local pattern=(0 1 511 4096 65537 262144 1048576 2097155 100 12345)
	if [ -n "$big" ]; then
		case $1 in
		50) echo 67108864; return ;;
		25) echo 16777217; return ;;
		esac
	fi
	echo "${pattern[$(($1 % 10))]}"
}

for sr in $seeds; do
	fc_seed "$sr"
	export AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT
	opts=(--container-name="$c" --max-retry="$retries"
		--max-retry-interval-in-seconds=2 --log-level=LOG_INFO)
	tmp="$dir/tmp-$seed"
	fm_mount "$mnt" "$tmp" "$dir/fuse-$seed.log" "${opts[@]}" ||
		fail "mount (seed $seed) failed"
	mkdir -p "$mnt/s$seed" 2>/dev/null
	closed=()
	for i in $(seq 0 $((per_seed - 1))); do
		s=$(size_of "$i")
		src="$dir/src-$seed-$i"
		head -c "$s" /dev/urandom >"$src"
		name="s$seed/f$i-$s.bin"
		fc_run "$bound" cp "$src" "$mnt/$name"
		fc_count files_written
		if [ "$FC_RC" -eq 0 ]; then
			got=$(fc_blob_sha "$c" "$name")
			[ "$got" = "$(fc_sha "$src")" ] ||
				fail "close of '$name' succeeded but Azurite has $got"
			fc_count files_verified
			fc_count bytes_verified "$s"
			closed+=("$i")
		else
			echo "recorded: writing '$name' failed: $(tail -n 1 "$FC_ERR")"
			fc_count close_errors_recorded
		fi
	done
	fm_alive "$mnt" || fail "daemon dead after writing (seed $seed)"
	fm_umount "$mnt" || fail "unmount (seed $seed) failed"

	# Read back through a fresh mount, under faults too.
	fm_mount "$mnt" "$tmp" "$dir/fuse-$seed-read.log" "${opts[@]}" ||
		fail "remount (seed $seed) failed"
	fc_run "$bound" ls -l "$mnt/s$seed" >"$dir/ls"
	if [ "$FC_RC" -eq 0 ]; then
		for i in "${closed[@]}"; do
			grep -q " f$i-[0-9]*\.bin\$" "$dir/ls" ||
				fail "ls -l of s$seed misses f$i"
		done
		fc_count listings_ok
	else
		fc_count read_errors_recorded
	fi
	for i in $(seq 0 $((per_seed - 1))); do
		s=$(size_of "$i")
		name="s$seed/f$i-$s.bin"
		fc_run "$bound" cat "$mnt/$name" >"$dir/back"
		fc_count files_read
		if [ "$FC_RC" -eq 0 ]; then
			[ "$(fc_sha "$dir/back")" = "$(fc_sha "$dir/src-$seed-$i")" ] ||
				fail "read of '$name' returned wrong bytes ($(stat -c %s "$dir/back") of $s)"
			fc_count reads_ok
		else
			echo "recorded: reading '$name' failed: $(tail -n 1 "$FC_ERR")"
			fc_count read_errors_recorded
		fi
	done
	fm_alive "$mnt" || fail "daemon dead after reading (seed $seed)"
	fm_umount "$mnt" || fail "unmount (seed $seed) failed"
	faultproxy_stop
	fc_count requests "$(faultproxy_count)"
	fc_count faults_injected "$(faultproxy_count any)"
	echo "seed $seed (--max-retry=$retries): $(faultproxy_count any) faults in $(faultproxy_count) requests"
	rm -f "$dir"/src-"$seed"-*
done
fc_count bytes_lost 0
fc_figures
echo "ok: every close and read either succeeded with the right bytes or failed and was recorded"
