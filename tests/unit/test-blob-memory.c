/*
 * test-blob-memory: the in-memory Blob service behaves like Azure where the
 * layers above can tell: listing order, prefix/delimiter/marker paging,
 * metadata and directory markers, error categories, ETag conditions,
 * uncommitted blocks, ranges, copy, counters, and concurrent use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "bm_blob.h"

struct listed {
	char names[64][128];
	bool prefix[64];
	bool dir[64];
	uint64_t size[64];
	int n;
	int stop_after; /* callback returns nonzero after this many; 0 never */
};

static int collect(const struct bm_blob_entry *e, void *ud)
{
	struct listed *l = ud;

	assert_true(l->n < 64);
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", e->name);
	l->prefix[l->n] = e->is_prefix;
	l->dir[l->n] = e->is_dir_marker;
	l->size[l->n] = e->size;
	l->n++;
	return l->stop_after && l->n >= l->stop_after;
}

static struct bm_blob_client *client_with(const char *const *names)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	struct bm_error err = {0};
	struct bm_body body = {0};
	size_t i;

	assert_non_null(c);
	assert_int_equal(c->ops->create_container(c, "data", &err), 0);
	for (i = 0; names && names[i]; i++) {
		body.buf = names[i];
		body.len = strlen(names[i]);
		assert_int_equal(
		    c->ops->put(c, "data", names[i], &body, NULL, NULL, &err),
		    0);
	}
	return c;
}

static const char *const tree[] = {
    "b.txt", "a/1", "a/2",	"a/sub/x", "a0",
    "c/d/e", "A",   "\xc3\xa9", "a.b",	   NULL,
};

static void test_flat_sorted_by_bytes(void **state)
{
	struct bm_blob_client *c = client_with(tree);
	static const char *const want[] = {"A",	    "a.b",     "a/1",
					   "a/2",   "a/sub/x", "a0",
					   "b.txt", "c/d/e",   "\xc3\xa9"};
	struct bm_list_opts o = {0};
	struct bm_error err = {0};
	struct listed l = {0};
	char *next = (char *)"x";
	size_t i;

	(void)state;
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), 0);
	assert_null(next);
	assert_int_equal(l.n, 9);
	for (i = 0; i < 9; i++) {
		assert_string_equal(l.names[i], want[i]);
		assert_false(l.prefix[i]);
	}
	bm_blob_client_free(c);
}

static void test_delimiter_and_prefix(void **state)
{
	struct bm_blob_client *c = client_with(tree);
	struct bm_list_opts o = {.delimiter = "/"};
	struct bm_error err = {0};
	struct listed l = {0};
	char *next;

	(void)state;
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), 0);
	assert_null(next);
	assert_int_equal(l.n, 7);
	assert_string_equal(l.names[0], "A");
	assert_string_equal(l.names[1], "a.b");
	assert_string_equal(l.names[2], "a/");
	assert_true(l.prefix[2]);
	assert_string_equal(l.names[3], "a0");
	assert_string_equal(l.names[4], "b.txt");
	assert_string_equal(l.names[5], "c/");
	assert_true(l.prefix[5]);
	assert_string_equal(l.names[6], "\xc3\xa9");

	memset(&l, 0, sizeof(l));
	o.prefix = "a/";
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "a/1");
	assert_string_equal(l.names[1], "a/2");
	assert_string_equal(l.names[2], "a/sub/");
	assert_true(l.prefix[2]);

	/* A prefix that is not a directory matches by bytes. */
	memset(&l, 0, sizeof(l));
	o.prefix = "a";
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "a.b");
	assert_string_equal(l.names[1], "a/");
	assert_string_equal(l.names[2], "a0");

	memset(&l, 0, sizeof(l));
	o.prefix = "zz";
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), 0);
	assert_int_equal(l.n, 0);
	assert_null(next);
	bm_blob_client_free(c);
}

/* Paging: every entry exactly once, in order, whatever the page size,
 * with and without a delimiter. */
