/*
 * test-fs-write: the write path of blobmill-fuse's filesystem logic against
 * the in-memory blob service (fixture: fs-fixture.h): what a close, flush
 * or fsync uploads, write-behind blocks (a flush never waits behind other
 * writers' queued sends), two writers, and failed uploads kept and
 * recovered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "fs-fixture.h"

static void test_write_visible_and_uploaded(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h, *r;
	struct names n = {0};
	struct stat st;
	char buf[32] = {0};
	char *got;

	env_mount(e);
	assert_int_equal(bmfs_readdir(e->fs, "/", fill, &n), 0);
	assert_int_equal(n.n, 0);
	assert_int_equal(bmfs_create(e->fs, "/new.txt", O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, "hello ", 6, 0), 6);
	assert_int_equal(bmfs_write(h, "world", 5, 6), 5);
	/* Visible before any upload: size, listing, content. */
	assert_int_equal(bmfs_getattr(e->fs, "/new.txt", &st), 0);
	assert_int_equal(st.st_size, 11);
	n.n = 0;
	assert_int_equal(bmfs_readdir(e->fs, "/", fill, &n), 0);
	assert_true(find_name(&n, "new.txt") >= 0);
	assert_int_equal(bmfs_open(e->fs, "/new.txt", O_RDONLY, &r), 0);
	assert_int_equal(bmfs_read(r, buf, sizeof(buf), 0), 11);
	assert_int_equal(bmfs_release(r), 0);
	assert_null(get_blob(e->c, "new.txt", NULL));
	assert_int_equal(bmfs_release(h), 0);
	got = get_blob(e->c, "new.txt", NULL);
	assert_string_equal(got, "hello world");
	free(got);
	assert_int_equal(count(e, BM_OP_PUT), 1);

	/* Append, O_TRUNC, truncate. */
	assert_int_equal(bmfs_open(e->fs, "/new.txt", O_WRONLY | O_APPEND, &h),
			 0);
	assert_int_equal(bmfs_write(h, "!", 1, 11), 1);
	assert_int_equal(bmfs_flush(h), 0);
	assert_int_equal(bmfs_release(h), 0); /* clean: no second upload */
	assert_int_equal(count(e, BM_OP_PUT), 2);
	got = get_blob(e->c, "new.txt", NULL);
	assert_string_equal(got, "hello world!");
	free(got);
	assert_int_equal(bmfs_truncate(e->fs, "/new.txt", 5, NULL), 0);
	got = get_blob(e->c, "new.txt", NULL);
	assert_string_equal(got, "hello");
	free(got);
	assert_int_equal(bmfs_open(e->fs, "/new.txt", O_WRONLY | O_TRUNC, &h),
			 0);
	assert_int_equal(bmfs_release(h), 0);
	got = get_blob(e->c, "new.txt", NULL);
	assert_string_equal(got, "");
	free(got);
	assert_int_equal(bmfs_getattr(e->fs, "/new.txt", &st), 0);
	assert_int_equal(st.st_size, 0);
}

/*
 * Write-behind: a copy past the Put Blob limit has its complete blocks
 * sent while it is written; the flush sends the rest, each block once,
 * and a block changed after it was sent is sent again with what the copy
 * holds. After a commit, a later flush sends only what changed; when the
 * blocks it relies on are gone (another writer replaced the blob), it
 * sends every block instead of failing.
 */
