/*
 * tt_suggest: "did you mean ...?" for a mistyped word (an option, a
 * command, a placeholder): the candidate nearest by edit distance, when it
 * is near enough to be what the user meant rather than a guess.
 *
 * Distance is optimal string alignment (Levenshtein plus the swap of two
 * neighbours, the commonest typo: --imgae). Words are compared byte for
 * byte; they are ASCII option and placeholder names.
 */
#include <stdlib.h>
#include <string.h>

#include "tasktemplate.h"

/* Longest word compared: option names are far shorter; a longer word is
 * not a typo of one. */
#define TT_SUGGEST_MAX 64

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

size_t tt_edit_distance(const char *a, size_t alen, const char *b, size_t blen)
{
	/* The whole table: at most 65 x 65 entries. */
	size_t d[TT_SUGGEST_MAX + 1][TT_SUGGEST_MAX + 1];
	size_t i, j;

	if (alen > TT_SUGGEST_MAX || blen > TT_SUGGEST_MAX)
		return (size_t)-1;
	for (i = 0; i <= alen; i++)
		d[i][0] = i;
	for (j = 0; j <= blen; j++)
		d[0][j] = j;
	for (i = 1; i <= alen; i++) {
		for (j = 1; j <= blen; j++) {
			size_t cost = a[i - 1] != b[j - 1];

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
				       d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[alen][blen];
}

const char *tt_suggest(const char *word, size_t len, const char *const *cands,
		       size_t ncands)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, i;
	/* A third of the word, at least 1 and at most 3 edits: "ls" is not
	 * a typo of "rb", "imgae" is one of "image". */
	size_t limit = len / 3 < 1 ? 1 : len / 3 > 3 ? 3 : len / 3;

	for (i = 0; i < ncands; i++) {
		size_t d;

		if (!cands[i])
			continue;
		d = tt_edit_distance(word, len, cands[i], strlen(cands[i]));
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	return best_d <= limit ? best : NULL;
}