static void test_paging(void **state)
{
	struct bm_blob_client *c = client_with(tree);
	struct bm_error err = {0};
	struct bm_list_opts o = {0};
	struct listed all, page;
	char *next = NULL, *marker;
	int size, pages, d;

	(void)state;
	for (d = 0; d < 2; d++) {
		for (size = 1; size <= 10; size++) {
			memset(&all, 0, sizeof(all));
			o.delimiter = d ? "/" : NULL;
			o.max_results = size;
			o.marker = NULL;
			pages = 0;
			do {
				memset(&page, 0, sizeof(page));
				assert_int_equal(
				    c->ops->list_page(c, "data", &o, collect,
						      &page, &next, &err),
				    0);
				assert_true(page.n <= size);
				memcpy(all.names[all.n], page.names,
				       sizeof(page.names[0]) * (size_t)page.n);
				all.n += page.n;
				marker = (char *)o.marker;
				free(marker);
				o.marker = next;
				pages++;
			} while (next);
			assert_int_equal(all.n, d ? 7 : 9);
			/* A full last page ends without a marker. */
			assert_int_equal(pages, (all.n + size - 1) / size);
			assert_string_equal(all.names[0], "A");
			assert_string_equal(all.names[all.n - 1], "\xc3\xa9");
			if (d) {
				assert_string_equal(all.names[2], "a/");
				assert_string_equal(all.names[5], "c/");
			}
		}
	}
	o.max_results = 5001;
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &page, &next, &err), -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_blob_client_free(c);
}

