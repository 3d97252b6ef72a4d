/*
 * submit.h: what the two files of `blobmill submit` share: the parsed
 * command line (submit_options.c) that the job, tasks and schedule steps
 * (cmd_submit.c) act on.
 */
#ifndef BM_SUBMIT_H
#define BM_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "batch.h"
#include "tasks_cli.h"

/* Where blobmill-startup installs the CLI on a node (its --prefix). */
#define SUBMIT_NODE_BLOBMILL "/opt/blobmill/bin/blobmill"
#define SUBMIT_JOB_MANAGER_ID "blobmill-submit"
/* The job manager's registry password travels in this variable. */
#define SUBMIT_REGISTRY_ENV "BLOBMILL_REGISTRY_PASSWORD"

struct submit {
	struct tasks_job job; /* credentials, template, input listing */
	struct pool_settings pool;
	const char *pool_id;
	const char *job_id;
	const char *schedule;
	const char *start;
	const char *batch_url;
	const char *batch_account;
	const char *batch_key_file;
	const char *node_blobmill;
	const char *report_path;     /* --report FILE (with --wait) */
	struct batch_report *report; /* open while tasks are added */
	bool wait;
	bool auto_pool;
	struct batch_add_opts add;
	struct batch_wait_opts wopts;
	/* Options the job manager of a schedule repeats: "--name", value. */
	const char **fwd;
	size_t nfwd;
};

/* Parses and checks the command line into s (initialised by the caller).
 * 0 to go on, 1 after --help, -1 after a message (a usage error). */
int submit_parse(struct submit *s, int argc, char **argv);

/* Adds "--name", value to the options a schedule's job manager repeats;
 * -1 when out of memory (the caller says so). */
int submit_forward(struct submit *s, const char *name, const char *value);

#endif
