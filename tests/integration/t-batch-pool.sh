#!/usr/bin/env bash
# t-batch-pool.sh: `blobmill pool` prints a PoolAddParameter with the
# container configuration, node counts, and a start task that downloads
# the node bundle as a resource file and runs the installer as an admin
# auto-user with waitForSuccess; credentials reach it as a SAS in the start
# task's environment and never as a key. `submit --auto-pool` puts the
# same JSON (one builder) into an autoPoolSpecification with
# poolLifetimeOption job.
. "$top_srcdir/tests/integration/batch-lib.sh"

bundle_url='https://acct.blob.core.windows.net/bundles/blobmill-node-0.1.0.tar.gz?sv=2021-08-06&sig=abc'
export REGPW=s3cret-registry-password
sas=$(python3 "$top_srcdir/tests/integration/azblob.py" sas data-in rl) || fail "sas"
storage_key=$AZURE_STORAGE_ACCESS_KEY

(
	unset AZURE_STORAGE_ACCESS_KEY
	export AZURE_STORAGE_SAS_TOKEN=$sas
	bm pool --pool p1 --image myreg.azurecr.io/app:1 --prefetch busybox:1 \
		--registry myreg.azurecr.io --registry-user puller --registry-password-env REGPW \
		--vm-size standard_d4s_v3 --dedicated 2 --spot 3 --task-slots 4 \
		--bundle-url "$bundle_url" --mounts-url 'https://acct.blob.core.windows.net/cfg/mounts.txt?sig=x'
) >pool.json 2>err.txt || fail "pool: $(cat err.txt)"
cat pool.json
SAS="$sas" BUNDLE="$bundle_url" python3 - pool.json <<'PY' || fail "pool JSON shape"
import json, os, sys
p = json.load(open(sys.argv[1]))
def eq(what, want, got):
    if want != got:
        sys.exit("pool JSON: %s: expected %r, got %r" % (what, want, got))
    print("ok: pool JSON:", what)
vm = p["virtualMachineConfiguration"]
cc = vm["containerConfiguration"]
st = p["startTask"]
eq("id", "p1", p["id"])
eq("vmSize", "standard_d4s_v3", p["vmSize"])
eq("image", "microsoft-dsvm ubuntu-hpc 2204", " ".join(vm["imageReference"][k] for k in ("publisher", "offer", "sku")))
eq("node agent", "batch.node.ubuntu 22.04", vm["nodeAgentSKUId"])
eq("container runtime", "dockerCompatible", cc["type"])
eq("prefetched images", ["busybox:1", "myreg.azurecr.io/app:1"], sorted(cc["containerImageNames"]))
eq("registry", [{"registryServer": "myreg.azurecr.io", "username": "puller", "password": "s3cret-registry-password"}], cc["containerRegistries"])
eq("node counts", (2, 3, 4), (p["targetDedicatedNodes"], p["targetLowPriorityNodes"], p["taskSlotsPerNode"]))
eq("bundle resource file", {"httpUrl": os.environ["BUNDLE"], "filePath": "blobmill-node-0.1.0.tar.gz"}, st["resourceFiles"][0])
eq("mounts resource file", "mounts.txt", st["resourceFiles"][1]["filePath"])
eq("admin auto-user", {"autoUser": {"scope": "pool", "elevationLevel": "admin"}}, st["userIdentity"])
eq("waitForSuccess", True, st["waitForSuccess"])
eq("installer", True, "blobmill-startup --mounts" in st["commandLine"] and "mounts.txt" in st["commandLine"])
env = {e["name"]: e["value"] for e in st["environmentSettings"]}
eq("storage credentials", ("devstoreaccount1", os.environ["SAS"]), (env["AZURE_STORAGE_ACCOUNT"], env["AZURE_STORAGE_SAS_TOKEN"]))
eq("no key", False, "AZURE_STORAGE_ACCESS_KEY" in env)
PY

echo "--- defaults, key-only credentials, conflicting sources"
bm pool >pool2.json 2>err2.txt || fail "pool with defaults: $(cat err2.txt)"
grep -q "no storage credentials" err2.txt || fail "no warning without a SAS: $(cat err2.txt)"
grep -qF "$storage_key" pool2.json && fail "the account key is in the pool JSON"
expect_eq "default bundle source" "blobmill blobmill-node-0.1.0.tar.gz" \
	"$(jq_py 'd["startTask"]["resourceFiles"][0]["autoStorageContainerName"] + " " + d["startTask"]["resourceFiles"][0]["blobPrefix"]' <pool2.json)"
