#!/usr/bin/env bash
# t-fuzz-corpus: replays every fuzz target's seed corpus and crash
# reproducers (tests/fuzz/corpus/TARGET/) through the target's contract
# checks, without libFuzzer; under the ASan pass this is a sanitizer run.
set -u
. "$top_srcdir/tests/lib/common.sh"

n=0
for src in "$top_srcdir"/tests/fuzz/fuzz-*.c; do
	t=${src##*/fuzz-}
	t=${t%.c}
	bin="$top_builddir/tests/fuzz/replay-$t"
	if ! [ -x "$bin" ]; then
		# The template target needs libtasktemplate (task-template/).
		[ "$t" = template ] && ! [ -e "$top_srcdir/task-template/template/tt_template.c" ] &&
			continue
		fail "replay-$t not built"
	fi
	out=$("$bin" "$top_srcdir/tests/fuzz/corpus/$t" 2>&1) ||
		fail "fuzz target '$t' fails on its corpus: $out"
	echo "ok: $t: $out"
	n=$((n + 1))
done
[ "$n" -ge 4 ] || fail "only $n fuzz targets replayed"
echo "ok: $n fuzz targets replayed their corpora"
