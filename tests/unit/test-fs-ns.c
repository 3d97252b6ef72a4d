/*
 * test-fs-ops: the filesystem logic of blobmill-fuse against the in-memory
 * blob service, without a mount: what each operation does to the blobs,
 * and what it costs in requests (the service's call counters), with a
 * stepped clock for the attr/entry/negative timeouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "bm_blob.h"
#include "bmfs.h"
#include "bmfs_int.h"

#define CONTAINER "data"

struct env {
	struct bm_blob_client *c; /* owned by fs */
	struct bmfs *fs;
	struct bmfs_options o;
	char tmp[64];
	double now;
};

static double test_clock(void *ud)
{
	return ((struct env *)ud)->now;
}

static void put_blob(struct bm_blob_client *c, const char *name,
		     const void *data, size_t len, bool marker)
{
	static const struct bm_metadata md[] = {{"hdi_isfolder", "true"}};
	struct bm_put_opts po = {0};
	struct bm_body body = {.buf = data, .len = len};
	struct bm_error err = {0};

	if (marker) {
		po.metadata = md;
		po.nmetadata = 1;
	}
	assert_int_equal(c->ops->put(c, CONTAINER, name, len ? &body : NULL,
				     &po, NULL, &err),
			 0);
}

/* The blob's content (malloc()ed, NUL-terminated), or NULL if absent. */
static char *get_blob(struct bm_blob_client *c, const char *name, size_t *len);

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_sink(const void *data, size_t len, void *ud)
{
	struct buf *b = ud;

	/* Doubling: a 40 MiB blob in 64 KiB chunks is not 640 copies of
	 * the whole (which under ASan took minutes). */
	if (b->n + len + 1 > b->cap) {
		b->cap = (b->n + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	b->p[b->n] = '\0';
	return 0;
}

static char *get_blob(struct bm_blob_client *c, const char *name, size_t *len)
{
	struct buf b = {calloc(1, 1), 0, 1};
	struct bm_get_opts o = {0};
	struct bm_error err = {0};

	if (c->ops->get(c, CONTAINER, name, &o, buf_sink, &b, NULL, &err)) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.n;
	return b.p;
}

static uint64_t count(struct env *e, enum bm_op op)
{
	struct bm_http_stats s;

	e->c->ops->get_stats(e->c, &s);
	return s.requests[op];
}

static void env_mount(struct env *e)
{
	struct bm_error err = {0};

	e->fs = bmfs_new(e->c, CONTAINER, &e->o, &err);
	assert_non_null(e->fs);
	e->fs->clock = test_clock;
	e->fs->clock_ud = e;
	e->fs->client_borrowed = true; /* a "restart" reuses the service */
	assert_int_equal(bmfs_start(e->fs), 0);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct bm_error err = {0};

	snprintf(e->tmp, sizeof(e->tmp), "/tmp/test-fs-ops.XXXXXX");
	assert_non_null(mkdtemp(e->tmp));
	bmfs_options_init(&e->o);
	e->o.tmp_path = strdup(e->tmp);
	e->o.attr_timeout = 240;
	e->o.entry_timeout = 240;
	e->o.negative_timeout = 120;
	e->o.block_size_mb = 1;
	e->o.max_concurrency = 4;
	e->now = 1000.0;
	e->c = bm_blob_client_new_memory();
	assert_int_equal(e->c->ops->create_container(e->c, CONTAINER, &err), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	bmfs_free(e->fs);
	bm_blob_client_free(e->c);
	bmfs_options_release(&e->o);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->tmp);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

struct names {
	char v[64][64];
	mode_t mode[64];
	int n;
};

static int fill(void *ud, const char *name, const struct stat *st)
{
	struct names *n = ud;

	assert_true(n->n < 64);
	snprintf(n->v[n->n], sizeof(n->v[0]), "%s", name);
	n->mode[n->n++] = st->st_mode;
	return 0;
}

static int find_name(const struct names *n, const char *name)
{
	int i;

	for (i = 0; i < n->n; i++)
		if (strcmp(n->v[i], name) == 0)
			return i;
	return -1;
}

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

static char *pattern(size_t len, unsigned seed)
{
	char *p = malloc(len);
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)(seed >> 16);
	}
	return p;
}

static uint64_t received(struct env *e)
{
	struct bm_http_stats s;

	e->c->ops->get_stats(e->c, &s);
	return s.bytes_received;
}

/* A peek costs one GET; a sequential read is whole and streamed. */
static void test_streaming_read(void **state)
{
	struct env *e = *state;
	size_t len = 5 * 1024 * 1024 + 123, off;
	char *data = pattern(len, 7), *back = malloc(len);
	struct bmfs_handle *h;
	struct stat st;
	int n;

	put_blob(e->c, "big", data, len, false);
	env_mount(e);
	assert_int_equal(bmfs_getattr(e->fs, "/big", &st), 0);
	assert_int_equal(bmfs_open(e->fs, "/big", O_RDONLY, &h), 0);
	assert_int_equal(bmfs_read(h, back, 4096, 0), 4096);
	assert_memory_equal(back, data, 4096);
	assert_int_equal(count(e, BM_OP_GET), 1);
	for (off = 4096; off < len; off += (size_t)n) {
		n = bmfs_read(h, back + off, 128 * 1024, off);
		assert_true(n > 0);
	}
	assert_int_equal(bmfs_read(h, back, 4096, len), 0);
	assert_memory_equal(back, data, len);
	assert_int_equal(bmfs_release(h), 0);
	/* The head, then one stream for the rest: each byte once. */
	assert_int_equal(count(e, BM_OP_GET), 2);
	assert_int_equal(received(e), len);
	free(data);
	free(back);
}

/* A blob replaced under a reader: ESTALE, never the new bytes. */
/* Compares the blob with want (len bytes). */
static void assert_blob(struct env *e, const char *name, const char *want,
			size_t len)
{
	size_t got_len = 0;
	char *got = get_blob(e->c, name, &got_len);

	assert_non_null(got);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
	free(got);
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
	char path[] = "/tmp/test-fs-ops-theirs.XXXXXX";
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

static void test_changed_under_reader(void **state)
{
	struct env *e = *state;
	size_t len = 3 * 1024 * 1024;
	char *v1 = pattern(len, 1), *v2 = pattern(len, 2), *back = malloc(len);
	struct bmfs_handle *h;

	put_blob(e->c, "f", v1, len, false);
	env_mount(e);
	assert_int_equal(bmfs_open(e->fs, "/f", O_RDONLY, &h), 0);
	assert_int_equal(bmfs_read(h, back, 1000, 0), 1000);
	put_blob(e->c, "f", v2, len, false);
	assert_int_equal(bmfs_read(h, back, 1000, 2 * 1024 * 1024), -ESTALE);
	assert_int_equal(bmfs_read(h, back, 1000, 0), -ESTALE);
	assert_int_equal(bmfs_release(h), 0);
	free(v1);
	free(v2);
	free(back);
}

/* Reads [off, off + len) of h in 128 KiB reads and checks the bytes. */
static void read_check(struct bmfs_handle *h, const char *want, size_t off,
		       size_t len)
{
	char *back = malloc(len);
	size_t done = 0;
	int n;

	while (done < len) {
		n = bmfs_read(h, back + done,
			      len - done < 131072 ? len - done : 131072,
			      off + done);
		assert_true(n > 0);
		done += (size_t)n;
	}
	assert_memory_equal(back, want + off, len);
	free(back);
}

/* The first 4 KiB of a large blob: one GET of a 1 MiB head, no prefetch;
 * reading on streams the rest with one more GET. */
static void test_first_read_is_a_head(void **state)
{
	struct env *e = *state;
	size_t len = 6 * 1024 * 1024;
	char *data = pattern(len, 5);
	struct bmfs_handle *h;

	put_blob(e->c, "big", data, len, false);
	e->o.block_size_mb = 4;
	env_mount(e);
	assert_int_equal(bmfs_open(e->fs, "/big", O_RDONLY, &h), 0);
	read_check(h, data, 0, 4096);
	usleep(100000); /* a prefetch would have started by now */
	assert_int_equal(count(e, BM_OP_GET), 1);
	assert_int_equal(received(e), 1024 * 1024);
	read_check(h, data, 4096, len - 4096);
	assert_int_equal(bmfs_release(h), 0);
	/* Head, then one stream: every byte once. */
	assert_int_equal(count(e, BM_OP_GET), 2);
	assert_int_equal(received(e), len);
	free(data);
}

/* Buffers are sized to the blob, and all readers share one budget: 40
 * open readers (more 1 MiB heads than the 32 MiB budget holds) each get
 * their bytes, and the budget's peak stays within it. */
static void test_read_budget(void **state)
{
	struct env *e = *state;
	size_t len = 1536 * 1024, small = 4096;
	char *data = pattern(len, 9), name[32];
	struct bmfs_handle *h[100];
	uint64_t used, peak;
	int i;

	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		put_blob(e->c, name, data, small, false);
	}
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		put_blob(e->c, name, data, len, false);
	}
	env_mount(e);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "/s%d", i);
		assert_int_equal(bmfs_open(e->fs, name, O_RDONLY, &h[i]), 0);
		read_check(h[i], data, 0, small);
	}
	bmfs_rbudget_usage(e->fs->rbudget, &used, &peak);
	assert_int_equal(used, 100 * small); /* not 100 blocks */
	for (i = 0; i < 100; i++)
		assert_int_equal(bmfs_release(h[i]), 0);
	bmfs_rbudget_usage(e->fs->rbudget, &used, &peak);
	assert_int_equal(used, 0);

	/* 40 readers of one thread, in turns: every byte right, within the
	 * budget. */
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "/m%d", i);
		assert_int_equal(bmfs_open(e->fs, name, O_RDONLY, &h[i]), 0);
		read_check(h[i], data, 0, 1024 * 1024 + 4096);
	}
	for (i = 0; i < 40; i++)
		read_check(h[i], data, 1024 * 1024 + 4096,
			   len - 1024 * 1024 - 4096);
	read_check(h[0], data, 0, 4096);
	bmfs_rbudget_usage(e->fs->rbudget, &used, &peak);
	assert_true(used <= (uint64_t)32 << 20);
	assert_true(peak <= (uint64_t)32 << 20);
	for (i = 0; i < 40; i++)
		assert_int_equal(bmfs_release(h[i]), 0);
	bmfs_rbudget_usage(e->fs->rbudget, &used, &peak);
	assert_int_equal(used, 0);
	free(data);
}

