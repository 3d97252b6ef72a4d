/*
 * batch_report.h: `submit --wait --report FILE`, the task_report lines of
 * a Batch job. While tasks are added it remembers, per task id, the blob
 * and output name of every selected blob (added now or already in the
 * job) and writes at once the lines that are final then (invalid,
 * skipped-existing, not-added); after the wait it writes one line per
 * remembered task from the job's task list (state, exit code, retries,
 * duration from executionInfo) and whether each output exists (one
 * listing of the output container).
 */
#ifndef BM_BATCH_REPORT_H
#define BM_BATCH_REPORT_H

#include "batch_client.h"
#include "bm_blob.h"
#include "tasktemplate.h"

struct batch_report;

/* Creates (truncates) path; *out malloc()ed, batch_report_close. */
int batch_report_open(const char *path, struct batch_report **out,
		      struct bm_error *err);

/* A selected blob's task, added now or already in the job. -1 with err
 * on allocation failure. */
int batch_report_select(struct batch_report *br, const struct tt_task *t,
			struct bm_error *err);

/* The line of a blob the listing skipped. */
void batch_report_skip(struct batch_report *br, const struct tt_skip *sk);

/* The line of a task that could not be added. */
void batch_report_not_added(struct batch_report *br, const char *task_id,
			    const char *blob, const char *reason);

/*
 * The lines of the selected tasks, from GET /jobs/JOB/tasks; output
 * (may be NULL: output_exists null) is listed once through c. -1 with
 * err set when the task list cannot be read (lines already written stay).
 */
int batch_report_finish(struct batch_report *br, struct batch_client *bc,
			const char *job_id, struct bm_blob_client *c,
			const char *output, struct bm_error *err);

/* Frees br (NULL: nothing); -1 with err set if the file is incomplete. */
int batch_report_close(struct batch_report *br, struct bm_error *err);

#endif