static void test_metadata_dir_marker(void **state)
{
	struct bm_blob_client *c = client_with(NULL);
	const struct bm_metadata md[] = {{"hdi_isfolder", "true"}};
	struct bm_put_opts po = {.metadata = md, .nmetadata = 1};
	struct bm_list_opts o = {.delimiter = "/"};
	struct bm_error err = {0};
	struct bm_blob_info info;
	struct listed l = {0};
	char *next;

	(void)state;
	assert_int_equal(c->ops->put(c, "data", "dir", NULL, &po, &info, &err),
			 0);
	assert_true(info.is_dir_marker);
	assert_int_equal(info.size, 0);
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), 0);
	assert_int_equal(l.n, 1);
	assert_false(l.dir[0]); /* metadata only when asked for */
	memset(&l, 0, sizeof(l));
	o.include_metadata = true;
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), 0);
	assert_true(l.dir[0]);
	assert_int_equal(c->ops->head(c, "data", "dir", &info, &err), 0);
	assert_true(info.is_dir_marker);

	/* Bad metadata names are refused as Azure refuses them. */
	const struct bm_metadata bad[] = {{"has-dash", "x"}};
	po.metadata = bad;
	assert_int_equal(c->ops->put(c, "data", "f", NULL, &po, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_blob_client_free(c);
}

struct sinkbuf {
	char data[256];
	size_t len;
	int calls;
	int abort_at;
};

static int sink(const void *p, size_t n, void *ud)
{
	struct sinkbuf *s = ud;

	assert_true(s->len + n <= sizeof(s->data));
	memcpy(s->data + s->len, p, n);
	s->len += n;
	return ++s->calls == s->abort_at;
}

static void test_errors(void **state)
{
	struct bm_blob_client *c = client_with(tree);
	struct bm_error err = {0};
	struct bm_blob_info info;
	struct bm_list_opts o = {0};
	struct sinkbuf s = {0};
	char *next;

	(void)state;
	assert_int_equal(c->ops->create_container(c, "data", &err), -1);
	assert_int_equal(err.code, BM_ERR_EXISTS);
	assert_string_equal(err.msg, "container 'data' already exists");
	bm_error_clear(&err);
	assert_int_equal(c->ops->check_container(c, "nope", &err), -1);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	assert_int_equal(err.http_status, 404);
	assert_string_equal(err.azure_code, "ContainerNotFound");
	bm_error_clear(&err);
	assert_int_equal(
	    c->ops->list_page(c, "nope", &o, collect, NULL, &next, &err), -1);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	bm_error_clear(&err);
	assert_int_equal(c->ops->head(c, "nope", "a/1", &info, &err), -1);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	bm_error_clear(&err);
	assert_int_equal(c->ops->head(c, "data", "missing", &info, &err), -1);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);
	assert_string_equal(err.msg, "blob 'missing' not found");
	bm_error_clear(&err);
	assert_int_equal(
	    c->ops->get(c, "data", "missing", NULL, sink, &s, NULL, &err), -1);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);
	bm_error_clear(&err);
	assert_int_equal(c->ops->remove(c, "data", "missing", &err), -1);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);
	bm_error_clear(&err);
	assert_int_equal(c->ops->copy(c, "data", "missing", "x", &err), -1);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);
	bm_error_clear(&err);
	assert_int_equal(c->ops->put(c, "nope", "x", NULL, NULL, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	bm_error_clear(&err);
	assert_int_equal(c->ops->delete_container(c, "nope", &err), -1);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "Bad_Name", &err), -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_error_clear(&err);
	assert_int_equal(c->ops->put(c, "data", "", NULL, NULL, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_error_clear(&err);
	assert_int_equal(
	    c->ops->put(c, "data", "bad\xff", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_error_clear(&err);

	/* Callbacks that stop a listing or a download: BM_ERR_ABORTED. */
	struct listed l = {.stop_after = 2};
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), -1);
	assert_int_equal(err.code, BM_ERR_ABORTED);
	assert_null(next);
	assert_int_equal(l.n, 2);
	bm_error_clear(&err);
	s.abort_at = 1;
	assert_int_equal(
	    c->ops->get(c, "data", "a/1", NULL, sink, &s, NULL, &err), -1);
	assert_int_equal(err.code, BM_ERR_ABORTED);

	/* Deleting a container deletes its blobs. */
	assert_int_equal(c->ops->delete_container(c, "data", &err), 0);
	assert_int_equal(c->ops->create_container(c, "data", &err), 0);
	assert_int_equal(c->ops->head(c, "data", "a/1", &info, &err), -1);
	bm_blob_client_free(c);
}

static void test_names_hostile(void **state)
{
	char longname[1025], *p;
	/* 1,024 UTF-16 units of "é" (2 bytes each in UTF-8) is allowed. */
	char unicode[2049];
	static const char *const names[] = {
	    "quote's \"double\"", "$(rm -rf /)", "-leading",
	    "new\nline",	  "100% #?&+",	 NULL,
	};
	struct bm_blob_client *c = client_with(names);
	struct bm_error err = {0};
	struct bm_blob_info info;
	size_t i;

	(void)state;
	for (i = 0; names[i]; i++)
		assert_int_equal(c->ops->head(c, "data", names[i], &info, &err),
				 0);
	memset(longname, 'x', 1024);
	longname[1024] = '\0';
	assert_int_equal(
	    c->ops->put(c, "data", longname, NULL, NULL, NULL, &err), 0);
	for (i = 0, p = unicode; i < 1024; i++) {
		*p++ = '\xc3';
		*p++ = '\xa9';
	}
	*p = '\0';
	assert_int_equal(
	    c->ops->put(c, "data", unicode, NULL, NULL, NULL, &err), 0);
	longname[1023] = 'y';
	char toolong[1026];
	snprintf(toolong, sizeof(toolong), "%sz", longname);
	assert_int_equal(
	    c->ops->put(c, "data", toolong, NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_blob_client_free(c);
}

static void test_get_ranges(void **state)
{
	static const char *const one[] = {NULL};
	struct bm_blob_client *c = client_with(one);
	struct bm_body body = {.buf = "0123456789", .len = 10};
	struct bm_get_opts g = {0};
	struct bm_error err = {0};
	struct bm_blob_info info;
	struct sinkbuf s = {0};

	(void)state;
	assert_int_equal(c->ops->put(c, "data", "f", &body, NULL, &info, &err),
			 0);
	assert_int_equal(
	    c->ops->get(c, "data", "f", NULL, sink, &s, NULL, &err), 0);
	assert_int_equal(s.len, 10);
	assert_memory_equal(s.data, "0123456789", 10);
	memset(&s, 0, sizeof(s));
	g.offset = 3;
	g.length = 4;
	assert_int_equal(c->ops->get(c, "data", "f", &g, sink, &s, NULL, &err),
			 0);
	assert_int_equal(s.len, 4);
	assert_memory_equal(s.data, "3456", 4);
	/* A length past the end is cut to the end. */
	memset(&s, 0, sizeof(s));
	g.offset = 8;
	g.length = 100;
	assert_int_equal(c->ops->get(c, "data", "f", &g, sink, &s, NULL, &err),
			 0);
	assert_int_equal(s.len, 2);
	/* An offset at or past the end of a non-empty blob: 416. */
	g.offset = 10;
	g.length = 0;
	assert_int_equal(c->ops->get(c, "data", "f", &g, sink, &s, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_RANGE);
	/* An empty blob reads as empty whole (no range is sent); any range
	 * on it is a 416, as from Azure. */
	bm_error_clear(&err);
	assert_int_equal(
	    c->ops->put(c, "data", "empty", NULL, NULL, NULL, &err), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    c->ops->get(c, "data", "empty", NULL, sink, &s, &info, &err), 0);
	assert_int_equal(s.len, 0);
	assert_int_equal(info.size, 0);
	assert_int_equal(
	    c->ops->get(c, "data", "empty", &g, sink, &s, &info, &err), -1);
	assert_int_equal(err.code, BM_ERR_RANGE);
	bm_error_clear(&err);
	g.offset = 0;
	g.length = 5;
	assert_int_equal(
	    c->ops->get(c, "data", "empty", &g, sink, &s, &info, &err), -1);
	assert_int_equal(err.code, BM_ERR_RANGE);
	bm_blob_client_free(c);
}

static void test_etags_and_conditions(void **state)
{
	struct bm_blob_client *c = client_with(NULL);
	struct bm_body body = {.buf = "v1", .len = 2};
	struct bm_put_opts po = {0};
	struct bm_get_opts g = {0};
	struct bm_error err = {0};
	struct bm_blob_info a, b;
	struct sinkbuf s = {0};

	(void)state;
	assert_int_equal(c->ops->put(c, "data", "f", &body, NULL, &a, &err), 0);
	assert_int_equal(a.etag[0], '"');
	assert_int_equal(c->ops->put(c, "data", "f", &body, NULL, &b, &err), 0);
	assert_string_not_equal(a.etag, b.etag);
	assert_true(b.mtime >= a.mtime && b.mtime > 0);

	po.if_none_match_any = true;
	assert_int_equal(c->ops->put(c, "data", "f", &body, &po, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_EXISTS);
	bm_error_clear(&err);
	assert_int_equal(c->ops->put(c, "data", "g", &body, &po, NULL, &err),
			 0);

	po.if_none_match_any = false;
	po.if_match = a.etag; /* stale */
	assert_int_equal(c->ops->put(c, "data", "f", &body, &po, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_PRECONDITION);
	assert_int_equal(err.http_status, 412);
	bm_error_clear(&err);
	po.if_match = b.etag;
	body.buf = "v3";
	assert_int_equal(c->ops->put(c, "data", "f", &body, &po, &a, &err), 0);

	g.if_match = b.etag; /* changed since */
	assert_int_equal(c->ops->get(c, "data", "f", &g, sink, &s, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_PRECONDITION);
	bm_error_clear(&err);
	g.if_match = a.etag;
	assert_int_equal(c->ops->get(c, "data", "f", &g, sink, &s, NULL, &err),
			 0);
	assert_memory_equal(s.data, "v3", 2);
	/* If-Match on a blob that is gone: the condition fails (412). */
	assert_int_equal(c->ops->remove(c, "data", "f", &err), 0);
	assert_int_equal(c->ops->get(c, "data", "f", &g, sink, &s, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_PRECONDITION);
	bm_error_clear(&err);
	assert_int_equal(c->ops->put(c, "data", "f", &body, &po, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_PRECONDITION);
	bm_blob_client_free(c);
}

static void test_blocks(void **state)
{
	struct bm_blob_client *c = client_with(NULL);
	struct bm_body b1 = {.buf = "hello ", .len = 6};
	struct bm_body b2 = {.buf = "world", .len = 5};
	const char *ids[] = {"MDAwMQ==", "MDAwMg=="}; /* "0001", "0002" */
	const char *again[] = {"MDAwMg==", "MDAwMQ==", "MDAwMw=="};
	struct bm_list_opts o = {0};
	struct bm_error err = {0};
	struct bm_blob_info info;
	struct sinkbuf s = {0};
	struct listed l = {0};
	char *next;

	(void)state;
	assert_int_equal(c->ops->put_block(c, "data", "big", ids[0], &b1, &err),
			 0);
	assert_int_equal(c->ops->put_block(c, "data", "big", ids[1], &b2, &err),
			 0);
	/* Uncommitted blocks are invisible. */
	assert_int_equal(c->ops->head(c, "data", "big", &info, &err), -1);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);
	bm_error_clear(&err);
	assert_int_equal(
	    c->ops->list_page(c, "data", &o, collect, &l, &next, &err), 0);
	assert_int_equal(l.n, 0);

	assert_int_equal(
	    c->ops->put_block_list(c, "data", "big", ids, 2, NULL, &info, &err),
	    0);
	/* As from Azure: the commit does not report the size, head does. */
	assert_int_equal(info.size, 0);
	assert_true(info.etag[0] == '"');
	assert_int_equal(c->ops->head(c, "data", "big", &info, &err), 0);
	assert_int_equal(info.size, 11);
	assert_int_equal(
	    c->ops->get(c, "data", "big", NULL, sink, &s, NULL, &err), 0);
	assert_int_equal(s.len, 11);
	assert_memory_equal(s.data, "hello world", 11);

	/* Committed blocks may be named again; unknown ids fail. */
	assert_int_equal(c->ops->put_block_list(c, "data", "big", again, 3,
						NULL, &info, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_error_clear(&err);
	assert_int_equal(c->ops->put_block_list(c, "data", "big", again, 2,
						NULL, &info, &err),
			 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    c->ops->get(c, "data", "big", NULL, sink, &s, NULL, &err), 0);
	assert_memory_equal(s.data, "worldhello ", 11);

	/* Block ids: base64, equal lengths per blob. */
	assert_int_equal(
	    c->ops->put_block(c, "data", "x", "not base64!", &b1, &err), -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_error_clear(&err);
	assert_int_equal(c->ops->put_block(c, "data", "x", "QQ==", &b1, &err),
			 0);
	assert_int_equal(
	    c->ops->put_block(c, "data", "x", "QUJDRA==", &b1, &err), -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_error_clear(&err);
	assert_int_equal(c->ops->put_block(c, "nope", "x", "QQ==", &b1, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	bm_error_clear(&err);
	/* Put Blob discards the uncommitted blocks of that name. */
	assert_int_equal(c->ops->put(c, "data", "x", &b2, NULL, NULL, &err), 0);
	const char *qq[] = {"QQ=="};
	assert_int_equal(
	    c->ops->put_block_list(c, "data", "x", qq, 1, NULL, NULL, &err),
	    -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	bm_error_clear(&err);
	/* At most 50,000 blocks in a list, as on Azure. */
	const char **many = calloc(50001, sizeof(*many));
	for (size_t k = 0; k < 50001; k++)
		many[k] = "QQ==";
	assert_int_equal(c->ops->put_block(c, "data", "m", "QQ==", &b1, &err),
			 0);
	assert_int_equal(c->ops->put_block_list(c, "data", "m", many, 50001,
						NULL, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	assert_string_equal(err.azure_code, "BlockCountExceedsLimit");
	bm_error_clear(&err);
	assert_int_equal(c->ops->put_block_list(c, "data", "m", many, 50000,
						NULL, &info, &err),
			 0);
	assert_int_equal(c->ops->head(c, "data", "m", &info, &err), 0);
	assert_int_equal(info.size, 50000 * b1.len);
	free(many);

	/* An empty block list makes an empty blob. */
	assert_int_equal(
	    c->ops->put_block_list(c, "data", "e", NULL, 0, NULL, &info, &err),
	    0);
	info.size = 99;
	assert_int_equal(c->ops->head(c, "data", "e", &info, &err), 0);
	assert_int_equal(info.size, 0);
	bm_blob_client_free(c);
}

static void test_copy_remove(void **state)
{
	struct bm_blob_client *c = client_with(NULL);
	const struct bm_metadata md[] = {{"owner", "me"}};
	struct bm_put_opts po = {.metadata = md, .nmetadata = 1};
	struct bm_body body = {.buf = "data!", .len = 5};
	struct bm_error err = {0};
	struct bm_blob_info a, b;
	struct sinkbuf s = {0};

	(void)state;
	assert_int_equal(c->ops->put(c, "data", "src", &body, &po, &a, &err),
			 0);
	assert_int_equal(c->ops->copy(c, "data", "src", "dir/dst", &err), 0);
	assert_int_equal(c->ops->head(c, "data", "dir/dst", &b, &err), 0);
	assert_int_equal(b.size, 5);
	assert_string_not_equal(a.etag, b.etag);
	assert_int_equal(c->ops->remove(c, "data", "src", &err), 0);
	assert_int_equal(
	    c->ops->get(c, "data", "dir/dst", NULL, sink, &s, NULL, &err), 0);
	assert_memory_equal(s.data, "data!", 5);
	assert_int_equal(c->ops->head(c, "data", "src", &a, &err), -1);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);
	bm_blob_client_free(c);
}

static void test_body_from_fd(void **state)
{
	char path[] = "/tmp/test-blob-memory.XXXXXX";
	int fd = mkstemp(path);
	struct bm_blob_client *c = client_with(NULL);
	struct bm_body body = {.fd = fd, .offset = 2, .len = 5};
	struct bm_error err = {0};
	struct sinkbuf s = {0};

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	assert_int_equal(c->ops->put(c, "data", "f", &body, NULL, NULL, &err),
			 0);
	assert_int_equal(
	    c->ops->get(c, "data", "f", NULL, sink, &s, NULL, &err), 0);
	assert_memory_equal(s.data, "23456", 5);
	body.len = 20; /* file too short */
	assert_int_equal(c->ops->put(c, "data", "g", &body, NULL, NULL, &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_IO);
	close(fd);
	bm_blob_client_free(c);
}

static void test_stats(void **state)
{
	struct bm_blob_client *c = client_with(tree); /* 1 create + 9 puts */
	struct bm_list_opts o = {0};
	struct bm_http_stats st;
	struct bm_error err = {0};
	struct bm_blob_info info;
	struct listed l = {0};
	char *next;

	(void)state;
	c->ops->list_page(c, "data", &o, collect, &l, &next, &err);
	c->ops->head(c, "data", "A", &info, &err);
	c->ops->head(c, "data", "missing", &info, &err);
	c->ops->remove(c, "data", "A", &err);
	c->ops->copy(c, "data", "a0", "a9", &err);
	c->ops->get_stats(c, &st);
	assert_int_equal(st.requests[BM_OP_CONTAINER], 1);
	assert_int_equal(st.requests[BM_OP_PUT], 9);
	assert_int_equal(st.requests[BM_OP_LIST], 1);
	assert_int_equal(st.requests[BM_OP_HEAD], 2);
	assert_int_equal(st.requests[BM_OP_DELETE], 1);
	assert_int_equal(st.requests[BM_OP_COPY], 1);
	assert_int_equal(st.requests[BM_OP_GET], 0);
	assert_int_equal(st.retries, 0);
	assert_true(st.bytes_sent > 0);
	bm_blob_client_free(c);
}

/* Writers and readers at once: every read sees one whole version. */
struct race {
	struct bm_blob_client *c;
	int id;
};

static int sink_check(const void *p, size_t n, void *ud)
{
	const unsigned char *b = p;
	int *first = ud;
	size_t i;

	for (i = 0; i < n; i++) {
		if (*first < 0)
			*first = b[i];
		if (b[i] != *first)
			return 1;
	}
	return 0;
}

static void *race_thread(void *arg)
{
	struct race *r = arg;
	unsigned char buf[200000];
	struct bm_body body = {.buf = buf, .len = sizeof(buf)};
	struct bm_error err = {0};
	int i, first;

	memset(buf, 'a' + r->id, sizeof(buf));
	for (i = 0; i < 50; i++) {
		if (r->c->ops->put(r->c, "data", "shared", &body, NULL, NULL,
				   &err) < 0)
			return (void *)1;
		first = -1;
		if (r->c->ops->get(r->c, "data", "shared", NULL, sink_check,
				   &first, NULL, &err) < 0)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct bm_blob_client *c = client_with(NULL);
	struct race r[4];
	pthread_t t[4];
	void *rc;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		r[i].c = c;
		r[i].id = i;
		assert_int_equal(
		    pthread_create(&t[i], NULL, race_thread, &r[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_null(rc);
	}
	bm_blob_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flat_sorted_by_bytes),
	    cmocka_unit_test(test_delimiter_and_prefix),
	    cmocka_unit_test(test_paging),
	    cmocka_unit_test(test_metadata_dir_marker),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_names_hostile),
	    cmocka_unit_test(test_get_ranges),
	    cmocka_unit_test(test_etags_and_conditions),
	    cmocka_unit_test(test_blocks),
	    cmocka_unit_test(test_copy_remove),
	    cmocka_unit_test(test_body_from_fd),
	    cmocka_unit_test(test_stats),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
