# tests/lib/entra.sh: Azurite with HTTPS and OAuth on, and the local
# stand-in for Entra ID (tests/token_server.py), for the Entra ID tests.
#
#   entra_start [token_server.py options...]
#       makes a certificate for 127.0.0.1 (openssl), a client certificate
#       for the service principal, a federated token file, starts Azurite
#       (--oauth basic --cert --key) and the token service; sets
#         ENTRA_DIR       scratch directory (certificates, logs)
#         ENTRA_CA        the certificate to trust (--ca-cert-file)
#         ENTRA_IMDS      http://127.0.0.1:PORT/metadata/identity/oauth2/token
#         ENTRA_HTTP      http://127.0.0.1:PORT (IMDS, App Service paths)
#         ENTRA_AUTHORITY https://127.0.0.1:PORT/ (aadEndpoint)
#         ENTRA_TENANT ENTRA_CLIENT_ID ENTRA_SECRET ENTRA_CLIENT_CERT
#         ENTRA_FED_FILE ENTRA_ID_HEADER ENTRA_MSI_SECRET
#         ENTRA_UAI_CLIENT ENTRA_UAI_OBJECT ENTRA_UAI_RESOURCE
#                         a user-assigned identity the service knows
#       and unsets every credential variable, so each test names its own.
#   entra_begin [token_server.py options...]
#       entra_start, or the test fails; then dir=$ENTRA_DIR and EP, the
#       https endpoint of Azurite's devstoreaccount1
#   entra_config FILE LINES...  a config file (mode 0600) for
#                           devstoreaccount1 at EP, then LINES
#   entra_issued            tokens issued so far (the service's log)
#   entra_control JSON      POST to the service's /_control
#   entra_stop              also run at exit (azurite_stop included)
# The token service is the part of the system that cannot be reached from
# here (IMDS, login.microsoftonline.com); Azurite is the real storage side
# and checks each token's audience, issuer and lifetime.
. "$top_srcdir/tests/lib/azurite.sh"

ENTRA_TENANT=72f988bf-86f1-41af-91ab-2d7cd011db47
ENTRA_CLIENT_ID=0b1c2d3e-1111-4a4a-8b8b-0123456789ab
ENTRA_SECRET='Qx8~spn.secret_value-0123456789abcdefGHIJ'
ENTRA_ID_HEADER=5f0c3a6e-identity-header
ENTRA_MSI_SECRET=msi-secret-2017-abcdef
ENTRA_UAI_CLIENT=aaaaaaaa-1111-2222-3333-444444444444
ENTRA_UAI_OBJECT=bbbbbbbb-5555-6666-7777-888888888888
ENTRA_UAI_RESOURCE=/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/blobmill-nodes

entra_unset_credentials() {
	unset AZURE_STORAGE_ACCOUNT AZURE_STORAGE_ACCESS_KEY \
		AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_BLOB_ENDPOINT \
		AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_AUTH_TYPE \
		AZURE_STORAGE_IDENTITY_CLIENT_ID AZURE_STORAGE_IDENTITY_OBJECT_ID \
		AZURE_STORAGE_IDENTITY_RESOURCE_ID AZURE_STORAGE_SPN_TENANT_ID \
		AZURE_STORAGE_SPN_CLIENT_ID AZURE_STORAGE_SPN_CLIENT_SECRET \
		AZURE_STORAGE_AAD_ENDPOINT AZURE_CLIENT_ID AZURE_TENANT_ID \
		AZURE_CLIENT_SECRET AZURE_CLIENT_CERTIFICATE_PATH \
		AZURE_FEDERATED_TOKEN_FILE AZURE_AUTHORITY_HOST \
		IDENTITY_ENDPOINT IDENTITY_HEADER MSI_ENDPOINT MSI_SECRET
}

