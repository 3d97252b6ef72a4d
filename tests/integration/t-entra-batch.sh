#!/usr/bin/env bash
# t-entra-batch: `blobmill submit` with no Batch key and no storage key: the
# storage configuration's managed identity signs in to storage (Azurite in
# OAuth mode) and, with a token for https://batch.core.windows.net/, to the
# local Batch service (tests/batch_server.py over HTTPS, which checks each
# token's audience, issuer and lifetime). Also: a token for the wrong
# audience is refused with one clear line; a plain-HTTP Batch URL is
# refused before any token is fetched; no token in the output or the task
# JSON the service stored.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/entra.sh"

[ -x "$BLOBMILL" ] || fail "no blobmill at $BLOBMILL"
entra_begin
BATCH_PID=
trap '[ -n "$BATCH_PID" ] && kill "$BATCH_PID" 2>/dev/null; entra_stop' EXIT

python3 "$top_srcdir/tests/batch_server.py" --account testbatch \
	--key "$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')" \
	--port-file "$dir/batch.port" --pool pool1 \
	--cert "$ENTRA_CA" --key-file "$dir/key.pem" 2>"$dir/batch.log" &
BATCH_PID=$!
for i in $(seq 1 100); do
	[ -s "$dir/batch.port" ] && break
	sleep 0.05
done
[ -s "$dir/batch.port" ] || fail "batch server did not start: $(cat "$dir/batch.log")"
BATCH="https://127.0.0.1:$(cat "$dir/batch.port")"
batch_get() { curl -sf --cacert "$ENTRA_CA" "$BATCH/_control/$1"; }
curl -sf --cacert "$ENTRA_CA" -X POST --data '{"active_secs": 3600}' "$BATCH/_control" >/dev/null ||
	fail "batch server control"

entra_config "$dir/msi.cfg" "authType MSI" \
	"identityResourceId $ENTRA_UAI_RESOURCE" "msiEndpoint $ENTRA_IMDS"
bm() { "$BLOBMILL" "$1" --ca-cert-file="$ENTRA_CA" --config-file="$dir/msi.cfg" "${@:2}"; }
bm mb data-in || fail "mb data-in"
bm mb data-out || fail "mb data-out"
for n in 1 2 3; do
	echo "blob $n" >"$dir/b"
	bm put "$dir/b" "data-in/in$n.txt" || fail "put in$n.txt"
done

submit() {
	bm submit --batch-url "$BATCH" --batch-account testbatch \
		--input data-in --output data-out --image app:1 \
		--command 'python app.py {in} {out}' --pool pool1 "$@"
}

echo "# submit with the managed identity only"
before=$(grep -c '"resource": "https://batch.core.windows.net/"' "$dir/issued.log")
submit --job job1 >"$dir/out" 2>"$dir/err" || { cat "$dir/err"; fail "submit with a managed identity"; }
cat "$dir/out"
grep -q "added 3 tasks" "$dir/out" || fail "summary: $(cat "$dir/out")"
batch_get stats >"$dir/stats.json"
python3 - "$dir/stats.json" <<'EOF' || fail "the Batch service did not see Entra ID tokens"
import json, sys
d = json.load(open(sys.argv[1]))
assert d.get("entra_requests", 0) >= 3, d
assert d["auth_failures"] == 0, d
EOF
after=$(grep -c '"resource": "https://batch.core.windows.net/"' "$dir/issued.log")
expect_eq "Batch tokens fetched (one, cached)" 1 $((after - before))
grep -q "msi_res_id=$ENTRA_UAI_RESOURCE" "$dir/issued.log" || fail "the identity was not chosen by its resource id"

echo "# a token for the wrong audience"
curl -sf -X POST --data '{"audience": "https://storage.azure.com/"}' "$ENTRA_HTTP/_control" >/dev/null
rc=0
submit --job job2 >/dev/null 2>"$dir/err" || rc=$?
curl -sf -X POST --data '{"audience": null}' "$ENTRA_HTTP/_control" >/dev/null
expect_eq "wrong audience exit code" 1 "$rc"
grep -q "authentication failed (401 InvalidAuthenticationToken): the Entra ID token was refused: The access token is invalid: The audience 'https://storage.azure.com/' is invalid." "$dir/err" ||
	{ cat "$dir/err"; fail "wrong audience: unclear error"; }
expect_eq "error lines" 1 "$(wc -l <"$dir/err")"

echo "# a plain-HTTP Batch URL is refused before anything is sent"
before=$(entra_issued)
rc=0
bm submit --batch-url "http://127.0.0.1:$(cat "$dir/batch.port")" \
	--batch-account testbatch --input data-in --image app:1 \
	--command 'x {in}' --pool pool1 --job job3 >/dev/null 2>"$dir/err" || rc=$?
expect_eq "http exit code" 2 "$rc"
grep -qx "blobmill: submit: refusing to send an Entra ID token over plain HTTP to 'http://127.0.0.1:$(cat "$dir/batch.port")': use the https Batch account URL" "$dir/err" ||
	{ cat "$dir/err"; fail "http Batch URL: unclear error"; }

echo "# no token in the output or in what the service stored"
batch_get state >"$dir/state.json"
grep -c "eyJ" "$dir/state.json" "$dir/out" "$dir/err" | grep -v ":0$" && fail "a token reached the task JSON or the output"
echo "ok: no token in the task JSON or the output"
