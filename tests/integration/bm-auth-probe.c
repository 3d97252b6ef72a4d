/*
 * bm-auth-probe: proves bm_config, bm_url and bm_auth against a real Blob
 * service (Azurite), with plain libcurl and without blobmill's HTTP layer,
 * so a signing bug shows up here and not as a mystery in the client.
 * Run by t-auth-azurite.sh with the AZURE_STORAGE_* variables set.
 *
 * Each step prints "ok: ..." or "FAIL: ..." and the exit status is the
 * number of failed steps (0: all passed).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "bm_auth.h"
#include "bm_config.h"
#include "bm_url.h"

struct resp {
	long status;
	char body[65536];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = size * n, room = sizeof(r->body) - 1 - r->len;

	if (len > room)
		len = room;
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return size * n;
}

/*
 * One request: signs with auth (any scheme) and sends body (may be NULL).
 * extra: the request's own headers. Returns 0 when a response arrived.
 */
static int request(const struct bm_auth *auth, const char *method,
		   const char *url, const struct bm_http_header *extra,
		   size_t nextra, const char *body, struct resp *r)
{
	struct bm_auth_result res;
	struct bm_error err = {0};
	struct curl_slist *list = NULL;
	size_t blen = body ? strlen(body) : 0, i;
	char line[512];
	CURL *h;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (bm_auth_apply(auth, method, url, extra, nextra, blen, time(NULL),
			  &res, &err) < 0) {
		printf("FAIL: cannot sign: %s\n", err.msg);
		return -1;
	}
	h = curl_easy_init();
	for (i = 0; i < nextra; i++) {
		snprintf(line, sizeof(line), "%s: %s", extra[i].name,
			 extra[i].value);
		list = curl_slist_append(list, line);
	}
	for (i = 0; i < res.nheaders; i++) {
		snprintf(line, sizeof(line), "%s: %s", res.headers[i].name,
			 res.headers[i].value);
		list = curl_slist_append(list, line);
	}
	/* libcurl would add these on its own, unsigned (with POSTFIELDS a
	 * form Content-Type): suppress them. */
	list = curl_slist_append(list, "Expect:");
	list = curl_slist_append(list, "Accept:");
	for (i = 0; i < nextra; i++)
		if (strcasecmp(extra[i].name, "Content-Type") == 0)
			break;
	if (i == nextra)
		list = curl_slist_append(list, "Content-Type:");
	curl_easy_setopt(h, CURLOPT_URL, res.url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)blen);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (curl_easy_perform(h) == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		rc = 0;
	}
	curl_slist_free_all(list);
	curl_easy_cleanup(h);
	free(res.url);
	return rc;
}

static int failures;

static void expect(const char *what, long want, const struct resp *r)
{
	if (r->status == want) {
		printf("ok: %s (%ld)\n", what, r->status);
		return;
	}
	printf("FAIL: %s: expected %ld, got %ld: %.300s\n", what, want,
	       r->status, r->body);
	failures++;
}

