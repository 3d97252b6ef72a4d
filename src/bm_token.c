/*
 * bm_token: Entra ID access tokens from a managed identity, a service
 * principal (secret, certificate, federated token) or the az CLI, cached
 * and refreshed before they expire (see bm_token.h). Running the az CLI
 * is bm_token_azcli.c's.
 *
 * Lock: t->lock guards the cache fields (token, times, refreshing, gen,
 * last_err); everything else is set by bm_token_new and read-only after.
 * A refresh runs without the lock held, by one thread at a time (the one
 * that set `refreshing`).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "bm_auth.h"
#include "bm_log.h"
#include "bm_token.h"
#include "bm_url.h"

enum source {
	SRC_IMDS,	      /* IMDS protocol: 169.254.169.254, msiEndpoint,
			       * MSI_ENDPOINT without MSI_SECRET */
	SRC_APP_SERVICE,      /* IDENTITY_ENDPOINT + IDENTITY_HEADER */
	SRC_APP_SERVICE_2017, /* MSI_ENDPOINT + MSI_SECRET */
	SRC_SPN_SECRET,
	SRC_SPN_CERT,
	SRC_WORKLOAD,
	SRC_AZCLI,
};

static const char *const source_names[] = {
    [SRC_IMDS] = "managed identity",
    [SRC_APP_SERVICE] = "managed identity (IDENTITY_ENDPOINT)",
    [SRC_APP_SERVICE_2017] = "managed identity (MSI_ENDPOINT)",
    [SRC_SPN_SECRET] = "service principal (client secret)",
    [SRC_SPN_CERT] = "service principal (certificate)",
    [SRC_WORKLOAD] = "workload identity (federated token)",
    [SRC_AZCLI] = "the az CLI",
};

/* Seconds before a failed refresh is tried again while the old token is
 * still good; a missing token is fetched at once. */
#define RETRY_AFTER_FAILURE_S 5
/* Token responses and federated token files are a few KiB. */
#define FILE_MAX (64 * 1024)

struct bm_token {
	enum source src;
	char *resource;
	char *url;		 /* token endpoint, without query */
	char *id_query;		 /* "&client_id=..." (managed identity) or "" */
	const char *header_name; /* secret header of App Service, or NULL */
	char *header_value;
	char *client_id;
	char *client_secret;
	char *federated_file;
	EVP_PKEY *pkey;
	char *x5t;
	struct bm_http *http;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *token;		  /* guarded by lock */
	time_t refresh_at;	  /* guarded by lock */
	time_t usable_until;	  /* guarded by lock */
	time_t next_try;	  /* guarded by lock */
	bool refreshing;	  /* guarded by lock */
	unsigned gen;		  /* guarded by lock: refreshes finished */
	struct bm_error last_err; /* guarded by lock */
};

const char *bm_token_source_name(const struct bm_token *t)
{
	return source_names[t->src];
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

time_t bm_token_refresh_at(time_t now, time_t expires_on)
{
	time_t life = expires_on - now;

	if (life <= 0)
		return now;
	return expires_on - (life / 2 < 300 ? life / 2 : 300);
}

/* ---- parsing responses ---------------------------------------------- */

/* A JSON number or a string of digits; -1 otherwise. */
static long long json_seconds(const json_t *v)
{
	const char *s;
	char *end;
	long long n;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	return n;
}

/* App Service 2017-09-01: "06/20/2019 02:57:58 +00:00" (UTC). */
static time_t parse_us_date(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%m/%d/%Y %H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, " +00:00") != 0))
		return -1;
	return timegm(&tm);
}

/* az CLI before 2.54: "2023-10-31 11:59:58.000000", local time. */
static time_t parse_local_date(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!end)
		return -1;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

