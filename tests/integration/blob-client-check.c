/*
 * blob-client-check: drives every operation of the Azure blob client
 * against a real service (Azurite in t-blob-client.sh) and checks each
 * result byte for byte. Credentials come from the environment
 * (AZURE_STORAGE_*), as for every blobmill program.
 *
 *   blob-client-check all CONTAINER      the whole scenario; prints "ok:"
 *                                        lines and "stats: ..." at the end
 *   blob-client-check sas-all CONTAINER  the blob operations only, meant
 *                                        to run with a container SAS
 *   blob-client-check sas CONTAINER PERMS  prints a service SAS
 *   blob-client-check check CONTAINER    check_container; on failure prints
 *                                        "CATEGORY: message", exits 3
 *   blob-client-check mb CONTAINER       create_container, likewise
 *   blob-client-check get CONTAINER NAME get to stdout, with the retry
 *                                        policy from BM_TEST_RETRIES
 *   blob-client-check ls CONTAINER PREFIX MAX  list_all in pages of MAX,
 *                                        one name a line; stats and peak
 *                                        RSS on stderr
 *   blob-client-check fill CONTAINER PREFIX N  puts N small blobs
 *   blob-client-check put CONTAINER NAME FILE  upload_fd (1 MiB blocks, 4
 *                                        in parallel above 1 MiB; or
 *                                        BM_TEST_BLOCK_MB, BM_TEST_SINGLE_MB)
 *
 * Exit: 0 ok, 1 a check failed, 3 the operation failed as reported.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bm_auth.h"
#include "bm_blob.h"
#include "bm_config.h"
#include "bm_log.h"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			die(__VA_ARGS__);                                      \
	} while (0)

/* An operation that must succeed. */
#define OK(call, err)                                                          \
	do {                                                                   \
		bm_error_clear(&(err));                                        \
		if ((call) != 0)                                               \
			die("%s:%d: %s: %s", __FILE__, __LINE__, #call,        \
			    (err).msg);                                        \
	} while (0)

/* An operation that must fail with category `want`. */
#define FAILS(call, err, want)                                                 \
	do {                                                                   \
		bm_error_clear(&(err));                                        \
		if ((call) == 0)                                               \
			die("%s:%d: %s succeeded", __FILE__, __LINE__, #call); \
		if ((err).code != (want))                                      \
			die("%s:%d: %s: want '%s', got '%s': %s", __FILE__,    \
			    __LINE__, #call, bm_errc_str(want),                \
			    bm_errc_str((err).code), (err).msg);               \
	} while (0)

static struct bm_blob_client *client_from_env(int retries)
{
	struct bm_http_options ho;
	struct bm_blob_client *c;
	struct bm_config cfg;
	struct bm_error err;

	bm_config_init(&cfg);
	bm_error_clear(&err);
	if (bm_config_load_env(&cfg, &err) < 0 ||
	    bm_config_finish(&cfg, false, &err) < 0) {
		fprintf(stderr, "%s: %s\n", bm_errc_str(err.code), err.msg);
		exit(3);
	}
	bm_http_options_default(&ho);
	/* TLS settings the library takes from its callers (the CLI and the
	 * daemon map their options onto them). */
	ho.ca_cert_file = getenv("BM_TEST_CA_CERT");
	ho.insecure = getenv("BM_TEST_INSECURE") != NULL;
	if (retries >= 0) {
		ho.retry.max_retries = retries;
		ho.retry.base_delay_ms = 10;
		ho.connect_timeout_ms = 2000;
		ho.low_speed_time_s = 3;
	}
	c = bm_blob_client_new_azure(&cfg, &ho, &err);
	bm_config_release(&cfg);
	if (!c) {
		fprintf(stderr, "%s: %s\n", bm_errc_str(err.code), err.msg);
		exit(3);
	}
	return c;
}

/* BM_TEST_RETRIES=N: N retries with short delays and timeouts (for runs
 * behind the fault-injecting proxy); unset: the default policy. */
static int env_retries(void)
{
	const char *r = getenv("BM_TEST_RETRIES");

	return r ? atoi(r) : -1;
}

/* ---- growing buffers as sinks ---- */

struct buf {
	char *data;
	size_t len, cap;
	size_t stop_at; /* abort once this many bytes arrived; 0: never */
};

static int buf_sink(const void *data, size_t len, void *ud)
{
	struct buf *b = ud;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->data = realloc(b->data, b->cap);
		CHECK(b->data, "out of memory");
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return b->stop_at && b->len >= b->stop_at;
}

static void get_all(struct bm_blob_client *c, const char *cont,
		    const char *name, const struct bm_get_opts *o,
		    struct buf *b, struct bm_blob_info *info)
{
	struct bm_error err;

	b->len = 0;
	OK(c->ops->get(c, cont, name, o, buf_sink, b, info, &err), err);
}

/* ---- listing ---- */

#define MAX_SEEN 64

struct seen {
	int n;
	char *name[MAX_SEEN];
	bool prefix[MAX_SEEN];
	uint64_t size[MAX_SEEN];
	bool marker[MAX_SEEN];
};

static int seen_cb(const struct bm_blob_entry *e, void *ud)
{
	struct seen *s = ud;

	CHECK(s->n < MAX_SEEN, "listing: too many entries");
	s->name[s->n] = strdup(e->name);
	s->prefix[s->n] = e->is_prefix;
	s->size[s->n] = e->size;
	s->marker[s->n] = e->is_dir_marker;
	s->n++;
	return 0;
}

static void seen_release(struct seen *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free(s->name[i]);
	memset(s, 0, sizeof(*s));
}

static int seen_find(const struct seen *s, const char *name)
{
	int i, found = -1;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0) {
			CHECK(found < 0, "listing: '%s' twice", name);
			found = i;
		}
	return found;
}

