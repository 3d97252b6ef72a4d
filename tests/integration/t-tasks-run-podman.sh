#!/bin/bash
# blobmill run --runtime podman --stage: the same hostile names through a
# real container engine, with a local image imported from busybox-static
# (no registry is reachable here). Skipped, with the reason, where podman
# cannot run a container.
. "$top_srcdir/tests/integration/tasks-lib.sh"

tasks_setup
tasks_podman_image

tasks_run_hostile podman "$IMAGE"
