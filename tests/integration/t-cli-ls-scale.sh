#!/usr/bin/env bash
# t-cli-ls-scale.sh: `blobmill ls` of a large container costs
# ceil(N/5000) List requests (12,000 blobs: exactly 3), counted both by the
# CLI (--stats) and by Azurite's access log, and its peak RSS does not grow
# with the number of blobs: 1,200 and 12,000 blobs within 10%.
# Under BLOBMILL_QUICK (the sanitizer pass) the sizes are 1,200 and 3,000.
. "$top_srcdir/tests/integration/cli-lib.sh"
[ -x /usr/bin/time ] || skip "GNU time is missing: apt-get install time"

small=1200
large=12000
if [ -n "${BLOBMILL_QUICK:-}" ]; then
	large=3000
fi
# ASan keeps freed memory in quarantine, which would make RSS track the
# number of allocations rather than what is live: turn it off here.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0

# ls_measure CONTAINER N: lists CONTAINER, checks it has N names and took
# ceil(N/5000) List requests by both counts; sets $rss (KiB).
ls_measure() {
	local c=$1 n=$2 pages=$((($2 + 4999) / 5000)) before after
	before=$(azurite_requests "/$c\\?[^ ]*comp=list")
	/usr/bin/time -f %M -o "rss.$c" "$BLOBMILL" ls --stats "$c" \
		>"ls.$c" 2>"err.$c" || fail "ls $c: $(cat "err.$c")"
	after=$(azurite_requests "/$c\\?[^ ]*comp=list")
	expect_eq "ls $c: names" "$n" "$(wc -l <"ls.$c")"
	expect_eq "ls $c: names are distinct" "$n" "$(sort -u "ls.$c" | wc -l)"
	expect_eq "ls $c: List requests (--stats)" "$pages" \
		"$(stat_of list "err.$c")"
	expect_eq "ls $c: requests of any kind (--stats)" "$pages" \
		"$(stat_of requests "err.$c")"
	expect_eq "ls $c: List requests (Azurite's log)" "$pages" \
		"$((after - before))"
	rss=$(tail -n 1 "rss.$c")
	echo "ls $c: $n blobs, $pages List requests, peak RSS ${rss} KiB"
}

for c in small large; do
	bm mb "$c" || fail "mb $c"
	n=$small
	[ "$c" = large ] && n=$large
	start=$(date +%s)
	azb populate "$c" "blob/" "$n" 32 || fail "populating $c"
	echo "populated $c with $n blobs in $(($(date +%s) - start)) s"
done

ls_measure small "$small"
rss_small=$rss
ls_measure large "$large"
rss_large=$rss
diff=$((rss_large - rss_small))
[ "$diff" -lt 0 ] && diff=$((-diff))
[ $((diff * 10)) -le "$rss_small" ] ||
	fail "peak RSS grows with the listing: $rss_small KiB for $small blobs, $rss_large KiB for $large"
echo "ok: peak RSS $rss_small KiB ($small blobs) vs $rss_large KiB ($large blobs), within 10%"

# -l and --delimiter stream the same way.
/usr/bin/time -f %M -o rss.long "$BLOBMILL" ls -l large >ls.long 2>err.long ||
	fail "ls -l large: $(cat err.long)"
expect_eq "ls -l large: lines" "$large" "$(wc -l <ls.long)"
expect_eq "ls --delimiter / large" "blob/" "$(bm ls --delimiter / large)"
exit 0
