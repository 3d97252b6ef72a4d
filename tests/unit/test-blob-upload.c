/*
 * test-blob-upload: bm_blob_list_all and bm_blob_upload_fd, written on
 * the ops table alone, run here against the in-memory client: paging,
 * a callback that stops a listing, one Put Blob vs parallel blocks, the
 * 50,000-block limit, and a failed block that leaves no blob behind.
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

/* A temporary file of len pseudo-random bytes (kept in *data). */
static int temp_file(size_t len, char **data)
{
	char path[] = "/tmp/test-blob-upload.XXXXXX";
	int fd = mkstemp(path);
	unsigned x = 99;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_all_pages),
	    cmocka_unit_test(test_upload_single_and_blocks),
	    cmocka_unit_test(test_block_limit),
	    cmocka_unit_test(test_failed_block_leaves_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