static uint64_t count_requests(struct bm_blob_client *c, enum bm_op op)
{
	struct bm_http_stats st;

	c->ops->get_stats(c, &st);
	return st.requests[op];
}

/* Peak resident set size of this process in KiB (VmHWM), or -1. */
static long peak_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* On success prints "stats: ..." (and the peak RSS) to f; a failure has
 * printed its one error line already. Frees the client, and turns rc into
 * the exit code. */
static int finish(struct bm_blob_client *c, FILE *f, int rc)
{
	struct bm_http_stats st;
	char line[512];

	c->ops->get_stats(c, &st);
	bm_http_stats_format(&st, line, sizeof(line));
	if (rc == 0)
		fprintf(f, "stats: %s peak_rss_kb=%ld\n", line, peak_rss_kb());
	bm_blob_client_free(c);
	return rc < 0 ? 3 : 0;
}

/* ---- the scenario ---- */

/* Names that break naive quoting or URL building; each must round-trip.
 * (No backslash: Azurite, like the Azure portal, turns it into '/'.) */
static const char *const hostile[] = {
    "plain.txt",	   "with space.txt",
    "ünïcödé/文件 ☃.txt",  "100%.txt",
    "%41%2F%zz",	   "hash#tag",
    "what?x=1&y=2",	   "a+b=c",
    "amp&er;sand",	   "double\"quote",
    "single'quote",	   "$(rm -rf ~)`id`",
    "-leading-dash",	   "dir/sub/deep name.bin",
    "tab\there",	   "~tilde!*()@:,;=",
    "<angle>&lt;brackets",
};

static char *long_name(void)
{
	char *s = malloc(1025);
	int i;

	CHECK(s, "out of memory");
	/* 1,024 characters in directory-like segments. */
	for (i = 0; i < 1024; i++)
		s[i] = (i % 100 == 99) ? '/' : (char)('a' + i % 26);
	s[1024] = '\0';
	return s;
}

/* Content that differs per name and holds every byte value. */
static void content_for(const char *name, struct buf *b)
{
	int i;

	b->len = 0;
	buf_sink(name, strlen(name), b);
	for (i = 0; i < 256; i++) {
		char ch = (char)i;

		buf_sink(&ch, 1, b);
	}
}

static void put_buf(struct bm_blob_client *c, const char *cont,
		    const char *name, const struct buf *b,
		    const struct bm_put_opts *o, struct bm_blob_info *info)
{
	struct bm_body body;
	struct bm_error err;

	memset(&body, 0, sizeof(body));
	body.buf = b->data ? b->data : "";
	body.len = b->len;
	OK(c->ops->put(c, cont, name, &body, o, info, &err), err);
}

