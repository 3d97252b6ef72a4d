/*
 * bm-blob-diff: runs one scripted sequence of Blob operations against the
 * in-memory client and against the Azure client talking to Azurite, and
 * compares what a caller can observe: return codes, error categories,
 * listings (names, prefixes, sizes, directory markers, over every page
 * size), contents, and whether ETags changed. The in-memory client exists
 * so that the layers above can be unit-tested as if against Azure; this
 * is what keeps that promise honest.
 *
 * Prints one transcript line per step for each client and "DIFF:" lines
 * where they differ; exit status 1 on any difference.
 * Known, deliberate differences are skipped (see the comments at them).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_blob.h"

#define CONTAINER "diffc"

/* A transcript: one growing text per client. */
struct script {
	struct bm_blob_client *c;
	char *text;
	size_t len, cap;
	char etag[BM_ETAG_MAX]; /* of the last write, to see changes */
};

static void say(struct script *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(struct script *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->text + s->len, s->cap - s->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < s->cap - s->len)
			break;
		s->cap = s->cap * 2 + (size_t)n + 1;
		s->text = realloc(s->text, s->cap);
		if (!s->text)
			abort();
	}
	s->len += (size_t)n;
}

static void result(struct script *s, int rc, const struct bm_error *err)
{
	if (rc == 0)
		say(s, " -> ok\n");
	else
		say(s, " -> %s\n", bm_errc_str(err->code));
}

/* Like result, with the Azure error code of a 400 (InvalidBlockList,
 * InvalidBlobOrBlock: writers tell them apart). */
static void result_code(struct script *s, int rc, const struct bm_error *err)
{
	if (rc != 0 && err->http_status == 400)
		say(s, " (%s)", err->azure_code);
	result(s, rc, err);
}

/* Listing entries of one listing, sorted before they are shown. */
struct entries {
	char **line;
	size_t n;
};

