#!/usr/bin/env bash
# t-fuse-integrity: what a local user and a full disk can do to a mount
# (issue 17), on a real mount of a private Azurite:
#   1. a user without root, on an allow_other mount, opens a file, writes,
#      fsyncs, unlinks it and goes on through the open descriptor (fstat,
#      pread, write, ftruncate, fsync, close): every call answers, the
#      daemon stays up, and the unlinked file is not uploaded again;
#   2. --tmp-path on a 1 MiB tmpfs: a write that finds it full first
#      empties the whole-file cache and goes on; a cp of 1.5 MB over a good
#      blob fails (ENOSPC) and the blob stays exactly as it was;
#   3. writes after a rename of the open file reach the renamed blob; a
#      file renamed over an open one is not overwritten by that one's
#      close; a directory holding an open file refuses to move (EBUSY)
#      and the writer's data stays whole;
#   4. modes show the truth: 0777 on an allow_other mount (every user may
#      write); with default_permissions, -o umask= is what the kernel
#      enforces; a --tmp-path another user owns or may write is refused
#      with one line, a root-made 0755 one is accepted.
set -u
. "$top_srcdir/tests/lib/fuse.sh"
. "$top_srcdir/tests/lib/faultcheck.sh"
. "$top_srcdir/tests/lib/fusemount.sh"

[ -x "$BLOBMILL_FUSE" ] || skip "blobmill-fuse not built"
command -v setpriv >/dev/null || skip "setpriv not installed"
fuse_test_begin
chmod 0755 "$dir" # the unprivileged user must reach the mount point
mnt=$dir/mnt
small=$dir/small
cleanup() {
	fm_cleanup "$mnt"
	mountpoint -q "$small" && umount "$small"
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

# --- 4a. allow_other: every user may write, and the modes say so --------
expect_eq "file mode on an allow_other mount" 777 "$(stat -c %a "$mnt/r2")"
expect_eq "directory mode on an allow_other mount" 777 "$(stat -c %a "$mnt/d")"
as_nobody sh -c "echo x >'$mnt/by-nobody'" ||
	fail "uid 65534 cannot write on an allow_other mount"

fm_umount "$mnt" || fail "unmount failed or the daemon exited nonzero"

# --- 4b. --tmp-path owner and mode ----------------------------------------
# refused TMP WHY: the mount is refused with one line naming WHY.
refused() {
	local rc=0
	"$BLOBMILL_FUSE" "$mnt" --tmp-path="$1" --container-name="$c" \
		-o allow_other >"$dir/refused.out" 2>&1 || rc=$?
	if mountpoint -q "$mnt"; then
		fusermount3 -u "$mnt"
		fail "mounted with tmp-path $1 ($2)"
	fi
	[ "$rc" -ne 0 ] || fail "exit 0 with tmp-path $1 ($2)"
	expect_eq "lines of the refusal ($2)" 1 "$(wc -l <"$dir/refused.out")"
	grep -q "$2" "$dir/refused.out" ||
		fail "refusal does not say '$2': $(cat "$dir/refused.out")"
	echo "ok: refused: $(cat "$dir/refused.out")"
}
mkdir -m 0777 "$dir/tmp-open"
refused "$dir/tmp-open" "writable by group or others"
mkdir -m 0700 "$dir/tmp-other"
chown 65534:65534 "$dir/tmp-other"
refused "$dir/tmp-other" "owned by uid 65534"
[ ! -e "$dir/tmp-other/blobmill" ] && [ ! -e "$dir/tmp-open/blobmill" ] ||
	fail "a refused tmp-path was written to"

# --- 4c. default_permissions with a umask, on a root-made 0755 tmp-path --
mkdir -m 0755 "$dir/tmp-755"
fm_mount "$mnt" "$dir/tmp-755" "$dir/fuse-perm.log" --container-name="$c" \
	-o allow_other,default_permissions,umask=0077 ||
	fail "a 0755 tmp-path of the daemon's user was refused"
expect_eq "file mode with umask=0077" 700 "$(stat -c %a "$mnt/r2")"
if as_nobody sh -c "cat '$mnt/r2'" >/dev/null 2>&1; then
	fail "uid 65534 read a 0700 file under default_permissions"
fi
if as_nobody sh -c "echo x >'$mnt/by-nobody'" 2>/dev/null; then
	fail "uid 65534 wrote a 0700 file under default_permissions"
fi
echo "ok: modes show 0777 under allow_other and what the kernel enforces under default_permissions"
fm_umount "$mnt" || fail "unmount failed or the daemon exited nonzero"

# --- 2. a full --tmp-path ------------------------------------------------
mkdir -p "$small"
mount -t tmpfs -o size=1m,mode=0700 tmpfs "$small" ||
	skip "cannot mount a tmpfs for --tmp-path"
head -c 300000 /dev/urandom >"$dir/good"
head -c 600000 /dev/urandom >"$dir/cached"
head -c 600000 /dev/urandom >"$dir/after"
head -c 1500000 /dev/urandom >"$dir/big"
az_put "$c" good "$dir/good" || fail "cannot put 'good'"
fm_mount "$mnt" "$small" "$dir/fuse-small.log" --container-name="$c" \
	--log-level=LOG_INFO ||
	fail "mount on a small tmp-path failed"
# 600 KB written and uploaded stay in the whole-file cache (which may
# take 80% of the 1 MiB); the next 600 KB fit only once it is dropped.
cp "$dir/cached" "$mnt/cached" || fail "cannot write 'cached'"
for i in $(seq 1 50); do
	[ -n "$(ls "$small/blobmill/cache")" ] && break
	sleep 0.1
done
[ -n "$(ls "$small/blobmill/cache")" ] ||
	fail "'cached' did not enter the whole-file cache"
cp "$dir/after" "$mnt/after" 2>"$dir/cp.err" ||
	fail "a write that fits once the file cache is dropped failed: $(cat "$dir/cp.err")"
[ "$(fc_blob_sha "$c" after)" = "$(fc_sha "$dir/after")" ] ||
	fail "'after' is not in Azurite with the written bytes"
grep -q "is full: dropped 600000 bytes of cached files" "$dir/fuse-small.log" ||
	fail "the write did not need the file cache dropped: the test proves nothing"
echo "ok: a write that found the tmp-path full emptied the file cache and went on"
if cp "$dir/big" "$mnt/good" 2>"$dir/cp.err"; then
	fail "cp of 1.5 MB through a 1 MiB tmp-path succeeded"
fi
grep -q "No space left on device" "$dir/cp.err" ||
	fail "cp failed, but not with ENOSPC: $(cat "$dir/cp.err")"
[ "$(fc_blob_sha "$c" good)" = "$(fc_sha "$dir/good")" ] ||
	fail "the good blob was changed by a write that ran out of space"
fm_alive "$mnt" || fail "the daemon died"
cmp -s "$mnt/good" "$dir/good" ||
	fail "the mount does not show the good blob after the failed cp"
[ -z "$(find "$small/blobmill/files" -type f)" ] ||
	fail "the failed copy left files in tmp-path: $(ls "$small/blobmill/files")"
echo "ok: cp over a good blob failed with ENOSPC ($(cat "$dir/cp.err")); the blob is unchanged"
fm_umount "$mnt" || fail "unmount failed or the daemon exited nonzero"
umount "$small"
echo "ok: t-fuse-integrity"
