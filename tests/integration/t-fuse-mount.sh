#!/usr/bin/env bash
# t-fuse-mount: blobmill-fuse's command line and mount-time checks. The
# blobfuse start-task line works with only the program name changed; the
# environment works without a config file; every mount-time failure (wrong
# key, missing container, unreachable endpoint, bad config, unknown
# option, missing --tmp-path) is one line on stderr, a nonzero exit, and
# nothing mounted; -o ro is real read-only.
set -u
. "$top_srcdir/tests/lib/fuse.sh"

fuse_test_begin

fuse_hello data-in
mnt=$dir/data-in
mkdir -p "$mnt"

# --- the start-task line, verbatim but for the program name ------------
(
	cd "$dir" || exit 1
	fuse_config fuse_conn_in.cfg data-in
	"$BLOBMILL_FUSE" "$mnt" --tmp-path="$dir/blobfusetmp-in" \
		--config-file=fuse_conn_in.cfg -o attr_timeout=240 \
		-o entry_timeout=240 -o negative_timeout=120 -o allow_other
) || fail "the start-task line did not mount"
FUSE_MOUNTS+=("$mnt")
mountpoint -q "$mnt" || fail "not mounted"
expect_eq "file read through the mount" hello "$(cat "$mnt/hello.txt")"
expect_eq "tmp-path mode" 700 "$(stat -c %a "$dir/blobfusetmp-in/blobmill")"
grep -q "allow_other" /proc/mounts || fail "allow_other not applied"
fuse_unmount "$mnt"
mountpoint -q "$mnt" && fail "still mounted after fusermount3 -u"

# --- the environment instead of a config file; a relative --tmp-path ----
(cd "$dir" && "$BLOBMILL_FUSE" "$mnt" --tmp-path=tmp-env \
	--container-name=data-in) || fail "mount from AZURE_STORAGE_* failed"
FUSE_MOUNTS+=("$mnt")
expect_eq "read with env credentials" hello "$(cat "$mnt/hello.txt")"
echo "relative" >"$mnt/rel.txt" || fail "write with a relative --tmp-path"
[ -d "$dir/tmp-env/blobmill/files" ] || fail "relative --tmp-path not used"
fuse_unmount "$mnt"

# --- mount.blobmill, as mount(8) calls it for an fstab line --------------
fuse_config "$dir/fstab.cfg" data-in
BLOBMILL_FUSE=$BLOBMILL_FUSE sh "$top_srcdir/fusefs/mount.blobmill" data-in \
	"$mnt" -o "tmp-path=$dir/tmp-fstab,config-file=$dir/fstab.cfg,allow_other,attr_timeout=240,_netdev,nofail" ||
	fail "mount.blobmill failed"
FUSE_MOUNTS+=("$mnt")
expect_eq "read through mount.blobmill" hello "$(cat "$mnt/hello.txt")"
fuse_unmount "$mnt"

