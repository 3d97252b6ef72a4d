/*
 * mount_loop: the daemon's multi-threaded FUSE loop, with enough worker
 * threads for a node's tasks.
 *
 * Every call that waits on the service holds one libfuse worker thread
 * for as long as it waits: a close uploading its file, a read waiting
 * for its stream, a lookup's List. libfuse starts at most 10 workers
 * unless told otherwise, so with 32 tasks at once the 11th close waited
 * for one of the first ten to finish (a mount behind a proxy holding each
 * request 1 s: 32 small files closed at once took 7 s, at most 10
 * requests in flight). Threads that have nothing to do cost a stack and
 * libfuse's receive buffer only where touched.
 *
 * This file alone asks for libfuse's 3.12 API (fuse_loop_config setters);
 * with an older libfuse it runs the old loop and its 10 workers.
 */
#include "config.h"

#ifdef HAVE_FUSE_LOOP_CONFIG
#define FUSE_USE_VERSION 312
#else
#define FUSE_USE_VERSION 31
#endif

#include <fuse.h>

#include "mount_loop.h"

int mount_loop_mt(struct fuse *f, int clone_fd, unsigned max_threads)
{
#ifdef HAVE_FUSE_LOOP_CONFIG
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int rc;

	if (!cfg)
		return -1;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)clone_fd);
	fuse_loop_cfg_set_max_threads(cfg, max_threads);
	rc = fuse_loop_mt(f, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
#else
	(void)max_threads;
	return fuse_loop_mt(f, clone_fd);
#endif
}
