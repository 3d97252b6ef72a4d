/*
 * batch_report: the report of `submit --wait --report` (batch_report.h).
 *
 * Memory: one entry (task id, blob name, output name) per selected blob,
 * the only record of what each task's output is called ({index} and the
 * output template make it) and of the full blob name (displayName is cut
 * to 1,024 bytes). Sorted by id once, before the task list is read, and
 * searched by bisection, without regard to case like Batch's ids.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "batch.h"

struct selected {
	char id[TASK_ID_MAX + 1];
	char *blob;
	char *output;
	bool seen; /* in the task list */
};

struct batch_report {
	struct task_report *out;
	struct selected *sel;
	size_t n, cap;
};

int batch_report_open(const char *path, struct batch_report **out,
		      struct bm_error *err)
{
	struct batch_report *br = calloc(1, sizeof(*br));

	*out = NULL;
	if (!br) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (task_report_open(path, &br->out, err)) {
		free(br);
		return -1;
	}
	*out = br;
	return 0;
}

int batch_report_select(struct batch_report *br, const struct task *t,
			struct bm_error *err)
{
	struct selected *e;

	if (br->n == br->cap) {
		size_t cap = br->cap ? br->cap * 2 : 256;

		e = realloc(br->sel, cap * sizeof(*e));
		if (!e)
			goto nomem;
		br->sel = e;
		br->cap = cap;
	}
	e = &br->sel[br->n];
	memset(e, 0, sizeof(*e));
	memcpy(e->id, t->id, sizeof(e->id));
	e->blob = strdup(t->blob);
	e->output = strdup(t->output_name);
	if (!e->blob || !e->output) {
		free(e->blob);
		free(e->output);
		goto nomem;
	}
	br->n++;
	return 0;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	return -1;
}

void batch_report_skip(struct batch_report *br, const struct task_skip *sk)
{
	task_report_skip(br->out, sk);
}

static int sel_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct selected *)a)->id,
			  ((const struct selected *)b)->id);
}

static struct selected *sel_find(struct batch_report *br, const char *id)
{
	struct selected key;

	if (!id || strlen(id) > TASK_ID_MAX || !br->n)
		return NULL;
	strcpy(key.id, id);
	return bsearch(&key, br->sel, br->n, sizeof(*br->sel), sel_cmp);
}

void batch_report_not_added(struct batch_report *br, const char *task_id,
			    const char *blob, const char *reason)
{
	struct selected *e = NULL;
	struct task_report_line l = {
	    .blob = blob,
	    .task_id = task_id,
	    .state = "not-added",
	    .duration_s = -1,
	    .retries = -1,
	    .output_exists = -1,
	    .reason = reason,
	};
	size_t i;

	/* Not sorted yet: a short list of failures, a linear search. */
	for (i = 0; i < br->n && !e; i++)
		if (!strcasecmp(br->sel[i].id, task_id))
			e = &br->sel[i];
	if (e) {
		l.blob = e->blob;
		l.output = e->output;
		e->seen = true; /* its line is written */
	}
	task_report_write(br->out, &l);
}

/* Seconds since the epoch of Batch's "2026-01-02T03:04:05.678Z"; -1 when
 * absent or malformed. */
static double iso_time(const char *s)
{
	struct tm tm;
	const char *p;
	double frac = 0;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		frac = strtod(p, NULL);
	return (double)timegm(&tm) + frac;
}

struct finish_ctx {
	struct batch_report *br;
	const struct task_existing *existing;
	bool list_outputs;
};

static int finish_one(json_t *task, void *ud)
{
	struct finish_ctx *fc = ud;
	const char *state = json_string_value(json_object_get(task, "state"));
	json_t *ei = json_object_get(task, "executionInfo");
	json_t *code = json_object_get(ei, "exitCode");
	const char *result = json_string_value(json_object_get(ei, "result"));
	double t0 =
	    iso_time(json_string_value(json_object_get(ei, "startTime")));
	double t1 = iso_time(json_string_value(json_object_get(ei, "endTime")));
	json_t *retries = json_object_get(ei, "retryCount");
	struct selected *e =
	    sel_find(fc->br, json_string_value(json_object_get(task, "id")));
	struct task_report_line l = {0};

	if (!e || e->seen)
		return 0; /* not one of this selection's blobs */
	e->seen = true;
	l.blob = e->blob;
	l.task_id = e->id;
	l.state = state ? state : "unknown";
	if (state && !strcmp(state, "completed"))
		l.state = result && !strcmp(result, "success") ? "succeeded"
							       : "failed";
	l.has_exit_code = json_is_integer(code);
	l.exit_code = (int)json_integer_value(code);
	l.duration_s = t0 >= 0 && t1 >= t0 ? t1 - t0 : -1;
	l.retries =
	    json_is_integer(retries) ? (int)json_integer_value(retries) : -1;
	l.output = e->output;
	l.output_exists =
	    fc->list_outputs
		? task_existing_covers(fc->existing, e->output, 0) ? 1 : 0
		: -1;
	l.reason = json_string_value(
	    json_object_get(json_object_get(ei, "failureInfo"), "message"));
	task_report_write(fc->br->out, &l);
	return 0;
}

int batch_report_finish(struct batch_report *br, struct batch_client *bc,
			const char *job_id, struct bm_blob_client *c,
			const char *output, struct bm_error *err)
{
	struct finish_ctx fc = {.br = br};
	struct task_existing *ex = NULL;
	int rc;

	if (br->n)
		qsort(br->sel, br->n, sizeof(*br->sel), sel_cmp);
	if (output && c) {
		if (task_existing_load(c, output, &ex, err))
			return -1;
		fc.existing = ex;
		fc.list_outputs = true;
	}
	rc = batch_task_list(bc, job_id, "id,state,executionInfo", NULL,
			     finish_one, &fc, err);
	task_existing_free(ex);
	return rc;
}

int batch_report_close(struct batch_report *br, struct bm_error *err)
{
	size_t i;
	int rc;

	if (!br)
		return 0;
	rc = task_report_close(br->out, err);
	for (i = 0; i < br->n; i++) {
		free(br->sel[i].blob);
		free(br->sel[i].output);
	}
	free(br->sel);
	free(br);
	return rc;
}
