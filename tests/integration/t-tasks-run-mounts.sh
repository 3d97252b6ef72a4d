#!/bin/bash
# blobmill run without --stage, the way a pool node runs tasks: data-in and
# data-out mounted with blobmill-fuse, the run options' --volume mappings
# pointing at the mounts, the host runtime (bubblewrap). Hostile names
# reach the app byte for byte and outputs (in folders too) land in
# data-out through the mount.
. "$top_srcdir/tests/integration/tasks-lib.sh"

command -v bwrap >/dev/null || skip "bubblewrap (bwrap) is not installed"
bwrap --dev-bind / / true 2>/dev/null ||
	skip "bwrap cannot create a mount namespace here"
[ -e /dev/fuse ] || skip "no /dev/fuse"
[ -x "$BLOBMILL_FUSE" ] || skip "blobmill-fuse is not built"

tasks_setup
mkdir -p "$T/mnt/in" "$T/mnt/out" "$T/tmp-in" "$T/tmp-out"
unmount_all() {
	fusermount3 -u "$T/mnt/in" 2>/dev/null
	fusermount3 -u "$T/mnt/out" 2>/dev/null
}
trap 'unmount_all; azurite_stop; rm -rf "$T"' EXIT
"$BLOBMILL_FUSE" "$T/mnt/in" --tmp-path="$T/tmp-in" \
	--container-name=data-in -o ro ||
	fail "mount data-in"
"$BLOBMILL_FUSE" "$T/mnt/out" --tmp-path="$T/tmp-out" \
	--container-name=data-out || fail "mount data-out"

"$BLOBMILL" run --runtime host --parallel 3 \
	--input data-in --output data-out --image none \
	--command '/app/argv.sh {out} {name} {basename} {in}' \
	--output-name 'res/{name}.out' \
	--run-options "--volume $T/app:/app --volume $T/mnt/in:/data-in --volume $T/mnt/out:/data-out" \
	--run-dir "$T/run" >"$T/log" 2>&1 || {
	cat "$T/log" >&2
	fail "run through the mounts failed"
}
n=${#HOSTILE_NAMES[@]}
grep -q "^run: $n tasks: $n succeeded, 0 failed" "$T/log" ||
	{ cat "$T/log" >&2; fail "summary"; }
# The outputs were written through the mount: read them with the client.
tasks_check_outputs res/ .out "${HOSTILE_NAMES[@]}"
[ -z "$(find "$T/run" -name SENTINEL)" ] || fail "a blob name ran as a command"
echo "ok: tasks through blobmill-fuse mounts, every argv byte for byte"
