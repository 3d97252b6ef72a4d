#!/usr/bin/env bash
# t-auth-azurite: SharedKey and service-SAS signing (bm_auth), URL encoding
# (bm_url) and configuration from the environment (bm_config) against a
# real Azurite, through plain libcurl (bm-auth-probe), for blob names with
# spaces, unicode, %, #, ?, +, &, quotes, $() and a leading '-'; wrong key,
# tampered and expired SAS must be refused. Also: the same through
# AZURE_STORAGE_CONNECTION_STRING with BlobEndpoint.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

probe="$top_builddir/tests/integration/bm-auth-probe"
[ -x "$probe" ] || fail "missing $probe (make check builds it)"
azurite_start || skip "azurite could not be started"

echo "# environment variables"
"$probe" || fail "bm-auth-probe with AZURE_STORAGE_* failed"

echo "# connection string"
cs="DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$AZURITE_ENDPOINT;"
out=$(env -u AZURE_STORAGE_ACCOUNT -u AZURE_STORAGE_ACCESS_KEY \
	-u AZURE_STORAGE_BLOB_ENDPOINT AZURE_STORAGE_CONNECTION_STRING="$cs" \
	"$probe") || { echo "$out"; fail "bm-auth-probe with a connection string failed"; }
echo "$out" | tail -n 1

# Every request above reached Azurite, and the key never shows in output.
case "$out" in *"$AZURITE_KEY"*) fail "the account key was printed" ;; esac
n=$(azurite_requests)
[ "$n" -ge 60 ] || fail "expected at least 60 requests in Azurite's log, got $n"
echo "ok: $n requests"
