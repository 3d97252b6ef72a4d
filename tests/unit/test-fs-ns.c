/*
 * test-fs-ns: lookups, listings and namespace changes of blobmill-fuse's
 * filesystem logic against the in-memory blob service (fixture:
 * fs-fixture.h): the attr/entry/negative caches a listing primes, with a
 * stepped clock; mkdir, rmdir, unlink and rename, also of files open for
 * writing; read-only mounts, the stats xattr and the errno mapping.
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
#include <unistd.h>

#include "fs-fixture.h"

/* ls -l of a directory: one List request, then nothing per file, nothing
 * for a miss the listing answers, nothing for a repeat. */
static void test_listing_fills_cache(void **state)
{
	struct env *e = *state;
	struct names n = {0};
	struct stat st;
	char name[32];
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "dir/f%02d", i);
		put_blob(e->c, name, "x", 1, false);
	}
	put_blob(e->c, "dir/sub/deep", "y", 1, false);
	env_mount(e);
	assert_int_equal(bmfs_getattr(e->fs, "/dir", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(count(e, BM_OP_LIST), 1);
	assert_int_equal(bmfs_readdir(e->fs, "/dir", fill, &n), 0);
	assert_int_equal(n.n, 13);
	assert_int_equal(count(e, BM_OP_LIST), 2);
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "/dir/f%02d", i);
		assert_int_equal(bmfs_getattr(e->fs, name, &st), 0);
		assert_int_equal(st.st_size, 1);
	}
	assert_int_equal(bmfs_getattr(e->fs, "/dir/sub", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(bmfs_getattr(e->fs, "/dir/missing", &st), -ENOENT);
	n.n = 0;
	assert_int_equal(bmfs_readdir(e->fs, "/dir", fill, &n), 0);
	assert_int_equal(count(e, BM_OP_LIST), 2);
	assert_int_equal(count(e, BM_OP_HEAD) + count(e, BM_OP_GET), 0);

	/* After entry_timeout the listing no longer answers a miss. */
	e->now += 241;
	assert_int_equal(bmfs_getattr(e->fs, "/dir/missing", &st), -ENOENT);
	assert_int_equal(count(e, BM_OP_LIST), 3);
}

struct page {
	char names[64][16];
	off_t sizes[64];
	int n, max;
	uint64_t next;
};

static int fill_page(void *ud, const char *name, const struct stat *st,
		     uint64_t next)
{
	struct page *p = ud;

	if (p->n == p->max)
		return 1;
	p->sizes[p->n] = st->st_size;
	snprintf(p->names[p->n++], sizeof(p->names[0]), "%s", name);
	p->next = next;
	return 0;
}

/* An open directory is read in pages from its snapshot: every entry
 * once, no request after offset 0 even when the cache has expired, and
 * a new snapshot at offset 0. */
static void test_readdir_pages(void **state)
{
	struct env *e = *state;
	struct bmfs_dir *d;
	struct page p = {.max = 4};
	char name[32];
	uint64_t lists;
	int i, seen = 0;

	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "d/f%d", i);
		put_blob(e->c, name, "x", 1, false);
	}
	env_mount(e);
	assert_int_equal(bmfs_opendir(e->fs, "/d", &d), 0);
	assert_int_equal(bmfs_readdir_at(d, 0, fill_page, &p), 0);
	assert_int_equal(p.n, 4);
	lists = count(e, BM_OP_LIST); /* the lookup of d and its listing */
	put_blob(e->c, "d/late", "y", 1, false);
	e->now += 1000; /* the cache expired: the snapshot did not */
	seen = p.n;
	while (p.n == p.max) {
		p.n = 0;
		assert_int_equal(bmfs_readdir_at(d, p.next, fill_page, &p), 0);
		seen += p.n;
	}
	assert_int_equal(seen, 10);
	assert_int_equal(count(e, BM_OP_LIST), lists);
	p.n = 0;
	p.max = 64;
	assert_int_equal(bmfs_readdir_at(d, 0, fill_page, &p), 0);
	assert_int_equal(p.n, 11);
	assert_true(count(e, BM_OP_LIST) > lists);
	bmfs_releasedir(d);
}

