# tests/lib/fusemount.sh: run blobmill-fuse in the foreground (so the test
# knows its PID and keeps its log) and take the mount down on exit.
#
#   fm_mount MNT TMP LOG [blobmill-fuse options...]
#       mounts the container named by --container-name (an option) with the
#       daemon's output in LOG; waits until MNT is a mount point; sets
#       FM_PID; returns 1 (log shown) when it does not come up in 30 s
#   fm_need          skips the test without blobmill-fuse, /dev/fuse or
#                    fusermount3
#   fm_wait MNT      for a daemon started by hand (FM_PID): waits up to
#                    30 s until MNT is a mount point; 1 when the daemon
#                    exits first or the time is up
#   fm_umount MNT    unmounts and waits for the daemon to exit; returns the
#                    daemon's exit status (FM_PID cleared)
#   fm_cleanup MNT   for EXIT traps: unmount, lazily if need be, kill the
#                    daemon if it is still there
#   fm_alive MNT     the daemon runs and the mount answers (no ENOTCONN)

FM_PID=

fm_need() {
	[ -x "$BLOBMILL_FUSE" ] || skip "blobmill-fuse not built"
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "fusermount3 not installed"
}

fm_wait() {
	local i
	for i in $(seq 1 300); do
		mountpoint -q "$1" && return 0
		kill -0 "$FM_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

fm_mount() {
	local mnt=$1 tmp=$2 log=$3
	shift 3
	mkdir -p "$mnt"
	"$BLOBMILL_FUSE" "$mnt" --tmp-path="$tmp" -f "$@" >"$log" 2>&1 &
	FM_PID=$!
	fm_wait "$mnt" && return 0
	echo "blobmill-fuse did not mount '$mnt':" >&2
	tail -n 20 "$log" >&2
	return 1
}

fm_umount() {
	local rc=0 i
	# The kernel sends FUSE_RELEASE after close() returns and holds the
	# mount until the daemon answers it, so an unmount right after the last
	# close can see EBUSY while a slow (ASan, faulted) daemon finishes:
	# retry for up to 30 s before calling it a failure.
	for i in $(seq 1 60); do
		fusermount3 -u "$1" 2>/dev/null && break
		[ "$i" -eq 60 ] && { fusermount3 -u "$1"; return 1; }
		sleep 0.5
	done
	if [ -n "$FM_PID" ]; then
		wait "$FM_PID"
		rc=$?
		FM_PID=
	fi
	return $rc
}

fm_cleanup() {
	# Not `mountpoint -q`: it fails on a mount whose daemon died
	# ("Transport endpoint is not connected"), which is exactly the one
	# that must not be left behind.
	if grep -qF " $1 fuse" /proc/self/mounts; then
		fusermount3 -u "$1" 2>/dev/null || fusermount3 -u -z "$1" 2>/dev/null
	fi
	if [ -n "$FM_PID" ]; then
		kill "$FM_PID" 2>/dev/null
		wait "$FM_PID" 2>/dev/null
		FM_PID=
	fi
}

fm_alive() {
	[ -n "$FM_PID" ] && kill -0 "$FM_PID" 2>/dev/null &&
		timeout 30 stat "$1/." >/dev/null 2>&1
}
