#!/usr/bin/env bash
# t-fuse-tools: real tools through a blobmill-fuse mount (cp, dd, cat,
# ls -lR, find, mv, rm, mkdir -p, sha256sum, tar in and out, truncate,
# append), every result checked with a second client (curl, signed);
# blobfuse's directory markers and a blob `a` beside `a/b`; 1,000 small
# files written and read back; a blob replaced under a reader.
set -u
. "$top_srcdir/tests/lib/fuse.sh"

fuse_test_begin

az_mb data || fail "cannot create container"
# Written by others before the mount: a blobfuse marker, and a blob `x`
# beside blobs `x/...`.
head -c 3000000 /dev/urandom >"$dir/rand"
echo "one line" >"$dir/small"
az_curl PUT "$AZURITE_ENDPOINT" "data/fromblobfuse" \
	-h "x-ms-blob-type: BlockBlob" -h "x-ms-meta-hdi_isfolder: true" \
	-h "Content-Length: 0" -o /dev/null -f || fail "marker put"
az_put data x "$dir/small" || fail "put x"
az_put data x/inner "$dir/rand" || fail "put x/inner"
az_put data stale.bin "$dir/rand" || fail "put stale.bin"
m=$dir/mnt
fuse_mount "$m" "$dir/tmp" data -o attr_timeout=240 -o entry_timeout=240 \
	-o negative_timeout=120 --block-size-mb=1 || fail "mount failed"

# check_blob NAME LOCAL-FILE: the blob, fetched with curl, equals the file.
check_blob() {
	rm -f "$dir/check"
	az_get data "$1" "$dir/check" || fail "blob '$1' missing"
	cmp -s "$dir/check" "$2" || fail "blob '$1' differs from $2"
	echo "ok: blob '$1' matches"
}

# --- cp, cat, dd, sha256sum -------------------------------------------
cp "$dir/rand" "$m/rand.bin" || fail "cp into the mount"
check_blob rand.bin "$dir/rand"
expect_eq "sha256 through the mount" "$(sha256sum <"$dir/rand")" \
	"$(sha256sum <"$m/rand.bin")"
echo "one line" >"$m/small.txt"
expect_eq "cat" "one line" "$(cat "$m/small.txt")"
check_blob small.txt "$dir/small"
dd if="$dir/rand" of="$m/dd.bin" bs=64k status=none || fail "dd in"
check_blob dd.bin "$dir/rand"
dd if="$m/dd.bin" of="$dir/dd.out" bs=1M status=none || fail "dd out"
cmp -s "$dir/dd.out" "$dir/rand" || fail "dd out differs"
expect_eq "size right after writing" 3000000 "$(stat -c %s "$m/dd.bin")"

# --- append, truncate, overwrite ------------------------------------------
echo "second" >>"$m/small.txt"
printf 'one line\nsecond\n' >"$dir/small2"
check_blob small.txt "$dir/small2"
truncate -s 4 "$m/small.txt"
printf 'one ' >"$dir/small3"
check_blob small.txt "$dir/small3"
expect_eq "size after truncate" 4 "$(stat -c %s "$m/small.txt")"
echo "new" >"$m/small.txt"
echo "new" >"$dir/small4"
check_blob small.txt "$dir/small4"

# --- mkdir -p, ls -lR, find, markers ----------------------------------
mkdir -p "$m/a/b/c" || fail "mkdir -p"
: >"$dir/empty"
check_blob a/b/c "$dir/empty"
meta=$(az_curl HEAD "$AZURITE_ENDPOINT" "data/a/b/c" -I | tr -d '\r' |
	grep -i '^x-ms-meta-hdi_isfolder:' || true)
[ -n "$meta" ] || fail "mkdir did not write an hdi_isfolder marker"
echo "ok: mkdir wrote a marker ($meta)"
cp "$dir/small" "$m/a/b/c/f.txt"
ls -lR "$m" >"$dir/lsr" || fail "ls -lR"
grep -q "f.txt" "$dir/lsr" || fail "ls -lR does not show a/b/c/f.txt"
expect_eq "find" "$m/a/b/c/f.txt" "$(find "$m/a" -type f)"
expect_eq "find dirs" "$(printf '%s\n' "$m/a" "$m/a/b" "$m/a/b/c")" \
	"$(find "$m/a" -type d | sort)"

[ -d "$m/fromblobfuse" ] || fail "a marker blob is not a directory"
echo "ok: blobfuse's marker is a directory"
[ -d "$m/x" ] || fail "x is not shown as a directory"
cmp -s "$m/x/inner" "$dir/rand" || fail "x/inner unreadable"
cmp -s "$m/x.blobmill-blob" "$dir/small" || fail "blob x is hidden"
echo "ok: blob 'x' beside 'x/inner' is shown as x.blobmill-blob"

