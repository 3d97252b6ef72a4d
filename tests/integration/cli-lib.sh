# tests/integration/cli-lib.sh: the set-up shared by the storage CLI's
# integration tests (t-cli-*.sh). Sourcing it starts a private Azurite,
# makes and enters a fresh test directory, and arranges for both to go
# away at exit (KEEP_TEST_DIR=1 keeps the directory).
#
#   bm ARGS...       the blobmill CLI under test
#   azb ARGS...      the second client (azblob.py)
#   stat_of NAME F   counter NAME of the last `--stats` line in file F
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

[ -x "$BLOBMILL" ] || fail "no blobmill at $BLOBMILL"
cli_test_dir=$(test_dir)
azurite_start || fail "cannot start azurite"
trap 'azurite_stop; [ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$cli_test_dir"' EXIT
cd "$cli_test_dir" || fail "cannot enter $cli_test_dir"

bm() { "$BLOBMILL" "$@"; }
azb() { python3 "$top_srcdir/tests/integration/azblob.py" "$@"; }
stat_of() { grep -o "[ :]$1=[0-9]*" "$2" | tail -n 1 | cut -d= -f2; }
