#!/usr/bin/env bash
# t-blob-list-memory: listing memory does not grow with the number of
# blobs. 1,200 and 12,000 blobs are listed through bm_blob_list_all (the
# streaming parser, 5,000 per page); the listing of 12,000 costs 3 List
# requests and its peak RSS stays within 10% of the 1,200 one.
# Filling Azurite takes about a minute: skipped when BLOBMILL_QUICK is set.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

[ -z "${BLOBMILL_QUICK:-}" ] || skip "BLOBMILL_QUICK: 13,200 uploads take a minute"

check="$top_builddir/tests/integration/blob-client-check"
[ -x "$check" ] || fail "missing $check (make check builds it)"
azurite_start || skip "azurite could not be started"
dir=$(test_dir)

"$check" mb many || fail "create container"
"$check" fill many small/ 1200 || fail "put 1,200 blobs"
"$check" fill many big/ 12000 || fail "put 12,000 blobs"

"$check" ls many small/ 0 >"$dir/small" 2>"$dir/small.err" ||
	{ cat "$dir/small.err"; fail "list 1,200"; }
"$check" ls many big/ 0 >"$dir/big" 2>"$dir/big.err" ||
	{ cat "$dir/big.err"; fail "list 12,000"; }
expect_eq "entries of small/" 1200 "$(wc -l <"$dir/small")"
expect_eq "entries of big/" 12000 "$(wc -l <"$dir/big")"
expect_eq "every big/ name once, in order" \
	"$(seq -f 'big/%06g' 0 11999)" "$(cat "$dir/big")"
expect_eq "List requests for 12,000 blobs" 3 \
	"$(sed -n 's/^stats: requests=[0-9]* list=\([0-9]*\) .*/\1/p' "$dir/big.err")"
small=$(sed -n 's/.* peak_rss_kb=\([0-9]*\)$/\1/p' "$dir/small.err")
big=$(sed -n 's/.* peak_rss_kb=\([0-9]*\)$/\1/p' "$dir/big.err")
echo "peak RSS: 1,200 blobs ${small} KiB, 12,000 blobs ${big} KiB"
[ -n "$small" ] && [ -n "$big" ] || fail "no peak RSS figure"
[ $((big * 10)) -le $((small * 11)) ] ||
	fail "peak RSS grew more than 10% from 1,200 to 12,000 blobs"
echo "ok: peak RSS within 10%"
rm -rf "$dir"