struct seq_reader {
	struct bmfs *fs;
	const char *path;
	const char *want;
	size_t len;
	int rc; /* 0, or the first failure */
};

/* Reads the whole file in 128 KiB reads and compares it (a thread). */
static void *seq_read_main(void *arg)
{
	struct seq_reader *t = arg;
	struct bmfs_handle *h;
	char *back = malloc(t->len);
	size_t off = 0;
	int n;

	t->rc = bmfs_open(t->fs, t->path, O_RDONLY, &h);
	while (t->rc == 0 && off < t->len) {
		n = bmfs_read(h, back + off,
			      t->len - off < 131072 ? t->len - off : 131072,
			      off);
		if (n <= 0)
			t->rc = n < 0 ? n : -EIO;
		else
			off += (size_t)n;
	}
	if (t->rc == 0 && memcmp(back, t->want, t->len) != 0)
		t->rc = -EBADMSG;
	if (t->rc == 0)
		t->rc = bmfs_release(h);
	free(back);
	return NULL;
}

/* n threads each read a distinct blob of len bytes at once; every byte
 * right, fetched once (the heads' and streams' GETs only), the budget
 * never over. */
static void concurrent_readers(struct env *e, unsigned n, size_t len)
{
	char *data = pattern(len, 13), name[32][16];
	struct seq_reader t[32];
	pthread_t th[32];
	uint64_t used, peak;
	unsigned i;

	assert_true(n <= 32);
	for (i = 0; i < n; i++) {
		snprintf(name[i], sizeof(name[i]), "/c%u", i);
		put_blob(e->c, name[i] + 1, data, len, false);
	}
	env_mount(e);
	for (i = 0; i < n; i++) {
		t[i] = (struct seq_reader){e->fs, name[i], data, len, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, seq_read_main, &t[i]), 0);
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].rc, 0);
	}
	assert_int_equal(received(e), (uint64_t)n * len);
	assert_true(count(e, BM_OP_GET) <= 2 * n);
	bmfs_rbudget_usage(e->fs->rbudget, &used, &peak);
	assert_int_equal(used, 0);
	assert_true(peak <= (uint64_t)32 << 20);
	free(data);
}

