/*
 * bf2_config: blobfuse2's YAML config (see bf2_config.h).
 *
 * libyaml's document API gives a tree whose nodes carry their line; the
 * tree is walked against one table of the keys we know, per section, with
 * their type and where the value goes. Key names, sections and the
 * component names are blobfuse2's (setup/baseConfig.yaml and the
 * components' option structs in Azure/azure-storage-fuse); values are
 * typed the way blobfuse2's decoder accepts them (a number may be quoted,
 * a permission is octal as its documentation writes it: 0777).
 *
 * Every scalar of the document is wiped before the tree is freed, and so
 * is libyaml's input buffer: the file holds an account key or a SAS.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "bf2_config.h"
#include "bm_config.h"
#include "bm_log.h"

enum val_type {
	T_STR,	  /* any scalar */
	T_SECRET, /* a scalar, redacted and never echoed */
	T_UINT,	  /* whole number in [min, max] */
	T_BOOL,	  /* true/false (yes/no, on/off) */
	T_PERM,	  /* octal permission bits */
	T_IGNORED /* accepted, no effect: a warning says why */
};

struct key_def {
	const char *section; /* "" for the top level */
	const char *name;
	enum val_type type;
	size_t off; /* into struct bf2_config */
	unsigned long min, max;
	const char *why;  /* T_IGNORED: why it changes nothing here */
	const char *same; /* T_IGNORED: the value that asks for what
			   * blobmill-fuse does anyway (no warning) */
};

#define OFF(f) offsetof(struct bf2_config, f)
#define STR(s, n, f)                                                           \
	{                                                                      \
		s, n, T_STR, OFF(f), 0, 0, NULL, NULL                          \
	}
#define SECRET(s, n, f)                                                        \
	{                                                                      \
		s, n, T_SECRET, OFF(f), 0, 0, NULL, NULL                       \
	}
#define UINT(s, n, f, lo, hi)                                                  \
	{                                                                      \
		s, n, T_UINT, OFF(f), lo, hi, NULL, NULL                       \
	}
#define BOOL(s, n, f)                                                          \
	{                                                                      \
		s, n, T_BOOL, OFF(f), 0, 0, NULL, NULL                         \
	}
#define IGNORED(s, n, why)                                                     \
	{                                                                      \
		s, n, T_IGNORED, 0, 0, 0, why, NULL                            \
	}
#define SAME(s, n, same, why)                                                  \
	{                                                                      \
		s, n, T_IGNORED, 0, 0, 0, why, same                            \
	}
#define YEAR (86400UL * 366)