int bm_token_parse_response(const char *body, time_t now, char **token,
			    time_t *expires_on, struct bm_error *err)
{
	json_t *root, *v;
	const char *tok = NULL;
	long long n;
	time_t exp = -1;
	int rc = -1;

	*token = NULL;
	root = json_loads(body, 0, NULL);
	if (!json_is_object(root)) {
		bm_error_set(err, BM_ERR_PROTOCOL,
			     "the token response is not a JSON object");
		goto out;
	}
	v = json_object_get(root, "access_token");
	if (!v)
		v = json_object_get(root, "accessToken");
	if (json_is_string(v))
		tok = json_string_value(v);
	if (!tok || !*tok) {
		bm_error_set(err, BM_ERR_PROTOCOL,
			     "the token response has no access_token");
		goto out;
	}
	if ((n = json_seconds(json_object_get(root, "expires_in"))) > 0)
		exp = now + (time_t)n;
	else if ((n = json_seconds(json_object_get(root, "expires_on"))) > 0)
		exp = (time_t)n;
	else if (json_is_string(v = json_object_get(root, "expires_on")))
		exp = parse_us_date(json_string_value(v));
	else if (json_is_string(v = json_object_get(root, "expiresOn")))
		exp = parse_local_date(json_string_value(v));
	if (exp <= 0) {
		bm_error_set(err, BM_ERR_PROTOCOL,
			     "the token response has no usable expires_in or "
			     "expires_on");
		goto out;
	}
	if (!(*token = strdup(tok))) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	*expires_on = exp;
	rc = 0;
out:
	/* jansson keeps its own copy of the token: wipe it before freeing. */
	if (tok)
		explicit_bzero((char *)tok, strlen(tok));
	json_decref(root);
	return rc;
}

/*
 * "STATUS ERROR: DESCRIPTION" from an OAuth error body ({"error",
 * "error_description"}, as IMDS and the authority send), first line only;
 * else the HTTP layer's message.
 */
static void oauth_reason(const struct bm_http_response *r,
			 const struct bm_error *herr, char *out, size_t cap)
{
	json_t *root = r->body ? json_loads(r->body, 0, NULL) : NULL;
	const char *code = NULL, *desc = NULL;

	if (json_is_object(root)) {
		code = json_string_value(json_object_get(root, "error"));
		desc = json_string_value(
		    json_object_get(root, "error_description"));
	}
	if (code || desc)
		snprintf(out, cap, "%ld %s%s%.*s", r->status, code ? code : "",
			 desc ? ": " : "",
			 desc ? (int)strcspn(desc, "\r\n") : 0,
			 desc ? desc : "");
	else
		snprintf(out, cap, "%s", herr->msg);
	json_decref(root);
}

/* ---- the HTTP sources ------------------------------------------------ */

static char *enc(const char *s)
{
	return bm_url_encode_component(s);
}

/* Appends "&name=encoded(value)" to *q. */
static int query_add(char **q, const char *name, const char *value)
{
	char *e = enc(value), *grown = NULL;

	if (!e || asprintf(&grown, "%s&%s=%s", *q ? *q : "", name, e) < 0)
		grown = NULL;
	free(e);
	if (!grown)
		return -1;
	wipe_free(*q);
	*q = grown;
	return 0;
}

/* base64url without padding (RFC 7515), malloc()ed. */
static char *b64url(const unsigned char *in, size_t len)
{
	char *s = bm_base64_encode(in, len), *p;

	if (!s)
		return NULL;
	for (p = s; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=') {
			*p = '\0';
			break;
		}
	}
	return s;
}

static char *b64url_json(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT), *out;

	if (!text)
		return NULL;
	out = b64url((const unsigned char *)text, strlen(text));
	free(text);
	return out;
}

/* The client assertion of a certificate credential: a JWT for the token
 * endpoint, signed RS256, valid ten minutes. malloc()ed. */
