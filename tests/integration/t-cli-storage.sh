#!/usr/bin/env bash
# t-cli-storage.sh: every storage command (ls, get, put, rm, mb, rb)
# round-trips byte for byte against a private Azurite, with hostile blob
# names, an empty file, a multi-block file, stdin and stdout. What the CLI
# writes is read back by a second client (azblob.py: Python's standard
# library, its own SAS signing and URL encoding), and what that client
# writes is read by the CLI.
. "$top_srcdir/tests/integration/cli-lib.sh"
long=long/$(printf '%1019s' '' | tr ' ' 'L')
[ ${#long} -eq 1024 ] || fail "test setup: long name is ${#long} bytes"
names=(
	'plain.txt'
	'with space/and  two spaces .txt'
	'ünïcødé/日本語 ☃.txt'
	'percent%41%2F%%.txt'
	'hash#fragment'
	'question?x=1&y=2'
	'plus+sign'
	'amp&ersand'
	"single'quote"
	'double"quote'
	'$(touch pwned)'
	'back`touch pwned`tick'
	'-leading-dash'
	$'new\nline'
	$'tab\there'
	'"starts-with-quote'
	"$long"
)

bm mb data || fail "mb data"
expect_eq "ls of an empty container" "" "$(bm ls data)"

echo "--- put/get of ${#names[@]} hostile names, checked by a second client"
i=0
for name in "${names[@]}"; do
	printf 'blob %d is named: %s\n' "$i" "$name" >"src.$i"
	bm put "src.$i" "data/$name" || fail "put '$name'"
	bm get "data/$name" "got.$i" || fail "get '$name'"
	cmp -s "src.$i" "got.$i" || fail "get '$name': bytes differ"
	azb get data "$name" >"az.$i" || fail "second client: get '$name'"
	cmp -s "src.$i" "az.$i" || fail "second client: '$name' differs"
	i=$((i + 1))
done
echo "ok: ${#names[@]} names round-trip through put/get and the second client"
[ ! -e pwned ] || fail "a blob name was run as a command"

# ls -0: the exact set of names, compared with the second client's listing.
printf '%s\0' "${names[@]}" | sort -z >expected.0
bm ls -0 data | sort -z >ls.0 || fail "ls -0"
cmp -s expected.0 ls.0 || fail "ls -0 does not give the names put"
azb list data | sort -z >az.0 || fail "second client: list"
cmp -s expected.0 az.0 || fail "second client lists other names"
echo "ok: ls -0 lists every name byte for byte, as the second client does"

# Line mode: names raw, one per line, except the ones a line cannot hold.
bm ls data >ls.txt || fail "ls"
expect_eq "ls line count" "${#names[@]}" "$(wc -l <ls.txt)"
for name in "${names[@]}"; do
	case "$name" in
	*$'\n'* | *$'\t'* | '"'*) continue ;;
	esac
	grep -Fxq -- "$name" ls.txt || fail "ls does not print '$name' raw"
done
grep -Fxq '"new\nline"' ls.txt || fail "ls: newline name not C-quoted"
grep -Fxq '"tab\there"' ls.txt || fail "ls: tab name not C-quoted"
grep -Fxq '"\"starts-with-quote"' ls.txt ||
	fail "ls: name starting with a quote not C-quoted"
echo "ok: ls prints plain names raw and quotes only the unprintable ones"

# ls -l: size, ISO 8601 UTC time, name.
line=$(bm ls -l data/plain.txt) || fail "ls -l"
size=$(wc -c <src.0)
[[ "$line" =~ ^\ *$size\ \ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\ \ plain\.txt$ ]] ||
	fail "ls -l: unexpected line '$line'"
echo "ok: ls -l prints '$line'"

echo "--- the second client writes, the CLI reads"
i=0
for name in "${names[@]}"; do
	printf 'rewritten %d by the second client\n' "$i" >"az-src.$i"
	azb put data "$name" "az-src.$i" || fail "second client: put '$name'"
	bm get "data/$name" - >"got.$i" || fail "get '$name' to stdout"
	cmp -s "az-src.$i" "got.$i" || fail "get '$name' after overwrite"
	i=$((i + 1))
done
echo "ok: blobs written by the second client read back byte for byte"

echo "--- rm"
for name in "${names[@]}"; do
	bm rm "data/$name" || fail "rm '$name'"
done
expect_eq "ls after rm" "" "$(bm ls data)"
expect_eq "second client's list after rm" "" "$(azb list data | tr '\0' '\n')"
bm rm data/plain.txt 2>rm.err && fail "rm of a missing blob succeeded"
grep -q "not found" rm.err || fail "rm of a missing blob: $(cat rm.err)"
echo "ok: rm deletes, and says so when there is nothing to delete"

echo "--- empty file"
: >empty
bm put empty data/empty || fail "put empty"
rm -f got.empty
bm get data/empty got.empty || fail "get empty"
[ -f got.empty ] && [ ! -s got.empty ] || fail "get empty: no empty file"
expect_eq "second client reads 0 bytes" 0 "$(azb get data empty | wc -c)"
[[ "$(bm ls -l data/empty)" =~ ^\ +0\ \  ]] || fail "ls -l: size of empty"
echo "ok: an empty file round-trips"

echo "--- multi-block file (Put Block + Put Block List)"
head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >big
want=$(sha256sum <big)
bm put --stats --block-size-mb 1 --max-concurrency 4 big data/big 2>put.err ||
	fail "put big: $(cat put.err)"
expect_eq "put big: Put Block requests" 6 "$(stat_of put_block put.err)"
expect_eq "put big: Put Block List requests" 1 "$(stat_of put_block_list put.err)"
expect_eq "get big | sha256sum" "$want" "$(bm get data/big | sha256sum)"
expect_eq "second client: sha256" "$want" "$(azb get data big | sha256sum)"
bm get --stats data/big big.out 2>get.err || fail "get big to a file"
expect_eq "get big to a file: sha256" "$want" "$(sha256sum <big.out)"
expect_eq "get big: requests (one Get Blob)" 1 "$(stat_of requests get.err)"
expect_eq "get big: Get Blob requests" 1 "$(stat_of get get.err)"

echo "--- stdin and stdout"
head -c $((3 * 1024 * 1024)) /dev/urandom >stream
cat stream | bm put --stats --block-size-mb 1 - data/stream 2>put.err ||
	fail "put from a pipe: $(cat put.err)"
expect_eq "pipe of 3 blocks: Put Block requests" 3 "$(stat_of put_block put.err)"
expect_eq "pipe: Put Block List requests" 1 "$(stat_of put_block_list put.err)"
expect_eq "pipe: sha256" "$(sha256sum <stream)" "$(bm get data/stream | sha256sum)"
printf 'short' | bm put --stats - data/short 2>put.err || fail "put short pipe"
expect_eq "short pipe: one Put Blob" 1 "$(stat_of put put.err)"
expect_eq "short pipe: no Put Block" 0 "$(stat_of put_block put.err)"
expect_eq "short pipe: content" short "$(bm get data/short)"
: | bm put - data/empty-pipe || fail "put of an empty pipe"
expect_eq "empty pipe: size" 0 "$(azb get data empty-pipe | wc -c)"
bm put - data/from-file <big || fail "put - <file"
expect_eq "stdin from a file: sha256" "$want" "$(azb get data from-file | sha256sum)"
echo "ok: stdin (pipe and file) and stdout round-trip"

echo "--- ls with prefix and delimiter"
bm mb tree || fail "mb tree"
for n in dir/a dir/b dir/sub/c top; do
	printf '%s' "$n" | bm put - "tree/$n" || fail "put tree/$n"
done
# (Azurite sends the prefixes of a page before its blobs: sort.)
expect_eq "ls --delimiter /" "dir/ top" \
	"$(bm ls tree --delimiter / | sort | xargs)"
expect_eq "ls tree/dir/ --delimiter /" "dir/a dir/b dir/sub/" \
	"$(bm ls tree/dir/ --delimiter / | sort | xargs)"
expect_eq "ls --prefix dir/s" "dir/sub/c" "$(bm ls tree --prefix dir/s)"
expect_eq "ls tree/d (prefix in the operand)" "dir/a dir/b dir/sub/c" \
	"$(bm ls tree/d | xargs)"
expect_eq "ls -l of a prefix" "- - dir/" \
	"$(bm ls -l --delimiter / tree | grep ' dir/$' | tr -s ' ' | sed 's/^ //')"
bm ls tree/dir --prefix x 2>/dev/null
expect_eq "prefix given twice: usage error" 2 $?

bm rm --stats tree/top 2>rm.err || fail "rm tree/top"
expect_eq "rm: requests (one Delete Blob)" 1 "$(stat_of requests rm.err)"
expect_eq "rm: Delete Blob requests" 1 "$(stat_of delete rm.err)"

echo "--- mb, rb"
bm mb tree 2>mb.err && fail "mb of an existing container succeeded"
grep -q "already exists" mb.err || fail "mb twice: $(cat mb.err)"
bm rb tree 2>rb.err && fail "rb of a container with blobs succeeded"
grep -q "is not empty" rb.err || fail "rb without --force: $(cat rb.err)"
bm rb --force tree || fail "rb --force"
bm ls tree 2>ls.err && fail "ls of a removed container succeeded"
grep -q "container 'tree' not found" ls.err || fail "ls after rb: $(cat ls.err)"
echo "ok: mb refuses a second time, rb removes"

echo "--- --stats and BLOBMILL_STATS"
BLOBMILL_STATS=1 bm ls data >/dev/null 2>stats.err || fail "ls with stats"
grep -q '^blobmill: stats: requests=1 ' stats.err ||
	fail "BLOBMILL_STATS=1: $(cat stats.err)"
expect_eq "stats: list requests" 1 "$(stat_of list stats.err)"
BLOBMILL_STATS=0 bm ls data 2>&1 >/dev/null | grep -q stats &&
	fail "BLOBMILL_STATS=0 printed stats"

echo "--- --help"
for cmd in ls get put rm mb rb; do
	bm "$cmd" --help >help.out || fail "$cmd --help"
	grep -q "^usage: blobmill $cmd" help.out || fail "$cmd --help: no usage"
done
echo "ok: every command has --help"
exit 0
