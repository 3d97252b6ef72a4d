#!/usr/bin/env bash
# t-blob-memory-vs-azurite: the in-memory Blob client and the Azure client
# (against a real Azurite) run the same script of operations (bm-blob-diff)
# and must be indistinguishable to a caller: return codes, error
# categories, listings at every page size, contents, ETag changes. The
# filesystem and task layers are unit-tested against the memory client;
# this test is what makes those tests mean something against Azure.
. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

diff_prog="$top_builddir/tests/integration/bm-blob-diff"
[ -x "$diff_prog" ] || fail "missing $diff_prog (make check builds it)"
azurite_start || skip "azurite could not be started"
out=$("$diff_prog") || { echo "$out"; fail "the memory client differs from Azure"; }
echo "$out" | tail -n 1
steps=$(echo "$out" | grep -c -- ' -> ')
[ "$steps" -ge 80 ] || fail "expected at least 80 compared steps, got $steps"
echo "ok: $steps steps alike"
