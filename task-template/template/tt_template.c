/*
 * tt_template: parse "{placeholder}" templates once, expand them per blob.
 *
 * Two kinds of expansion:
 *   - plain (the output name): each placeholder becomes its value verbatim;
 *   - shell words (the command): the template is shell code written by the
 *     user, run as SCRIPT in `/bin/sh -c SCRIPT sh VALUE...`. A value made
 *     only of bytes no shell treats specially is written into SCRIPT as
 *     is; any other value is passed as a positional parameter and SCRIPT
 *     refers to it as ${N}, so blob-derived bytes are never parsed as shell
 *     code. The parser tracks the user's quotes so that the reference is
 *     one word wherever it stands: "${N}" outside quotes, ${N} inside
 *     double quotes, '"${N}"' inside single quotes.
 *
 * Not here: where values come from for a listing (tt_task.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_url.h"
#include "tasktemplate.h"

static const char *const field_names[TT_F_COUNT] = {
    [TT_F_NAME] = "name",   [TT_F_BASENAME] = "basename",
    [TT_F_STEM] = "stem",   [TT_F_EXT] = "ext",
    [TT_F_DIR] = "dir",	    [TT_F_URL] = "url",
    [TT_F_INDEX] = "index", [TT_F_IN] = "in",
    [TT_F_OUT] = "out",
};

/* Where a placeholder stands in the user's shell code. */
enum tt_quote { TT_Q_NONE, TT_Q_SINGLE, TT_Q_DOUBLE };

struct tt_seg {
	bool is_field;
	enum tt_field field;
	enum tt_quote quote; /* shell words only */
	char *text;	     /* literal text (braces already unescaped) */
};

struct tt_template {
	struct tt_seg *segs;
	size_t nsegs;
	bool shell_words;
	bool empty;    /* no segments at all: "" */
	unsigned used; /* bit per enum tt_field */
};

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

