/*
 * test-blob-upload: bm_blob_list_all and bm_blob_upload_fd, written on
 * the ops table alone, run here against the in-memory client: paging,
 * a callback that stops a listing, one Put Blob vs parallel blocks, the
 * 50,000-block limit, a failed block that leaves no blob behind, and the
 * two-writer rule: block ids unique per upload, a commit that names
 * blocks committed before made If-Match on that commit's ETag, and a
 * writer whose blocks are gone or whose condition failed sending all its
 * blocks again, so the blob holds one writer's whole content.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bm_auth.h"
#include "bm_blob.h"

static struct bm_blob_client *memory_with_container(void)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	struct bm_error err;

	assert_non_null(c);
	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "data", &err), 0);
	return c;
}

static uint64_t count(struct bm_blob_client *c, enum bm_op op)
{
	struct bm_http_stats st;

	c->ops->get_stats(c, &st);
	return st.requests[op];
}

struct list_state {
	int n;
	int stop_at; /* 0: never */
	char last[64];
};

static int on_entry(const struct bm_blob_entry *e, void *ud)
{
	struct list_state *s = ud;

	/* Names arrive in order, each once, across pages. */
	assert_true(strcmp(s->last, e->name) < 0);
	snprintf(s->last, sizeof(s->last), "%s", e->name);
	s->n++;
	return s->stop_at && s->n == s->stop_at;
}

static void test_list_all_pages(void **state)
{
	struct bm_blob_client *c = memory_with_container();
	struct list_state s = {0, 0, ""};
	struct bm_body body = {"x", 0, 0, 1};
	struct bm_list_opts lo;
	struct bm_error err;
	char name[32];
	int i;

	bm_error_clear(&err);
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "blob-%02d", i);
		assert_int_equal(
		    c->ops->put(c, "data", name, &body, NULL, NULL, &err), 0);
	}
	memset(&lo, 0, sizeof(lo));
	lo.max_results = 5;
	assert_int_equal(bm_blob_list_all(c, "data", &lo, on_entry, &s, &err),
			 0);
	assert_int_equal(s.n, 12);
	assert_int_equal(count(c, BM_OP_LIST), 3);
	/* A callback that stops: no further page is fetched. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(bm_blob_list_all(c, "data", &lo, on_entry, &s, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_ABORTED);
	assert_int_equal(s.n, 2);
	assert_int_equal(count(c, BM_OP_LIST), 4);
	bm_blob_client_free(c);
}

/* A temporary file of len pseudo-random bytes drawn from seed (kept in
 * *data). */
static int seeded_file(size_t len, unsigned seed, char **data)
{
	char path[] = "/tmp/test-blob-upload.XXXXXX";
	int fd = mkstemp(path);
	unsigned x = seed;
	size_t i;

	assert_true(fd >= 0);
	unlink(path);
	*data = malloc(len ? len : 1);
	assert_non_null(*data);
	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		(*data)[i] = (char)(x >> 16);
	}
	assert_int_equal(write(fd, *data, len), (ssize_t)len);
	return fd;
}

static int temp_file(size_t len, char **data)
{
	return seeded_file(len, 99, data);
}

struct buf {
	char *data;
	size_t len;
};