# --- mv (file and directory), rm, rmdir ------------------------------
mv "$m/rand.bin" "$m/a/moved.bin" || fail "mv file"
check_blob a/moved.bin "$dir/rand"
az_get data rand.bin "$dir/gone" 2>/dev/null && fail "mv left the source"
[ -e "$m/rand.bin" ] && fail "source still visible after mv"
mv "$m/a" "$m/a2" || fail "mv directory"
check_blob a2/b/c/f.txt "$dir/small"
check_blob a2/moved.bin "$dir/rand"
[ -e "$m/a" ] && fail "directory still visible after mv"
rmdir "$m/a2/b" 2>"$dir/rmdir.err" && fail "rmdir of a non-empty dir"
grep -qi "not empty" "$dir/rmdir.err" || fail "rmdir: $(cat "$dir/rmdir.err")"
rm -r "$m/a2" || fail "rm -r"
az_get data a2/moved.bin "$dir/gone" 2>/dev/null && fail "rm -r left blobs"
[ -e "$m/a2" ] && fail "a2 still visible"
echo "ok: mv, rm -r, rmdir"

# --- tar in and out ------------------------------------------------------
mkdir -p "$dir/tree/sub/deeper"
for i in 1 2 3; do head -c $((i * 1000)) /dev/urandom >"$dir/tree/sub/f$i"; done
echo top >"$dir/tree/top"
tar -C "$dir/tree" -cf - . | tar -C "$m" -xf - || fail "tar into the mount"
check_blob sub/f2 "$dir/tree/sub/f2"
tar -C "$m/sub" -cf "$dir/out.tar" . || fail "tar out of the mount"
mkdir -p "$dir/untar"
tar -C "$dir/untar" -xf "$dir/out.tar"
diff -r "$dir/untar" "$dir/tree/sub" || fail "tar round trip differs"
echo "ok: tar in and out"

# --- 1,000 small files -------------------------------------------------
mkdir "$m/many" || fail "mkdir many"
for i in $(seq 1 1000); do echo "file $i"; done >"$dir/expect-many"
for i in $(seq 1 1000); do echo "file $i" >"$m/many/f$i"; done ||
	fail "writing 1,000 files"
expect_eq "1,000 files listed" 1000 "$(ls "$m/many" | wc -l)"
for i in $(seq 1 1000); do cat "$m/many/f$i"; done >"$dir/got-many"
cmp -s "$dir/got-many" "$dir/expect-many" || fail "1,000 files read back"
az_get data many/f777 "$dir/f777" || fail "many/f777 not uploaded"
expect_eq "many/f777 by curl" "file 777" "$(cat "$dir/f777")"

# --- hostile names: quotes, $(), newlines, spaces, non-ASCII, long -----
export AZURITE_ACCOUNT AZURITE_KEY
python3 - "$m" "$dir" <<'EOF' || fail "hostile names"
import os, subprocess, sys, urllib.parse
m, d = sys.argv[1], sys.argv[2]
names = ["it's \"quoted\"", "$(touch pwned)", "new\nline", "tab\tand space",
         "\u00fcn\u00efc\u00f6d\u00e9 \u2713", "semi;colon&amp", "x" * 255]
os.mkdir(os.path.join(m, "hostile"))
for i, n in enumerate(names):
    with open(os.path.join(m, "hostile", n), "w") as f:
        f.write("content %d\n" % i)
listed = sorted(os.listdir(os.path.join(m, "hostile")))
assert listed == sorted(names), listed
for i, n in enumerate(names):
    with open(os.path.join(m, "hostile", n)) as f:
        assert f.read() == "content %d\n" % i, n
    # the second client: curl, with the name percent-encoded
    q = urllib.parse.quote("hostile/" + n, safe="/")
    out = subprocess.run(["bash", "-c",
        '. "$top_srcdir/tests/lib/azcurl.sh"; az_curl GET "$1" "data/$2" -f',
        "x", os.environ["AZURITE_ENDPOINT"], q], capture_output=True)
    assert out.returncode == 0, (n, out.stderr)
    assert out.stdout == b"content %d\n" % i, (n, out.stdout)
assert not os.path.exists("pwned") and not os.path.exists(os.path.join(m, "pwned"))
print("ok: %d hostile names written, listed, read, checked by curl" % len(names))
EOF

# --- a blob replaced under a reader: an error, never mixed bytes --------
head -c 3000000 /dev/urandom >"$dir/v2"
export AZURITE_ACCOUNT AZURITE_KEY # for az_curl in the python child
# stale.bin: uploaded before the mount, never read before (so it has no
# whole-file cached copy and is streamed).
python3 - "$m/stale.bin" "$dir/v2" "$AZURITE_ENDPOINT" <<'EOF' || fail "stale read"
import errno, os, subprocess, sys
path, v2 = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
first = os.read(fd, 4096)
# replace the blob with other bytes behind the mount's back
r = subprocess.run(["bash", "-c",
    '. "$top_srcdir/tests/lib/azcurl.sh"; '
    'az_curl PUT "$1" data/stale.bin -h "x-ms-blob-type: BlockBlob" '
    '-h "Content-Length: $(stat -c %s "$2")" --data-binary @"$2" '
    '-o /dev/null -f', "x", sys.argv[3], v2])
assert r.returncode == 0, "overwrite failed"
try:
    os.lseek(fd, 2 * 1024 * 1024, 0)
    os.read(fd, 4096)
except OSError as e:
    assert e.errno in (errno.ESTALE, errno.EIO), e
    print("ok: read after the blob changed fails: %s" % e.strerror)
    sys.exit(0)
sys.exit("read after the blob changed returned data")
EOF

fuse_unmount "$m"
exit 0
