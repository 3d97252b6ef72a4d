/*
 * bm_listing: the List Blobs response (EnumerationResults) parsed as a
 * stream with libxml2's SAX2 push parser. The parser keeps one entry's
 * fields and the text of the element being read; nothing else grows, so a
 * page of 5,000 entries costs the same memory as a page of one.
 *
 * Hardening: no DTD is accepted (a DOCTYPE is an error), no entity is
 * declared or loaded (only XML's five predefined ones and character
 * references are expanded), no network access, and text longer than
 * BM_LISTING_TEXT_MAX is an error rather than an allocation.
 *
 * Not done here: paging (bm_blob_list_all), HTTP (bm_blob_azure).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "bm_listing.h"
#include "bm_url.h"

/* A blob name is at most 1,024 characters (4 KiB of UTF-8, 12 KiB when
 * percent-encoded); no field of a listing is legitimately longer. */
#define BM_LISTING_TEXT_MAX (64 * 1024)

/* Where in the document the parser is; depth counts from the root. */
enum field {
	F_NONE = 0,
	F_NAME,
	F_LENGTH,
	F_MTIME,
	F_ETAG,
	F_CTYPE,
	F_ISFOLDER,
	F_NEXT_MARKER,
};

struct bm_listing_parser {
	xmlParserCtxtPtr ctxt;
	bm_list_cb cb;
	void *ud;

	int depth;	   /* current element depth, root = 1 */
	bool root_seen;	   /* the root was <EnumerationResults> */
	bool in_entry;	   /* inside <Blob> or <BlobPrefix> (depth 3) */
	bool in_props;	   /* inside <Properties> of an entry */
	bool in_meta;	   /* inside <Metadata> of an entry */
	enum field field;  /* the element whose text is being collected */
	bool name_encoded; /* <Name Encoded="true"> */

	/* Text of the current field; reused, grows to the longest field. */
	char *text;
	size_t text_len, text_cap;

	/* The entry being built (fields owned here, freed per entry). */
	struct bm_blob_entry entry;
	char *name, *etag, *ctype;
	bool have_name;

	char *next_marker;

	bool failed; /* parse error or callback stop */
	enum bm_errc fail_code;
	char fail_msg[256];
};