static const struct key_def keys[] = {
    BOOL("", "allow-other", allow_other),
    BOOL("", "allow-root", allow_root),
    BOOL("", "read-only", read_only),
    BOOL("", "foreground", foreground),
    SAME("", "nonempty", "true",
	 "FUSE 3 always mounts on a non-empty directory"),
    STR("logging", "type", log_type),
    STR("logging", "level", log_level),
    IGNORED("logging", "file-path",
	    "the log goes to syslog, or to stderr in the foreground"),
    IGNORED("logging", "max-file-size-mb", "there is no log file"),
    IGNORED("logging", "file-count", "there is no log file"),
    IGNORED("logging", "track-time", "no per-call timing log"),
    UINT("libfuse", "attribute-expiration-sec", attr_expiration, 0, YEAR),
    UINT("libfuse", "entry-expiration-sec", entry_expiration, 0, YEAR),
    UINT("libfuse", "negative-entry-expiration-sec", negative_expiration, 0,
	 YEAR),
    {"libfuse", "default-permission", T_PERM, OFF(default_permission), 0, 07777,
     NULL, NULL},
    SAME("libfuse", "ignore-open-flags", "true",
	 "open flags are always honoured (there is no writeback cache "
	 "to conflict with O_APPEND)"),
    IGNORED("libfuse", "fuse-trace", "use -d for the FUSE trace"),
    IGNORED("libfuse", "max-fuse-threads",
	    "blobmill-fuse runs up to 64 worker threads, one per call "
	    "waiting on the service"),
    IGNORED("libfuse", "disable-writeback-cache",
	    "there is no writeback cache"),
    STR("file_cache", "path", fc_path),
    UINT("file_cache", "timeout-sec", fc_timeout, 0, YEAR),
    UINT("file_cache", "max-size-mb", fc_max_size, 0, 0xffffffffUL),
    IGNORED("file_cache", "allow-non-empty-temp",
	    "a --tmp-path always keeps what an earlier mount left to upload"),
    IGNORED("file_cache", "cleanup-on-start",
	    "pending uploads under the tmp-path are never deleted; cached "
	    "copies are checked against the blob's ETag"),
    IGNORED("file_cache", "policy", "the cache is always LRU"),
    IGNORED("file_cache", "sync-to-flush", "fsync always uploads the file"),
    IGNORED("file_cache", "ignore-sync", "fsync always uploads the file"),
    IGNORED("file_cache", "hard-limit",
	    "the size limit evicts unused copies; files being written are "
	    "never dropped"),
    STR("block_cache", "path", bc_path),
    UINT("block_cache", "block-size-mb", bc_block_size, 1, 100),
    UINT("block_cache", "mem-size-mb", bc_mem_size, 1, 65536),
    UINT("block_cache", "prefetch", bc_prefetch, 0, 128),
    UINT("block_cache", "parallelism", bc_parallelism, 1, 128),
    UINT("block_cache", "disk-size-mb", bc_disk_size, 0, 0xffffffffUL),
    UINT("block_cache", "disk-timeout-sec", bc_disk_timeout, 0, YEAR),
    IGNORED("block_cache", "prefetch-on-open",
	    "reads start with one 1 MiB request, then stream"),
    UINT("attr_cache", "timeout-sec", ac_timeout, 0, YEAR),
    IGNORED("attr_cache", "no-symlinks", "there are no symlinks"),
    IGNORED("attr_cache", "max-files",
	    "the attribute cache is bounded by its timeouts"),
    IGNORED("attr_cache", "no-cache-on-list",
	    "listings always fill the attribute cache"),
    STR("azstorage", "type", type),
    STR("azstorage", "account-name", account),
    SECRET("azstorage", "account-key", account_key),
    SECRET("azstorage", "sas", sas),
    STR("azstorage", "endpoint", endpoint),
    STR("azstorage", "container", container),
    STR("azstorage", "mode", mode),
    STR("azstorage", "appid", appid),
    STR("azstorage", "resid", resid),
    STR("azstorage", "objid", objid),
    STR("azstorage", "tenantid", tenantid),
    STR("azstorage", "clientid", clientid),
    SECRET("azstorage", "clientsecret", clientsecret),
    STR("azstorage", "aadendpoint", aadendpoint),
    STR("azstorage", "oauth-token-path", oauth_token_path),
    BOOL("azstorage", "use-http", use_http),
    UINT("azstorage", "block-size-mb", az_block_size, 1, 100),
    UINT("azstorage", "max-concurrency", az_max_concurrency, 1, 128),
    UINT("azstorage", "max-retries", az_max_retries, 0, 100),
    UINT("azstorage", "max-retry-timeout-sec", az_max_retry_timeout, 1, 3600),
    SAME("azstorage", "virtual-directory", "true",
	 "directories are always virtual (from '/' in names), with "
	 "blobfuse's hdi_isfolder markers for mkdir"),
    IGNORED("azstorage", "update-md5",
	    "every upload carries a Content-MD5 the service checks; a blob "
	    "sent in blocks gets no whole-blob MD5"),
    IGNORED("azstorage", "validate-md5", "downloads are checked by ETag"),
    IGNORED("azstorage", "fail-unsupported-op",
	    "chmod, chown and utimens are accepted and ignored"),
};

static const char *const sections[] = {"logging",    "libfuse",
				       "file_cache", "block_cache",
				       "attr_cache", "azstorage"};