expect_eq "default environment" "[]" "$(jq_py 'd["startTask"]["environmentSettings"]' <pool2.json)"
rc=0
bm pool --bundle-url "$bundle_url" --bundle-storage b 2>err3.txt >/dev/null || rc=$?
expect_eq "two bundle sources: exit" 2 "$rc"
grep -q "give only one of --bundle-url" err3.txt || fail "two bundle sources: $(cat err3.txt)"
rc=0
bm pool --dedicated -1 2>err3.txt >/dev/null || rc=$?
expect_eq "negative node count: exit" 2 "$rc"
rc=0
bm pool --node-image ubuntu 2>err3.txt >/dev/null || rc=$?
expect_eq "bad node image: exit" 2 "$rc"

echo "--- submit --auto-pool: the same builder, pool lifetime job"
batch_start
fill_input 3
bm pool --image app:1 --dedicated 0 --spot 2 2>/dev/null | jq_py 'json.dumps({k: v for k, v in d.items() if k != "id"}, sort_keys=True)' >expected-spec.json
submit --auto-pool --job auto1 --dedicated 0 --spot 2 >out.txt 2>err.txt || fail "auto pool: $(cat err.txt)"
batch_get state >state.json
expect_eq "pool lifetime" "job False" \
	"$(jq_py 'd["jobs"]["auto1"]["poolInfo"]["autoPoolSpecification"]["poolLifetimeOption"] + " " + str(d["jobs"]["auto1"]["poolInfo"]["autoPoolSpecification"]["keepAlive"])' <state.json)"
jq_py 'json.dumps(d["jobs"]["auto1"]["poolInfo"]["autoPoolSpecification"]["pool"], sort_keys=True)' <state.json >auto-spec.json
cmp -s expected-spec.json auto-spec.json || fail "auto pool spec differs from blobmill pool's: $(diff expected-spec.json auto-spec.json)"
echo "ok: the auto pool is blobmill pool's JSON without the id"
expect_eq "tasks on the auto pool" 3 "$(jq_py 'len(d["jobs"]["auto1"]["tasks"])' <state.json)"

echo "--- --node-identity: no key, SAS or registry password in the pool"
uai=/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/blobmill-nodes
(
	unset AZURE_STORAGE_ACCESS_KEY
	export AZURE_STORAGE_SAS_TOKEN=$sas REGPW
	bm pool --pool p2 --image myreg.azurecr.io/app:1 --registry myreg.azurecr.io \
		--node-identity "$uai" \
		--bundle-container-url https://acct.blob.core.windows.net/blobmill \
		--mounts-url https://acct.blob.core.windows.net/blobmill/mounts.txt
) >pool-uai.json 2>err.txt || fail "pool --node-identity: $(cat err.txt)"
UAI="$uai" python3 - pool-uai.json <<'PY' || fail "pool JSON with a node identity"
import json, os, sys
p = json.load(open(sys.argv[1]))
uai = os.environ["UAI"]
ref = {"resourceId": uai}
assert p["identity"] == {"type": "UserAssigned",
                         "userAssignedIdentities": [ref]}, p["identity"]
reg = p["virtualMachineConfiguration"]["containerConfiguration"]["containerRegistries"]
assert reg == [{"registryServer": "myreg.azurecr.io", "identityReference": ref}], reg
for f in p["startTask"]["resourceFiles"]:
    assert f["identityReference"] == ref, f
env = {e["name"]: e["value"] for e in p["startTask"]["environmentSettings"]}
assert env.get("AZURE_STORAGE_AUTH_TYPE") == "MSI", env
assert env.get("AZURE_STORAGE_IDENTITY_RESOURCE_ID") == uai, env
assert "AZURE_STORAGE_SAS_TOKEN" not in env, env
PY
for secret in "$storage_key" "sig=" "$REGPW" "password"; do
	grep -qF -- "$secret" pool-uai.json && fail "pool JSON holds '$secret'"
done
echo "ok: the pool names its identity for the registry, the bundle and the mounts"
rc=0
bm pool --node-identity myidentity 2>err3.txt >/dev/null || rc=$?
expect_eq "bad node identity: exit" 2 "$rc"
grep -q "invalid --node-identity 'myidentity'" err3.txt || fail "bad node identity: $(cat err3.txt)"