static char *make_assertion(const struct bm_token *t, time_t now)
{
	unsigned char jti[16], *sig = NULL;
	char jti_hex[33], *h = NULL, *p = NULL, *input = NULL, *s = NULL;
	char *out = NULL;
	json_t *hdr, *payload;
	EVP_MD_CTX *md = NULL;
	size_t siglen = 0;
	int i;

	if (RAND_bytes(jti, sizeof(jti)) != 1)
		return NULL;
	for (i = 0; i < 16; i++)
		snprintf(jti_hex + 2 * i, 3, "%02x", jti[i]);
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "x5t",
			t->x5t);
	payload = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud",
			    t->url, "iss", t->client_id, "sub", t->client_id,
			    "jti", jti_hex, "nbf", (json_int_t)now, "iat",
			    (json_int_t)now, "exp", (json_int_t)(now + 600));
	if (!hdr || !payload || !(h = b64url_json(hdr)) ||
	    !(p = b64url_json(payload)) ||
	    asprintf(&input, "%s.%s", h, p) < 0) {
		input = NULL;
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (!md ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, t->pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input,
			   strlen(input)) != 1 ||
	    !(sig = malloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input,
			   strlen(input)) != 1 ||
	    !(s = b64url(sig, siglen)) || asprintf(&out, "%s.%s", input, s) < 0)
		out = NULL;
out:
	EVP_MD_CTX_free(md);
	json_decref(hdr);
	json_decref(payload);
	free(h);
	free(p);
	free(input);
	free(sig);
	free(s);
	return out;
}

