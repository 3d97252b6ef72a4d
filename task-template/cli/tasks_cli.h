/*
 * tasks_cli.h: what `blobmill tasks`, `run` (and `submit`) share on top of
 * libtasktemplate: one struct that takes the credential and template
 * options, then opens the client, the spec, the --skip-existing set and
 * the streaming iterator in that order, and releases them in reverse.
 */
#ifndef BM_TASKS_CLI_H
#define BM_TASKS_CLI_H

#include <stdio.h>

#include "cli.h"
#include "runner.h"
#include "tasktemplate.h"

struct tasks_job {
	const char *cmd; /* "tasks", "run", ... for messages */
	struct cli_cred cred;
	struct tt_options topt;
	struct bm_config cfg; /* finished by tasks_job_open */
	struct bm_blob_client *client;
	struct tt_spec *spec;
	struct task_existing *existing; /* --skip-existing only */
	struct tt_iter *iter;
	int page_size; /* 0: service default */
	/* Called (when set) for every selected blob the listing skips,
	 * before a blob that cannot become a task is named on stderr. */
	tt_skip_fn on_skip;
	void *skip_ud;
};

void tasks_job_init(struct tasks_job *j, const char *cmd);

/* A credential or template option: 1 handled, -1 bad value (message
 * printed), 0 not one of these. */
int tasks_job_option(struct tasks_job *j, int opt, const char *arg);

/* Checks the options, opens the client, lists the output container once
 * for --skip-existing, and opens the iterator, which names on stderr each
 * blob that cannot become a task ("CMD: skipped blob 'NAME': REASON"). Prints
 * one line and returns TERM_EXIT_USAGE or TERM_EXIT_FAILURE on error,
 * TERM_EXIT_OK otherwise. */
int tasks_job_open(struct tasks_job *j);

/* The line a command ends with when blobs were skipped as impossible
 * (nothing when none was). Returns whether any was: the command then
 * exits 1 so that a script notices. */
bool tasks_job_invalid_summary(const struct tasks_job *j);

/* Frees everything; safe after a failed open. */
void tasks_job_release(struct tasks_job *j);

/* Reports a listing error of the input (input true) or output container.
 * term_report prints only the category when an HTTP status is known, so
 * the container is named in the subject then. */
void tasks_report(const struct tasks_job *j, bool input,
		  const struct bm_error *err);

/* Prints the template and credential options' help. */
void tasks_job_help(FILE *out);

/* Writes s exactly, or C-quoted when it holds a byte that would break the
 * line (term_print_name): --dry-run shows the very commandLine of the JSON. */
void tasks_print_escaped(FILE *out, const char *s);

/* --- `run` (run_preflight.c) --- */

/*
 * Before the first task (run_preflight.c): the input and output
 * containers exist, and with docker or podman the image is in the store
 * or pulled once. Prints one line saying what to do and returns a
 * TERM_EXIT_* code.
 */
int run_preflight(struct tasks_job *j, enum run_runtime rt);

#endif
