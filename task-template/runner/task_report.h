/*
 * task_report.h: `--report FILE` of `blobmill run` and `submit --wait`:
 * one JSON object per line per selected blob, what a nightly job's owner
 * reads in the morning. Each line is flushed as it is written, so a run
 * that dies leaves the lines of the results it had.
 *
 * Fields (null when not known): blob, task_id, state ("succeeded",
 * "failed", "skipped-existing", "invalid", "not-added", or Batch's own
 * state of a task still unfinished when `submit --wait` stopped),
 * exit_code, duration_s, retries, output, output_exists, reason.
 */
#ifndef BM_TASK_REPORT_H
#define BM_TASK_REPORT_H

#include <stdbool.h>

#include "bm_error.h"
#include "tasktemplate.h"

struct task_report;

struct task_report_line {
	const char *blob;
	const char *task_id; /* NULL: null */
	const char *state;
	bool has_exit_code;
	int exit_code;
	double duration_s;  /* < 0: null */
	int retries;	    /* < 0: null */
	const char *output; /* NULL: null */
	int output_exists;  /* 1 yes, 0 no, -1 null (not known) */
	const char *reason; /* NULL: no field */
};

/* Creates (truncates) path. *out is malloc()ed; task_report_close. -1
 * with err set when the file cannot be created. */
int task_report_open(const char *path, struct task_report **out,
		     struct bm_error *err);

/* Appends one line and flushes it. The first write error sticks and is
 * returned by task_report_close. */
void task_report_write(struct task_report *r, const struct task_report_line *l);

/* The line of a blob the listing skipped: "skipped-existing" (output
 * exists) or "invalid" (with the reason). */
void task_report_skip(struct task_report *r, const struct tt_skip *sk);

/* Closes the file (NULL: nothing). -1 with err set if any line could not
 * be written; the caller tells the user (the report is incomplete). */
int task_report_close(struct task_report *r, struct bm_error *err);

#endif