static void fail(struct bm_listing_parser *p, enum bm_errc code,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(struct bm_listing_parser *p, enum bm_errc code,
		 const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->fail_code = code;
	va_start(ap, fmt);
	vsnprintf(p->fail_msg, sizeof(p->fail_msg), fmt, ap);
	va_end(ap);
	xmlStopParser(p->ctxt);
}

static void entry_reset(struct bm_listing_parser *p)
{
	free(p->name);
	free(p->etag);
	free(p->ctype);
	p->name = p->etag = p->ctype = NULL;
	p->have_name = false;
	memset(&p->entry, 0, sizeof(p->entry));
}

/* Moves the collected text out as a malloc()ed string. */
static char *text_take(struct bm_listing_parser *p)
{
	char *s = malloc(p->text_len + 1);

	if (!s) {
		fail(p, BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (p->text_len)
		memcpy(s, p->text, p->text_len);
	s[p->text_len] = '\0';
	return s;
}

static bool is(const xmlChar *name, const char *want)
{
	return strcmp((const char *)name, want) == 0;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		     const xmlChar *uri, int nb_namespaces,
		     const xmlChar **namespaces, int nb_attributes,
		     int nb_defaulted, const xmlChar **attributes)
{
	struct bm_listing_parser *p = ctx;
	int i;

	if (p->failed)
		return;
	p->depth++;
	p->field = F_NONE;
	p->text_len = 0;
	if (p->depth == 1) {
		if (!is(localname, "EnumerationResults"))
			fail(p, BM_ERR_PROTOCOL,
			     "unexpected root element '%.40s' in listing",
			     (const char *)localname);
		p->root_seen = true;
		return;
	}
	if (p->depth == 2) {
		if (is(localname, "NextMarker"))
			p->field = F_NEXT_MARKER;
		return;
	}
	if (p->depth == 3) {
		/* Entries sit in <Blobs> (List Blobs) or <Containers> (List
		 * Containers: same <Name> and <Properties>, no length). */
		if (is(localname, "Blob") || is(localname, "BlobPrefix") ||
		    is(localname, "Container")) {
			entry_reset(p);
			p->in_entry = true;
			p->entry.is_prefix = is(localname, "BlobPrefix");
		}
		return;
	}
	if (!p->in_entry)
		return;
	if (p->depth == 4) {
		if (is(localname, "Name")) {
			p->field = F_NAME;
			p->name_encoded = false;
			/* attributes: (localname, prefix, URI, value, end) */
			for (i = 0; i < nb_attributes; i++) {
				const xmlChar **a = attributes + 5 * i;
				size_t n = (size_t)(a[4] - a[3]);

				if (is(a[0], "Encoded") && n == 4 &&
				    memcmp(a[3], "true", 4) == 0)
					p->name_encoded = true;
			}
		} else if (is(localname, "Properties")) {
			p->in_props = true;
		} else if (is(localname, "Metadata")) {
			p->in_meta = true;
		}
		return;
	}
	if (p->depth == 5 && p->in_props) {
		if (is(localname, "Content-Length"))
			p->field = F_LENGTH;
		else if (is(localname, "Last-Modified"))
			p->field = F_MTIME;
		else if (is(localname, "Etag"))
			p->field = F_ETAG;
		else if (is(localname, "Content-Type"))
			p->field = F_CTYPE;
	} else if (p->depth == 5 && p->in_meta) {
		/* Metadata names are case-insensitive in Azure. */
		if (strcasecmp((const char *)localname, "hdi_isfolder") == 0)
			p->field = F_ISFOLDER;
	}
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
	struct bm_listing_parser *p = ctx;
	size_t need;
	char *grown;

	if (p->failed || p->field == F_NONE || len <= 0)
		return;
	need = p->text_len + (size_t)len + 1;
	if (need > BM_LISTING_TEXT_MAX) {
		fail(p, BM_ERR_PROTOCOL, "listing field longer than %d bytes",
		     BM_LISTING_TEXT_MAX);
		return;
	}
	if (need > p->text_cap) {
		size_t cap = p->text_cap ? p->text_cap : 256;

		while (cap < need)
			cap *= 2;
		grown = realloc(p->text, cap);
		if (!grown) {
			fail(p, BM_ERR_NOMEM, "out of memory");
			return;
		}
		p->text = grown;
		p->text_cap = cap;
	}
	memcpy(p->text + p->text_len, ch, (size_t)len);
	p->text_len += (size_t)len;
	p->text[p->text_len] = '\0';
}

static void set_name(struct bm_listing_parser *p)
{
	char *raw = text_take(p);

	if (!raw)
		return;
	if (p->name_encoded) {
		/* Names holding characters XML cannot carry come
		 * percent-encoded with Encoded="true". */
		p->name = bm_url_decode(raw);
		free(raw);
		if (!p->name) {
			fail(p, BM_ERR_PROTOCOL, "bad encoded blob name");
			return;
		}
	} else {
		p->name = raw;
	}
	p->have_name = true;
}

/* Listings give the ETag bare (0x8D...), headers give it quoted; entries
 * carry the quoted form so callers can compare and send either. */
static void set_etag(struct bm_listing_parser *p)
{
	if (p->text_len && p->text[0] == '"') {
		p->etag = text_take(p);
		return;
	}
	p->etag = malloc(p->text_len + 3);
	if (!p->etag) {
		fail(p, BM_ERR_NOMEM, "out of memory");
		return;
	}
	snprintf(p->etag, p->text_len + 3, "\"%s\"", p->text ? p->text : "");
}

static void end_field(struct bm_listing_parser *p)
{
	char *end;

	switch (p->field) {
	case F_NAME:
		free(p->name); /* a repeated <Name> replaces the first */
		p->name = NULL;
		set_name(p);
		break;
	case F_LENGTH:
		errno = 0;
		p->entry.size = strtoull(p->text ? p->text : "", &end, 10);
		if (!p->text_len || *end || errno)
			fail(p, BM_ERR_PROTOCOL, "bad Content-Length '%.40s'",
			     p->text ? p->text : "");
		break;
	case F_MTIME:
		if (bm_parse_http_date(p->text ? p->text : "",
				       &p->entry.mtime) < 0)
			fail(p, BM_ERR_PROTOCOL, "bad Last-Modified '%.40s'",
			     p->text ? p->text : "");
		break;
	case F_ETAG:
		free(p->etag);
		set_etag(p);
		break;
	case F_CTYPE:
		free(p->ctype);
		p->ctype = text_take(p);
		break;
	case F_ISFOLDER:
		p->entry.is_dir_marker =
		    p->text && strcasecmp(p->text, "true") == 0;
		break;
	case F_NEXT_MARKER:
		free(p->next_marker);
		p->next_marker = p->text_len ? text_take(p) : NULL;
		break;
	case F_NONE:
		break;
	}
	p->field = F_NONE;
	p->text_len = 0;
}

static void emit_entry(struct bm_listing_parser *p)
{
	int rc;

	if (!p->have_name) {
		fail(p, BM_ERR_PROTOCOL, "listing entry without a <Name>");
		return;
	}
	p->entry.name = p->name;
	p->entry.etag = p->etag ? p->etag : "";
	p->entry.content_type = p->ctype ? p->ctype : "";
	rc = p->cb(&p->entry, p->ud);
	entry_reset(p);
	if (rc)
		fail(p, BM_ERR_ABORTED, "listing stopped by the caller");
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
		   const xmlChar *uri)
{
	struct bm_listing_parser *p = ctx;

	if (p->failed)
		return;
	if (p->field != F_NONE)
		end_field(p);
	if (p->depth == 3 && p->in_entry) {
		p->in_entry = false;
		emit_entry(p);
	} else if (p->depth == 4) {
		p->in_props = false;
		p->in_meta = false;
	}
	p->depth--;
}

/* A DOCTYPE could declare entities (billion laughs) or an external DTD:
 * a listing never has one, so its presence is an error. */
static void on_internal_subset(void *ctx, const xmlChar *name,
			       const xmlChar *external_id,
			       const xmlChar *system_id)
{
	fail(ctx, BM_ERR_PROTOCOL, "listing XML has a DOCTYPE");
}

static xmlEntityPtr on_get_entity(void *ctx, const xmlChar *name)
{
	fail(ctx, BM_ERR_PROTOCOL, "listing XML references entity '%.40s'",
	     (const char *)name);
	return NULL;
}

static void on_error(void *ctx, xmlErrorPtr e)
{
	struct bm_listing_parser *p = ctx;
	char msg[160];
	size_t n;

	if (!e || e->level < XML_ERR_ERROR)
		return;
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "error");
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	fail(p, BM_ERR_PROTOCOL, "malformed listing XML at line %d: %s",
	     e->line, msg);
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* libxml2 must be initialised once before threads use it. */
static void xml_init(void)
{
	xmlInitParser();
}

struct bm_listing_parser *bm_listing_parser_new(bm_list_cb cb, void *ud)
{
	struct bm_listing_parser *p;
	xmlSAXHandler sax;

	pthread_once(&xml_once, xml_init);
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cb = cb;
	p->ud = ud;
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.cdataBlock = on_text;
	/* Whitespace-only text is data here (a blob may be named "  "). */
	sax.ignorableWhitespace = on_text;
	sax.internalSubset = on_internal_subset;
	sax.getEntity = on_get_entity;
	sax.serror = on_error;
	p->ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
	if (!p->ctxt) {
		free(p);
		return NULL;
	}
	xmlCtxtUseOptions(p->ctxt, XML_PARSE_NONET);
	return p;
}

void bm_listing_parser_free(struct bm_listing_parser *p)
{
	if (!p)
		return;
	/* The context copied our stack SAX handler; it frees its copy. */
	if (p->ctxt)
		xmlFreeParserCtxt(p->ctxt);
	entry_reset(p);
	free(p->text);
	free(p->next_marker);
	free(p);
}

static int report(struct bm_listing_parser *p, int xml_rc, struct bm_error *err)
{
	if (p->failed) {
		bm_error_set(err, p->fail_code, "%s", p->fail_msg);
		return -1;
	}
	if (xml_rc != 0) {
		bm_error_set(err, BM_ERR_PROTOCOL,
			     "malformed listing XML (libxml2 error %d)",
			     xml_rc);
		return -1;
	}
	return 0;
}

int bm_listing_parser_feed(struct bm_listing_parser *p, const char *chunk,
			   size_t len, struct bm_error *err)
{
	int rc = 0;

	/* xmlParseChunk takes an int length: feed big chunks in slices. */
	while (len && !p->failed && rc == 0) {
		int n = len > (1u << 20) ? (1 << 20) : (int)len;

		rc = xmlParseChunk(p->ctxt, chunk, n, 0);
		chunk += n;
		len -= (size_t)n;
	}
	return report(p, rc, err);
}

int bm_listing_parser_finish(struct bm_listing_parser *p, char **next_marker,
			     struct bm_error *err)
{
	int rc = 0;

	*next_marker = NULL;
	if (!p->failed)
		rc = xmlParseChunk(p->ctxt, NULL, 0, 1);
	if (report(p, rc, err) < 0)
		return -1;
	if (!p->root_seen || !p->ctxt->wellFormed) {
		bm_error_set(err, BM_ERR_PROTOCOL,
			     "malformed listing XML: no EnumerationResults");
		return -1;
	}
	*next_marker = p->next_marker;
	p->next_marker = NULL;
	return 0;
}

static int parse_fixed_int(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* IMF-fixdate only ("Fri, 26 Jun 2015 23:39:12 GMT"), the form Azure and
 * every HTTP/1.1 server send; parsed by hand so the process locale (which
 * strptime's %a/%b follow) cannot change the result. */
int bm_parse_http_date(const char *s, time_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const char days[] = "SunMonTueWedThuFriSat";
	struct tm tm;
	const char *m;
	int mon, i;
	time_t t;

	if (!s || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' ||
	    s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
	    s[22] != ':' || strcmp(s + 25, " GMT") != 0)
		return -1;
	for (i = 0; i < 7; i++)
		if (memcmp(s, days + 3 * i, 3) == 0)
			break;
	if (i == 7)
		return -1;
	m = NULL;
	for (mon = 0; mon < 12; mon++)
		if (memcmp(s + 8, months + 3 * mon, 3) == 0) {
			m = months + 3 * mon;
			break;
		}
	if (!m)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = mon;
	if (parse_fixed_int(s + 5, 2, &tm.tm_mday) < 0 ||
	    parse_fixed_int(s + 12, 4, &tm.tm_year) < 0 ||
	    parse_fixed_int(s + 17, 2, &tm.tm_hour) < 0 ||
	    parse_fixed_int(s + 20, 2, &tm.tm_min) < 0 ||
	    parse_fixed_int(s + 23, 2, &tm.tm_sec) < 0)
		return -1;
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
		return -1;
	tm.tm_year -= 1900;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}
