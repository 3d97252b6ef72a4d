#!/usr/bin/env bash
# t-fuse-mount-safety: blobmill-fuse refuses what would stack or share a
# mount (issue 18, item 5): a mount point that is already mounted, live or
# dead; a --tmp-path another daemon holds. A missing mount point says how
# to create it; `--opt VALUE` works like `--opt=VALUE`; the wrong-key
# error is one line with one prefix and the key/SAS hint.
set -u
. "$top_srcdir/tests/lib/fuse.sh"

fuse_test_begin

fuse_hello data-in
mnt=$dir/m1
mnt2=$dir/m2
mkdir -p "$mnt" "$mnt2"
fuse_config "$dir/in.cfg" data-in

mounts_on() { awk -v m="$1" '$2 == m' /proc/self/mounts | wc -l; }

# expect_refused WHAT PATTERN MOUNTPOINT ARGS...: exit nonzero, one line
# matching PATTERN, no new mount on MOUNTPOINT (other tests on this machine
# mount elsewhere meanwhile: only this one is counted).
expect_refused() {
	local what=$1 pat=$2 rc=0 before target=${3%/}
	shift 2
	before=$(mounts_on "$target")
	"$BLOBMILL_FUSE" "$@" >"$dir/out" 2>"$dir/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: exit 0"
	[ "$(mounts_on "$target")" -eq "$before" ] ||
		fail "$what: a mount was added"
	[ "$(wc -l <"$dir/err")" -eq 1 ] ||
		fail "$what: expected one line, got: $(cat "$dir/err")"
	grep -qE -- "$pat" "$dir/err" ||
		fail "$what: '$(cat "$dir/err")' does not match '$pat'"
	echo "ok: $what: $(cat "$dir/err")"
}

# --- the space form of long options ---------------------------------------
"$BLOBMILL_FUSE" "$mnt" --tmp-path "$dir/t1" --config-file "$dir/in.cfg" \
	--log-level LOG_WARNING -o attr_timeout=60 ||
	fail "'--tmp-path DIR' (space) did not mount"
FUSE_MOUNTS+=("$mnt")
expect_eq "read through a mount made with '--opt VALUE'" hello \
	"$(cat "$mnt/hello.txt")"
[ -d "$dir/t1/blobmill" ] || fail "--tmp-path DIR was not used"

# --- a mount point that is already mounted ----------------------------------
expect_refused "same mount point again" \
	"cannot mount on '$mnt': it is already mounted \(fuse\.blobmill-fuse\): unmount it first" \
	"$mnt" --tmp-path="$dir/t2" --config-file="$dir/in.cfg"
expect_refused "same mount point, written with a trailing slash" \
	"already mounted" \
	"$mnt/" --tmp-path="$dir/t2" --config-file="$dir/in.cfg"
expect_eq "mounts on '$mnt'" 1 "$(mounts_on "$mnt")"

# --- a --tmp-path another daemon holds --------------------------------------
expect_refused "tmp-path held by another daemon" \
	"--tmp-path '$dir/t1' is in use by another blobmill-fuse \(pid [0-9]+, mounted on $mnt\)" \
	"$mnt2" --tmp-path="$dir/t1" --config-file="$dir/in.cfg"
expect_eq "mounts on '$mnt2'" 0 "$(mounts_on "$mnt2")"
fuse_unmount "$mnt"
# Released with the daemon: the same --tmp-path mounts again.
fuse_mount "$mnt2" "$dir/t1" data-in || fail "tmp-path still locked after unmount"
fuse_unmount "$mnt2"

# --- a dead mount (daemon killed) is refused, not stacked -------------------
"$BLOBMILL_FUSE" "$mnt" --tmp-path="$dir/t3" --config-file="$dir/in.cfg" ||
	fail "mount failed"
FUSE_MOUNTS+=("$mnt")
pid=$(pgrep -f -- "blobmill-fuse $mnt ") || fail "daemon not found"
kill -KILL "$pid"
for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
expect_refused "dead mount on the mount point" \
	"a dead mount is still there .*fusermount3 -u" \
	"$mnt" --tmp-path="$dir/t4" --config-file="$dir/in.cfg"
fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt"

# --- a missing mount point ----------------------------------------------------
expect_refused "missing mount point" \
	"cannot mount on '$dir/nowhere': no such directory; create it: mkdir -p $dir/nowhere" \
	"$dir/nowhere" --tmp-path="$dir/t5" --config-file="$dir/in.cfg"

# --- the wrong key: one prefix, the hint ---------------------------------------
fuse_config "$dir/wrong.cfg" data-in "$(printf 'not-the-key-at-all-0123456789' | base64 -w0)"
expect_refused "wrong key" \
	"^blobmill-fuse: cannot mount 'data-in': authentication failed \(403 [A-Za-z]+\): check the account key or SAS token" \
	"$mnt" --tmp-path="$dir/t6" --config-file="$dir/wrong.cfg"
[ "$(grep -o "data-in" "$dir/err" | wc -l)" -eq 1 ] ||
	fail "wrong key: the container is named more than once: $(cat "$dir/err")"
fuse_config "$dir/nocont.cfg" no-such-container
expect_refused "missing container" \
	"cannot mount 'no-such-container': container not found \(404 ContainerNotFound\): create it with 'blobmill mb no-such-container'" \
	"$mnt" --tmp-path="$dir/t7" --config-file="$dir/nocont.cfg"
exit 0
