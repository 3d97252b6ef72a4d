/*
 * batch_client: see batch_client.h. Every call builds a URL under the
 * account URL, sends one bm_http request (which retries what is safe) and
 * parses the JSON answer. Nothing here knows what a task template is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "batch.h"
#include "bm_auth.h"
#include "bm_log.h"
#include "bm_url.h"

#define BATCH_JSON_TYPE "application/json; odata=minimalmetadata"

struct batch_client {
	struct batch_account acct; /* owned copy */
	struct bm_auth auth;	   /* points into acct */
	struct bm_http *http;
	char *bearer; /* "Bearer TOKEN", or NULL */
};

/* ---- account ---------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* Reads the base64 key from a file, trailing white space removed.
 * malloc()ed; the caller wipes and frees it. */
static char *read_key_file(const char *path, struct bm_error *err)
{
	char buf[512];
	struct stat st;
	size_t n;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot read Batch key file '%s': %s", path,
			     strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		bm_warn("Batch key file '%s' is readable by group or others; "
			"chmod 600 it",
			path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
			 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (n == 0) {
		bm_error_set(err, BM_ERR_CONFIG, "Batch key file '%s' is empty",
			     path);
		return NULL;
	}
	return strdup(buf);
}

/* "https://acct.westeurope.batch.azure.com" -> "acct"; NULL otherwise. */
static char *name_from_host(const char *url)
{
	const char *host = strstr(url, "://"), *dot;

	if (!host)
		return NULL;
	host += 3;
	dot = strchr(host, '.');
	if (!dot || dot == host || !strstr(dot, ".batch.azure.com"))
		return NULL;
	return strndup(host, (size_t)(dot - host));
}

/* The URL as given, with https:// added when there is no scheme (the az
 * CLI accepts a bare host) and without trailing slashes. */
static char *normalize_url(const char *u, struct bm_error *err)
{
	char *out;
	size_t n;

	if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7)) {
		if (strstr(u, "://")) {
			bm_error_set(
			    err, BM_ERR_CONFIG,
			    "Batch account URL '%s' is not an http(s) URL", u);
			return NULL;
		}
		if (asprintf(&out, "https://%s", u) < 0)
			return NULL;
	} else {
		out = strdup(u);
	}
	if (!out)
		return NULL;
	n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
	return out;
}

bool batch_account_has_secret(const char *key_file)
{
	const char *k = getenv("AZURE_BATCH_ACCESS_KEY"),
		   *t = getenv("AZ_BATCH_AUTHENTICATION_TOKEN");

	return key_file || (k && *k) || (t && *t);
}

int batch_account_load(struct batch_account *a, const char *url,
		       const char *name, const char *key_file,
		       struct bm_token *entra, struct bm_error *err)
{
	const char *env_key = getenv("AZURE_BATCH_ACCESS_KEY");
	char *key_b64 = NULL;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (!url || !*url)
		url = getenv("AZURE_BATCH_ENDPOINT");
	if (!name || !*name)
		name = getenv("AZURE_BATCH_ACCOUNT");
	if (key_file)
		key_b64 = read_key_file(key_file, err);
	else if (env_key && *env_key)
		key_b64 = strdup(env_key);
	if (key_file && !key_b64)
		goto out;
	if (!key_b64) {
		/* On a Batch node a job manager task gets a token scoped to
		 * its job and the account URL: no key needed there. */
		const char *tok = getenv("AZ_BATCH_AUTHENTICATION_TOKEN");

		if (tok && *tok) {
			a->token = strdup(tok);
			if (!url || !*url)
				url = getenv("AZ_BATCH_ACCOUNT_URL");
		} else {
			a->entra = entra;
		}
	}
	if (!url || !*url) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "no Batch account URL: give --batch-url or set "
			     "AZURE_BATCH_ENDPOINT");
		goto out;
	}
	a->url = normalize_url(url, err);
	if (!a->url)
		goto out;
	a->name = name && *name ? strdup(name) : name_from_host(a->url);
	/* A bearer token signs nothing: the name is then only a label. */
	if (!a->name && (a->token || a->entra) && !key_b64)
		a->name = strdup("");
	if (!a->name) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "no Batch account name for '%s': give "
			     "--batch-account or set AZURE_BATCH_ACCOUNT",
			     a->url);
		goto out;
	}
	if (key_b64) {
		bm_redact_register(key_b64);
		if (bm_base64_decode(key_b64, &a->key, &a->key_len) < 0) {
			bm_error_set(
			    err, BM_ERR_CONFIG,
			    "the Batch account key of '%s' is not valid "
			    "base64",
			    a->name);
			goto out;
		}
	} else if (a->token) {
		bm_redact_register(a->token);
	} else if (a->entra) {
		if (strncasecmp(a->url, "https://", 8) != 0) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "refusing to send an Entra ID token over "
				     "plain HTTP to '%s': use the https Batch "
				     "account URL",
				     a->url);
			goto out;
		}
	} else {
		bm_error_set(
		    err, BM_ERR_CONFIG,
		    "no Batch account key for '%s': give "
		    "--batch-key-file, set AZURE_BATCH_ACCESS_KEY, or "
		    "sign in with Entra ID (authType MSI, SPN or AzCli, "
		    "or the AZURE_* variables)",
		    a->name);
		goto out;
	}
	rc = 0;
