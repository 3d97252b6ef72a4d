#!/usr/bin/env bash
# t-entra-storage: the storage CLI over Microsoft Entra ID tokens, against
# Azurite in OAuth mode (--oauth basic, HTTPS), which checks each bearer
# token's audience, issuer and lifetime, with tests/token_server.py
# standing in for IMDS, App Service's identity endpoint and the authority.
# Each token source in turn (managed identity: IMDS protocol, App Service,
# MSI_ENDPOINT; a user-assigned identity by each of its three ids; service
# principal: secret, certificate, workload identity; the az CLI), the
# default-credential order from the Azure SDK variables, a token service
# that fails then recovers, one that keeps failing, a wrong audience, a
# wrong secret, plain HTTP refused, and no token in any output.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/entra.sh"

[ -x "$BLOBMILL" ] || fail "no blobmill at $BLOBMILL"
entra_begin
# Every stderr of blobmill is kept here and searched for tokens at the end.
ALL="$dir/all-output"
: >"$ALL"

bm_cmd() { # CMD ARGS...: a subcommand with the CA (options after it)
	local cmd=$1
	shift
	"$BLOBMILL" "$cmd" --ca-cert-file="$ENTRA_CA" "$@" 2>"$dir/err"
	local rc=$?
	cat "$dir/err" >>"$ALL"
	return $rc
}

# ls_fails WHAT EXIT LINE ARGS...: `blobmill ls ARGS` exits EXIT with
# exactly LINE (a grep pattern) on stderr.
ls_fails() {
	local what=$1 want=$2 line=$3 rc=0
	shift 3
	bm_cmd ls "$@" || rc=$?
	expect_eq "$what exit code" "$want" "$rc"
	grep -qx "$line" "$dir/err" ||
		{ cat "$dir/err"; fail "$what: unclear error"; }
}

# cycle LABEL [ARGS...]: make a container, put, list, get back, remove;
# with ARGS (e.g. --config-file=F) before the operands.
n=0
cycle() {
	local label=$1
	shift
	n=$((n + 1))
	local c="entra-$n" before after
	before=$(entra_issued)
	echo "payload $label $n" >"$dir/in"
	bm_cmd mb "$@" "$c" || { cat "$dir/err"; fail "$label: mb"; }
	bm_cmd put "$@" "$dir/in" "$c/dir/blob $n.txt" || { cat "$dir/err"; fail "$label: put"; }
	bm_cmd ls "$@" "$c/dir/" >"$dir/ls" || { cat "$dir/err"; fail "$label: ls"; }
	grep -q "dir/blob $n.txt" "$dir/ls" || fail "$label: ls misses the blob"
	bm_cmd get "$@" "$c/dir/blob $n.txt" "$dir/out" || { cat "$dir/err"; fail "$label: get"; }
	cmp -s "$dir/in" "$dir/out" || fail "$label: the blob came back different"
	bm_cmd rm "$@" "$c/dir/blob $n.txt" || { cat "$dir/err"; fail "$label: rm"; }
	after=$(entra_issued)
	# One token per process (each command is one): the cache works.
	expect_eq "$label: tokens issued for 5 commands" 5 $((after - before))
	echo "ok: $label"
}

