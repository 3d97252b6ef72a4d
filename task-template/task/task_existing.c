/*
 * task_existing: the names already in the output container, for
 * --skip-existing. The one structure of a run that grows with a
 * container: one name and time per existing output, sorted, searched by
 * bisection, filled by one listing instead of one request per blob.
 * template/'s iterator and batch/'s report both ask it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"

/* ------------------------------------------------------------------ */
/* Existing outputs                                                    */
/* ------------------------------------------------------------------ */

struct task_existing_entry {
	char *name;
	time_t mtime;
};

struct task_existing {
	struct task_existing_entry *e;
	size_t n, cap;
	bool nomem;
};

static int existing_add(const struct bm_blob_entry *be, void *ud)
{
	struct task_existing *ex = ud;

	if (be->is_prefix || be->is_dir_marker)
		return 0;
	if (ex->n == ex->cap) {
		size_t ncap = ex->cap ? ex->cap * 2 : 1024;
		struct task_existing_entry *e =
		    realloc(ex->e, ncap * sizeof(*e));

		if (!e) {
			ex->nomem = true;
			return 1;
		}
		ex->e = e;
		ex->cap = ncap;
	}
	ex->e[ex->n].name = strdup(be->name);
	if (!ex->e[ex->n].name) {
		ex->nomem = true;
		return 1;
	}
	ex->e[ex->n++].mtime = be->mtime;
	return 0;
}

static int existing_cmp(const void *a, const void *b)
{
	return strcmp(((const struct task_existing_entry *)a)->name,
		      ((const struct task_existing_entry *)b)->name);
}

int task_existing_load(struct bm_blob_client *c, const char *container,
		       struct task_existing **out, struct bm_error *err)
{
	struct task_existing *ex = calloc(1, sizeof(*ex));
	struct bm_list_opts lo = {.include_metadata = true};
	struct bm_error lerr;

	*out = NULL;
	if (!ex) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	bm_error_clear(&lerr);
	if (bm_blob_list_all(c, container, &lo, existing_add, ex, &lerr)) {
		if (ex->nomem) {
			bm_error_set(err, BM_ERR_NOMEM,
				     "out of memory listing output container "
				     "'%s'",
				     container);
		} else if (lerr.code != BM_ERR_NO_CONTAINER) {
			/* A missing output container just means no output
			 * exists yet; anything else is an error. */
			*err = lerr;
			bm_error_prefix(err,
					"cannot list output container '%s'",
					container);
		}
		if (ex->nomem || lerr.code != BM_ERR_NO_CONTAINER) {
			task_existing_free(ex);
			return -1;
		}
	}
	/* Listings come sorted, but by the service's collation; sort by
	 * bytes so bsearch agrees with strcmp. */
	if (ex->n)
		qsort(ex->e, ex->n, sizeof(*ex->e), existing_cmp);
	*out = ex;
	return 0;
}

void task_existing_free(struct task_existing *ex)
{
	size_t i;

	if (!ex)
		return;
	for (i = 0; i < ex->n; i++)
		free(ex->e[i].name);
	free(ex->e);
	free(ex);
}

bool task_existing_covers(const struct task_existing *ex,
			  const char *output_name, time_t input_mtime)
{
	struct task_existing_entry key = {.name = (char *)output_name};
	const struct task_existing_entry *hit;

	if (!ex || !ex->n)
		return false;
	hit = bsearch(&key, ex->e, ex->n, sizeof(*ex->e), existing_cmp);
	/* Last-Modified has one-second resolution: an output written in the
	 * same second as its input counts as newer. */
	return hit && hit->mtime >= input_mtime;
}