/* The federated token file's content, trimmed, malloc()ed. */
static char *read_assertion_file(const char *path, struct bm_error *err)
{
	char *buf = malloc(FILE_MAX + 1);
	size_t len = 0;
	ssize_t got;
	int fd;

	if (!buf) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot read federated token file '%s': %s", path,
			     strerror(errno));
		free(buf);
		return NULL;
	}
	while (len < FILE_MAX &&
	       ((got = read(fd, buf + len, FILE_MAX - len)) > 0 ||
		(got < 0 && errno == EINTR)))
		if (got > 0)
			len += (size_t)got;
	close(fd);
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "federated token file '%s' is empty", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* The request of one refresh: URL, headers, body. */
static int fetch_http(struct bm_token *t, time_t now, char **token,
		      time_t *expires_on, struct bm_error *err)
{
	struct bm_http_header hdrs[2];
	struct bm_http_request req;
	struct bm_http_response resp;
	struct bm_body body = {0};
	struct bm_error herr;
	char *url = NULL, *form = NULL, *assertion = NULL, *res = NULL;
	char reason[400];
	size_t nh = 0;
	int rc = -1;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	bm_error_clear(&herr);
	if (t->src == SRC_IMDS || t->src == SRC_APP_SERVICE ||
	    t->src == SRC_APP_SERVICE_2017) {
		res = enc(t->resource);
		if (!res || asprintf(&url, "%s%capi-version=%s&resource=%s%s",
				     t->url, strchr(t->url, '?') ? '&' : '?',
				     t->src == SRC_IMDS		 ? "2018-02-01"
				     : t->src == SRC_APP_SERVICE ? "2019-08-01"
								 : "2017-09-01",
				     res, t->id_query) < 0) {
			url = NULL;
			goto nomem;
		}
		if (t->src == SRC_IMDS)
			hdrs[nh++] =
			    (struct bm_http_header){"Metadata", "true"};
		else
			hdrs[nh++] = (struct bm_http_header){t->header_name,
							     t->header_value};
		req.method = "GET";
	} else {
		if (asprintf(&res, "%s%s.default", t->resource,
			     t->resource[strlen(t->resource) - 1] == '/'
				 ? ""
				 : "/") < 0) {
			res = NULL;
			goto nomem;
		}
		if (t->src == SRC_SPN_CERT)
			assertion = make_assertion(t, now);
		else if (t->src == SRC_WORKLOAD &&
			 !(assertion =
			       read_assertion_file(t->federated_file, err)))
			goto out;
		if ((t->src != SRC_SPN_SECRET && !assertion) ||
		    query_add(&form, "grant_type", "client_credentials") < 0 ||
		    query_add(&form, "client_id", t->client_id) < 0 ||
		    query_add(&form, "scope", res) < 0 ||
		    (t->src == SRC_SPN_SECRET &&
		     query_add(&form, "client_secret", t->client_secret) < 0) ||
		    (assertion &&
		     (query_add(&form, "client_assertion_type",
				"urn:ietf:params:oauth:client-assertion-type:"
				"jwt-bearer") < 0 ||
		      query_add(&form, "client_assertion", assertion) < 0)))
			goto nomem;
		hdrs[nh++] = (struct bm_http_header){
		    "Content-Type", "application/x-www-form-urlencoded"};
		body.buf = form + 1; /* past the first '&' */
		body.len = strlen(form + 1);
		req.body = &body;
		req.method = "POST";
	}
	req.op = BM_OP_OTHER;
	req.url = url ? url : t->url;
	req.headers = hdrs;
	req.nheaders = nh;
	/* Asking for a token again is harmless: retry it like a GET. */
	req.idempotent = true;
	if (bm_http_perform(t->http, &req, &resp, &herr) < 0) {
		if (resp.status)
			oauth_reason(&resp, &herr, reason, sizeof(reason));
		else
			snprintf(reason, sizeof(reason), "%s", herr.msg);
		/* No HTTP status in err: it is the token service's, and a
		 * caller must not take it for the storage service's. */
		bm_error_set(err,
			     resp.status == 400 || resp.status == 401 ||
				     resp.status == 403
				 ? BM_ERR_AUTH
				 : herr.code,
			     "%s", reason);
		goto out;
	}
	if (bm_token_parse_response(resp.body ? resp.body : "", now, token,
				    expires_on, err) < 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
out:
	if (resp.body)
		explicit_bzero(resp.body, resp.body_len);
	bm_http_response_release(&resp);
	free(url);
	free(res);
	wipe_free(form);
	wipe_free(assertion);
	return rc;
}

/* ---- the cache -------------------------------------------------------- */

static int fetch(struct bm_token *t, char **token, time_t *expires_on,
		 struct bm_error *err)
{
	time_t now = time(NULL);
	int rc;

	rc = t->src == SRC_AZCLI ? bm_token_fetch_azcli(t->resource, now, token,
							expires_on, err)
				 : fetch_http(t, now, token, expires_on, err);
	if (rc == 0 && *expires_on <= now) {
		bm_error_set(err, BM_ERR_AUTH, "the token has already expired");
		wipe_free(*token);
		*token = NULL;
		rc = -1;
	}
	if (rc < 0)
		bm_error_prefix(err, "cannot get a token for '%s' from %s",
				t->resource, source_names[t->src]);
	return rc;
}

static char *copy_token(const struct bm_token *t, struct bm_error *err)
{
	char *c = strdup(t->token);

	if (!c)
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	return c;
}

char *bm_token_get(struct bm_token *t, struct bm_error *err)
{
	struct bm_error ferr;
	char *fresh = NULL, *out = NULL;
	time_t now = time(NULL), exp = 0, margin;
	unsigned gen;
	int rc;

	pthread_mutex_lock(&t->lock);
	gen = t->gen;
	for (;;) {
		if (t->token && now < t->refresh_at)
			goto copy;
		/* Due for a refresh, but another thread is at it, or the
		 * last one failed moments ago: the old token still works. */
		if (t->token && now < t->usable_until &&
		    (t->refreshing || now < t->next_try))
			goto copy;
		if (!t->refreshing)
			break;
		pthread_cond_wait(&t->cond, &t->lock);
		now = time(NULL);
		/* The refresh we waited for failed and left nothing usable:
		 * its error is ours too, rather than one more attempt each. */
		if (t->gen != gen && !(t->token && now < t->usable_until) &&
		    t->last_err.code != BM_OK) {
			if (err && err->code == BM_OK)
				*err = t->last_err;
			goto unlock;
		}
	}
	t->refreshing = true;
	pthread_mutex_unlock(&t->lock);

	bm_error_clear(&ferr);
	rc = fetch(t, &fresh, &exp, &ferr);
	now = time(NULL);

	pthread_mutex_lock(&t->lock);
	t->refreshing = false;
	t->gen++;
	t->last_err = ferr;
	if (rc == 0) {
		wipe_free(t->token);
		t->token = fresh;
		t->refresh_at = bm_token_refresh_at(now, exp);
		margin = (exp - now) / 4 < 60 ? (exp - now) / 4 : 60;
		t->usable_until = exp - margin;
		bm_info("token: new token for '%s' from %s, valid %ld s",
			t->resource, source_names[t->src], (long)(exp - now));
	} else if (t->token && now < t->usable_until) {
		t->next_try = now + RETRY_AFTER_FAILURE_S;
		bm_warn("%s (the current token is valid %ld s more; retrying)",
			ferr.msg, (long)(t->usable_until - now));
	} else {
		pthread_cond_broadcast(&t->cond);
		if (err && err->code == BM_OK)
			*err = ferr;
		goto unlock;
	}
	pthread_cond_broadcast(&t->cond);
copy:
	out = copy_token(t, err);
unlock:
	pthread_mutex_unlock(&t->lock);
	return out;
}

void bm_token_invalidate(struct bm_token *t)
{
	pthread_mutex_lock(&t->lock);
	wipe_free(t->token);
	t->token = NULL;
	pthread_mutex_unlock(&t->lock);
}

/* ---- set-up ----------------------------------------------------------- */

/* The PEM file's private key and the x5t of its (first) certificate. */
static int load_certificate(struct bm_token *t, const char *path,
			    struct bm_error *err)
{
	unsigned char thumb[EVP_MAX_MD_SIZE];
	unsigned int tlen = 0;
	X509 *x = NULL;
	BIO *bio;
	int rc = -1;

	bio = BIO_new_file(path, "r");
	if (!bio) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot read certificate '%s': %s", path,
			     strerror(errno));
		return -1;
	}
	t->pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!t->pkey || EVP_PKEY_base_id(t->pkey) != EVP_PKEY_RSA) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "certificate file '%s' holds no unencrypted RSA "
			     "private key (PEM)",
			     path);
		goto out;
	}
	(void)BIO_reset(bio);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!x || X509_digest(x, EVP_sha1(), thumb, &tlen) != 1) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "certificate file '%s' holds no certificate (PEM)",
			     path);
		goto out;
	}
	if (!(t->x5t = b64url(thumb, tlen))) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	BIO_free(bio);
	return rc;
}