static char *str_join(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

static char *str_ndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

int tt_values_init(struct tt_values *vals, const char *name, uint64_t index,
		   const char *in_dir, const char *out_dir,
		   const char *out_name, const char *endpoint,
		   const char *container, struct bm_error *err)
{
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	const char *dot = strrchr(base, '.');
	char num[32];
	int i;

	memset(vals, 0, sizeof(*vals));
	/* A leading dot names a hidden file, not an extension (".bashrc"). */
	if (dot == base)
		dot = NULL;
	snprintf(num, sizeof(num), "%" PRIu64, index);
	vals->v[TT_F_NAME] = strdup(name);
	vals->v[TT_F_BASENAME] = strdup(base);
	vals->v[TT_F_STEM] =
	    str_ndup(base, dot ? (size_t)(dot - base) : strlen(base));
	vals->v[TT_F_EXT] = strdup(dot ? dot : "");
	vals->v[TT_F_DIR] = str_ndup(name, slash ? (size_t)(slash - name) : 0);
	vals->v[TT_F_URL] = bm_blob_url(endpoint ? endpoint : "",
					container ? container : "", name, NULL);
	vals->v[TT_F_INDEX] = strdup(num);
	vals->v[TT_F_IN] = str_join(in_dir, "/", name);
	vals->v[TT_F_OUT] =
	    out_name ? str_join(out_dir, "/", out_name) : strdup("");
	for (i = 0; i < TT_F_COUNT; i++) {
		if (!vals->v[i]) {
			tt_values_release(vals);
			bm_error_set(err, BM_ERR_NOMEM,
				     "out of memory expanding '%s'", name);
			return -1;
		}
	}
	return 0;
}

void tt_values_release(struct tt_values *vals)
{
	int i;

	for (i = 0; i < TT_F_COUNT; i++) {
		free(vals->v[i]);
		vals->v[i] = NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

void tt_template_free(struct tt_template *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nsegs; i++)
		free(t->segs[i].text);
	free(t->segs);
	free(t);
}

bool tt_template_uses(const struct tt_template *t, enum tt_field f)
{
	return (t->used >> f) & 1u;
}

/* Appends a segment; text (may be NULL) is taken over. */
static int seg_push(struct tt_template *t, struct tt_seg seg)
{
	struct tt_seg *s = realloc(t->segs, (t->nsegs + 1) * sizeof(*s));

	if (!s) {
		free(seg.text);
		return -1;
	}
	t->segs = s;
	t->segs[t->nsegs++] = seg;
	return 0;
}

static int lookup_field(const char *name, size_t len, enum tt_field *out)
{
	int i;

	for (i = 0; i < TT_F_COUNT; i++) {
		if (strlen(field_names[i]) == len &&
		    !memcmp(field_names[i], name, len)) {
			*out = (enum tt_field)i;
			return 0;
		}
	}
	return -1;
}

/*
 * "unknown placeholder '{nmae}' at column 12: did you mean {name}? (write
 * '{{nmae}}' for literal braces)". Shell code ported from scripts holds
 * braces of its own (awk '{print $1}', ${HOME}): the message shows how to
 * write exactly that text literally. Long text is cut (the column still
 * finds it).
 */
static void unknown_field(const char *name, size_t len, const char *what,
			  size_t col, struct bm_error *err)
{
	const char *near = tt_suggest(name, len, field_names, TT_F_COUNT);
	int shown = len > 40 ? 40 : (int)len;
	const char *cut = len > 40 ? "..." : "";

	if (near)
		bm_error_set(err, BM_ERR_INVALID,
			     "%s: unknown placeholder '{%.*s%s}' at column "
			     "%zu: did you mean {%s}? (write '{{%.*s%s}}' for "
			     "literal braces)",
			     what, shown, name, cut, col, near, shown, name,
			     cut);
	else
		bm_error_set(err, BM_ERR_INVALID,
			     "%s: unknown placeholder '{%.*s%s}' at column "
			     "%zu (write '{{%.*s%s}}' for literal braces)",
			     what, shown, name, cut, col, shown, name, cut);
}

/*
 * The shell quoting state of the user's code, byte by byte. Command
 * substitution ($(...) or `...`) starts a fresh context even inside double
 * quotes, so contexts form a stack: "$(dirname {out})" puts {out} in an
 * unquoted context, where it must be written "${N}".
 */
#define TT_SHELL_DEPTH 16

struct shell_frame {
	enum tt_quote q;
	bool backtick;	 /* opened by `, closed by ` */
	unsigned parens; /* unbalanced '(' inside this $( ) */
	size_t open_col; /* column of the quote that is open */
};

struct shell_scan {
	struct shell_frame f[TT_SHELL_DEPTH];
	unsigned depth; /* index of the innermost frame */
	bool escaped;	/* the previous byte was an active backslash */
	bool too_deep;
};

static void shell_push(struct shell_scan *sc, bool backtick)
{
	if (sc->depth + 1 >= TT_SHELL_DEPTH) {
		sc->too_deep = true;
		return;
	}
	sc->depth++;
	memset(&sc->f[sc->depth], 0, sizeof(sc->f[0]));
	sc->f[sc->depth].backtick = backtick;
}

/* `next` is the byte after c ('\0' at the end). */
static void shell_scan_byte(struct shell_scan *sc, char c, char next,
			    size_t col)
{
	struct shell_frame *f = &sc->f[sc->depth];

	if (sc->escaped) {
		sc->escaped = false;
		return;
	}
	if (f->q == TT_Q_SINGLE) {
		if (c == '\'')
			f->q = TT_Q_NONE;
		return;
	}
	if (c == '\\') {
		sc->escaped = true;
	} else if (c == '$' && next == '(') {
		shell_push(sc, false);
		sc->escaped = true; /* consume the '(' */
	} else if (c == '`') {
		if (f->backtick && f->q == TT_Q_NONE && sc->depth > 0)
			sc->depth--;
		else
			shell_push(sc, true);
	} else if (f->q == TT_Q_DOUBLE) {
		if (c == '"')
			f->q = TT_Q_NONE;
	} else if (c == '\'' || c == '"') {
		f->q = c == '\'' ? TT_Q_SINGLE : TT_Q_DOUBLE;
		f->open_col = col;
	} else if (c == '(') {
		f->parens++;
	} else if (c == ')') {
		if (f->parens > 0)
			f->parens--;
		else if (sc->depth > 0 && !f->backtick)
			sc->depth--;
	}
}

int tt_template_parse(const char *text, const char *what, bool shell_words,
		      struct tt_template **out, struct bm_error *err)
{
	struct tt_template *t = calloc(1, sizeof(*t));
	struct shell_scan sc;
	char *lit = NULL;
	size_t litlen = 0, i = 0, n = strlen(text);
	int rc = -1;

	*out = NULL;
	memset(&sc, 0, sizeof(sc));
	if (!t || !(lit = malloc(n + 1)))
		goto nomem;
	t->shell_words = shell_words;
	t->empty = n == 0;
	while (i < n) {
		size_t col = i + 1;
		char c = text[i];

		if ((c == '{' && text[i + 1] == '{') ||
		    (c == '}' && text[i + 1] == '}')) {
			lit[litlen++] = c;
			shell_scan_byte(&sc, c, text[i + 2], col);
			i += 2;
		} else if (c == '}') {
			bm_error_set(err, BM_ERR_INVALID,
				     "%s: unmatched '}' at column %zu (write "
				     "'}}' for a literal brace)",
				     what, col);
			goto out;
		} else if (c == '{') {
			const char *close = strchr(text + i + 1, '}');
			const char *inner =
			    memchr(text + i + 1, '{',
				   close ? (size_t)(close - text - i - 1) : 0);
			struct tt_seg seg = {.is_field = true};

			/* "{in > {out}": the first brace never closed; the
			 * second one is the placeholder. */
			if (!close || inner) {
				bm_error_set(err, BM_ERR_INVALID,
					     "%s: unclosed '{' at column %zu "
					     "(write '{{' for a literal brace)",
					     what, col);
				goto out;
			}
			if (lookup_field(text + i + 1,
					 (size_t)(close - text - i - 1),
					 &seg.field)) {
				unknown_field(text + i + 1,
					      (size_t)(close - text - i - 1),
					      what, col, err);
				goto out;
			}
			if (shell_words && sc.escaped) {
				bm_error_set(err, BM_ERR_INVALID,
					     "%s: placeholder at column %zu "
					     "follows a backslash",
					     what, col);
				goto out;
			}
			seg.quote = sc.f[sc.depth].q;
			if (litlen) {
				struct tt_seg ls = {.text =
							str_ndup(lit, litlen)};

				if (!ls.text || seg_push(t, ls))
					goto nomem;
				litlen = 0;
			}
			if (seg_push(t, seg))
				goto nomem;
			t->used |= 1u << seg.field;
			i = (size_t)(close - text) + 1;
		} else {
			lit[litlen++] = c;
			shell_scan_byte(&sc, c, text[i + 1], col);
			i++;
		}
	}
	if (shell_words && sc.too_deep) {
		bm_error_set(err, BM_ERR_INVALID,
			     "%s: command substitutions nested more than %d "
			     "deep",
			     what, TT_SHELL_DEPTH - 1);
		goto out;
	}
	if (shell_words && sc.f[sc.depth].q != TT_Q_NONE) {
		bm_error_set(err, BM_ERR_INVALID,
			     "%s: unterminated %s quote at column %zu", what,
			     sc.f[sc.depth].q == TT_Q_SINGLE ? "single"
							     : "double",
			     sc.f[sc.depth].open_col);
		goto out;
	}
	if (litlen) {
		struct tt_seg ls = {.text = str_ndup(lit, litlen)};

		if (!ls.text || seg_push(t, ls))
			goto nomem;
	}
	*out = t;
	t = NULL;
	rc = 0;
	goto out;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "%s: out of memory", what);
out:
	free(lit);
	tt_template_free(t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Expansion                                                           */
/* ------------------------------------------------------------------ */

/* Strings are built with open_memstream: a failed allocation shows as a
 * failed fclose, checked once in ms_finish. */
static FILE *ms_open(char **buf, size_t *len)
{
	*buf = NULL;
	return open_memstream(buf, len);
}

/* Hands the string over (caller frees), or NULL with err set when the
 * stream or the caller (failed) ran out of memory. */
static char *ms_finish(FILE *f, char *const *buf, bool failed,
		       struct bm_error *err)
{
	bool bad = failed || !f || ferror(f);

	if (f && fclose(f))
		bad = true;
	if (bad) {
		free(*buf);
		bm_error_set(err, BM_ERR_NOMEM,
			     "out of memory expanding a "
			     "template");
		return NULL;
	}
	return *buf;
}

char *tt_template_expand(const struct tt_template *t,
			 const struct tt_values *vals, struct bm_error *err)
{
	char *buf;
	size_t len, i;
	FILE *f = ms_open(&buf, &len);

	for (i = 0; f && i < t->nsegs; i++)
		fputs(t->segs[i].is_field ? vals->v[t->segs[i].field]
					  : t->segs[i].text,
		      f);
	return ms_finish(f, &buf, false, err);
}

/*
 * True when a value can stand in SCRIPT as it is, in any quoting context:
 * no byte a shell treats specially in a word (no blank, quote, $, `, \,
 * glob, ~, =, #, ...), not a reserved word, and not empty (an empty word
 * needs quotes).
 */
static bool value_is_plain(const char *v)
{
	/* Reserved words mean something else in command position. */
	static const char *const reserved[] = {
	    "if",    "then", "else", "elif",	 "fi",
	    "do",    "done", "case", "esac",	 "while",
	    "until", "for",  "in",   "function", "select",
	};
	size_t i;

	if (!*v)
		return false;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!strcmp(v, reserved[i]))
			return false;
	for (; *v; v++) {
		char c = *v;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("_./,:+@%-", c)))
			return false;
	}
	return true;
}