# --- -f with --log-level to stderr, -d with the FUSE trace --------------
fuse_config "$dir/fg.cfg" data-in
for flag in -f -d; do
	"$BLOBMILL_FUSE" "$mnt" --tmp-path="$dir/tmp-fg" \
		--config-file="$dir/fg.cfg" --log-level=LOG_DEBUG "$flag" \
		2>"$dir/fg.log" &
	fg_pid=$!
	FUSE_MOUNTS+=("$mnt")
	for i in $(seq 1 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
	expect_eq "read with $flag" hello "$(cat "$mnt/hello.txt")"
	fuse_unmount "$mnt"
	wait "$fg_pid" || fail "$flag: the daemon exited nonzero"
	grep -q "debug: http: GET" "$dir/fg.log" ||
		fail "$flag: no request log on stderr"
	if [ "$flag" = -d ]; then
		grep -q "unique:" "$dir/fg.log" || fail "-d: no FUSE trace"
	fi
	grep -q "$AZURITE_KEY" "$dir/fg.log" && fail "$flag: the key is logged"
	echo "ok: $flag logs to stderr, exits 0 after unmount"
done

# --- -o ro ---------------------------------------------------------------
fuse_mount "$mnt" "$dir/tmp-ro" data-in -o ro || fail "ro mount failed"
if (echo x >"$mnt/new.txt") 2>"$dir/ro.err"; then
	fail "write succeeded on a read-only mount"
fi
grep -qi "read-only" "$dir/ro.err" || fail "ro: $(cat "$dir/ro.err")"
echo "ok: -o ro refuses writes"
fuse_unmount "$mnt"

# --- unmount with files open: no crash, nothing written is lost ---------
fuse_mount "$mnt" "$dir/tmp-busy" data-in || fail "mount failed"
python3 - "$mnt" "$dir/ready" <<'EOF' &
import os, sys, time
m, ready = sys.argv[1], sys.argv[2]
r = os.open(m + "/hello.txt", os.O_RDONLY)
w = os.open(m + "/at-unmount.txt", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(w, b"written across a lazy unmount\n")
open(ready, "w").close()
time.sleep(2)
assert os.read(r, 5) == b"hello"
os.close(r)
os.close(w)
EOF
holder=$!
for i in $(seq 1 50); do [ -e "$dir/ready" ] && break; sleep 0.1; done
fusermount3 -u "$mnt" 2>/dev/null && fail "unmounted with files open"
umount -l "$mnt" || fail "lazy unmount"
wait "$holder" || fail "open files broke by the lazy unmount"
fuse_unmount "$mnt" # waits for the daemon to exit
pgrep -f -- "blobmill-fuse $mnt " >/dev/null && fail "daemon still running"
az_get data-in at-unmount.txt "$dir/got" || fail "file written at unmount lost"
expect_eq "file closed after a lazy unmount" "written across a lazy unmount" \
	"$(cat "$dir/got")"

# SIGTERM with a file open and written but never closed: uploaded on exit.
fuse_mount "$mnt" "$dir/tmp-term" data-in || fail "mount failed"
exec 7>"$mnt/at-term.txt"
echo "written, never closed" >&7
pid=$(pgrep -f -- "blobmill-fuse $mnt ")
[ -n "$pid" ] || fail "daemon not found"
kill -TERM "$pid"
for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "daemon ignores SIGTERM"
exec 7>&-
mountpoint -q "$mnt" && fail "mount left behind after SIGTERM"
az_get data-in at-term.txt "$dir/got" || fail "open file lost at SIGTERM"
expect_eq "open file uploaded at SIGTERM" "written, never closed" \
	"$(cat "$dir/got")"

# --- mount-time failures ---------------------------------------------------
# expect_mount_error WHAT PATTERN ARGS...: fails with one line matching
# PATTERN, nonzero exit, nothing mounted.
expect_mount_error() {
	local what=$1 pat=$2 rc=0
	shift 2
	"$BLOBMILL_FUSE" "$mnt" "$@" >"$dir/out" 2>"$dir/err" || rc=$?
	[ "$rc" -ne 0 ] || { fusermount3 -u "$mnt"; fail "$what: exit 0"; }
	mountpoint -q "$mnt" && { fusermount3 -u "$mnt"; fail "$what: mounted"; }
	[ "$(wc -l <"$dir/err")" -eq 1 ] ||
		fail "$what: expected one line, got: $(cat "$dir/err")"
	grep -qiE "$pat" "$dir/err" ||
		fail "$what: '$(cat "$dir/err")' does not match '$pat'"
	if grep -q "$AZURITE_KEY" "$dir/err"; then
		fail "$what: the key is in the message"
	fi
	echo "ok: $what: $(cat "$dir/err")"
}

wrongkey=$(printf 'not-the-key-at-all-0123456789' | base64 -w0)
fuse_config "$dir/wrong.cfg" data-in "$wrongkey"
expect_mount_error "wrong key" "authentication|authori" \
	--tmp-path="$dir/t1" --config-file="$dir/wrong.cfg"

fuse_config "$dir/nocont.cfg" no-such-container
expect_mount_error "missing container" "not found|no-such-container" \
	--tmp-path="$dir/t2" --config-file="$dir/nocont.cfg"

port=$(free_port)
sed "s#$AZURITE_ENDPOINT#http://127.0.0.1:$port/$AZURITE_ACCOUNT#" \
	"$dir/nocont.cfg" | sed 's/no-such-container/data-in/' >"$dir/dead.cfg"
chmod 600 "$dir/dead.cfg"
expect_mount_error "unreachable endpoint" "unreachable|connect|refused" \
	--tmp-path="$dir/t3" --config-file="$dir/dead.cfg" --max-retry=1 \
	--max-retry-interval-in-seconds=1

printf 'accountName x\nbogusKey y\n' >"$dir/bad.cfg"
chmod 600 "$dir/bad.cfg"
expect_mount_error "unknown config key" "bogusKey" \
	--tmp-path="$dir/t4" --config-file="$dir/bad.cfg"

expect_mount_error "missing config file" "nonexistent" \
	--tmp-path="$dir/t5" --config-file="$dir/nonexistent.cfg"

fuse_config "$dir/ok.cfg" data-in
expect_mount_error "unknown long option" "unknown option '--frobnicate'" \
	--tmp-path="$dir/t6" --config-file="$dir/ok.cfg" --frobnicate=1
expect_mount_error "option that only contains ro" "unknown option" \
	--tmp-path="$dir/t6" --config-file="$dir/ok.cfg" --rotate
expect_mount_error "unknown -o option" "unknown option" \
	--tmp-path="$dir/t6" --config-file="$dir/ok.cfg" -o frobnicate
expect_mount_error "missing --tmp-path" "tmp-path" \
	--config-file="$dir/ok.cfg"
expect_mount_error "bad number" "max-concurrency" \
	--tmp-path="$dir/t6" --config-file="$dir/ok.cfg" --max-concurrency=12x
expect_mount_error "bad log level" "log-level" \
	--tmp-path="$dir/t6" --config-file="$dir/ok.cfg" --log-level=LOUD
exit 0