/* Which managed identity endpoint, and how a user-assigned identity is
 * named there: msiEndpoint, then IDENTITY_ENDPOINT, then MSI_ENDPOINT,
 * then IMDS, as the Azure SDKs look for them. */
static int setup_msi(struct bm_token *t, const struct bm_entra *e,
		     struct bm_error *err)
{
	const char *ie = getenv("IDENTITY_ENDPOINT"),
		   *ih = getenv("IDENTITY_HEADER"),
		   *me = getenv("MSI_ENDPOINT"), *ms = getenv("MSI_SECRET");
	const char *names[3] = {"client_id", "object_id", "msi_res_id"};
	const char *url = BM_IMDS_TOKEN_URL, *value;
	size_t which;

	t->src = SRC_IMDS;
	if (e->msi_endpoint) {
		url = e->msi_endpoint;
	} else if (ie && *ie && ih && *ih) {
		t->src = SRC_APP_SERVICE;
		url = ie;
		t->header_name = "X-IDENTITY-HEADER";
		t->header_value = strdup(ih);
		names[1] = "principal_id";
		names[2] = "mi_res_id";
	} else if (me && *me) {
		url = me;
		if (ms && *ms) {
			t->src = SRC_APP_SERVICE_2017;
			t->header_name = "secret";
			t->header_value = strdup(ms);
			names[0] = "clientid";
			names[1] = names[2] = NULL;
		}
	}
	if (t->header_name && !t->header_value)
		goto nomem;
	if (t->header_value)
		bm_redact_register(t->header_value);
	which = e->identity_client_id ? 0 : e->identity_object_id ? 1 : 2;
	value = which == 0   ? e->identity_client_id
		: which == 1 ? e->identity_object_id
			     : e->identity_resource_id;
	if (value && !names[which]) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "MSI_ENDPOINT with MSI_SECRET (App Service "
			     "2017-09-01) names a user-assigned identity only "
			     "by client id (identityClientId)");
		return -1;
	}
	if (!(t->url = strdup(url)))
		goto nomem;
	if (value ? query_add(&t->id_query, names[which], value) < 0
		  : !(t->id_query = strdup("")))
		goto nomem;
	return 0;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	return -1;
}

