/*
 * bm_error: an error is a category code plus one line of text, set where the
 * failure is found. The first message wins: later bm_error_set() calls on an
 * error that is already set do nothing, so the innermost cause survives.
 *
 * This module never chooses an errno; the filesystem layer maps categories
 * (and the HTTP status / Azure error code kept here) to errno in one place.
 */
#ifndef BM_ERROR_H
#define BM_ERROR_H

#include <stdarg.h>

enum bm_errc {
	BM_OK = 0,
	BM_ERR_INVALID,	   /* bad argument or input from the user */
	BM_ERR_CONFIG,	   /* configuration missing, unknown or malformed */
	BM_ERR_AUTH,	   /* 403 AuthenticationFailed / AuthorizationFailure */
	BM_ERR_PERMISSION, /* 403 on a permission (e.g. SAS without 'w') */
	BM_ERR_NOT_FOUND,  /* 404 BlobNotFound and other not-found */
	BM_ERR_NO_CONTAINER, /* 404 ContainerNotFound */
	BM_ERR_EXISTS,	 /* 409 BlobAlreadyExists / ContainerAlreadyExists */
	BM_ERR_CONFLICT, /* other 409 (e.g. ContainerBeingDeleted) */
	BM_ERR_PRECONDITION, /* 412: the blob changed (If-Match failed) */
	BM_ERR_RANGE,	     /* 416 InvalidRange */
	BM_ERR_TOO_LARGE,    /* 413 */
	BM_ERR_THROTTLED,    /* 429/503 after the retry budget ran out */
	BM_ERR_SERVER,	     /* 5xx after the retry budget ran out */
	BM_ERR_HTTP,	     /* any other unexpected HTTP status */
	BM_ERR_NETWORK,	     /* connection refused, reset, DNS, TLS */
	BM_ERR_TIMEOUT,	 /* connect or low-speed timeout, total time bound */
	BM_ERR_PROTOCOL, /* malformed response (bad XML, short body) */
	BM_ERR_IO,	 /* local file I/O */
	BM_ERR_NOSPACE,	 /* local disk full */
	BM_ERR_NOMEM,
	BM_ERR_ABORTED, /* a caller's callback asked to stop */
};

struct bm_error {
	enum bm_errc code;
	long http_status;    /* 0 when no HTTP response was involved */
	char azure_code[64]; /* x-ms-error-code or the body's <Code>, or "" */
	char msg[512];	     /* one line, no trailing newline, redacted */
};

void bm_error_clear(struct bm_error *err);

/* Sets code and message unless err is NULL or already set (first wins). */
void bm_error_set(struct bm_error *err, enum bm_errc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like bm_error_set but also records the HTTP status and Azure code. */
void bm_error_set_http(struct bm_error *err, enum bm_errc code, long status,
		       const char *azure_code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Prefixes an already-set message: "CONTEXT: old message" (keeps code). */
void bm_error_prefix(struct bm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Short name of a category, e.g. "authentication failed". Static string. */
const char *bm_errc_str(enum bm_errc code);

#endif
