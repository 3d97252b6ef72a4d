/*
 * bm_auth: SharedKey signing for Blob and Batch, SAS appending, a service
 * SAS generator, and the base64/HMAC/date helpers they need (see
 * bm_auth.h). Pure functions of their arguments: no state, no I/O, so
 * every rule here is unit-tested against fixed vectors.
 *
 * Not done here: user-delegation SAS, account SAS, SharedKeyLite.
 * Entra ID tokens come from bm_token; this module only puts them in the
 * Authorization header.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bm_auth.h"
#include "bm_token.h"
#include "bm_url.h"

/* A growing string; on allocation failure it goes NULL and stays NULL. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n)
{
	char *grown;
	size_t cap;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->s, cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->s = grown;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

/* Hands back the string (caller frees) or NULL if any append failed. */
static char *sb_finish(struct sbuf *b)
{
	if (b->failed || !b->s) {
		free(b->s);
		return b->failed ? NULL : strdup("");
	}
	return b->s;
}

/* ---- base64, HMAC, dates ------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *bm_base64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1), *q = out;
	size_t i;
	unsigned v;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		*q++ = b64_alphabet[v >> 18];
		*q++ = b64_alphabet[(v >> 12) & 63];
		*q++ = b64_alphabet[(v >> 6) & 63];
		*q++ = b64_alphabet[v & 63];
	}
	if (i < len) {
		v = (unsigned)in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0);
		*q++ = b64_alphabet[v >> 18];
		*q++ = b64_alphabet[(v >> 12) & 63];
		*q++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*q++ = '=';
	}
	*q = '\0';
	return out;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;

	return p ? (int)(p - b64_alphabet) : -1;
}

/*
 * Strict: length a multiple of 4, only the alphabet, '=' only as the last
 * one or two characters, and unused bits zero, so each byte string has
 * exactly one accepted spelling (a typo cannot decode to a different key).
 */
