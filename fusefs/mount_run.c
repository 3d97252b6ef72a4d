/*
 * mount_run: the mount itself, shared by both command lines. See
 * mount_run.h. Order matters: everything that can fail without a request
 * (mount point, --tmp-path lock, -o options) fails before the one request
 * that proves the credentials, and that request before fuse_mount(), so
 * a failure leaves nothing mounted and exits before detaching.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm_blob.h"
#include "fuse_ops.h"
#include "mount_guard.h"
#include "mount_loop.h"
#include "mount_readahead.h"
#include "mount_run.h"

void mount_job_init(struct mount_job *j)
{
	memset(j, 0, sizeof(*j));
	bmfs_options_init(&j->o);
	bm_http_options_default(&j->ho);
	bm_config_init(&j->cfg);
	j->level = BM_LOG_WARNING;
}

void mount_job_release(struct mount_job *j)
{
	fuse_opt_free_args(&j->args);
	free(j->fo.mountpoint);
	bmfs_options_release(&j->o);
	bm_config_release(&j->cfg);
	memset(j, 0, sizeof(*j));
}

/* Skips the "cannot access container 'X': " and "cannot list 'X': "
 * contexts the client adds: "cannot mount 'X'" already says it. */
static const char *strip_context(const char *msg)
{
	static const char *const ctx[] = {"cannot access container '",
					  "cannot list '"};
	const char *end;
	size_t i;

	for (i = 0; i < sizeof(ctx) / sizeof(ctx[0]); i++) {
		if (strncmp(msg, ctx[i], strlen(ctx[i])) != 0)
			continue;
		end = strstr(msg, "': ");
		if (!end)
			break;
		msg = end + 3;
		i = (size_t)-1; /* the next context may be either */
	}
	return msg;
}

void mount_report(const char *container, const struct bm_error *err)
{
	const char *cat = bm_errc_str(err->code),
		   *msg = strip_context(err->msg);
	const char *from_cat = strstr(msg, cat);
	char what[160], detail[96] = "";

	snprintf(what, sizeof(what), PROG ": cannot mount '%s'", container);
	if (err->http_status)
		snprintf(detail, sizeof(detail), " (%ld%s%s)", err->http_status,
			 err->azure_code[0] ? " " : "", err->azure_code);
	if (err->http_status && err->code == BM_ERR_AUTH)
		fprintf(stderr,
			"%s: %s%s: check the account key or SAS token (and "
			"the clock)\n",
			what, cat, detail);
	else if (err->http_status && err->code == BM_ERR_PERMISSION)
		fprintf(stderr,
			"%s: %s%s: the SAS token or key may not list the "
			"container (a SAS needs at least 'rl')\n",
			what, cat, detail);
	else if (err->code == BM_ERR_NO_CONTAINER)
		fprintf(stderr, "%s: %s%s: create it with 'blobmill mb %s'\n",
			what, cat, detail, container);
	else if (err->http_status && !from_cat)
		fprintf(stderr, "%s: %s%s: %s\n", what, cat, detail, msg);
	else if (from_cat || err->code == BM_ERR_CONFIG ||
		 err->code == BM_ERR_INVALID)
		fprintf(stderr, "%s: %s\n", what, from_cat ? from_cat : msg);
	else
		fprintf(stderr, "%s: %s: %s\n", what, cat, msg);
}

/* Whether the -o options in args (as "-oA,B" or "-o" "A,B") hold opt,
 * exactly. */
static bool has_fuse_opt(const struct fuse_args *args, const char *opt)
{
	size_t len = strlen(opt);
	int i;

	for (i = 0; i < args->argc; i++) {
		const char *p = args->argv[i];

		if (strncmp(p, "-o", 2) != 0)
			continue;
		p += 2;
		if (!*p && i + 1 < args->argc)
			p = args->argv[++i];
		while (*p) {
			size_t n = strcspn(p, ",");

			if (n == len && strncmp(p, opt, len) == 0)
				return true;
			p += n + (p[n] == ',');
		}
	}
	return false;
}

int mount_run(struct mount_job *j)
{
	struct bm_blob_client *client = NULL;
	struct bm_error err;
	struct bmfs *fs = NULL;
	struct fuse *f = NULL;
	const char *mp = j->fo.mountpoint;
	char *canon = NULL;
	int rc = EXIT_MOUNT, mounted = 0, lock_fd = -1;

	bm_error_clear(&err);
	if (mount_guard_mountpoint(mp, &err) != 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	/* Before anything is put in it (the lock, the local copies). */
	if (bmfs_tmp_check(j->o.tmp_path, &err) != 0) {
		fprintf(stderr, PROG ": cannot mount '%s': %s\n",
			j->cfg.container, err.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	j->o.open_to_all = has_fuse_opt(&j->args, "allow_other") &&
			   !has_fuse_opt(&j->args, "default_permissions");
	lock_fd = mount_guard_lock_tmp(j->o.tmp_path, &err);
	if (lock_fd < 0) {
		fprintf(stderr, PROG ": cannot mount '%s': %s\n",
			j->cfg.container, err.msg);
		goto out;
	}
	mount_guard_note_owner(lock_fd, mp);
	rc = EXIT_USAGE; /* until the request: configuration problems */
	client = bm_blob_client_new_azure(&j->cfg, &j->ho, &err);
	if (!client) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	fs = bmfs_new(client, j->cfg.container, &j->o, &err);
	client = NULL; /* bmfs_new took it */
	if (!fs) {
		fprintf(stderr, PROG ": cannot mount '%s': %s\n",
			j->cfg.container, err.msg);
		goto out;
	}
	/* Parses (and rejects unknown) -o options before any request. */
	f = fuse_new(&j->args, &bmfs_fuse_ops, sizeof(bmfs_fuse_ops), fs);
	if (!f)
		goto out;
	rc = EXIT_MOUNT;
	if (bmfs_check_root(fs, &err) != 0) {
		mount_report(fs->container, &err);
		goto out;
	}
	/* Before the mount: resolving the path after would ask us. */
	canon = realpath(mp, NULL);
	if (fuse_mount(f, mp) != 0) {
		fprintf(stderr, PROG ": cannot mount '%s' on '%s'\n",
			fs->container, mp);
		goto out;
	}
	mounted = 1;
	if (j->o.readahead_blocks != 0 && canon &&
	    mount_readahead_set(canon, MOUNT_READAHEAD_KB) != 0)
		bm_debug("'%s': kernel readahead left as it was: %s", mp,
			 strerror(errno));
	if (fuse_set_signal_handlers(fuse_get_session(f)) != 0 ||
	    fuse_daemonize(j->fo.foreground) != 0) {
		fprintf(stderr, PROG ": cannot start the daemon\n");
		goto out;
	}
	mount_guard_note_owner(lock_fd, mp); /* the daemon's own PID */
	/* Detached: stderr is gone, syslog takes the log. */
	bm_log_init(PROG, j->level, !j->fo.foreground);
	bm_info("mounted container '%s' on '%s'", fs->container, mp);
	if (j->fo.singlethread)
		rc = fuse_loop(f);
	else
		rc = mount_loop_mt(f, j->fo.clone_fd, MOUNT_MAX_THREADS);
	rc = rc == 0 ? 0 : EXIT_MOUNT;
	fuse_remove_signal_handlers(fuse_get_session(f));
out:
	if (mounted)
		fuse_unmount(f);
	if (f)
		fuse_destroy(f);
	bmfs_free(fs);
	bm_blob_client_free(client);
	free(canon);
	if (lock_fd >= 0)
		close(lock_fd); /* after bmfs_free: its last uploads are done */
	return rc;
}