out:
	if (key_b64) {
		explicit_bzero(key_b64, strlen(key_b64));
		free(key_b64);
	}
	if (rc)
		batch_account_release(a);
	return rc;
}

void batch_account_release(struct batch_account *a)
{
	if (a->key)
		explicit_bzero(a->key, a->key_len);
	if (a->token)
		explicit_bzero(a->token, strlen(a->token));
	free(a->url);
	free(a->name);
	free(a->key);
	free(a->token);
	memset(a, 0, sizeof(*a));
}

/* ---- client ----------------------------------------------------------- */

struct batch_client *batch_client_new(const struct batch_account *a,
				      const struct bm_http_options *o,
				      struct bm_error *err)
{
	struct batch_client *c = calloc(1, sizeof(*c));

	if (!c)
		goto nomem;
	c->acct.url = strdup(a->url);
	c->acct.name = strdup(a->name);
	c->acct.token = dup_or_null(a->token);
	if (a->key) {
		c->acct.key = malloc(a->key_len);
		if (c->acct.key) {
			memcpy(c->acct.key, a->key, a->key_len);
			c->acct.key_len = a->key_len;
		}
	}
	if (!c->acct.url || !c->acct.name || (a->token && !c->acct.token) ||
	    (a->key && !c->acct.key))
		goto nomem;
	if (c->acct.token &&
	    asprintf(&c->bearer, "Bearer %s", c->acct.token) < 0) {
		c->bearer = NULL;
		goto nomem;
	}
	c->acct.entra = a->entra;
	c->auth.scheme =
	    a->entra ? BM_SCHEME_BATCH_BEARER : BM_SCHEME_BATCH_KEY;
	c->auth.token = a->entra;
	c->auth.account = c->acct.name;
	c->auth.key = c->acct.key;
	c->auth.key_len = c->acct.key_len;
	c->http = bm_http_new(o, err);
	if (!c->http)
		goto fail;
	return c;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
fail:
	batch_client_free(c);
	return NULL;
}

void batch_client_free(struct batch_client *c)
{
	if (!c)
		return;
	bm_http_free(c->http);
	if (c->bearer)
		explicit_bzero(c->bearer, strlen(c->bearer));
	free(c->bearer);
	batch_account_release(&c->acct);
	free(c);
}

void batch_client_stats(struct batch_client *c, struct bm_http_stats *out)
{
	bm_http_get_stats(c->http, out);
}

/* ---- errors ----------------------------------------------------------- */

/* The first line of a Batch error message: the rest is RequestId/Time. */
static void first_line(char *dst, size_t cap, const char *s)
{
	size_t n = strcspn(s, "\r\n");

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* "; KEY: VALUE" for each of the error's "values" (property name and
 * reason of a 400 say which field the service rejected). */
static void append_values(char *dst, size_t cap, json_t *values)
{
	size_t i, len;
	json_t *v;

	json_array_foreach(values, i, v)
	{
		const char *k = json_string_value(json_object_get(v, "key"));
		const char *val =
		    json_string_value(json_object_get(v, "value"));
		char line[160];

		/* The MAC details repeat the signature: never show them. */
		if (!k || !val || strstr(k, "AuthenticationErrorDetail"))
			continue;
		first_line(line, sizeof(line), val);
		len = strlen(dst);
		if (len + 1 < cap)
			snprintf(dst + len, cap - len, "; %s: %s", k, line);
	}
}