static const struct {
	const char *name;
	unsigned bit;
} components[] = {
    {"libfuse", BF2_LIBFUSE},	      {"file_cache", BF2_FILE_CACHE},
    {"block_cache", BF2_BLOCK_CACHE}, {"attr_cache", BF2_ATTR_CACHE},
    {"azstorage", BF2_AZSTORAGE},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

void bf2_config_init(struct bf2_config *c)
{
	memset(c, 0, sizeof(*c));
}

static void str_release(struct bf2_str *s, bool secret)
{
	if (s->v && secret)
		explicit_bzero(s->v, strlen(s->v));
	free(s->v);
	s->v = NULL;
	s->line = 0;
}

void bf2_config_release(struct bf2_config *c)
{
	size_t i;

	for (i = 0; i < N(keys); i++)
		if (keys[i].type == T_STR || keys[i].type == T_SECRET)
			str_release((struct bf2_str *)((char *)c + keys[i].off),
				    keys[i].type == T_SECRET);
	free(c->origin);
	bf2_config_init(c);
}

bool bf2_is_yaml_name(const char *path)
{
	size_t n = strlen(path);

	return (n > 5 && !strcasecmp(path + n - 5, ".yaml")) ||
	       (n > 4 && !strcasecmp(path + n - 4, ".yml"));
}

/* ---- the walk ----------------------------------------------------- */

struct walk {
	struct bf2_config *c;
	yaml_document_t *doc;
	const char *origin;
	struct bm_error *err;
	unsigned sections_seen; /* bit per sections[] entry */
	unsigned section_line[N(sections)];
};

static unsigned line_of(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* Levenshtein distance, capped: for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, tmp;
	size_t row[64];

	if (la >= N(row) || lb >= N(row))
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			tmp = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < tmp)
				tmp = row[j] + 1;
			if (row[j - 1] + 1 < tmp)
				tmp = row[j - 1] + 1;
			row[j] = tmp;
			prev = cur;
		}
	}
	return row[lb];
}

/* Whether a name may be echoed: a short identifier, not a pasted secret. */
static bool showable(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 48)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

static int unknown_key(struct walk *w, const char *section,
		       const yaml_node_t *kn)
{
	const char *name = scalar(kn), *best = NULL;
	size_t i, d, bestd = 3;

	if (!showable(name)) {
		bm_error_set(w->err, BM_ERR_CONFIG,
			     "%s:%u: not a key of blobfuse2's config (not "
			     "shown: it may hold a secret)",
			     w->origin, line_of(kn));
		return -1;
	}
	for (i = 0; i < N(keys); i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		d = distance(name, keys[i].name);
		if (d < bestd) {
			bestd = d;
			best = keys[i].name;
		}
	}
	bm_error_set(
	    w->err, BM_ERR_CONFIG, "%s:%u: unknown key '%s%s%s'%s%s%s%s",
	    w->origin, line_of(kn), section, *section ? "." : "", name,
	    best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "",
	    best ? "" : " (see blobmill-fuse(8), BLOBFUSE2 CONFIGURATION)");
	return -1;
}

