#!/usr/bin/env bash
# t-fuse-upload-fail: an upload that fails returns its error from close()
# (EACCES for a SAS without write permission, EIO for a container deleted
# under the mount), the data stays in --tmp-path recorded as pending, and
# a later mount on the same tmp-path uploads it: nothing acknowledged is
# lost.
set -u
. "$top_srcdir/tests/lib/fuse.sh"

sas_tool=$top_builddir/tests/util/fuse-sas
[ -x "$sas_tool" ] || fail "missing $sas_tool"
fuse_test_begin

az_mb out || fail "cannot create container"
m=$dir/mnt
tmp=$dir/tmp
mkdir -p "$m"

# write_close FILE TEXT: prints the errno name close() (or write) failed
# with, or "ok".
write_close() {
	python3 - "$1" "$2" <<'EOF'
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, sys.argv[2].encode())
    os.close(fd)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
}

pending_count() {
	find "$tmp/blobmill/files" -name '*.pending' | wc -l
}

# A name of 1,020 two-byte characters (2,039 bytes of UTF-8): 8 path
# components of 127 x 'é' (254 bytes, under NAME_MAX). Its directories
# exist already (a blob under the deepest), so only the file is written.
long=$(python3 -c 'print("/".join(["\u00e9" * 127] * 8))')
long_enc=$(python3 -c 'import urllib.parse, sys; print(urllib.parse.quote(sys.argv[1]))' "$long")
printf keep >"$dir/keep"
az_put out "${long_enc%/*}/keep" "$dir/keep" || fail "cannot put the long directories"

# --- a SAS that may read and list but not write ---------------------------
sas=$("$sas_tool" out rl) || fail "cannot make a SAS"
(
	umask 077
	printf 'accountName %s\nsasToken %s\ncontainerName out\nauthType SAS\nblobEndpoint %s\n' \
		"$AZURITE_ACCOUNT" "$sas" "$AZURITE_ENDPOINT" >"$dir/sas.cfg"
)
"$BLOBMILL_FUSE" "$m" --tmp-path="$tmp" --config-file="$dir/sas.cfg" ||
	fail "read-only SAS mount failed"
FUSE_MOUNTS+=("$m")
expect_eq "close() with a read-only SAS" EACCES \
	"$(write_close "$m/result.txt" "precious result")"
expect_eq "pending copies in tmp-path" 1 "$(pending_count)"
data=$(find "$tmp/blobmill/files" -name '*.pending' | sed 's/\.pending$//')
expect_eq "the local copy holds the data" "precious result" "$(cat "$data")"
expect_eq "local file mode" 600 "$(stat -c %a "$data")"
expect_eq "still shown by the mount" "precious result" "$(cat "$m/result.txt")"
if cp "$dir/sas.cfg" "$m/copy.cfg" 2>"$dir/cp.err"; then
	fail "cp succeeded without write permission"
fi
echo "ok: cp fails: $(cat "$dir/cp.err")"
expect_eq "close() of a 1,020-character name with a read-only SAS" EACCES \
	"$(write_close "$m/$long" "long name")"
expect_eq "pending copies in tmp-path (result.txt, copy.cfg, the long name)" 3 "$(pending_count)"
fuse_unmount "$m"
az_get out result.txt "$dir/x" 2>/dev/null && fail "blob exists already?"

# --- a restart on the same tmp-path with write access uploads it ---------
fuse_mount "$m" "$tmp" out -o negative_timeout=120 || fail "remount failed"
for i in $(seq 1 100); do
	az_get out result.txt "$dir/got" 2>/dev/null && break
	sleep 0.1
done
expect_eq "uploaded after the restart" "precious result" "$(cat "$dir/got")"
rm -f "$dir/got"
for i in $(seq 1 100); do
	az_get out "$long_enc" "$dir/got" 2>/dev/null && break
	sleep 0.1
done
expect_eq "1,020-character name uploaded after the restart" "long name" \
	"$(cat "$dir/got")"
for i in $(seq 1 50); do
	[ "$(pending_count)" -eq 0 ] && break
	sleep 0.1
done
expect_eq "nothing pending after the upload" 0 "$(pending_count)"

# --- the container deleted under the mount: EIO at close -----------------
# Looked up first (a cached miss), so that create needs no request.
stat "$m/late.txt" 2>/dev/null && fail "late.txt exists already"
az_curl DELETE "$AZURITE_ENDPOINT" "out?restype=container" -o /dev/null -f ||
	fail "cannot delete the container"
expect_eq "close() after the container was deleted" EIO \
	"$(write_close "$m/late.txt" "late data")"
expect_eq "kept as pending" 1 "$(pending_count)"
fuse_unmount "$m"
exit 0