/* The attributes readdir gives (readdirplus hands them to the kernel)
 * are a stat's: a file being written has its local size, not the 0 its
 * listing entry was added with. */
static void test_readdir_attributes(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h;
	struct bmfs_dir *d;
	struct page p = {.max = 64};
	int i;

	put_blob(e->c, "d/old", "abc", 3, false);
	env_mount(e);
	assert_int_equal(bmfs_opendir(e->fs, "/d", &d), 0);
	assert_int_equal(bmfs_readdir_at(d, 0, fill_page, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(bmfs_create(e->fs, "/d/new", O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, "hello", 5, 0), 5);
	p.n = 0;
	assert_int_equal(bmfs_readdir_at(d, 0, fill_page, &p), 0);
	assert_int_equal(p.n, 2);
	for (i = 0; i < p.n; i++)
		assert_int_equal(p.sizes[i],
				 strcmp(p.names[i], "new") == 0 ? 5 : 3);
	assert_int_equal(bmfs_release(h), 0);
	bmfs_releasedir(d);
}

static void test_negative_timeout(void **state)
{
	struct env *e = *state;
	struct stat st;

	env_mount(e);
	assert_int_equal(bmfs_getattr(e->fs, "/nope", &st), -ENOENT);
	assert_int_equal(bmfs_getattr(e->fs, "/nope", &st), -ENOENT);
	assert_int_equal(count(e, BM_OP_LIST), 1);
	e->now += 119;
	assert_int_equal(bmfs_getattr(e->fs, "/nope", &st), -ENOENT);
	assert_int_equal(count(e, BM_OP_LIST), 1);
	e->now += 2;
	put_blob(e->c, "nope", "z", 1, false);
	assert_int_equal(bmfs_getattr(e->fs, "/nope", &st), 0);
	assert_int_equal(count(e, BM_OP_LIST), 2);
}

/* blobfuse's markers are directories; a blob `a` beside `a/b` is shown
 * under a suffixed name and reads as itself. */
static void test_markers_and_shadowed_blob(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h;
	struct names n = {0};
	struct stat st;
	char buf[16] = {0};
	int i;

	put_blob(e->c, "empty", NULL, 0, true);
	put_blob(e->c, "marked", NULL, 0, true);
	put_blob(e->c, "marked/f", "1", 1, false);
	put_blob(e->c, "a", "file-a", 6, false);
	put_blob(e->c, "a/b", "b", 1, false);
	env_mount(e);
	assert_int_equal(bmfs_readdir(e->fs, "/", fill, &n), 0);
	assert_int_equal(n.n, 4);
	i = find_name(&n, "empty");
	assert_true(i >= 0 && S_ISDIR(n.mode[i]));
	i = find_name(&n, "marked");
	assert_true(i >= 0 && S_ISDIR(n.mode[i]));
	i = find_name(&n, "a");
	assert_true(i >= 0 && S_ISDIR(n.mode[i]));
	i = find_name(&n, "a" BMFS_SHADOW_SUFFIX);
	assert_true(i >= 0 && S_ISREG(n.mode[i]));

	assert_int_equal(
	    bmfs_open(e->fs, "/a" BMFS_SHADOW_SUFFIX, O_RDONLY, &h), 0);
	assert_int_equal(bmfs_read(h, buf, sizeof(buf), 0), 6);
	assert_string_equal(buf, "file-a");
	assert_int_equal(bmfs_release(h), 0);
	/* Found again without the listing's help. */
	e->now += 1000;
	assert_int_equal(bmfs_getattr(e->fs, "/a" BMFS_SHADOW_SUFFIX, &st), 0);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(bmfs_getattr(e->fs, "/a/b", &st), 0);
	assert_int_equal(bmfs_getattr(e->fs, "/empty", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

/* The mount-time check lists the top level once; when it fits in one
 * page, lookups and a readdir there cost nothing more. */
static void test_check_root_primes_top_level(void **state)
{
	struct env *e = *state;
	struct names n = {0};
	struct bm_error err = {0};
	struct stat st;

	put_blob(e->c, "top.txt", "t", 1, false);
	put_blob(e->c, "d/x", "x", 1, false);
	env_mount(e);
	assert_int_equal(bmfs_check_root(e->fs, &err), 0);
	assert_int_equal(count(e, BM_OP_LIST), 1);
	assert_int_equal(bmfs_getattr(e->fs, "/top.txt", &st), 0);
	assert_int_equal(st.st_size, 1);
	assert_int_equal(bmfs_getattr(e->fs, "/d", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(bmfs_getattr(e->fs, "/missing", &st), -ENOENT);
	assert_int_equal(bmfs_readdir(e->fs, "/", fill, &n), 0);
	assert_int_equal(n.n, 2);
	assert_int_equal(count(e, BM_OP_LIST), 1);
	/* The directory itself is not listed yet. */
	assert_int_equal(bmfs_getattr(e->fs, "/d/x", &st), 0);
	assert_int_equal(count(e, BM_OP_LIST), 2);
}

/* A top level larger than a page primes what the page shows, except a
 * blob whose shadowing directory may be on the next page. */
static void test_check_root_partial_page(void **state)
{
	struct env *e = *state;
	struct bm_error err = {0};
	struct stat st;
	char name[32];
	int i;

	for (i = 0; i < 4999; i++) {
		snprintf(name, sizeof(name), "n%05d", i);
		put_blob(e->c, name, "n", 1, false);
	}
	put_blob(e->c, "zz", "shadowed", 8, false); /* the 5,000th entry */
	put_blob(e->c, "zz/inner", "i", 1, false);  /* "zz/" is on page 2 */
	env_mount(e);
	assert_int_equal(bmfs_check_root(e->fs, &err), 0);
	assert_int_equal(count(e, BM_OP_LIST), 1);
	assert_int_equal(bmfs_getattr(e->fs, "/n04321", &st), 0);
	assert_int_equal(count(e, BM_OP_LIST), 1);
	assert_int_equal(bmfs_getattr(e->fs, "/zz", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(count(e, BM_OP_LIST), 2);
	/* A partial page does not answer a miss. */
	assert_int_equal(bmfs_getattr(e->fs, "/missing", &st), -ENOENT);
	assert_int_equal(count(e, BM_OP_LIST), 3);
}

static void test_check_root_errors(void **state)
{
	struct env *e = *state;
	struct bm_error err = {0};

	env_mount(e);
	free(e->fs->container);
	e->fs->container = strdup("no-such-container");
	assert_int_equal(bmfs_check_root(e->fs, &err), -1);
	assert_non_null(strstr(err.msg, "'no-such-container'"));
}

static void test_namespace_ops(void **state)
{
	struct env *e = *state;
	struct bm_blob_info info;
	struct bm_error err = {0};
	struct names n = {0};
	struct stat st;
	char *got;

	put_blob(e->c, "src/a", "A", 1, false);
	put_blob(e->c, "src/sub/b", "B", 1, false);
	env_mount(e);
	assert_int_equal(bmfs_mkdir(e->fs, "/made"), 0);
	assert_int_equal(e->c->ops->head(e->c, CONTAINER, "made", &info, &err),
			 0);
	assert_true(info.is_dir_marker);
	assert_int_equal(bmfs_mkdir(e->fs, "/made"), -EEXIST);
	assert_int_equal(bmfs_getattr(e->fs, "/made/x", &st), -ENOENT);
	assert_int_equal(bmfs_rmdir(e->fs, "/src"), -ENOTEMPTY);
	assert_int_equal(bmfs_rmdir(e->fs, "/src/a"), -ENOTDIR);
	assert_int_equal(bmfs_unlink(e->fs, "/src"), -EISDIR);

	/* File rename: copy + delete. */
	assert_int_equal(bmfs_rename(e->fs, "/src/a", "/made/a2", false), 0);
	assert_int_equal(bmfs_getattr(e->fs, "/src/a", &st), -ENOENT);
	got = get_blob(e->c, "made/a2", NULL);
	assert_string_equal(got, "A");
	free(got);
	assert_null(get_blob(e->c, "src/a", NULL));
	assert_int_equal(bmfs_rename(e->fs, "/made/a2", "/src/sub", true),
			 -EEXIST);

	/* Directory rename moves the subtree and the marker. */
	assert_int_equal(bmfs_rename(e->fs, "/made", "/moved", false), 0);
	assert_int_equal(e->c->ops->head(e->c, CONTAINER, "moved", &info, &err),
			 0);
	assert_true(info.is_dir_marker);
	got = get_blob(e->c, "moved/a2", NULL);
	assert_string_equal(got, "A");
	free(got);
	assert_int_equal(bmfs_getattr(e->fs, "/made", &st), -ENOENT);
	assert_int_equal(bmfs_readdir(e->fs, "/moved", fill, &n), 0);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.v[0], "a2");

	/* Emptied, the directory goes; a marker is deleted with it. */
	assert_int_equal(bmfs_unlink(e->fs, "/moved/a2"), 0);
	assert_int_equal(bmfs_rmdir(e->fs, "/moved"), 0);
	assert_int_equal(bmfs_getattr(e->fs, "/moved", &st), -ENOENT);
	assert_int_equal(e->c->ops->head(e->c, CONTAINER, "moved", &info, &err),
			 -1);
	assert_int_equal(bmfs_unlink(e->fs, "/nothing"), -ENOENT);
}

/* ---- files removed or renamed while open (issue 17) ---- */

/*
 * A Put Blob that waits at a gate: the memory service's ops with put
 * wrapped, sharing its store (c->impl), so a test can hold an upload in
 * flight while another operation runs.
 */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool armed, entered, open;
	const struct bm_blob_ops *inner;
	struct bm_blob_ops ops;
	struct bm_blob_client client;
};

static struct gate the_gate = {.lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER};

static int gated_put(struct bm_blob_client *c, const char *container,
		     const char *name, const struct bm_body *body,
		     const struct bm_put_opts *o, struct bm_blob_info *info,
		     struct bm_error *err)
{
	struct gate *g = &the_gate;

	pthread_mutex_lock(&g->lock);
	if (g->armed) {
		g->armed = false;
		g->entered = true;
		pthread_cond_broadcast(&g->cond);
		while (!g->open)
			pthread_cond_wait(&g->cond, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return g->inner->put(c, container, name, body, o, info, err);
}

/* Mounts e's service through the gate (closed, not armed). */
static void env_mount_gated(struct env *e)
{
	struct gate *g = &the_gate;

	g->armed = g->entered = g->open = false;
	g->inner = e->c->ops;
	g->ops = *e->c->ops;
	g->ops.put = gated_put;
	g->client.ops = &g->ops;
	g->client.impl = e->c->impl;
	env_mount_client(e, &g->client);
}

static void gate_wait_entered(void)
{
	pthread_mutex_lock(&the_gate.lock);
	while (!the_gate.entered)
		pthread_cond_wait(&the_gate.cond, &the_gate.lock);
	pthread_mutex_unlock(&the_gate.lock);
}

static void gate_open(void)
{
	pthread_mutex_lock(&the_gate.lock);
	the_gate.open = true;
	pthread_cond_broadcast(&the_gate.cond);
	pthread_mutex_unlock(&the_gate.lock);
}

/* open, write, fsync, unlink, then everything through the handle: the
 * handle answers fstat and reads from the local copy, takes more writes
 * and ftruncate (libfuse's NULL path), and nothing of it is uploaded
 * again; a new file of the same name is a new file. */
static void test_unlinked_while_open(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h, *h2;
	char files[128], buf[16] = {0};
	struct stat st;

	env_mount(e);
	snprintf(files, sizeof(files), "%s/blobmill/files", e->tmp);
	assert_int_equal(bmfs_create(e->fs, "/gone", O_RDWR, &h), 0);
	assert_int_equal(bmfs_write(h, "hello", 5, 0), 5);
	assert_int_equal(bmfs_fsync(h), 0);
	assert_int_equal(bmfs_unlink(e->fs, "/gone"), 0);
	assert_null(get_blob(e->c, "gone", NULL));
	assert_int_equal(bmfs_getattr(e->fs, "/gone", &st), -ENOENT);

	assert_int_equal(bmfs_fgetattr(h, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(bmfs_read(h, buf, sizeof(buf), 0), 5);
	assert_string_equal(buf, "hello");
	assert_int_equal(bmfs_write(h, " world", 6, 5), 6);
	assert_int_equal(bmfs_truncate(e->fs, NULL, 8, h), 0);
	assert_int_equal(bmfs_fgetattr(h, &st), 0);
	assert_int_equal(st.st_size, 8);
	/* Nothing left for a restart to upload. */
	assert_int_equal(count_files(files, ".pending"), 0);
	assert_int_equal(count_files(files, ".open"), 0);

	/* A new file of that name while the old handle is open. */
	assert_int_equal(bmfs_create(e->fs, "/gone", O_WRONLY, &h2), 0);
	assert_int_equal(bmfs_write(h2, "new", 3, 0), 3);
	assert_int_equal(bmfs_release(h2), 0);
	assert_int_equal(bmfs_fsync(h), 0);
	assert_int_equal(bmfs_release(h), 0);
	assert_blob(e, "gone", "new", 3);
	/* A read-only handle of a streamed blob answers fstat by itself. */
	assert_int_equal(bmfs_open(e->fs, "/gone", O_RDONLY, &h), 0);
	assert_int_equal(bmfs_unlink(e->fs, "/gone"), 0);
	assert_int_equal(bmfs_fgetattr(h, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(bmfs_truncate(e->fs, NULL, 0, h), -EBADF);
	assert_int_equal(bmfs_release(h), 0);
	assert_null(get_blob(e->c, "gone", NULL));
}

struct job {
	struct bmfs *fs;
	struct bmfs_handle *h;
	const char *path;
	int rc;
};

static void *flush_main(void *ud)
{
	struct job *j = ud;

	j->rc = bmfs_flush(j->h);
	return NULL;
}

static void *unlink_main(void *ud)
{
	struct job *j = ud;

	j->rc = bmfs_unlink(j->fs, j->path);
	return NULL;
}

/* Unlink wins over an upload already in flight: the Put Blob that
 * completes after unlink was called does not leave the blob behind, and
 * the close after it does not upload it again. */
static void test_unlink_wins_over_upload(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h;
	struct job up = {0}, rm = {0};
	pthread_t tu, tr;
	struct stat st;

	env_mount_gated(e);
	assert_int_equal(bmfs_create(e->fs, "/race", O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, "data", 4, 0), 4);
	the_gate.armed = true;
	up.h = h;
	assert_int_equal(pthread_create(&tu, NULL, flush_main, &up), 0);
	gate_wait_entered();
	rm.fs = e->fs;
	rm.path = "/race";
	assert_int_equal(pthread_create(&tr, NULL, unlink_main, &rm), 0);
	usleep(100000); /* the unlink reaches the service, or waits */
	gate_open();
	pthread_join(tu, NULL);
	pthread_join(tr, NULL);
	assert_int_equal(up.rc, 0);
	assert_int_equal(rm.rc, 0);
	assert_null(get_blob(e->c, "race", NULL));
	assert_int_equal(bmfs_write(h, "more", 4, 4), 4);
	assert_int_equal(bmfs_release(h), 0);
	assert_null(get_blob(e->c, "race", NULL));
	assert_int_equal(bmfs_getattr(e->fs, "/race", &st), -ENOENT);
}

/* libfuse's hiding of a file unlinked while open: the blob goes, the
 * local copy answers under the hidden name until the last close, and
 * nothing is uploaded under either name. A file not open is renamed. */
static void test_unlink_open_hides(void **state)
{
	struct env *e = *state;
	const char *hidden = "/d/.fuse_hidden0000000200000001";
	struct bmfs_handle *h;
	struct stat st;

	put_blob(e->c, "d/closed", "c", 1, false);
	env_mount(e);
	assert_int_equal(bmfs_create(e->fs, "/d/open", O_RDWR, &h), 0);
	assert_int_equal(bmfs_write(h, "xyz", 3, 0), 3);
	assert_int_equal(bmfs_fsync(h), 0);
	assert_int_equal(bmfs_unlink_open(e->fs, "/d/open", hidden), 0);
	assert_null(get_blob(e->c, "d/open", NULL));
	assert_int_equal(bmfs_getattr(e->fs, "/d/open", &st), -ENOENT);
	assert_int_equal(bmfs_getattr(e->fs, hidden, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(bmfs_write(h, "w", 1, 3), 1);
	assert_int_equal(bmfs_getattr(e->fs, hidden, &st), 0);
	assert_int_equal(st.st_size, 4);
	/* The directory is empty for rmdir's purpose: no blob is left. */
	assert_int_equal(bmfs_release(h), 0);
	assert_int_equal(bmfs_unlink(e->fs, hidden), -ENOENT);
	assert_null(get_blob(e->c, "d/open", NULL));
	assert_null(get_blob(e->c, hidden + 1, NULL));
	/* Not open: an ordinary rename. */
	assert_int_equal(bmfs_unlink_open(e->fs, "/d/closed", hidden), 0);
	assert_null(get_blob(e->c, "d/closed", NULL));
	free(get_blob(e->c, hidden + 1, NULL));
}

/* open, write, rename, write, fsync, close: the renamed blob holds both
 * writes; the old name stays gone; the record names the new blob. */
static void test_rename_follows_open_file(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h;
	struct stat st;

	env_mount(e);
	assert_int_equal(bmfs_create(e->fs, "/r1", O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, "part1", 5, 0), 5);
	assert_int_equal(bmfs_rename(e->fs, "/r1", "/sub/r2", false), 0);
	assert_int_equal(bmfs_write(h, "part2", 5, 5), 5);
	assert_int_equal(bmfs_getattr(e->fs, "/sub/r2", &st), 0);
	assert_int_equal(st.st_size, 10);
	assert_int_equal(bmfs_fsync(h), 0);
	assert_blob(e, "sub/r2", "part1part2", 10);
	assert_int_equal(bmfs_write(h, "!", 1, 10), 1);
	assert_int_equal(bmfs_release(h), 0);
	assert_blob(e, "sub/r2", "part1part2!", 11);
	assert_null(get_blob(e->c, "r1", NULL));
	assert_int_equal(bmfs_getattr(e->fs, "/r1", &st), -ENOENT);
}

/* A file renamed over one whose local copy is not uploaded yet: that
 * copy's later close uploads nothing over the renamed data. */
static void test_rename_over_open_file(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *t, *n;

	env_mount(e);
	assert_int_equal(bmfs_create(e->fs, "/target", O_WRONLY, &t), 0);
	assert_int_equal(bmfs_write(t, "old", 3, 0), 3);
	assert_int_equal(bmfs_create(e->fs, "/new", O_WRONLY, &n), 0);
	assert_int_equal(bmfs_write(n, "new", 3, 0), 3);
	assert_int_equal(bmfs_release(n), 0);
	assert_int_equal(bmfs_rename(e->fs, "/new", "/target", false), 0);
	assert_int_equal(bmfs_write(t, " and more", 9, 3), 9);
	assert_int_equal(bmfs_release(t), 0);
	assert_blob(e, "target", "new", 3);
}

/* A directory holding a file open for writing does not move (EBUSY);
 * the file's writes all reach its blob. */
static void test_rename_dir_with_open_file(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h;

	env_mount(e);
	assert_int_equal(bmfs_mkdir(e->fs, "/dir"), 0);
	assert_int_equal(bmfs_create(e->fs, "/dir/f", O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, "one", 3, 0), 3);
	assert_int_equal(bmfs_rename(e->fs, "/dir", "/moved", false), -EBUSY);
	assert_int_equal(bmfs_write(h, "two", 3, 3), 3);
	assert_int_equal(bmfs_release(h), 0);
	assert_blob(e, "dir/f", "onetwo", 6);
	/* Closed, it moves. */
	assert_int_equal(bmfs_rename(e->fs, "/dir", "/moved", false), 0);
	assert_blob(e, "moved/f", "onetwo", 6);
}

static void test_read_only(void **state)
{
	struct env *e = *state;
	struct bmfs_handle *h;

	put_blob(e->c, "r", "R", 1, false);
	e->o.read_only = true;
	env_mount(e);
	assert_int_equal(bmfs_create(e->fs, "/w", O_WRONLY, &h), -EROFS);
	assert_int_equal(bmfs_open(e->fs, "/r", O_RDWR, &h), -EROFS);
	assert_int_equal(bmfs_mkdir(e->fs, "/d"), -EROFS);
	assert_int_equal(bmfs_unlink(e->fs, "/r"), -EROFS);
	assert_int_equal(bmfs_open(e->fs, "/r", O_RDONLY, &h), 0);
	assert_int_equal(bmfs_release(h), 0);
}

static void test_stats_xattr(void **state)
{
	struct env *e = *state;
	char buf[512];
	int len;

	env_mount(e);
	len = bmfs_getxattr(e->fs, "/", BMFS_XATTR_STATS, NULL, 0);
	assert_true(len > 0);
	assert_int_equal(
	    bmfs_getxattr(e->fs, "/", BMFS_XATTR_STATS, buf, sizeof(buf)), len);
	buf[len] = '\0';
	assert_non_null(strstr(buf, "list="));
	assert_int_equal(bmfs_getxattr(e->fs, "/", "user.other", buf, 10),
			 -ENOTSUP);
	assert_int_equal(bmfs_getxattr(e->fs, "/x", BMFS_XATTR_STATS, buf, 10),
			 -ENOTSUP);
}

static void test_errno_mapping(void **state)
{
	struct bm_error err = {0};

	(void)state;
	bm_error_set(&err, BM_ERR_NOT_FOUND, "gone");
	assert_int_equal(bmfs_errno(BMFS_OP_LOOKUP, "x", &err), ENOENT);
	assert_int_equal(bmfs_errno(BMFS_OP_READ, "x", &err), ESTALE);
	bm_error_clear(&err);
	bm_error_set(&err, BM_ERR_PERMISSION, "no");
	assert_int_equal(bmfs_errno(BMFS_OP_UPLOAD, "x", &err), EACCES);
	bm_error_clear(&err);
	bm_error_set(&err, BM_ERR_NOSPACE, "full");
	assert_int_equal(bmfs_errno(BMFS_OP_UPLOAD, "x", &err), ENOSPC);
	bm_error_clear(&err);
	bm_error_set(&err, BM_ERR_TIMEOUT, "slow");
	assert_int_equal(bmfs_errno(BMFS_OP_UPLOAD, "x", &err), EIO);
	bm_error_clear(&err);
	bm_error_set(&err, BM_ERR_NO_CONTAINER, "gone");
	assert_int_equal(bmfs_errno(BMFS_OP_OPEN, "x", &err), EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_listing_fills_cache, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_readdir_pages, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_readdir_attributes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_negative_timeout, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_markers_and_shadowed_blob,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_root_primes_top_level,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_root_partial_page, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_check_root_errors, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unlinked_while_open, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unlink_wins_over_upload, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_unlink_open_hides, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rename_follows_open_file,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rename_over_open_file, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_rename_dir_with_open_file,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_namespace_ops, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_xattr, setup, teardown),
	    cmocka_unit_test(test_errno_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
