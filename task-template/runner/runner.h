/*
 * runner.h: how `blobmill run` turns one task into a process: the argv
 * for docker, podman or the host runtime (bubblewrap), the run options'
 * volume mappings, and staging (download the input, upload the output)
 * when no mounts exist on this machine.
 */
#ifndef BM_RUN_EXEC_H
#define BM_RUN_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "bm_blob.h"
#include "task.h"

enum run_runtime {
	RUN_AUTO,
	RUN_DOCKER,
	RUN_PODMAN,
	RUN_HOST,
};

/* "docker", "podman", "host"; "auto" for RUN_AUTO. Static string. */
const char *run_runtime_name(enum run_runtime rt);

/* Parses --runtime's value; -1 when unknown. */
int run_runtime_parse(const char *s, enum run_runtime *out);

/* Picks the first runtime that works here: docker, podman, then host
 * (bubblewrap). -1 with err set when none does. */
int run_runtime_detect(enum run_runtime *out, struct bm_error *err);

/* What a run takes from the command line, as plain values: the runner
 * knows tasks (task.h), not the options they were made from. The strings
 * must outlive the plan. */
struct run_settings {
	const char *image;
	const char *command;	 /* the --command template; "" = ENTRYPOINT */
	const char *run_options; /* container run options, "" allowed */
	const char *in_dir;	 /* where the task sees the containers */
	const char *out_dir;
	char *const *env; /* --env NAME=VALUE, NULL-ended; may be NULL */
};

/* What a run shares across tasks: the run options, split once. */
struct run_plan {
	enum run_runtime rt;
	const char *image;
	char **run_opts;    /* run options split like Batch splits them */
	const char *in_dir; /* where the task sees the containers */
	const char *out_dir;
	bool stage;		  /* in_dir/out_dir are staged per task */
	const char *host_workdir; /* -w/--workdir for the host runtime */
	char **host_env;	  /* -e/--env K=V for the host runtime */
	char *const *env;	  /* the user's --env NAME=VALUE */
	char **spawn_env; /* environment of the process run_task_argv starts:
			   * never the CLI's AZURE_* (see run_exec.c) */
	struct run_volume *vols; /* host runtime: parsed --volume options */
	size_t nvols;
};

struct run_volume {
	char *src;
	char *dst;
	bool ro;
};

/*
 * Splits and checks the run options. For the host runtime, parses
 * --volume/-v, --workdir/-w and --env/-e; any other run option is named
 * in a warning and ignored (there is no engine to give it to). Without
 * staging, every volume source must exist. -1 with err set.
 */
int run_plan_init(struct run_plan *p, enum run_runtime rt,
		  const struct run_settings *rs, bool stage,
		  struct bm_error *err);
void run_plan_release(struct run_plan *p);

/*
 * The argv that runs task `t` (NULL-terminated; task_argv_free). taskdir is
 * the task's directory; with staging, TASKDIR/in and TASKDIR/out replace
 * the sources of the volumes mounted at in_dir and out_dir (or are added
 * when the run options mount nothing there). -1 with err set, e.g. the
 * host runtime with an empty command.
 */
int run_task_argv(const struct run_plan *p, const struct task *t,
		  const char *taskdir, char ***argv_out, struct bm_error *err);

/* Creates dir and its parents (mode 0755). -1 with errno set. */
int run_mkdir_p(const char *dir);

/* Removes path and everything under it (no error when missing). */
int run_remove_tree(const char *path);

/* Downloads blob container/name to path (parents created). */
int run_stage_in(struct bm_blob_client *c, const char *container,
		 const char *name, const char *path, struct bm_error *err);

/* The host runtime's PATH when blobmill itself has none. */
#define RUN_DEFAULT_PATH                                                       \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Uploads out_dir/name as container/name. The file is opened beneath
 * out_dir without following any symbolic link and must be a regular
 * file: a task's link to a file elsewhere is BM_ERR_INVALID "output '...'
 * refused: ..." (never uploaded); a missing file is BM_ERR_NOT_FOUND
 * "task did not write its output '...'".
 */
int run_stage_out(struct bm_blob_client *c, const char *container,
		  const char *out_dir, const char *name, struct bm_error *err);

#endif
