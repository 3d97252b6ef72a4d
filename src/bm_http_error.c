/*
 * bm_http_error: what a non-2xx response means. Maps the status and
 * Azure's error code (x-ms-error-code, else the <Code> of a Blob XML
 * body or the "code" of a Batch JSON body) to a category, and writes the
 * one-line message with the first line of the service's own message.
 * Knows nothing of connections or retries (bm_http.c), and never picks
 * an errno.
 */
#include <stdio.h>
#include <string.h>

#include "bm_http.h"

static bool code_is(const char *code, const char *want)
{
	return code && strcmp(code, want) == 0;
}

static bool code_ends(const char *code, const char *suffix)
{
	size_t n, m;

	if (!code)
		return false;
	n = strlen(code);
	m = strlen(suffix);
	return n >= m && strcmp(code + n - m, suffix) == 0;
}

enum bm_errc bm_http_status_errc(long status, const char *azure_code)
{
	if (status >= 200 && status < 300)
		return BM_OK;
	switch (status) {
	case 400:
		/* A malformed SAS or Authorization header is reported as
		 * 400 InvalidAuthenticationInfo / InvalidHeaderValue: the
		 * first is a credentials problem the user must fix. */
		if (code_is(azure_code, "InvalidAuthenticationInfo"))
			return BM_ERR_AUTH;
		return BM_ERR_INVALID;
	case 401:
		return BM_ERR_AUTH;
	case 403:
		/* Authorization*Mismatch and InsufficientAccountPermissions
		 * mean "valid credentials, not allowed to do this" (a SAS
		 * without 'w', a role without data access). Everything else
		 * (AuthenticationFailed, AuthorizationFailure, a bare 403)
		 * means the credentials themselves were rejected. */
		if (code_ends(azure_code, "Mismatch") ||
		    code_is(azure_code, "InsufficientAccountPermissions") ||
		    code_is(azure_code, "Forbidden"))
			return BM_ERR_PERMISSION;
		return BM_ERR_AUTH;
	case 404:
		if (code_is(azure_code, "ContainerNotFound"))
			return BM_ERR_NO_CONTAINER;
		return BM_ERR_NOT_FOUND;
	case 408:
		return BM_ERR_TIMEOUT;
	case 409:
		/* BlobAlreadyExists, ContainerAlreadyExists, and Batch's
		 * TaskExists, JobExists, PoolExists, JobScheduleExists. */
		if (code_ends(azure_code, "Exists"))
			return BM_ERR_EXISTS;
		return BM_ERR_CONFLICT;
	case 412:
		return BM_ERR_PRECONDITION;
	case 413:
		return BM_ERR_TOO_LARGE;
	case 416:
		return BM_ERR_RANGE;
	case 429:
	case 503:
		/* 503 ServerBusy is Azure's throttling signal. */
		return BM_ERR_THROTTLED;
	default:
		break;
	}
	if (status >= 500 && status < 600)
		return BM_ERR_SERVER;
	return BM_ERR_HTTP;
}

/* Copies at most cap-1 bytes of [s, s+n) keeping printable ASCII and
 * UTF-8, replacing control characters with spaces. */
static void copy_text(char *dst, size_t cap, const char *s, size_t n)
{
	size_t i, j = 0;

	for (i = 0; i < n && j + 1 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[j++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	dst[j] = '\0';
}

/* Text of the first <tag>...</tag> in an XML error body, entities
 * &amp; &lt; &gt; &quot; &apos; decoded, cut at the first line break. */
static void xml_element_text(const char *body, const char *tag, char *out,
			     size_t cap)
{
	static const struct {
		const char *ent, *ch;
	} ents[] = {{"&amp;", "&"},
		    {"&lt;", "<"},
		    {"&gt;", ">"},
		    {"&quot;", "\""},
		    {"&apos;", "'"}};
	char open[32], close[32];
	const char *p, *end;
	size_t j = 0, k;

	out[0] = '\0';
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	p = strstr(body, open);
	if (!p)
		return;
	p += strlen(open);
	end = strstr(p, close);
	if (!end)
		return;
	while (p < end && *p != '\n' && *p != '\r' && j + 1 < cap) {
		size_t n = 0;

		for (k = 0; *p == '&' && k < sizeof(ents) / sizeof(ents[0]);
		     k++) {
			n = strlen(ents[k].ent);
			if ((size_t)(end - p) >= n &&
			    memcmp(p, ents[k].ent, n) == 0)
				break;
		}
		if (*p == '&' && k < sizeof(ents) / sizeof(ents[0])) {
			out[j++] = ents[k].ch[0];
			p += n;
			continue;
		}
		copy_text(out + j, 2, p, 1);
		j++;
		p++;
	}
	out[j] = '\0';
}

/* The JSON string value after "key": in body (no unicode decoding:
 * \uXXXX becomes '?'), or "" when absent. Batch error bodies are
 * {"odata.metadata":..., "code":"...", "message":{"lang":..,"value":".."}}
 * (older services wrap them in "odata.error"). */
static const char *json_string_after(const char *body, const char *key,
				     char *out, size_t cap)
{
	char pat[40];
	const char *p;
	size_t j = 0;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(body, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != ':')
		return NULL;
	p++;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '"')
		return p; /* not a string: let the caller look inside */
	for (p++; *p && *p != '"' && j + 1 < cap; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			if (*p == 'u') {
				out[j++] = '?';
				p += strnlen(p + 1, 4);
				continue;
			}
			/* An escaped line break ends the first line. */
			if (*p == 'n' || *p == 'r')
				break;
			out[j++] = *p == 't' ? ' ' : *p;
			continue;
		}
		copy_text(out + j, 2, p, 1);
		j++;
	}
	out[j] = '\0';
	return p;
}

