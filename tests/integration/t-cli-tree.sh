#!/usr/bin/env bash
# t-cli-tree.sh: put -r / get -r / rm -r and the cp-style destinations,
# against a private Azurite, checked by a second client (azblob.py):
#   - a tree of hostile names (spaces, quotes, $(), a newline, a 1,024-
#     character blob name) round-trips byte for byte, folders included;
#   - a rerun transfers nothing (resumable), and after deleting some local
#     files or blobs, only those go again;
#   - names that cannot be represented are refused by name, the rest go;
#   - rm -r prints the count and leaves the neighbouring "xy/" alone;
#   - ls with no argument lists the containers; put f data/ keeps f's name.
. "$top_srcdir/tests/integration/cli-lib.sh"

bm mb tree || fail "mb tree"

echo "--- ls alone lists containers"
bm mb other-one || fail "mb other-one"
expect_eq "ls of the account" "$(printf 'other-one\ntree')" "$(bm ls)"
bm ls --output json >ls.json || fail "ls --output json"
python3 -c 'import json,sys; d=json.load(open("ls.json")); assert [c["name"] for c in d]==["other-one","tree"], d' ||
	fail "ls --output json of containers"
echo "ok: ls --output json lists the containers"

echo "--- cp-style destinations"
printf 'one\n' >'a file.txt'
bm put 'a file.txt' tree/ || fail "put FILE CONTAINER/"
bm put 'a file.txt' other-one || fail "put FILE CONTAINER"
bm put 'a file.txt' tree/sub/ || fail "put FILE CONTAINER/DIR/"
expect_eq "names kept" "$(printf 'a file.txt\nsub/a file.txt')" "$(bm ls tree)"
expect_eq "container alone keeps the name" "a file.txt" "$(bm ls other-one)"
mkdir into
bm get 'tree/sub/a file.txt' into || fail "get into a directory"
cmp -s 'a file.txt' 'into/a file.txt' || fail "get into a directory: bytes"
err=$(bm put - tree/ </dev/null 2>&1) && fail "put - CONTAINER/ must fail"
case "$err" in *"standard input has no file name"*) echo "ok: $err" ;;
*) fail "put - CONTAINER/: $err" ;; esac
err=$(bm get 'tree/a file.txt' nosuchdir/ 2>&1) && fail "get into a missing dir"
case "$err" in *"no such directory"*) echo "ok: $err" ;;
*) fail "get into a missing dir: $err" ;; esac
err=$(bm put into tree/x 2>&1) && fail "put DIR without -r must fail"
case "$err" in *"use put -r"*) echo "ok: $err" ;; *) fail "put DIR: $err" ;; esac
bm rm -r tree >/dev/null || fail "empty the container"

echo "--- put -r of a tree of hostile names"
mkdir -p src/'with space' src/"it's" src/'$(touch pwned)' src/deep/er/est src/empty
printf 'space\n' >src/'with space/f 1.txt'
printf 'quote\n' >src/"it's/\"dq\".txt"
printf 'subst\n' >src/'$(touch pwned)/`x`.txt'
printf 'newline\n' >src/$'new\nline.txt'
printf 'deep\n' >src/deep/er/est/file
head -c 300000 /dev/urandom >src/deep/big.bin
: >src/empty.txt
# "batch/" + four folders of 200 + a file of 214: 1,024 characters, the
# longest blob name (a local name holds at most 255 bytes).
d200=$(printf '%200s' '' | tr ' ' 'D')
longdir="src/$d200/$d200/$d200/$d200"
mkdir -p "$longdir" && printf 'long\n' >"$longdir/$(printf '%214s' '' | tr ' ' 'F')"
nfiles=$(find src -type f -print0 | tr -cd '\0' | wc -c)
bm put -r src tree/batch 2>put.err || { cat put.err; fail "put -r"; }
grep -q "^put: $((nfiles + 1)) files uploaded" put.err || fail "put -r summary: $(cat put.err)"
# The second client sees every file under batch/, byte for byte.
{ (cd src && find . -type f -print0) && printf './empty\0'; } |
	sed -z 's|^\./|batch/|' | sort -z >want.0
azb list tree | sort -z >have.0 || fail "second client: list"
cmp -s want.0 have.0 || fail "put -r: the blobs are not the files"
while IFS= read -r -d '' f; do
	azb get tree "batch/$f" >one || fail "second client: get '$f'"
	cmp -s "src/$f" one || fail "put -r: '$f' differs"
