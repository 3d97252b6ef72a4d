#!/usr/bin/env bash
# t-fuse-blobfuse2: blobmill-fuse as a drop-in for blobfuse2 (issue 15).
#   - the start-task line `blobfuse2 mount /mnt/data-in --config-file=in.yaml
#     --tmp-path=/mnt/blobfusetmp-in -o allow_other` with only the program
#     name changed: reads, writes, allow_other, then `unmount`;
#   - configs written after blobfuse2's documented samples: file_cache with
#     an account key, block_cache with a SAS from the environment;
#   - the timeouts honoured, counted in requests: libfuse.*-expiration-sec
#     and attr_cache.timeout-sec at 240 cost nothing on repeats; with 0 and
#     no attr_cache every stat asks again;
#   - blobfuse2's environment variables override the file, as there;
#   - each error: one line naming the file, the line and the key, exit 2,
#     nothing mounted; a config readable by others draws the warning;
#   - convert in both directions, each output mounted as it stands.
set -u
. "$top_srcdir/tests/lib/fuse.sh"

fuse_test_begin

fuse_hello data-in
az_put_many data-in d/f 300 || fail "cannot create blobs"
mnt=$dir/data-in
mkdir -p "$mnt"

# The credentials Azurite exports (azurite.sh) would override every file
# below, as blobfuse2 lets them: each step says which ones it wants.
key=$AZURITE_KEY
unset AZURE_STORAGE_ACCOUNT AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN \
	AZURE_STORAGE_BLOB_ENDPOINT AZURE_STORAGE_CONNECTION_STRING \
	AZURE_STORAGE_AUTH_TYPE

# A file_cache config, in the shape of blobfuse2's sample for a key.
write_key_config() { # FILE [LIBFUSE-SECONDS ATTR-CACHE-SECONDS]
	(
		umask 077
		cat >"$1" <<EOF
# blobfuse2 config: file cache, account key
logging:
  type: syslog
  level: log_warning

components:
  - libfuse
  - file_cache
  - attr_cache
  - azstorage

libfuse:
  attribute-expiration-sec: ${2:-120}
  entry-expiration-sec: ${2:-120}
  negative-entry-expiration-sec: ${2:-120}
  ignore-open-flags: true

file_cache:
  path: $dir/cache-from-file
  timeout-sec: 120
  max-size-mb: 4096

attr_cache:
  timeout-sec: ${3:-7200}

azstorage:
  type: block
  account-name: $AZURITE_ACCOUNT
  account-key: $key
  endpoint: $AZURITE_ENDPOINT
  mode: key
  container: data-in
  virtual-directory: true
EOF
	)
}

daemon_pid() { pgrep -f -- "blobmill-fuse mount $1 " || true; }

# --- the done-when line -----------------------------------------------------
(
	cd "$dir" || exit 1
	write_key_config in.yaml
	"$BLOBMILL_FUSE" mount "$mnt" --config-file=in.yaml \
		--tmp-path="$dir/blobfusetmp-in" -o allow_other
) || fail "the blobfuse2 start-task line did not mount"
FUSE_MOUNTS+=("$mnt")
mountpoint -q "$mnt" || fail "not mounted"
expect_eq "file read through the blobfuse2 form" hello "$(cat "$mnt/hello.txt")"
grep " $mnt fuse" /proc/self/mounts | grep -q allow_other ||
	fail "-o allow_other not applied"
[ -d "$dir/blobfusetmp-in/blobmill/files" ] ||
	fail "--tmp-path did not win over file_cache.path"
[ -e "$dir/cache-from-file" ] && fail "file_cache.path used despite --tmp-path"
echo "written through blobfuse2's form" >"$mnt/out.txt" || fail "write"
pid=$(daemon_pid "$mnt")
[ -n "$pid" ] || fail "daemon not found"
"$BLOBMILL_FUSE" unmount "$mnt" || fail "blobmill-fuse unmount failed"
mountpoint -q "$mnt" && fail "still mounted after unmount"
kill -0 "$pid" 2>/dev/null && fail "daemon still running after unmount"
az_get data-in out.txt "$dir/got" || fail "file written before unmount lost"
expect_eq "uploaded by the time unmount returned" \
	"written through blobfuse2's form" "$(cat "$dir/got")"
"$BLOBMILL_FUSE" unmount "$mnt" 2>"$dir/err" && fail "unmount of nothing succeeded"
grep -q "not mounted" "$dir/err" || fail "unmount of nothing: $(cat "$dir/err")"
echo "ok: unmount of a directory with nothing mounted: $(cat "$dir/err")"

