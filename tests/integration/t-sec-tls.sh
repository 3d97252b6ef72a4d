#!/usr/bin/env bash
# t-sec-tls: TLS certificate verification is on unless turned off on
# purpose. Azurite serves HTTPS with a certificate from a throwaway CA made
# here with openssl: blobmill refuses it without that CA (and with another
# CA), accepts it with --ca-cert-file, and --insecure works but warns.
# blobmill-fuse must refuse to mount without the CA, and mount with it.
set -u
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

[ -x "$BLOBMILL" ] || skip "blobmill not built"
command -v openssl >/dev/null || skip "openssl not installed"
dir=$(test_dir)
unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR

# make_ca NAME: a self-signed CA in $dir/NAME.pem (+ .key).
make_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=blobmill test $1" \
		-keyout "$dir/$1.key" -out "$dir/$1.pem" 2>/dev/null
}
make_ca ca || fail "openssl could not make a CA"
make_ca other || fail "openssl could not make a second CA"
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
	-keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null &&
	printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=CA:FALSE" \
		"extendedKeyUsage=serverAuth" >"$dir/ext" &&
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" \
		-CAkey "$dir/ca.key" -CAcreateserial -days 2 \
		-extfile "$dir/ext" -out "$dir/server.pem" 2>/dev/null ||
	fail "openssl could not sign the server certificate"

export AZURITE_EXTRA_ARGS="--cert $dir/server.pem --key $dir/server.key"
azurite_start || fail "azurite (https) did not start"
mnt="$dir/mnt"
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	azurite_stop
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
case "$AZURITE_ENDPOINT" in
https://*) ;;
*) fail "azurite endpoint is not https: $AZURITE_ENDPOINT" ;;
esac
curl -sS --cacert "$dir/ca.pem" -o /dev/null "$AZURITE_ENDPOINT/x?restype=container" ||
	fail "curl with the CA cannot reach Azurite over https"
echo "ok: Azurite serves https with the test CA's certificate"

# one_line WHAT FILE: FILE (stderr of a failed command) is one line.
one_line() {
	[ "$(wc -l <"$2")" -eq 1 ] || fail "$1: want one line, got: $(cat "$2")"
}

"$BLOBMILL" mb tlscont 2>"$dir/err" && fail "mb over https without the CA succeeded"
one_line "refused without the CA" "$dir/err"
grep -qiE 'certificate|tls|ssl' "$dir/err" ||
	fail "the refusal does not say it is about the certificate: $(cat "$dir/err")"
grep -q 'sSL' "$dir/err" && fail "acronym mangled by lowercasing: $(cat "$dir/err")"
echo "ok: refused without the CA: $(cat "$dir/err")"

"$BLOBMILL" mb --ca-cert-file="$dir/other.pem" tlscont 2>"$dir/err" &&
	fail "mb with another CA succeeded"
one_line "refused with another CA" "$dir/err"
echo "ok: refused with an unrelated CA"

"$BLOBMILL" mb --ca-cert-file="$dir/ca.pem" tlscont 2>"$dir/err" ||
	fail "mb with --ca-cert-file failed: $(cat "$dir/err")"
head -c 100000 /dev/urandom >"$dir/src"
"$BLOBMILL" put --ca-cert-file="$dir/ca.pem" "$dir/src" tlscont/a.bin &&
	"$BLOBMILL" get --ca-cert-file="$dir/ca.pem" tlscont/a.bin "$dir/back" ||
	fail "put/get with --ca-cert-file failed"
cmp -s "$dir/src" "$dir/back" || fail "bytes differ over https"
echo "ok: accepted with --ca-cert-file (mb, put, get)"

"$BLOBMILL" ls --insecure tlscont >/dev/null 2>"$dir/err" ||
	fail "--insecure failed: $(cat "$dir/err")"
grep -qiE 'insecure|verif' "$dir/err" ||
	fail "--insecure does not warn: '$(cat "$dir/err")'"
echo "ok: --insecure works and warns: $(cat "$dir/err")"

# The filesystem.
if ! [ -x "$BLOBMILL_FUSE" ] || ! [ -e /dev/fuse ]; then
	echo "note: blobmill-fuse not built or no /dev/fuse: mount not checked"
	exit 0
fi
mkdir -p "$mnt" "$dir/tmp"
timeout 60 "$BLOBMILL_FUSE" "$mnt" --tmp-path="$dir/tmp" \
	--container-name=tlscont 2>"$dir/err" &&
	fail "blobmill-fuse mounted over https without the CA"
mountpoint -q "$mnt" && fail "a failed mount left a mount behind"
one_line "blobmill-fuse without the CA" "$dir/err"
echo "ok: blobmill-fuse refuses to mount without the CA: $(cat "$dir/err")"
timeout 60 "$BLOBMILL_FUSE" "$mnt" --tmp-path="$dir/tmp" \
	--container-name=tlscont --ca-cert-file="$dir/ca.pem" \
	2>"$dir/err" || fail "mount with --ca-cert-file failed: $(cat "$dir/err")"
cmp -s "$dir/src" "$mnt/a.bin" || fail "read over https differs"
echo written over https >"$mnt/b.txt" || fail "write over https failed"
fusermount3 -u "$mnt" || fail "unmount failed"
[ "$("$BLOBMILL" get --ca-cert-file="$dir/ca.pem" tlscont/b.txt -)" = "written over https" ] ||
	fail "a file written through the https mount is not in the blob"
echo "ok: blobmill-fuse mounts with --ca-cert-file, reads and writes"