static int setup_spn(struct bm_token *t, const struct bm_entra *e,
		     struct bm_error *err)
{
	const char *host =
	    e->authority_host ? e->authority_host : BM_AUTHORITY_DEFAULT;
	size_t n = strlen(host);

	while (n > 0 && host[n - 1] == '/')
		n--;
	if (asprintf(&t->url, "%.*s/%s/oauth2/v2.0/token", (int)n, host,
		     e->tenant_id) < 0 ||
	    !(t->client_id = strdup(e->client_id)) ||
	    !(t->id_query = strdup(""))) {
		t->url = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (e->client_secret) {
		t->src = SRC_SPN_SECRET;
		if (!(t->client_secret = strdup(e->client_secret)))
			goto nomem;
		bm_redact_register(t->client_secret);
		return 0;
	}
	if (e->cert_path) {
		t->src = SRC_SPN_CERT;
		return load_certificate(t, e->cert_path, err);
	}
	t->src = SRC_WORKLOAD;
	if (!(t->federated_file = strdup(e->federated_token_file)))
		goto nomem;
	return 0;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	return -1;
}

struct bm_token *bm_token_new(const struct bm_config *cfg, const char *resource,
			      const struct bm_http_options *ho,
			      struct bm_error *err)
{
	struct bm_http_options o;
	struct bm_token *t = calloc(1, sizeof(*t));

	if (!t || !(t->resource = strdup(resource))) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	switch (cfg->auth_type) {
	case BM_AUTH_MSI:
		if (setup_msi(t, &cfg->entra, err) < 0)
			goto fail;
		break;
	case BM_AUTH_SPN:
		if (setup_spn(t, &cfg->entra, err) < 0)
			goto fail;
		break;
	case BM_AUTH_AZCLI:
		t->src = SRC_AZCLI;
		break;
	default:
		bm_error_set(err, BM_ERR_CONFIG,
			     "authType %s does not use Entra ID tokens",
			     bm_auth_type_name(cfg->auth_type));
		goto fail;
	}
	if (t->src != SRC_AZCLI) {
		o = *ho;
		o.max_handles = 2;
		if (!(t->http = bm_http_new(&o, err)))
			goto fail;
	}
	return t;
fail:
	bm_token_free(t);
	return NULL;
}

void bm_token_free(struct bm_token *t)
{
	if (!t)
		return;
	bm_http_free(t->http);
	wipe_free(t->token);
	wipe_free(t->client_secret);
	wipe_free(t->header_value);
	EVP_PKEY_free(t->pkey);
	free(t->x5t);
	free(t->federated_file);
	free(t->client_id);
	free(t->id_query);
	free(t->url);
	free(t->resource);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}
