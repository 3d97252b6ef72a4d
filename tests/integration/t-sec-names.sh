#!/usr/bin/env bash
# t-sec-names: blob names that look like paths out (../x, /abs, a/../../b,
# ., .., empty segments, a trailing /) stay names:
#   - the CLI addresses exactly the named blob (put of 'c/a/../other/x'
#     lands in c, not in container 'other'), and get writes only the file
#     it is told to write;
#   - blobmill-fuse shows no entry named "", "." or "..", serves the rest,
#     and nothing appears outside the mount and --tmp-path;
#   - blobmill run (host runtime, staged) keeps every input and output
#     inside the task's directories.
set -u
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"
. "$top_srcdir/tests/lib/fusemount.sh"

[ -x "$BLOBMILL" ] || skip "blobmill not built"
dir=$(test_dir)
mnt="$dir/mnt"
azurite_start || fail "azurite did not start"
cleanup() {
	fm_cleanup "$mnt"
	azurite_stop
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

names=('../x' '/abs' 'a/../../b' '.' '..' 'a//b' 'd/./e' 'trail/' './y'
	'z/..' 'a/../other/x' '../../../../../../tmp/blobmill-escape'
	'ok/plain.txt')
"$BLOBMILL" mb hostile && "$BLOBMILL" mb other || fail "mb failed"
for n in "${names[@]}"; do
	printf 'blob named [%s]\n' "$n" >"$dir/src"
	# From stdin a NAME ending in '/' is taken as it is ('trail/');
	# from a file it would be a folder keeping the file's name.
	"$BLOBMILL" put - "hostile/$n" <"$dir/src" ||
		fail "put of 'hostile/$n' failed"
done
"$BLOBMILL" ls -0 hostile | tr '\0' '\n' | sort >"$dir/listed"
printf '%s\n' "${names[@]}" | sort >"$dir/want"
diff "$dir/want" "$dir/listed" >/dev/null ||
	fail "names were not stored as given: $(diff "$dir/want" "$dir/listed")"
echo "ok: ${#names[@]} hostile names stored byte for byte"
[ -z "$("$BLOBMILL" ls other)" ] ||
	fail "put of 'hostile/a/../other/x' wrote into container 'other'"
echo "ok: 'hostile/a/../other/x' stayed in 'hostile'"

# get: only the named file, with that blob's bytes.
mkdir -p "$dir/out"
touch "$dir/marker"
sleep 1
# Into a directory, get keeps the name's last component only: '../x'
# lands in out/x, never in out/../x.
"$BLOBMILL" get 'hostile/../x' "$dir/out" 2>"$dir/err" ||
	fail "get into a directory failed: $(cat "$dir/err")"
[ "$(cat "$dir/out/x")" = "blob named [../x]" ] ||
	fail "get of 'hostile/../x' into a directory: not in out/x"
for n in "${names[@]}"; do
	"$BLOBMILL" get "hostile/$n" "$dir/out/file" ||
		fail "get of 'hostile/$n' failed"
	[ "$(cat "$dir/out/file")" = "blob named [$n]" ] ||
		fail "get of 'hostile/$n' returned another blob's bytes"
done
# Escapes relative to $dir/out land in $dir, or reach /tmp by name.
new=$(find "$dir" -newer "$dir/marker" -type f 2>/dev/null |
	grep -v -e "^$dir/out/file\$" -e "^$dir/out/x\$" -e "^$dir/err\$" |
	head -n 5)
[ -z "$new" ] || fail "get wrote outside the file it was given: $new"
[ ! -e /tmp/blobmill-escape ] || fail "a blob name escaped to /tmp"
echo "ok: get writes only the file it is given, with the named blob's bytes"

# The mount.
if [ -x "$BLOBMILL_FUSE" ] && [ -e /dev/fuse ]; then
	fm_mount "$mnt" "$dir/tmp" "$dir/fuse.log" --container-name=hostile ||
		fail "mount failed"
	touch "$dir/marker"
	for d in "$mnt" "$mnt/a" "$mnt/d" "$mnt/z" "$mnt/trail"; do
		[ -d "$d" ] || continue
		ls -a "$d" >"$dir/ls" || fail "ls -a '$d' failed"
		[ "$(grep -cx '\.' "$dir/ls")" -eq 1 ] &&
			[ "$(grep -cx '\.\.' "$dir/ls")" -eq 1 ] &&
			! grep -qx '' "$dir/ls" ||
			fail "'$d' lists a blob as '.', '..' or '': $(tr '\n' '|' <"$dir/ls")"
	done
	find "$mnt" >"$dir/find" 2>"$dir/find.err" ||
		fail "find over the mount failed: $(cat "$dir/find.err")"
	while IFS= read -r p; do
		[ -f "$p" ] || continue
		rel=${p#"$mnt"/}
		[ "$(cat "$p")" = "blob named [$rel]" ] ||
			fail "'$rel' through the mount has another blob's bytes"
	done <"$dir/find"
	[ "$(cat "$mnt/ok/plain.txt")" = "blob named [ok/plain.txt]" ] ||
		fail "a plain name next to hostile ones does not read"
	fm_alive "$mnt" || fail "daemon died on hostile names"
	fm_umount "$mnt" || fail "unmount failed"
	new=$(find "$dir" -newer "$dir/marker" -type f 2>/dev/null |
		grep -v -e "^$dir/tmp/" -e "^$dir/fuse.log\$" -e "^$dir/ls\$" \
			-e "^$dir/find" | head -n 5)
	[ -z "$new" ] || fail "the mount wrote outside tmp-path: $new"
	[ ! -e /tmp/blobmill-escape ] || fail "a blob name escaped to /tmp"
	echo "ok: the mount hides '', '.' and '..', serves $(grep -c . "$dir/find") paths, writes nowhere else"
else
	echo "note: blobmill-fuse not built or no /dev/fuse: mount not checked"
fi

# blobmill run: staged inputs and outputs stay in the task directories.
if "$BLOBMILL" run --help >/dev/null 2>&1 && command -v bwrap >/dev/null; then
	rundir="$dir/run"
	touch "$dir/marker"
	"$BLOBMILL" run --runtime host --stage --input hostile --output other \
		--image none --run-dir "$rundir" \
		--command 'cat {in} > {out}' >"$dir/run.out" 2>&1
	rc=$?
	echo "run exit $rc: $(tail -n 1 "$dir/run.out")"
	[ ! -e /tmp/blobmill-escape ] && [ ! -e /tmp/blobmill-escape-result.txt ] ||
		fail "a task's input or output escaped to /tmp"
	new=$(find "$dir" -newer "$dir/marker" -type f 2>/dev/null |
		grep -v -e "^$rundir/" -e "^$dir/run.out\$" | head -n 5)
	[ -z "$new" ] || fail "blobmill run wrote outside its run directory: $new"
	[ "$("$BLOBMILL" get other/ok/plain.txt-result.txt -)" = "blob named [ok/plain.txt]" ] ||
		fail "the plain blob's task did not produce its output"
	# Every other blob: refused by name, one line each, or run inside.
	for n in "${names[@]}"; do
		[ "$n" = ok/plain.txt ] && continue
		grep -qF "$n" "$dir/run.out" ||
			fail "blobmill run says nothing of '$n'"
	done
	"$BLOBMILL" ls -0 other | tr '\0' '\n' | while IFS= read -r o; do
		case "$o" in
		*-result.txt) ;;
		*) fail "unexpected output blob '$o'" ;;
		esac
	done || exit 1
	echo "ok: blobmill run kept hostile names inside its directories ($(grep -c 'cannot stage' "$dir/run.out") refused by name)"
else
	echo "note: blobmill run or bwrap not available: tasks not checked"
fi
