/*
 * task.h: what a task IS, below every folder that makes, submits or runs
 * one: the task (id, blob, output name, command line, container settings),
 * its Batch JSON, the shell words of a command line, the names already in
 * the output container (--skip-existing), a blob passed over, and the
 * JSON Lines report of a run.
 *
 * template/ makes tasks from blobs; batch/ submits them; runner/ runs
 * them; cli/ drives all three. Each includes this header and none
 * includes another's (tests/integration/t-include-layers.sh checks it).
 *
 * What it does not do: templates, listings of the input, Azure Batch
 * requests, processes, or printing. Errors come back in a struct bm_error.
 */
#ifndef BM_TASK_H
#define BM_TASK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bm_blob.h"
#include "bm_error.h"

/* ------------------------------------------------------------------ */
/* Command lines: how Batch (and `blobmill run`) splits them           */
/* ------------------------------------------------------------------ */

/* 'value' with each ' written as '\'' — one word for task_cmdline_split and
 * for a POSIX shell. malloc()ed, NULL on allocation failure. */
char *task_shell_quote(const char *value);

/*
 * Splits a command line into words like Batch does on Linux (and like a
 * POSIX shell does, minus every expansion): blanks (space, tab, newline)
 * separate words; '...' is literal; "..." is literal except \" \\ \$ \`
 * and \newline; outside quotes a backslash quotes the next byte. Returns a
 * NULL-terminated array (free with task_argv_free) in *argv_out, count in
 * *argc_out (may be NULL). An unterminated quote is an error.
 */
int task_cmdline_split(const char *line, char ***argv_out, size_t *argc_out,
		       struct bm_error *err);
void task_argv_free(char **argv);

/* ------------------------------------------------------------------ */
/* Task ids                                                            */
/* ------------------------------------------------------------------ */

#define TASK_ID_MAX 64

/*
 * Writes the task id of blob `name` into id (TASK_ID_MAX + 1 bytes):
 * its basename with every byte outside [A-Za-z0-9_-] turned into '_'
 * (at most 47 bytes), '-', then 16 lowercase hex digits of SHA-256 of the
 * full name. Deterministic; names that differ only in case (or only in
 * the bytes turned into '_') still differ in the hash, which is lowercase,
 * so ids stay unique without regard to case.
 */
void task_make_id(const char *name, char id[TASK_ID_MAX + 1]);

/* ------------------------------------------------------------------ */
/* Tasks                                                               */
/* ------------------------------------------------------------------ */

/* Container settings shared by every task of a spec. */
struct task_container {
	const char *image;
	const char *run_options; /* "" allowed */
	const char *registry;	 /* NULL: public image */
	const char *registry_user;
	const char *registry_password; /* goes into the JSON, never argv */
	char *const *env; /* --env NAME=VALUE, NULL-ended; may be NULL */
	/* run_options names --workdir/-w: Batch must then use the image's
	 * working directory (workingDirectory=containerImageDefault) instead
	 * of the task directory, or it would override the user's choice. */
	bool workdir_image_default;
};

/* One task. Owned by whoever made it (the iterator, or tt_task_make). */
struct task {
	char id[TASK_ID_MAX + 1];
	char *blob;	    /* input blob name */
	uint64_t index;	    /* position among selected blobs */
	uint64_t size;	    /* input blob size */
	time_t mtime;	    /* input blob Last-Modified */
	char *output_name;  /* name in the output container / under out-dir */
	char *command_line; /* Batch commandLine ("" = image ENTRYPOINT) */
	const struct task_container *container; /* the spec's */
};

/*
 * NULL when name can be a relative path under a directory (in-dir,
 * out-dir, a staging directory), else why not, one line: a leading '/'
 * or an empty, "." or ".." component (it would name another file), or a
 * component longer than NAME_MAX (255 bytes: no Linux file system, a
 * mount neither, holds it). Static string.
 */
const char *task_name_path_problem(const char *name);

/* Frees what a task owns (tt_task_make or the iterator filled it). */
void task_release(struct task *t);

/* The task as a Batch TaskAddParameter: id, displayName (the blob name,
 * cut to 1,024 bytes), commandLine, containerSettings {imageName,
 * containerRunOptions, registry, workingDirectory}. New reference (caller
 * json_decref()s); NULL on allocation failure or when a string is not
 * valid UTF-8 (never for names from Azure, whose listings are XML). */
json_t *task_to_json(const struct task *t);

/* Names (and Last-Modified) of the blobs in the output container, from one
 * listing, for --skip-existing. */
struct task_existing;

/* Lists `container` once (all pages). *out is malloc()ed; task_existing_free.
 * A missing container is an empty set (nothing exists yet). */
int task_existing_load(struct bm_blob_client *c, const char *container,
		       struct task_existing **out, struct bm_error *err);
void task_existing_free(struct task_existing *e);
/* True when `output_name` exists and is at least as new as input_mtime. */
bool task_existing_covers(const struct task_existing *e,
			  const char *output_name, time_t input_mtime);

/* A selected blob that tt_iter_next passes over, for the callback. */
enum task_skip_kind {
	TASK_SKIP_EXISTING, /* its output exists and is newer */
	TASK_SKIP_INVALID,  /* it cannot become a task */
};

struct task_skip {
	enum task_skip_kind kind;
	const char *blob;
	const char *id;		 /* the task id it has or would have had */
	const char *output_name; /* NULL when it has none (invalid) */
	const char *reason;	 /* TASK_SKIP_INVALID: why, one line */
	uint64_t index;		 /* position among the selected blobs */
};

/*
 * task_report: `--report FILE` of `blobmill run` and `submit --wait`:
 * one JSON object per line per selected blob, what a nightly job's owner
 * reads in the morning. Each line is flushed as it is written, so a run
 * that dies leaves the lines of the results it had.
 *
 * Fields (null when not known): blob, task_id, state ("succeeded",
 * "failed", "skipped-existing", "invalid", "not-added", or Batch's own
 * state of a task still unfinished when `submit --wait` stopped),
 * exit_code, duration_s, retries, output, output_exists, reason.
 */

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
void task_report_skip(struct task_report *r, const struct task_skip *sk);

/* Closes the file (NULL: nothing). -1 with err set if any line could not
 * be written; the caller tells the user (the report is incomplete). */
int task_report_close(struct task_report *r, struct bm_error *err);

#endif
