/*
 * bm_blob_azure_containers: the Azure client's listings and what is
 * addressed to a container or the account rather than a blob: List Blobs
 * (one page; a page broken mid-body is fetched again with the entries
 * already handed out skipped), Create/Delete Container, the container
 * check of a mount, and List Containers. The client object and the blob
 * operations are bm_blob_azure.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_blob_azure_impl.h"
#include "bm_log.h"
#include "bm_url.h"

/* ---- list ---- */

struct list_ctx {
	struct bm_listing_parser *parser;
	bm_list_cb cb;
	void *ud;
	uint64_t skip;	      /* entries handed out by an earlier attempt */
	uint64_t emitted;     /* entries handed out in total */
	uint64_t bytes;	      /* body bytes of this attempt */
	struct bm_error perr; /* the parser's or the callback's error */
};

static int list_entry(const struct bm_blob_entry *e, void *ud)
{
	struct list_ctx *lc = ud;

	if (lc->skip) {
		lc->skip--;
		return 0;
	}
	lc->emitted++;
	return lc->cb(e, lc->ud);
}

static int list_sink(const void *data, size_t len, void *ud)
{
	struct list_ctx *lc = ud;

	lc->bytes += len;
	return bm_listing_parser_feed(lc->parser, data, len, &lc->perr);
}

static char *list_query(const struct bm_list_opts *o, struct bm_error *err)
{
	char *prefix = NULL, *delim = NULL, *marker = NULL, *q = NULL;
	char max[32] = "";

	if ((o->prefix && *o->prefix &&
	     !(prefix = bm_url_encode_component(o->prefix))) ||
	    (o->delimiter && *o->delimiter &&
	     !(delim = bm_url_encode_component(o->delimiter))) ||
	    (o->marker && *o->marker &&
	     !(marker = bm_url_encode_component(o->marker))))
		goto out;
	if (o->max_results > 0)
		snprintf(max, sizeof(max), "&maxresults=%d", o->max_results);
	if (asprintf(&q, "restype=container&comp=list%s%s%s%s%s%s%s%s",
		     prefix ? "&prefix=" : "", prefix ? prefix : "",
		     delim ? "&delimiter=" : "", delim ? delim : "",
		     marker ? "&marker=" : "", marker ? marker : "", max,
		     o->include_metadata ? "&include=metadata" : "") < 0)
		q = NULL;
out:
	if (!q)
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	free(prefix);
	free(delim);
	free(marker);
	return q;
}

/* One page; errors unprefixed (the callers name the operation). */
static int list_page(struct azure *az, const char *container,
		     const struct bm_list_opts *o, bm_list_cb cb, void *ud,
		     char **next_marker, struct bm_error *err)
{
	struct list_ctx lc;
	struct bm_error herr;
	struct call call;
	char *query = NULL, what[128];
	long start = bm_az_mono_ms();
	unsigned seed = (unsigned)start;
	int attempt, rc = -1;

	*next_marker = NULL;
	memset(&lc, 0, sizeof(lc));
	lc.cb = cb;
	lc.ud = ud;
	bm_az_subject(container, o->prefix && *o->prefix ? o->prefix : NULL,
		      what, sizeof(what));
	if (bm_az_check_names(container, NULL, err) < 0)
		goto out;
	query = list_query(o, err);
	if (!query)
		goto out;
	call = (struct call){.method = "GET",
			     .op = BM_OP_LIST,
			     .container = container,
			     .query = query,
			     .sink = list_sink,
			     .sink_ud = &lc,
			     .idempotent = true};
	for (attempt = 1;; attempt++) {
		bm_listing_parser_free(lc.parser);
		lc.parser = bm_listing_parser_new(list_entry, &lc);
		if (!lc.parser) {
			bm_error_set(err, BM_ERR_NOMEM, "out of memory");
			goto out;
		}
		lc.skip = lc.emitted;
		lc.bytes = 0;
		bm_error_clear(&lc.perr);
		bm_error_clear(&herr);
		if (bm_az_perform(az, &call, NULL, &herr) == 0) {
			rc = bm_listing_parser_finish(lc.parser, next_marker,
						      err);
			break;
		}
		if (lc.perr.code != BM_OK) {
			/* The parser or the caller stopped the transfer. */
			bm_az_error_take(err, &lc.perr);
			break;
		}
		/* A page broken mid-body: fetch it again, skipping what the
		 * caller already has (the same marker gives the same page). */
		if (!bm_az_transport_failure(&herr) || lc.bytes == 0 ||
		    !bm_az_resume_wait(az, attempt, start, &seed)) {
			bm_az_error_take(err, &herr);
			break;
		}
		bm_info("cannot list '%s': %s; fetching the page again", what,
			herr.msg);
	}
out:
	bm_listing_parser_free(lc.parser);
	free(query);
	return rc;
}

int bm_az_list_page(struct bm_blob_client *c, const char *container,
		    const struct bm_list_opts *o, bm_list_cb cb, void *ud,
		    char **next_marker, struct bm_error *err)
{
	char what[128];
	int rc;

	rc = list_page(az_of(c), container, o, cb, ud, next_marker, err);
	if (rc < 0) {
		bm_az_subject(container,
			      o->prefix && *o->prefix ? o->prefix : NULL, what,
			      sizeof(what));
		bm_error_prefix(err, "cannot list '%s'", what);
	}
	return rc;
}

/* ---- containers ---- */

