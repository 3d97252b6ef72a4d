# tests/integration/tasks-lib.sh: what the `blobmill tasks`/`run` tests
# share: a container of hostile blob names, an "app" that writes its argv
# and its input to its output file, and the byte-for-byte check of every
# output against what the app must have received.

. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"

# Names Azure allows that break naive quoting (one per array element).
# No backslash here: Azurite stores 'a\b' as 'a/b' (the unit tests cover
# backslashes in the quoting round trip).
HOSTILE_NAMES=(
	"plain.txt"
	"with space.txt"
	"it's.txt"
	'quote"d.txt'
	'back`tick`.txt'
	'$(touch SENTINEL).txt'
	'semi;colon&amp|pipe*star?.txt'
	$'new\nline.txt'
	$'tab\there.txt'
	"-leading-dash.txt"
	"--help"
	"unicode-ĉevalo-日本語-😀.txt"
	'{name}}.txt'
	"dir/sub/nested.txt"
	"dir/it's a \"dir\"/x.txt"
)

# A 1,024-character name (the Azure maximum) made of hostile pieces, in
# folders so that no component passes Linux's 255-byte NAME_MAX.
tasks_long_name() {
	local piece="long-a'b\"c\$(d)\`e\` f;g|/" s=""
	while [ ${#s} -lt 1024 ]; do s="$s$piece"; done
	printf '%s' "${s:0:1024}"
}

# tasks_setup: Azurite, containers data-in (hostile names) and data-out,
# and the app in $T/app/argv.sh. Sets T.
tasks_setup() {
	T=$(test_dir)
	trap 'azurite_stop; rm -rf "$T"' EXIT
	azurite_start || fail "azurite did not start"
	"$BLOBMILL" mb data-in || fail "mb data-in"
	"$BLOBMILL" mb data-out || fail "mb data-out"
	local n
	for n in "${HOSTILE_NAMES[@]}"; do
		printf 'content of %s' "$n" | "$BLOBMILL" put - "data-in/$n" ||
			fail "put '$n'"
	done
	mkdir -p "$T/app"
	# The app: OUT then arguments; writes each argument NUL-terminated,
	# then the bytes of the last argument's file (the staged input).
	cat >"$T/app/argv.sh" <<'EOF'
#!/bin/sh
out=$1
shift
for last; do :; done
{
	for a; do printf '%s\0' "$a"; done
	cat "$last"
} >"$out"
EOF
	chmod 755 "$T/app/argv.sh"
}

# tasks_expect NAME: the bytes the app writes for blob NAME with
# --command '/app/argv.sh {out} {name} {basename} {in}'.
tasks_expect() {
	local name=$1
	printf '%s\0' "$name" "${name##*/}" "/data-in/$name"
	printf 'content of %s' "$name"
}

# tasks_check_outputs OUTPUT-PREFIX SUFFIX NAME...: every output blob
# PREFIX+NAME+SUFFIX equals what the app must have written, byte for byte.
tasks_check_outputs() {
	local prefix=$1 suffix=$2 n i=0
	shift 2
	for n in "$@"; do
		"$BLOBMILL" get "data-out/$prefix$n$suffix" "$T/got" ||
			fail "output of '$n' missing"
		tasks_expect "$n" >"$T/want"
		cmp -s "$T/got" "$T/want" || {
			od -c "$T/got" | head -5 >&2
			od -c "$T/want" | head -5 >&2
			fail "output of '$n' differs"
		}
		i=$((i + 1))
	done
	echo "ok: $i outputs equal byte for byte"
}

# tasks_run_hostile RUNTIME IMAGE: runs the app over every hostile name
# (staged, outputs in folders) and checks every output and that no name
# ran as a command.
tasks_run_hostile() {
	"$BLOBMILL" run --runtime "$1" --image "$2" --stage --parallel 3 \
		--input data-in --output data-out \
		--command '/app/argv.sh {out} {name} {basename} {in}' \
		--output-name 'res/{name}.out' \
		--run-options "--volume $T/app:/app --volume /mnt/data-in:/data-in --volume /mnt/data-out:/data-out" \
		--run-dir "$T/run" >"$T/log" 2>&1 || {
		cat "$T/log" >&2
		fail "run --runtime $1 failed"
	}
	local n=${#HOSTILE_NAMES[@]}
	grep -q "^run: $n tasks: $n succeeded, 0 failed" "$T/log" ||
		{ cat "$T/log" >&2; fail "summary"; }
	tasks_check_outputs res/ .out "${HOSTILE_NAMES[@]}"
	[ -z "$(find "$T" -name SENTINEL)" ] ||
		fail "a blob name ran as a command"
	echo "ok: --runtime $1: no command substitution ran"
}

# tasks_podman_image: skips unless podman can run a container here; then
# imports a one-binary image (busybox-static and its applets as hard
# links; no registry is reachable) and sets IMAGE. Call after
# tasks_setup: it replaces the EXIT trap to remove the image too.
tasks_podman_image() {
	command -v podman >/dev/null || skip "podman is not installed"
	[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null |
		grep -q static ||
		skip "busybox-static is not installed (/bin/busybox)"
	IMAGE="localhost/blobmill-tasks-test:$$"
	mkdir -p "$T/rootfs/bin" "$T/rootfs/tmp"
	cp /bin/busybox "$T/rootfs/bin/busybox"
	"$T/rootfs/bin/busybox" --install "$T/rootfs/bin"
	tar -C "$T/rootfs" -c . | podman import -q - "$IMAGE" >/dev/null \
		2>"$T/err" || skip "podman import failed: $(head -1 "$T/err")"
	trap 'podman rmi -f "$IMAGE" >/dev/null 2>&1; azurite_stop; rm -rf "$T"' EXIT
	podman --runtime runc run --rm --ulimit nofile=1024:20000 \
		--ulimit nproc=32768:32768 "$IMAGE" /bin/true 2>"$T/err" ||
		skip "podman cannot run a container here: $(head -1 "$T/err")"
}
