/*
 * bm_blob_azure: the real Blob service client (see bm_blob.h) on bm_http
 * and bm_auth, against API version BM_BLOB_API_VERSION.
 *
 * Each operation builds its URL (names percent-encoded by bm_url), its
 * headers and body, lets bm_http send it with retries, and turns the
 * response into bm_blob_info / listing callbacks. Errors name the
 * operation and the blob: "cannot get 'c/name': not found (404 ...)".
 *
 * Two retries live here rather than in bm_http because they need to know
 * what the bytes mean: a Get Blob that broke after some bytes reached the
 * caller resumes from the next byte (If-Match on the first ETag), and a
 * listing page that broke mid-body is fetched again with the entries
 * already handed out skipped. Both follow the same bm_retry policy.
 *
 * This file holds the client object, how one request is made, and the
 * blob operations; listings and container/account operations are in
 * bm_blob_azure_containers.c (shared parts: bm_blob_azure_impl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bm_blob_azure_impl.h"
#include "bm_log.h"
#include "bm_md5.h"
#include "bm_url.h"

/* ---- names and messages ---- */

/* "container/name" for messages, cut at a UTF-8 boundary after about 80
 * bytes ("...") so a 1,024-character name leaves room for the cause. */
void bm_az_subject(const char *container, const char *name, char *out,
		   size_t cap)
{
	size_t n;

	snprintf(out, cap, "%s%s%s", container, name ? "/" : "",
		 name ? name : "");
	n = strlen(out);
	if (n <= 80 || cap < 88)
		return;
	n = 80;
	while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80)
		n--;
	memcpy(out + n, "...", 4);
}

/* Azure's rule: 3-63 of [a-z0-9-], starting with a letter or digit, no
 * "--" and no trailing '-'; plus the three special '$' containers. */