# --- timeouts honoured: 240 s everywhere, repeats cost nothing ----------------
write_key_config "$dir/t240.yaml" 240 240
"$BLOBMILL_FUSE" mount "$mnt" --config-file="$dir/t240.yaml" \
	--tmp-path="$dir/tmp240" || fail "mount with 240 s timeouts"
FUSE_MOUNTS+=("$mnt")
ls -l "$mnt/d" >/dev/null || fail "ls -l"
req=$(fuse_stat "$mnt" requests)
ls -l "$mnt/d" >/dev/null || fail "ls -l again"
stat "$mnt/d/f7" >/dev/null || fail "stat"
stat "$mnt/d/none" 2>/dev/null && fail "missing file found"
stat "$mnt/d/none" 2>/dev/null && fail "missing file found"
expect_eq "requests for repeats within 240 s (ls -l, stat, two misses)" 0 \
	$(($(fuse_stat "$mnt" requests) - req))
fuse_unmount "$mnt"

# --- ... and 0 s without attr_cache: every stat asks ---------------------------
write_key_config "$dir/t0.yaml" 0 0
sed -i '/  - attr_cache/d' "$dir/t0.yaml"
"$BLOBMILL_FUSE" mount "$mnt" --config-file="$dir/t0.yaml" \
	--tmp-path="$dir/tmp0" || fail "mount with 0 s timeouts"
FUSE_MOUNTS+=("$mnt")
stat "$mnt/hello.txt" >/dev/null || fail "stat"
req=$(fuse_stat "$mnt" requests)
for i in 1 2 3; do stat "$mnt/hello.txt" >/dev/null || fail "stat $i"; done
n=$(($(fuse_stat "$mnt" requests) - req))
[ "$n" -ge 3 ] || fail "three stats with 0 s timeouts cost $n requests (want >= 3)"
echo "ok: three stats with 0 s timeouts and no attr_cache: $n requests"
fuse_unmount "$mnt"

# --- block_cache with a SAS from the environment -------------------------------
sas=$(AZURE_STORAGE_ACCOUNT=$AZURITE_ACCOUNT AZURE_STORAGE_ACCESS_KEY=$key \
	"$top_builddir/tests/util/fuse-sas" data-in rwdl) || fail "fuse-sas"
