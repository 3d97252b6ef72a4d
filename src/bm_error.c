/*
 * bm_error: see bm_error.h. The message is formatted, redacted and made
 * one printable line here (bm_escape_controls), so no caller can leak a
 * secret, a newline or a terminal escape into it.
 */
#include <stdio.h>
#include <string.h>

#include "bm_error.h"
#include "bm_log.h"

void bm_error_clear(struct bm_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

static void error_vset(struct bm_error *err, enum bm_errc code, long status,
		       const char *azure_code, const char *fmt, va_list ap)
{
	if (!err || err->code != BM_OK)
		return;
	err->code = code;
	err->http_status = status;
	snprintf(err->azure_code, sizeof(err->azure_code), "%s",
		 azure_code ? azure_code : "");
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	bm_redact(err->msg, sizeof(err->msg));
	bm_escape_controls(err->msg, sizeof(err->msg));
}

void bm_error_set(struct bm_error *err, enum bm_errc code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, code, 0, NULL, fmt, ap);
	va_end(ap);
}

void bm_error_set_http(struct bm_error *err, enum bm_errc code, long status,
		       const char *azure_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, code, status, azure_code, fmt, ap);
	va_end(ap);
}

void bm_error_prefix(struct bm_error *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err || err->code == BM_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	bm_redact(err->msg, sizeof(err->msg));
	bm_escape_controls(err->msg, sizeof(err->msg));
}

const char *bm_errc_str(enum bm_errc code)
{
	switch (code) {
	case BM_OK:
		return "success";
	case BM_ERR_INVALID:
		return "invalid argument";
	case BM_ERR_CONFIG:
		return "bad configuration";
	case BM_ERR_AUTH:
		return "authentication failed";
	case BM_ERR_PERMISSION:
		return "permission denied";
	case BM_ERR_NOT_FOUND:
		return "not found";
	case BM_ERR_NO_CONTAINER:
		return "container not found";
	case BM_ERR_EXISTS:
		return "already exists";
	case BM_ERR_CONFLICT:
		return "conflict";
	case BM_ERR_PRECONDITION:
		return "blob changed";
	case BM_ERR_RANGE:
		return "invalid range";
	case BM_ERR_TOO_LARGE:
		return "request too large";
	case BM_ERR_THROTTLED:
		return "throttled by the service";
	case BM_ERR_SERVER:
		return "server error";
	case BM_ERR_HTTP:
		return "unexpected HTTP status";
	case BM_ERR_NETWORK:
		return "endpoint unreachable";
	case BM_ERR_TIMEOUT:
		return "timed out";
	case BM_ERR_PROTOCOL:
		return "malformed response";
	case BM_ERR_IO:
		return "local I/O error";
	case BM_ERR_NOSPACE:
		return "no space left on local disk";
	case BM_ERR_NOMEM:
		return "out of memory";
	case BM_ERR_ABORTED:
		return "aborted";
	}
	return "unknown error";
}
