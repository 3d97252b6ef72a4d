/*
 * bm_http: see bm_http.h. One request = up to 1 + max_retries attempts on
 * a pooled libcurl easy handle; each attempt is signed afresh (a new
 * x-ms-date), its body re-read from the start, and its response collected
 * or streamed. The policy (what to retry, how long to wait) is bm_retry's;
 * what a failed response means (category and message) is bm_http_error's.
 *
 * Connection reuse: an easy handle keeps its own connection cache, so the
 * pool of idle handles is the pool of live connections. libcurl does not
 * support sharing one connection cache between threads, so the CURLSH
 * shares only the DNS cache and TLS sessions (both lock-protected).
 *
 * Locks: h->pool_lock guards the idle-handle stack; h->share_locks guard
 * libcurl's shared data. Neither is held while a transfer runs, and no
 * code takes both. Counters are atomics.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bm_http.h"
#include "bm_log.h"
#include "bm_token.h"

/* Collected bodies (listings are streamed, errors are small) stop here. */
#define BM_HTTP_BODY_MAX (8u << 20)

struct bm_http {
	struct bm_http_options opts; /* ca_cert_file is our copy */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_lock; /* guards idle, nidle */
	CURL **idle;		   /* up to opts.max_handles idle handles */
	int nidle;

	atomic_uint seed_counter; /* distinct jitter seeds per request */
	atomic_uint_least64_t requests[BM_OP_COUNT];
	atomic_uint_least64_t retries;
	atomic_uint_least64_t bytes_sent;
	atomic_uint_least64_t bytes_received;
	atomic_uint_least64_t connects;
};

static const char *const op_names[BM_OP_COUNT] = {
    [BM_OP_LIST] = "list",	     [BM_OP_GET] = "get",
    [BM_OP_HEAD] = "head",	     [BM_OP_PUT] = "put",
    [BM_OP_PUT_BLOCK] = "put_block", [BM_OP_PUT_BLOCK_LIST] = "put_block_list",
    [BM_OP_DELETE] = "delete",	     [BM_OP_COPY] = "copy",
    [BM_OP_CONTAINER] = "container", [BM_OP_BATCH] = "batch",
    [BM_OP_OTHER] = "other",
};

const char *bm_op_name(enum bm_op op)
{
	if ((unsigned)op >= BM_OP_COUNT)
		return "other";
	return op_names[op];
}

int bm_http_stats_format(const struct bm_http_stats *s, char *buf, size_t cap)
{
	uint64_t total = 0;
	size_t len;
	int i, n;

	for (i = 0; i < BM_OP_COUNT; i++)
		total += s->requests[i];
	n = snprintf(buf, cap, "requests=%llu", (unsigned long long)total);
	len = n > 0 ? (size_t)n : 0;
	for (i = 0; i < BM_OP_COUNT; i++) {
		n = snprintf(buf + (len < cap ? len : cap),
			     len < cap ? cap - len : 0, " %s=%llu", op_names[i],
			     (unsigned long long)s->requests[i]);
		len += n > 0 ? (size_t)n : 0;
	}
	n = snprintf(buf + (len < cap ? len : cap), len < cap ? cap - len : 0,
		     " retries=%llu sent=%llu received=%llu connects=%llu",
		     (unsigned long long)s->retries,
		     (unsigned long long)s->bytes_sent,
		     (unsigned long long)s->bytes_received,
		     (unsigned long long)s->connects);
	len += n > 0 ? (size_t)n : 0;
	return (int)len;
}

void bm_http_options_default(struct bm_http_options *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 10000;
	o->low_speed_time_s = 30;
	o->low_speed_limit = 1;
	bm_retry_policy_default(&o->retry);
	o->max_handles = 16;
}

/* ---- responses ---- */