static void scenario_names(struct bm_blob_client *c, const char *cont)
{
	size_t n = sizeof(hostile) / sizeof(hostile[0]), i;
	struct buf want = {0}, got = {0};
	struct bm_blob_info info, head;
	struct bm_list_opts lo;
	struct bm_error err;
	struct seen s = {0};
	char *longn = long_name();
	const char *name;

	for (i = 0; i <= n; i++) {
		name = i < n ? hostile[i] : longn;
		content_for(name, &want);
		put_buf(c, cont, name, &want, NULL, &info);
		CHECK(info.etag[0] == '"', "put '%s': no ETag", name);
		OK(c->ops->head(c, cont, name, &head, &err), err);
		CHECK(head.size == want.len, "head '%s': size %llu", name,
		      (unsigned long long)head.size);
		CHECK(strcmp(head.etag, info.etag) == 0, "head '%s': etag",
		      name);
		CHECK(head.mtime > 1600000000, "head '%s': mtime", name);
		CHECK(!head.is_dir_marker, "head '%s': marker", name);
		get_all(c, cont, name, NULL, &got, &info);
		CHECK(got.len == want.len &&
			  memcmp(got.data, want.data, want.len) == 0,
		      "get '%s': content differs", name);
		CHECK(info.size == want.len, "get '%s': info size", name);
	}
	printf("ok: %zu hostile names (and a 1,024-character one) put, "
	       "head and get byte for byte\n",
	       n);

	memset(&lo, 0, sizeof(lo));
	OK(bm_blob_list_all(c, cont, &lo, seen_cb, &s, &err), err);
	for (i = 0; i <= n; i++) {
		int k;

		name = i < n ? hostile[i] : longn;
		k = seen_find(&s, name);
		CHECK(k >= 0, "flat listing lacks '%s'", name);
		content_for(name, &want);
		CHECK(s.size[k] == want.len && !s.prefix[k],
		      "flat listing: '%s' size %llu", name,
		      (unsigned long long)s.size[k]);
	}
	CHECK(s.n == (int)n + 1, "flat listing: %d entries, want %zu", s.n,
	      n + 1);
	seen_release(&s);
	printf("ok: flat listing returns every name exactly once\n");

	lo.delimiter = "/";
	OK(bm_blob_list_all(c, cont, &lo, seen_cb, &s, &err), err);
	CHECK(seen_find(&s, "dir/") >= 0 && s.prefix[seen_find(&s, "dir/")],
	      "delimiter listing lacks prefix 'dir/'");
	CHECK(seen_find(&s, "ünïcödé/") >= 0, "lacks prefix 'ünïcödé/'");
	CHECK(seen_find(&s, "plain.txt") >= 0, "lacks 'plain.txt'");
	CHECK(seen_find(&s, "dir/sub/deep name.bin") < 0, "not one level");
	seen_release(&s);
	lo.prefix = "dir/";
	OK(bm_blob_list_all(c, cont, &lo, seen_cb, &s, &err), err);
	CHECK(s.n == 1 && strcmp(s.name[0], "dir/sub/") == 0 && s.prefix[0],
	      "listing 'dir/' with '/': %d entries", s.n);
	seen_release(&s);
	lo.prefix = "what?";
	lo.delimiter = NULL;
	OK(bm_blob_list_all(c, cont, &lo, seen_cb, &s, &err), err);
	CHECK(s.n == 1 && strcmp(s.name[0], "what?x=1&y=2") == 0,
	      "prefix 'what?' listing");
	seen_release(&s);
	printf("ok: listing with delimiter and hostile prefixes\n");

	/* Delete every one: afterwards nothing is left. */
	for (i = 0; i <= n; i++) {
		name = i < n ? hostile[i] : longn;
		OK(c->ops->remove(c, cont, name, &err), err);
		FAILS(c->ops->head(c, cont, name, &head, &err), err,
		      BM_ERR_NOT_FOUND);
	}
	FAILS(c->ops->remove(c, cont, hostile[0], &err), err, BM_ERR_NOT_FOUND);
	lo.prefix = NULL;
	OK(bm_blob_list_all(c, cont, &lo, seen_cb, &s, &err), err);
	CHECK(s.n == 0, "%d blobs left after deleting all", s.n);
	printf("ok: delete of every name; a second delete is 'not found'\n");
	free(longn);
	free(want.data);
	free(got.data);
}

