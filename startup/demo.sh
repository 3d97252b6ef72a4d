#!/usr/bin/env bash
# startup/demo.sh: the whole blobmill pipeline on one machine, in one
# command, as root on Debian 12:
#
#   Azurite (local) --> data-in --blobmill-fuse--> MNT/data-in ---+
#                                                                 | one task per blob
#   Azurite (local) <-- data-out <-blobmill-fuse-- MNT/data-out <-+ (podman or host)
#
# 1. installs the Debian packages that are missing (tests/lib/deps.sh);
# 2. builds the tree in DEMO_DIR/build (autoreconf, configure, make);
# 3. starts a private Azurite (tests/lib/azurite.sh; npm, into the tree);
# 4. fills data-in with sample files (a name with spaces and quotes, one
#    with "$(...)", a nested one, a large one);
# 5. mounts data-in and data-out through the start-task installer
#    (startup/blobmill-startup), with blobfuse-style CRLF config files;
# 6. makes one task per blob (`blobmill tasks`) and runs them (`blobmill
#    run`): in podman with an image built here from busybox-static when
#    podman works, on the host otherwise; the task is startup/wordstat.sh;
# 7. shows the task summary and data-out as a second client sees it
#    (`blobmill ls`), and downloads every output to DEMO_DIR/run/results.
# On exit (Ctrl-C included) it unmounts and stops what it started. Running
# it again starts over.
#
# With DEMO_AUTH=msi no account key is used anywhere: Azurite serves HTTPS
# with OAuth on (--oauth basic, a certificate made with openssl), and
# tests/token_server.py stands in for the node's managed identity (the
# metadata endpoint, reached through msiEndpoint / MSI_ENDPOINT, since
# 169.254.169.254 is not here); the config files say `authType MSI`, and
# every `blobmill` command takes its token from the same stand-in.
#
# Environment:
#   DEMO_DIR       where everything goes (default: _build/demo in the tree)
#   DEMO_RUNTIME   auto (default), podman or host
#   DEMO_BIG_MB    size of the large sample in MiB (default 50)
#   DEMO_AUTH      key (default: the account key) or msi (Entra ID: a
#                  managed identity; no key anywhere)
#   BLOBMILL, BLOBMILL_FUSE  already-built binaries: skip steps 1 and 2
#   AZURITE_HOME   an existing Azurite installation (npm prefix)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=${DEMO_DIR:-$top/_build/demo}
runtime=${DEMO_RUNTIME:-auto}
big_mb=${DEMO_BIG_MB:-50}
auth=${DEMO_AUTH:-key}
image=localhost/blobmill-demo:latest
installer="$top/startup/blobmill-startup"
run="$demo/run"
started=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root: mounting with FUSE and installing packages need it"
case $runtime in auto | podman | host) ;; *) die "DEMO_RUNTIME '$runtime' is not auto, podman or host" ;; esac
case $auth in key | msi) ;; *) die "DEMO_AUTH '$auth' is not key or msi" ;; esac
mkdir -p "$demo"

# --- cleanup: mounts first (the daemons finish their uploads), then Azurite
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e # clean up all of it, whatever fails
	if [ -f "$run/mounts" ]; then
		"$installer" --unmount --mounts "$run/mounts" --prefix "$run/node" \
			>"$run/unmount.log" 2>&1 || cat "$run/unmount.log" >&2
	fi
	if declare -F entra_stop >/dev/null; then
		entra_stop
	elif declare -F azurite_stop >/dev/null; then
		azurite_stop
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# A previous run that was killed may have left its mounts: detach them
# before deleting anything below $run (rm on a live mount deletes blobs).
if [ -d "$run" ]; then
	if [ -f "$run/mounts" ]; then
		"$installer" --unmount --mounts "$run/mounts" --prefix "$run/node" >/dev/null || true
	fi
	if findmnt -rn -o TARGET | grep -qF "$run/"; then
		die "something is still mounted under '$run'; unmount it first"
	fi
	rm -rf --one-file-system "$run"
fi
mkdir -p "$run"

# --- 1, 2: packages and build ------------------------------------------------
if [ -n "${BLOBMILL:-}" ] && [ -n "${BLOBMILL_FUSE:-}" ]; then
	step "using built binaries: $BLOBMILL, $BLOBMILL_FUSE"
	build=${top_builddir:-$demo/build}