void bm_http_response_release(struct bm_http_response *r)
{
	size_t i;

	if (!r)
		return;
	free(r->body);
	/* Each header is one allocation: name, NUL, value, NUL. */
	for (i = 0; i < r->nheaders; i++)
		free((char *)r->headers[i].name);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

const char *bm_http_response_header(const struct bm_http_response *r,
				    const char *lname)
{
	size_t i;

	for (i = 0; r && i < r->nheaders; i++)
		if (strcmp(r->headers[i].name, lname) == 0)
			return r->headers[i].value;
	return NULL;
}

/* Drops headers and body but keeps the attempt count. */
static void response_reset(struct bm_http_response *r)
{
	int attempts = r->attempts;

	bm_http_response_release(r);
	r->attempts = attempts;
}

/* ---- the client object ---- */

static void share_lock(CURL *handle, curl_lock_data data,
		       curl_lock_access access, void *userptr)
{
	struct bm_http *h = userptr;

	pthread_mutex_lock(&h->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userptr)
{
	struct bm_http *h = userptr;

	pthread_mutex_unlock(&h->share_locks[data]);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init must run once, before any thread uses libcurl. */
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct bm_http *bm_http_new(const struct bm_http_options *o,
			    struct bm_error *err)
{
	struct bm_http *h;
	int i;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		bm_error_set(err, BM_ERR_NETWORK,
			     "cannot initialise libcurl: %s",
			     curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto nomem;
	h->opts = *o;
	h->opts.ca_cert_file = NULL;
	if (h->opts.max_handles <= 0)
		h->opts.max_handles = 16;
	if (o->ca_cert_file &&
	    !(h->opts.ca_cert_file = strdup(o->ca_cert_file)))
		goto nomem;
	h->idle = calloc((size_t)h->opts.max_handles, sizeof(*h->idle));
	if (!h->idle)
		goto nomem;
	pthread_mutex_init(&h->pool_lock, NULL);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	h->share = curl_share_init();
	if (!h->share)
		goto nomem;
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	atomic_store(&h->seed_counter,
		     (unsigned)time(NULL) ^ (unsigned)getpid());
	return h;
nomem:
	bm_http_free(h);
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	return NULL;
}

void bm_http_free(struct bm_http *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < h->nidle; i++)
		curl_easy_cleanup(h->idle[i]);
	if (h->share) {
		curl_share_cleanup(h->share);
		pthread_mutex_destroy(&h->pool_lock);
		for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&h->share_locks[i]);
	}
	free(h->idle);
	free((char *)h->opts.ca_cert_file);
	free(h);
}

/* An idle handle (with its live connections) or a new one. */
static CURL *handle_acquire(struct bm_http *h)
{
	CURL *c = NULL;

	pthread_mutex_lock(&h->pool_lock);
	if (h->nidle > 0)
		c = h->idle[--h->nidle];
	pthread_mutex_unlock(&h->pool_lock);
	return c ? c : curl_easy_init();
}

/* Keeps up to max_handles idle handles; the rest close their connections.
 * A handle whose transfer failed is dropped: its connection may be bad. */
static void handle_release(struct bm_http *h, CURL *c, bool healthy)
{
	pthread_mutex_lock(&h->pool_lock);
	if (healthy && h->nidle < h->opts.max_handles) {
		h->idle[h->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

void bm_http_get_stats(struct bm_http *h, struct bm_http_stats *out)
{
	int i;

	for (i = 0; i < BM_OP_COUNT; i++)
		out->requests[i] = atomic_load(&h->requests[i]);
	out->retries = atomic_load(&h->retries);
	out->bytes_sent = atomic_load(&h->bytes_sent);
	out->bytes_received = atomic_load(&h->bytes_received);
	out->connects = atomic_load(&h->connects);
}

void bm_http_reset_stats(struct bm_http *h)
{
	int i;

	for (i = 0; i < BM_OP_COUNT; i++)
		atomic_store(&h->requests[i], 0);
	atomic_store(&h->retries, 0);
	atomic_store(&h->bytes_sent, 0);
	atomic_store(&h->bytes_received, 0);
	atomic_store(&h->connects, 0);
}

/* ---- one attempt ---- */

struct attempt {
	const struct bm_http_request *req;
	struct bm_http_response *resp;
	CURL *curl;
	bool status_known; /* the first body byte decided where bytes go */
	bool to_sink;
	bool sink_stopped;  /* the caller's sink returned nonzero */
	bool too_big;	    /* collected body passed BM_HTTP_BODY_MAX */
	uint64_t delivered; /* bytes handed to the sink */
	size_t body_cap;
	uint64_t read_pos; /* request body bytes handed to libcurl */
	int read_errno;	   /* pread failure, or -1 for a file that shrank */
};

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	struct attempt *a = ud;
	struct bm_http_response *r = a->resp;
	size_t len = size * n, nlen, vlen, i;
	struct bm_http_header *grown;
	const char *colon, *v;
	char *mem;

	/* A status line starts a new header block (after 100 Continue). */
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		response_reset(r);
		return len;
	}
	colon = memchr(line, ':', len);
	if (!colon)
		return len;
	nlen = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
			v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	grown = realloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
	if (!grown)
		return 0;
	r->headers = grown;
	mem = malloc(nlen + vlen + 2);
	if (!mem)
		return 0;
	for (i = 0; i < nlen; i++)
		mem[i] = (char)(line[i] >= 'A' && line[i] <= 'Z'
				    ? line[i] - 'A' + 'a'
				    : line[i]);
	mem[nlen] = '\0';
	memcpy(mem + nlen + 1, v, vlen);
	mem[nlen + 1 + vlen] = '\0';
	r->headers[r->nheaders].name = mem;
	r->headers[r->nheaders].value = mem + nlen + 1;
	r->nheaders++;
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
	struct attempt *a = ud;
	struct bm_http_response *r = a->resp;
	size_t len = size * n;
	long status = 0;
	char *grown;

	if (!a->status_known) {
		curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
		a->to_sink = a->req->sink && status >= 200 && status < 300;
		a->status_known = true;
	}
	if (a->to_sink) {
		if (a->req->sink(data, len, a->req->sink_ud)) {
			a->sink_stopped = true;
			return 0;
		}
		a->delivered += len;
		return len;
	}
	if (r->body_len + len + 1 > BM_HTTP_BODY_MAX) {
		a->too_big = true;
		return 0;
	}
	if (r->body_len + len + 1 > a->body_cap) {
		size_t cap = a->body_cap ? a->body_cap : 4096;

		while (cap < r->body_len + len + 1)
			cap *= 2;
		grown = realloc(r->body, cap);
		if (!grown)
			return 0;
		r->body = grown;
		a->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
	struct attempt *a = ud;
	const struct bm_body *b = a->req->body;
	uint64_t left = b ? b->len - a->read_pos : 0;
	size_t want = size * n;
	ssize_t got;

	if (want > left)
		want = (size_t)left;
	if (!want)
		return 0;
	if (b->buf) {
		memcpy(dst, (const char *)b->buf + a->read_pos, want);
		a->read_pos += want;
		return want;
	}
	do
		got = pread(b->fd, dst, want, (off_t)(b->offset + a->read_pos));
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		/* 0 before len: the file shrank under us; do not send a
		 * short body that the service would reject or store. */
		a->read_errno = got < 0 ? errno : -1;
		return CURL_READFUNC_ABORT;
	}
	a->read_pos += (uint64_t)got;
	return (size_t)got;
}

/* libcurl rewinds the body when it must resend it on a new connection. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct attempt *a = ud;

	if (origin != SEEK_SET || offset < 0 ||
	    (uint64_t)offset > (a->req->body ? a->req->body->len : 0))
		return CURL_SEEKFUNC_CANTSEEK;
	a->read_pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static struct curl_slist *build_headers(const struct bm_http_request *req,
					const struct bm_auth_result *ar)
{
	struct curl_slist *list = NULL, *next;
	const struct bm_http_header *hdr;
	size_t i, total = req->nheaders + ar->nheaders;
	char line[8192];

	for (i = 0; i < total; i++) {
		hdr = i < req->nheaders ? &req->headers[i]
					: &ar->headers[i - req->nheaders];
		/* "Name;" is libcurl's way to send an empty value. */
		if (hdr->value[0])
			snprintf(line, sizeof(line), "%s: %s", hdr->name,
				 hdr->value);
		else
			snprintf(line, sizeof(line), "%s;", hdr->name);
		next = curl_slist_append(list, line);
		if (!next)
			goto fail;
		list = next;
	}
	/* No "Expect: 100-continue" round trip before large bodies. */
	next = curl_slist_append(list, "Expect:");
	if (!next)
		goto fail;
	explicit_bzero(line, sizeof(line)); /* a signature or a token */
	return next;
fail:
	explicit_bzero(line, sizeof(line));
	curl_slist_free_all(list);
	return NULL;
}

static void set_options(struct bm_http *h, struct attempt *a, const char *url,
			struct curl_slist *headers, char *errbuf)
{
	const struct bm_http_request *req = a->req;
	CURL *c = a->curl;
	uint64_t len = req->body ? req->body->len : 0;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* Send the path as signed: libcurl would otherwise squash "." and
	 * ".." segments, so a blob named "a/../other/x" would address (and,
	 * under an account SAS, write) another container's blob. */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	/* No other scheme, whatever a URL says (CURLOPT_PROTOCOLS is
	 * deprecated from 7.85 on, configure accepts 7.74). */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "blobmill");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 h->opts.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->opts.low_speed_time_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, h->opts.low_speed_limit);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->opts.insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->opts.insecure ? 0L : 2L);
	if (h->opts.ca_cert_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->opts.ca_cert_file);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
		/* PUT and POST always carry a Content-Length (0 included):
		 * the service answers 411 to a PUT without one. */
		if (req->body || strcmp(req->method, "PUT") == 0 ||
		    strcmp(req->method, "POST") == 0) {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)len);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, a);
			curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
			curl_easy_setopt(c, CURLOPT_SEEKDATA, a);
		}
	}
}