/*
 * bm_http already put the category, status, the service's code and the
 * first line of its message into herr. For Batch, the body's "values"
 * often say which property was wrong and why: add them inside the
 * parentheses, "... (400 InvalidPropertyValue: MSG; PropertyName: id)".
 */
static void batch_error_from_response(struct bm_error *err,
				      const struct bm_error *herr,
				      const struct bm_http_response *resp)
{
	char msg[sizeof(herr->msg)];
	json_t *root = NULL, *e;
	size_t n;

	if (!err || err->code != BM_OK)
		return;
	if (herr->code == BM_OK) {
		bm_error_set_http(err, BM_ERR_HTTP, resp->status, NULL,
				  "unexpected HTTP status %ld", resp->status);
		return;
	}
	*err = *herr;
	if (resp->body && resp->body_len)
		root = json_loadb(resp->body, resp->body_len, 0, NULL);
	e = json_object_get(root, "odata.error");
	if (!e)
		e = root;
	snprintf(msg, sizeof(msg), "%s", herr->msg);
	n = strlen(msg);
	if (json_is_array(json_object_get(e, "values")) && n > 0 &&
	    msg[n - 1] == ')') {
		msg[n - 1] = '\0';
		append_values(msg, sizeof(msg) - 1,
			      json_object_get(e, "values"));
		strcat(msg, ")");
		bm_error_clear(err);
		bm_error_set_http(err, herr->code, herr->http_status,
				  herr->azure_code, "%s", msg);
	}
	json_decref(root);
}

/* ---- requests --------------------------------------------------------- */

/*
 * BASE + path + "?api-version=V" + extra ("&..."; already encoded).
 * malloc()ed; the caller frees it.
 */
static char *batch_url(const struct batch_client *c, const char *path,
		       const char *extra)
{
	char *u;

	if (asprintf(&u, "%s%s?api-version=%s%s", c->acct.url, path,
		     BM_BATCH_API_VERSION, extra ? extra : "") < 0)
		return NULL;
	return u;
}

/*
 * One request. body (may be NULL) is JSON text of len bytes; *out (may be
 * NULL) receives the parsed response body when there is one.
 */
static int batch_send(struct batch_client *c, const char *method,
		      const char *url, const char *body, size_t len,
		      bool idempotent, json_t **out, long *retry_after_ms,
		      struct bm_error *err)
{
	struct bm_http_header hdr[3];
	struct bm_http_response resp = {0};
	struct bm_http_request req = {0};
	struct bm_body b = {.buf = body, .fd = -1, .len = len};
	struct bm_error herr;
	size_t nh = 0;
	int rc = -1;

	bm_error_clear(&herr);
	if (out)
		*out = NULL;
	if (retry_after_ms)
		*retry_after_ms = -1;
	hdr[nh++] = (struct bm_http_header){"Accept", "application/json"};
	if (body)
		hdr[nh++] =
		    (struct bm_http_header){"Content-Type", BATCH_JSON_TYPE};
	if (c->bearer)
		hdr[nh++] = (struct bm_http_header){"Authorization", c->bearer};
	req.method = method;
	req.op = BM_OP_BATCH;
	req.url = url;
	req.headers = hdr;
	req.nheaders = nh;
	req.body = body ? &b : NULL;
	req.auth = c->bearer ? NULL : &c->auth;
	req.idempotent = idempotent;
	if (bm_http_perform(c->http, &req, &resp, &herr) < 0 ||
	    resp.status < 200 || resp.status > 299) {
		if (retry_after_ms) {
			const char *ra =
			    bm_http_response_header(&resp, "retry-after");

			*retry_after_ms =
			    ra ? bm_retry_after_ms(ra, time(NULL)) : -1;
		}
		batch_error_from_response(err, &herr, &resp);
		goto out;
	}
	if (out && resp.body_len) {
		json_error_t jerr;

		*out = json_loadb(resp.body, resp.body_len, 0, &jerr);
		if (!*out) {
			bm_error_set(
			    err, BM_ERR_PROTOCOL,
			    "malformed JSON from the Batch service: %s",
			    jerr.text);
			goto out;
		}
	}
	rc = 0;
out:
	bm_http_response_release(&resp);
	return rc;
}

