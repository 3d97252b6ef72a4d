#!/usr/bin/env bash
# t-sec-secrets: the account key and SAS signatures never show: not in
# error messages (wrong key, malformed key, SAS without a permission,
# forged SAS), not in a process's argv (`ps`), not in generated task JSON,
# not in blobmill-fuse's debug log; a config file readable by others draws
# a warning; blobmill-fuse keeps --tmp-path content 0700/0600.
set -u
. "$top_srcdir/tests/lib/faultcheck.sh"

[ -x "$BLOBMILL" ] || skip "blobmill not built"
azblob="$top_srcdir/tests/integration/azblob.py"
[ -f "$azblob" ] || skip "tests/integration/azblob.py (SAS maker) missing"
fc_start mnt
mnt="$dir/mnt"

"$BLOBMILL" mb seccont || fail "mb failed"
sas=$("$BM_PYTHON" "$azblob" sas seccont racwdl) || fail "no SAS"
sas_r=$("$BM_PYTHON" "$azblob" sas seccont r) || fail "no SAS"
sig_of() { # the sig= value of a token, as sent and decoded
	local s
	s=$(printf %s "$1" | tr '&' '\n' | sed -n 's/^sig=//p')
	printf '%s\n' "$s"
	"$BM_PYTHON" -c 'import sys, urllib.parse as u; print(u.unquote(sys.argv[1]))' "$s"
}
other_key=$(head -c 64 /dev/urandom | base64 -w0)
forged=${sas%%sig=*}sig=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_')
secrets=("$AZURITE_KEY" "$other_key")
while IFS= read -r s; do secrets+=("$s"); done < <(sig_of "$sas"; sig_of "$sas_r"; sig_of "$forged")

# no_secret WHAT FILE: none of the secrets, nor a SharedKey signature,
# appears in FILE.
no_secret() {
	local s
	for s in "${secrets[@]}"; do
		[ -n "$s" ] || continue
		if grep -qF -- "$s" "$2"; then
			fail "$1: leaks a secret: $(grep -F -- "$s" "$2" | head -c 300)"
		fi
	done
	if grep -qE 'SharedKey [^ :]+:[A-Za-z0-9+/=]{20,}' "$2"; then
		fail "$1: leaks a SharedKey signature"
	fi
	echo "ok: $1: no key or signature"
}
# fails_cleanly WHAT CMD...: CMD fails with one line, no secret in it.
fails_cleanly() {
	local what=$1
	shift
	"$@" >"$dir/out" 2>"$dir/err" && fail "$what: succeeded"
	[ "$(wc -l <"$dir/err")" -eq 1 ] ||
		fail "$what: want one line, got: $(cat "$dir/err")"
	no_secret "$what ($(cat "$dir/err"))" "$dir/err"
}

echo data >"$dir/f"
fails_cleanly "wrong key" env AZURE_STORAGE_ACCESS_KEY="$other_key" \
	"$BLOBMILL" ls seccont
fails_cleanly "malformed key" env AZURE_STORAGE_ACCESS_KEY="${other_key}!!" \
	"$BLOBMILL" ls seccont
fails_cleanly "SAS without write permission" env -u AZURE_STORAGE_ACCESS_KEY \
	AZURE_STORAGE_SAS_TOKEN="$sas_r" "$BLOBMILL" put "$dir/f" seccont/x
fails_cleanly "forged SAS" env -u AZURE_STORAGE_ACCESS_KEY \
	AZURE_STORAGE_SAS_TOKEN="$forged" "$BLOBMILL" ls seccont
fails_cleanly "SAS on a missing blob" env -u AZURE_STORAGE_ACCESS_KEY \
	AZURE_STORAGE_SAS_TOKEN="$sas" "$BLOBMILL" get seccont/missing "$dir/m"
env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="$sas" \
	"$BLOBMILL" put "$dir/f" seccont/sas-written ||
	fail "put with a good SAS failed"
echo "ok: a good SAS works"

# Config files: a warning when group or others can read one.
cfg="$dir/conn.cfg"
printf 'accountName %s\naccountKey %s\nblobEndpoint %s\n' "$AZURITE_ACCOUNT" \
	"$AZURITE_KEY" "$AZURITE_ENDPOINT" >"$cfg"
chmod 644 "$cfg"
env -u AZURE_STORAGE_ACCESS_KEY -u AZURE_STORAGE_ACCOUNT \
	-u AZURE_STORAGE_BLOB_ENDPOINT "$BLOBMILL" ls --config-file="$cfg" \
	seccont >/dev/null 2>"$dir/err" || fail "ls with a config file failed: $(cat "$dir/err")"
grep -q "'$cfg'.*readable" "$dir/err" ||
	fail "no warning for a config file readable by others: '$(cat "$dir/err")'"
no_secret "config warning" "$dir/err"
chmod 600 "$cfg"
env -u AZURE_STORAGE_ACCESS_KEY -u AZURE_STORAGE_ACCOUNT \
	-u AZURE_STORAGE_BLOB_ENDPOINT "$BLOBMILL" ls --config-file="$cfg" \
	seccont >/dev/null 2>"$dir/err" || fail "ls with a 0600 config file failed"
[ -s "$dir/err" ] && fail "a 0600 config file drew: $(cat "$dir/err")"
echo "ok: a config file readable by others draws a warning, 0600 does not"
printf 'accountName %s\naccountKey %s!!\n' "$AZURITE_ACCOUNT" "$other_key" >"$dir/bad.cfg"
chmod 600 "$dir/bad.cfg"
fails_cleanly "config file with a malformed key" env -u AZURE_STORAGE_ACCESS_KEY \
	"$BLOBMILL" ls --config-file="$dir/bad.cfg" seccont

