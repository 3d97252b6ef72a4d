#!/usr/bin/env bash
# t-fuse-two-writers: the two-writer rule (docs/RELIABILITY.md), issue 17
# defect 2. The mount writes and fsyncs 40 MiB of 'A' (write-behind sends
# blocks early, the fsync commits them); another node (`blobmill put`,
# 8 MiB blocks) replaces the blob with 40 MiB of 'B'; the mount changes
# its last byte and fsyncs again. The blob must then hold one writer's
# whole content: the mount's (its fsync succeeded: last writer wins), or
# the other's with the mount's fsync failing. Never B's blocks under the
# mount's last block. Round 2: the same, with the other writer's put
# between the mount's early block sends and its first commit.
set -u
. "$top_srcdir/tests/lib/fuse.sh"

fuse_test_begin

mib=40
az_mb out || fail "cannot create container"
m=$dir/mnt
fuse_mount "$m" "$dir/tmp" out --block-size-mb=8 --max-concurrency=4 ||
	fail "mount failed"

# writer.py FILE MIB FIRST: writes MIB MiB of 'A' in 1 MiB writes, then
# (FIRST "fsync") fsyncs, prints a line and waits for one on stdin (the
# other writer's turn), changes the last byte to 'Z', fsyncs and closes;
# prints "ok" or the errno name of the failed call.
cat >"$dir/writer.py" <<'PY'
import errno, os, sys
path, mib, first = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    for i in range(mib):
        os.write(fd, b"A" * (1 << 20))
    if first == "fsync":
        os.fsync(fd)
    print("written", flush=True)
    sys.stdin.readline()
    os.pwrite(fd, b"Z", (mib << 20) - 1)
    os.fsync(fd)
    os.close(fd)
    print("ok", flush=True)
except OSError as e:
    print(errno.errorcode[e.errno], flush=True)
PY

head -c $((mib << 20)) /dev/zero | tr '\0' 'B' >"$dir/theirs"
head -c $(((mib << 20) - 1)) /dev/zero | tr '\0' 'A' >"$dir/mine"
printf Z >>"$dir/mine"

# check NAME RESULT: the blob is exactly one writer's content.
check() {
	az_get out "$1" "$dir/got" || fail "cannot read back $1"
	if cmp -s "$dir/got" "$dir/mine"; then
		expect_eq "$1: the mount's fsync (its content won)" ok "$2"
	elif cmp -s "$dir/got" "$dir/theirs"; then
		[ "$2" != ok ] || fail "$1: the other writer's content, yet the mount's fsync succeeded"
		echo "ok: $1: the mount's fsync failed ($2); the other's content intact"
	else
		fail "$1: a blob neither writer wrote: $(tr -s 'A-Z' <"$dir/got" | head -c 40)"
	fi
}

# round NAME FIRST: one round of the race on blob NAME.
round() {
	local name=$1 first=$2 blocks0 sent i line w_out w_in w_pid
	blocks0=$(fuse_stat "$m" put_block)
	coproc W { python3 "$dir/writer.py" "$m/$name" "$mib" "$first"; }
	w_pid=$W_PID
	# Copies: bash closes a coprocess's own descriptors when it exits.
	exec {w_out}<&"${W[0]}" {w_in}>&"${W[1]}"
	read -r line <&"$w_out" || fail "$name: the writer died"
	expect_eq "$name: the mount's writes ($first)" written "$line"
	if [ "$first" = send ]; then
		# Blocks sent early (write-behind: those whole once the copy
		# passed 32 MiB, as many as --max-concurrency lets go; the
		# rest at the fsync), none committed.
		for i in $(seq 1 50); do
			sent=$(($(fuse_stat "$m" put_block) - blocks0))
			[ "$sent" -ge 4 ] && break
			sleep 0.1
		done
		[ "$sent" -ge 1 ] || fail "$name: no block was sent early"
		echo "ok: $name: $sent of 5 blocks sent early"
		expect_eq "$name: nothing committed yet" absent \
			"$(az_get out "$name" /dev/null 2>/dev/null &&
				echo present || echo absent)"
	fi
	"$BLOBMILL" put --block-size-mb 8 "$dir/theirs" "out/$name" ||
		fail "$name: the other writer's put failed"
	echo >&"$w_in"
	read -r line <&"$w_out" || fail "$name: the writer died"
	exec {w_out}<&- {w_in}>&-
	wait "$w_pid" 2>/dev/null
	check "$name" "$line"
	# The mount shows what it wrote: its copy is the file.
	expect_eq "$name: size through the mount" $((mib << 20)) \
		"$(stat -c %s "$m/$name")"
}

round result.bin fsync
round early.bin send
fuse_unmount "$m"
exit 0