int bm_base64_decode(const char *in, unsigned char **out, size_t *out_len)
{
	size_t n = strlen(in), pad = 0, i, o = 0;
	unsigned char *buf;
	int v[4], k;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	buf = malloc(n / 4 * 3);
	if (!buf)
		return -1;
	for (i = 0; i < n; i += 4) {
		bool last = i + 4 == n;

		for (k = 0; k < 4; k++) {
			if (last && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			v[k] = b64_val(in[i + k]);
			if (v[k] < 0)
				goto bad;
		}
		buf[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (last && pad == 2) {
			if (v[1] & 15)
				goto bad;
			break;
		}
		buf[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (last && pad == 1) {
			if (v[2] & 3)
				goto bad;
			break;
		}
		buf[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	*out = buf;
	*out_len = o;
	return 0;
bad:
	free(buf);
	return -1;
}

int bm_auth_hmac_b64(const unsigned char *key, size_t key_len, const char *msg,
		     char *out, size_t out_size)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char *b64;
	int rc = -1;

	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg,
		  strlen(msg), mac, &mac_len))
		return -1;
	b64 = bm_base64_encode(mac, mac_len);
	if (b64 && strlen(b64) < out_size) {
		memcpy(out, b64, strlen(b64) + 1);
		rc = 0;
	}
	/* A signature is a credential (a SAS's for as long as it is valid):
	 * no copy is left behind but the caller's. */
	explicit_bzero(mac, sizeof(mac));
	if (b64)
		explicit_bzero(b64, strlen(b64));
	free(b64);
	return rc;
}

/* Locale-independent names: strftime's %a/%b follow LC_TIME. */
static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed",
					"Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr",
					  "May", "Jun", "Jul", "Aug",
					  "Sep", "Oct", "Nov", "Dec"};

void bm_http_date(time_t t, char *out, size_t out_size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, out_size, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- the string to sign -------------------------------------------- */

/* Value of a header by case-insensitive name, or "". */
static const char *header_value(const struct bm_http_header *h, size_t n,
				const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value ? h[i].value : "";
	return "";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Appends s without leading/trailing blanks (header values are trimmed). */
static void sb_add_trimmed(struct sbuf *b, const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	sb_addn(b, s, n);
}

/*
 * Canonicalized headers: every header whose lowercase name starts with
 * prefix, sorted by name, "name:value\n"; a repeated name joins its values
 * with ','.
 */
static void canon_headers(struct sbuf *b, const struct bm_http_header *h,
			  size_t n, const char *prefix)
{
	char **names = calloc(n ? n : 1, sizeof(*names));
	size_t i, j, k, count = 0;

	if (!names) {
		b->failed = true;
		return;
	}
	for (i = 0; i < n; i++) {
		if (strncasecmp(h[i].name, prefix, strlen(prefix)) != 0)
			continue;
		names[count] = strdup(h[i].name);
		if (!names[count]) {
			b->failed = true;
			goto out;
		}
		lower(names[count++]);
	}
	qsort(names, count, sizeof(*names), cmp_str);
	for (i = 0; i < count; i++) {
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		sb_add(b, names[i]);
		sb_add(b, ":");
		for (j = 0, k = 0; j < n; j++) {
			if (strcasecmp(h[j].name, names[i]) != 0)
				continue;
			if (k++)
				sb_add(b, ",");
			sb_add_trimmed(b, h[j].value ? h[j].value : "");
		}
		sb_add(b, "\n");
	}
out:
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* One decoded query parameter. */
struct qparam {
	char *name;
	char *value;
};

static int cmp_qparam(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/*
 * Splits and decodes the query (without '?'). Returns the number of
 * parameters in *out (caller frees each and the array), or -1.
 */
static long parse_query(const char *q, struct qparam **out)
{
	struct qparam *params;
	size_t n = 1, i = 0;
	const char *p, *end, *eq;
	char *raw;

	for (p = q; *p; p++)
		n += *p == '&';
	params = calloc(n, sizeof(*params));
	if (!params)
		return -1;
	for (p = q; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, "&");
		if (end == p)
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		raw = strndup(p, (size_t)((eq ? eq : end) - p));
		params[i].name = raw ? bm_url_decode(raw) : NULL;
		free(raw);
		raw = eq ? strndup(eq + 1, (size_t)(end - eq - 1)) : strdup("");
		params[i].value = raw ? bm_url_decode(raw) : NULL;
		free(raw);
		if (!params[i].name || !params[i].value) {
			free(params[i].name);
			free(params[i].value);
			goto fail;
		}
		lower(params[i++].name);
	}
	*out = params;
	return (long)i;
fail:
	while (i-- > 0) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
	return -1;
}

/*
 * Canonicalized resource: "/" ACCOUNT PATH, then "\nname:v1,v2" per query
 * parameter, names lowercased and sorted, values decoded and sorted.
 * Returns -1 on a URL that is not scheme://host[/path][?query].
 */
static int canon_resource(struct sbuf *b, const char *account, const char *url)
{
	const char *p = strstr(url, "://"), *path, *query;
	struct qparam *params = NULL;
	char *qcopy;
	long n, i;

	if (!p || p == url)
		return -1;
	p += 3;
	path = p + strcspn(p, "/?#");
	if (path == p)
		return -1;
	query = path + strcspn(path, "?#");
	sb_add(b, "/");
	sb_add(b, account);
	if (query == path)
		sb_add(b, "/");
	else
		sb_addn(b, path, (size_t)(query - path));
	if (*query != '?')
		return 0;
	/* A '#fragment' is never sent, so it is not signed. */
	qcopy = strndup(query + 1, strcspn(query + 1, "#"));
	n = qcopy ? parse_query(qcopy, &params) : -1;
	free(qcopy);
	if (n < 0)
		return -1;
	qsort(params, (size_t)n, sizeof(*params), cmp_qparam);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(params[i].name, params[i - 1].name) == 0) {
			sb_add(b, ",");
		} else {
			sb_add(b, "\n");
			sb_add(b, params[i].name);
			sb_add(b, ":");
		}
		sb_add(b, params[i].value);
	}
	for (i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
	return 0;
}

char *bm_auth_string_to_sign(const char *method,
			     const struct bm_http_header *headers,
			     size_t nheaders, const char *canon_prefix,
			     const char *account, const char *url)
{
	/* The standard headers, in the order the string to sign has them. */
	static const char *const standard[] = {
	    "Content-Encoding",
	    "Content-Language",
	    "Content-Length",
	    "Content-MD5",
	    "Content-Type",
	    "Date",
	    "If-Modified-Since",
	    "If-Match",
	    "If-None-Match",
	    "If-Unmodified-Since",
	    "Range",
	};
	struct sbuf b = {0};
	const char *v;
	size_t i;

	sb_add(&b, method);
	sb_add(&b, "\n");
	for (i = 0; i < sizeof(standard) / sizeof(standard[0]); i++) {
		v = header_value(headers, nheaders, standard[i]);
		/* Since 2015-02-21 a zero Content-Length signs as "". */
		if (strcmp(standard[i], "Content-Length") == 0 &&
		    strcmp(v, "0") == 0)
			v = "";
		sb_add(&b, v);
		sb_add(&b, "\n");
	}
	canon_headers(&b, headers, nheaders, canon_prefix);
	if (canon_resource(&b, account, url) < 0) {
		free(b.s);
		return NULL;
	}
	return sb_finish(&b);
}

/* ---- applying a scheme to a request -------------------------------- */

static bool has_header(const struct bm_http_header *h, size_t n,
		       const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return true;
	return false;
}

/* Appends "SAS" to the URL's query; the caller frees the result. */
static char *url_with_sas(const char *url, const char *sas)
{
	char *out;

	while (*sas == '?')
		sas++;
	if (!*sas)
		return strdup(url);
	if (asprintf(&out, "%s%s%s", url, strchr(url, '?') ? "&" : "?", sas) <
	    0)
		return NULL;
	return out;
}

/* Signs with SharedKey: res->authorization = "SharedKey ACCOUNT:SIG". */
static int sign_shared_key(const struct bm_auth *auth, const char *method,
			   const char *url,
			   const struct bm_http_header *headers,
			   size_t nheaders, uint64_t content_length,
			   const char *prefix, struct bm_auth_result *res,
			   struct bm_error *err)
{
	struct bm_http_header *all;
	char length[24], sig[64], *sts = NULL;
	size_t i, n = 0;
	int rc = -1;

	all = calloc(nheaders + 4, sizeof(*all));
	if (!all) {
		bm_error_set(err, BM_ERR_NOMEM, "cannot sign request: %s",
			     "out of memory");
		return -1;
	}
	/* Content-Length comes from the body, whatever the caller's headers
	 * say, so the signature matches what libcurl sends. */
	for (i = 0; i < nheaders; i++)
		if (strcasecmp(headers[i].name, "Content-Length") != 0)
			all[n++] = headers[i];
	snprintf(length, sizeof(length), "%llu",
		 (unsigned long long)content_length);
	all[n].name = "Content-Length";
	all[n++].value = length;
	for (i = 0; i < res->nheaders; i++)
		all[n++] = res->headers[i];
	sts =
	    bm_auth_string_to_sign(method, all, n, prefix, auth->account, url);
	if (!sts) {
		bm_error_set(err, BM_ERR_INVALID,
			     "cannot sign request for '%s': bad URL", url);
		goto out;
	}
	if (bm_auth_hmac_b64(auth->key, auth->key_len, sts, sig, sizeof(sig)) <
	    0) {
		bm_error_set(err, BM_ERR_NOMEM, "cannot sign request for '%s'",
			     url);
		goto out;
	}
	snprintf(res->authorization, sizeof(res->authorization),
		 "SharedKey %s:%s", auth->account, sig);
	res->headers[res->nheaders].name = "Authorization";
	res->headers[res->nheaders++].value = res->authorization;
	rc = 0;
out:
	explicit_bzero(sig, sizeof(sig));
	free(sts);
	free(all);
	return rc;
}

void bm_auth_result_release(struct bm_auth_result *res)
{
	/* The URL carries the SAS under SAS auth. */
	if (res->url)
		explicit_bzero(res->url, strlen(res->url));
	free(res->url);
	if (res->bearer) {
		explicit_bzero(res->bearer, strlen(res->bearer));
		free(res->bearer);
	}
	explicit_bzero(res, sizeof(*res));
}

/* "Authorization: Bearer TOKEN", only ever to an https URL. */
static int apply_bearer(const struct bm_auth *auth, const char *url,
			struct bm_auth_result *res, struct bm_error *err)
{
	char *tok;

	if (strncasecmp(url, "https://", 8) != 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "refusing to send an Entra ID token over plain "
			     "HTTP: use an https endpoint");
		return -1;
	}
	if (!auth->token) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot sign request: no token source");
		return -1;
	}
	tok = bm_token_get(auth->token, err);
	if (!tok)
		return -1;
	if (asprintf(&res->bearer, "Bearer %s", tok) < 0) {
		res->bearer = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	}
	explicit_bzero(tok, strlen(tok));
	free(tok);
	if (!res->bearer)
		return -1;
	res->headers[res->nheaders].name = "Authorization";
	res->headers[res->nheaders++].value = res->bearer;
	return 0;
}

int bm_auth_apply(const struct bm_auth *auth, const char *method,
		  const char *url, const struct bm_http_header *headers,
		  size_t nheaders, uint64_t content_length, time_t now,
		  struct bm_auth_result *res, struct bm_error *err)
{
	enum bm_auth_scheme scheme = auth ? auth->scheme : BM_SCHEME_NONE;
	bool blob = scheme == BM_SCHEME_BLOB_KEY ||
		    scheme == BM_SCHEME_BLOB_SAS ||
		    scheme == BM_SCHEME_BLOB_BEARER;
	const char *date_name;

	memset(res, 0, sizeof(*res));
	if ((scheme == BM_SCHEME_BLOB_BEARER ||
	     scheme == BM_SCHEME_BATCH_BEARER) &&
	    apply_bearer(auth, url, res, err) < 0)
		return -1;
	bm_http_date(now, res->date, sizeof(res->date));
	if (scheme == BM_SCHEME_BLOB_BEARER &&
	    !has_header(headers, nheaders, "x-ms-date")) {
		res->headers[res->nheaders].name = "x-ms-date";
		res->headers[res->nheaders++].value = res->date;
	}
	if (scheme == BM_SCHEME_BLOB_KEY || scheme == BM_SCHEME_BATCH_KEY) {
		if (!auth->account || !auth->key || auth->key_len == 0) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "cannot sign request for '%s': no account "
				     "key",
				     url);
			return -1;
		}
		date_name =
		    scheme == BM_SCHEME_BATCH_KEY ? "ocp-date" : "x-ms-date";
		/* A caller that sets the date itself (tests, replays) keeps
		 * it: two date headers would both be signed and sent. */
		if (!has_header(headers, nheaders, date_name)) {
			res->headers[res->nheaders].name = date_name;
			res->headers[res->nheaders++].value = res->date;
		}
	}
	if (blob && !has_header(headers, nheaders, "x-ms-version")) {
		res->headers[res->nheaders].name = "x-ms-version";
		res->headers[res->nheaders++].value = BM_BLOB_API_VERSION;
	}
	if (scheme == BM_SCHEME_BLOB_SAS && auth->sas_token)
		res->url = url_with_sas(url, auth->sas_token);
	else
		res->url = strdup(url);
	if (!res->url) {
		bm_error_set(err, BM_ERR_NOMEM, "cannot sign request: %s",
			     "out of memory");
		bm_auth_result_release(res);
		return -1;
	}
	if (scheme == BM_SCHEME_BLOB_KEY || scheme == BM_SCHEME_BATCH_KEY) {
		if (sign_shared_key(
			auth, method, url, headers, nheaders, content_length,
			scheme == BM_SCHEME_BATCH_KEY ? "ocp-" : "x-ms-", res,
			err) < 0) {
			free(res->url);
			res->url = NULL;
			return -1;
		}
	}
	return 0;
}