int main(void)
{
	/* Every character class the integration list names. */
	static const char long_chars[] = "abc/ %#?+&'\"$()-_";
	char longname[1025];
	const char *names[] = {
	    "plain.txt",
	    "dir/sub dir/file with spaces.txt",
	    "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
	    "\xf0\x9f\x98\x80.txt",
	    "100% #hash ?q +plus &amp 'single' \"double\"",
	    "$(touch pwned) `x` ;|<>*",
	    "-leading-dash",
	    "dots/../up",
	    "dots/./here",
	    longname,
	};
	const struct bm_http_header put_headers[] = {
	    {"x-ms-blob-type", "BlockBlob"},
	    {"Content-Type", "text/plain"},
	};
	struct bm_config cfg;
	struct bm_error err = {0};
	struct bm_auth key_auth = {0}, sas_auth = {0}, bad_auth;
	unsigned char wrong_key[64];
	struct resp *r = malloc(sizeof(*r));
	char *url = NULL, *sas = NULL, *enc, query[4096], what[1200];
	size_t i;

	/* 1,024 characters, the longest name Azure allows. */
	for (i = 0; i < 1024; i++)
		longname[i] = long_chars[i % (sizeof(long_chars) - 1)];
	longname[1023] = 'z';
	longname[1024] = '\0';
	bm_config_init(&cfg);
	if (bm_config_load_env(&cfg, &err) < 0 ||
	    bm_config_finish(&cfg, false, &err) < 0) {
		printf("FAIL: configuration: %s\n", err.msg);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	key_auth.scheme = BM_SCHEME_BLOB_KEY;
	key_auth.account = cfg.account;
	key_auth.key = cfg.key;
	key_auth.key_len = cfg.key_len;

	url = bm_blob_url(cfg.endpoint, "probe", NULL, "restype=container");
	request(&key_auth, "PUT", url, NULL, 0, NULL, r);
	expect("create container with SharedKey", 201, r);
	free(url);

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		url = bm_blob_url(cfg.endpoint, "probe", names[i], NULL);
		request(&key_auth, "PUT", url, put_headers, 2, names[i], r);
		snprintf(what, sizeof(what), "put '%s'", names[i]);
		expect(what, 201, r);
		request(&key_auth, "GET", url, NULL, 0, NULL, r);
		snprintf(what, sizeof(what), "get '%s'", names[i]);
		expect(what, 200, r);
		if (strcmp(r->body, names[i]) != 0) {
			printf("FAIL: body of '%s' differs\n", names[i]);
			failures++;
		}
		free(url);

		/* A listing whose prefix is the name: query decoding. */
		enc = bm_url_encode_component(names[i]);
		snprintf(query, sizeof(query),
			 "restype=container&comp=list&prefix=%s&maxresults=2",
			 enc);
		free(enc);
		url = bm_blob_url(cfg.endpoint, "probe", NULL, query);
		request(&key_auth, "GET", url, NULL, 0, NULL, r);
		snprintf(what, sizeof(what), "list prefix '%s'", names[i]);
		expect(what, 200, r);
		free(url);

		/* A blob SAS made here, used by a client without the key. */
		sas = bm_auth_service_sas(cfg.account, cfg.key, cfg.key_len,
					  "probe", names[i], "r",
					  time(NULL) + 3600, &err);
		sas_auth.scheme = BM_SCHEME_BLOB_SAS;
		sas_auth.account = cfg.account;
		sas_auth.sas_token = sas;
		url = bm_blob_url(cfg.endpoint, "probe", names[i], NULL);
		request(&sas_auth, "GET", url, NULL, 0, NULL, r);
		snprintf(what, sizeof(what), "get '%s' with a blob SAS",
			 names[i]);
		expect(what, 200, r);
		/* Read-only: a write with it is refused. */
		request(&sas_auth, "PUT", url, put_headers, 2, "x", r);
		snprintf(what, sizeof(what), "put '%s' with a read-only SAS",
			 names[i]);
		expect(what, 403, r);
		free(url);
		free(sas);
	}

	/* A container SAS lists; a tampered one is refused. */
	sas = bm_auth_service_sas(cfg.account, cfg.key, cfg.key_len, "probe",
				  NULL, "rl", time(NULL) + 3600, &err);
	sas_auth.sas_token = sas;
	url = bm_blob_url(cfg.endpoint, "probe", NULL,
			  "restype=container&comp=list");
	request(&sas_auth, "GET", url, NULL, 0, NULL, r);
	expect("list with a container SAS", 200, r);
	if (!strstr(r->body, "-leading-dash")) {
		printf("FAIL: listing lacks '-leading-dash'\n");
		failures++;
	}
	strstr(sas, "sp=rl")[3] = 'w';
	request(&sas_auth, "GET", url, NULL, 0, NULL, r);
	expect("list with a tampered SAS", 403, r);
	free(sas);

	/* An expired SAS is refused. */
	sas = bm_auth_service_sas(cfg.account, cfg.key, cfg.key_len, "probe",
				  NULL, "rl", time(NULL) - 60, &err);
	sas_auth.sas_token = sas;
	request(&sas_auth, "GET", url, NULL, 0, NULL, r);
	expect("list with an expired SAS", 403, r);
	free(sas);

	/* The wrong key: 403 AuthenticationFailed. */
	bad_auth = key_auth;
	memcpy(wrong_key, cfg.key, sizeof(wrong_key));
	wrong_key[0] ^= 1;
	bad_auth.key = wrong_key;
	request(&bad_auth, "GET", url, NULL, 0, NULL, r);
	expect("list with a wrong key", 403, r);
	free(url);

	url = bm_blob_url(cfg.endpoint, "probe", NULL, "restype=container");
	request(&key_auth, "DELETE", url, NULL, 0, NULL, r);
	expect("delete container", 202, r);
	free(url);

	free(r);
	bm_config_release(&cfg);
	curl_global_cleanup();
	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
