/*
 * bmfs_lifecycle: a mount built from its parts and taken down again:
 * bmfs_new (the options, the attribute cache, the read budget, the
 * tmp-path layout, the file cache, the pending uploads an earlier run
 * left), bmfs_start (the worker pool and the thread that retries failed
 * uploads) and bmfs_free. The one file that calls every module; none
 * calls it back.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"
#include "bmfs_mount.h"

static double mono_clock(void *ud)
{
	struct timespec ts;

	(void)ud;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A condition whose timed waits use CLOCK_MONOTONIC (immune to clock
 * changes). */
static void init_monotonic_cond(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

struct bmfs *bmfs_new(struct bm_blob_client *client, const char *container,
		      const struct bmfs_options *opt, struct bm_error *err)
{
	struct bmfs *fs = calloc(1, sizeof(*fs));

	if (!fs) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		bm_blob_client_free(client);
		return NULL;
	}
	fs->client = client;
	fs->opt = *opt;
	fs->opt.tmp_path = opt->tmp_path ? strdup(opt->tmp_path) : NULL;
	fs->container = strdup(container);
	fs->clock = mono_clock;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->mount_time = time(NULL);
	pthread_mutex_init(&fs->lock, NULL);
	init_monotonic_cond(&fs->retry_cond);
	fs->cache = bmfs_cache_new();
	fs->rbudget = bmfs_rbudget_new(
	    fs->opt.read_budget_mb ? (uint64_t)fs->opt.read_budget_mb << 20
				   : 0);
	if (!fs->container || !fs->cache || !fs->rbudget || !fs->opt.tmp_path) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (fs->opt.block_size_mb == 0 || fs->opt.max_concurrency == 0) {
		bm_error_set(err, BM_ERR_INVALID,
			     "block size and concurrency must be positive");
		goto fail;
	}
	if (bmfs_tmp_init(fs, err) != 0 || bmfs_fcache_init(fs, err) != 0)
		goto fail;
	/* Before anything is served: a name with a pending upload must show
	 * its local content, and a new write must continue it. */
	bmfs_tmp_scan(fs, bmfs_wfile_recovered);
	return fs;
fail:
	bmfs_free(fs);
	return NULL;
}

/* Every retry_interval, queues the upload of each local copy whose upload
 * failed and that no handle holds: "kept until uploaded" while mounted,
 * not only at the next flush or start. */
static void *retry_main(void *ud)
{
	struct bmfs *fs = ud;
	struct timespec ts;
	double at;

	pthread_mutex_lock(&fs->lock);
	while (!fs->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		at = (double)ts.tv_nsec / 1e9 + fs->opt.retry_interval;
		ts.tv_sec += (time_t)at;
		ts.tv_nsec = (long)((at - (double)(time_t)at) * 1e9);
		pthread_cond_timedwait(&fs->retry_cond, &fs->lock, &ts);
		if (fs->stopping)
			break;
		pthread_mutex_unlock(&fs->lock);
		bmfs_wfile_retry_all(fs);
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

int bmfs_start(struct bmfs *fs)
{
	fs->pool = bmfs_pool_new(fs->opt.max_concurrency + 2);
	if (!fs->pool)
		return -1;
	bmfs_wfile_retry_all(fs);
	fs->retry_started =
	    pthread_create(&fs->retry_thread, NULL, retry_main, fs) == 0;
	if (!fs->retry_started)
		bm_warn("cannot start the upload retry thread: failed uploads "
			"are retried at the next flush or mount only");
	return 0;
}

void bmfs_free(struct bmfs *fs)
{
	if (!fs)
		return;
	if (fs->retry_started) {
		pthread_mutex_lock(&fs->lock);
		fs->stopping = true;
		pthread_cond_signal(&fs->retry_cond);
		pthread_mutex_unlock(&fs->lock);
		pthread_join(fs->retry_thread, NULL);
	}
	/* Jobs next: they use wfiles and the client. */
	bmfs_pool_free(fs->pool);
	bmfs_wfile_free_all(fs);
	bmfs_fcache_free(fs);
	bmfs_kcache_free(fs);
	bmfs_rbudget_free(fs->rbudget);
	bmfs_cache_free(fs->cache);
	if (!fs->client_borrowed)
		bm_blob_client_free(fs->client);
	pthread_mutex_destroy(&fs->lock);
	pthread_cond_destroy(&fs->retry_cond);
	bmfs_options_release(&fs->opt);
	free(fs->container);
	free(fs->files_dir);
	free(fs->cache_dir);
	free(fs);
}
