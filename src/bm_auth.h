/*
 * bm_auth: request authentication for Azure Storage and Azure Batch.
 *   - SharedKey for Blob: string to sign over the standard headers, the
 *     canonicalized x-ms-* headers and the canonicalized resource.
 *   - SharedKey for Batch: the same scheme with ocp-* headers (ocp-date).
 *   - SAS: the token is appended to the URL's query, nothing is signed.
 *   - Bearer (Microsoft Entra ID): "Authorization: Bearer TOKEN" with a
 *     token from bm_token (the one scheme here that may do I/O: fetching
 *     or refreshing the token), over https only.
 * Also base64 and HMAC-SHA256 helpers and a service-SAS generator (for
 * handing a node a URL to the bundle without handing it the account key).
 *
 * Canonicalized resource: "/" + account + the URL path exactly as sent
 * (percent-encoded), then one "\nname:value" line per query parameter,
 * names lowercased and sorted, values decoded, repeated names joined with
 * ','. With a path-style endpoint (Azurite) the account therefore appears
 * twice: /devstoreaccount1/devstoreaccount1/container.
 */
#ifndef BM_AUTH_H
#define BM_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bm_error.h"

#define BM_BLOB_API_VERSION "2021-08-06"
#define BM_BATCH_API_VERSION "2024-07-01.20.0"

struct bm_http_header {
	const char *name;
	const char *value;
};

enum bm_auth_scheme {
	BM_SCHEME_NONE = 0,	/* anonymous (public containers) */
	BM_SCHEME_BLOB_KEY,	/* SharedKey, x-ms-date + x-ms-version */
	BM_SCHEME_BLOB_SAS,	/* SAS token in the query, x-ms-version */
	BM_SCHEME_BATCH_KEY,	/* SharedKey, ocp-date; api-version in query */
	BM_SCHEME_BLOB_BEARER,	/* Entra ID token, x-ms-version */
	BM_SCHEME_BATCH_BEARER, /* Entra ID token; api-version in query */
};

struct bm_token;

/* Borrowed pointers: the bm_auth does not own them. */
struct bm_auth {
	enum bm_auth_scheme scheme;
	const char *account;
	const unsigned char *key; /* decoded account key */
	size_t key_len;
	const char *sas_token;	/* without '?' */
	struct bm_token *token; /* the bearer schemes' token source */
};

/* What bm_auth_apply adds to a request. Fixed buffers: no ownership. */
struct bm_auth_result {
	char *url; /* malloc()ed; URL to send (SAS appended) */
	struct bm_http_header headers[3];
	size_t nheaders;
	char date[40];		 /* storage for the x-ms-date/ocp-date value */
	char authorization[256]; /* "SharedKey ACCOUNT:SIG" */
	char *bearer; /* malloc()ed "Bearer TOKEN" (bearer schemes) */
};

/* Wipes and frees what bm_auth_apply allocated in res. */
void bm_auth_result_release(struct bm_auth_result *res);

/*
 * Computes the headers to add to one attempt of a request. `headers` are
 * the request's own headers (names case-insensitive); content_length is the
 * body length (0 is signed as the empty string, as the 2015-02-21+ rules
 * say). `now` is the request time (time(NULL) except in tests).
 * On success the caller releases res with bm_auth_result_release (or, for
 * the schemes without a token, frees res->url). A bearer scheme refuses a
 * URL that is not https (BM_ERR_CONFIG): a token never travels in clear.
 */
int bm_auth_apply(const struct bm_auth *auth, const char *method,
		  const char *url, const struct bm_http_header *headers,
		  size_t nheaders, uint64_t content_length, time_t now,
		  struct bm_auth_result *res, struct bm_error *err);

/*
 * The string to sign. canon_prefix is "x-ms-" (Blob) or "ocp-" (Batch).
 * headers must include the date header and, when nonzero, Content-Length.
 * Returns a malloc()ed string the caller frees, NULL on bad URL/ENOMEM.
 */
char *bm_auth_string_to_sign(const char *method,
			     const struct bm_http_header *headers,
			     size_t nheaders, const char *canon_prefix,
			     const char *account, const char *url);

/* base64(HMAC-SHA256(key, msg)) into out (>= 45 bytes). 0 or -1. */
int bm_auth_hmac_b64(const unsigned char *key, size_t key_len, const char *msg,
		     char *out, size_t out_size);

/* Strict base64 decode (padding required, no whitespace). malloc()ed
 * result the caller frees; -1 on malformed input. */
int bm_base64_decode(const char *in, unsigned char **out, size_t *out_len);
/* malloc()ed, NUL-terminated; the caller frees it. */
char *bm_base64_encode(const unsigned char *in, size_t len);

/* RFC 1123 date ("Fri, 26 Jun 2015 23:39:12 GMT") into out (>= 30). */
void bm_http_date(time_t t, char *out, size_t out_size);

/*
 * A service SAS for a container (blob NULL) or a blob: permissions such as
 * "r" or "rl", valid until `expiry`. Returns the token (no '?'),
 * malloc()ed; the caller frees it.
 */
char *bm_auth_service_sas(const char *account, const unsigned char *key,
			  size_t key_len, const char *container,
			  const char *blob, const char *permissions,
			  time_t expiry, struct bm_error *err);

#endif