static int on_entry(const struct bm_blob_entry *e, void *ud)
{
	struct entries *es = ud;
	char *l;

	if (asprintf(&l, "  %s%s size=%llu%s\n", e->name,
		     e->is_prefix ? " [prefix]" : "",
		     e->is_prefix ? 0ULL : (unsigned long long)e->size,
		     e->is_dir_marker ? " [dir]" : "") < 0)
		abort();
	es->line = realloc(es->line, (es->n + 1) * sizeof(*es->line));
	if (!es->line)
		abort();
	es->line[es->n++] = l;
	return 0;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Every page of a listing, page size `max`. Markers are opaque, so only
 * the number of pages and the entries are compared, and the entries
 * sorted: Azurite puts a page's BlobPrefix entries before its Blob
 * entries, Azure (and the memory client) keep name order; callers may not
 * rely on the order between the two kinds.
 */
static void list(struct script *s, const char *container, const char *prefix,
		 const char *delim, int max, bool meta)
{
	struct bm_list_opts o = {prefix, delim, NULL, max, meta};
	struct bm_error err = {0};
	struct entries es = {0};
	char *next = NULL;
	int pages = 0, rc;
	size_t i;

	say(s, "list prefix=%s delim=%s max=%d meta=%d\n",
	    prefix ? prefix : "-", delim ? delim : "-", max, meta);
	do {
		o.marker = next;
		rc = s->c->ops->list_page(s->c, container, &o, on_entry, &es,
					  &next, &err);
		free((char *)o.marker);
		pages++;
	} while (rc == 0 && next);
	if (es.n > 0)
		qsort(es.line, es.n, sizeof(*es.line), cmp_line);
	for (i = 0; i < es.n; i++) {
		say(s, "%s", es.line[i]);
		free(es.line[i]);
	}
	free(es.line);
	say(s, "  pages=%d", pages);
	result(s, rc, &err);
}

static void put(struct script *s, const char *name, const char *body,
		const struct bm_put_opts *o)
{
	struct bm_body b = {body, -1, 0, body ? strlen(body) : 0};
	struct bm_blob_info info;
	struct bm_error err = {0};
	int rc;

	rc = s->c->ops->put(s->c, CONTAINER, name, &b, o, &info, &err);
	say(s, "put '%s' (%zu bytes)%s%s", name, (size_t)b.len,
	    o && o->if_match ? " if-match" : "",
	    o && o->if_none_match_any ? " if-none-match" : "");
	if (rc == 0) {
		say(s, " size=%llu dir=%d etag-changed=%d",
		    (unsigned long long)info.size, info.is_dir_marker,
		    strcmp(info.etag, s->etag) != 0);
		snprintf(s->etag, sizeof(s->etag), "%s", info.etag);
	}
	result(s, rc, &err);
}

static int on_bytes(const void *p, size_t n, void *ud)
{
	struct script *s = ud;

	say(s, "%.*s", (int)n, (const char *)p);
	return 0;
}

static void get(struct script *s, const char *container, const char *name,
		uint64_t off, uint64_t len, const char *if_match)
{
	struct bm_get_opts o = {off, len, if_match};
	struct bm_error err = {0};
	int rc;

	say(s, "get '%s' off=%llu len=%llu%s: [", name, (unsigned long long)off,
	    (unsigned long long)len, if_match ? " if-match" : "");
	rc = s->c->ops->get(s->c, container, name, &o, on_bytes, s, NULL, &err);
	say(s, "]");
	result(s, rc, &err);
}

static void head(struct script *s, const char *container, const char *name)
{
	struct bm_blob_info info;
	struct bm_error err = {0};
	int rc = s->c->ops->head(s->c, container, name, &info, &err);

	say(s, "head '%s'", name);
	if (rc == 0)
		say(s, " size=%llu dir=%d etag-is-last=%d",
		    (unsigned long long)info.size, info.is_dir_marker,
		    strcmp(info.etag, s->etag) == 0);
	result(s, rc, &err);
}

static void block(struct script *s, const char *name, const char *id,
		  const char *body)
{
	struct bm_body b = {body, -1, 0, strlen(body)};
	struct bm_error err = {0};

	say(s, "put_block '%s' %s", name, id);
	result_code(
	    s, s->c->ops->put_block(s->c, CONTAINER, name, id, &b, &err), &err);
}

static void commit(struct script *s, const char *name, const char *const *ids,
		   size_t n, const struct bm_put_opts *o)
{
	struct bm_blob_info info;
	struct bm_error err = {0};
	int rc;

	rc = s->c->ops->put_block_list(s->c, CONTAINER, name, ids, n, o, &info,
				       &err);
	say(s, "put_block_list '%s' n=%zu%s%s", name, n,
	    o && o->if_match ? " if-match" : "",
	    o && o->if_none_match_any ? " if-none-match" : "");
	if (rc == 0) {
		say(s, " size=%llu etag-changed=%d",
		    (unsigned long long)info.size,
		    strcmp(info.etag, s->etag) != 0);
		snprintf(s->etag, sizeof(s->etag), "%s", info.etag);
	}
	result_code(s, rc, &err);
}

/* The script: the same calls, in the same order, for each client. */
static void run(struct script *s)
{
	static const char *const names[] = {
	    "a/1",
	    "a/2.txt",
	    "a/sub/deep/x",
	    "a.b",
	    "a0",
	    "b c/d e",
	    "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac",
	    "100% #?+&'\"",
	    "$(echo x)",
	    "-dash",
	    "dots/../up",
	    "dots/./here",
	    "Z",
	    "zz/",
	};
	const struct bm_metadata folder[] = {{"hdi_isfolder", "true"}};
	struct bm_put_opts dir = {NULL, folder, 1, NULL, false};
	struct bm_put_opts cond = {0};
	const char *ids[] = {"YmxrMDE=", "YmxrMDI=", "YmxrMDM="};
	const char *mixed[] = {"YmxrMDI=", "YmxrMDE=", "YmxrMDk="};
	/* Writers A and B: one id length ("wa-0" ...), different ids. */
	const char *wa[] = {"d2EtMA==", "d2EtMQ=="};
	const char *wb[] = {"d2ItMA==", "d2ItMQ=="};
	char tw_etag[BM_ETAG_MAX];
	struct bm_error err = {0};
	char stale[BM_ETAG_MAX], longname[1025];
	size_t i;
	int max;

	say(s, "create_container");
	result(s, s->c->ops->create_container(s->c, CONTAINER, &err), &err);
	bm_error_clear(&err);
	say(s, "create_container again");
	result(s, s->c->ops->create_container(s->c, CONTAINER, &err), &err);
	bm_error_clear(&err);
	say(s, "check_container missing");
	result(s, s->c->ops->check_container(s->c, "nosuchc", &err), &err);
	bm_error_clear(&err);
	say(s, "check_container");
	result(s, s->c->ops->check_container(s->c, CONTAINER, &err), &err);

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		put(s, names[i], names[i], NULL);
	put(s, "a/dir", NULL, &dir);
	put(s, "a", NULL, &dir);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		head(s, CONTAINER, names[i]);
	head(s, CONTAINER, "a");
	head(s, CONTAINER, "missing");
	head(s, "nosuchc", "a/1");

	for (max = 0; max <= 7; max += max < 3 ? 1 : 4) {
		list(s, CONTAINER, NULL, NULL, max, false);
		list(s, CONTAINER, NULL, "/", max, false);
		list(s, CONTAINER, "a/", "/", max, true);
	}
	list(s, CONTAINER, "a", "/", 0, true);
	list(s, CONTAINER, "a", NULL, 0, true);
	list(s, CONTAINER, "nothing-here", "/", 0, false);
	list(s, "nosuchc", NULL, NULL, 0, false);

	get(s, CONTAINER, "a/2.txt", 0, 0, NULL);
	get(s, CONTAINER, "a/2.txt", 2, 3, NULL);
	get(s, CONTAINER, "a/2.txt", 4, 100, NULL);
	/* Past the end of a non-empty blob. (At exactly the end, Azurite
	 * answers 206 and an empty body where Azure answers 416: skipped.) */
	get(s, CONTAINER, "a/2.txt", 8, 0, NULL);
	get(s, CONTAINER, "missing", 0, 0, NULL);
	get(s, "nosuchc", "a/1", 0, 0, NULL);
	get(s, CONTAINER, "a", 0, 0, NULL);

	/* Conditions. */
	put(s, "cond", "v1", NULL);
	snprintf(stale, sizeof(stale), "%s", s->etag);
	put(s, "cond", "v2", NULL);
	cond.if_none_match_any = true;
	put(s, "cond", "v3", &cond);
	put(s, "cond-new", "v1", &cond);
	cond.if_none_match_any = false;
	cond.if_match = stale;
	put(s, "cond", "v4", &cond);
	get(s, CONTAINER, "cond", 0, 0, stale);
	cond.if_match = s->etag;
	get(s, CONTAINER, "cond", 0, 0, s->etag);
	put(s, "cond", "v5", &cond);
	get(s, CONTAINER, "cond", 0, 0, NULL);
	/* Conditions on a blob that does not exist. */
	put(s, "cond-missing", "v1", &cond);
	get(s, CONTAINER, "cond-missing", 0, 0, s->etag);
	cond.if_match = NULL;
	cond.if_none_match_any = true;
	commit(s, "cond", NULL, 0, &cond);
	cond.if_none_match_any = false;

	/* The longest name, 1,024 characters. (Azurite also takes 1,025,
	 * which Azure refuses and the memory client refuses too.) */
	memset(longname, 'n', 1024);
	longname[1024] = '\0';
	put(s, longname, "x", NULL);
	head(s, CONTAINER, longname);

	/* Empty blobs: whole reads work, heads report 0. */
	put(s, "empty", "", NULL);
	head(s, CONTAINER, "empty");
	get(s, CONTAINER, "empty", 0, 0, NULL);
	get(s, CONTAINER, "empty", 0, 10, NULL);
	get(s, CONTAINER, "a/1", 0, 1, NULL);

	/* Blocks: invisible until committed, committed ones reusable. */
	block(s, "blocks", ids[0], "one,");
	block(s, "blocks", ids[1], "two,");
	block(s, "blocks", ids[2], "three");
	head(s, CONTAINER, "blocks");
	list(s, CONTAINER, "blocks", NULL, 0, false);
	commit(s, "blocks", ids, 3, NULL);
	get(s, CONTAINER, "blocks", 0, 0, NULL);
	commit(s, "blocks", mixed, 3, NULL);
	commit(s, "blocks", mixed, 2, NULL);
	get(s, CONTAINER, "blocks", 0, 0, NULL);
	commit(s, "empty-list", NULL, 0, NULL);
	head(s, CONTAINER, "empty-list");

	/* Two writers of one blob (the two-writer rule, bm_blob.h). A's
	 * blocks go up; an id of another length is refused while they are
	 * uncommitted; B's blocks (same length) go up and B commits, which
	 * discards A's: A's commit finds them gone. */
	block(s, "tw", wa[0], "A1,");
	block(s, "tw", "YQ==", "short id");
	block(s, "tw", wb[0], "B1,");
	block(s, "tw", wb[1], "B2");
	block(s, "tw", wa[1], "A2");
	commit(s, "tw", wb, 2, NULL);
	commit(s, "tw", wa, 2, NULL);
	get(s, CONTAINER, "tw", 0, 0, NULL);
	/* A commit naming committed blocks again, If-Match the ETag of the
	 * commit that made them: passes while the blob is unchanged, fails
	 * (412) once another writer has written it. */
	snprintf(tw_etag, sizeof(tw_etag), "%s", s->etag);
	cond.if_match = tw_etag;
	block(s, "tw", wb[1], "b2");
	commit(s, "tw", wb, 2, &cond);
	get(s, CONTAINER, "tw", 0, 0, NULL);
	snprintf(tw_etag, sizeof(tw_etag), "%s", s->etag);
	put(s, "tw", "another writer", NULL);
	block(s, "tw", wb[1], "B2");
	commit(s, "tw", wb, 2, &cond);
	get(s, CONTAINER, "tw", 0, 0, NULL);
	block(s, "tw", wa[0], "A1,");
	block(s, "tw", wa[1], "A2");
	commit(s, "tw", wa, 2, NULL);
	get(s, CONTAINER, "tw", 0, 0, NULL);
	/* The blob deleted meanwhile: If-Match fails as well. */
	snprintf(tw_etag, sizeof(tw_etag), "%s", s->etag);
	say(s, "remove tw");
	result(s, s->c->ops->remove(s->c, CONTAINER, "tw", &err), &err);
	bm_error_clear(&err);
	block(s, "tw", wb[0], "B1,");
	commit(s, "tw", wb, 1, &cond);
	cond.if_match = NULL;

	/* Copy and delete. */
	say(s, "copy");
	result(s, s->c->ops->copy(s->c, CONTAINER, "a/2.txt", "copied/2", &err),
	       &err);
	bm_error_clear(&err);
	get(s, CONTAINER, "copied/2", 0, 0, NULL);
	say(s, "copy missing");
	result(s, s->c->ops->copy(s->c, CONTAINER, "missing", "x", &err), &err);
	bm_error_clear(&err);
	say(s, "remove");
	result(s, s->c->ops->remove(s->c, CONTAINER, "a/2.txt", &err), &err);
	bm_error_clear(&err);
	say(s, "remove again");
	result(s, s->c->ops->remove(s->c, CONTAINER, "a/2.txt", &err), &err);
	bm_error_clear(&err);
	list(s, CONTAINER, "a/", "/", 0, false);

	say(s, "delete_container");
	result(s, s->c->ops->delete_container(s->c, CONTAINER, &err), &err);
	bm_error_clear(&err);
	list(s, CONTAINER, NULL, NULL, 0, false);
	put(s, "after", "x", NULL);
	say(s, "delete_container missing");
	result(s, s->c->ops->delete_container(s->c, "nosuchc", &err), &err);
}

/* Compares line by line; prints each difference. Returns the count. */
static int compare(const char *a, const char *b)
{
	int diffs = 0, line = 1;
	const char *ea, *eb;

	while (*a || *b) {
		ea = a + strcspn(a, "\n");
		eb = b + strcspn(b, "\n");
		if (ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)) != 0) {
			printf(
			    "DIFF line %d:\n  memory: %.*s\n  azure:  %.*s\n",
			    line, (int)(ea - a), a, (int)(eb - b), b);
			diffs++;
		}
		a = *ea ? ea + 1 : ea;
		b = *eb ? eb + 1 : eb;
		line++;
	}
	return diffs;
}

int main(void)
{
	struct script mem = {0}, az = {0};
	struct bm_http_options ho;
	struct bm_config cfg;
	struct bm_error err = {0};
	int diffs;

	bm_config_init(&cfg);
	if (bm_config_load_env(&cfg, &err) < 0 ||
	    bm_config_finish(&cfg, false, &err) < 0) {
		printf("FAIL: configuration: %s\n", err.msg);
		return 1;
	}
	bm_http_options_default(&ho);
	mem.c = bm_blob_client_new_memory();
	az.c = bm_blob_client_new_azure(&cfg, &ho, &err);
	if (!mem.c || !az.c) {
		printf("FAIL: cannot make the clients: %s\n", err.msg);
		return 1;
	}
	run(&mem);
	run(&az);
	fputs(mem.text, stdout);
	diffs = compare(mem.text, az.text);
	printf("%d differences\n", diffs);
	bm_blob_client_free(mem.c);
	bm_blob_client_free(az.c);
	bm_config_release(&cfg);
	free(mem.text);
	free(az.text);
	return diffs ? 1 : 0;
}
