#!/usr/bin/env bash
# t-fuse-blobfuse2-entra: blobfuse2's Entra ID modes through blobmill-fuse
# mount, against Azurite in OAuth mode (HTTPS) and the token stand-in
# (tests/token_server.py): mode spn with tenantid, clientid, clientsecret
# and aadendpoint; mode spn with oauth-token-path (workload identity);
# mode msi with a user-assigned identity (appid) and MSI_ENDPOINT from the
# environment, as blobfuse2 takes it; each read and written through the
# mount and checked with a second client; convert of the spn config to
# the v1 form mounts too. The secret is in no output.
set -u
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/entra.sh"

[ -e /dev/fuse ] || skip "/dev/fuse missing"
command -v fusermount3 >/dev/null || skip "fusermount3 not installed"
entra_begin
mnt=$dir/mnt
mkdir -p "$mnt"
cleanup() {
	grep -qF " $mnt fuse" /proc/self/mounts && fusermount3 -u -z "$mnt"
	entra_stop
}
trap cleanup EXIT

# The container and a blob, with the account key (Azurite takes both).
printf 'accountName devstoreaccount1\naccountKey %s\nblobEndpoint %s\n' \
	"$AZURITE_KEY" "$EP" >"$dir/key.cfg"
chmod 600 "$dir/key.cfg"
cli() { "$BLOBMILL" "$1" --ca-cert-file="$ENTRA_CA" --config-file="$dir/key.cfg" "${@:2}"; }
cli mb data-in || fail "mb"
echo "through entra" | cli put - data-in/in.txt || fail "put"

yaml() { # FILE MODE-LINES...
	local f=$1
	shift
	{
		printf '%s\n' "azstorage:" "  account-name: devstoreaccount1" \
			"  endpoint: $EP" "  container: data-in"
		printf '  %s\n' "$@"
	} >"$f"
	chmod 600 "$f"
}

# mount_read LABEL FILE [ENV...]: mount, read, write, unmount, check.
mount_read() {
	local label=$1 f=$2 before
	shift 2
	before=$(entra_issued)
	env "$@" "$BLOBMILL_FUSE" mount "$mnt" --config-file="$f" \
		--tmp-path="$dir/tmp-$label" --ca-cert-file="$ENTRA_CA" \
		2>"$dir/err" || fail "$label: mount: $(cat "$dir/err")"
	expect_eq "$label: read through the mount" "through entra" "$(cat "$mnt/in.txt")"
	echo "written by $label" >"$mnt/out-$label.txt" || fail "$label: write"
	"$BLOBMILL_FUSE" unmount "$mnt" || fail "$label: unmount"
	expect_eq "$label: written blob" "written by $label" \
		"$(cli get "data-in/out-$label.txt")"
	[ "$(entra_issued)" -gt "$before" ] || fail "$label: no token was issued"
	grep -qF "$ENTRA_SECRET" "$dir/err" && fail "$label: the secret is in the output"
	echo "ok: $label"
}

yaml "$dir/spn.yaml" "mode: spn" "tenantid: $ENTRA_TENANT" \
	"clientid: $ENTRA_CLIENT_ID" "clientsecret: $ENTRA_SECRET" \
	"aadendpoint: $ENTRA_AUTHORITY"
mount_read spn "$dir/spn.yaml"

yaml "$dir/wi.yaml" "mode: spn" "tenantid: $ENTRA_TENANT" \
	"clientid: $ENTRA_CLIENT_ID" "oauth-token-path: $ENTRA_FED_FILE" \
	"aadendpoint: $ENTRA_AUTHORITY"
mount_read workload-identity "$dir/wi.yaml"

yaml "$dir/msi.yaml" "appid: $ENTRA_UAI_CLIENT"
mount_read msi "$dir/msi.yaml" MSI_ENDPOINT="$ENTRA_IMDS"

# The mode comes from AZURE_STORAGE_AUTH_TYPE and the secret from
# AZURE_STORAGE_SPN_CLIENT_SECRET, as blobfuse2 reads them.
yaml "$dir/spn-env.yaml" "tenantid: $ENTRA_TENANT" "clientid: $ENTRA_CLIENT_ID" \
	"aadendpoint: $ENTRA_AUTHORITY"
mount_read spn-env "$dir/spn-env.yaml" AZURE_STORAGE_AUTH_TYPE=spn \
	AZURE_STORAGE_SPN_CLIENT_SECRET="$ENTRA_SECRET"

# A key beside an Entra identity makes no sense: one line, nothing mounted.
yaml "$dir/both.yaml" "mode: msi" "account-key: $AZURITE_KEY"
rc=0
"$BLOBMILL_FUSE" mount "$mnt" --config-file="$dir/both.yaml" \
	--tmp-path="$dir/tmp-both" 2>"$dir/err" || rc=$?
expect_eq "key with mode msi: exit" 2 "$rc"
grep -q "both.yaml:6: azstorage.account-key has no use with azstorage.mode msi" "$dir/err" ||
	fail "key with mode msi: $(cat "$dir/err")"
echo "ok: key with mode msi: $(cat "$dir/err")"

# convert: the spn config in v1's keys, mounted with the printed line.
"$BLOBMILL_FUSE" convert mount "$mnt" --config-file="$dir/spn.yaml" \
	--tmp-path="$dir/tmp-v1" --ca-cert-file="$ENTRA_CA" >"$dir/spn.cfg" ||
	fail "convert"
chmod 600 "$dir/spn.cfg"
grep -qx "authType SPN" "$dir/spn.cfg" &&
	grep -qx "servicePrincipalTenantId $ENTRA_TENANT" "$dir/spn.cfg" ||
	fail "converted: $(grep -v Secret "$dir/spn.cfg")"
line=$(sed -n 's/^#   \(blobmill-fuse [^ ]* --tmp-path=.*\)$/\1/p' "$dir/spn.cfg")
line=${line/THIS-FILE.cfg/$dir/spn.cfg}
line=${line/#blobmill-fuse/$BLOBMILL_FUSE}
# shellcheck disable=SC2086 # the printed line is split into its words
$line 2>"$dir/err" || fail "the converted v1 config does not mount: $(cat "$dir/err")"
expect_eq "read through the converted spn config" "through entra" "$(cat "$mnt/in.txt")"
fusermount3 -u "$mnt" || fail "unmount"
echo "ok: convert spn"
exit 0
