/*
 * fuzz-listing: the streaming List Blobs parser (bm_listing) on arbitrary
 * bytes. The first byte sets the chunk size (1..255, 0 = all at once), so
 * tags, entities and UTF-8 sequences split across network reads are
 * covered; the second, after how many entries the callback stops the
 * listing (0 = never). Checks: every entry has a name, etag and
 * content_type that are strings; a failure sets a one-line error; a stop
 * requested by the callback is reported as BM_ERR_ABORTED.
 */
#include <stdlib.h>
#include <string.h>

#include "bm_listing.h"
#include "bm_log.h"
#include "fuzz.h"

struct listing_state {
	size_t entries;
	size_t stop_after; /* 0: never */
	size_t bytes;
};

static int on_entry(const struct bm_blob_entry *e, void *ud)
{
	struct listing_state *st = ud;

	if (!e->name || !e->etag || !e->content_type)
		abort();
	st->bytes +=
	    strlen(e->name) + strlen(e->etag) + strlen(e->content_type);
	st->entries++;
	return st->stop_after && st->entries >= st->stop_after;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bm_log_init("fuzz-listing", BM_LOG_OFF, false);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct listing_state st = {0};
	struct bm_listing_parser *p;
	struct bm_error err;
	char *marker = NULL;
	size_t step, off = 0;
	int rc = 0;

	if (size < 2)
		return 0;
	step = data[0] ? data[0] : size;
	st.stop_after = data[1];
	data += 2;
	size -= 2;
	bm_error_clear(&err);
	p = bm_listing_parser_new(on_entry, &st);
	if (!p)
		return 0;
	while (off < size && rc == 0) {
		size_t len = size - off < step ? size - off : step;

		rc = bm_listing_parser_feed(p, (const char *)data + off, len,
					    &err);
		off += len;
	}
	if (rc == 0)
		rc = bm_listing_parser_finish(p, &marker, &err);
	fuzz_check_error(rc, &err);
	if (rc != 0 && st.stop_after && st.entries >= st.stop_after &&
	    err.code != BM_ERR_ABORTED)
		abort();
	if (rc != 0 && marker)
		abort(); /* no marker handed out on failure */
	free(marker);
	bm_listing_parser_free(p);
	return 0;
}