else
	step "installing missing Debian packages"
	# shellcheck source=tests/lib/deps.sh
	. "$top/tests/lib/deps.sh"
	deps_install
	echo "packages: all there"
	build="$demo/build"
	# A tree configured in place cannot also be built out of tree.
	[ ! -f "$top/config.status" ] || build=$top
	step "building in $build"
	mkdir -p "$build"
	log="$demo/build.log"
	{
		[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
		[ -f "$build/Makefile" ] || (cd "$build" && "$top/configure" --enable-werror)
		make -C "$build" -j"$(nproc)"
	} >"$log" 2>&1 || {
		tail -n 30 "$log" >&2
		die "build failed; the whole log is '$log'"
	}
	echo "built (log: $log)"
	BLOBMILL="$build/task-template/blobmill"
	BLOBMILL_FUSE="$build/fusefs/blobmill-fuse"
fi
for b in "$BLOBMILL" "$BLOBMILL_FUSE"; do
	[ -x "$b" ] || die "'$b' is not an executable"
done
# Options every command takes after its name (the CA, with DEMO_AUTH=msi).
cred=()
bm() { "$BLOBMILL" "$1" "${cred[@]}" "${@:2}"; }

# --- the task's runtime: podman with a busybox image, or the host -------------
# This image is the app: busybox-static and wordstat.sh, nothing else.
build_image() {
	local root="$run/image/rootfs" a
	command -v podman >/dev/null && [ -x /bin/busybox ] || return 1
	mkdir -p "$root/bin" "$root/app" "$root/data-in" "$root/data-out" "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	cp "$top/startup/wordstat.sh" "$root/app/wordstat.sh"
	# Fixed owners and times: the same tree gives the same image.
	tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$run/image/rootfs.tar" . &&
		podman import --change 'ENV PATH=/bin' --change 'WORKDIR /app' \
			"$run/image/rootfs.tar" "$image" >"$run/image/import.log" 2>&1
}

# The same podman command line `blobmill run` uses (runc and explicit
# ulimits, which unprivileged CI containers need).
podman_works() {
	podman --runtime runc run --rm --ulimit nofile=1024:20000 \
		--ulimit nproc=32768:32768 "$image" true >"$run/image/probe.log" 2>&1
}

if [ "$runtime" != host ]; then
	step "building the task image $image from busybox-static"
	if build_image && podman_works; then
		runtime=podman
		echo "podman works: tasks run in $image"
	elif [ "$runtime" = podman ]; then
		die "podman does not work here (see '$run/image/probe.log'); DEMO_RUNTIME=host runs the tasks on the host"
	else
		runtime=host
		echo "podman does not work here (see '$run/image/probe.log'): tasks run on the host"
	fi
fi

# --- 3: Azurite ----------------------------------------------------------------
export TEST_TMPDIR="$run"
top_srcdir=$top # entra.sh finds tests/token_server.py by it
top_builddir=$build
: "${AZURITE_HOME:=$build/tests/.azurite}"
export AZURITE_HOME
if [ "$auth" = key ]; then
	step "starting a private Azurite"
	# shellcheck source=tests/lib/azurite.sh
	. "$top/tests/lib/azurite.sh"
	azurite_start || die "Azurite did not start"
else
	step "starting a private Azurite (HTTPS, OAuth) and the managed identity's stand-in"
	skip() { die "$*"; } # what entra.sh calls when openssl is missing
	# shellcheck source=tests/lib/entra.sh
	. "$top/tests/lib/entra.sh"
	entra_start || die "Azurite or the token service did not start"
	# The node's environment with a managed identity: account and
	# endpoint, no key, no SAS; the token comes from the metadata
	# endpoint (MSI_ENDPOINT without MSI_SECRET: the IMDS protocol).
	export AZURE_STORAGE_ACCOUNT="$AZURITE_ACCOUNT" \
		AZURE_STORAGE_BLOB_ENDPOINT="$AZURITE_ENDPOINT" \
		AZURE_STORAGE_AUTH_TYPE=MSI MSI_ENDPOINT="$ENTRA_IMDS"
	cred=(--ca-cert-file="$ENTRA_CA")
	echo "token service (managed identity): $ENTRA_IMDS (pid $ENTRA_PID)"
fi
trap cleanup EXIT # azurite_start / entra_start set their own
echo "Azurite: $AZURITE_ENDPOINT (pid $AZURITE_PID)"

# --- 4: sample data in data-in ---------------------------------------------------
step "filling data-in with sample files"
samples="$run/samples"
mkdir -p "$samples/reports"
printf 'hello, blobmill\nthis file went from a blob to a task and back\n' >"$samples/hello.txt"
printf 'a name with spaces and "quotes"\nthat reaches the task as one argument\n' \
	>"$samples/it's a \"quoted\" name.txt"
printf 'echo if this ran, quoting failed\n' >"$samples/\$(echo pwned) name.txt"
printf 'month,files,bytes\n2026-10,12,3400\n2026-11,15,4100\n' >"$samples/reports/2026-11.csv"
# Text (base64 lines), so that every wc counts its words alike.
head -c "$((big_mb * 1024 * 1024 / 4 * 3))" /dev/urandom | base64 -w 76 >"$samples/large-${big_mb}MiB.txt"
bm mb data-in
bm mb data-out
(cd "$samples" && find . -type f -printf '%P\0' | sort -z) |
	while IFS= read -r -d '' name; do
		bm put "$samples/$name" "data-in/$name"
		printf '  data-in/%s (%s bytes)\n' "$name" "$(stat -c %s "$samples/$name")"
	done

# --- 5: mount through the installer ------------------------------------------------
step "mounting data-in and data-out with the start-task installer"
# blobfuse config files, CRLF line ends as Windows editors write them.
for c in data-in data-out; do
	if [ "$auth" = key ]; then
		printf 'accountName %s\r\naccountKey %s\r\ncontainerName %s\r\nauthType Key\r\nblobEndpoint %s\r\n' \
			"$AZURITE_ACCOUNT" "$AZURITE_KEY" "$c" "$AZURITE_ENDPOINT"
	else
		printf 'accountName %s\r\ncontainerName %s\r\nauthType MSI\r\nmsiEndpoint %s\r\nblobEndpoint %s\r\n' \
			"$AZURITE_ACCOUNT" "$c" "$ENTRA_IMDS" "$AZURITE_ENDPOINT"
	fi >"$run/fuse_conn_$c.cfg"
	chmod 600 "$run/fuse_conn_$c.cfg"
done
esc() { printf '%s' "$1" | sed 's/[\\ ]/\\&/g'; } # a mounts-file field
mnt="$run/mnt"
fuse_opts="-o attr_timeout=240 -o entry_timeout=240 -o negative_timeout=120"
[ "$auth" = key ] || fuse_opts="--ca-cert-file=$(esc "$ENTRA_CA") $fuse_opts"
{
	echo "# CONTAINER MOUNTPOINT TMP-PATH CONFIG-FILE [blobmill-fuse options]"
	for c in data-in data-out; do
		echo "$c $(esc "$mnt/$c") $(esc "$run/fusetmp/$c") $(esc "$run/fuse_conn_$c.cfg") $fuse_opts"
	done
} >"$run/mounts"
echo "\$ blobmill-startup --mounts $run/mounts --prefix $run/node"
"$installer" --mounts "$run/mounts" --prefix "$run/node" \
	--fuse "$BLOBMILL_FUSE" --cli "$BLOBMILL"
echo "\$ ls -l $mnt/data-in"
ls -l "$mnt/data-in"

# --- 6: one task per blob, run here ----------------------------------------------
step "one task per blob in data-in ($runtime runtime)"
# Run options are split like Batch splits a command line: quote the paths.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
volumes="--volume $(q "$mnt/data-in:/data-in") --volume $(q "$mnt/data-out:/data-out")"
# On the host the app comes from the tree; in podman it is in the image.
[ "$runtime" = podman ] || volumes="$volumes --volume $(q "$top/startup:/app:ro")"
template=(--image "$image" --run-options "$volumes" --command 'sh /app/wordstat.sh {in} {out}')
tasks=(--input data-in --output data-out "${template[@]}")
bm tasks "${tasks[@]}" >"$run/tasks.json"
python3 - "$run/tasks.json" <<-'EOF'
	import json, sys
	tasks = json.load(open(sys.argv[1]))
	print("%d tasks; the first one:" % len(tasks))
	print(json.dumps(tasks[0], indent=2))
EOF
echo "\$ blobmill run --runtime $runtime --parallel 2 ... (task logs: $run/task-logs)"
bm run "${tasks[@]}" --runtime "$runtime" --parallel 2 --run-dir "$run/task-logs"

# --- 7: what a second client sees ------------------------------------------------
step "data-out, listed by a second client (blobmill ls, not the mount)"
bm ls data-out -l | tee "$run/data-out.ls-l"
bm ls data-out >"$run/data-out.ls"
mkdir -p "$run/results"
(cd "$samples" && find . -type f -printf '%P\0' | sort -z) |
	while IFS= read -r -d '' name; do
		mkdir -p "$(dirname "$run/results/$name")"
		bm get "data-out/$name-result.txt" "$run/results/$name-result.txt"
	done
echo "\$ blobmill get data-out/hello.txt-result.txt"
bm get data-out/hello.txt-result.txt

[ "$auth" = key ] || echo "tokens the managed identity's stand-in issued: $(entra_issued)"
step "done in $(($(date +%s) - started))s; outputs downloaded to $run/results"