static int type_error(struct walk *w, const struct key_def *k,
		      const yaml_node_t *vn, const char *expected)
{
	bool show = k->type != T_SECRET && vn->type == YAML_SCALAR_NODE &&
		    showable(scalar(vn));

	bm_error_set(w->err, BM_ERR_CONFIG, "%s:%u: '%s%s%s' must be %s%s%s%s",
		     w->origin, line_of(vn), k->section, *k->section ? "." : "",
		     k->name, expected, show ? ", not '" : "",
		     show ? scalar(vn) : "", show ? "'" : "");
	return -1;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	size_t i;

	for (i = 0; i < N(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int parse_num(const char *s, int base, unsigned long *out)
{
	char *end;

	if (base == 8 && (!strncmp(s, "0o", 2) || !strncmp(s, "0O", 2)))
		s += 2;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, base);
	return errno || *end ? -1 : 0;
}

static int set_value(struct walk *w, const struct key_def *k,
		     const yaml_node_t *kn, const yaml_node_t *vn)
{
	char *field = (char *)w->c + k->off, what[96];
	const char *s;
	unsigned *line;
	unsigned long v;
	bool b;

	if (vn->type != YAML_SCALAR_NODE)
		return type_error(w, k, vn, "a single value");
	s = scalar(vn);
	if (k->type == T_IGNORED) {
		if (k->same && !strcasecmp(s, k->same))
			return 0;
		bm_warn("%s:%u: '%s%s%s' has no effect in blobmill-fuse: %s",
			w->origin, line_of(kn), k->section,
			*k->section ? "." : "", k->name, k->why);
		return 0;
	}
	/* Every field starts with its line (struct bf2_num/bool/str). */
	line = (unsigned *)field;
	if (*line) {
		bm_error_set(w->err, BM_ERR_CONFIG,
			     "%s:%u: '%s%s%s' is given twice (first on line "
			     "%u)",
			     w->origin, line_of(kn), k->section,
			     *k->section ? "." : "", k->name, *line);
		return -1;
	}
	/* An empty value ("sas:") is no value, as blobfuse2 reads it. */
	if (!*s)
		return 0;
	switch (k->type) {
	case T_STR:
	case T_SECRET:
		if (k->type == T_SECRET)
			bm_redact_register(s);
		((struct bf2_str *)field)->v = strdup(s);
		if (!((struct bf2_str *)field)->v) {
			bm_error_set(w->err, BM_ERR_NOMEM, "out of memory");
			return -1;
		}
		if (k->type == T_SECRET)
			bm_redact_register(((struct bf2_str *)field)->v);
		break;
	case T_UINT:
		if (parse_num(s, 10, &v) < 0 || v < k->min || v > k->max) {
			snprintf(what, sizeof(what),
				 "a whole number from %lu to %lu", k->min,
				 k->max);
			return type_error(w, k, vn, what);
		}
		((struct bf2_num *)field)->v = v;
		break;
	case T_PERM:
		if (parse_num(s, 8, &v) < 0 || v > k->max)
			return type_error(w, k, vn,
					  "octal permission bits, e.g. 0755");
		((struct bf2_num *)field)->v = v;
		break;
	case T_BOOL:
		if (parse_bool(s, &b) < 0)
			return type_error(w, k, vn, "true or false");
		((struct bf2_bool *)field)->v = b;
		break;
	case T_IGNORED:
		break;
	}
	*line = line_of(kn);
	return 0;
}

static int walk_pair(struct walk *w, const char *section, const yaml_node_t *kn,
		     const yaml_node_t *vn)
{
	size_t i;

	if (kn->type != YAML_SCALAR_NODE) {
		bm_error_set(w->err, BM_ERR_CONFIG,
			     "%s:%u: a key must be a plain name", w->origin,
			     line_of(kn));
		return -1;
	}
	for (i = 0; i < N(keys); i++)
		if (!strcmp(keys[i].section, section) &&
		    !strcmp(keys[i].name, scalar(kn)))
			return set_value(w, &keys[i], kn, vn);
	return unknown_key(w, section, kn);
}

static int walk_components(struct walk *w, const yaml_node_t *kn,
			   const yaml_node_t *vn)
{
	yaml_node_item_t *it;
	const yaml_node_t *item;
	size_t i;

	if (w->c->components_line) {
		bm_error_set(w->err, BM_ERR_CONFIG,
			     "%s:%u: 'components' is given twice", w->origin,
			     line_of(kn));
		return -1;
	}
	if (vn->type != YAML_SEQUENCE_NODE) {
		bm_error_set(w->err, BM_ERR_CONFIG,
			     "%s:%u: 'components' must be a list (- libfuse, "
			     "- file_cache, - attr_cache, - azstorage)",
			     w->origin, line_of(vn));
		return -1;
	}
	w->c->components_line = line_of(kn);
	for (it = vn->data.sequence.items.start;
	     it < vn->data.sequence.items.top; it++) {
		item = yaml_document_get_node(w->doc, *it);
		if (!item || item->type != YAML_SCALAR_NODE) {
			bm_error_set(w->err, BM_ERR_CONFIG,
				     "%s:%u: a component is a name", w->origin,
				     item ? line_of(item) : 0);
			return -1;
		}
		for (i = 0; i < N(components); i++)
			if (!strcmp(components[i].name, scalar(item)))
				break;
		if (i == N(components)) {
			bm_error_set(w->err, BM_ERR_CONFIG,
				     "%s:%u: component '%s' is not supported "
				     "by blobmill-fuse (it has libfuse, "
				     "file_cache, block_cache, attr_cache, "
				     "azstorage)",
				     w->origin, line_of(item),
				     showable(scalar(item)) ? scalar(item)
							    : "?");
			return -1;
		}
		w->c->components |= components[i].bit;
	}
	return 0;
}

static int walk_section(struct walk *w, size_t s, const yaml_node_t *kn,
			const yaml_node_t *vn)
{
	yaml_node_pair_t *p;

	if (w->sections_seen & (1u << s)) {
		bm_error_set(w->err, BM_ERR_CONFIG,
			     "%s:%u: section '%s' is given twice (first on "
			     "line %u)",
			     w->origin, line_of(kn), sections[s],
			     w->section_line[s]);
		return -1;
	}
	w->sections_seen |= 1u << s;
	w->section_line[s] = line_of(kn);
	/* "file_cache:" alone is an empty section. */
	if (vn->type == YAML_SCALAR_NODE && !*scalar(vn))
		return 0;
	if (vn->type != YAML_MAPPING_NODE) {
		bm_error_set(w->err, BM_ERR_CONFIG,
			     "%s:%u: section '%s' must hold 'key: value' "
			     "lines",
			     w->origin, line_of(vn), sections[s]);
		return -1;
	}
	for (p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top;
	     p++)
		if (walk_pair(w, sections[s],
			      yaml_document_get_node(w->doc, p->key),
			      yaml_document_get_node(w->doc, p->value)) < 0)
			return -1;
	return 0;
}

static int walk_root(struct walk *w, const yaml_node_t *root)
{
	yaml_node_pair_t *p;
	const yaml_node_t *kn, *vn;
	size_t s;

	if (!root || (root->type == YAML_SCALAR_NODE && !*scalar(root))) {
		bm_error_set(w->err, BM_ERR_CONFIG, "%s: the file is empty",
			     w->origin);
		return -1;
	}
	if (root->type != YAML_MAPPING_NODE) {
		bm_error_set(w->err, BM_ERR_CONFIG,
			     "%s:%u: not a blobfuse2 config (expected "
			     "sections such as 'azstorage:')",
			     w->origin, line_of(root));
		return -1;
	}
	for (p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		kn = yaml_document_get_node(w->doc, p->key);
		vn = yaml_document_get_node(w->doc, p->value);
		if (kn->type == YAML_SCALAR_NODE &&
		    !strcmp(scalar(kn), "components")) {
			if (walk_components(w, kn, vn) < 0)
				return -1;
			continue;
		}
		for (s = 0; s < N(sections); s++)
			if (kn->type == YAML_SCALAR_NODE &&
			    !strcmp(scalar(kn), sections[s]))
				break;
		if (s < N(sections)) {
			if (walk_section(w, s, kn, vn) < 0)
				return -1;
		} else if (walk_pair(w, "", kn, vn) < 0) {
			return -1;
		}
	}
	/* A section for a component not in the pipeline does nothing in
	 * blobfuse2 either: say so rather than let a value seem to apply. */
	for (s = 0; s < N(sections); s++) {
		if (!(w->sections_seen & (1u << s)) ||
		    !strcmp(sections[s], "logging") || !w->c->components_line)
			continue;
		/* sections[s], s >= 1, is the section of components[s - 1]. */
		if (!(w->c->components & components[s - 1].bit))
			bm_warn(
			    "%s:%u: section '%s' has no effect: '%s' is not "
			    "in 'components'",
			    w->origin, w->section_line[s], sections[s],
			    sections[s]);
	}
	return 0;
}

/* Wipes every scalar: some hold a key or a SAS. */
static void wipe_document(yaml_document_t *doc)
{
	yaml_node_t *n;

	for (n = doc->nodes.start; n && n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
			explicit_bzero(n->data.scalar.value,
				       n->data.scalar.length);
}

static void wipe_parser(yaml_parser_t *p)
{
	if (p->buffer.start)
		explicit_bzero(p->buffer.start,
			       (size_t)(p->buffer.end - p->buffer.start));
	if (p->raw_buffer.start)
		explicit_bzero(
		    p->raw_buffer.start,
		    (size_t)(p->raw_buffer.end - p->raw_buffer.start));
}

int bf2_config_parse_buffer(struct bf2_config *c, const char *buf, size_t len,
			    const char *origin, struct bm_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct walk w = {.c = c, .doc = &doc, .origin = origin, .err = err};
	int rc = -1, loaded = 0;

	free(c->origin);
	c->origin = strdup(origin);
	if (!c->origin || !yaml_parser_initialize(&parser)) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		/* libyaml's problem text names no value, only the syntax. */
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s:%lu: not valid YAML: %s%s%s", origin,
			     (unsigned long)parser.problem_mark.line + 1,
			     parser.problem ? parser.problem : "syntax error",
			     parser.context ? " " : "",
			     parser.context ? parser.context : "");
		goto out;
	}
	loaded = 1;
	rc = walk_root(&w, yaml_document_get_root_node(&doc));
out:
	if (loaded) {
		wipe_document(&doc);
		yaml_document_delete(&doc);
	}
	wipe_parser(&parser);
	yaml_parser_delete(&parser);
	return rc;
}

static int parse_yaml(void *c, const char *buf, size_t len, const char *origin,
		      struct bm_error *err)
{
	return bf2_config_parse_buffer(c, buf, len, origin, err);
}

int bf2_config_load_file(struct bf2_config *c, const char *path,
			 struct bm_error *err)
{
	c->path_given = true;
	return bm_config_parse_file(path, parse_yaml, c, err);
}