static void scenario_paging(struct bm_blob_client *c, const char *cont)
{
	struct bm_list_opts lo;
	struct bm_error err;
	struct seen s = {0};
	struct buf b = {0};
	char name[64];
	uint64_t before;
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "page/blob-%02d", i);
		content_for(name, &b);
		put_buf(c, cont, name, &b, NULL, NULL);
	}
	memset(&lo, 0, sizeof(lo));
	lo.prefix = "page/";
	lo.max_results = 5;
	before = count_requests(c, BM_OP_LIST);
	OK(bm_blob_list_all(c, cont, &lo, seen_cb, &s, &err), err);
	CHECK(s.n == 12, "paged listing: %d entries", s.n);
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "page/blob-%02d", i);
		CHECK(seen_find(&s, name) == i, "paged listing order");
	}
	CHECK(count_requests(c, BM_OP_LIST) - before == 3,
	      "12 blobs by 5 took %llu List requests",
	      (unsigned long long)(count_requests(c, BM_OP_LIST) - before));
	seen_release(&s);
	lo.max_results = 2;
	before = count_requests(c, BM_OP_LIST);
	OK(bm_blob_list_all(c, cont, &lo, seen_cb, &s, &err), err);
	CHECK(s.n == 12 && count_requests(c, BM_OP_LIST) - before == 6,
	      "12 blobs by 2: %d entries", s.n);
	seen_release(&s);
	printf("ok: 12 blobs listed in 3 pages of 5 and 6 pages of 2\n");
	free(b.data);
}

static void scenario_ranges(struct bm_blob_client *c, const char *cont)
{
	struct buf want = {0}, got = {0};
	struct bm_blob_info info, old, fresh;
	struct bm_get_opts go;
	struct bm_put_opts po;
	struct bm_error err;
	const char *name = "range & match?.bin";

	content_for(name, &want);
	put_buf(c, cont, name, &want, NULL, &old);
	memset(&go, 0, sizeof(go));
	go.offset = 10;
	go.length = 20;
	get_all(c, cont, name, &go, &got, &info);
	CHECK(got.len == 20 && memcmp(got.data, want.data + 10, 20) == 0,
	      "range 10+20");
	CHECK(info.size == want.len, "range: info.size is the blob's size");
	go.length = 0;
	get_all(c, cont, name, &go, &got, NULL);
	CHECK(got.len == want.len - 10 &&
		  memcmp(got.data, want.data + 10, got.len) == 0,
	      "range 10-end");
	go.offset = want.len + 100;
	FAILS(c->ops->get(c, cont, name, &go, buf_sink, &got, NULL, &err), err,
	      BM_ERR_RANGE);
	printf("ok: get of a range, to the end, and past the end\n");

	go.offset = 0;
	go.if_match = old.etag;
	get_all(c, cont, name, &go, &got, NULL);
	want.data[0] ^= 1;
	put_buf(c, cont, name, &want, NULL, &fresh);
	CHECK(strcmp(old.etag, fresh.etag) != 0, "overwrite kept the ETag");
	FAILS(c->ops->get(c, cont, name, &go, buf_sink, &got, NULL, &err), err,
	      BM_ERR_PRECONDITION);
	CHECK(err.http_status == 412, "If-Match: status %ld", err.http_status);
	memset(&po, 0, sizeof(po));
	po.if_match = old.etag;
	{
		struct bm_body body = {want.data, 0, 0, want.len};

		FAILS(c->ops->put(c, cont, name, &body, &po, NULL, &err), err,
		      BM_ERR_PRECONDITION);
		po.if_match = fresh.etag;
		OK(c->ops->put(c, cont, name, &body, &po, NULL, &err), err);
		po.if_match = NULL;
		po.if_none_match_any = true;
		FAILS(c->ops->put(c, cont, name, &body, &po, NULL, &err), err,
		      BM_ERR_EXISTS);
		OK(c->ops->put(c, cont, "new-only-if-absent", &body, &po, NULL,
			       &err),
		   err);
	}
	printf("ok: If-Match after an overwrite is 'blob changed'; "
	       "If-None-Match: * on an existing blob is 'already exists'\n");

	/* A sink that stops the transfer. */
	got.stop_at = 1;
	FAILS(c->ops->get(c, cont, name, NULL, buf_sink, &got, NULL, &err), err,
	      BM_ERR_ABORTED);
	got.stop_at = 0;
	/* An empty blob. */
	{
		struct buf empty = {0};

		put_buf(c, cont, "empty", &empty, NULL, &info);
		CHECK(info.size == 0, "empty put size");
		get_all(c, cont, "empty", NULL, &got, &info);
		CHECK(got.len == 0 && info.size == 0, "empty get");
	}
	printf("ok: a sink can stop a get; a 0-byte blob round-trips\n");
	free(want.data);
	free(got.data);
}

