/*
 * task_report: the JSON-lines report of `run --report` and
 * `submit --wait --report` (see task.h for the fields).
 *
 * One line per call, written with jansson and flushed at once: a reader
 * (or a crash) sees whole lines only, and never the ones not yet known.
 * Does not decide states; its callers do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "task.h"

struct task_report {
	FILE *f;
	char *path;
	int write_errno; /* first write error, 0 if none */
};

int task_report_open(const char *path, struct task_report **out,
		     struct bm_error *err)
{
	struct task_report *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r || !(r->path = strdup(path))) {
		free(r);
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	r->f = fopen(path, "we");
	if (!r->f) {
		bm_error_set(err, BM_ERR_IO, "cannot create report '%s': %s",
			     path, strerror(errno));
		free(r->path);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

static json_t *str_or_null(const char *s)
{
	/* json_string refuses invalid UTF-8; a name from a listing is
	 * always valid, so this is only a guard. */
	json_t *j = s ? json_string(s) : NULL;

	return j ? j : json_null();
}

void task_report_write(struct task_report *r, const struct task_report_line *l)
{
	json_t *o;
	int bad;

	if (!r || r->write_errno)
		return;
	o = json_object();
	bad = !o;
	bad |= json_object_set_new(o, "blob", str_or_null(l->blob));
	bad |= json_object_set_new(o, "task_id", str_or_null(l->task_id));
	bad |= json_object_set_new(o, "state", str_or_null(l->state));
	bad |= json_object_set_new(o, "exit_code",
				   l->has_exit_code ? json_integer(l->exit_code)
						    : json_null());
	bad |= json_object_set_new(
	    o, "duration_s",
	    l->duration_s >= 0
		? json_real((double)(long long)(l->duration_s * 1000) / 1000)
		: json_null());
	bad |= json_object_set_new(o, "retries",
				   l->retries >= 0 ? json_integer(l->retries)
						   : json_null());
	bad |= json_object_set_new(o, "output", str_or_null(l->output));
	bad |= json_object_set_new(o, "output_exists",
				   l->output_exists < 0
				       ? json_null()
				       : json_boolean(l->output_exists));
	if (l->reason)
		bad |= json_object_set_new(o, "reason", str_or_null(l->reason));
	if (bad || json_dumpf(o, r->f, JSON_COMPACT | JSON_REAL_PRECISION(9)) ||
	    fputc('\n', r->f) == EOF || fflush(r->f))
		r->write_errno = errno ? errno : ENOMEM;
	json_decref(o);
}

void task_report_skip(struct task_report *r, const struct task_skip *sk)
{
	bool existing = sk->kind == TASK_SKIP_EXISTING;
	struct task_report_line l = {
	    .blob = sk->blob,
	    .task_id = sk->id,
	    .state = existing ? "skipped-existing" : "invalid",
	    .duration_s = -1,
	    .retries = -1,
	    .output = sk->output_name,
	    .output_exists = existing ? 1 : -1,
	    .reason = sk->reason,
	};

	task_report_write(r, &l);
}

int task_report_close(struct task_report *r, struct bm_error *err)
{
	int rc = 0;

	if (!r)
		return 0;
	if (fclose(r->f) && !r->write_errno)
		r->write_errno = errno;
	if (r->write_errno) {
		bm_error_set(err, BM_ERR_IO,
			     "cannot write report '%s': %s; it is incomplete",
			     r->path, strerror(r->write_errno));
		rc = -1;
	}
	free(r->path);
	free(r);
	return rc;
}