/* "host:port" of url for messages (no credentials, no path). */
static void url_host_port(const char *url, char *out, size_t cap)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;

	snprintf(out, cap, "?");
	if (!u)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
		CURLUE_OK)
		snprintf(out, cap, "%s:%s", host, port);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

static enum bm_transport classify(CURLcode rc, const struct attempt *a)
{
	if (a->sink_stopped)
		return BM_TRANSPORT_ABORTED;
	switch (rc) {
	case CURLE_OK:
		return BM_TRANSPORT_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return BM_TRANSPORT_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return BM_TRANSPORT_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return BM_TRANSPORT_TLS;
	default:
		/* Reset, short body, "empty reply": the connection broke. */
		return BM_TRANSPORT_RESET;
	}
}

/* Sets err for a failed transfer. The reason comes from errno when the
 * kernel gave one ("connection refused"), else from libcurl's text. */
static void set_transport_error(const struct bm_http_request *req, CURL *c,
				CURLcode rc, enum bm_transport t,
				const struct attempt *a, const char *errbuf,
				struct bm_error *err)
{
	char where[300], reason[256], sys[128];
	long os_errno = 0;

	if (a->read_errno) {
		bm_error_set(err, BM_ERR_IO, "cannot read the request body: %s",
			     a->read_errno > 0 ? strerror(a->read_errno)
					       : "file shrank while sending");
		return;
	}
	if (a->too_big) {
		bm_error_set(err, BM_ERR_PROTOCOL,
			     "response body larger than %u MiB",
			     BM_HTTP_BODY_MAX >> 20);
		return;
	}
	if (t == BM_TRANSPORT_ABORTED) {
		bm_error_set(err, BM_ERR_ABORTED,
			     "transfer stopped by the caller");
		return;
	}
	url_host_port(req->url, where, sizeof(where));
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
	if (os_errno && rc == CURLE_COULDNT_CONNECT) {
		snprintf(sys, sizeof(sys), "%s", strerror((int)os_errno));
		snprintf(reason, sizeof(reason), "%s", sys);
	} else {
		snprintf(reason, sizeof(reason), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	/* Messages are lowercase: "Connection refused" -> "connection
	 * refused", but an acronym ("SSL certificate problem") stays. */
	if (reason[0] >= 'A' && reason[0] <= 'Z' &&
	    !(reason[1] >= 'A' && reason[1] <= 'Z'))
		reason[0] = (char)(reason[0] - 'A' + 'a');
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		bm_error_set(err, BM_ERR_NETWORK,
			     "cannot resolve host of '%s': %s", where, reason);
		break;
	case CURLE_COULDNT_CONNECT:
		bm_error_set(err, BM_ERR_NETWORK, "cannot connect to '%s': %s",
			     where, reason);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		bm_error_set(err, BM_ERR_TIMEOUT, "no response from '%s': %s",
			     where, reason);
		break;
	default:
		if (t == BM_TRANSPORT_TLS)
			bm_error_set(err, BM_ERR_NETWORK,
				     "TLS failure with '%s': %s", where,
				     reason);
		else
			bm_error_set(err, BM_ERR_NETWORK,
				     "connection to '%s' failed: %s", where,
				     reason);
		break;
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Frees a header list whose entries may hold a credential. */
static void slist_free_wiped(struct curl_slist *list)
{
	struct curl_slist *l;

	for (l = list; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* One attempt: sign, send, receive. Returns the transport outcome; on
 * BM_TRANSPORT_OK resp->status holds the status. err is set only for
 * failures that must not be retried (signing, local I/O). */
static enum bm_transport attempt_once(struct bm_http *h, struct attempt *a,
				      bool *healthy, struct bm_error *err,
				      struct bm_error *terr)
{
	const struct bm_http_request *req = a->req;
	struct bm_auth_result ar;
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	enum bm_transport t = BM_TRANSPORT_ABORTED;
	curl_off_t up = 0, down = 0;
	long t0 = now_ms(), status = 0, connects = 0;
	CURLcode rc;

	memset(&ar, 0, sizeof(ar));
	if (req->auth) {
		if (bm_auth_apply(req->auth, req->method, req->url,
				  req->headers, req->nheaders,
				  req->body ? req->body->len : 0, time(NULL),
				  &ar, err) < 0)
			return BM_TRANSPORT_ABORTED;
	}
	headers = build_headers(req, &ar);
	if (!headers) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	set_options(h, a, ar.url ? ar.url : req->url, headers, errbuf);
	atomic_fetch_add(
	    &h->requests[(unsigned)req->op < BM_OP_COUNT ? req->op
							 : BM_OP_OTHER],
	    1);
	rc = curl_easy_perform(a->curl);
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(a->curl, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(a->curl, CURLINFO_SIZE_DOWNLOAD_T, &down);
	atomic_fetch_add(&h->bytes_sent, (uint64_t)up);
	atomic_fetch_add(&h->bytes_received, (uint64_t)down);
	curl_easy_getinfo(a->curl, CURLINFO_NUM_CONNECTS, &connects);
	atomic_fetch_add(&h->connects, (uint64_t)connects);
	a->resp->status = status;
	t = classify(rc, a);
	*healthy = rc == CURLE_OK;
	if (t != BM_TRANSPORT_OK) {
		set_transport_error(req, a->curl, rc, t, a, errbuf, terr);
		/* Local read errors and oversized bodies are not the
		 * network's fault: never retry them. */
		if (a->read_errno || a->too_big)
			t = BM_TRANSPORT_ABORTED;
	}
	/* req->url carries no SAS; Authorization is never logged. */
	if (bm_log_enabled(BM_LOG_DEBUG))
		bm_debug("http: %s %s %s -> %ld%s%s (%ld ms)", req->method,
			 bm_op_name(req->op), req->url, status,
			 t != BM_TRANSPORT_OK ? ", " : "",
			 t != BM_TRANSPORT_OK ? curl_easy_strerror(rc) : "",
			 now_ms() - t0);
out:
	/* The headers hold the Authorization signature or token, ar the
	 * SAS URL and the signature: wiped before they are freed. */
	slist_free_wiped(headers);
	bm_auth_result_release(&ar);
	return t;
}

/* First message wins: a caller's error that is already set stays. */
static void error_take(struct bm_error *err, const struct bm_error *e)
{
	if (err && err->code == BM_OK)
		*err = *e;
}

/* 400 Md5Mismatch: the body that arrived is not the one whose
 * Content-MD5 was sent (bm_md5.h), and the service stored nothing. */
static bool body_damaged(const struct bm_http_response *r)
{
	const char *code = bm_http_response_header(r, "x-ms-error-code");

	return r->status == 400 && code && strcmp(code, "Md5Mismatch") == 0;
}

int bm_http_perform(struct bm_http *h, const struct bm_http_request *req,
		    struct bm_http_response *resp, struct bm_error *err)
{
	struct bm_http_response local;
	struct bm_error fatal, terr;
	struct attempt a;
	enum bm_transport t = BM_TRANSPORT_ABORTED;
	long start = now_ms(), delay, retry_after;
	unsigned seed = atomic_fetch_add(&h->seed_counter, 0x9e3779b9u);
	bool healthy, reauthorized = false;
	int attempt, ret = -1;

	if (!resp)
		resp = &local;
	memset(resp, 0, sizeof(*resp));
	bm_error_clear(&fatal);
	for (attempt = 1;; attempt++) {
		memset(&a, 0, sizeof(a));
		a.req = req;
		a.resp = resp;
		response_reset(resp);
		resp->attempts = attempt;
		bm_error_clear(&terr);
		a.curl = handle_acquire(h);
		if (!a.curl) {
			bm_error_set(&fatal, BM_ERR_NOMEM, "out of memory");
			break;
		}
		healthy = false;
		t = attempt_once(h, &a, &healthy, &fatal, &terr);
		handle_release(h, a.curl, healthy);
		if (fatal.code != BM_OK)
			break; /* signing or allocation failed */
		if (t == BM_TRANSPORT_OK && resp->status >= 200 &&
		    resp->status < 300) {
			ret = 0;
			break;
		}
		/* A token the service refused (revoked, or expired early by
		 * a clock that differs from ours): fetch a new one, once. */
		if (t == BM_TRANSPORT_OK && resp->status == 401 && req->auth &&
		    req->auth->token && !reauthorized && a.delivered == 0) {
			reauthorized = true;
			bm_token_invalidate(req->auth->token);
			bm_info("http: %s %s: token refused (401), getting a "
				"new one",
				req->method, bm_op_name(req->op));
			continue;
		}
		/* Retry only what is safe to repeat, and a streamed GET only
		 * while the caller's sink has seen nothing of it. A body the
		 * service refused as damaged on the way changed nothing
		 * there, so it is sent again (read again from its source)
		 * even when the request is conditional. */
		if (!(t == BM_TRANSPORT_OK && body_damaged(resp)) &&
		    (!req->idempotent || a.delivered > 0 ||
		     !bm_retry_retryable(t, resp->status)))
			break;
		retry_after = -1;
		if (t == BM_TRANSPORT_OK)
			retry_after = bm_retry_after_ms(
			    bm_http_response_header(resp, "retry-after"),
			    (long)time(NULL));
		delay = bm_retry_delay_ms(&h->opts.retry, attempt, retry_after,
					  now_ms() - start, &seed);
		if (delay < 0)
			break;
		if (t == BM_TRANSPORT_OK)
			bm_info("http: %s %s: status %ld, retry %d in %ld ms",
				req->method, bm_op_name(req->op), resp->status,
				attempt, delay);
		else
			bm_info("http: %s %s: %s, retry %d in %ld ms",
				req->method, bm_op_name(req->op), terr.msg,
				attempt, delay);
		sleep_ms(delay);
		atomic_fetch_add(&h->retries, 1);
	}
	if (ret < 0 && fatal.code != BM_OK)
		error_take(err, &fatal);
	else if (ret < 0 && t == BM_TRANSPORT_OK)
		bm_http_set_request_error(req, resp, err);
	else if (ret < 0)
		error_take(err, &terr);
	if (resp == &local)
		bm_http_response_release(&local);
	return ret;
}