head -c 3000000 /dev/urandom >"$dir/big"
az_put data-in big.bin "$dir/big" || fail "upload big"
(
	umask 077
	cat >"$dir/bc.yaml" <<EOF
components:
  - libfuse
  - block_cache
  - attr_cache
  - azstorage
block_cache:
  block-size-mb: 1
  mem-size-mb: 8
  prefetch: 4
  parallelism: 4
  path: $dir/bc-tmp
azstorage:
  account-name: $AZURITE_ACCOUNT
  endpoint: ${AZURITE_ENDPOINT#http://}
  use-http: true
  mode: sas
  container: data-in
EOF
)
AZURE_STORAGE_SAS_TOKEN="?$sas" "$BLOBMILL_FUSE" mount "$mnt" \
	--config-file="$dir/bc.yaml" || fail "block_cache mount with a SAS from the environment"
FUSE_MOUNTS+=("$mnt")
cmp "$dir/big" "$mnt/big.bin" || fail "streamed read differs"
echo "ok: block_cache, SAS from AZURE_STORAGE_SAS_TOKEN, endpoint without scheme: 3 MB read back"
[ -d "$dir/bc-tmp/blobmill" ] || fail "block_cache.path not used as the local directory"
fuse_unmount "$mnt"

# --- the environment overrides the file, as in blobfuse2 ---------------------------
write_key_config "$dir/envwin.yaml"
sed -i "s#account-key: .*#account-key: $(printf 'wrong-key-0123456789' | base64 -w0)#" "$dir/envwin.yaml"
AZURE_STORAGE_ACCESS_KEY=$key "$BLOBMILL_FUSE" mount "$mnt" \
	--config-file="$dir/envwin.yaml" --tmp-path="$dir/tmpenv" ||
	fail "AZURE_STORAGE_ACCESS_KEY did not override the file's key"
FUSE_MOUNTS+=("$mnt")
expect_eq "read with the key from the environment" hello "$(cat "$mnt/hello.txt")"
fuse_unmount "$mnt"

# --- errors: one line naming file, line and key; exit 2; nothing mounted ------
# expect_config_error WHAT PATTERN FILE-CONTENT [ENV...]
expect_config_error() {
	local what=$1 pat=$2 rc=0
	shift 2
	(
		umask 077
		printf '%s\n' "$1" >"$dir/bad.yaml"
	)
	shift
	env "$@" "$BLOBMILL_FUSE" mount "$mnt" --config-file="$dir/bad.yaml" \
		--tmp-path="$dir/tmpbad" >"$dir/out" 2>"$dir/err" || rc=$?
	[ "$rc" -eq 2 ] || { fuse_unmount "$mnt"; fail "$what: exit $rc, want 2: $(cat "$dir/err")"; }
	mountpoint -q "$mnt" && { fuse_unmount "$mnt"; fail "$what: mounted"; }
	[ "$(wc -l <"$dir/err")" -eq 1 ] ||
		fail "$what: expected one line, got: $(cat "$dir/err")"
	grep -qE -- "$pat" "$dir/err" ||
		fail "$what: '$(cat "$dir/err")' does not match '$pat'"
	grep -q -- "$key" "$dir/err" && fail "$what: the key is in the message"
	echo "ok: $what: $(cat "$dir/err")"
}
base="azstorage:
  account-name: $AZURITE_ACCOUNT
  endpoint: $AZURITE_ENDPOINT
  container: data-in"
expect_config_error "unknown key" \
	"bad.yaml:3: unknown key 'azstorage.acount-name' \(did you mean 'account-name'\?\)" \
	"azstorage:
  account-key: $key
  acount-name: $AZURITE_ACCOUNT"
expect_config_error "unknown section key" "bad.yaml:2: unknown key 'libfuse.atribute-expiration-sec'" \
	"libfuse:
  atribute-expiration-sec: 10
$base
  account-key: $key"
expect_config_error "wrong type" \
	"bad.yaml:2: 'libfuse.attribute-expiration-sec' must be a whole number from 0 to [0-9]+, not 'soon'" \
	"libfuse:
  attribute-expiration-sec: soon
$base
  account-key: $key"
expect_config_error "wrong type for a secret is not echoed" \
	"bad.yaml:[0-9]+: 'azstorage.account-key' must be a single value$" \
	"$base
  account-key:
    - $key"
expect_config_error "a key given twice" "bad.yaml:6: 'azstorage.container' is given twice \(first on line 4\)" \
	"$base
  account-key: $key
  container: other"
expect_config_error "key and SAS both" "both an account key \(.*bad.yaml:5\) and a SAS \(.*bad.yaml:6\)" \
	"$base
  account-key: $key
  sas: sv=2020-01-01&sig=abc"
expect_config_error "mode key with a SAS" "bad.yaml:6: azstorage.sas has no use with azstorage.mode key \(.*bad.yaml:5\): keep only one credential" \
	"$base
  mode: key
  sas: sv=2020-01-01&sig=abc"
expect_config_error "a component we do not have" \
	"bad.yaml:3: component 'xload' is not supported by blobmill-fuse" \
	"components:
  - libfuse
  - xload
  - azstorage
$base
  account-key: $key"
expect_config_error "file_cache and block_cache" "bad.yaml:1: 'components' lists both file_cache and block_cache" \
	"components:
  - libfuse
  - file_cache
  - block_cache
  - azstorage
$base
  account-key: $key"
expect_config_error "an SPN without its secret" \
	"azstorage.mode spn \(.*bad.yaml:5\) needs azstorage.tenantid, clientid and clientsecret \(or oauth-token-path\)" \
	"$base
  mode: spn
  tenantid: 00000000-0000-0000-0000-000000000000
  clientid: 00000000-0000-0000-0000-000000000001"
expect_config_error "two managed identity ids" \
	"mode msi \(implied by appid at .*bad.yaml:5\) needs at most one of azstorage.appid, objid and resid" \
	"$base
  appid: 00000000-0000-0000-0000-000000000000
  objid: 00000000-0000-0000-0000-000000000001"
expect_config_error "ADLS" "azstorage.type 'adls' is not supported" \
	"$base
  type: adls
  account-key: $key"
expect_config_error "not YAML" "bad.yaml:[0-9]+: not valid YAML" \
	"azstorage:
  account-name: [unclosed"
expect_config_error "no credentials at all" "no credentials: set azstorage.account-key or sas" "$base"
expect_config_error "a conflict between the file and the environment" \
	"both an account key \(AZURE_STORAGE_ACCESS_KEY\) and a SAS \(.*bad.yaml:5\)" \
	"$base
  sas: sv=2020-01-01&sig=abc" AZURE_STORAGE_ACCESS_KEY="$key"

# Accepted, said, not silently ignored.
write_key_config "$dir/warn.yaml"
printf 'file_cache:\n  path: %s\n  policy: lru\n' "$dir/x" >"$dir/warn2.yaml"
sed -i '/^file_cache:/,/^$/d' "$dir/warn.yaml"
cat "$dir/warn2.yaml" >>"$dir/warn.yaml"
sed -i 's/^azstorage:$/&\n  update-md5: true/' "$dir/warn.yaml"
chmod 644 "$dir/warn.yaml"
"$BLOBMILL_FUSE" mount "$mnt" --config-file="$dir/warn.yaml" \
	--tmp-path="$dir/tmpwarn" 2>"$dir/err" || fail "mount with warnings: $(cat "$dir/err")"
FUSE_MOUNTS+=("$mnt")
grep -q "warn.yaml' is readable by group or others" "$dir/err" ||
	fail "no warning for a config readable by others: $(cat "$dir/err")"
grep -q "warn.yaml:[0-9]*: 'file_cache.policy' has no effect" "$dir/err" ||
	fail "no warning for a key with no effect: $(cat "$dir/err")"
# Uploads do carry a Content-MD5 (Put Blob, Put Block): the warning once
# said the opposite.
grep -q "'azstorage.update-md5' has no effect in blobmill-fuse: every upload carries a Content-MD5" "$dir/err" ||
	fail "update-md5's warning does not say uploads carry a Content-MD5: $(cat "$dir/err")"
grep -q "virtual-directory\|ignore-open-flags" "$dir/err" &&
	fail "a warning for a key that asks for what we do anyway"
echo "ok: warnings: $(tr '\n' '|' <"$dir/err")"
fuse_unmount "$mnt"

# Flags: unknown, a value flag's space form, a missing mount point.
rc=0
"$BLOBMILL_FUSE" mount "$mnt" --config-file "$dir/t240.yaml" --frobnicate 2>"$dir/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "unknown option '--frobnicate'" "$dir/err" ||
	fail "unknown flag: exit $rc: $(cat "$dir/err")"
rc=0
"$BLOBMILL_FUSE" mount "$dir/nowhere" --config-file="$dir/t240.yaml" \
	--tmp-path="$dir/t" 2>"$dir/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "create it: mkdir -p $dir/nowhere" "$dir/err" ||
	fail "missing mount point: exit $rc: $(cat "$dir/err")"
echo "ok: unknown flag, missing mount point"

# --- convert, both ways; each output mounts as it stands ------------------------
fuse_config "$dir/v1.cfg" data-in
"$BLOBMILL_FUSE" convert "$mnt" --tmp-path="$dir/tmpconv1" \
	--config-file="$dir/v1.cfg" -o attr_timeout=240 -o entry_timeout=240 \
	-o negative_timeout=120 -o allow_other >"$dir/conv.yaml" ||
	fail "convert v1 -> yaml"
chmod 600 "$dir/conv.yaml"
grep -q "^  attribute-expiration-sec: 240$" "$dir/conv.yaml" &&
	grep -q "^  negative-entry-expiration-sec: 120$" "$dir/conv.yaml" &&
	grep -q "^allow-other: true$" "$dir/conv.yaml" &&
	grep -q "^  mode: key$" "$dir/conv.yaml" ||
	fail "converted YAML: $(cat "$dir/conv.yaml")"
"$BLOBMILL_FUSE" mount "$mnt" --config-file="$dir/conv.yaml" ||
	fail "the converted YAML does not mount"
FUSE_MOUNTS+=("$mnt")
expect_eq "read through the converted YAML" hello "$(cat "$mnt/hello.txt")"
grep " $mnt fuse" /proc/self/mounts | grep -q allow_other ||
	fail "allow-other lost in conversion"
fuse_unmount "$mnt"

write_key_config "$dir/back.yaml" 240 240
"$BLOBMILL_FUSE" convert mount "$mnt" --config-file="$dir/back.yaml" \
	--tmp-path="$dir/tmpconv2" -o allow_other >"$dir/back.cfg" ||
	fail "convert yaml -> v1"
chmod 600 "$dir/back.cfg"
line=$(sed -n 's/^#   \(blobmill-fuse [^ ]* --tmp-path=.*\)$/\1/p' "$dir/back.cfg")
[ -n "$line" ] || fail "no v1 command line in: $(cat "$dir/back.cfg")"
echo "$line" | grep -q -- "-o attr_timeout=240 .*-o allow_other" ||
	fail "v1 command line: $line"
line=${line/THIS-FILE.cfg/$dir/back.cfg}
line=${line/#blobmill-fuse/$BLOBMILL_FUSE}
# shellcheck disable=SC2086 # the printed line is split into its words
$line || fail "the converted v1 config does not mount: $line"
FUSE_MOUNTS+=("$mnt")
expect_eq "read through the converted v1 config" hello "$(cat "$mnt/hello.txt")"
fuse_unmount "$mnt"
exit 0