static void error_body_fields(const struct bm_http_response *r, char *code,
			      size_t code_cap, char *msg, size_t msg_cap)
{
	const char *body = r->body, *p;

	if (!body || !r->body_len)
		return;
	if (strstr(body, "<Code>")) {
		if (!code[0])
			xml_element_text(body, "Code", code, code_cap);
		xml_element_text(body, "Message", msg, msg_cap);
		return;
	}
	if (body[0] != '{')
		return;
	if (!code[0])
		json_string_after(body, "code", code, code_cap);
	p = json_string_after(body, "message", msg, msg_cap);
	if (p && *p == '{')
		json_string_after(p, "value", msg, msg_cap);
	/* The first line only: Batch appends RequestId and Time lines. */
	msg[strcspn(msg, "\r\n")] = '\0';
}

void bm_http_set_status_error(const struct bm_http_response *r,
			      struct bm_error *err)
{
	char code[64] = "", msg[256] = "", clean[64];
	const char *hdr = bm_http_response_header(r, "x-ms-error-code");
	enum bm_errc ec;

	if (hdr)
		copy_text(code, sizeof(code), hdr, strlen(hdr));
	error_body_fields(r, code, sizeof(code), msg, sizeof(msg));
	/* The code goes into err->azure_code and messages: keep it a word. */
	copy_text(clean, sizeof(clean), code, strcspn(code, " \"'<>"));
	ec = bm_http_status_errc(r->status, clean[0] ? clean : NULL);
	if (ec == BM_OK)
		return;
	if (msg[0])
		bm_error_set_http(err, ec, r->status, clean, "%s (%ld%s%s: %s)",
				  bm_errc_str(ec), r->status,
				  clean[0] ? " " : "", clean, msg);
	else
		bm_error_set_http(err, ec, r->status, clean, "%s (%ld%s%s)",
				  bm_errc_str(ec), r->status,
				  clean[0] ? " " : "", clean);
}

/*
 * A token the service refused says why in AuthenticationErrorDetail
 * ("Invalid token audience.", "Lifetime validation failed. The token is
 * expired."), which the generic message leaves out; the message also
 * says it was a token, so no one is told to check an account key.
 */
void bm_http_set_request_error(const struct bm_http_request *req,
			       const struct bm_http_response *r,
			       struct bm_error *err)
{
	char detail[256] = "", code[64] = "", raw[64] = "";
	const char *hdr = bm_http_response_header(r, "x-ms-error-code");
	bool bearer = req->auth && req->auth->token;

	if (hdr)
		copy_text(raw, sizeof(raw), hdr, strlen(hdr));
	/* Blob's XML gives the detail apart; Batch's JSON only a message. */
	error_body_fields(r, raw, sizeof(raw), detail, sizeof(detail));
	copy_text(code, sizeof(code), raw, strcspn(raw, " \"'<>"));
	if (bearer && bm_http_status_errc(r->status, code[0] ? code : NULL) ==
			  BM_ERR_AUTH) {
		if (r->body && strstr(r->body, "<AuthenticationErrorDetail>"))
			xml_element_text(r->body, "AuthenticationErrorDetail",
					 detail, sizeof(detail));
		detail[strcspn(detail, "\r\n")] = '\0';
		bm_error_set_http(
		    err, BM_ERR_AUTH, r->status, code,
		    "%s (%ld%s%s): the Entra ID token was refused%s%s",
		    bm_errc_str(BM_ERR_AUTH), r->status, code[0] ? " " : "",
		    code, detail[0] ? ": " : "", detail);
		return;
	}
	bm_http_set_status_error(r, err);
}
