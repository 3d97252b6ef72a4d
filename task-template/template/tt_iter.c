/*
 * tt_iter: stream tasks from a listing of the input container, one List
 * Blobs page at a time (the --skip-existing set it consults is
 * task/task_existing.c).
 *
 * Memory: the iterator keeps the names of the current page (at most
 * page_size entries, 5,000 by default) and the current task. The next page
 * is requested only when the current one is used up, so 100,000 blobs
 * never mean 100,000 tasks in memory; tt_iter_stats().page_peak proves it
 * in the tests. A blob that cannot become a task (tt_task_make says why)
 * is passed over, counted and handed to the skip callback, so one odd name
 * never stops the thousands of good ones after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasktemplate.h"

/* ------------------------------------------------------------------ */
/* The iterator                                                        */
/* ------------------------------------------------------------------ */

struct tt_page_entry {
	char *name;
	uint64_t size;
	time_t mtime;
};

struct tt_iter {
	struct bm_blob_client *c;
	const struct tt_spec *s;
	const struct task_existing *existing;
	int page_size;
	struct tt_page_entry *page; /* the current page only */
	size_t n, cap, pos;
	char *marker; /* NextMarker of the current page; NULL: last page */
	bool started;
	bool nomem; /* set by the page callback */
	uint64_t next_index;
	tt_skip_fn on_skip;
	void *skip_ud;
	struct task cur;
	struct tt_iter_stats st;
};

int tt_iter_open(struct bm_blob_client *c, const struct tt_spec *s,
		 const struct task_existing *existing, int page_size,
		 struct tt_iter **out, struct bm_error *err)
{
	struct tt_iter *it = calloc(1, sizeof(*it));

	*out = NULL;
	if (!it) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	it->c = c;
	it->s = s;
	it->existing = existing;
	it->page_size = page_size;
	*out = it;
	return 0;
}

static void page_clear(struct tt_iter *it)
{
	size_t i;

	for (i = 0; i < it->n; i++)
		free(it->page[i].name);
	it->n = 0;
	it->pos = 0;
}

/* Keeps the selected blobs of a page; filters apply here so that a page
 * holds only what will become tasks. */
static int page_add(const struct bm_blob_entry *be, void *ud)
{
	struct tt_iter *it = ud;

	if (be->is_prefix)
		return 0;
	it->st.listed++;
	if (!tt_spec_selects(it->s, be->name, be->is_dir_marker))
		return 0;
	if (it->n == it->cap) {
		size_t ncap = it->cap ? it->cap * 2 : 256;
		struct tt_page_entry *p = realloc(it->page, ncap * sizeof(*p));

		if (!p) {
			it->nomem = true;
			return 1;
		}
		it->page = p;
		it->cap = ncap;
	}
	it->page[it->n].name = strdup(be->name);
	if (!it->page[it->n].name) {
		it->nomem = true;
		return 1;
	}
	it->page[it->n].size = be->size;
	it->page[it->n].mtime = be->mtime;
	it->n++;
	if (it->n > it->st.page_peak)
		it->st.page_peak = it->n;
	return 0;
}

/* Replaces the current page by the next one. */
static int fetch_page(struct tt_iter *it, struct bm_error *err)
{
	const struct tt_options *o = tt_spec_options(it->s);
	struct bm_list_opts lo = {
	    .prefix = o->prefix,
	    .marker = it->marker,
	    .max_results = it->page_size,
	    .include_metadata = true, /* to see directory markers */
	};
	char *next = NULL;
	int rc;

	page_clear(it);
	rc = it->c->ops->list_page(it->c, o->input, &lo, page_add, it, &next,
				   err);
	free(it->marker);
	it->marker = next;
	it->started = true;
	it->st.pages++;
	if (rc) {
		if (it->nomem)
			bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		bm_error_prefix(err, "cannot list input container '%s'",
				o->input);
	}
	return rc;
}

void tt_iter_on_skip(struct tt_iter *it, tt_skip_fn fn, void *ud)
{
	it->on_skip = fn;
	it->skip_ud = ud;
}

static void skip(struct tt_iter *it, enum task_skip_kind kind, const char *name,
		 const char *output_name, const char *reason)
{
	char id[TASK_ID_MAX + 1];
	struct task_skip sk = {
	    .kind = kind,
	    .blob = name,
	    .id = id,
	    .output_name = output_name,
	    .reason = reason,
	    .index = it->next_index - 1,
	};

	if (!it->on_skip)
		return;
	task_make_id(name, id);
	it->on_skip(&sk, it->skip_ud);
}

int tt_iter_next(struct tt_iter *it, const struct task **task,
		 struct bm_error *err)
{
	*task = NULL;
	task_release(&it->cur);
	for (;;) {
		const struct tt_page_entry *pe;

		while (it->pos == it->n) {
			if (it->started && !it->marker)
				return 0;
			if (fetch_page(it, err))
				return -1;
		}
		pe = &it->page[it->pos++];
		it->st.selected++;
		if (tt_task_make(it->s, pe->name, it->next_index++, pe->size,
				 pe->mtime, &it->cur, err)) {
			if (err->code != BM_ERR_INVALID)
				return -1;
			it->st.invalid++;
			skip(it, TASK_SKIP_INVALID, pe->name, NULL, err->msg);
			bm_error_clear(err);
			continue;
		}
		if (task_existing_covers(it->existing, it->cur.output_name,
					 pe->mtime)) {
			it->st.skipped++;
			skip(it, TASK_SKIP_EXISTING, pe->name,
			     it->cur.output_name, NULL);
			task_release(&it->cur);
			continue;
		}
		*task = &it->cur;
		return 1;
	}
}

bool tt_iter_listed_all(const struct tt_iter *it, uint64_t *selected)
{
	if (!it || !it->started || it->marker)
		return false;
	*selected = it->st.selected + (it->n - it->pos);
	return true;
}

void tt_iter_stats(const struct tt_iter *it, struct tt_iter_stats *out)
{
	*out = it->st;
}

void tt_iter_free(struct tt_iter *it)
{
	if (!it)
		return;
	task_release(&it->cur);
	page_clear(it);
	free(it->page);
	free(it->marker);
	free(it);
}
