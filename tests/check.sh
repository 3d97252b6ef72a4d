#!/usr/bin/env bash
# tests/check.sh: the whole test suite, from a fresh clone on Debian 12 as
# root. Installs what is missing (Debian packages; Azurite from npm into the
# build tree), builds with -Werror, runs `make check`, then builds again
# with ASan+UBSan and runs the suite under the sanitizers, then the extra
# checks (valgrind, fuzzing, formatting) that each area adds below.
# Ends with one line "N passed, N failed".
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-$(nproc)}

# shellcheck source=tests/lib/deps.sh
. "$top/tests/lib/deps.sh"
deps_install

passed=0
failed=0
skipped=0
failures=()

count_results() { # BUILD-DIR LABEL
	local trs res
	while IFS= read -r trs; do
		res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
		case "$res" in
		PASS | XFAIL) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*)
			failed=$((failed + 1))
			failures+=("$2: ${trs%.trs}")
			;;
		esac
	done < <(find "$1" -name '*.trs' | sort)
}

build() { # DIR CONFIGURE-ARGS...
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" --enable-werror "$@" >configure.out) ||
		{ cat "$dir/config.log" | tail -n 40; exit 1; }
	make -C "$dir" -j"$jobs"
}

run_suite() { # DIR LABEL
	find "$1" -name '*.trs' -delete 2>/dev/null || true
	make -C "$1" -j"$jobs" check || true
	count_results "$1" "$2"
	for f in $(find "$1/tests" -name '*.log' ! -name 'test-suite.log'); do
		if grep -q '^:test-result: FAIL' "${f%.log}.trs" 2>/dev/null ||
			grep -q '^:test-result: ERROR' "${f%.log}.trs" 2>/dev/null; then
			echo "=== $2: $f"
			tail -n 60 "$f"
		fi
	done
}

autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

build "$top/_build/ci"
run_suite "$top/_build/ci" plain

# Sanitizers: the same suite, minus the multi-GiB figures (BLOBMILL_QUICK).
build "$top/_build/asan" --enable-sanitizers CC=gcc
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1 BLOBMILL_QUICK=1 \
	run_suite "$top/_build/asan" asan

# Extra checks each print "PASS: name" or "FAIL: name" lines.
for extra in "$top"/tests/extra/*.sh; do
	[ -e "$extra" ] || continue
	name=$(basename "$extra" .sh)
	if top_builddir="$top/_build/ci" bash "$extra" >"$top/_build/extra-$name.log" 2>&1; then
		passed=$((passed + 1))
	else
		rc=$?
		if [ "$rc" -eq 77 ]; then
			skipped=$((skipped + 1))
		else
			failed=$((failed + 1))
			failures+=("extra: $name")
			tail -n 60 "$top/_build/extra-$name.log"
		fi
	fi
done

echo
for f in "${failures[@]+"${failures[@]}"}"; do
	echo "failed: $f"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