static void scenario_metadata(struct bm_blob_client *c, const char *cont)
{
	struct bm_metadata md[2] = {{"hdi_isfolder", "true"},
				    {"owner", "blob mill"}};
	struct bm_put_opts po;
	struct bm_blob_info info;
	struct bm_list_opts lo;
	struct bm_error err;
	struct seen s = {0};
	struct buf b = {0};
	int k;

	memset(&po, 0, sizeof(po));
	po.metadata = md;
	po.nmetadata = 2;
	po.content_type = "text/plain; charset=utf-8";
	put_buf(c, cont, "folder marker", &b, &po, NULL);
	OK(c->ops->head(c, cont, "folder marker", &info, &err), err);
	CHECK(info.is_dir_marker && info.size == 0, "head: folder marker");
	memset(&lo, 0, sizeof(lo));
	lo.prefix = "folder";
	lo.include_metadata = true;
	OK(bm_blob_list_all(c, cont, &lo, seen_cb, &s, &err), err);
	k = seen_find(&s, "folder marker");
	CHECK(k >= 0 && s.marker[k], "listing: folder marker");
	seen_release(&s);
	md[1].value = "bad\nvalue";
	FAILS(c->ops->put(c, cont, "x", NULL, &po, NULL, &err), err,
	      BM_ERR_INVALID);
	printf("ok: metadata put; hdi_isfolder seen by head and listing\n");
}

static void scenario_blocks(struct bm_blob_client *c, const char *cont)
{
	const char *name = "big/ünï code & \"blocks\" $(x).bin";
	char path[] = "/tmp/blob-client-check.XXXXXX";
	size_t len = (5u << 20) + 12345, i;
	struct bm_blob_info info;
	struct buf want = {0}, got = {0};
	uint64_t blocks, lists;
	struct bm_error err;
	unsigned x = 12345;
	int fd = mkstemp(path);

	CHECK(fd >= 0, "mkstemp");
	unlink(path);
	want.data = malloc(len);
	CHECK(want.data, "out of memory");
	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		want.data[i] = (char)(x >> 16);
	}
	want.len = len;
	CHECK(write(fd, want.data, len) == (ssize_t)len, "write");
	blocks = count_requests(c, BM_OP_PUT_BLOCK);
	lists = count_requests(c, BM_OP_PUT_BLOCK_LIST);
	OK(bm_blob_upload_fd(c, cont, name, fd, len, 1u << 20, 1u << 20, 4,
			     NULL, &info, &err),
	   err);
	CHECK(
	    count_requests(c, BM_OP_PUT_BLOCK) - blocks == 6,
	    "5 MiB + 12345 in 1 MiB blocks: %llu Put Block",
	    (unsigned long long)(count_requests(c, BM_OP_PUT_BLOCK) - blocks));
	CHECK(count_requests(c, BM_OP_PUT_BLOCK_LIST) - lists == 1,
	      "one Put Block List");
	CHECK(info.size == len && info.etag[0] == '"', "upload info");
	get_all(c, cont, name, NULL, &got, &info);
	CHECK(got.len == len && memcmp(got.data, want.data, len) == 0,
	      "block blob content differs");
	CHECK(info.size == len, "block blob size");
	/* Small enough for one Put Blob. */
	blocks = count_requests(c, BM_OP_PUT);
	OK(bm_blob_upload_fd(c, cont, "small via fd", fd, 1000, 1u << 20,
			     1u << 20, 4, NULL, NULL, &err),
	   err);
	CHECK(count_requests(c, BM_OP_PUT) - blocks == 1, "one Put Blob");
	get_all(c, cont, "small via fd", NULL, &got, NULL);
	CHECK(got.len == 1000 && memcmp(got.data, want.data, 1000) == 0,
	      "small upload content");
	printf("ok: 6 parallel Put Block + Put Block List, byte for byte\n");

	OK(c->ops->copy(c, cont, name, "copy of/big ☃ #1.bin", &err), err);
	get_all(c, cont, "copy of/big ☃ #1.bin", NULL, &got, NULL);
	CHECK(got.len == len && memcmp(got.data, want.data, len) == 0,
	      "copy content differs");
	FAILS(c->ops->copy(c, cont, "no such source", "dst", &err), err,
	      BM_ERR_NOT_FOUND);
	printf("ok: server-side copy between hostile names\n");
	close(fd);
	free(want.data);
	free(got.data);
}

