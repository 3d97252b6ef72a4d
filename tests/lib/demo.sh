# tests/lib/demo.sh: what the tests of startup/demo.sh share: the setup
# (root, /dev/fuse, this build's binaries, a test directory that is the
# demo's DEMO_DIR, no credential from the caller's environment) and the
# checks of a finished run.
#
#   . "$top_srcdir/tests/lib/demo.sh"   # sets d (DEMO_DIR), run ($d/run),
#                                       # exports DEMO_DIR, DEMO_BIG_MB
#   expect_outputs LABEL   every sample's output is wordstat.sh's report on
#                          that very input, and `blobmill ls` names it
#   expect_clean LABEL LOG nothing mounted or running after the run whose
#                          output is LOG
# The EXIT trap removes $d (unless KEEP_TEST_DIR, or something is still
# mounted there) and ends the demo whose process group is in demo_pid.
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
demo_cleanup() {
	[ -z "$demo_pid" ] || kill -TERM -- "-$demo_pid" 2>/dev/null
	if [ -n "$d" ] && [ -z "${KEEP_TEST_DIR:-}" ] && ! findmnt -rn -o TARGET | grep -qF "$d/"; then
		rm -rf --one-file-system "$d"
	fi
}
trap demo_cleanup EXIT

# After the demo: no mount under the test directory, no daemon, no Azurite
# (and no token service, when the log names one).
expect_clean() { # LABEL LOG
	local apid tpid
	findmnt -rn -o TARGET | grep -F "$d/" && fail "$1: left mounted"
	pgrep -f -- "blobmill-fuse $d/" && fail "$1: a blobmill-fuse daemon is left"
	apid=$(sed -n 's/^Azurite: .* (pid \([0-9]*\))$/\1/p' "$2")
	[ -n "$apid" ] || fail "$1: the demo did not say Azurite's pid"
	kill -0 "$apid" 2>/dev/null && fail "$1: Azurite ($apid) is still running"
	tpid=$(sed -n 's/^token service (managed identity): .* (pid \([0-9]*\))$/\1/p' "$2")
	[ -z "$tpid" ] || ! kill -0 "$tpid" 2>/dev/null ||
		fail "$1: the token service ($tpid) is still running"
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