static int to_buf(const void *data, size_t len, void *ud)
{
	struct buf *b = ud;

	b->data = realloc(b->data, b->len + len);
	assert_non_null(b->data);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static void check_content(struct bm_blob_client *c, const char *name,
			  const char *want, size_t len)
{
	struct buf got = {NULL, 0};
	struct bm_error err;

	bm_error_clear(&err);
	assert_int_equal(
	    c->ops->get(c, "data", name, NULL, to_buf, &got, NULL, &err), 0);
	assert_int_equal(got.len, len);
	assert_memory_equal(got.data, want, len);
	free(got.data);
}

static void test_upload_single_and_blocks(void **state)
{
	struct bm_blob_client *c = memory_with_container();
	struct bm_blob_info info;
	struct bm_error err;
	char *data;
	size_t len = 100000;
	int fd = temp_file(len, &data);

	bm_error_clear(&err);
	/* At or under single_max: one Put Blob. */
	assert_int_equal(bm_blob_upload_fd(c, "data", "one", fd, len, len, 4096,
					   4, NULL, &info, &err),
			 0);
	assert_int_equal(count(c, BM_OP_PUT), 1);
	assert_int_equal(count(c, BM_OP_PUT_BLOCK), 0);
	assert_int_equal(info.size, len);
	check_content(c, "one", data, len);
	/* Over it: ceil(100000 / 4096) = 25 blocks, 4 threads, one list. */
	assert_int_equal(bm_blob_upload_fd(c, "data", "blocks", fd, len,
					   len - 1, 4096, 4, NULL, &info, &err),
			 0);
	assert_int_equal(count(c, BM_OP_PUT_BLOCK), 25);
	assert_int_equal(count(c, BM_OP_PUT_BLOCK_LIST), 1);
	assert_int_equal(info.size, len);
	assert_true(info.etag[0] != '\0');
	check_content(c, "blocks", data, len);
	/* One thread does the same. */
	assert_int_equal(bm_blob_upload_fd(c, "data", "serial", fd, len, 0,
					   4096, 1, NULL, NULL, &err),
			 0);
	check_content(c, "serial", data, len);
	close(fd);
	free(data);
	bm_blob_client_free(c);
}

/* A stub service that only counts blocks and checks the committed list
 * (the in-memory one would do 30,000 real blocks here, slowly). */
struct stub {
	struct bm_blob_client base;
	pthread_mutex_t lock;
	uint64_t blocks, bytes;
	size_t committed, id_len;
};

static int stub_put_block(struct bm_blob_client *c, const char *container,
			  const char *name, const char *block_id,
			  const struct bm_body *body, struct bm_error *err)
{
	struct stub *s = c->impl;

	pthread_mutex_lock(&s->lock);
	s->blocks++;
	s->bytes += body->len;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int stub_put_block_list(struct bm_blob_client *c, const char *container,
			       const char *name, const char *const *ids,
			       size_t n, const struct bm_put_opts *o,
			       struct bm_blob_info *info, struct bm_error *err)
{
	struct stub *s = c->impl;
	size_t i;

	s->committed = n;
	s->id_len = strlen(ids[0]);
	for (i = 0; i < n; i++) {
		assert_int_equal(strlen(ids[i]), s->id_len);
		assert_true(i == 0 || strcmp(ids[i - 1], ids[i]) != 0);
	}
	if (info)
		memset(info, 0, sizeof(*info));
	return 0;
}

static const struct bm_blob_ops stub_ops = {
    .put_block = stub_put_block,
    .put_block_list = stub_put_block_list,
};

/* 60,000 one-byte blocks would pass the service's 50,000: the block size
 * doubles until the count fits; every byte is sent once and all ids have
 * one length. */
static void test_block_limit(void **state)
{
	struct stub s = {
	    {&stub_ops, &s}, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
	struct bm_blob_info info;
	struct bm_error err;
	char *data;
	size_t len = 60000;
	int fd = temp_file(len, &data);

	bm_error_clear(&err);
	assert_int_equal(bm_blob_upload_fd(&s.base, "data", "many", fd, len, 0,
					   1, 8, NULL, &info, &err),
			 0);
	assert_int_equal(s.blocks, 30000);
	assert_int_equal(s.committed, 30000);
	assert_int_equal(s.bytes, len);
	assert_int_equal(info.size, len);
	close(fd);
	free(data);
}

/* A block that fails stops the upload before Put Block List: the blob
 * does not appear, half-written or otherwise, and the error is the
 * block's. */
static void test_failed_block_leaves_nothing(void **state)
{
	struct bm_blob_client *c =
	    bm_blob_client_new_faulty(memory_with_container(), 5, 0.2);
	struct bm_blob_info info;
	struct bm_error err;
	char *data;
	size_t len = 64 * 1024;
	int fd = temp_file(len, &data), rc;

	bm_error_clear(&err);
	rc = bm_blob_upload_fd(c, "data", "flaky", fd, len, 0, 1024, 4, NULL,
			       NULL, &err);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err.msg, "injected fault in put_block"));
	assert_int_equal(count(c, BM_OP_PUT_BLOCK_LIST), 0);
	/* Nothing was committed (head until a call is not injected). */
	do {
		bm_error_clear(&err);
		rc = c->ops->head(c, "data", "flaky", &info, &err);
	} while (rc < 0 && strstr(err.msg, "injected"));
	assert_int_equal(rc, -1);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);
	close(fd);
	free(data);
	bm_blob_client_free(c);
}

/* Ids: 44 base64 characters (33 bytes), the prefix and the index in
 * them, a fresh prefix per draw. */
