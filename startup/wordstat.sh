#!/bin/sh
# wordstat.sh: the demo's one-file-in, one-file-out task. Reads INPUT once
# for its line, word and byte counts and once for its SHA-256, and writes a
# five-line report to OUTPUT (creating OUTPUT's directory). POSIX sh with
# wc and sha256sum only, so it runs the same in the busybox image and on
# the host.
#
#   sh wordstat.sh INPUT OUTPUT
set -eu

if [ $# -ne 2 ]; then
	echo "usage: wordstat.sh INPUT OUTPUT" >&2
	exit 2
fi
in=$1
out=$2

# "wc -l -w -c" prints lines, words, bytes in that order (coreutils and
# busybox alike); the spacing differs, so split on blanks.
# shellcheck disable=SC2046
set -- $(wc -l -w -c <"$in")
lines=$1 words=$2 bytes=$3
sum=$(sha256sum <"$in")
sum=${sum%% *}

mkdir -p "$(dirname "$out")"
printf 'file: %s\nlines: %s\nwords: %s\nbytes: %s\nsha256: %s\n' \
	"${in##*/}" "$lines" "$words" "$bytes" "$sum" >"$out"