static void test_write_behind(void **state)
{
	struct env *e = *state;
	const size_t mib = 1 << 20, n = 40;
	char *data = pattern(n * mib + mib + mib / 2, 7);
	struct bmfs_handle *h;
	uint64_t blocks0;
	size_t i;

	env_mount(e);
	assert_int_equal(bmfs_create(e->fs, "/big", O_WRONLY, &h), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(bmfs_write(h, data + i * mib, mib, i * mib),
				 (int)mib);
	/* Block 2 changes again, perhaps while it is being sent. */
	data[2 * mib + 5] ^= 0x55;
	assert_int_equal(bmfs_write(h, data + 2 * mib + 5, 1, 2 * mib + 5), 1);
	assert_int_equal(bmfs_fsync(h), 0);
	assert_blob(e, "big", data, n * mib);
	assert_in_range(count(e, BM_OP_PUT_BLOCK), n, n + 1);
	assert_int_equal(count(e, BM_OP_PUT_BLOCK_LIST), 1);
	assert_int_equal(count(e, BM_OP_PUT), 0);

	/* One byte changed after the commit: one block goes up again. */
	blocks0 = count(e, BM_OP_PUT_BLOCK);
	data[3 * mib + 10] ^= 0x55;
	assert_int_equal(bmfs_write(h, data + 3 * mib + 10, 1, 3 * mib + 10),
			 1);
	assert_int_equal(bmfs_fsync(h), 0);
	assert_blob(e, "big", data, n * mib);
	assert_int_equal(count(e, BM_OP_PUT_BLOCK) - blocks0, 1);

	/* Appended: one whole block and a partial one. */
	blocks0 = count(e, BM_OP_PUT_BLOCK);
	assert_int_equal(bmfs_write(h, data + n * mib, mib + mib / 2, n * mib),
			 (int)(mib + mib / 2));
	assert_int_equal(bmfs_fsync(h), 0);
	assert_blob(e, "big", data, n * mib + mib + mib / 2);
	assert_int_equal(count(e, BM_OP_PUT_BLOCK) - blocks0, 2);

	/* Another writer replaces the blob: its committed blocks are gone,
	 * and the next flush sends every block. */
	put_blob(e->c, "big", "other", 5, false);
	data[0] ^= 0x55;
	assert_int_equal(bmfs_write(h, data, 1, 0), 1);
	blocks0 = count(e, BM_OP_PUT_BLOCK);
	assert_int_equal(bmfs_release(h), 0);
	assert_blob(e, "big", data, n * mib + mib + mib / 2);
	/* Blocks 0 and 41 (partial) first, then all 42. */
	assert_int_equal(count(e, BM_OP_PUT_BLOCK) - blocks0, 2 + n + 2);
	free(data);
}

/* A job that holds a pool thread until released: other writers' sends. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	int flushed; /* the flush's result, once it returned; else 1 */
	struct bmfs_handle *h;
};

