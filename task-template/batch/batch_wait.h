/*
 * batch_wait: follows a job's tasks until they are all completed, with a
 * progress line, then summarizes the failed ones (`blobmill submit
 * --wait`).
 *
 * Polling costs one request per round (Get Task Counts), whatever the
 * number of tasks; the interval grows while nothing changes and when the
 * service throttles (its Retry-After is honoured, beyond bm_http's own
 * retries), and shrinks back when tasks move. Only the failed tasks are
 * listed at the end ($filter on executionInfo/result).
 */
#ifndef BATCH_WAIT_H
#define BATCH_WAIT_H

#include <stdio.h>

#include "batch_client.h"
#include "bm_error.h"

struct batch_wait_opts {
	double interval_s;     /* first and shortest poll interval (5) */
	double max_interval_s; /* longest interval between polls (60) */
	double timeout_s;      /* give up after this long; 0: never */
	int max_errors;	       /* consecutive transient errors tolerated (10) */
};

void batch_wait_opts_default(struct batch_wait_opts *o);

/*
 * Polls until no task is active or running and at least `expected` tasks
 * are completed. Progress goes to `progress` (rewritten in place on a
 * terminal, one line per change otherwise). *final receives the last
 * counts. -1 with err set on a lasting error or the timeout.
 */
int batch_wait_job(struct batch_client *c, const char *job_id, long expected,
		   const struct batch_wait_opts *o, FILE *progress,
		   struct batch_task_counts *final, struct bm_error *err);

/*
 * Prints one entry per failed task of the job to out: id, input blob,
 * exit code or failure code and message, and where its stdout.txt and
 * stderr.txt are. Returns the number of failed tasks, -1 with err set.
 */
long batch_report_failures(struct batch_client *c, const char *job_id,
			   FILE *out, struct bm_error *err);

#endif
