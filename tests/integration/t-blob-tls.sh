#!/usr/bin/env bash
# t-blob-tls: the HTTP layer verifies certificates. Azurite serves HTTPS
# with a self-signed certificate for 127.0.0.1: by default the request
# fails at once (no retries) with a TLS error naming host:port; trusting
# that certificate (ca_cert_file) or turning verification off (insecure)
# makes the whole client scenario pass over TLS.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

check="$top_builddir/tests/integration/blob-client-check"
[ -x "$check" ] || fail "missing $check (make check builds it)"
command -v openssl >/dev/null || skip "openssl is needed to make a certificate"
dir=$(test_dir)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$dir/key.pem" \
	-out "$dir/cert.pem" 2>/dev/null || skip "openssl could not make a certificate"
AZURITE_EXTRA_ARGS="--cert $dir/cert.pem --key $dir/key.pem"
azurite_start || skip "azurite could not be started with TLS"
trap 'azurite_stop; rm -rf "$dir"' EXIT
case "$AZURE_STORAGE_BLOB_ENDPOINT" in https://*) ;; *) fail "endpoint is not https" ;; esac

echo "# an untrusted certificate"
rc=0
"$check" check tls 2>"$dir/err" || rc=$?
expect_eq "exit code with an untrusted certificate" 3 "$rc"
grep -q "^endpoint unreachable: cannot access container 'tls': TLS failure with '127.0.0.1:$AZURITE_PORT': SSL certificate problem" "$dir/err" ||
	{ cat "$dir/err"; fail "untrusted certificate: not a TLS failure"; }
cat "$dir/err"
expect_eq "requests that reached Azurite" 0 "$(azurite_requests)"

echo "# the certificate trusted through ca_cert_file"
BM_TEST_CA_CERT="$dir/cert.pem" "$check" all tls >"$dir/out" 2>&1 ||
	{ cat "$dir/out"; fail "scenario over TLS with the CA file"; }
tail -n 1 "$dir/out"

echo "# verification off"
BM_TEST_INSECURE=1 "$check" mb tls2 2>"$dir/err" ||
	{ cat "$dir/err"; fail "insecure: create container"; }
BM_TEST_INSECURE=1 "$check" check tls2 || fail "insecure: check container"
echo "ok: insecure mode reaches the service"