/* "/SEG1/ENC(ID)" + tail; malloc()ed, the caller frees it. */
static char *id_path(const char *seg, const char *id, const char *tail)
{
	char *enc = bm_url_encode_component(id), *p = NULL;

	if (enc && asprintf(&p, "/%s/%s%s", seg, enc, tail ? tail : "") < 0)
		p = NULL;
	free(enc);
	return p;
}

/* "&$select=..." and "&$filter=..." as needed; malloc()ed. */
static char *odata_query(const char *select, const char *filter)
{
	char *s = select ? bm_url_encode_component(select) : NULL;
	char *f = filter ? bm_url_encode_component(filter) : NULL;
	char *q = NULL;

	if ((!select || s) && (!filter || f) &&
	    asprintf(&q, "%s%s%s%s", s ? "&$select=" : "", s ? s : "",
		     f ? "&$filter=" : "", f ? f : "") < 0)
		q = NULL;
	free(s);
	free(f);
	return q;
}

/* GET /SEG/ID[TAIL] with an optional $select. */
static int get_object(struct batch_client *c, const char *seg, const char *id,
		      const char *tail, const char *select, json_t **out,
		      long *retry_after_ms, struct bm_error *err)
{
	char *path = id_path(seg, id, tail), *q = odata_query(select, NULL);
	char *url = path && q ? batch_url(c, path, q) : NULL;
	json_t *obj = NULL;
	int rc = -1;

	if (!url) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (batch_send(c, "GET", url, NULL, 0, true, &obj, retry_after_ms,
		       err) < 0)
		goto out;
	if (!json_is_object(obj)) {
		bm_error_set(err, BM_ERR_PROTOCOL,
			     "the Batch service sent no object for %s '%s'",
			     seg, id);
		goto out;
	}
	rc = 0;
	if (out) {
		*out = obj;
		obj = NULL;
	}
out:
	json_decref(obj);
	free(url);
	free(q);
	free(path);
	return rc;
}

/* Sends a JSON document with POST or PATCH; the reply body is ignored. */
static int send_json(struct batch_client *c, const char *method,
		     const char *path, const json_t *doc, bool idempotent,
		     struct bm_error *err)
{
	char *url = batch_url(c, path, NULL);
	char *body = json_dumps(doc, JSON_COMPACT);
	int rc = -1;

	if (!url || !body) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = batch_send(c, method, url, body, strlen(body), idempotent, NULL,
			NULL, err);
out:
	free(body);
	free(url);
	return rc;
}

int batch_pool_get(struct batch_client *c, const char *pool_id,
		   const char *select, json_t **out, struct bm_error *err)
{
	return get_object(c, "pools", pool_id, NULL, select, out, NULL, err);
}

int batch_job_add(struct batch_client *c, const json_t *job,
		  struct bm_error *err)
{
	/* Not repeated by bm_http: a retry after a lost reply would fail
	 * with JobExists; the caller handles JobExists itself. */
	return send_json(c, "POST", "/jobs", job, false, err);
}

int batch_job_get(struct batch_client *c, const char *job_id,
		  const char *select, json_t **out, struct bm_error *err)
{
	return get_object(c, "jobs", job_id, NULL, select, out, NULL, err);
}

int batch_job_patch(struct batch_client *c, const char *job_id,
		    const json_t *patch, struct bm_error *err)
{
	char *path = id_path("jobs", job_id, NULL);
	int rc;

	if (!path) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	/* Setting the same properties twice has the same effect: safe to
	 * repeat. */
	rc = send_json(c, "PATCH", path, patch, true, err);
	free(path);
	return rc;
}

static long count_field(json_t *o, const char *name)
{
	return (long)json_integer_value(json_object_get(o, name));
}

int batch_job_task_counts(struct batch_client *c, const char *job_id,
			  struct batch_task_counts *out, long *retry_after_ms,
			  struct bm_error *err)
{
	json_t *obj = NULL, *tc;

