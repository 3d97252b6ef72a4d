/*
 * test-listing: the streaming List Blobs parser on recorded responses,
 * fed whole, one byte at a time and in odd chunks; malformed, truncated
 * and hostile documents must give BM_ERR_PROTOCOL, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bm_listing.h"

#define MAX_ENTRIES 8

struct seen {
	int n;
	char name[MAX_ENTRIES][256];
	bool is_prefix[MAX_ENTRIES];
	uint64_t size[MAX_ENTRIES];
	time_t mtime[MAX_ENTRIES];
	char etag[MAX_ENTRIES][64];
	char ctype[MAX_ENTRIES][64];
	bool marker[MAX_ENTRIES];
	int stop_after; /* 0: never stop */
};

static int collect(const struct bm_blob_entry *e, void *ud)
{
	struct seen *s = ud;

	assert_true(s->n < MAX_ENTRIES);
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", e->name);
	s->is_prefix[s->n] = e->is_prefix;
	s->size[s->n] = e->size;
	s->mtime[s->n] = e->mtime;
	snprintf(s->etag[s->n], sizeof(s->etag[0]), "%s", e->etag);
	snprintf(s->ctype[s->n], sizeof(s->ctype[0]), "%s", e->content_type);
	s->marker[s->n] = e->is_dir_marker;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static char *slurp(const char *name, size_t *len)
{
	char path[1024], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", BM_TEST_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Parses data in chunks of `chunk` bytes (0: all at once). Returns the
 * error code (BM_OK on success); *marker gets the NextMarker. */
static enum bm_errc parse(const char *data, size_t len, size_t chunk,
			  struct seen *s, char **marker, struct bm_error *err)
{
	struct bm_listing_parser *p = bm_listing_parser_new(collect, s);
	size_t off = 0;
	int rc = 0;

	assert_non_null(p);
	bm_error_clear(err);
	*marker = NULL;
	if (!chunk)
		chunk = len ? len : 1;
	while (off < len && rc == 0) {
		size_t n = len - off < chunk ? len - off : chunk;

		rc = bm_listing_parser_feed(p, data + off, n, err);
		off += n;
	}
	if (rc == 0)
		rc = bm_listing_parser_finish(p, marker, err);
	bm_listing_parser_free(p);
	assert_true(rc == 0 || err->code != BM_OK);
	return rc == 0 ? BM_OK : err->code;
}

static void check_page1(const struct seen *s, const char *marker)
{
	assert_int_equal(s->n, 3);
	assert_string_equal(s->name[0], "batch1/a & b <1>.txt");
	assert_false(s->is_prefix[0]);
	assert_int_equal(s->size[0], 1234);
	assert_int_equal(s->mtime[0], 1435361952);
	assert_string_equal(s->etag[0], "\"0x8D27E7F7C3B9D2A\"");
	assert_string_equal(s->ctype[0], "text/plain");
	assert_false(s->marker[0]);
	assert_string_equal(s->name[1], "batch1/sub/");
	assert_true(s->is_prefix[1]);
	assert_int_equal(s->size[1], 0);
	assert_string_equal(s->name[2], "batch1/ünïcödé 文件 $(rm -rf).bin");
	assert_int_equal(s->size[2], 0);
	assert_string_equal(s->etag[2], "\"0x8D9CC8B0FFFFFFF\"");
	assert_string_equal(s->ctype[2], "");
	assert_non_null(marker);
	assert_string_equal(marker, "2!96!MDAwMDQ2IWJhdGNoMS9zdWIvZmlsZS50eHQh"
				    "MDAwMDI4ITk5OTktMTItMzFUMjM6NTk6NTkuOTk5"
				    "OTk5OVoh");
}

static void test_page_whole(void **state)
{
	struct seen s = {0};
	struct bm_error err;
	char *marker, *xml;
	size_t len;

	xml = slurp("list-page1.xml", &len);
	assert_int_equal(parse(xml, len, 0, &s, &marker, &err), BM_OK);
	check_page1(&s, marker);
	free(marker);
	free(xml);
}

/* Every possible split point of the stream at once: one byte per feed. */
static void test_page_byte_at_a_time(void **state)
{
	struct seen s = {0};
	struct bm_error err;
	char *marker, *xml;
	size_t len;

	xml = slurp("list-page1.xml", &len);
	assert_int_equal(parse(xml, len, 1, &s, &marker, &err), BM_OK);
	check_page1(&s, marker);
	free(marker);
	free(xml);
}

static void test_page_odd_chunks(void **state)
{
	static const size_t chunks[] = {2, 3, 7, 13, 64, 333};
	struct bm_error err;
	char *marker, *xml;
	size_t len, i;

	xml = slurp("list-page1.xml", &len);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct seen s = {0};

		assert_int_equal(parse(xml, len, chunks[i], &s, &marker, &err),
				 BM_OK);
		check_page1(&s, marker);
		free(marker);
	}
	free(xml);
}

static void test_empty_result(void **state)
{
	struct seen s = {0};
	struct bm_error err;
	char *marker, *xml;
	size_t len;

	xml = slurp("list-empty.xml", &len);
	assert_int_equal(parse(xml, len, 5, &s, &marker, &err), BM_OK);
	assert_int_equal(s.n, 0);
	assert_null(marker);
	free(xml);
}

static void test_self_closing_next_marker(void **state)
{
	struct seen s = {0};
	struct bm_error err;
	char *marker, *xml;
	size_t len;

	xml = slurp("list-last-page.xml", &len);
	assert_int_equal(parse(xml, len, 0, &s, &marker, &err), BM_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.name[0], "last.txt");
	assert_int_equal(s.size[0], 42);
	assert_string_equal(s.ctype[0], "application/octet-stream");
	/* <Marker> of the request is not the NextMarker. */
	assert_null(marker);
	free(xml);
}

/* List Containers: <Containers><Container> entries, same <Name> and
 * <Properties> as blobs, no Content-Length. */
static void test_container_listing(void **state)
{
	static const char xml[] =
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<EnumerationResults ServiceEndpoint=\"http://127.0.0.1/a\">"
	    "<Prefix/><MaxResults>2</MaxResults><Containers>"
	    "<Container><Name>data-in</Name><Properties>"
	    "<Last-Modified>Fri, 26 Jun 2015 23:39:12 GMT</Last-Modified>"
	    "<Etag>\"0x8D1\"</Etag><LeaseStatus>unlocked</LeaseStatus>"
	    "</Properties></Container>"
	    "<Container><Name>data-out</Name><Properties/></Container>"
	    "</Containers><NextMarker>data-z</NextMarker>"
	    "</EnumerationResults>";
	struct seen s = {0};
	struct bm_error err;
	char *marker;

	(void)state;
	assert_int_equal(parse(xml, sizeof(xml) - 1, 0, &s, &marker, &err),
			 BM_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.name[0], "data-in");
	assert_int_equal(s.mtime[0], 1435361952);
	assert_string_equal(s.etag[0], "\"0x8D1\"");
	assert_string_equal(s.name[1], "data-out");
	assert_false(s.is_prefix[1]);
	assert_string_equal(marker, "data-z");
	free(marker);
}

static void test_dir_marker_and_encoded_name(void **state)
{
	struct seen s = {0};
	struct bm_error err;
	char *marker, *xml;
	size_t len;

	xml = slurp("list-dir-marker.xml", &len);
	assert_int_equal(parse(xml, len, 1, &s, &marker, &err), BM_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.name[0], "emptydir");
	assert_true(s.marker[0]);
	assert_string_equal(s.name[1], "notadir");
	assert_false(s.marker[1]);
	assert_int_equal(s.size[1], 7);
	assert_string_equal(s.etag[1], "");
	assert_string_equal(s.name[2], "bad\001char\nname");
	assert_null(marker);
	free(xml);
}

static void expect_protocol_error(const char *file, size_t chunk)
{
	struct seen s = {0};
	struct bm_error err;
	char *marker, *xml;
	size_t len;

	xml = slurp(file, &len);
	assert_int_equal(parse(xml, len, chunk, &s, &marker, &err),
			 BM_ERR_PROTOCOL);
	assert_null(marker);
	assert_non_null(strstr(err.msg, "listing"));
	assert_null(strchr(err.msg, '\n'));
	free(xml);
}

static void test_malformed(void **state)
{
	expect_protocol_error("list-malformed.xml", 0);
	expect_protocol_error("list-malformed.xml", 1);
}

static void test_truncated(void **state)
{
	expect_protocol_error("list-truncated.xml", 0);
	expect_protocol_error("list-truncated.xml", 4);
}

static void test_doctype_refused(void **state)
{
	expect_protocol_error("list-doctype.xml", 0);
}

static void test_not_a_listing(void **state)
{
	expect_protocol_error("list-not-listing.xml", 0);
}

static void test_garbage_and_empty(void **state)
{
	static const char junk[] = "\x00\xff\xfe<<<>>>&&&";
	struct seen s = {0};
	struct bm_error err;
	char *marker;

	assert_int_equal(parse(junk, sizeof(junk) - 1, 1, &s, &marker, &err),
			 BM_ERR_PROTOCOL);
	assert_int_equal(parse("", 0, 0, &s, &marker, &err), BM_ERR_PROTOCOL);
	assert_int_equal(s.n, 0);
}

static void test_callback_stops(void **state)
{
	struct seen s = {0};
	struct bm_error err;
	char *marker, *xml;
	size_t len;

	s.stop_after = 1;
	xml = slurp("list-page1.xml", &len);
	assert_int_equal(parse(xml, len, 0, &s, &marker, &err), BM_ERR_ABORTED);
	assert_int_equal(s.n, 1);
	free(xml);
}

struct counter {
	uint64_t n;
	uint64_t bytes;
};

static int count(const struct bm_blob_entry *e, void *ud)
{
	struct counter *c = ud;

	c->n++;
	c->bytes += e->size;
	return 0;
}

/* A 5,000-entry page streamed in network-sized chunks: every entry
 * arrives, and entries are never held (the callback gets them one by
 * one while the document is still open). */
static void test_large_page(void **state)
{
	struct bm_listing_parser *p;
	struct counter c = {0, 0};
	struct bm_error err;
	char entry[512], *marker;
	int i;

	bm_error_clear(&err);
	p = bm_listing_parser_new(count, &c);
	assert_non_null(p);
	assert_int_equal(
	    bm_listing_parser_feed(p, "<EnumerationResults><Blobs>", 27, &err),
	    0);
	for (i = 0; i < 5000; i++) {
		int n = snprintf(entry, sizeof(entry),
				 "<Blob><Name>dir/file-%06d.dat</Name>"
				 "<Properties><Last-Modified>Mon, 02 Jan 2023 "
				 "03:04:05 GMT</Last-Modified><Content-Length>"
				 "%d</Content-Length></Properties></Blob>",
				 i, i);

		assert_int_equal(
		    bm_listing_parser_feed(p, entry, (size_t)n, &err), 0);
		/* Entries are delivered as they complete, not at the end
		 * (libxml2 may hold back the last few bytes). */
		assert_true(c.n + 2 >= (uint64_t)i);
	}
	assert_int_equal(
	    bm_listing_parser_feed(p,
				   "</Blobs><NextMarker>m</NextMarker>"
				   "</EnumerationResults>",
				   55, &err),
	    0);
	assert_int_equal(bm_listing_parser_finish(p, &marker, &err), 0);
	assert_int_equal(c.n, 5000);
	assert_int_equal(c.bytes, 4999ull * 5000 / 2);
	assert_string_equal(marker, "m");
	free(marker);
	bm_listing_parser_free(p);
}

static void test_http_date(void **state)
{
	time_t t;

	assert_int_equal(
	    bm_parse_http_date("Fri, 26 Jun 2015 23:39:12 GMT", &t), 0);
	assert_int_equal(t, 1435361952);
	assert_int_equal(
	    bm_parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(
	    bm_parse_http_date("Sun, 29 Feb 2032 12:00:00 GMT", &t), 0);
	assert_int_equal(t, 1961668800);
	assert_int_equal(
	    bm_parse_http_date("Fri, 26 Jun 2015 23:39:12 UTC", &t), -1);
	assert_int_equal(
	    bm_parse_http_date("Fri, 26 Foo 2015 23:39:12 GMT", &t), -1);
	assert_int_equal(
	    bm_parse_http_date("Fri, 26 Jun 2015 25:39:12 GMT", &t), -1);
	assert_int_equal(
	    bm_parse_http_date("Friday, 26-Jun-15 23:39:12 GMT", &t), -1);
	assert_int_equal(bm_parse_http_date("", &t), -1);
	assert_int_equal(bm_parse_http_date(NULL, &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_page_whole),
	    cmocka_unit_test(test_page_byte_at_a_time),
	    cmocka_unit_test(test_page_odd_chunks),
	    cmocka_unit_test(test_empty_result),
	    cmocka_unit_test(test_self_closing_next_marker),
	    cmocka_unit_test(test_container_listing),
	    cmocka_unit_test(test_dir_marker_and_encoded_name),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_doctype_refused),
	    cmocka_unit_test(test_not_a_listing),
	    cmocka_unit_test(test_garbage_and_empty),
	    cmocka_unit_test(test_callback_stops),
	    cmocka_unit_test(test_large_page),
	    cmocka_unit_test(test_http_date),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
