#!/usr/bin/env bash
# tests/extra/fuzz.sh: builds the libFuzzer targets of tests/fuzz/ with
# clang (-fsanitize=fuzzer,address,undefined; its own build, outside
# automake) and runs each for FUZZ_SECONDS (default 20) from a copy of its
# seed corpus in tests/fuzz/corpus/TARGET/. A crash, leak, UB or contract
# violation fails the run and names the reproducer; once the bug is fixed
# the reproducer goes into the corpus, which `make check` replays on every
# run (tests/integration/t-fuzz-corpus.sh).
# Exit 0 pass, 77 skip (no clang/libFuzzer), anything else fail.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${top_builddir:=$top/_build/ci}"
secs=${FUZZ_SECONDS:-20}
targets=${FUZZ_TARGETS:-"listing config connstr url template"}
out="$top_builddir/tests/fuzz-build"

command -v clang >/dev/null || { echo "SKIP: fuzz: clang not installed"; exit 77; }
mkdir -p "$out/obj" || exit 1
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ return 0; }\n' >"$out/probe.c"
clang -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>"$out/probe.err" || {
	echo "SKIP: fuzz: clang cannot build a libFuzzer target:"
	cat "$out/probe.err"
	exit 77
}

pkgs="libcurl libxml-2.0 jansson libcrypto"
tt="$top/task-template"
cflags="-g -O1 -std=c11 -D_GNU_SOURCE -fno-omit-frame-pointer
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
	-I$top/src -I$tt/task -I$tt/template -I$tt/batch -I$tt/runner -I$tt/storage
	-I$tt/term -I$tt/cli -I$top/tests/fuzz
	$(pkg-config --cflags $pkgs)"
[ -f "$top_builddir/config.h" ] && cflags+=" -I$top_builddir"
libs="$(pkg-config --libs $pkgs) -lpthread"

# The libraries under test: every C file of src/ and task-template/*/ except
# those with a main().
srcs=()
for f in "$top"/src/*.c "$top"/task-template/*/*.c; do
	[ -e "$f" ] || continue
	grep -Eq '^(int|static int)[[:space:]]+main[[:space:]]*\(' "$f" && continue
	srcs+=("$f")
done
echo "fuzz: building ${#srcs[@]} library sources with clang"
rm -f "$out"/obj/*.o "$out/libfuzzed.a"
# shellcheck disable=SC2086
printf '%s\n' "${srcs[@]}" | xargs -P "$(nproc)" -I{} sh -c \
	'clang $1 -c "$2" -o "$3/obj/$(basename "$2" .c).o"' sh "$cflags" {} "$out" ||
	{ echo "FAIL: fuzz: library build failed"; exit 1; }
ar rcs "$out/libfuzzed.a" "$out"/obj/*.o

failed=0
for t in $targets; do
	src="$top/tests/fuzz/fuzz-$t.c"
	if [ "$t" = template ] && ! [ -e "$top/task-template/template/tt_template.c" ]; then
		echo "note: fuzz-template: libtasktemplate not in the tree yet"
		continue
	fi
	bin="$out/fuzz-$t"
	# shellcheck disable=SC2086
	if ! clang $cflags -fsanitize=fuzzer "$src" "$out/libfuzzed.a" $libs \
		-o "$bin" 2>"$out/build-$t.err"; then
		echo "FAIL: fuzz-$t: does not build:"
		cat "$out/build-$t.err"
		failed=1
		continue
	fi
	work="$out/corpus-$t"
	art="$out/artifacts-$t"
	rm -rf "$work" "$art"
	mkdir -p "$work" "$art"
	cp "$top/tests/fuzz/corpus/$t/"* "$work/"
	seeds=$(ls "$work" | wc -l)
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
		UBSAN_OPTIONS=print_stacktrace=1 \
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=8192 -print_final_stats=1 -artifact_prefix="$art/" \
		"$work" >"$out/fuzz-$t.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz-$t.log")
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: fuzz-$t: exit $rc after ${runs:-?} runs"
		grep -E 'ERROR|SUMMARY|#[0-9]+ 0x' "$out/fuzz-$t.log" | head -n 30
		for a in "$art"/*; do
			[ -e "$a" ] || continue
			echo "reproducer: $a ($(stat -c %s "$a") bytes), base64:"
			base64 -w 76 "$a" | head -n 20
			echo "replay: $bin $a"
		done
		failed=1
	else
		echo "PASS: fuzz-$t: ${runs:-?} runs in ${secs} s, corpus $seeds -> $(ls "$work" | wc -l) inputs"
	fi
done
exit $failed