/* More sequential readers than the budget holds blocks of (8 MiB blocks
 * of 32 MiB: 4): each byte is still fetched once (it was ~25 times for 8
 * readers of 64 MiB). */
static void test_concurrent_readers(void **state)
{
	concurrent_readers(*state, 8, 12 * 1024 * 1024 + 5);
}

/* 32 readers: shares of 1 MiB, streams of 256 KiB units. */
static void test_many_concurrent_readers(void **state)
{
	concurrent_readers(*state, 32, 3 * 1024 * 1024 + 7);
}

/* A reader that stopped reading keeps its units from readers that read
 * on, until it has been idle for a while; then a waiting reader takes
 * them, and the idle one refetches what it lost when it reads again. */
static void test_idle_reader_gives_way(void **state)
{
	struct env *e = *state;
	size_t len = 64 * 1024 * 1024;
	char *data = pattern(len, 17);
	struct bmfs_handle *a, *b;
	uint64_t used, peak;

	put_blob(e->c, "a", data, len, false);
	put_blob(e->c, "b", data, 4 * 1024 * 1024, false);
	env_mount(e);
	assert_int_equal(bmfs_open(e->fs, "/a", O_RDONLY, &a), 0);
	read_check(a, data, 0, 2 * 1024 * 1024);
	/* Its stream fills the whole budget ahead of it. */
	do {
		usleep(10000);
		bmfs_rbudget_usage(e->fs->rbudget, &used, &peak);
	} while (used < (uint64_t)32 << 20);
	e->now += 2; /* a is idle from now */
	assert_int_equal(bmfs_open(e->fs, "/b", O_RDONLY, &b), 0);
	read_check(b, data, 0, 4 * 1024 * 1024);
	assert_int_equal(bmfs_release(b), 0);
	read_check(a, data, 2 * 1024 * 1024, len - 2 * 1024 * 1024);
	assert_int_equal(bmfs_release(a), 0);
	bmfs_rbudget_usage(e->fs->rbudget, &used, &peak);
	assert_int_equal(used, 0);
	assert_true(peak <= (uint64_t)32 << 20);
	free(data);
}

