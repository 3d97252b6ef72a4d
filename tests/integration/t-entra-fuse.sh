#!/usr/bin/env bash
# t-entra-fuse: a blobmill-fuse mount that signs with a user-assigned
# managed identity (authType MSI, identityClientId, msiEndpoint) against
# Azurite in OAuth mode, and outlives several token lifetimes: tokens of a
# minute (20 s under BLOBMILL_QUICK), reads and writes through the mount for
# two and a half lifetimes, with the token service failing for a while in
# the middle. The daemon must renew its token before each one expires
# (never a failed request), log no token, and refuse plain HTTP or an
# identity the service does not know with one line, before mounting.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/fusemount.sh"
. "$top_srcdir/tests/lib/entra.sh"

[ -x "$BLOBMILL_FUSE" ] || fail "no blobmill-fuse at $BLOBMILL_FUSE"
[ -e /dev/fuse ] || skip "no /dev/fuse"
life=60
[ -n "${BLOBMILL_QUICK:-}" ] && life=20
entra_begin --lifetime "$life"
mnt="$dir/mnt"
trap 'fm_cleanup "$mnt"; entra_stop' EXIT

entra_config "$dir/msi.cfg" "containerName data-in" "authType MSI" \
	"identityClientId $ENTRA_UAI_CLIENT" "msiEndpoint $ENTRA_IMDS"
bm() { "$BLOBMILL" "$1" --ca-cert-file="$ENTRA_CA" --config-file="$dir/msi.cfg" "${@:2}"; }
bm mb data-in || fail "cannot create the container over a token"
# The second client signs with the account key (Azurite takes both), so
# that the daemon is the token service's only client during the run.
bm2() {
	AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_ACCESS_KEY="$AZURITE_KEY" \
		AZURE_STORAGE_BLOB_ENDPOINT="$EP" "$BLOBMILL" "$1" --ca-cert-file="$ENTRA_CA" "${@:2}"
}
mkdir -p "$mnt" "$dir/tmp0"

echo "# plain HTTP and an unknown identity: refused before mounting"
sed "s|^blobEndpoint https://|blobEndpoint http://|" "$dir/msi.cfg" >"$dir/http.cfg"
chmod 600 "$dir/http.cfg"
rc=0
"$BLOBMILL_FUSE" "$mnt" --tmp-path="$dir/tmp0" --config-file="$dir/http.cfg" -f 2>"$dir/err" || rc=$?
[ "$rc" -ne 0 ] || fail "mounted with a token over plain HTTP"
grep -q "refusing to send an Entra ID token over plain HTTP to 'http://127.0.0.1:$AZURITE_PORT/devstoreaccount1'" "$dir/err" ||
	{ cat "$dir/err"; fail "http: unclear error"; }
sed "s|^identityClientId .*|identityClientId 12345678-0000-0000-0000-000000000000|" "$dir/msi.cfg" >"$dir/bad.cfg"
chmod 600 "$dir/bad.cfg"
rc=0
"$BLOBMILL_FUSE" "$mnt" --tmp-path="$dir/tmp0" --config-file="$dir/bad.cfg" \
	--ca-cert-file="$ENTRA_CA" -f 2>"$dir/err" || rc=$?
[ "$rc" -ne 0 ] || fail "mounted with an unknown identity"
grep -q "cannot mount 'data-in': .*cannot get a token for 'https://storage.azure.com/' from managed identity: 400 invalid_request: Identity not found" "$dir/err" ||
	{ cat "$dir/err"; fail "unknown identity: unclear error"; }
mountpoint -q "$mnt" && fail "a refused mount is mounted"
echo "ok: refused before mounting, one line each"

echo "# the mount, for $((life * 5 / 2)) s of ${life}-second tokens"
fm_mount "$mnt" "$dir/tmp" "$dir/fuse.log" --config-file="$dir/msi.cfg" \
	--ca-cert-file="$ENTRA_CA" --log-level=LOG_INFO \
	-o attr_timeout=0 -o entry_timeout=0 -o negative_timeout=0 ||
	fail "cannot mount with a managed identity"
start=$(date +%s)
end=$((start + life * 5 / 2))
i=0
failed_once=
while [ "$(date +%s)" -lt "$end" ]; do
	i=$((i + 1))
	# Halfway: the token service fails for a few requests. The daemon's
	# current token still works; its refresh is retried.
	if [ -z "$failed_once" ] && [ "$(date +%s)" -ge $((start + life * 5 / 4)) ]; then
		entra_control '{"fail": 3, "fail_status": 503}'
		failed_once=1
	fi
	head -c $((1000 + i * 37)) /dev/urandom >"$dir/w$i"
	# A write through the mount, checked by the second client.
	cp "$dir/w$i" "$mnt/written-$i.bin" || fail "write $i through the mount failed"
	bm2 get "data-in/written-$i.bin" "$dir/back" || fail "written-$i.bin is not in storage"
	cmp -s "$dir/w$i" "$dir/back" || fail "written-$i.bin differs in storage"
	# A read through the mount of a blob the second client put.
	bm2 put "$dir/w$i" "data-in/put-$i.bin" || fail "put $i failed"
	cmp -s "$dir/w$i" "$mnt/put-$i.bin" || fail "put-$i.bin read through the mount differs"
	ls "$mnt" >/dev/null || fail "ls of the mount failed"
	sleep 2
done
fm_alive "$mnt" || fail "the mount died"
nfiles=$(ls "$mnt" | grep -c '^written-')
expect_eq "files written through the mount" "$i" "$nfiles"
fm_umount "$mnt" || fail "unmount failed (the daemon reported an error)"

renewals=$(grep -c "token: new token for 'https://storage.azure.com/' from managed identity" "$dir/fuse.log")
# The first token, then one every half lifetime: at least 4 in 2.5 lives.
[ "$renewals" -ge 4 ] || { cat "$dir/fuse.log"; fail "only $renewals tokens over 2.5 lifetimes"; }
echo "ok: $i rounds of writes and reads, $renewals tokens in the daemon"
# The three 503s reached the daemon's refresh, which retried through them.
failed=$(curl -sf "$ENTRA_HTTP/_control/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed"])')
expect_eq "token requests that failed" 3 "$failed"
grep -q "http: GET other: status 503, retry" "$dir/fuse.log" ||
	{ cat "$dir/fuse.log"; fail "the failing token service went unnoticed"; }
grep -E "^blobmill-fuse: (error|crit)" "$dir/fuse.log" && fail "the daemon logged an error"
grep -q "client_id=$ENTRA_UAI_CLIENT" "$dir/issued.log" || fail "the user-assigned identity was not used"
grep -n "eyJ" "$dir/fuse.log" "$dir/err" && fail "a token reached the daemon's log"
echo "ok: no token in the daemon's log"
