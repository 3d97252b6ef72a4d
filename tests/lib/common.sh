# tests/lib/common.sh: helpers shared by the shell integration tests.
# A test prints what it checks and exits 0 (pass), 77 (skip, with the
# reason printed) or anything else (fail).

set -u

: "${TEST_TMPDIR:=${TMPDIR:-/tmp}}"
mkdir -p "$TEST_TMPDIR"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" != "$3" ]; then
		fail "$1: expected '$2', got '$3'"
	fi
	echo "ok: $1"
}

# A fresh directory for this test, removed at exit unless KEEP_TEST_DIR.
test_dir() {
	local d
	d=$(mktemp -d "$TEST_TMPDIR/$(basename "$0" .sh).XXXXXX") || exit 1
	echo "$d"
}