static void test_block_ids(void **state)
{
	char p1[BM_BLOCK_PREFIX_SIZE], p2[BM_BLOCK_PREFIX_SIZE];
	char *a, *b, *c;
	unsigned char *raw = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(bm_blob_block_prefix(p1, NULL), 0);
	assert_int_equal(bm_blob_block_prefix(p2, NULL), 0);
	assert_int_equal(strlen(p1), BM_BLOCK_PREFIX_SIZE - 1);
	assert_string_not_equal(p1, p2);
	a = bm_blob_block_id(p1, 0);
	b = bm_blob_block_id(p1, 49999);
	c = bm_blob_block_id(p2, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(strlen(a), 44);
	assert_int_equal(strlen(b), 44);
	assert_null(strchr(a, '='));
	assert_string_not_equal(a, c);
	assert_int_equal(bm_base64_decode(b, &raw, &len), 0);
	assert_int_equal(len, 33);
	assert_memory_equal(raw, "blobmill-", 9);
	assert_memory_equal(raw + 9, p1, 16);
	assert_memory_equal(raw + 25, "-0049999", 8);
	assert_null(bm_blob_block_id(p1, 10000000));
	assert_null(bm_blob_block_id("short", 0));
	free(raw);
	free(a);
	free(b);
	free(c);
}

/*
 * A client that delegates to the in-memory one, and can run a hook just
 * before the next Put Block List of "out" reaches the service (another
 * writer's upload, between this writer's blocks and its commit), or lose
 * the response of the next conditional one (the commit happens, the
 * caller sees a network error, and bm_http does not retry it).
 */
struct hooked {
	struct bm_blob_client base;
	struct bm_blob_client *inner;
	void (*before_commit)(struct hooked *h);
	bool lose_conditional;
	int other_fd; /* the other writer's file */
	size_t other_len;
	unsigned conditional; /* If-Match commits seen */
};

static int h_put_block(struct bm_blob_client *c, const char *container,
		       const char *name, const char *id,
		       const struct bm_body *body, struct bm_error *err)
{
	struct hooked *h = c->impl;

	return h->inner->ops->put_block(h->inner, container, name, id, body,
					err);
}

static int h_put_block_list(struct bm_blob_client *c, const char *container,
			    const char *name, const char *const *ids, size_t n,
			    const struct bm_put_opts *o,
			    struct bm_blob_info *info, struct bm_error *err)
{
	struct hooked *h = c->impl;
	void (*hook)(struct hooked *) = h->before_commit;
	int rc;

	h->before_commit = NULL;
	if (hook)
		hook(h);
	if (o && o->if_match)
		h->conditional++;
	rc = h->inner->ops->put_block_list(h->inner, container, name, ids, n, o,
					   info, err);
	if (rc == 0 && o && o->if_match && h->lose_conditional) {
		h->lose_conditional = false;
		bm_error_set(err, BM_ERR_NETWORK, "connection reset");
		return -1;
	}
	return rc;
}

static int h_put(struct bm_blob_client *c, const char *container,
		 const char *name, const struct bm_body *body,
		 const struct bm_put_opts *o, struct bm_blob_info *info,
		 struct bm_error *err)
{
	struct hooked *h = c->impl;

	return h->inner->ops->put(h->inner, container, name, body, o, info,
				  err);
}

static const struct bm_blob_ops hooked_ops = {
    .put = h_put,
    .put_block = h_put_block,
    .put_block_list = h_put_block_list,
};

/* The other writer: a whole upload of its file with its own blocks. */
static void other_writer_puts(struct hooked *h)
{
	struct bm_error err;

	bm_error_clear(&err);
	assert_int_equal(bm_blob_upload_fd(h->inner, "data", "out", h->other_fd,
					   h->other_len, 0, 1000, 2, NULL, NULL,
					   &err),
			 0);
}

/* Bitmap of blocks [0, n) but `skip`. */
static void bits_all_but(uint8_t *bits, size_t n, size_t skip)
{
	size_t i;

	memset(bits, 0, (n + 7) / 8);
	for (i = 0; i < n; i++)
		if (i != skip)
			bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Writer A's file "mine" and writer B's "theirs", 10 blocks of 1000
 * bytes each, over the hooked in-memory service. */
struct two {
	struct bm_blob_client *mem;
	struct hooked h;
	int fd;
	char *mine, *theirs;
	size_t len;
	struct bm_blocks b; /* A's */
	struct bm_blob_info info;
	struct bm_error err;
};

static void two_begin(struct two *t, unsigned seed)
{
	memset(t, 0, sizeof(*t));
	t->mem = memory_with_container();
	t->h = (struct hooked){
	    {&hooked_ops, &t->h}, t->mem, NULL, false, -1, 0, 0};
	t->len = 10000;
	t->fd = seeded_file(t->len, seed, &t->mine);
	t->h.other_fd = seeded_file(t->len, seed + 1, &t->theirs);
	t->h.other_len = t->len;
	t->b.block_size = 1000;
}

static void two_end(struct two *t)
{
	close(t->fd);
	close(t->h.other_fd);
	free(t->mine);
	free(t->theirs);
	bm_blob_client_free(t->mem);
}

/* A uploads its file with t->b; returns the call's result. */
static int two_upload(struct two *t, const struct bm_put_opts *o)
{
	bm_error_clear(&t->err);
	return bm_blob_upload_blocks_fd(&t->h.base, "data", "out", t->fd,
					t->len, &t->b, 4, o, &t->info, &t->err);
}

/* A changes byte `off`, and has all its blocks but off's committed by
 * its last upload (bits: room for them). */
static void two_change(struct two *t, size_t off, uint8_t *bits)
{
	t->mine[off] ^= 0x55;
	assert_int_equal(pwrite(t->fd, t->mine + off, 1, (off_t)off), 1);
	snprintf(t->b.etag, sizeof(t->b.etag), "%s", t->info.etag);
	bits_all_but(bits, 10, off / 1000);
	t->b.sent = bits;
}

/* The reproduction at the library level: writer A commits 10
 * blocks; writer B, with the same block size, replaces the blob; A
 * changes its last block and commits naming its 9 other blocks again.
 * Before: B's 9 blocks under A's last one. Now: A's commit is If-Match
 * its own ETag, fails (412), and A sends all 10 again. */
static void test_two_writers_commit_after(void **state)
{
	struct two t;
	uint8_t bits[2];
	uint64_t blocks0;

	(void)state;
	two_begin(&t, 1);
	assert_int_equal(two_upload(&t, NULL), 0);
	assert_false(t.b.resent);
	check_content(t.mem, "out", t.mine, t.len);

	/* No one else wrote: one block goes, the rest is named again. */
	two_change(&t, 3500, bits);
	blocks0 = count(t.mem, BM_OP_PUT_BLOCK);
	assert_int_equal(two_upload(&t, NULL), 0);
	assert_int_equal(count(t.mem, BM_OP_PUT_BLOCK) - blocks0, 1);
	assert_int_equal(t.h.conditional, 1);
	assert_false(t.b.resent);
	check_content(t.mem, "out", t.mine, t.len);

	/* B replaces the blob; A changes its last block. */
	two_change(&t, t.len - 1, bits);
	other_writer_puts(&t.h);
	check_content(t.mem, "out", t.theirs, t.len);
	blocks0 = count(t.mem, BM_OP_PUT_BLOCK);
	assert_int_equal(two_upload(&t, NULL), 0);
	assert_true(t.b.resent);
	assert_int_equal(count(t.mem, BM_OP_PUT_BLOCK) - blocks0, 1 + 10);
	check_content(t.mem, "out", t.mine, t.len);
	two_end(&t);
}

/* Interleaved: A has sent its blocks (uncommitted), B's whole upload
 * commits before A's commit, which so names blocks that are gone
 * (InvalidBlockList). A sends all again: its content, whole. With
 * bm_blob_upload_fd, as the CLI uses it. */
static void test_two_writers_interleaved(void **state)
{
	struct two t;

	(void)state;
	two_begin(&t, 3);
	t.h.before_commit = other_writer_puts;
	assert_int_equal(bm_blob_upload_fd(&t.h.base, "data", "out", t.fd,
					   t.len, 0, 1000, 4, NULL, NULL,
					   &t.err),
			 0);
	assert_int_equal(count(t.mem, BM_OP_PUT_BLOCK_LIST), 3); /* A, B, A */
	assert_int_equal(count(t.mem, BM_OP_PUT_BLOCK), 10 + 10 + 10);
	check_content(t.mem, "out", t.mine, t.len);
	two_end(&t);
}

/* A conditional commit whose response is lost (it did commit): not
 * retried as such; everything goes again without condition, and the
 * blob is this writer's content. A caller's own If-Match is kept and
 * its failure returned. */
static void test_conditional_commit_lost(void **state)
{
	struct bm_put_opts po = {0};
	struct two t;
	uint8_t bits[2];

	(void)state;
	two_begin(&t, 5);
	assert_int_equal(two_upload(&t, NULL), 0);
	two_change(&t, 0, bits);
	t.h.lose_conditional = true;
	assert_int_equal(two_upload(&t, NULL), 0);
	assert_true(t.b.resent);
	check_content(t.mem, "out", t.mine, t.len);

	/* The caller's condition: a stale ETag fails, nothing resent. */
	po.if_match = "\"0x0\"";
	memset(&t.b, 0, sizeof(t.b));
	t.b.block_size = 1000;
	assert_int_equal(two_upload(&t, &po), -1);
	assert_int_equal(t.err.code, BM_ERR_PRECONDITION);
	assert_false(t.b.resent);
	check_content(t.mem, "out", t.mine, t.len);
	two_end(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_all_pages),
	    cmocka_unit_test(test_upload_single_and_blocks),
	    cmocka_unit_test(test_block_limit),
	    cmocka_unit_test(test_failed_block_leaves_nothing),
	    cmocka_unit_test(test_block_ids),
	    cmocka_unit_test(test_two_writers_commit_after),
	    cmocka_unit_test(test_two_writers_interleaved),
	    cmocka_unit_test(test_conditional_commit_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