static void gate_job(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void *flush_thread(void *arg)
{
	struct gate *g = arg;
	int rc = bmfs_flush(g->h);

	pthread_mutex_lock(&g->lock);
	g->flushed = rc;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/*
 * Issue 12: the write-behind pool is one queue for all writers. A flush
 * must not wait for its own sends that are still queued behind other
 * writers' (here every pool thread is held by another job): they give
 * their blocks back and the flush sends them itself, each block once.
 */
static void test_flush_not_behind_others(void **state)
{
	struct env *e = *state;
	const size_t mib = 1 << 20, n = 40;
	char *data = pattern(n * mib, 11);
	struct gate g = {.flushed = 1};
	struct timespec until;
	pthread_t t;
	size_t i;

	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	env_mount(e);
	for (i = 0; i < e->o.max_concurrency + 2; i++)
		assert_int_equal(bmfs_pool_submit(e->fs->pool, gate_job, &g),
				 0);
	assert_int_equal(bmfs_create(e->fs, "/big", O_WRONLY, &g.h), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(bmfs_write(g.h, data + i * mib, mib, i * mib),
				 (int)mib);
	assert_int_equal(pthread_create(&t, NULL, flush_thread, &g), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&g.lock);
	while (g.flushed == 1 &&
	       pthread_cond_timedwait(&g.cond, &g.lock, &until) == 0)
		;
	i = g.flushed == 0; /* returned while the pool was still held */
	g.open = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	pthread_join(t, NULL);
	assert_true(i);
	assert_int_equal(g.flushed, 0);
	assert_blob(e, "big", data, n * mib);
	assert_int_equal(count(e, BM_OP_PUT_BLOCK), n);
	assert_int_equal(bmfs_release(g.h), 0);
	pthread_mutex_destroy(&g.lock);
	pthread_cond_destroy(&g.cond);
	free(data);
}

/* Issue 17, defect 2: the mount commits a large file, another writer
 * (another node's blobmill put, same block size) replaces the blob, then
 * the mount changes one byte and flushes again. The blob must hold one
 * writer's whole content, never the other writer's blocks under the
 * mount's last one: here the mount's flush succeeds, so its content wins
 * (last writer wins), with every block sent again. */
static void test_two_writers(void **state)
{
	struct env *e = *state;
	const size_t mib = 1 << 20, len = 34 * mib;
	char *mine = malloc(len), *theirs = malloc(len), *back;
	char path[] = "/tmp/test-fs-write-theirs.XXXXXX";
	struct bmfs_handle *h;
	struct bm_error err = {0};
	size_t i, got = 0;
	int fd;

	memset(mine, 'A', len);
	memset(theirs, 'B', len);
	env_mount(e);
	assert_int_equal(bmfs_create(e->fs, "/out", O_WRONLY, &h), 0);
	for (i = 0; i < len; i += mib)
		assert_int_equal(bmfs_write(h, mine + i, mib, i), (int)mib);
	assert_int_equal(bmfs_fsync(h), 0);
	assert_blob(e, "out", mine, len);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, theirs, len), (ssize_t)len);
	assert_int_equal(bm_blob_upload_fd(e->c, CONTAINER, "out", fd, len, 0,
					   mib, 4, NULL, NULL, &err),
			 0);
	close(fd);

	mine[len - 1] = 'Z';
	assert_int_equal(bmfs_write(h, mine + len - 1, 1, len - 1), 1);
	if (bmfs_fsync(h) == 0) {
		assert_int_equal(bmfs_release(h), 0);
		assert_blob(e, "out", mine, len);
	} else {
		bmfs_release(h);
		back = get_blob(e->c, "out", &got);
		assert_int_equal(got, len);
		assert_memory_equal(back, theirs, len);
		free(back);
	}
	free(mine);
	free(theirs);
}

/* The container vanishes: close fails, the copy stays pending, and the
 * next start on the same tmp-path uploads it. */
static void test_failed_upload_kept_and_recovered(void **state)
{
	struct env *e = *state;
	struct bm_error err = {0};
	struct bmfs_handle *h;
	char files[128], *got;
	struct stat st;
	int i;

	env_mount(e);
	snprintf(files, sizeof(files), "%s/blobmill/files", e->tmp);
	assert_int_equal(bmfs_create(e->fs, "/keep.txt", O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, "precious", 8, 0), 8);
	assert_int_equal(e->c->ops->delete_container(e->c, CONTAINER, &err), 0);
	assert_int_equal(bmfs_flush(h), -EIO);
	assert_int_equal(bmfs_release(h), -EIO);
	assert_int_equal(count_files(files, ".pending"), 1);
	/* Still what the mount shows. */
	assert_int_equal(bmfs_getattr(e->fs, "/keep.txt", &st), 0);
	assert_int_equal(st.st_size, 8);

	/* A "restart": a new filesystem on the same tmp-path and service
	 * (the unmount's last try fails too: the container is still gone). */
	bmfs_free(e->fs);
	assert_int_equal(count_files(files, ".pending"), 1);
	assert_int_equal(e->c->ops->create_container(e->c, CONTAINER, &err), 0);
	env_mount(e);
	assert_int_equal(bmfs_getattr(e->fs, "/keep.txt", &st), 0);
	assert_int_equal(st.st_size, 8);
	/* The re-upload runs in the background: wait for it (its record
	 * turns ".open" once uploaded, then goes). */
	for (i = 0; i < 500 && (count_files(files, ".pending") ||
				count_files(files, ".open"));
	     i++)
		usleep(10000);
	assert_int_equal(count_files(files, ".pending"), 0);
	assert_int_equal(count_files(files, ".open"), 0);
	got = get_blob(e->c, "keep.txt", NULL);
	assert_non_null(got);
	assert_string_equal(got, "precious");
	free(got);
}

/* The blob once a background upload has put it (waits up to 5 s), or
 * NULL. */
static char *wait_blob(struct env *e, const char *name)
{
	char *got = NULL;
	int i;

	for (i = 0; i < 500 && !got; i++) {
		usleep(10000);
		got = get_blob(e->c, name, NULL);
	}
	return got;
}

/* A pending upload whose name is 1,020 two-byte characters (2,040 bytes
 * of UTF-8, past the 2,048-byte record buffer of old with the header) is
 * uploaded by a restart, under that name. */
static void test_long_name_recovered(void **state)
{
	struct env *e = *state;
	struct bm_error err = {0};
	struct bmfs_handle *h;
	char files[128], path[1 + 1020 * 2 + 1], *got;
	size_t i;

	path[0] = '/';
	for (i = 0; i < 1020; i++)
		memcpy(path + 1 + 2 * i, "\xc3\xa9", 2); /* é */
	path[1 + 1020 * 2] = '\0';
	env_mount(e);
	snprintf(files, sizeof(files), "%s/blobmill/files", e->tmp);
	assert_int_equal(bmfs_create(e->fs, path, O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, "long", 4, 0), 4);
	assert_int_equal(e->c->ops->delete_container(e->c, CONTAINER, &err), 0);
	assert_int_equal(bmfs_release(h), -EIO);
	bmfs_free(e->fs);
	assert_int_equal(count_files(files, ".pending"), 1);
	assert_int_equal(e->c->ops->create_container(e->c, CONTAINER, &err), 0);
	env_mount(e);
	got = wait_blob(e, path + 1);
	assert_non_null(got);
	assert_string_equal(got, "long");
	free(got);
}

/* A failed upload is retried while mounted, without another flush. */
static void test_failed_upload_retried(void **state)
{
	struct env *e = *state;
	struct bm_error err = {0};
	struct bmfs_handle *h;
	char files[128], *got;
	int i;

	e->o.retry_interval = 0.05;
	env_mount(e);
	snprintf(files, sizeof(files), "%s/blobmill/files", e->tmp);
	assert_int_equal(bmfs_create(e->fs, "/later.txt", O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, "later", 5, 0), 5);
	assert_int_equal(e->c->ops->delete_container(e->c, CONTAINER, &err), 0);
	assert_int_equal(bmfs_release(h), -EIO);
	assert_int_equal(count_files(files, ".pending"), 1);
	assert_int_equal(e->c->ops->create_container(e->c, CONTAINER, &err), 0);
	got = wait_blob(e, "later.txt");
	assert_non_null(got);
	assert_string_equal(got, "later");
	free(got);
	for (i = 0; i < 500 && count_files(files, ".pending"); i++)
		usleep(10000);
	assert_int_equal(count_files(files, ".pending"), 0);
}

/* A write to the local copy fails (here EBADF: the copy's descriptor is
 * swapped for a read-only one; on a node, ENOSPC in --tmp-path): that
 * write, every later flush/fsync and the close fail, nothing is uploaded,
 * the good blob stays, no record is left for a restart, and once closed
 * the mount shows the blob again. */
static void test_write_error_never_uploaded(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h;
	char files[128];
	struct stat st;
	int ro;

	put_blob(e->c, "good", "good content", 12, false);
	env_mount(e);
	snprintf(files, sizeof(files), "%s/blobmill/files", e->tmp);
	assert_int_equal(bmfs_open(e->fs, "/good", O_WRONLY | O_TRUNC, &h), 0);
	assert_int_equal(bmfs_write(h, "prefix", 6, 0), 6);
	ro = open("/dev/null", O_RDONLY);
	assert_true(ro >= 0);
	assert_true(dup2(ro, h->wf->fd) == h->wf->fd);
	close(ro);
	assert_true(bmfs_write(h, "rest", 4, 6) < 0);
	assert_true(bmfs_fsync(h) < 0);
	assert_true(bmfs_flush(h) < 0);
	assert_int_equal(count_files(files, ".open"), 0);
	assert_int_equal(count_files(files, ".pending"), 0);
	assert_true(bmfs_release(h) < 0);
	assert_blob(e, "good", "good content", 12);
	assert_int_equal(bmfs_getattr(e->fs, "/good", &st), 0);
	assert_int_equal(st.st_size, 12);
	/* A new file that fails is not created either. */
	assert_int_equal(bmfs_create(e->fs, "/fresh", O_WRONLY, &h), 0);
	ro = open("/dev/null", O_RDONLY);
	assert_true(dup2(ro, h->wf->fd) == h->wf->fd);
	close(ro);
	assert_true(bmfs_write(h, "x", 1, 0) < 0);
	assert_true(bmfs_release(h) < 0);
	assert_null(get_blob(e->c, "fresh", NULL));
	assert_int_equal(bmfs_getattr(e->fs, "/fresh", &st), -ENOENT);
	/* No restart uploads either. */
	bmfs_free(e->fs);
	e->fs = NULL;
	env_mount(e);
	usleep(100000);
	assert_blob(e, "good", "good content", 12);
	assert_null(get_blob(e->c, "fresh", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_visible_and_uploaded,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_behind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flush_not_behind_others, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_failed_upload_kept_and_recovered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_name_recovered, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_failed_upload_retried, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_write_error_never_uploaded,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
