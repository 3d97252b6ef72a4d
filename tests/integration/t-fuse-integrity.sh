#!/usr/bin/env bash
# t-fuse-integrity: what a local user and a full disk can do to a mount
# (issue 17), on a real mount of a private Azurite:
#   1. a user without root, on an allow_other mount, opens a file, writes,
#      fsyncs, unlinks it and goes on through the open descriptor (fstat,
#      pread, write, ftruncate, fsync, close): every call answers, the
#      daemon stays up, and the unlinked file is not uploaded again.
set -u
. "$top_srcdir/tests/lib/fuse.sh"
. "$top_srcdir/tests/lib/faultcheck.sh"
. "$top_srcdir/tests/lib/fusemount.sh"

[ -x "$BLOBMILL_FUSE" ] || skip "blobmill-fuse not built"
command -v setpriv >/dev/null || skip "setpriv not installed"
fuse_test_begin
chmod 0755 "$dir" # the unprivileged user must reach the mount point
mnt=$dir/mnt
cleanup() {
	fm_cleanup "$mnt"
	fuse_test_end
}
trap cleanup EXIT

c=integrity
az_mb "$c" || fail "cannot create container '$c'"
fm_mount "$mnt" "$dir/tmp" "$dir/fuse.log" --container-name="$c" \
	-o allow_other || fail "mount failed"

# as_nobody CMD...: runs CMD as uid/gid 65534 with no supplementary groups.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
# The system's python: a per-user one (pyenv under /root) is not
# reachable by uid 65534.
py=/usr/bin/python3
[ -x "$py" ] || skip "no /usr/bin/python3 for the unprivileged user"

# --- 1. unlinked while open ----------------------------------------------
out=$(as_nobody "$py" - "$mnt/victim" <<'EOF' 2>"$dir/victim.err"
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"hello world")
os.fsync(fd)
os.unlink(p)
assert os.pread(fd, 100, 0) == b"hello world"
os.pwrite(fd, b"!", 11)
os.ftruncate(fd, 5)
os.fsync(fd)
assert os.pread(fd, 100, 0) == b"hello"
try:
    os.fstat(fd)
except OSError as e:
    print("fstat:", e, file=sys.stderr)
os.close(fd)
assert not os.path.exists(p)
print("ok")
EOF
)
fm_alive "$mnt" || fail "the daemon died (unlink while open, as uid 65534): $out"
[ "$out" = ok ] || fail "unlink while open, as uid 65534: $out"
[ "$(fc_blob_sha "$c" victim)" = absent ] ||
	fail "the unlinked file was uploaded again"
ls "$mnt" >/dev/null || fail "the mount does not answer after the unlink"
echo "ok: unlinked-while-open file readable through its descriptor; daemon up; not re-uploaded"

fm_umount "$mnt" || fail "unmount failed or the daemon exited nonzero"
echo "ok: t-fuse-integrity"
