/*
 * batch_add: adds a stream of tasks to one job with addtaskcollection.
 *
 * Tasks are packed into chunks of at most 100 tasks and under 1 MB of
 * JSON, the service's limits, and several chunks are in flight at once
 * (worker threads; the producer blocks while all are busy, so memory stays
 * bounded whatever the number of tasks). Per chunk:
 *   - 413: the chunk is split in halves, and later chunks are no larger
 *     than the half (the service's real limit is below ours);
 *   - servererror results: those tasks are sent again, with backoff, up
 *     to a bounded number of attempts;
 *   - clienterror results: the task is not added; its id and the
 *     service's code and message are kept for the report;
 *   - TaskExists: the task is in the job (the caller skipped the ids that
 *     existed before it started, so this is an earlier attempt of ours that
 *     the service applied but whose reply was lost) and counts as added;
 *   - a request that fails as a whole (network, throttling past bm_http's
 *     retry budget) is tried again like servererror; then its tasks are
 *     reported as not confirmed.
 * The report names every task that was not added, so no partial job is
 * silent; a rerun (which skips existing ids) adds exactly those.
 */
#ifndef BATCH_ADD_H
#define BATCH_ADD_H

#include <jansson.h>
#include <stddef.h>

#include "batch_client.h"
#include "bm_error.h"

#define BATCH_ADD_MAX_TASKS 100
/* "Under 1 MB": below both 10^6 and 2^20 bytes. */
#define BATCH_ADD_MAX_BYTES 1000000

struct batch_add_opts {
	int parallel;	  /* requests in flight (default 4) */
	int max_attempts; /* per task, for servererror (default 5) */
	size_t max_tasks; /* per request (default BATCH_ADD_MAX_TASKS) */
	size_t max_bytes; /* per request body (default BATCH_ADD_MAX_BYTES) */
	long backoff_ms;  /* first wait before a retry (default 500) */
};

void batch_add_opts_default(struct batch_add_opts *o);

/* One task that was not added. */
struct batch_add_failure {
	char *task_id;
	char *blob;   /* the task's displayName (its input blob), or NULL */
	char *reason; /* one line: "TaskExists: ...", "request failed: ..." */
};

struct batch_add_report {
	size_t submitted; /* tasks handed to batch_adder_add */
	size_t added;	  /* now in the job (TaskExists included) */
	size_t requests;  /* addtaskcollection requests sent */
	size_t splits;	  /* chunks halved after a 413 */
	struct batch_add_failure *failures; /* malloc()ed array */
	size_t nfailures;
};

/* Frees the failures and zeroes the report. */
void batch_add_report_release(struct batch_add_report *r);

struct batch_adder;

/* Starts the workers. c must outlive the adder. */
struct batch_adder *batch_adder_new(struct batch_client *c, const char *job_id,
				    const struct batch_add_opts *o,
				    struct bm_error *err);

/*
 * Queues one TaskAddParameter (borrowed: it is serialized at once). May
 * block while every worker is busy. -1 with err set only when the task
 * cannot be queued at all (no memory); a task the service refuses is a
 * failure in the report, not an error here.
 */
int batch_adder_add(struct batch_adder *a, const json_t *task,
		    struct bm_error *err);

/* Sends what is queued, waits for every request, fills *r (the caller
 * releases it) and frees the adder. */
void batch_adder_finish(struct batch_adder *a, struct batch_add_report *r);

#endif