entra_start() {
	command -v openssl >/dev/null || skip "openssl is needed"
	ENTRA_DIR=$(mktemp -d "${TEST_TMPDIR:-/tmp}/entra.XXXXXX") || return 1
	ENTRA_CA="$ENTRA_DIR/cert.pem"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 \
		-keyout "$ENTRA_DIR/key.pem" -out "$ENTRA_CA" 2>/dev/null ||
		skip "openssl could not make a certificate"
	# The service principal's certificate: key and certificate in one PEM,
	# as AZURE_CLIENT_CERTIFICATE_PATH takes it.
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=blobmill-spn \
		-keyout "$ENTRA_DIR/spn-key.pem" -out "$ENTRA_DIR/spn-cert.pem" \
		2>/dev/null || skip "openssl could not make a certificate"
	ENTRA_CLIENT_CERT="$ENTRA_DIR/spn.pem"
	cat "$ENTRA_DIR/spn-key.pem" "$ENTRA_DIR/spn-cert.pem" >"$ENTRA_CLIENT_CERT"
	ENTRA_FED_FILE="$ENTRA_DIR/federated-token"
	echo "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl" >"$ENTRA_FED_FILE"
	AZURITE_EXTRA_ARGS="--oauth basic --cert $ENTRA_DIR/cert.pem --key $ENTRA_DIR/key.pem"
	azurite_start || return 1
	python3 "$top_srcdir/tests/token_server.py" \
		--port-file "$ENTRA_DIR/ports" --cert "$ENTRA_CA" \
		--key "$ENTRA_DIR/key.pem" --log "$ENTRA_DIR/issued.log" \
		--tenant "$ENTRA_TENANT" --client-id "$ENTRA_CLIENT_ID" \
		--client-secret "$ENTRA_SECRET" \
		--client-cert "$ENTRA_DIR/spn-cert.pem" \
		--federated-token-file "$ENTRA_FED_FILE" \
		--identity-header "$ENTRA_ID_HEADER" \
		--msi-secret "$ENTRA_MSI_SECRET" \
		--identity "$ENTRA_UAI_CLIENT,$ENTRA_UAI_OBJECT,$ENTRA_UAI_RESOURCE" \
		"$@" >"$ENTRA_DIR/server.out" 2>&1 &
	ENTRA_PID=$!
	trap entra_stop EXIT
	local i
	for i in $(seq 1 100); do
		[ -s "$ENTRA_DIR/ports" ] && break
		kill -0 "$ENTRA_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$ENTRA_DIR/ports" ] || {
		cat "$ENTRA_DIR/server.out" >&2
		return 1
	}
	local plain tls
	read -r plain tls <"$ENTRA_DIR/ports"
	ENTRA_HTTP="http://127.0.0.1:$plain"
	ENTRA_IMDS="$ENTRA_HTTP/metadata/identity/oauth2/token"
	ENTRA_AUTHORITY="https://127.0.0.1:$tls/"
	: >"$ENTRA_DIR/issued.log"
	entra_unset_credentials
}

entra_begin() {
	entra_start "$@" || fail "cannot start azurite and the token service"
	dir=$ENTRA_DIR
	EP="https://127.0.0.1:$AZURITE_PORT/devstoreaccount1"
}

entra_config() { # FILE LINES...
	local f=$1
	shift
	{
		echo "accountName devstoreaccount1"
		echo "blobEndpoint $EP"
		printf '%s\n' "$@"
	} >"$f"
	chmod 600 "$f"
}

entra_issued() {
	wc -l <"$ENTRA_DIR/issued.log" | tr -d ' '
}

entra_control() {
	curl -sf -X POST --data "$1" "$ENTRA_HTTP/_control" >/dev/null
}

entra_stop() {
	if [ -n "${ENTRA_PID:-}" ]; then
		kill "$ENTRA_PID" 2>/dev/null
		wait "$ENTRA_PID" 2>/dev/null
		ENTRA_PID=
	fi
	azurite_stop
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "${ENTRA_DIR:-/nonexistent}"
}