int bm_az_check_container_name(const char *container, struct bm_error *err)
{
	size_t n = container ? strlen(container) : 0, i;
	bool ok = n >= 3 && n <= 63;

	if (container &&
	    (strcmp(container, "$root") == 0 ||
	     strcmp(container, "$logs") == 0 || strcmp(container, "$web") == 0))
		return 0;
	for (i = 0; ok && i < n; i++) {
		char ch = container[i];

		if (ch == '-')
			ok = i > 0 && i + 1 < n && container[i - 1] != '-';
		else
			ok = (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9');
	}
	if (ok)
		return 0;
	bm_error_set(err, BM_ERR_INVALID,
		     "invalid container name '%.80s': use 3-63 lowercase "
		     "letters, digits and single hyphens",
		     container ? container : "");
	return -1;
}

int bm_az_check_names(const char *container, const char *name,
		      struct bm_error *err)
{
	if (bm_az_check_container_name(container, err) < 0)
		return -1;
	if (name && (!name[0] || strlen(name) > 1024 * 4)) {
		bm_error_set(err, BM_ERR_INVALID,
			     "invalid blob name: 1 to 1024 characters");
		return -1;
	}
	return 0;
}

/* ---- header lists ---- */

struct hdrs {
	struct bm_http_header *v;
	size_t n, cap;
	char **owned; /* strings allocated for v, freed by hdrs_release */
	size_t nowned;
	bool nomem;
};

static void hdrs_release(struct hdrs *h)
{
	size_t i;

	for (i = 0; i < h->nowned; i++)
		free(h->owned[i]);
	free(h->owned);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

static void hdr_add(struct hdrs *h, const char *name, const char *value)
{
	struct bm_http_header *grown;

	if (h->nomem)
		return;
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 8;

		grown = realloc(h->v, cap * sizeof(*grown));
		if (!grown) {
			h->nomem = true;
			return;
		}
		h->v = grown;
		h->cap = cap;
	}
	h->v[h->n].name = name;
	h->v[h->n].value = value;
	h->n++;
}

/* Keeps s (malloc()ed) until hdrs_release; NULL marks the list failed. */
static const char *hdr_own(struct hdrs *h, char *s)
{
	char **grown;

	if (!s || h->nomem) {
		h->nomem = true;
		free(s);
		return NULL;
	}
	grown = realloc(h->owned, (h->nowned + 1) * sizeof(*grown));
	if (!grown) {
		h->nomem = true;
		free(s);
		return NULL;
	}
	h->owned = grown;
	h->owned[h->nowned++] = s;
	return s;
}

/* Metadata names are C identifiers; values travel in a header, so they
 * must be printable ASCII without line breaks. */
static int add_put_headers(struct hdrs *h, const struct bm_put_opts *o,
			   const char *ctype_header, struct bm_error *err)
{
	const char *ctype =
	    o && o->content_type ? o->content_type : "application/octet-stream";
	size_t i;

	hdr_add(h, ctype_header, ctype);
	if (!o)
		return 0;
	for (i = 0; i < o->nmetadata; i++) {
		const char *k = o->metadata[i].name, *v = o->metadata[i].value;
		const char *p;
		char *name;
		bool ok = k[0] && !(k[0] >= '0' && k[0] <= '9');

		for (p = k; ok && *p; p++)
			ok = (*p >= 'a' && *p <= 'z') ||
			     (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '_';
		for (p = v; ok && *p; p++)
			ok = *p >= 0x20 && *p < 0x7f;
		if (!ok) {
			bm_error_set(err, BM_ERR_INVALID,
				     "invalid metadata '%.64s': names are "
				     "identifiers, values printable ASCII",
				     k);
			return -1;
		}
		if (asprintf(&name, "x-ms-meta-%s", k) < 0)
			name = NULL;
		hdr_add(h, hdr_own(h, name), v);
	}
	if (o->if_match)
		hdr_add(h, "If-Match", o->if_match);
	if (o->if_none_match_any)
		hdr_add(h, "If-None-Match", "*");
	return 0;
}

/* ---- one request ---- */

/* First message wins: an error the caller already holds stays. */
void bm_az_error_take(struct bm_error *err, const struct bm_error *e)
{
	if (err && err->code == BM_OK)
		*err = *e;
}

int bm_az_perform(struct azure *az, const struct call *call,
		  struct bm_http_response *resp, struct bm_error *err)
{
	struct bm_http_request req;
	char *url;
	int rc;

	if (call->hdrs && call->hdrs->nomem) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	url =
	    bm_blob_url(az->endpoint, call->container, call->name, call->query);
	if (!url) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.method = call->method;
	req.op = call->op;
	req.url = url;
	req.headers = call->hdrs ? call->hdrs->v : NULL;
	req.nheaders = call->hdrs ? call->hdrs->n : 0;
	req.body = call->body;
	req.auth = &az->auth;
	req.sink = call->sink;
	req.sink_ud = call->sink_ud;
	req.idempotent = call->idempotent;
	rc = bm_http_perform(az->http, &req, resp, err);
	free(url);
	return rc;
}

/* Size, mtime, ETag and the folder marker from a Get/Head response. */
static void info_from_headers(const struct bm_http_response *r,
			      struct bm_blob_info *info)
{
	const char *v;

	memset(info, 0, sizeof(*info));
	/* A range response's total size is after the '/' of Content-Range. */
	v = bm_http_response_header(r, "content-range");
	if (v && strchr(v, '/'))
		info->size = strtoull(strchr(v, '/') + 1, NULL, 10);
	else if ((v = bm_http_response_header(r, "content-length")))
		info->size = strtoull(v, NULL, 10);
	v = bm_http_response_header(r, "last-modified");
	if (v)
		bm_parse_http_date(v, &info->mtime);
	v = bm_http_response_header(r, "etag");
	if (v)
		snprintf(info->etag, sizeof(info->etag), "%s", v);
	v = bm_http_response_header(r, "x-ms-meta-hdi_isfolder");
	info->is_dir_marker = v && strcasecmp(v, "true") == 0;
}

bool bm_az_transport_failure(const struct bm_error *e)
{
	return e->code == BM_ERR_NETWORK || e->code == BM_ERR_TIMEOUT;
}

/* Waits before a resume/refetch attempt per the retry policy; false when
 * the policy says to give up. */
bool bm_az_resume_wait(struct azure *az, int attempt, long start_ms,
		       unsigned *seed)
{
	struct timespec ts;
	long now, delay;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	delay =
	    bm_retry_delay_ms(&az->retry, attempt, -1, now - start_ms, seed);
	if (delay < 0)
		return false;
	ts.tv_sec = delay / 1000;
	ts.tv_nsec = (delay % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	return true;
}

long bm_az_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one blob operation ---- */

/*
 * What a blob operation holds from start to end: the subject of its
 * messages, its request (method, names, headers) and its final response.
 * op_begin checks the names; op_end names the operation in a failure ("cannot
 * upload 'c/name': ...") and releases the rest.
 */
struct op {
	char what[128];
	struct hdrs h;
	struct bm_http_response resp;
	struct call call; /* its headers are h */
};

static int op_begin(struct op *op, const char *method, enum bm_op kind,
		    const char *container, const char *name,
		    struct bm_error *err)
{
	memset(op, 0, sizeof(*op));
	op->call.method = method;
	op->call.op = kind;
	op->call.container = container;
	op->call.name = name;
	op->call.hdrs = &op->h;
	bm_az_subject(container, name, op->what, sizeof(op->what));
	return bm_az_check_names(container, name, err);
}

/* Returns rc; `doing` is the verb of the message: "upload", "delete"... */
static int op_end(struct op *op, int rc, const char *doing,
		  struct bm_error *err)
{
	if (rc < 0)
		bm_error_prefix(err, "cannot %s '%s'", doing, op->what);
	bm_http_response_release(&op->resp);
	hdrs_release(&op->h);
	return rc;
}

/* ---- get ---- */

struct get_ctx {
	bm_sink_fn sink;
	void *ud;
	uint64_t delivered; /* in this attempt */
};

static int get_sink(const void *data, size_t len, void *ud)
{
	struct get_ctx *g = ud;
	int rc = g->sink(data, len, g->ud);

	if (!rc)
		g->delivered += len;
	return rc;
}

static int az_get(struct bm_blob_client *c, const char *container,
		  const char *name, const struct bm_get_opts *o,
		  bm_sink_fn sink, void *ud, struct bm_blob_info *info,
		  struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct bm_blob_info first;
	struct bm_error herr;
	struct get_ctx g = {sink, ud, 0};
	struct op op;
	char range[64], etag[BM_ETAG_MAX] = "";
	uint64_t off = o ? o->offset : 0, left = o ? o->length : 0;
	bool bounded = o && o->length > 0, have_info = false;
	long start = bm_az_mono_ms();
	unsigned seed = (unsigned)start;
	int attempt, rc = -1;

	if (op_begin(&op, "GET", BM_OP_GET, container, name, err) < 0)
		goto out;
	if (o && o->if_match)
		snprintf(etag, sizeof(etag), "%s", o->if_match);
	op.call.sink = get_sink;
	op.call.sink_ud = &g;
	op.call.idempotent = true;
	for (attempt = 1;; attempt++) {
		hdrs_release(&op.h);
		/* No Range for a whole blob (a range on a 0-byte blob is
		 * 416). */
		if (off > 0 || bounded) {
			if (bounded)
				snprintf(range, sizeof(range),
					 "bytes=%llu-%llu",
					 (unsigned long long)off,
					 (unsigned long long)(off + left - 1));
			else
				snprintf(range, sizeof(range), "bytes=%llu-",
					 (unsigned long long)off);
			hdr_add(&op.h, "x-ms-range", range);
		}
		if (etag[0])
			hdr_add(&op.h, "If-Match", etag);
		g.delivered = 0;
		bm_error_clear(&herr);
		bm_http_response_release(&op.resp);
		rc = bm_az_perform(az, &op.call, &op.resp, &herr);
		if (!have_info && op.resp.status >= 200 &&
		    op.resp.status < 300) {
			info_from_headers(&op.resp, &first);
			have_info = true;
		}
		if (rc == 0)
			break;
		/* The connection broke after the last byte of the range. */
		if (bm_az_transport_failure(&herr) && bounded &&
		    g.delivered == left) {
			rc = 0;
			break;
		}
		/* Resume only what broke mid-body, and only pinned to one
		 * version of the blob: never mix two. */
		if (!etag[0] && have_info)
			snprintf(etag, sizeof(etag), "%s", first.etag);
		if (!bm_az_transport_failure(&herr) || g.delivered == 0 ||
		    !etag[0] || !bm_az_resume_wait(az, attempt, start, &seed)) {
			bm_az_error_take(err, &herr);
			break;
		}
		off += g.delivered;
		if (bounded)
			left -= g.delivered;
		bm_info("cannot get '%s': %s; resuming at byte %llu", op.what,
			herr.msg, (unsigned long long)off);
	}
	if (rc == 0 && info)
		*info = first;
out:
	return op_end(&op, rc, "get", err);
}

/* ---- head ---- */

static int az_head(struct bm_blob_client *c, const char *container,
		   const char *name, struct bm_blob_info *info,
		   struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct op op;
	int rc = -1;

	if (op_begin(&op, "HEAD", BM_OP_HEAD, container, name, err) < 0)
		goto out;
	op.call.idempotent = true;
	rc = bm_az_perform(az, &op.call, &op.resp, err);
	if (rc == 0 && info)
		info_from_headers(&op.resp, info);
out:
	return op_end(&op, rc, "get properties of", err);
}

/* ---- put ---- */

/* ETag and Last-Modified of a write response; size is the caller's. */
static void info_from_write(const struct bm_http_response *r, uint64_t size,
			    struct bm_blob_info *info)
{
	info_from_headers(r, info);
	info->size = size;
	info->is_dir_marker = false;
}

static bool is_dir_marker_put(const struct bm_put_opts *o)
{
	size_t i;

	for (i = 0; o && i < o->nmetadata; i++)
		if (strcasecmp(o->metadata[i].name, "hdi_isfolder") == 0 &&
		    strcasecmp(o->metadata[i].value, "true") == 0)
			return true;
	return false;
}

/* Content-MD5 of a non-empty upload body (Put Blob, Put Block, Put
 * Block List), written into md5, which must outlive h: the service
 * refuses a body that arrives other than it was sent (bm_md5.h). For
 * Put Block it also spares Azurite a CRC64 computed in JavaScript, which
 * costs it twice the time of the whole request with an MD5. */
static int add_content_md5(struct hdrs *h, const struct bm_body *body,
			   char md5[BM_MD5_B64_SIZE], struct bm_error *err)
{
	if (!body || body->len == 0)
		return 0;
	if (bm_md5_body(body, md5, err) < 0)
		return -1;
	hdr_add(h, "Content-MD5", md5);
	return 0;
}

static int az_put(struct bm_blob_client *c, const char *container,
		  const char *name, const struct bm_body *body,
		  const struct bm_put_opts *o, struct bm_blob_info *info,
		  struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct op op;
	char md5[BM_MD5_B64_SIZE];
	int rc = -1;

	if (op_begin(&op, "PUT", BM_OP_PUT, container, name, err) < 0)
		goto out;
	hdr_add(&op.h, "x-ms-blob-type", "BlockBlob");
	if (add_put_headers(&op.h, o, "Content-Type", err) < 0 ||
	    add_content_md5(&op.h, body, md5, err) < 0)
		goto out;
	op.call.body = body;
	/* A conditional put repeated after a lost success would fail its
	 * own condition; an unconditional one just writes the same bytes. */
	op.call.idempotent = !(o && (o->if_match || o->if_none_match_any));
	rc = bm_az_perform(az, &op.call, &op.resp, err);
	if (rc == 0 && info) {
		info_from_write(&op.resp, body ? body->len : 0, info);
		info->is_dir_marker = is_dir_marker_put(o);
	}
out:
	return op_end(&op, rc, "upload", err);
}

static int az_put_block(struct bm_blob_client *c, const char *container,
			const char *name, const char *block_id,
			const struct bm_body *body, struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct op op;
	char md5[BM_MD5_B64_SIZE], *id = NULL, *query = NULL;
	int rc = -1;

	if (op_begin(&op, "PUT", BM_OP_PUT_BLOCK, container, name, err) < 0)
		goto out;
	id = bm_url_encode_component(block_id);
	if (!id || asprintf(&query, "comp=block&blockid=%s", id) < 0) {
		query = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (add_content_md5(&op.h, body, md5, err) < 0)
		goto out;
	/* Idempotent: a staged block is invisible until committed. */
	op.call.query = query;
	op.call.body = body;
	op.call.idempotent = true;
	rc = bm_az_perform(az, &op.call, NULL, err);
out:
	free(id);
	free(query);
	return op_end(&op, rc, "upload a block of", err);
}

static char *block_list_xml(const char *const *ids, size_t n)
{
	static const char head[] =
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
	static const char tail[] = "</BlockList>";
	size_t len = sizeof(head) + sizeof(tail), i;
	char *xml, *p;

	for (i = 0; i < n; i++)
		len += strlen(ids[i]) + sizeof("<Latest></Latest>");
	xml = malloc(len);
	if (!xml)
		return NULL;
	p = xml + sprintf(xml, "%s", head);
	/* Block ids are base64: no character needs XML escaping. */
	for (i = 0; i < n; i++)
		p += sprintf(p, "<Latest>%s</Latest>", ids[i]);
	sprintf(p, "%s", tail);
	return xml;
}

static int az_put_block_list(struct bm_blob_client *c, const char *container,
			     const char *name, const char *const *block_ids,
			     size_t nblocks, const struct bm_put_opts *o,
			     struct bm_blob_info *info, struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct bm_body body;
	struct op op;
	char md5[BM_MD5_B64_SIZE], *xml = NULL;
	int rc = -1;

	if (op_begin(&op, "PUT", BM_OP_PUT_BLOCK_LIST, container, name, err) <
	    0)
		goto out;
	xml = block_list_xml(block_ids, nblocks);
	if (!xml) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	hdr_add(&op.h, "Content-Type", "application/xml");
	if (add_put_headers(&op.h, o, "x-ms-blob-content-type", err) < 0)
		goto out;
	memset(&body, 0, sizeof(body));
	body.buf = xml;
	body.len = strlen(xml);
	if (add_content_md5(&op.h, &body, md5, err) < 0)
		goto out;
	op.call.query = "comp=blocklist";
	op.call.body = &body;
	op.call.idempotent = !(o && (o->if_match || o->if_none_match_any));
	rc = bm_az_perform(az, &op.call, &op.resp, err);
	if (rc == 0 && info) {
		/* The size is the blocks' total, which only the caller
		 * knows; a Get Blob Properties would cost a request. */
		info_from_write(&op.resp, 0, info);
		info->is_dir_marker = is_dir_marker_put(o);
	}
out:
	free(xml);
	return op_end(&op, rc, "commit the blocks of", err);
}

/* ---- delete, copy ---- */

/* A delete or create that was retried may have succeeded on an attempt
 * whose response was lost: the retry then sees "gone" / "exists". */
bool bm_az_lost_success(const struct bm_http_response *r,
			const struct bm_error *e, enum bm_errc a,
			enum bm_errc b)
{
	return r->attempts > 1 && (e->code == a || e->code == b);
}

static int az_remove(struct bm_blob_client *c, const char *container,
		     const char *name, struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct bm_error herr;
	struct op op;
	int rc = -1;

	bm_error_clear(&herr);
	if (op_begin(&op, "DELETE", BM_OP_DELETE, container, name, err) < 0)
		goto out;
	op.call.idempotent = true;
	rc = bm_az_perform(az, &op.call, &op.resp, &herr);
	if (rc < 0 && bm_az_lost_success(&op.resp, &herr, BM_ERR_NOT_FOUND,
					 BM_ERR_NOT_FOUND))
		rc = 0;
	if (rc < 0)
		bm_az_error_take(err, &herr);
out:
	return op_end(&op, rc, "delete", err);
}

/* Polls Get Blob Properties until an asynchronous copy ends. Bounded:
 * a copy within one account that takes longer than this is stuck. */
#define BM_COPY_WAIT_MAX_MS (30L * 60 * 1000)

static int copy_wait(struct azure *az, const char *container, const char *dst,
		     struct bm_error *err)
{
	struct bm_http_response resp;
	struct call call;
	struct timespec ts;
	const char *status;
	long start = bm_az_mono_ms(), delay = 100;
	int rc = -1;

	memset(&resp, 0, sizeof(resp));
	call = (struct call){.method = "HEAD",
			     .op = BM_OP_HEAD,
			     .container = container,
			     .name = dst,
			     .idempotent = true};
	for (;;) {
		if (bm_az_mono_ms() - start > BM_COPY_WAIT_MAX_MS) {
			bm_error_set(err, BM_ERR_TIMEOUT,
				     "copy still pending after %ld minutes",
				     BM_COPY_WAIT_MAX_MS / 60000);
			break;
		}
		ts.tv_sec = delay / 1000;
		ts.tv_nsec = (delay % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		delay = delay < 2000 ? delay * 2 : 2000;
		bm_http_response_release(&resp);
		if (bm_az_perform(az, &call, &resp, err) < 0)
			break;
		status = bm_http_response_header(&resp, "x-ms-copy-status");
		if (!status || strcmp(status, "success") == 0) {
			rc = 0;
			break;
		}
		if (strcmp(status, "pending") != 0) {
			const char *why = bm_http_response_header(
			    &resp, "x-ms-copy-status-description");

			bm_error_set(err, BM_ERR_SERVER, "copy %s: %.200s",
				     status, why ? why : "no reason given");
			break;
		}
	}
	bm_http_response_release(&resp);
	return rc;
}

static int az_copy(struct bm_blob_client *c, const char *container,
		   const char *src, const char *dst, struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct op op;
	char what_src[128], doing[160], *source = NULL;
	const char *status;
	int rc = -1;

	bm_az_subject(container, src, what_src, sizeof(what_src));
	snprintf(doing, sizeof(doing), "copy '%s' to", what_src);
	if (op_begin(&op, "PUT", BM_OP_COPY, container, dst, err) < 0 ||
	    bm_az_check_names(container, src, err) < 0)
		goto out;
	/* Under SAS the source must carry the token too; it travels in a
	 * signed header, which is never logged. */
	source = bm_blob_url(
	    az->endpoint, container, src,
	    az->auth.scheme == BM_SCHEME_BLOB_SAS ? az->sas_token : NULL);
	if (!source) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	hdr_add(&op.h, "x-ms-copy-source", source);
	/* Idempotent: copying the same source again gives the same blob. */
	op.call.idempotent = true;
	rc = bm_az_perform(az, &op.call, &op.resp, err);
	if (rc == 0) {
		status = bm_http_response_header(&op.resp, "x-ms-copy-status");
		if (status && strcmp(status, "pending") == 0)
			rc = copy_wait(az, container, dst, err);
	}
out:
	free(source);
	return op_end(&op, rc, doing, err);
}

static void az_get_stats(struct bm_blob_client *c, struct bm_http_stats *out)
{
	bm_http_get_stats(az_of(c)->http, out);
}

static void az_free(struct bm_blob_client *c)
{
	struct azure *az;

	if (!c)
		return;
	az = az_of(c);
	bm_http_free(az->http);
	bm_token_free(az->token);
	/* explicit_bzero: a memset before free is a dead store the
	 * compiler may drop, leaving the key in freed memory. */
	if (az->key)
		explicit_bzero(az->key, az->key_len);
	free(az->key);
	if (az->sas_token)
		explicit_bzero(az->sas_token, strlen(az->sas_token));
	free(az->sas_token);
	free(az->endpoint);
	free(az->account);
	free(az);
}

static const struct bm_blob_ops azure_ops = {
    .list_page = bm_az_list_page,
    .get = az_get,
    .head = az_head,
    .put = az_put,
    .put_block = az_put_block,
    .put_block_list = az_put_block_list,
    .remove = az_remove,
    .copy = az_copy,
    .create_container = bm_az_create_container,
    .delete_container = bm_az_delete_container,
    .check_container = bm_az_check_container,
    .list_containers = bm_az_list_containers,
    .get_stats = az_get_stats,
    .free = az_free,
};

struct bm_blob_client *bm_blob_client_new_azure(const struct bm_config *cfg,
						const struct bm_http_options *o,
						struct bm_error *err)
{
	struct bm_http_options ho;
	struct azure *az;

	az = calloc(1, sizeof(*az));
	if (!az)
		goto nomem;
	az->base.ops = &azure_ops;
	az->base.impl = az;
	if (!(az->endpoint = strdup(cfg->endpoint)) ||
	    !(az->account = strdup(cfg->account)))
		goto nomem;
	az->auth.account = az->account;
	if (o)
		ho = *o;
	else
		bm_http_options_default(&ho);
	if (cfg->ca_cert_file)
		ho.ca_cert_file = cfg->ca_cert_file;
	if (cfg->insecure)
		ho.insecure = true;
	if (bm_auth_type_is_entra(cfg->auth_type)) {
		az->token = bm_token_new(cfg, BM_RESOURCE_STORAGE, &ho, err);
		if (!az->token)
			goto fail;
		az->auth.scheme = BM_SCHEME_BLOB_BEARER;
		az->auth.token = az->token;
	} else if (cfg->auth_type == BM_AUTH_SAS) {
		if (!(az->sas_token = strdup(cfg->sas_token)))
			goto nomem;
		az->auth.scheme = BM_SCHEME_BLOB_SAS;
		az->auth.sas_token = az->sas_token;
	} else {
		az->key = malloc(cfg->key_len ? cfg->key_len : 1);
		if (!az->key)
			goto nomem;
		memcpy(az->key, cfg->key, cfg->key_len);
		az->key_len = cfg->key_len;
		az->auth.scheme = BM_SCHEME_BLOB_KEY;
		az->auth.key = az->key;
		az->auth.key_len = az->key_len;
	}
	az->retry = ho.retry;
	az->http = bm_http_new(&ho, err);
	if (!az->http)
		goto fail;
	return &az->base;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
fail:
	if (az)
		az_free(&az->base);
	return NULL;
}
