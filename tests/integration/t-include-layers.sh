#!/usr/bin/env bash
# t-include-layers: every #include "..." of src/, fusefs/ and the folders of
# task-template/ follows the arrows of docs/ARCHITECTURE.md's map:
#   - src/ includes only src/; fusefs/ only itself and src/;
#   - in task-template/, only cli/ includes the other folders; template/,
#     batch/ and runner/ include task/ (what a task is), never each other;
#     storage/ includes term/; task/ and term/ only src/.
# Each folder's Makefile.am CPPFLAGS already refuse most such includes; this
# also catches one that a header reaches through another folder's -I (the
# tests' flags allow every folder) and a header name that two folders share.
# Then the same table against task-template/Makefile.am's CPPFLAGS as the
# build expands them. Reads sources and the built Makefile: no network.
set -u
. "$top_srcdir/tests/lib/common.sh"

root=$top_srcdir
tt=task-template
# folder -> the folders its files may include from (its own first).
declare -A allowed=(
	[src]="src"
	[fusefs]="fusefs src"
	[$tt/task]="$tt/task src"
	[$tt/template]="$tt/template $tt/task src"
	[$tt/batch]="$tt/batch $tt/task src"
	[$tt/runner]="$tt/runner $tt/task src"
	[$tt/term]="$tt/term src"
	[$tt/storage]="$tt/storage $tt/term src"
	[$tt/cli]="$tt/cli $tt/template $tt/batch $tt/runner $tt/storage \
$tt/term $tt/task src"
)

# Every source folder must be in the table, so a new one cannot slip by.
while IFS= read -r d; do
	d=${d#"$root"/}
	[ -n "${allowed[$d]+x}" ] ||
		fail "$d holds sources but has no line in t-include-layers.sh"
done < <(find "$root/src" "$root/fusefs" "$root/$tt" -name '*.[ch]' \
	-printf '%h\n' | sort -u)

# header name -> the folder that holds it.
declare -A home=()
for d in "${!allowed[@]}"; do
	for h in "$root/$d"/*.h; do
		[ -e "$h" ] || continue
		h=${h##*/}
		[ -z "${home[$h]+x}" ] ||
			fail "$h is in both ${home[$h]}/ and $d/: which one an" \
				"#include finds depends on the -I order"
		home[$h]=$d
	done
done

bad=0 checked=0
for d in "${!allowed[@]}"; do
	for f in "$root/$d"/*.[ch]; do
		[ -e "$f" ] || continue
		while IFS=: read -r line h; do
			checked=$((checked + 1))
			# config.h is configure's, in the build tree.
			[ "$h" = config.h ] && continue
			from=${home[$h]-}
			if [ -z "$from" ]; then
				echo "${f#"$root"/}:$line: #include \"$h\":" \
					"no source folder holds it" >&2
				bad=1
				continue
			fi
			case " ${allowed[$d]} " in
			*" $from "*) ;;
			*)
				echo "${f#"$root"/}:$line: #include \"$h\" is" \
					"$from/: $d/ may include only" \
					"${allowed[$d]// /, }" >&2
				bad=1
				;;
			esac
		done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
			sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
	done
done
[ "$checked" -gt 100 ] || fail "only $checked includes read: wrong top_srcdir?"
[ "$bad" = 0 ] || fail "includes against the layers (docs/ARCHITECTURE.md, the map)"

# The build allows the same: each task-template/ folder's *_CPPFLAGS, as
# make expands them, name only folders of its line in the table. (A make
# of its own: under `make check` the parent's MAKEFLAGS would add
# "Entering directory" lines and a jobserver warning to the answer.)
declare -A target=(
	[libbmtask_a]=$tt/task [libtasktemplate_a]=$tt/template
	[libbmbatch_a]=$tt/batch [libbmrunner_a]=$tt/runner
	[libbmterm_a]=$tt/term [libbmstorage_a]=$tt/storage [blobmill]=$tt/cli
)
flags=
mk=${top_builddir:-}/$tt/Makefile
if [ -f "$mk" ]; then
	rules="print-cppflags:"
	for t in "${!target[@]}"; do
		rules+=$'\n\t@echo '"$t "'$('"${t}_CPPFLAGS"')'
	done
	flags=$(printf '%b\n' "$rules" |
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
			make -s --no-print-directory -C "${mk%/Makefile}" \
			-f Makefile -f - print-cppflags) ||
		fail "cannot read the CPPFLAGS of $mk"
	[ "$(wc -l <<<"$flags")" = "${#target[@]}" ] ||
		fail "expected ${#target[@]} CPPFLAGS lines from $mk, got: $flags"
	while read -r t rest; do
		d=${target[$t]}
		[ -n "$rest" ] || { echo "$t: no CPPFLAGS" >&2; bad=1; }
		for f in $rest; do
			case $f in
			-I*/src) from=src ;;
			-I*/$tt/*) from=$tt/${f##*/"$tt"/} ;;
			*) from="?$f" ;;
			esac
			case " ${allowed[$d]} " in
			*" $from "*) ;;
			*)
				echo "$tt/Makefile.am: ${t}_CPPFLAGS has $f:" \
					"$d/ may include only ${allowed[$d]// /, }" >&2
				bad=1
				;;
			esac
		done
	done <<<"$flags"
	[ "$bad" = 0 ] || fail "include paths against the layers (task-template/Makefile.am)"
else
	echo "note: $mk not built: CPPFLAGS not checked"
fi
what="$checked includes"
[ -z "$flags" ] || what+=" and ${#target[@]} CPPFLAGS of $tt/Makefile.am"
echo "ok: $what follow the layers"
