/*
 * bm_http: HTTP requests on libcurl for the Blob and Batch clients.
 * Owns: connection reuse (a pool of easy handles sharing a connection
 * cache), connect and low-speed timeouts, TLS settings, the retry loop
 * (policy in bm_retry), request signing per attempt (bm_auth), and
 * counters of requests by operation. Does not know what an operation
 * means beyond its counter, and never picks an errno.
 *
 * Thread-safe: any number of threads may call bm_http_perform on one
 * struct bm_http at once.
 */
#ifndef BM_HTTP_H
#define BM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm_auth.h"
#include "bm_error.h"
#include "bm_retry.h"

/* Counter slots. Each attempt (retries included) counts once. */
enum bm_op {
	BM_OP_LIST = 0,
	BM_OP_GET,
	BM_OP_HEAD,
	BM_OP_PUT,
	BM_OP_PUT_BLOCK,
	BM_OP_PUT_BLOCK_LIST,
	BM_OP_DELETE,
	BM_OP_COPY,
	BM_OP_CONTAINER, /* create, delete, get properties */
	BM_OP_BATCH,
	BM_OP_OTHER,
	BM_OP_COUNT,
};

/* "list", "get", ... Static string. */
const char *bm_op_name(enum bm_op op);

struct bm_http_stats {
	uint64_t requests[BM_OP_COUNT]; /* attempts sent */
	uint64_t retries;		/* attempts that were retries */
	uint64_t bytes_sent;
	uint64_t bytes_received;
	uint64_t connects; /* new connections opened (reuse shows
			    * as connects well below requests) */
};

/* "requests=N list=N get=N ... retries=N sent=N received=N connects=N":
 * one line, parseable by tests and benchmarks. Returns the length that
 * the whole line needs, like snprintf. */
int bm_http_stats_format(const struct bm_http_stats *s, char *buf, size_t cap);

struct bm_http_options {
	long connect_timeout_ms; /* default 10000 */
	long low_speed_time_s;	 /* abort when below low_speed_limit for this
				  * long; default 30 */
	long low_speed_limit;	 /* bytes/s, default 1 */
	struct bm_retry_policy retry;
	const char *ca_cert_file; /* copied */
	bool insecure;		  /* verification off; caller warns */
	int max_handles;	  /* pooled easy handles, default 16 */
};

void bm_http_options_default(struct bm_http_options *o);

/* Receives body bytes in order; returns 0 to continue, nonzero to abort
 * (the request then fails with BM_ERR_ABORTED). */
typedef int (*bm_sink_fn)(const void *data, size_t len, void *ud);

/* A request body: memory (buf != NULL) or pread() from fd. */
struct bm_body {
	const void *buf;
	int fd;
	uint64_t offset;
	uint64_t len;
};

struct bm_http_request {
	const char *method;
	enum bm_op op;
	const char *url; /* without any SAS; bm_auth adds it */
	const struct bm_http_header *headers;
	size_t nheaders;
	const struct bm_body *body; /* NULL: no body */
	const struct bm_auth *auth; /* NULL: anonymous */
	/* Response body: to sink if set (only for 2xx; error bodies are always
	 * collected), else collected into response->body (up to 8 MiB). */
	bm_sink_fn sink;
	void *sink_ud;
	/* Only requests that are safe to repeat are retried. For GETs with a
	 * sink, a retry happens only if no byte reached the sink yet. */
	bool idempotent;
};

struct bm_http_response {
	long status;
	char *body; /* NUL-terminated when collected; malloc()ed */
	size_t body_len;
	struct bm_http_header *headers; /* lowercase names, malloc()ed */
	size_t nheaders;
	int attempts; /* attempts made, retries included (1 = no retry) */
};

/* Frees body and headers and zeroes the struct. */
void bm_http_response_release(struct bm_http_response *r);

/* Value of a header by lowercase name, or NULL. */
const char *bm_http_response_header(const struct bm_http_response *r,
				    const char *lname);

struct bm_http *bm_http_new(const struct bm_http_options *o,
			    struct bm_error *err);
void bm_http_free(struct bm_http *h);

/*
 * Performs the request with retries. Returns 0 for a 2xx final response.
 * Otherwise -1 with err set: a non-2xx status maps to a category via
 * bm_http_status_errc (status, x-ms-error-code or the XML/JSON error body's
 * code, and its message in err->msg); transport failures give
 * BM_ERR_NETWORK or BM_ERR_TIMEOUT. resp (may be NULL) holds the final
 * response either way; release it with bm_http_response_release.
 */
int bm_http_perform(struct bm_http *h, const struct bm_http_request *req,
		    struct bm_http_response *resp, struct bm_error *err);

enum bm_errc bm_http_status_errc(long status, const char *azure_code);

/*
 * Sets err from a non-2xx response: the category from the status and the
 * Azure error code (x-ms-error-code, else the XML <Code> or the Batch JSON
 * "code"), and a one-line message "CATEGORY (STATUS CODE: MESSAGE)" with
 * the first line of the service's message. bm_http_perform uses it; it is
 * public for clients that judge a response themselves, and for tests.
 */
void bm_http_set_status_error(const struct bm_http_response *r,
			      struct bm_error *err);

/*
 * Sets err from req's non-2xx response as bm_http_set_status_error does,
 * except that a refused bearer token says so, with Azure's
 * AuthenticationErrorDetail, so no one is told to check an account key.
 * bm_http_perform's; public only to live in bm_http_error.c.
 */
void bm_http_set_request_error(const struct bm_http_request *req,
			       const struct bm_http_response *r,
			       struct bm_error *err);

void bm_http_get_stats(struct bm_http *h, struct bm_http_stats *out);
void bm_http_reset_stats(struct bm_http *h);

#endif
