#!/bin/bash
# blobmill run --runtime podman --stage: the same hostile names through a
# real container engine, with a local image imported from busybox-static
# (no registry is reachable here). Skipped, with the reason, where podman
# cannot run a container.
. "$top_srcdir/tests/integration/tasks-lib.sh"

command -v podman >/dev/null || skip "podman is not installed"
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q static ||
	skip "busybox-static is not installed (/bin/busybox)"

tasks_setup

# A one-binary image: busybox and its applets as hard links.
IMAGE="localhost/blobmill-tasks-test:$$"
mkdir -p "$T/rootfs/bin" "$T/rootfs/tmp"
cp /bin/busybox "$T/rootfs/bin/busybox"
"$T/rootfs/bin/busybox" --install "$T/rootfs/bin"
tar -C "$T/rootfs" -c . | podman import -q - "$IMAGE" >/dev/null 2>"$T/err" ||
	skip "podman import failed: $(head -1 "$T/err")"
trap 'podman rmi -f "$IMAGE" >/dev/null 2>&1; azurite_stop; rm -rf "$T"' EXIT
podman --runtime runc run --rm --ulimit nofile=1024:20000 \
	--ulimit nproc=32768:32768 "$IMAGE" /bin/true 2>"$T/err" ||
	skip "podman cannot run a container here: $(head -1 "$T/err")"

tasks_run_hostile podman "$IMAGE"