# last_issue FIELD: the kind/identity of the last token issued.
last_issue() {
	tail -n 1 "$dir/issued.log" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

echo "# managed identity, IMDS protocol (msiEndpoint), system-assigned"
entra_config "$dir/msi.cfg" "authType MSI" "msiEndpoint $ENTRA_IMDS"
cycle "msi imds" --config-file="$dir/msi.cfg"
expect_eq "imds kind" imds "$(last_issue kind)"
expect_eq "imds identity" system "$(last_issue identity)"

echo "# a user-assigned identity by each of its three ids (IMDS)"
for pair in "identityClientId $ENTRA_UAI_CLIENT client_id" \
	"identityObjectId $ENTRA_UAI_OBJECT object_id" \
	"identityResourceId $ENTRA_UAI_RESOURCE msi_res_id"; do
	set -- $pair
	entra_config "$dir/uai.cfg" "authType MSI" "msiEndpoint $ENTRA_IMDS" "$1 $2"
	bm_cmd ls --config-file="$dir/uai.cfg" entra-1 >/dev/null ||
		{ cat "$dir/err"; fail "user-assigned by $1"; }
	expect_eq "user-assigned by $1" "$3=$2" "$(last_issue identity)"
done
echo "ok: user-assigned identity by client id, object id, resource id"

echo "# tasks over a token: {url} needs no key"
bm_cmd put --config-file="$dir/msi.cfg" "$dir/in" "entra-1/task input.txt" || { cat "$dir/err"; fail "put task input"; }
bm_cmd tasks --config-file="$dir/msi.cfg" --input entra-1 --image app:1 \
	--command 'fetch {url}' >"$dir/tasks.json" || { cat "$dir/err"; fail "tasks over a token"; }
python3 - "$dir/tasks.json" "$EP" <<'EOF' || fail "{url} over a token"
import json, sys
tasks = json.load(open(sys.argv[1]))
lines = [t["commandLine"] for t in tasks]
want = sys.argv[2] + "/entra-1/task%20input.txt"
assert any(want in l for l in lines), lines
assert not any("sig=" in l or "eyJ" in l for l in lines), lines
EOF
echo "ok: {url} is the plain blob URL; no token in task JSON"
if command -v bwrap >/dev/null; then
	bm_cmd mb --config-file="$dir/msi.cfg" entra-out || { cat "$dir/err"; fail "mb entra-out"; }
	(cd "$dir" && "$BLOBMILL" run --config-file="$dir/msi.cfg" --ca-cert-file="$ENTRA_CA" \
		--runtime host --stage --input entra-1 --prefix task --output entra-out \
		--command 'cp {in} {out}' >"$dir/run.out" 2>"$dir/err") ||
		{ cat "$dir/run.out" "$dir/err"; fail "run over a token"; }
	cat "$dir/err" >>"$ALL"
	bm_cmd get --config-file="$dir/msi.cfg" "entra-out/task input.txt-result.txt" "$dir/out" ||
		{ cat "$dir/err"; fail "run: no output"; }
	cmp -s "$dir/in" "$dir/out" || fail "run: the output differs from the input"
	echo "ok: run --stage reads and writes over a token"
fi

echo "# an identity the service does not know: its own message"
entra_config "$dir/bad-uai.cfg" "authType MSI" "msiEndpoint $ENTRA_IMDS" \
	"identityClientId 99999999-0000-0000-0000-000000000000"
ls_fails "unknown identity" 1 "blobmill: cannot list 'entra-1': cannot get a token for 'https://storage.azure.com/' from managed identity: 400 invalid_request: Identity not found" \
	--config-file="$dir/bad-uai.cfg" entra-1

echo "# App Service: IDENTITY_ENDPOINT + IDENTITY_HEADER, three ids"
entra_config "$dir/msi-env.cfg" "authType MSI"
IDENTITY_ENDPOINT="$ENTRA_HTTP/msi/token" IDENTITY_HEADER="$ENTRA_ID_HEADER" \
	cycle "msi app service" --config-file="$dir/msi-env.cfg"
expect_eq "app service kind" appservice "$(last_issue kind)"
for pair in "AZURE_STORAGE_IDENTITY_CLIENT_ID $ENTRA_UAI_CLIENT client_id" \
	"AZURE_STORAGE_IDENTITY_OBJECT_ID $ENTRA_UAI_OBJECT principal_id" \
	"AZURE_STORAGE_IDENTITY_RESOURCE_ID $ENTRA_UAI_RESOURCE mi_res_id"; do
	set -- $pair
	env "$1=$2" AZURE_STORAGE_AUTH_TYPE=MSI AZURE_STORAGE_ACCOUNT=devstoreaccount1 \
		AZURE_STORAGE_BLOB_ENDPOINT="$EP" \
		IDENTITY_ENDPOINT="$ENTRA_HTTP/msi/token" IDENTITY_HEADER="$ENTRA_ID_HEADER" \
		"$BLOBMILL" ls --ca-cert-file="$ENTRA_CA" entra-1 >/dev/null 2>"$dir/err" ||
		{ cat "$dir/err"; fail "app service: user-assigned by $1"; }
	expect_eq "app service: user-assigned by $1" "$3=$2" "$(last_issue identity)"
done
echo "ok: App Service identity endpoint, user-assigned by each id"

echo "# MSI_ENDPOINT + MSI_SECRET (App Service 2017), the default choice"
MSI_ENDPOINT="$ENTRA_HTTP/msi2017/token" MSI_SECRET="$ENTRA_MSI_SECRET" \
	AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_BLOB_ENDPOINT="$EP" \
	cycle "msi_endpoint default"
expect_eq "msi 2017 kind" appservice2017 "$(last_issue kind)"

echo "# service principal with a secret: blobfuse v1's keys"
entra_config "$dir/spn.cfg" "authType SPN" "servicePrincipalClientId $ENTRA_CLIENT_ID" \
	"servicePrincipalTenantId $ENTRA_TENANT" "aadEndpoint $ENTRA_AUTHORITY"
AZURE_STORAGE_SPN_CLIENT_SECRET="$ENTRA_SECRET" \
	cycle "spn secret (blobfuse keys)" --config-file="$dir/spn.cfg"
expect_eq "spn kind" secret "$(last_issue kind)"

echo "# service principal, the SDK variables (default credential order)"
export AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_BLOB_ENDPOINT="$EP"
export AZURE_TENANT_ID="$ENTRA_TENANT" AZURE_CLIENT_ID="$ENTRA_CLIENT_ID"
export AZURE_AUTHORITY_HOST="$ENTRA_AUTHORITY"
AZURE_CLIENT_SECRET="$ENTRA_SECRET" cycle "spn secret (AZURE_*)"
expect_eq "spn env kind" secret "$(last_issue kind)"
AZURE_CLIENT_CERTIFICATE_PATH="$ENTRA_CLIENT_CERT" cycle "spn certificate"
expect_eq "certificate kind" certificate "$(last_issue kind)"
AZURE_FEDERATED_TOKEN_FILE="$ENTRA_FED_FILE" cycle "workload identity"
expect_eq "workload kind" workload "$(last_issue kind)"

echo "# a wrong secret: the authority's own reason, no secret shown"
AZURE_CLIENT_SECRET="wrong-secret-value-123" ls_fails "wrong secret" 1 \
	"blobmill: cannot list 'entra-1': cannot get a token for 'https://storage.azure.com/' from service principal (client secret): 401 invalid_client: AADSTS7000215: Invalid client secret provided." \
	entra-1
grep -q "wrong-secret-value" "$dir/err" && fail "the secret is in the error"
unset AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_AUTHORITY_HOST

echo "# the az CLI, run without a shell"
mkdir -p "$dir/bin"
cat >"$dir/bin/az" <<EOF
#!/bin/sh
[ "\$*" = "account get-access-token --resource https://storage.azure.com/ -o json" ] ||
	{ echo "ERROR: unexpected arguments: \$*" >&2; exit 2; }
exec curl -sf "$ENTRA_HTTP/az?resource=\$4"
EOF
chmod +x "$dir/bin/az"
PATH="$dir/bin:$PATH" AZURE_STORAGE_AUTH_TYPE=AzCli cycle "az cli"
expect_eq "az kind" azcli "$(last_issue kind)"
cat >"$dir/bin/az" <<'EOF'
#!/bin/sh
echo "ERROR: Please run 'az login' to setup account." >&2
exit 1
EOF
PATH="$dir/bin:$PATH" AZURE_STORAGE_AUTH_TYPE=AzCli ls_fails "az not logged in" 1 \
	"blobmill: cannot list 'entra-1': cannot get a token for 'https://storage.azure.com/' from the az CLI: 'az account get-access-token' failed: Please run 'az login' to setup account." \
	entra-1

echo "# a token service that fails twice, then recovers: retried"
entra_control '{"fail": 2, "fail_status": 503}'
before=$(entra_issued)
bm_cmd ls --config-file="$dir/msi.cfg" entra-1 >/dev/null ||
	{ cat "$dir/err"; fail "token service recovering: ls failed"; }
expect_eq "tokens after recovery" 1 $(($(entra_issued) - before))
echo "ok: token refresh retried through two 503s"

echo "# a token service that keeps failing: one clear line, bounded"
entra_control '{"fail": 1000, "fail_status": 500}'
ls_fails "failing token service" 1 "blobmill: cannot list 'entra-1': cannot get a token for 'https://storage.azure.com/' from managed identity: 500 server_error: injected failure" \
	--max-retry=2 --config-file="$dir/msi.cfg" entra-1
entra_control '{"fail": 0}'

echo "# a token for the wrong audience: Azurite refuses it, we say why"
entra_control '{"audience": "https://management.azure.com/"}'
ls_fails "wrong audience" 1 "blobmill: cannot list 'entra-1': authentication failed (403 AuthenticationFailed): the Entra ID token was refused: Invalid token audience." \
	--config-file="$dir/msi.cfg" entra-1
entra_control '{"audience": null}'

echo "# a token service that hands out expired tokens: not used"
entra_control '{"lifetime": -30}'
ls_fails "expired token" 1 "blobmill: cannot list 'entra-1': cannot get a token for 'https://storage.azure.com/' from managed identity: the token has already expired" \
	--config-file="$dir/msi.cfg" entra-1
entra_control '{"lifetime": 60}'

echo "# plain HTTP is refused before anything is sent"
entra_config "$dir/http.cfg" "authType MSI" "msiEndpoint $ENTRA_IMDS"
sed -i "s|^blobEndpoint https://|blobEndpoint http://|" "$dir/http.cfg"
before=$(entra_issued)
ls_fails "http" 2 "blobmill: refusing to send an Entra ID token over plain HTTP to 'http://127.0.0.1:$AZURITE_PORT/devstoreaccount1': use an https blob endpoint" \
	--config-file="$dir/http.cfg" entra-1
expect_eq "tokens fetched for an http endpoint" 0 $(($(entra_issued) - before))

echo "# two ways at once: one line, nothing sent"
AZURE_STORAGE_ACCESS_KEY="$AZURITE_KEY" bm_cmd ls --config-file="$dir/msi.cfg" entra-1 >/dev/null ||
	{ cat "$dir/err"; fail "the file's identity should win over a key in the environment"; }
echo "ok: the file's identity wins over a key in the environment"
entra_config "$dir/both.cfg" "authType MSI" "accountKey $AZURITE_KEY"
ls_fails "key + MSI" 2 "blobmill: both an account key and authType MSI are given for 'devstoreaccount1': keep only one" \
	--config-file="$dir/both.cfg" entra-1

echo "# no token, secret or assertion in any output"
grep -n "eyJ" "$ALL" && fail "a token or assertion reached the output"
grep -n "$ENTRA_SECRET\|$ENTRA_ID_HEADER\|$ENTRA_MSI_SECRET" "$ALL" && fail "a secret reached the output"
echo "ok: $(wc -l <"$ALL") lines of output hold no token or secret"