/* GETs that fail (30%, seeded) under a prefetching reader: a read fails
 * with an errno or returns the right bytes, never wrong ones or an early
 * end, and a retried read goes on. */
static void test_read_faults(void **state)
{
	struct env *e = *state;
	size_t len = 6 * 1024 * 1024 + 7, off = 0;
	char *data = pattern(len, 11), *back = malloc(len);
	struct bmfs_handle *h = NULL;
	struct stat st;
	int n, tries = 0;

	put_blob(e->c, "f", data, len, false);
	e->c = bm_blob_client_new_faulty(e->c, 7, 0.3); /* owns the memory
							 * client */
	env_mount(e);
	while (bmfs_getattr(e->fs, "/f", &st) != 0)
		assert_true(++tries < 100);
	while (bmfs_open(e->fs, "/f", O_RDONLY, &h) != 0)
		assert_true(++tries < 100);
	while (off < len) {
		n = bmfs_read(h, back + off,
			      len - off < 131072 ? len - off : 131072, off);
		if (n < 0) {
			assert_true(n == -EIO || n == -ETIMEDOUT);
			assert_true(++tries < 1000);
			continue;
		}
		assert_true(n > 0);
		off += (size_t)n;
	}
	assert_int_equal(bmfs_read(h, back, 10, len), 0);
	assert_memory_equal(back, data, len);
	assert_int_equal(bmfs_release(h), 0);
	free(data);
	free(back);
}

/* Opens name read-only; returns whether the kernel may keep its pages. */
static bool open_keep(struct env *e, const char *path, struct bmfs_handle **h)
{
	assert_int_equal(bmfs_open(e->fs, path, O_RDONLY, h), 0);
	return bmfs_keep_cache(*h);
}

/* keep_cache: only for the version whose pages the kernel holds, never
 * after a handle of another version may have added pages. */