static int scenario_all(const char *cont)
{
	struct bm_blob_client *c = client_from_env(-1);
	struct bm_error err;
	char missing[80];

	OK(c->ops->create_container(c, cont, &err), err);
	FAILS(c->ops->create_container(c, cont, &err), err, BM_ERR_EXISTS);
	OK(c->ops->check_container(c, cont, &err), err);
	printf("ok: create container, again is 'already exists', check\n");
	scenario_names(c, cont);
	scenario_paging(c, cont);
	scenario_ranges(c, cont);
	scenario_metadata(c, cont);
	scenario_blocks(c, cont);

	snprintf(missing, sizeof(missing), "%s-missing", cont);
	FAILS(c->ops->check_container(c, missing, &err), err,
	      BM_ERR_NO_CONTAINER);
	FAILS(c->ops->get(c, missing, "x", NULL, buf_sink, NULL, NULL, &err),
	      err, BM_ERR_NO_CONTAINER);
	FAILS(c->ops->create_container(c, "Bad_Name", &err), err,
	      BM_ERR_INVALID);
	OK(c->ops->delete_container(c, cont, &err), err);
	FAILS(c->ops->check_container(c, cont, &err), err, BM_ERR_NO_CONTAINER);
	FAILS(c->ops->delete_container(c, cont, &err), err,
	      BM_ERR_NO_CONTAINER);
	printf("ok: missing container is 'container not found'; delete "
	       "container\n");

	return finish(c, stdout, 0);
}

/* The same operations under a container SAS (no container management:
 * a service SAS cannot create or delete containers). */
static int scenario_sas(const char *cont)
{
	struct bm_blob_client *c = client_from_env(-1);
	struct bm_error err;

	OK(c->ops->check_container(c, cont, &err), err);
	scenario_names(c, cont);
	scenario_ranges(c, cont);
	scenario_blocks(c, cont);
	return finish(c, stdout, 0);
}

/* Prints a service SAS for the container (from the account key in the
 * environment) for the test to pass on in AZURE_STORAGE_SAS_TOKEN. */
static int cmd_sas(const char *cont, const char *perms)
{
	struct bm_config cfg;
	struct bm_error err;
	char *sas;

	bm_config_init(&cfg);
	bm_error_clear(&err);
	if (bm_config_load_env(&cfg, &err) < 0 ||
	    bm_config_finish(&cfg, false, &err) < 0)
		die("%s", err.msg);
	sas = bm_auth_service_sas(cfg.account, cfg.key, cfg.key_len, cont, NULL,
				  perms, time(NULL) + 3600, &err);
	CHECK(sas, "%s", err.msg);
	printf("%s\n", sas);
	free(sas);
	bm_config_release(&cfg);
	return 0;
}

/* check_container, or create_container with create set. */
static int cmd_container(const char *cont, bool create)
{
	struct bm_blob_client *c = client_from_env(0);
	struct bm_error err;
	int rc;

	bm_error_clear(&err);
	rc = create ? c->ops->create_container(c, cont, &err)
		    : c->ops->check_container(c, cont, &err);
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", bm_errc_str(err.code), err.msg);
	bm_blob_client_free(c);
	return rc < 0 ? 3 : 0;
}

static int stdout_sink(const void *data, size_t len, void *ud)
{
	return fwrite(data, 1, len, stdout) != len;
}

