/*
 * mount_loop: libfuse's multi-threaded loop with a worker-thread limit of
 * our choosing (mount_loop.c says why). Kept apart from mount_run.h: its
 * file compiles against a newer libfuse API than the rest of the daemon.
 */
#ifndef MOUNT_LOOP_H
#define MOUNT_LOOP_H

struct fuse;

/* Worker threads a mount may run at once: one per call waiting on the
 * service, for up to 64 task slots. */
#define MOUNT_MAX_THREADS 64

/* Serves f until unmounted, with up to max_threads workers (libfuse
 * 3.12 or later; an older one keeps its own limit). fuse_loop_mt's
 * return value. */
int mount_loop_mt(struct fuse *f, int clone_fd, unsigned max_threads);

#endif