static void test_keep_cache(void **state)
{
	struct env *e = *state;
	size_t len = 2 * 1024 * 1024 + 1;
	char *v1 = pattern(len, 1), *v2 = pattern(len, 2),
	     *v3 = pattern(len, 3), buf[16];
	struct bmfs_handle *h, *old, *w;

	put_blob(e->c, "k", v1, len, false);
	env_mount(e);
	assert_false(open_keep(e, "/k", &h)); /* nothing cached yet */
	read_check(h, v1, 0, 4096);
	assert_int_equal(bmfs_release(h), 0);
	assert_true(open_keep(e, "/k", &h));
	assert_int_equal(bmfs_release(h), 0);

	/* A new version, once the attributes expire: drop, then keep. */
	put_blob(e->c, "k", v2, len, false);
	e->now += 241;
	assert_false(open_keep(e, "/k", &h));
	read_check(h, v2, 0, 4096);
	assert_int_equal(bmfs_release(h), 0);
	assert_true(open_keep(e, "/k", &old));

	/* A handle of v2 still open when v3 is seen may add v2 pages after
	 * the kernel dropped them: no keeping until a drop after it closed. */
	put_blob(e->c, "k", v3, len, false);
	e->now += 241;
	assert_false(open_keep(e, "/k", &h));
	assert_int_equal(bmfs_release(h), 0);
	assert_false(open_keep(e, "/k", &h));
	assert_int_equal(bmfs_release(h), 0);
	assert_int_equal(bmfs_release(old), 0);
	assert_false(open_keep(e, "/k", &h));
	assert_int_equal(bmfs_release(h), 0);
	assert_true(open_keep(e, "/k", &h));
	assert_int_equal(bmfs_release(h), 0);

	/* A kept handle reads the kept version only: ESTALE, not v1 bytes
	 * beside cached v3 pages. */
	put_blob(e->c, "k", v1, len, false);
	assert_true(open_keep(e, "/k", &h));
	assert_int_equal(bmfs_read(h, buf, sizeof(buf), 0), -ESTALE);
	assert_int_equal(bmfs_release(h), 0);

	/* A writer never keeps, and what it wrote is not kept either. */
	assert_int_equal(bmfs_open(e->fs, "/k", O_WRONLY | O_TRUNC, &w), 0);
	assert_false(bmfs_keep_cache(w));
	assert_int_equal(bmfs_write(w, "new", 3, 0), 3);
	assert_int_equal(bmfs_release(w), 0);
	assert_false(open_keep(e, "/k", &h));
	assert_int_equal(bmfs_release(h), 0);
	assert_true(open_keep(e, "/k", &h));
	assert_int_equal(bmfs_read(h, buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "new", 3);
	assert_int_equal(bmfs_release(h), 0);
	free(v1);
	free(v2);
	free(v3);
}

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	size_t sl = strlen(suffix);

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
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

/* A pending upload whose name is 1,020 two-byte characters (2,040 bytes
 * of UTF-8, past the 2,048-byte record buffer of old with the header) is
 * uploaded by a restart, under that name. */
static void test_long_name_recovered(void **state)
{
	struct env *e = *state;
	struct bm_error err = {0};
	struct bmfs_handle *h;
	char files[128], path[1 + 1020 * 2 + 1], *got = NULL;
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
	for (i = 0; i < 500 && !got; i++) {
		usleep(10000);
		got = get_blob(e->c, path + 1, NULL);
	}
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
	char files[128], *got = NULL;
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
	for (i = 0; i < 500 && !got; i++) {
		usleep(10000);
		got = get_blob(e->c, "later.txt", NULL);
	}
	assert_non_null(got);
	assert_string_equal(got, "later");
	free(got);
	for (i = 0; i < 500 && count_files(files, ".pending"); i++)
		usleep(10000);
	assert_int_equal(count_files(files, ".pending"), 0);
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
	struct bm_error err = {0};

	g->armed = g->entered = g->open = false;
	g->inner = e->c->ops;
	g->ops = *e->c->ops;
	g->ops.put = gated_put;
	g->client.ops = &g->ops;
	g->client.impl = e->c->impl;
	e->fs = bmfs_new(&g->client, CONTAINER, &e->o, &err);
	assert_non_null(e->fs);
	e->fs->clock = test_clock;
	e->fs->clock_ud = e;
	e->fs->client_borrowed = true;
	assert_int_equal(bmfs_start(e->fs), 0);
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

/* Reads a whole file through a fresh handle; returns its bytes. */
static char *read_all(struct bmfs *fs, const char *path, size_t len)
{
	struct bmfs_handle *h;
	char *back = malloc(len + 1);
	size_t off = 0;
	int n;

	assert_int_equal(bmfs_open(fs, path, O_RDONLY, &h), 0);
	/* Never ask for more than the buffer holds (one byte past len, to
	 * see the end): valgrind checks the whole range given to pread. */
	while ((n = bmfs_read(h, back + off,
			      len + 1 - off < 100000 ? len + 1 - off : 100000,
			      off)) > 0)
		off += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(off, len);
	assert_int_equal(bmfs_release(h), 0);
	return back;
}

/* Rereads and reads after writing cost nothing while the copy is fresh;
 * a new version (once the attributes expire), the timeout and the size
 * limit each end a cached copy. A read makes a copy only of a blob that
 * fits in one block (4 MiB here: a head GET and the rest of the block),
 * and only when it reads a version read before (the kernel, which keeps
 * pages across such opens, has lost them; there is no kernel here). */
static void test_file_cache(void **state)
{
	struct env *e = *state;
	size_t len = 2 * 1024 * 1024 + 500;
	char *v1 = pattern(len, 1), *v2 = pattern(len, 2), *back;
	struct bmfs_handle *h;
	uint64_t gets;

	put_blob(e->c, "a", v1, len, false);
	put_blob(e->c, "b", v2, len, false);
	e->o.file_cache_timeout = 1000;
	e->o.cache_size_mb = 4; /* room for one of them */
	e->o.block_size_mb = 4;
	env_mount(e);
	back = read_all(e->fs, "/a", len);
	assert_memory_equal(back, v1, len);
	free(back);
	assert_int_equal(count(e, BM_OP_GET), 2);
	back = read_all(e->fs, "/a", len); /* makes the copy */
	assert_memory_equal(back, v1, len);
	free(back);
	gets = count(e, BM_OP_GET);
	assert_int_equal(gets, 4);
	back = read_all(e->fs, "/a", len);
	assert_memory_equal(back, v1, len);
	free(back);
	assert_int_equal(count(e, BM_OP_GET), gets);

	/* A new version is seen once the attributes expire. */
	put_blob(e->c, "a", v2, len, false);
	e->now += 241;
	back = read_all(e->fs, "/a", len);
	assert_memory_equal(back, v2, len);
	free(back);
	assert_int_equal(count(e, BM_OP_GET), gets + 2);
	back = read_all(e->fs, "/a", len); /* a copy of v2 */
	free(back);
	gets = count(e, BM_OP_GET);
	back = read_all(e->fs, "/a", len);
	free(back);
	assert_int_equal(count(e, BM_OP_GET), gets);

	/* b pushes a out: 4 MiB holds one copy. */
	back = read_all(e->fs, "/b", len);
	free(back);
	back = read_all(e->fs, "/b", len);
	free(back);
	gets = count(e, BM_OP_GET);
	back = read_all(e->fs, "/a", len);
	free(back);
	assert_int_equal(count(e, BM_OP_GET), gets + 2);

	/* Written through the mount: read back without a request. */
	assert_int_equal(bmfs_create(e->fs, "/w", O_WRONLY, &h), 0);
	assert_int_equal(bmfs_write(h, v1, len, 0), (int)len);
	assert_int_equal(bmfs_release(h), 0);
	gets = count(e, BM_OP_GET);
	back = read_all(e->fs, "/w", len);
	assert_memory_equal(back, v1, len);
	free(back);
	assert_int_equal(count(e, BM_OP_GET), gets);

	/* Unused for longer than the timeout: fetched again. */
	e->now += 1001;
	back = read_all(e->fs, "/w", len);
	free(back);
	assert_true(count(e, BM_OP_GET) > gets);
	free(v1);
	free(v2);
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

/* blobfuse2's block_cache.mem-size-mb and libfuse.default-permission:
 * a smaller read budget holds, and every entry shows the permission. */
static void test_blobfuse2_options(void **state)
{
	struct env *e = *state;
	size_t len = 1536 * 1024;
	char *data = pattern(len, 5), name[32];
	struct bmfs_handle *h[10];
	uint64_t used, peak;
	struct stat st;
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "d/m%d", i);
		put_blob(e->c, name, data, len, false);
	}
	e->o.read_budget_mb = 4;
	e->o.readahead_blocks = 0;
	e->o.default_permission = 0770;
	env_mount(e);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "/d/m%d", i);
		assert_int_equal(bmfs_open(e->fs, name, O_RDONLY, &h[i]), 0);
		read_check(h[i], data, 0, len);
	}
	bmfs_rbudget_usage(e->fs->rbudget, &used, &peak);
	assert_true(peak <= (uint64_t)4 << 20);
	for (i = 0; i < 10; i++)
		assert_int_equal(bmfs_release(h[i]), 0);
	assert_int_equal(bmfs_getattr(e->fs, "/d/m1", &st), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0770);
	assert_int_equal(bmfs_getattr(e->fs, "/d", &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 0770);
	free(data);
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
	    cmocka_unit_test_setup_teardown(test_write_visible_and_uploaded,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_streaming_read, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_write_behind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_changed_under_reader, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_first_read_is_a_head, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_read_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_readers, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_many_concurrent_readers, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_idle_reader_gives_way, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_keep_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_faults, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_failed_upload_kept_and_recovered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_name_recovered, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_failed_upload_retried, setup,
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
	    cmocka_unit_test_setup_teardown(test_write_error_never_uploaded,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_namespace_ops, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_file_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blobfuse2_options, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_stats_xattr, setup, teardown),
	    cmocka_unit_test(test_errno_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
