/*
 * bm_listing: a streaming parser for the List Blobs XML response
 * (EnumerationResults). Fed in chunks as they arrive from the network; calls
 * back once per <Blob> and once per <BlobPrefix>; memory does not grow with
 * the number of entries. libxml2 push parser (SAX); no DTD, no entities,
 * no network access.
 */
#ifndef BM_LISTING_H
#define BM_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bm_error.h"

/* One listing entry. Pointers are valid only during the callback. */
struct bm_blob_entry {
	const char *name; /* full blob name (or prefix, ending in '/') */
	bool is_prefix;	  /* from <BlobPrefix> */
	uint64_t size;	  /* Content-Length */
	time_t mtime;	  /* Last-Modified (UTC) */
	const char *etag; /* "" when absent */
	const char *content_type; /* "" when absent */
	bool is_dir_marker;	  /* Metadata hdi_isfolder=true (blobfuse) */
};

/* Returns 0 to continue, nonzero to stop the listing (BM_ERR_ABORTED). */
typedef int (*bm_list_cb)(const struct bm_blob_entry *e, void *ud);

struct bm_listing_parser;

struct bm_listing_parser *bm_listing_parser_new(bm_list_cb cb, void *ud);
void bm_listing_parser_free(struct bm_listing_parser *p);

/* Feeds the next chunk. -1 with err set (BM_ERR_PROTOCOL) on bad XML,
 * BM_ERR_ABORTED when the callback stopped. */
int bm_listing_parser_feed(struct bm_listing_parser *p, const char *chunk,
			   size_t len, struct bm_error *err);

/* Ends the document. *next_marker gets the NextMarker (malloc()ed, the
 * caller frees it) or NULL when this was the last page. */
int bm_listing_parser_finish(struct bm_listing_parser *p, char **next_marker,
			     struct bm_error *err);

/* Parses "Fri, 26 Jun 2015 23:39:12 GMT"; -1 on error. */
int bm_parse_http_date(const char *s, time_t *out);

#endif
