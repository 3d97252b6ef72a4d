#!/usr/bin/env bash
# t-entra-startup: the start-task installer on a node whose pool carries a
# user-assigned identity (`blobmill pool --node-identity`): the start task's
# environment is what pool JSON gives it (account, https endpoint,
# AZURE_STORAGE_AUTH_TYPE=MSI, AZURE_STORAGE_IDENTITY_RESOURCE_ID; no key,
# no SAS), the mounts file's entries read it (config '-'), and the token
# comes from the metadata endpoint (the test's stand-in, reached through
# MSI_ENDPOINT since 169.254.169.254 is not here). Both mounts come up
# against Azurite in OAuth mode; data-in lists, data-out takes a write; the
# installer's second run changes nothing; --unmount leaves nothing behind.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/entra.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (FUSE mounts)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
[ -x "$BLOBMILL_FUSE" ] && [ -x "$BLOBMILL" ] || fail "blobmill is not built"
installer="$top_srcdir/startup/blobmill-startup"
entra_start || fail "cannot start azurite and the token service"
d=$ENTRA_DIR
prefix="$d/opt"
EP="https://127.0.0.1:$AZURITE_PORT/devstoreaccount1"
cleanup() {
	"$installer" --unmount --mounts "$d/mounts" --prefix "$prefix" >/dev/null 2>&1
	entra_stop
}
trap cleanup EXIT

# The data, put with the account key (Azurite takes both).
bm2() {
	AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_ACCESS_KEY="$AZURITE_KEY" \
		AZURE_STORAGE_BLOB_ENDPOINT="$EP" "$BLOBMILL" "$1" --ca-cert-file="$ENTRA_CA" "${@:2}"
}
bm2 mb data-in && bm2 mb data-out || fail "mb"
printf 'one\n' | bm2 put - data-in/a.txt || fail "put a.txt"
printf 'two\n' | bm2 put - "data-in/b c.txt" || fail "put b c.txt"

printf '%s\n' \
	"data-in  $d/mnt/data-in  $d/fusetmp/in  -  --ca-cert-file=$ENTRA_CA -o attr_timeout=240" \
	"data-out $d/mnt/data-out $d/fusetmp/out -  --ca-cert-file=$ENTRA_CA" >"$d/mounts"

# The start task's environment, as `blobmill pool --node-identity` writes it.
node_env=(AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_BLOB_ENDPOINT="$EP"
	AZURE_STORAGE_AUTH_TYPE=MSI AZURE_STORAGE_IDENTITY_RESOURCE_ID="$ENTRA_UAI_RESOURCE"
	MSI_ENDPOINT="$ENTRA_IMDS")

run() { # LABEL: runs the installer; sets rc, out
	env "${node_env[@]}" "$installer" --prefix "$prefix" --mounts "$d/mounts" \
		--fuse "$BLOBMILL_FUSE" --cli "$BLOBMILL" >"$d/out" 2>&1
	rc=$?
	echo "--- $1 (exit $rc)"
	cat "$d/out"
}

run "fresh"
expect_eq "fresh run exit" 0 "$rc"
grep -q "^data-in: $d/mnt/data-in: mounted (2 entries)" "$d/out" || fail "data-in not mounted"
grep -q "^data-out: $d/mnt/data-out: mounted (0 entries)" "$d/out" || fail "data-out not mounted"
expect_eq "data-in listing" "a.txt|b c.txt" "$(ls "$d/mnt/data-in" | paste -sd '|')"
printf 'through the mount\n' >"$d/mnt/data-out/written.txt" || fail "write through data-out"
expect_eq "written through data-out" "through the mount" "$(bm2 get data-out/written.txt)"
grep -q "\"identity\": \"msi_res_id=$ENTRA_UAI_RESOURCE\"" "$d/issued.log" ||
	fail "the node identity was not used: $(cat "$d/issued.log")"

run "second"
expect_eq "second run exit" 0 "$rc"
grep -q "^done: no change, 2 mount(s) healthy$" "$d/out" || fail "second run changed something"

"$installer" --unmount --mounts "$d/mounts" --prefix "$prefix" >"$d/out" 2>&1 ||
	{ cat "$d/out"; fail "--unmount"; }
grep -qF " $d/mnt/" /proc/self/mounts && fail "a mount is left behind"
echo "ok: the installer mounts with the node's identity (authType MSI)"
