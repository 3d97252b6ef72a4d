#!/usr/bin/env bash
# t-demo.sh: the README's first command, startup/demo.sh, with the binaries
# of this build (no package install, no rebuild). Checks every output blob
# against its input, that nothing is left mounted or running, that a Ctrl-C
# in the middle cleans up too, and that a re-run after it works, with the
# other task runtime.
: "${top_srcdir:?run me from make check}" "${top_builddir:?}"
. "$top_srcdir/tests/lib/common.sh" || exit 1

[ "$(id -u)" -eq 0 ] || skip "needs root (FUSE mounts)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
[ -x "$BLOBMILL_FUSE" ] || fail "'$BLOBMILL_FUSE' is not built"
[ -x "$BLOBMILL" ] || fail "'$BLOBMILL' is not built"

d=$(test_dir) && [ -d "$d" ] || exit 1
run="$d/run"
# Small samples: the pipeline is what is tested here, not throughput.
big_mb=${BLOBMILL_QUICK:+2}
export DEMO_DIR="$d" DEMO_BIG_MB="${big_mb:-12}" BLOBMILL BLOBMILL_FUSE
export AZURITE_HOME="$top_builddir/tests/.azurite"
unset AZURE_STORAGE_ACCOUNT AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_SAS_TOKEN \
	AZURE_STORAGE_BLOB_ENDPOINT AZURE_STORAGE_CONNECTION_STRING

demo_pid=
cleanup() {
	[ -z "$demo_pid" ] || kill -TERM -- "-$demo_pid" 2>/dev/null
	if [ -n "$d" ] && [ -z "${KEEP_TEST_DIR:-}" ] && ! findmnt -rn -o TARGET | grep -qF "$d/"; then
		rm -rf --one-file-system "$d"
	fi
}
trap cleanup EXIT

# After the demo: no mount under the test directory, no daemon, no Azurite.
expect_clean() { # LABEL LOG
	local apid
	findmnt -rn -o TARGET | grep -F "$d/" && fail "$1: left mounted"
	pgrep -f -- "blobmill-fuse $d/" && fail "$1: a blobmill-fuse daemon is left"
	apid=$(sed -n 's/^Azurite: .* (pid \([0-9]*\))$/\1/p' "$2")
	[ -n "$apid" ] || fail "$1: the demo did not say Azurite's pid"
	kill -0 "$apid" 2>/dev/null && fail "$1: Azurite ($apid) is still running"
	echo "ok: $1: nothing left mounted or running"
}

# Every sample has its output: the app's report on that very input, and
# the listing of data-out (second client) names it.
expect_outputs() { # LABEL
	local name n=0 want sum
	while IFS= read -r -d '' name; do
		want=$(sh "$top_srcdir/startup/wordstat.sh" "$run/samples/$name" /dev/stdout)
		expect_eq "$1: output of '$name'" "$want" "$(cat "$run/results/$name-result.txt")"
		sum=$(sha256sum <"$run/samples/$name")
		grep -qx "sha256: ${sum%% *}" "$run/results/$name-result.txt" ||
			fail "$1: '$name': sha256 differs from sha256sum's"
		grep -qxF -- "$name-result.txt" "$run/data-out.ls" ||
			fail "$1: '$name-result.txt' missing from the data-out listing"
		n=$((n + 1))
	done < <(cd "$run/samples" && find . -type f -printf '%P\0')
	expect_eq "$1: outputs checked" 5 "$n"
}

# 1. The demo as a newcomer runs it (runtime auto: podman where it works).
bash "$top_srcdir/startup/demo.sh" >"$d/demo1.log" 2>&1
rc=$?
cat "$d/demo1.log"
expect_eq "demo exit" 0 "$rc"
grep -q "^data-in: .*: mounted (5 entries)$" "$d/demo1.log" ||
	fail "the installer did not mount data-in with its 5 entries"
grep -qE "^==> done in [0-9]+s" "$d/demo1.log" || fail "no closing line"
expect_outputs "demo"
expect_clean "demo" "$d/demo1.log"
runtime1=$(sed -n 's/^==> one task per blob in data-in (\(.*\) runtime)$/\1/p' "$d/demo1.log")
echo "first run used the $runtime1 runtime"

# 2. Ctrl-C once the mounts are up: the demo's traps clean up. The demo
# runs in its own process group, as in a terminal, and the whole group
# gets SIGINT.
set -m
DEMO_RUNTIME=host bash "$top_srcdir/startup/demo.sh" >"$d/demo2.log" 2>&1 &
demo_pid=$!
set +m
for _ in $(seq 1 600); do
	grep -q "^==> one task per blob" "$d/demo2.log" && break
	kill -0 "$demo_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q "^==> one task per blob" "$d/demo2.log" || { cat "$d/demo2.log"; fail "interrupted run: never got to the tasks"; }
kill -INT -- "-$demo_pid"
wait "$demo_pid"
rc=$?
demo_pid=
cat "$d/demo2.log"
expect_eq "interrupted run: exit status" 130 "$rc"
expect_clean "interrupted run" "$d/demo2.log"

# 3. Running it again works, on the host runtime this time if the first
# run used podman.
other=host
[ "$runtime1" = host ] && other=auto
DEMO_RUNTIME=$other bash "$top_srcdir/startup/demo.sh" >"$d/demo3.log" 2>&1
rc=$?
cat "$d/demo3.log"
expect_eq "re-run exit" 0 "$rc"
expect_outputs "re-run"
expect_clean "re-run" "$d/demo3.log"