done < <(cd src && find . -type f -printf '%P\0')
[ ! -e pwned ] || fail "a name was run as a command"
echo "ok: put -r uploads $nfiles files and an empty folder, hostile names byte for byte"

echo "--- put -r again: nothing to do"
bm put -r src tree/batch --stats 2>again.err || fail "put -r again"
grep -q "^put: 0 files uploaded (0 B), $((nfiles + 1)) already complete, 0 failed" again.err ||
	fail "put -r rerun: $(cat again.err)"
expect_eq "put -r rerun sends no block" 0 "$(stat_of put again.err)"

echo "--- get -r of the tree"
bm get -r tree/batch out 2>get.err || { cat get.err; fail "get -r"; }
grep -q "^get: $nfiles files downloaded" get.err || fail "get -r summary: $(cat get.err)"
diff -r src out >/dev/null || fail "get -r: the tree differs"
[ -z "$(find out -name '.blobmill-get-*')" ] || fail "get -r left a temporary"
echo "ok: get -r gives back the tree"

echo "--- get -r again, after losing two files: only those come back"
rm out/deep/big.bin out/"with space/f 1.txt"
bm get -r tree/batch out --stats 2>again.err || fail "get -r again"
grep -q "^get: 2 files downloaded" again.err || fail "get -r resume: $(cat again.err)"
expect_eq "get -r resume fetches two blobs" 2 "$(stat_of get again.err)"
diff -r src out >/dev/null || fail "get -r resume: the tree differs"
# A file of the right size but another time is fetched again.
touch -d '2001-01-01' out/deep/er/est/file
bm get -r tree/batch out 2>again.err || fail "get -r, stale file"
grep -q "^get: 1 file downloaded" again.err || fail "stale file: $(cat again.err)"
echo "ok: get -r resumes"

echo "--- a blob that cannot be a local file is named, the rest arrive"
printf 'x' | bm put - 'tree/bad/a/../b' || fail "put a/../b"
printf 'y' | bm put - 'tree/bad/good' || fail "put good"
err=$(bm get -r tree/bad bad 2>&1) && fail "get -r of a '..' name must fail"
case "$err" in *"cannot save 'tree/bad/a/../b'"*"'..'"*) ;;
*) fail "get -r '..': $err" ;; esac
[ -f bad/good ] && [ ! -e b ] && [ ! -e bad/b ] || fail "get -r '..': wrong files"
echo "ok: get -r refuses '..' by name and gets the rest"

echo "--- a local name that cannot be a blob is named, the rest go"
mkdir -p badsrc
printf 'ok' >badsrc/fine
printf 'no' >badsrc/$'latin1-\xe9'
mkfifo badsrc/fifo
err=$(bm put -r badsrc tree/badsrc 2>&1) && fail "put -r of a non-UTF-8 name must fail"
case "$err" in *"not UTF-8"*) ;; *) fail "put -r non-UTF-8: $err" ;; esac
case "$err" in *"'badsrc/fifo': not a regular file"*) ;; *) fail "put -r fifo: $err" ;; esac
expect_eq "put -r uploads what it can" "badsrc/fine" "$(bm ls tree/badsrc/)"

echo "--- rm -r counts, and a folder is not a prefix"
printf 'z' | bm put - tree/batchy/keep || fail "put batchy/keep"
out=$(bm rm -r tree/batch) || fail "rm -r"
expect_eq "rm -r count" "deleted $((nfiles + 1)) blobs under 'tree/batch/'" "$out"
expect_eq "rm -r spares batchy/" "batchy/keep" "$(bm ls tree/batch)"
err=$(bm rm -r tree/batch 2>&1) && fail "rm -r of nothing must fail"
case "$err" in *"no blobs under 'tree/batch/'"*) echo "ok: $err" ;;
*) fail "rm -r of nothing: $err" ;; esac

echo "--- rb refuses a container with blobs"
err=$(bm rb tree 2>&1) && fail "rb of a non-empty container must fail"
case "$err" in *"is not empty"*"--force"*) echo "ok: $err" ;; *) fail "rb: $err" ;; esac
bm rb --force tree || fail "rb --force"
bm rb other-one 2>/dev/null && fail "rb of other-one (not empty) must fail"
echo "ok: rb"