	if (get_object(c, "jobs", job_id, "/taskcounts", NULL, &obj,
		       retry_after_ms, err) < 0)
		return -1;
	/* 2024-07-01: {"taskCounts": {...}, "taskSlotCounts": {...}} */
	tc = json_object_get(obj, "taskCounts");
	if (!tc)
		tc = obj;
	out->active = count_field(tc, "active");
	out->running = count_field(tc, "running");
	out->completed = count_field(tc, "completed");
	out->succeeded = count_field(tc, "succeeded");
	out->failed = count_field(tc, "failed");
	json_decref(obj);
	return 0;
}

int batch_task_add_collection(struct batch_client *c, const char *job_id,
			      const char *body, size_t len, json_t **result,
			      struct bm_error *err)
{
	char *path = id_path("jobs", job_id, "/addtaskcollection");
	char *url = path ? batch_url(c, path, NULL) : NULL;
	json_t *doc = NULL, *value;
	int rc = -1;

	*result = NULL;
	if (!url) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* Safe to repeat: a task added by an attempt whose reply was lost
	 * comes back as TaskExists, never twice. */
	if (batch_send(c, "POST", url, body, len, true, &doc, NULL, err) < 0)
		goto out;
	value = json_object_get(doc, "value");
	if (!json_is_array(value)) {
		bm_error_set(err, BM_ERR_PROTOCOL,
			     "the Batch service's reply to addtaskcollection "
			     "for job '%s' has no result list",
			     job_id);
		goto out;
	}
	*result = json_incref(value);
	rc = 0;
out:
	json_decref(doc);
	free(url);
	free(path);
	return rc;
}

/* A nextLink must point into our account: the request carries our
 * credentials, so never follow one elsewhere. */
static bool same_origin(const struct batch_client *c, const char *link)
{
	size_t n = strlen(c->acct.url);

	return !strncmp(link, c->acct.url, n) && link[n] == '/';
}

int batch_task_list(struct batch_client *c, const char *job_id,
		    const char *select, const char *filter, batch_item_fn cb,
		    void *ud, struct bm_error *err)
{
	char *path = id_path("jobs", job_id, "/tasks");
	char *q = odata_query(select, filter);
	char *url = path && q ? batch_url(c, path, q) : NULL;
	json_t *page = NULL;
	int rc = -1;

	if (!url) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	while (url) {
		json_t *items, *item;
		const char *next;
		size_t i;

		if (batch_send(c, "GET", url, NULL, 0, true, &page, NULL, err) <
		    0)
			goto out;
		items = json_object_get(page, "value");
		if (!json_is_array(items)) {
			bm_error_set(err, BM_ERR_PROTOCOL,
				     "the Batch service's task list of job "
				     "'%s' has no value array",
				     job_id);
			goto out;
		}
		json_array_foreach(items, i, item)
		{
			if (cb(item, ud)) {
				bm_error_set(err, BM_ERR_ABORTED,
					     "task listing of job '%s' stopped",
					     job_id);
				goto out;
			}
		}
		free(url);
		url = NULL;
		next =
		    json_string_value(json_object_get(page, "odata.nextLink"));
		if (next) {
			if (!same_origin(c, next)) {
				bm_error_set(err, BM_ERR_PROTOCOL,
					     "the Batch service's next page "
					     "link leaves the account URL '%s'",
					     c->acct.url);
				goto out;
			}
			/* The link carries its own query; the api-version
			 * too on the real service, else add it. */
			if (strstr(next, "api-version="))
				url = strdup(next);
			else if (asprintf(&url, "%s%capi-version=%s", next,
					  strchr(next, '?') ? '&' : '?',
					  BM_BATCH_API_VERSION) < 0)
				url = NULL;
			if (!url) {
				bm_error_set(err, BM_ERR_NOMEM,
					     "out of memory");
				goto out;
			}
		}
		json_decref(page);
		page = NULL;
	}
	rc = 0;
out:
	json_decref(page);
	free(url);
	free(q);
	free(path);
	return rc;
}

int batch_job_schedule_add(struct batch_client *c, const json_t *schedule,
			   struct bm_error *err)
{
	return send_json(c, "POST", "/jobschedules", schedule, false, err);
}