/* Adds a reference to positional parameter n, one word in context q. */
static void put_param(FILE *f, unsigned n, enum tt_quote q)
{
	switch (q) {
	case TT_Q_NONE:
		fprintf(f, "\"${%u}\"", n);
		break;
	case TT_Q_DOUBLE:
		fprintf(f, "${%u}", n);
		break;
	case TT_Q_SINGLE:
		/* leave the single quotes, expand, come back */
		fprintf(f, "'\"${%u}\"'", n);
		break;
	}
}

char *tt_command_line(const struct tt_template *t, const struct tt_values *vals,
		      const char *mkdir_dir, struct bm_error *err)
{
	/* Positional parameter of each field (0: not passed as one), and the
	 * values in parameter order: mkdir_dir, then fields as first used. */
	unsigned param[TT_F_COUNT] = {0}, nparams = 0, k;
	const char *pvals[TT_F_COUNT + 1];
	char *script = NULL, *line = NULL, *q;
	size_t slen, llen, i;
	bool nomem;
	FILE *f;

	if (t->empty) {
		/* no command: Batch runs the image's ENTRYPOINT */
		f = ms_open(&line, &llen);
		return ms_finish(f, &line, false, err);
	}
	f = ms_open(&script, &slen);
	if (f && mkdir_dir && *mkdir_dir) {
		if (value_is_plain(mkdir_dir)) {
			fprintf(f, "mkdir -p -- %s || exit; ", mkdir_dir);
		} else {
			pvals[nparams++] = mkdir_dir;
			fputs("mkdir -p -- \"${1}\" || exit; ", f);
		}
	}
	for (i = 0; f && i < t->nsegs; i++) {
		const struct tt_seg *s = &t->segs[i];
		const char *v;

		if (!s->is_field) {
			fputs(s->text, f);
			continue;
		}
		v = vals->v[s->field];
		if (value_is_plain(v)) {
			fputs(v, f);
			continue;
		}
		if (!param[s->field]) {
			pvals[nparams++] = v;
			param[s->field] = nparams;
		}
		put_param(f, param[s->field], s->quote);
	}
	if (!ms_finish(f, &script, false, err))
		return NULL;
	/* "sh" is $0; the values follow as $1, $2, ... */
	f = ms_open(&line, &llen);
	q = task_shell_quote(script);
	free(script);
	nomem = !q;
	if (f && q)
		fprintf(f, "/bin/sh -c %s%s", q, nparams ? " sh" : "");
	free(q);
	for (k = 0; f && !nomem && k < nparams; k++) {
		q = task_shell_quote(pvals[k]);
		nomem = !q;
		if (q)
			fprintf(f, " %s", q);
		free(q);
	}
	return ms_finish(f, &line, nomem, err);
}