static int container_call(struct azure *az, const char *method,
			  const char *container, enum bm_errc lost_a,
			  enum bm_errc lost_b, struct bm_error *err)
{
	struct bm_http_response resp;
	struct bm_error herr;
	struct call call;
	int rc;

	memset(&resp, 0, sizeof(resp));
	bm_error_clear(&herr);
	call = (struct call){.method = method,
			     .op = BM_OP_CONTAINER,
			     .container = container,
			     .query = "restype=container",
			     .idempotent = true};
	rc = bm_az_perform(az, &call, &resp, &herr);
	if (rc < 0 && lost_a != BM_OK &&
	    bm_az_lost_success(&resp, &herr, lost_a, lost_b))
		rc = 0;
	if (rc < 0)
		bm_az_error_take(err, &herr);
	bm_http_response_release(&resp);
	return rc;
}

int bm_az_create_container(struct bm_blob_client *c, const char *container,
			   struct bm_error *err)
{
	int rc = -1;

	if (bm_az_check_container_name(container, err) == 0)
		rc = container_call(az_of(c), "PUT", container, BM_ERR_EXISTS,
				    BM_ERR_EXISTS, err);
	if (rc < 0)
		bm_error_prefix(err, "cannot create container '%.80s'",
				container ? container : "");
	return rc;
}

int bm_az_delete_container(struct bm_blob_client *c, const char *container,
			   struct bm_error *err)
{
	int rc = -1;

	if (bm_az_check_container_name(container, err) == 0)
		rc = container_call(az_of(c), "DELETE", container,
				    BM_ERR_NO_CONTAINER, BM_ERR_NOT_FOUND, err);
	if (rc < 0)
		bm_error_prefix(err, "cannot delete container '%.80s'",
				container ? container : "");
	return rc;
}

static int discard_entry(const struct bm_blob_entry *e, void *ud)
{
	return 0;
}

int bm_az_check_container(struct bm_blob_client *c, const char *container,
			  struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct bm_list_opts lo;
	char *marker = NULL;
	int rc = -1;

	if (bm_az_check_container_name(container, err) < 0)
		goto out;
	if (az->auth.scheme == BM_SCHEME_BLOB_KEY) {
		/* Get Container Properties: one request, no body. */
		rc = container_call(az, "GET", container, BM_OK, BM_OK, err);
		goto out;
	}
	/* A container SAS authorises List Blobs ('l') but not Get
	 * Container Properties: list one entry instead. */
	memset(&lo, 0, sizeof(lo));
	lo.max_results = 1;
	rc = list_page(az, container, &lo, discard_entry, NULL, &marker, err);
	free(marker);
out:
	if (rc < 0)
		bm_error_prefix(err, "cannot access container '%.80s'",
				container ? container : "");
	return rc;
}

/* ---- the account ---- */

struct containers_ctx {
	struct bm_listing_parser *parser;
	struct bm_error perr; /* the parser's or the callback's error */
};

static int containers_sink(const void *data, size_t len, void *ud)
{
	struct containers_ctx *cc = ud;

	return bm_listing_parser_feed(cc->parser, data, len, &cc->perr);
}

/* List Containers (GET ENDPOINT/?comp=list), page by page. The listing
 * parser reads it: <Container> entries carry <Name> and <Properties> as
 * <Blob> entries do. */
int bm_az_list_containers(struct bm_blob_client *c, const char *prefix,
			  bm_list_cb cb, void *ud, time_t *server_time,
			  struct bm_error *err)
{
	struct azure *az = az_of(c);
	struct containers_ctx cc;
	struct bm_http_response resp;
	char *marker = NULL, *query = NULL, *eprefix = NULL, *emarker = NULL;
	const char *date;
	struct call call;
	int rc = -1;

	if (server_time)
		*server_time = 0;
	memset(&cc, 0, sizeof(cc));
	if (prefix && *prefix && !(eprefix = bm_url_encode_component(prefix)))
		goto nomem;
	do {
		free(query);
		free(emarker);
		query = emarker = NULL;
		if (marker && !(emarker = bm_url_encode_component(marker)))
			goto nomem;
		if (asprintf(&query, "comp=list%s%s%s%s",
			     eprefix ? "&prefix=" : "", eprefix ? eprefix : "",
			     emarker ? "&marker=" : "",
			     emarker ? emarker : "") < 0) {
			query = NULL;
			goto nomem;
		}
		free(marker);
		marker = NULL;
		bm_listing_parser_free(cc.parser);
		cc.parser = bm_listing_parser_new(cb, ud);
		if (!cc.parser)
			goto nomem;
		bm_error_clear(&cc.perr);
		call = (struct call){.method = "GET",
				     .op = BM_OP_LIST,
				     .query = query,
				     .sink = containers_sink,
				     .sink_ud = &cc,
				     .idempotent = true};
		memset(&resp, 0, sizeof(resp));
		rc = bm_az_perform(az, &call, &resp, err);
		date = bm_http_response_header(&resp, "date");
		if (date && server_time)
			bm_parse_http_date(date, server_time);
		bm_http_response_release(&resp);
		if (rc < 0) {
			if (cc.perr.code != BM_OK) {
				bm_error_clear(err);
				*err = cc.perr;
			}
			goto out;
		}
		rc = bm_listing_parser_finish(cc.parser, &marker, err);
	} while (rc == 0 && marker);
	goto out;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	rc = -1;
out:
	if (rc < 0)
		bm_error_prefix(err, "cannot list containers");
	bm_listing_parser_free(cc.parser);
	free(marker);
	free(query);
	free(eprefix);
	free(emarker);
	return rc;
}
