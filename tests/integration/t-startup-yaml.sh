#!/usr/bin/env bash
# t-startup-yaml: the start-task installer with a blobfuse2 config in the
# CONFIG-FILE column (issue 15): the line is mounted with blobfuse2's form
# (`blobmill-fuse mount MP --config-file=in.yaml ...`, its options
# blobfuse2's flags), a second run finds it healthy and changes nothing, a
# killed daemon is recovered, --unmount takes it down; a bad YAML is one
# line naming the file, line and key, and nothing is left mounted.
: "${top_srcdir:?run me from make check}" "${top_builddir:?}"
. "$top_srcdir/tests/lib/common.sh" || exit 1
. "$top_srcdir/tests/lib/azurite.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (FUSE mounts)"
[ -c /dev/fuse ] || skip "no /dev/fuse"

installer="$top_srcdir/startup/blobmill-startup"
d=$(test_dir) && [ -d "$d" ] || exit 1
prefix="$d/opt"
mnt="$d/mnt/data-in"

cleanup() {
	"$installer" --unmount --mounts "$d/mounts" --prefix "$prefix" >/dev/null 2>&1
	azurite_stop
	if [ -z "${KEEP_TEST_DIR:-}" ] && ! findmnt -rn -o TARGET | grep -qF "$d/"; then
		rm -rf --one-file-system "$d"
	fi
}

azurite_start || fail "azurite did not start"
trap cleanup EXIT
"$BLOBMILL" mb data-in || fail "mb data-in"
printf 'one\n' | "$BLOBMILL" put - data-in/a.txt || fail "put a.txt"
# blobfuse2 lets the environment override the file: keep only the file.
unset AZURE_STORAGE_ACCOUNT AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN \
	AZURE_STORAGE_BLOB_ENDPOINT AZURE_STORAGE_CONNECTION_STRING

write_yaml() { # FILE KEY
	printf '%s\r\n' "components:" "  - libfuse" "  - file_cache" \
		"  - attr_cache" "  - azstorage" "azstorage:" \
		"  account-name: $AZURITE_ACCOUNT" "  account-key: $2" \
		"  endpoint: $AZURITE_ENDPOINT" "  mode: key" \
		"  container: not-this-one" >"$1"
	chmod 600 "$1"
}
write_yaml "$d/in.yaml" "$AZURITE_KEY"
printf '%s\n' '# a blobfuse2 config in the CONFIG-FILE column' \
	'data-in mnt/data-in fusetmp/in in.yaml -o allow_other --attr-timeout=240 --entry-timeout 240' \
	>"$d/mounts"

run() { # LABEL ARGS...
	local label=$1
	shift
	"$installer" --prefix "$prefix" "$@" >"$d/out" 2>"$d/err"
	rc=$?
	echo "--- $label (exit $rc)"
	cat "$d/out" "$d/err"
}
daemon_args() { # MP: the daemon's command line, one word per line
	local p
	for p in $(pgrep -f -- "blobmill-fuse mount $1 "); do
		tr '\0' '\n' <"/proc/$p/cmdline"
		return
	done
}

run "fresh" --mounts "$d/mounts" --fuse "$BLOBMILL_FUSE" --cli "$BLOBMILL"
expect_eq "fresh: exit" 0 "$rc"
grep -qE "^data-in: $mnt: mounted \(1 entry\)" "$d/out" || fail "fresh: not mounted"
expect_eq "fresh: read through the mount" one "$(cat "$mnt/a.txt")"
daemon_args "$mnt" >"$d/args"
grep -qx mount "$d/args" && grep -qx -- "--config-file=$d/in.yaml" "$d/args" &&
	grep -qx -- "--container-name=data-in" "$d/args" ||
	fail "fresh: not blobfuse2's form: $(tr '\n' ' ' <"$d/args")"
echo "ok: the daemon runs blobfuse2's form: $(tr '\n' ' ' <"$d/args")"
findmnt -rn -o OPTIONS --mountpoint "$mnt" | grep -q allow_other ||
	fail "fresh: -o allow_other not applied"
pid=$(pgrep -f -- "blobmill-fuse mount $mnt ")

run "second" --mounts "$d/mounts"
expect_eq "second: exit" 0 "$rc"
grep -q "^done: no change, 1 mount(s) healthy$" "$d/out" || fail "second: changed something"
expect_eq "second: same daemon" "$pid" "$(pgrep -f -- "blobmill-fuse mount $mnt ")"

kill -KILL "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
run "after kill -9" --mounts "$d/mounts"
expect_eq "after kill -9: exit" 0 "$rc"
grep -qE "^data-in: $mnt: was stale .*mounted again \(1 entry\)" "$d/out" ||
	fail "after kill -9: not recovered"
expect_eq "after kill -9: read" one "$(cat "$mnt/a.txt")"

run "unmount" --unmount --mounts "$d/mounts"
expect_eq "unmount: exit" 0 "$rc"
findmnt -rn --mountpoint "$mnt" >/dev/null && fail "unmount: still mounted"
echo "ok: --unmount"

# A YAML error: the daemon's one line, with file, line and key.
printf 'azstorage:\n  acount-name: x\n' >"$d/bad.yaml"
chmod 600 "$d/bad.yaml"
printf 'data-in mnt/bad fusetmp/bad bad.yaml\n' >"$d/mounts-bad"
run "bad yaml" --mounts "$d/mounts-bad"
expect_eq "bad yaml: exit" 1 "$rc"
expect_eq "bad yaml: the cause" \
	"blobmill-startup: cannot mount 'data-in' on '$d/mnt/bad': $d/bad.yaml:2: unknown key 'azstorage.acount-name' (did you mean 'account-name'?)" \
	"$(sed 's/^blobmill-fuse: //' "$d/err" | sed "s|: blobmill-fuse: |: |")"
findmnt -rn --mountpoint "$d/mnt/bad" >/dev/null && fail "bad yaml: mounted"
echo "ok: bad yaml: nothing mounted"
exit 0