/* ---- service SAS --------------------------------------------------- */

/* Permission letters of a service SAS, in the order Azure requires. */
static const char sas_permission_order[] = "racwdxyltmeopi";

static bool permissions_valid(const char *p)
{
	const char *last = sas_permission_order, *at;

	if (!*p)
		return false;
	for (; *p; p++) {
		at = strchr(last, *p);
		if (!at)
			return false;
		last = at + 1;
	}
	return true;
}

/*
 * String to sign for a service SAS, version 2020-12-06 and later:
 * sp, st, se, canonicalized resource ("/blob/ACCOUNT/CONTAINER[/BLOB]",
 * the blob name unencoded), si, sip, spr, sv, sr, snapshot time,
 * encryption scope, rscc, rscd, rsce, rscl, rsct: sixteen lines.
 */
char *bm_auth_service_sas(const char *account, const unsigned char *key,
			  size_t key_len, const char *container,
			  const char *blob, const char *permissions,
			  time_t expiry, struct bm_error *err)
{
	const char *version = BM_BLOB_API_VERSION, *sr = blob ? "b" : "c";
	char se[32], sig[64], *sts = NULL, *enc_se = NULL, *enc_sig = NULL;
	char *token = NULL;
	struct tm tm;

	if (!account || !*account || !container || !*container ||
	    (blob && !*blob)) {
		bm_error_set(err, BM_ERR_INVALID,
			     "cannot make a SAS: account, container or blob "
			     "name is empty");
		return NULL;
	}
	if (!key || key_len == 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot make a SAS for '%s': a SAS needs the "
			     "account key",
			     container);
		return NULL;
	}
	if (!permissions || !permissions_valid(permissions)) {
		bm_error_set(err, BM_ERR_INVALID,
			     "cannot make a SAS for '%s': bad permissions '%s' "
			     "(letters of 'racwdxyltmeopi' in that order)",
			     container, permissions ? permissions : "");
		return NULL;
	}
	gmtime_r(&expiry, &tm);
	strftime(se, sizeof(se), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (asprintf(&sts,
		     "%s\n\n%s\n/blob/%s/%s%s%s\n\n\n\n%s\n%s\n\n\n\n\n\n\n",
		     permissions, se, account, container, blob ? "/" : "",
		     blob ? blob : "", version, sr) < 0) {
		sts = NULL;
		goto nomem;
	}
	if (bm_auth_hmac_b64(key, key_len, sts, sig, sizeof(sig)) < 0)
		goto nomem;
	enc_se = bm_url_encode_component(se);
	enc_sig = bm_url_encode_component(sig);
	if (!enc_se || !enc_sig ||
	    asprintf(&token, "sv=%s&sr=%s&sp=%s&se=%s&sig=%s", version, sr,
		     permissions, enc_se, enc_sig) < 0) {
		token = NULL;
		goto nomem;
	}
	goto out;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "cannot make a SAS for '%s': %s",
		     container, "out of memory");
out:
	explicit_bzero(sig, sizeof(sig));
	if (enc_sig)
		explicit_bzero(enc_sig, strlen(enc_sig));
	free(sts);
	free(enc_se);
	free(enc_sig);
	return token;
}
