/*
 * task_shell: the two halves of the command-line contract with Azure Batch.
 *
 * Batch does not run a task's commandLine through a shell. On Linux it
 * splits it into argv the way a POSIX shell splits words, without any
 * expansion: blanks separate words, single quotes keep everything literal,
 * double quotes and backslashes escape. We therefore only ever produce
 * words in the one form both Batch and every POSIX shell read the same
 * way: 'literal' with each ' written as '\'' (task_shell_quote). The local
 * runner splits with task_cmdline_split, so a task sees the same argv on
 * this machine as on a node.
 *
 * Not here: templates (tt_template.c) and running anything (cmd_run.c).
 */
#include <stdlib.h>
#include <string.h>

#include "task.h"

char *task_shell_quote(const char *value)
{
	size_t n = 2, i, j = 0;
	char *out;

	for (i = 0; value[i]; i++)
		n += value[i] == '\'' ? 4 : 1;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	out[j++] = '\'';
	for (i = 0; value[i]; i++) {
		if (value[i] == '\'') {
			/* close the quote, an escaped quote, reopen */
			memcpy(out + j, "'\\''", 4);
			j += 4;
		} else {
			out[j++] = value[i];
		}
	}
	out[j++] = '\'';
	out[j] = '\0';
	return out;
}

void task_argv_free(char **argv)
{
	size_t i;

	if (!argv)
		return;
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* A growing word and a growing argv; both freed by the caller on error. */
struct split_state {
	char **argv;
	size_t argc, cap;
	char *word;
	size_t len, wcap;
	bool in_word;
};

static int word_add(struct split_state *s, char c)
{
	if (s->len + 2 > s->wcap) {
		size_t ncap = s->wcap ? s->wcap * 2 : 64;
		char *w = realloc(s->word, ncap);

		if (!w)
			return -1;
		s->word = w;
		s->wcap = ncap;
	}
	s->word[s->len++] = c;
	s->in_word = true;
	return 0;
}

static int word_end(struct split_state *s)
{
	char *w;

	if (!s->in_word)
		return 0;
	if (s->argc + 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 8;
		char **a = realloc(s->argv, ncap * sizeof(*a));

		if (!a)
			return -1;
		s->argv = a;
		s->cap = ncap;
	}
	w = malloc(s->len + 1);
	if (!w)
		return -1;
	if (s->len) /* an empty word ('') has no buffer yet */
		memcpy(w, s->word, s->len);
	w[s->len] = '\0';
	s->argv[s->argc++] = w;
	s->argv[s->argc] = NULL;
	s->len = 0;
	s->in_word = false;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* Inside double quotes a backslash escapes only these (POSIX 2.2.3). */
static bool dq_escapable(char c)
{
	return c == '"' || c == '\\' || c == '$' || c == '`' || c == '\n';
}

int task_cmdline_split(const char *line, char ***argv_out, size_t *argc_out,
		       struct bm_error *err)
{
	struct split_state s = {0};
	size_t i = 0, open_col = 0;
	enum { Q_NONE, Q_SINGLE, Q_DOUBLE } q = Q_NONE;
	int rc = -1;

	*argv_out = NULL;
	for (i = 0; line[i]; i++) {
		char c = line[i];

		if (q == Q_SINGLE) {
			if (c == '\'')
				q = Q_NONE;
			else if (word_add(&s, c))
				goto nomem;
		} else if (q == Q_DOUBLE) {
			if (c == '"') {
				q = Q_NONE;
			} else if (c == '\\' && line[i + 1] &&
				   dq_escapable(line[i + 1])) {
				i++;
				if (line[i] != '\n' && word_add(&s, line[i]))
					goto nomem;
			} else if (word_add(&s, c)) {
				goto nomem;
			}
		} else if (is_blank(c)) {
			if (word_end(&s))
				goto nomem;
		} else if (c == '\'' || c == '"') {
			q = c == '\'' ? Q_SINGLE : Q_DOUBLE;
			open_col = i + 1;
			s.in_word = true; /* '' is an empty word */
		} else if (c == '\\' && line[i + 1]) {
			i++;
			/* backslash-newline joins lines and adds nothing */
			if (line[i] != '\n' && word_add(&s, line[i]))
				goto nomem;
		} else if (word_add(&s, c)) {
			goto nomem;
		}
	}
	if (q != Q_NONE) {
		bm_error_set(err, BM_ERR_INVALID,
			     "unterminated %s quote at column %zu",
			     q == Q_SINGLE ? "single" : "double", open_col);
		goto out;
	}
	if (word_end(&s))
		goto nomem;
	if (!s.argv) {
		s.argv = calloc(1, sizeof(*s.argv));
		if (!s.argv)
			goto nomem;
	}
	*argv_out = s.argv;
	if (argc_out)
		*argc_out = s.argc;
	s.argv = NULL;
	rc = 0;
	goto out;
nomem:
	bm_error_set(err, BM_ERR_NOMEM,
		     "out of memory splitting a command line");
out:
	task_argv_free(s.argv);
	free(s.word);
	return rc;
}