static int cmd_get(const char *cont, const char *name)
{
	struct bm_blob_client *c = client_from_env(env_retries());
	struct bm_error err;
	int rc;

	bm_error_clear(&err);
	rc = c->ops->get(c, cont, name, NULL, stdout_sink, NULL, NULL, &err);
	if (fflush(stdout) != 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", bm_errc_str(err.code), err.msg);
	return finish(c, stderr, rc);
}

struct fill {
	struct bm_blob_client *c;
	const char *cont, *prefix;
	int n;
	pthread_mutex_t lock; /* guards next, failed */
	int next;
	bool failed;
};

static void *fill_worker(void *arg)
{
	struct fill *f = arg;
	struct bm_error err;
	struct bm_body body;
	char name[256];
	int i;

	for (;;) {
		pthread_mutex_lock(&f->lock);
		i = f->failed || f->next >= f->n ? -1 : f->next++;
		pthread_mutex_unlock(&f->lock);
		if (i < 0)
			break;
		snprintf(name, sizeof(name), "%s%06d", f->prefix, i);
		memset(&body, 0, sizeof(body));
		body.buf = name;
		body.len = strlen(name);
		bm_error_clear(&err);
		if (f->c->ops->put(f->c, f->cont, name, &body, NULL, NULL,
				   &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			pthread_mutex_lock(&f->lock);
			f->failed = true;
			pthread_mutex_unlock(&f->lock);
		}
	}
	return NULL;
}

/* Puts N small blobs PREFIX000000... with 8 threads on one client. */
static int cmd_fill(const char *cont, const char *prefix, int n)
{
	struct fill f = {client_from_env(-1),	    cont, prefix, n,
			 PTHREAD_MUTEX_INITIALIZER, 0,	  false};
	pthread_t t[8];
	int i;

	for (i = 0; i < 8; i++)
		CHECK(pthread_create(&t[i], NULL, fill_worker, &f) == 0,
		      "pthread_create");
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	return finish(f.c, stderr, f.failed ? -1 : 0);
}

static int print_entry(const struct bm_blob_entry *e, void *ud)
{
	printf("%s%s\n", e->name, e->is_prefix ? " (prefix)" : "");
	return 0;
}

static int cmd_ls(const char *cont, const char *prefix, int max)
{
	struct bm_blob_client *c = client_from_env(env_retries());
	struct bm_list_opts lo;
	struct bm_error err;
	int rc;

	memset(&lo, 0, sizeof(lo));
	lo.prefix = prefix;
	lo.max_results = max;
	bm_error_clear(&err);
	rc = bm_blob_list_all(c, cont, &lo, print_entry, NULL, &err);
	if (fflush(stdout) != 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", bm_errc_str(err.code), err.msg);
	return finish(c, stderr, rc);
}

/* Bytes from a MiB count in the environment; 1 MiB when unset. */
static uint64_t env_mib(const char *var)
{
	const char *v = getenv(var);

	return (v ? strtoull(v, NULL, 10) : 1) << 20;
}

static int cmd_put(const char *cont, const char *name, const char *path)
{
	struct bm_blob_client *c = client_from_env(env_retries());
	struct bm_error err;
	off_t len;
	int fd = open(path, O_RDONLY), rc;

	CHECK(fd >= 0, "cannot open '%s'", path);
	len = lseek(fd, 0, SEEK_END);
	bm_error_clear(&err);
	rc = bm_blob_upload_fd(
	    c, cont, name, fd, (uint64_t)len, env_mib("BM_TEST_SINGLE_MB"),
	    env_mib("BM_TEST_BLOCK_MB"), 4, NULL, NULL, &err);
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", bm_errc_str(err.code), err.msg);
	close(fd);
	return finish(c, stderr, rc);
}

int main(int argc, char **argv)
{
	bm_log_init("blob-client-check",
		    getenv("BM_TEST_DEBUG") ? BM_LOG_DEBUG : BM_LOG_WARNING,
		    false);
	if (argc == 3 && strcmp(argv[1], "all") == 0)
		return scenario_all(argv[2]);
	if (argc == 3 && strcmp(argv[1], "sas-all") == 0)
		return scenario_sas(argv[2]);
	if (argc == 4 && strcmp(argv[1], "sas") == 0)
		return cmd_sas(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return cmd_container(argv[2], false);
	if (argc == 3 && strcmp(argv[1], "mb") == 0)
		return cmd_container(argv[2], true);
	if (argc == 4 && strcmp(argv[1], "get") == 0)
		return cmd_get(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argv[2], argv[3], atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "ls") == 0)
		return cmd_ls(argv[2], argv[3], atoi(argv[4]));
	if (argc == 5 && strcmp(argv[1], "put") == 0)
		return cmd_put(argv[2], argv[3], argv[4]);
	fprintf(stderr,
		"usage: blob-client-check all|sas-all|check|mb CONTAINER | "
		"sas CONTAINER PERMS | get "
		"CONTAINER NAME | ls|fill CONTAINER PREFIX N | put CONTAINER "
		"NAME FILE\n");
	return 2;
}
