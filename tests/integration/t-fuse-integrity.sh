#!/usr/bin/env bash
# t-fuse-integrity: what a local user and a full disk can do to a mount
# (issue 17), on a real mount of a private Azurite:
#   1. a user without root, on an allow_other mount, opens a file, writes,
#      fsyncs, unlinks it and goes on through the open descriptor (fstat,
#      pread, write, ftruncate, fsync, close): every call answers, the
#      daemon stays up, and the unlinked file is not uploaded again;
#   3. writes after a rename of the open file reach the renamed blob; a
#      file renamed over an open one is not overwritten by that one's
#      close; a directory holding an open file refuses to move (EBUSY)
#      and the writer's data stays whole.
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
out=$(as_nobody "$py" - "$mnt/victim" <<'EOF' 2>&1
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"hello world")
os.fsync(fd)
os.unlink(p)
assert os.fstat(fd).st_size == 11, os.fstat(fd)
assert os.pread(fd, 100, 0) == b"hello world"
os.pwrite(fd, b"!", 11)
os.ftruncate(fd, 5)
os.fsync(fd)
assert os.fstat(fd).st_size == 5, os.fstat(fd)
assert os.pread(fd, 100, 0) == b"hello"
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

# --- 3. renamed while open ----------------------------------------------
out=$(python3 - "$mnt" <<'EOF' 2>&1
import errno, os, sys
m = sys.argv[1]
# The writer goes on after its file is renamed.
fd = os.open(m + "/r1", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"part1")
os.rename(m + "/r1", m + "/r2")
os.write(fd, b"part2")
os.fsync(fd)
os.close(fd)
# A file renamed over one that is open: the old one's close uploads
# nothing over it.
t = os.open(m + "/target", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(t, b"old target")
os.fsync(t)
with open(m + "/new", "wb") as f:
    f.write(b"new content")
os.rename(m + "/new", m + "/target")
os.write(t, b" more")
os.close(t)
# A directory holding an open file does not move.
os.mkdir(m + "/d")
fd = os.open(m + "/d/f", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"in d")
try:
    os.rename(m + "/d", m + "/e")
    print("directory moved with a file open in it")
except OSError as e:
    assert e.errno == errno.EBUSY, e
os.write(fd, b", still")
os.close(fd)
print("ok")
EOF
)
[ "$out" = ok ] || fail "renames while open: $out"
[ "$(fc_blob_sha "$c" r2)" = "$(printf part1part2 | sha256sum | cut -d' ' -f1)" ] ||
	fail "the renamed blob does not hold what was written before and after the rename"
[ "$(fc_blob_sha "$c" r1)" = absent ] || fail "the old name of a renamed file came back"
[ "$(fc_blob_sha "$c" target)" = "$(printf 'new content' | sha256sum | cut -d' ' -f1)" ] ||
	fail "a file renamed over an open one was overwritten by its close"
[ "$(fc_blob_sha "$c" d/f)" = "$(printf 'in d, still' | sha256sum | cut -d' ' -f1)" ] ||
	fail "the file open in a directory that was to move lost data"
echo "ok: writes after a rename reach the renamed blob; rename over an open file wins; a directory with an open file refuses to move"

fm_umount "$mnt" || fail "unmount failed or the daemon exited nonzero"
echo "ok: t-fuse-integrity"