# argv: the key and SAS are never options, so ps cannot show them. Hold a
# command mid-request (a stalled proxy) and read its command line.
faultproxy_start --script 1:stall --stall-seconds 4 || fail "proxy"
env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="$sas" \
	AZURE_STORAGE_BLOB_ENDPOINT="$FAULTPROXY_ENDPOINT" \
	"$BLOBMILL" get seccont/sas-written "$dir/g" 2>/dev/null &
pid=$!
sleep 1
kill -0 "$pid" 2>/dev/null || fail "the held command ended early"
tr '\0' ' ' <"/proc/$pid/cmdline" >"$dir/cmdline"
ps -ww -o args= -p "$pid" >>"$dir/cmdline"
wait "$pid"
faultproxy_stop
no_secret "argv of a running blobmill ($(head -c 80 "$dir/cmdline"))" "$dir/cmdline"

# Task JSON (no SAS in {url}).
if "$BLOBMILL" tasks --help >/dev/null 2>&1; then
	env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN="$sas" \
		"$BLOBMILL" tasks --input seccont --image busybox \
		--command 'app {url} {in} {out}' >"$dir/tasks.json" 2>"$dir/err" ||
		fail "tasks failed: $(cat "$dir/err")"
	grep -q sas-written "$dir/tasks.json" || fail "tasks JSON lacks the blob"
	no_secret "task JSON (SAS credentials)" "$dir/tasks.json"
	"$BLOBMILL" tasks --input seccont --image busybox \
		--command 'app {url}' >"$dir/tasks.json" 2>"$dir/err" ||
		fail "tasks failed: $(cat "$dir/err")"
	no_secret "task JSON (key credentials)" "$dir/tasks.json"
else
	echo "note: blobmill tasks not available: task JSON not checked"
fi

# blobmill-fuse: debug log, argv, tmp-path modes.
if ! [ -x "$BLOBMILL_FUSE" ] || ! [ -e /dev/fuse ]; then
	echo "note: blobmill-fuse not built or no /dev/fuse: mount not checked"
	exit 0
fi
mkdir -p "$mnt"
for auth in sas key; do
	fcfg="$dir/fuse-$auth.cfg"
	{
		echo "accountName $AZURITE_ACCOUNT"
		echo "containerName seccont"
		echo "blobEndpoint $AZURITE_ENDPOINT"
		if [ "$auth" = sas ]; then
			echo "sasToken $sas"
			echo "authType SAS"
		else
			echo "accountKey $AZURITE_KEY"
		fi
	} >"$fcfg"
	chmod 600 "$fcfg"
	tmp="$dir/tmp-$auth"
	env -u AZURE_STORAGE_ACCESS_KEY -u AZURE_STORAGE_ACCOUNT \
		-u AZURE_STORAGE_BLOB_ENDPOINT "$BLOBMILL_FUSE" "$mnt" \
		--tmp-path="$tmp" --config-file="$fcfg" --log-level=LOG_DEBUG \
		-f >"$dir/fuse-$auth.log" 2>&1 &
	FM_PID=$!
	fm_wait "$mnt" || fail "mount ($auth) failed: $(cat "$dir/fuse-$auth.log")"
	tr '\0' ' ' <"/proc/$FM_PID/cmdline" >"$dir/cmdline"
	no_secret "argv of blobmill-fuse ($auth)" "$dir/cmdline"
	# A file open for writing: its local copy exists under tmp-path.
	exec 3>"$mnt/open-$auth.bin"
	head -c 100000 /dev/urandom >&3
	bad=$(find "$tmp" -mindepth 1 \( -type d ! -perm 700 \) -o \
		\( -type f -perm /077 \) | head -n 5)
	nfiles=$(find "$tmp" -type f | wc -l)
	exec 3>&-
	[ -z "$bad" ] || fail "tmp-path content open to others: $(ls -ld $bad)"
	[ "$(stat -c %a "$tmp")" = 700 ] ||
		fail "tmp-path itself is $(stat -c %a "$tmp"), want 700"
	[ "$nfiles" -ge 1 ] || fail "no local copy under tmp-path while writing"
	echo "ok: tmp-path ($auth): 0700 directories, 0600 files ($nfiles files)"
	cp "$dir/f" "$mnt/c-$auth.txt" && cat "$mnt/c-$auth.txt" >/dev/null &&
		ls -l "$mnt" >/dev/null && rm "$mnt/c-$auth.txt" ||
		fail "file operations through the mount ($auth) failed"
	cat "$mnt/does-not-exist" 2>/dev/null
	fusermount3 -u "$mnt" || fail "unmount failed"
	wait "$FM_PID"
	FM_PID=
	[ "$(wc -l <"$dir/fuse-$auth.log")" -gt 3 ] ||
		fail "LOG_DEBUG logged almost nothing: $(cat "$dir/fuse-$auth.log")"
	no_secret "blobmill-fuse LOG_DEBUG log ($auth, $(wc -l <"$dir/fuse-$auth.log") lines)" \
		"$dir/fuse-$auth.log"
done
# A mount that fails on its credentials says so without the signature.
printf 'accountName %s\ncontainerName seccont\nblobEndpoint %s\nsasToken %s\nauthType SAS\n' \
	"$AZURITE_ACCOUNT" "$AZURITE_ENDPOINT" "$forged" >"$dir/forged.cfg"
chmod 600 "$dir/forged.cfg"
fails_cleanly "blobmill-fuse with a forged SAS" env -u AZURE_STORAGE_ACCESS_KEY \
	timeout 60 "$BLOBMILL_FUSE" "$mnt" --tmp-path="$dir/tmp-forged" \
	--config-file="$dir/forged.cfg"
mountpoint -q "$mnt" && fail "a failed mount left a mount behind"
echo "ok: no secret anywhere we looked"
