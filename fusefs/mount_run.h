/*
 * mount_run: what both command lines end in. blobfuse v1's form (main.c)
 * and blobfuse2's (bf2_cli.c) each fill a mount_job; mount_run() checks
 * the mount point and --tmp-path, proves the credentials and the container
 * with one request, mounts, detaches and serves until unmounted.
 */
#ifndef MOUNT_RUN_H
#define MOUNT_RUN_H

#define FUSE_USE_VERSION 31

#include <fuse.h>
#include <fuse_lowlevel.h>

#include "bm_config.h"
#include "bm_http.h"
#include "bm_log.h"
#include "bmfs.h"

#define PROG "blobmill-fuse"

enum { EXIT_MOUNT = 1, EXIT_USAGE = 2 };

struct mount_job {
	struct fuse_args args;	     /* what libfuse parses (fuse_new):
				      * program name, -o options */
	struct fuse_cmdline_opts fo; /* mount point, -f, -d */
	struct bmfs_options o;	     /* o.tmp_path set */
	struct bm_http_options ho;
	struct bm_config cfg; /* validated (bm_config_finish) */
	enum bm_log_level level;
};

/* Defaults everywhere; args empty. */
void mount_job_init(struct mount_job *j);
void mount_job_release(struct mount_job *j);

/* Mounts and serves; returns the exit status. Errors: one line on stderr. */
int mount_run(struct mount_job *j);

/* Prints "blobmill-fuse: cannot mount 'CONTAINER': CAUSE" with what to do,
 * in one line (the error's own "cannot ..." context is not repeated). */
void mount_report(const char *container, const struct bm_error *err);

#endif
