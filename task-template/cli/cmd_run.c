/*
 * cmd_run: `blobmill run`: the tasks `blobmill tasks` would print, run on
 * this machine, up to --parallel at a time.
 *
 * One process, no threads: the main loop takes tasks from the streaming
 * iterator while a slot is free, starts each as a child (run_exec.c says
 * how), and reaps children with waitpid. Each task gets RUN-DIR/TASK-ID/
 * with stdout.txt and stderr.txt, the names Batch uses. A task that exits
 * nonzero is started again up to --max-retries times (Batch's
 * maxTaskRetryCount); the files then hold the last attempt.
 *
 * With --stage the input blob is downloaded before the task starts and the
 * output uploaded after it succeeds, in this loop, one at a time (children
 * keep running meanwhile). Without it, the run options' volumes (the
 * blobmill-fuse mounts) carry the data.
 *
 * Progress: on a terminal one line rewritten in place (done, failed,
 * running, rate, ETA once the listing is complete: the total is not known
 * before); otherwise one plain line per finished task. Failures are always
 * printed. A summary ends the run; the exit status is 1 if any task
 * failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bm_log.h"
#include "runner.h"
#include "tasktemplate.h"
#include "tasks_cli.h"

#define RUN_PARALLEL_MAX 256
#define RUN_RETRIES_MAX 100
#define RUN_REFUSED_MAX 20

/* One running task; the iterator's task is copied because it is only
 * valid until the next tt_iter_next. */
struct run_slot {
	pid_t pid; /* 0: free */
	struct task task;
	char *taskdir;
	unsigned attempt; /* 0 for the first run */
	struct timespec started;
	struct timespec first_started; /* of the first attempt (report) */
	bool exited;		       /* the last attempt exited... */
	int exit_code;		       /* ...with this status */
};

struct runner {
	struct tasks_job job;
	struct run_plan plan;
	enum run_runtime rt;
	int parallel;
	int max_retries;
	bool stage;
	const char *run_dir;
	struct run_slot *slots;
	int running;
	uint64_t started, succeeded, failed, retried;
	struct task_report *report; /* --report FILE, or NULL */
	const char *report_path;
	uint64_t nrefused;		/* outputs the stage-out refused */
	char *refused[RUN_REFUSED_MAX]; /* the first ones, for the summary */
	FILE *failed_file;		/* RUN-DIR/failed.txt */
	char *failed_names[RUN_REFUSED_MAX]; /* the first ones, listed again */
	bool listing_done;
	bool listing_failed;
	bool tty;
	bool progress_shown;
	struct timespec t0;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double since(const struct timespec *t)
{
	return now_s() - ((double)t->tv_sec + (double)t->tv_nsec / 1e9);
}

/* ------------------------------------------------------------------ */
/* Progress                                                            */
/* ------------------------------------------------------------------ */

static void progress_clear(struct runner *r)
{
	if (r->tty && r->progress_shown) {
		fputs("\r\033[K", stderr);
		r->progress_shown = false;
	}
}

static void progress_show(struct runner *r)
{
	struct tt_iter_stats st;
	double el = since(&r->t0);
	uint64_t finished = r->succeeded + r->failed;
	double rate = el > 0 ? (double)finished / el : 0;

	uint64_t selected;

	if (!r->tty)
		return;
	tt_iter_stats(r->job.iter, &st);
	fprintf(stderr,
		"\r\033[Kdone %" PRIu64 ", failed %" PRIu64
		", running %d, %.1f tasks/s",
		r->succeeded, r->failed, r->running, rate);
	/* The total as soon as the last page is in, long before the last
	 * task starts; blobs skipped later leave it as they are found. */
	if (tt_iter_listed_all(r->job.iter, &selected)) {
		uint64_t total = selected - st.skipped - st.invalid;

		fprintf(stderr, ", %" PRIu64 "/%" PRIu64, finished, total);
		if (rate > 0 && total > finished) {
			double eta = (double)(total - finished) / rate;

			fprintf(stderr, ", ETA %d:%02d", (int)eta / 60,
				(int)eta % 60);
		}
	} else {
		fputs(", listing...", stderr);
	}
	fflush(stderr);
	r->progress_shown = true;
}

/* One line about a task: always for failures, else only off a terminal. */
static void task_line(struct runner *r, const struct run_slot *s,
		      const char *what, const char *detail)
{
	bool failure = strcmp(what, "ok") != 0;
	FILE *out = failure ? stderr : stdout;

	if (r->tty && !failure)
		return;
	progress_clear(r);
	fprintf(out, "%s %s ", what, s->task.id);
	tasks_print_escaped(out, s->task.blob);
	fprintf(out, " %.1fs%s%s\n", since(&s->started), *detail ? ": " : "",
		detail);
	fflush(out);
}

/* ------------------------------------------------------------------ */
/* The report (--report FILE)                                          */
/* ------------------------------------------------------------------ */

/* Whether the output blob exists now: known after a staged upload, else
 * one Get Blob Properties; -1 (null) without --output or on an error. */
static int output_exists(struct runner *r, const struct run_slot *s,
			 bool succeeded)
{
	struct bm_blob_info info;
	struct bm_error err;

	if (!r->job.topt.output)
		return -1;
	if (r->stage && succeeded)
		return 1;
	bm_error_clear(&err);
	if (!r->job.client->ops->head(r->job.client, r->job.topt.output,
				      s->task.output_name, &info, &err))
		return 1;
	return err.code == BM_ERR_NOT_FOUND ? 0 : -1;
}

/* The line of a task that ran (or could not start). */
static void report_task(struct runner *r, const struct run_slot *s,
			bool succeeded, const char *reason)
{
	struct task_report_line l = {
	    .blob = s->task.blob,
	    .task_id = s->task.id,
	    .state = succeeded ? "succeeded" : "failed",
	    .has_exit_code = s->exited,
	    .exit_code = s->exit_code,
	    .duration_s = since(&s->first_started),
	    .retries = (int)s->attempt,
	    .output = s->task.output_name,
	    .reason = reason,
	};

	if (!r->report)
		return;
	l.output_exists = output_exists(r, s, succeeded);
	task_report_write(r->report, &l);
}

/* The line of a blob the listing skipped (tasks_job's on_skip). */
static void report_skip(const struct task_skip *sk, void *ud)
{
	struct runner *r = ud;

	progress_clear(r); /* the invalid blob's line follows */
	if (r->report)
		task_report_skip(r->report, sk);
}

/* ------------------------------------------------------------------ */
/* Starting and finishing tasks                                        */
/* ------------------------------------------------------------------ */

static void slot_free(struct run_slot *s)
{
	task_release(&s->task);
	free(s->taskdir);
	memset(s, 0, sizeof(*s));
}

static int slot_take(struct run_slot *s, const struct task *t)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->task.id, t->id, sizeof(s->task.id));
	s->task.blob = strdup(t->blob);
	s->task.output_name = strdup(t->output_name);
	s->task.command_line = strdup(t->command_line);
	s->task.index = t->index;
	s->task.size = t->size;
	s->task.mtime = t->mtime;
	s->task.container = t->container;
	return s->task.blob && s->task.output_name && s->task.command_line ? 0
									   : -1;
}

/* In the child: stdin from /dev/null, stdout/stderr to the task's files,
 * then exec with envp (the plan's spawn_env: none of our secrets). Never
 * returns. */
static void child_exec(const char *taskdir, char **argv, char **envp)
{
	char path[4096];
	int in, out, err;

	snprintf(path, sizeof(path), "%s/stdout.txt", taskdir);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	snprintf(path, sizeof(path), "%s/stderr.txt", taskdir);
	err = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	in = open("/dev/null", O_RDONLY);
	if (out < 0 || err < 0 || in < 0)
		_exit(126);
	dup2(in, 0);
	dup2(out, 1);
	dup2(err, 2);
	/* The default signal dispositions, whatever ours are. */
	signal(SIGPIPE, SIG_DFL);
	execvpe(argv[0], argv, envp);
	dprintf(2, "blobmill: cannot run '%s': %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int slot_spawn(struct runner *r, struct run_slot *s,
		      struct bm_error *err)
{
	char **argv = NULL;
	pid_t pid;

	if (run_task_argv(&r->plan, &s->task, s->taskdir, &argv, err))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		bm_error_set(err, BM_ERR_IO, "cannot start a process: %s",
			     strerror(errno));
		task_argv_free(argv);
		return -1;
	}
	if (pid == 0)
		child_exec(s->taskdir, argv, r->plan.spawn_env);
	task_argv_free(argv);
	s->pid = pid;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	r->running++;
	return 0;
}

/* Directory and staged input of a task that is about to start. */
static int slot_prepare(struct runner *r, struct run_slot *s,
			struct bm_error *err)
{
	const char *why;
	char *in = NULL;
	int rc = -1;

	if (asprintf(&s->taskdir, "%s/%s", r->run_dir, s->task.id) < 0) {
		s->taskdir = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (run_mkdir_p(s->taskdir)) {
		bm_error_set(err, BM_ERR_IO, "cannot create '%s': %s",
			     s->taskdir, strerror(errno));
		return -1;
	}
	if (!r->stage)
		return 0;
	/* The output name passed this test in tt_task_make already. */
	why = task_name_path_problem(s->task.blob);
	if (why) {
		bm_error_set(err, BM_ERR_INVALID, "cannot stage '%s': %s",
			     s->task.blob, why);
		return -1;
	}
	/* Fresh in/ and out/: a rerun must not see an old output. */
	if (asprintf(&in, "%s/in", s->taskdir) < 0) {
		in = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	run_remove_tree(in);
	free(in);
	in = NULL;
	if (asprintf(&in, "%s/out", s->taskdir) >= 0) {
		run_remove_tree(in);
		free(in);
	}
	/* out/ and the output's folders exist before the app runs, even
	 * when the command cannot make them (an image ENTRYPOINT). */
	if (asprintf(&in, "%s/out/%s", s->taskdir, s->task.output_name) < 0) {
		in = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	*strrchr(in, '/') = '\0';
	if (run_mkdir_p(in)) {
		bm_error_set(err, BM_ERR_IO, "cannot create '%s': %s", in,
			     strerror(errno));
		goto out;
	}
	free(in);
	if (asprintf(&in, "%s/in/%s", s->taskdir, s->task.blob) < 0) {
		in = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = run_stage_in(r->job.client, r->job.topt.input, s->task.blob, in,
			  err);
out:
	free(in);
	return rc;
}

/* An output the stage-out refused (a link, not a regular file): kept
 * for the summary, which names the first RUN_REFUSED_MAX of them. */
static void refused_add(struct runner *r, const struct run_slot *s,
			const char *why)
{
	r->nrefused++;
	if (r->nrefused <= RUN_REFUSED_MAX &&
	    asprintf(&r->refused[r->nrefused - 1], "task %s: %s", s->task.id,
		     why) < 0)
		r->refused[r->nrefused - 1] = NULL;
}

static void refused_summary(struct runner *r)
{
	uint64_t i;

	for (i = 0; i < r->nrefused && i < RUN_REFUSED_MAX; i++)
		if (r->refused[i])
			term_errorf("run: %s", r->refused[i]);
	if (r->nrefused > RUN_REFUSED_MAX)
		term_errorf("run: and %" PRIu64 " more refused outputs",
			    r->nrefused - RUN_REFUSED_MAX);
	if (r->nrefused)
		term_errorf("run: %" PRIu64 " outputs refused (not uploaded, "
			    "their tasks count as failed)",
			    r->nrefused);
}

/* After a successful exit: upload the staged output, drop the input. */
static int slot_finish_stage(struct runner *r, struct run_slot *s,
			     struct bm_error *err)
{
	char *path = NULL;
	int rc;

	if (!r->stage)
		return 0;
	if (asprintf(&path, "%s/out", s->taskdir) < 0) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	rc = run_stage_out(r->job.client, r->job.topt.output, path,
			   s->task.output_name, err);
	/* Refused by the stage-out rule, not by the service (which would
	 * have answered with a status). */
	if (rc && err->code == BM_ERR_INVALID && !err->http_status)
		refused_add(r, s, err->msg);
	free(path);
	if (asprintf(&path, "%s/in", s->taskdir) >= 0) {
		run_remove_tree(path);
		free(path);
	}
	return rc;
}

static void task_failed(struct runner *r, struct run_slot *s, const char *why)
{
	const char *blob = s->task.blob ? s->task.blob : "?";
	char detail[700];

	if (r->failed < RUN_REFUSED_MAX)
		r->failed_names[r->failed] = strdup(blob);
	if (r->failed_file) {
		/* One name a line, C-quoted when a line cannot hold it, as
		 * ls prints names. */
		term_print_name(r->failed_file, blob);
		putc('\n', r->failed_file);
		fflush(r->failed_file);
	}
	r->failed++;
	snprintf(detail, sizeof(detail), "%s (see %s/stderr.txt)", why,
		 s->taskdir ? s->taskdir : r->run_dir);
	task_line(r, s, "FAILED", detail);
	report_task(r, s, false, why);
	slot_free(s);
}

/* Takes the next task from the listing into free slot s and starts it. */
static void start_next(struct runner *r, struct run_slot *s)
{
	const struct task *t;
	struct bm_error err;
	int got;

	bm_error_clear(&err);
	got = tt_iter_next(r->job.iter, &t, &err);
	if (got <= 0) {
		r->listing_done = true;
		if (got < 0) {
			progress_clear(r);
			tasks_report(&r->job, true, &err);
			r->listing_failed = true;
		}
		return;
	}
	r->started++;
	if (slot_take(s, t)) {
		bm_error_set(&err, BM_ERR_NOMEM, "out of memory");
		task_failed(r, s, err.msg);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->first_started = s->started;
	if (slot_prepare(r, s, &err) || slot_spawn(r, s, &err))
		task_failed(r, s, err.msg);
}

static void reap(struct runner *r, pid_t pid, int status)
{
	struct run_slot *s = NULL;
	struct bm_error err;
	char why[128];
	int i;

	for (i = 0; i < r->parallel; i++)
		if (r->slots[i].pid == pid)
			s = &r->slots[i];
	if (!s)
		return; /* not ours (cannot happen: we only fork tasks) */
	r->running--;
	s->pid = 0;
	s->exited = WIFEXITED(status);
	s->exit_code = s->exited ? WEXITSTATUS(status) : 0;
	bm_error_clear(&err);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (slot_finish_stage(r, s, &err)) {
			task_failed(r, s, err.msg);
			return;
		}
		r->succeeded++;
		task_line(r, s, "ok", "");
		report_task(r, s, true, NULL);
		slot_free(s);
		return;
	}
	if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exit status %d",
			 WEXITSTATUS(status));
	else
		snprintf(why, sizeof(why), "killed by signal %d",
			 WTERMSIG(status));
	if (s->attempt < (unsigned)r->max_retries) {
		char detail[200];

		s->attempt++;
		r->retried++;
		snprintf(detail, sizeof(detail), "%s, retry %u of %d", why,
			 s->attempt, r->max_retries);
		task_line(r, s, "retry", detail);
		if (slot_spawn(r, s, &err))
			task_failed(r, s, err.msg);
		return;
	}
	if (r->max_retries > 0) {
		size_t n = strlen(why);

		snprintf(why + n, sizeof(why) - n, " after %d attempts",
			 r->max_retries + 1);
	}
	task_failed(r, s, why);
}

/* The failures again, after the run, where they cannot scroll away:
 * the first RUN_REFUSED_MAX names and where the whole list is. */
static void failed_summary(struct runner *r)
{
	uint64_t i;

	if (!r->failed)
		return;
	fprintf(stderr,
		"run: %" PRIu64 " task%s failed (all in %s/failed.txt):\n",
		r->failed, r->failed == 1 ? "" : "s", r->run_dir);
	for (i = 0; i < r->failed && i < RUN_REFUSED_MAX; i++) {
		fputs("  ", stderr);
		term_print_name(stderr,
				r->failed_names[i] ? r->failed_names[i] : "?");
		putc('\n', stderr);
	}
	if (r->failed > RUN_REFUSED_MAX)
		fprintf(stderr, "  ... and %" PRIu64 " more\n",
			r->failed - RUN_REFUSED_MAX);
}

/* Opens RUN-DIR/failed.txt afresh: a rerun's file names only its own
 * failures (and is removed when there are none, at the end). */
static int failed_open(struct runner *r)
{
	char *path = NULL;

	if (asprintf(&path, "%s/failed.txt", r->run_dir) < 0)
		return -1;
	r->failed_file = fopen(path, "w");
	if (!r->failed_file)
		term_errorf("run: cannot create '%s': %s", path,
			    strerror(errno));
	free(path);
	return r->failed_file ? 0 : -1;
}

static void failed_close(struct runner *r)
{
	char *path = NULL;

	if (!r->failed_file)
		return;
	fclose(r->failed_file);
	r->failed_file = NULL;
	if (!r->failed && asprintf(&path, "%s/failed.txt", r->run_dir) >= 0) {
		unlink(path);
		free(path);
	}
}

static int run_loop(struct runner *r)
{
	struct tt_iter_stats st;
	double last = 0;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	for (;;) {
		pid_t pid;
		int status;

		for (i = 0; i < r->parallel && !r->listing_done; i++)
			if (!r->slots[i].pid && !r->slots[i].task.blob)
				start_next(r, &r->slots[i]);
		if (r->running == 0) {
			if (r->listing_done)
				break;
			continue;
		}
		if (now_s() - last > 0.2) {
			progress_show(r);
			last = now_s();
		}
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		reap(r, pid, status);
	}
	progress_clear(r);
	tt_iter_stats(r->job.iter, &st);
	printf("run: %" PRIu64 " tasks: %" PRIu64 " succeeded, %" PRIu64
	       " failed, %" PRIu64 " retries; %" PRIu64
	       " skipped (output exists); %" PRIu64
	       " skipped (cannot become a task); %.1fs; task files in %s\n",
	       r->started, r->succeeded, r->failed, r->retried, st.skipped,
	       st.invalid, since(&r->t0), r->run_dir);
	fflush(stdout);
	refused_summary(r);
	failed_summary(r);
	return tasks_job_invalid_summary(&r->job) || r->failed ||
		       r->listing_failed
		   ? TERM_EXIT_FAILURE
		   : TERM_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

enum {
	OPT_HELP = 'h',
	OPT_RUNTIME = 0x100,
	OPT_PARALLEL,
	OPT_MAX_RETRIES,
	OPT_RUN_DIR,
	OPT_STAGE,
	OPT_PAGE_SIZE,
	OPT_REPORT,
};

static const struct option run_longopts[] = {
    {"help", no_argument, NULL, OPT_HELP},
    {"runtime", required_argument, NULL, OPT_RUNTIME},
    {"parallel", required_argument, NULL, OPT_PARALLEL},
    {"max-retries", required_argument, NULL, OPT_MAX_RETRIES},
    {"run-dir", required_argument, NULL, OPT_RUN_DIR},
    {"stage", no_argument, NULL, OPT_STAGE},
    {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
    {"report", required_argument, NULL, OPT_REPORT},
    TT_TEMPLATE_LONGOPTS,
    CLI_CRED_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static void run_usage(FILE *out)
{
	fputs("usage: blobmill run --input CONTAINER --image IMAGE --command "
	      "TEMPLATE [options]\n"
	      "       (--image is not needed with --runtime host)\n"
	      "Runs one task per input blob on this machine.\n\n"
	      "  --runtime auto|docker|podman|host  engine (default auto: "
	      "the first\n"
	      "                       that works; host = no engine, "
	      "bubblewrap)\n"
	      "  --parallel N         tasks at once (default: CPUs)\n"
	      "  --max-retries N      restarts of a failing task (default 0)\n"
	      "  --run-dir DIR        per-task stdout.txt/stderr.txt (default "
	      "blobmill-run)\n"
	      "  --stage              download each input and upload its "
	      "output (needs\n"
	      "                       --output) instead of using mounts\n"
	      "  --page-size N        blobs per List Blobs request (1-5000)\n"
	      "  --report FILE        one JSON line per selected blob as "
	      "results arrive:\n"
	      "                       blob, task_id, state, exit_code, "
	      "duration_s, retries,\n"
	      "                       output, output_exists, reason\n\n",
	      out);
	tasks_job_help(out);
	fputs("\nBefore the first task, run checks that the input and output "
	      "containers exist\n"
	      "and that the image is here (pulling it once). Failed tasks are "
	      "listed again\n"
	      "at the end and written to RUN-DIR/failed.txt, one blob name a "
	      "line.\n\n"
	      "examples:\n"
	      "  blobmill run --input data-in --output data-out --image app:1 "
	      "\\\n"
	      "      --command 'app {in} {out}' --stage\n"
	      "  blobmill run --input data-in --runtime host --command 'wc -c "
	      "{in}' --parallel 4\n"
	      "  blobmill run --input data-in --output data-out --image app:1 "
	      "\\\n"
	      "      --command 'app {in} {out}' --skip-existing --report "
	      "run.jsonl\n",
	      out);
}

static int run_parse(struct runner *r, int argc, char **argv)
{
	int opt, h;

	optind = 1;
	opterr = 0; /* cli_bad_option's one format */
	while ((opt = getopt_long(argc, argv, ":h" CLI_SHORT_VERBOSE,
				  run_longopts, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			cli_bad_option("run", opt, argv, run_longopts);
			return TERM_EXIT_USAGE;
		}
		if (opt == 'v')
			opt = CLI_OPT_VERBOSE;
		h = tasks_job_option(&r->job, opt, optarg);
		if (h < 0)
			return TERM_EXIT_USAGE;
		if (h > 0)
			continue;
		switch (opt) {
		case OPT_HELP:
			run_usage(stdout);
			return -1;
		case OPT_RUNTIME:
			if (run_runtime_parse(optarg, &r->rt)) {
				term_errorf("run: --runtime '%s': use auto, "
					    "docker, podman or host",
					    optarg);
				return TERM_EXIT_USAGE;
			}
			break;
		case OPT_PARALLEL:
			if (cli_parse_int("run", "--parallel", optarg, 1,
					  RUN_PARALLEL_MAX, &r->parallel))
				return TERM_EXIT_USAGE;
			break;
		case OPT_MAX_RETRIES:
			if (cli_parse_int("run", "--max-retries", optarg, 0,
					  RUN_RETRIES_MAX, &r->max_retries))
				return TERM_EXIT_USAGE;
			break;
		case OPT_RUN_DIR:
			r->run_dir = optarg;
			break;
		case OPT_STAGE:
			r->stage = true;
			break;
		case OPT_PAGE_SIZE:
			if (cli_parse_int("run", "--page-size", optarg, 1, 5000,
					  &r->job.page_size))
				return TERM_EXIT_USAGE;
			break;
		case OPT_REPORT:
			r->report_path = optarg;
			break;
		default:
			fputs("see 'blobmill run --help'\n", stderr);
			return TERM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		term_errorf("run: unexpected argument '%s'", argv[optind]);
		return TERM_EXIT_USAGE;
	}
	if (r->stage && !r->job.topt.output) {
		term_errorf("run: --stage needs --output CONTAINER (where "
			    "outputs are uploaded)");
		return TERM_EXIT_USAGE;
	}
	return TERM_EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
	struct runner r;
	struct run_settings rs;
	struct bm_error err;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char *run_dir_abs = NULL;
	int rc, i;

	memset(&r, 0, sizeof(r));
	tasks_job_init(&r.job, "run");
	r.rt = RUN_AUTO;
	r.parallel =
	    ncpu > 0 ? (int)(ncpu < RUN_PARALLEL_MAX ? ncpu : RUN_PARALLEL_MAX)
		     : 1;
	r.run_dir = "blobmill-run";
	r.tty = isatty(2);
	rc = run_parse(&r, argc, argv);
	if (rc) {
		rc = rc < 0 ? TERM_EXIT_OK : rc;
		goto out;
	}
	bm_error_clear(&err);
	if (r.rt == RUN_AUTO) {
		if (run_runtime_detect(&r.rt, &err)) {
			term_report("run", &err);
			rc = TERM_EXIT_FAILURE;
			goto out;
		}
	}
	/* No engine, no image: the host runtime runs the host's programs. */
	r.job.topt.image_optional = r.rt == RUN_HOST;
	r.job.on_skip = report_skip;
	r.job.skip_ud = &r;
	rc = tasks_job_open(&r.job);
	if (rc != TERM_EXIT_OK)
		goto out;
	rc = run_preflight(&r.job, r.rt);
	if (rc != TERM_EXIT_OK)
		goto out;
	rs = (struct run_settings){
	    .image = r.job.topt.image,
	    .command = r.job.topt.command,
	    .run_options = r.job.topt.run_options,
	    .in_dir = r.job.topt.in_dir,
	    .out_dir = r.job.topt.out_dir,
	    .env = r.job.topt.env,
	};
	if (run_plan_init(&r.plan, r.rt, &rs, r.stage, &err)) {
		term_errorf("run: %s", err.msg);
		rc = TERM_EXIT_USAGE;
		goto out;
	}
	if (run_mkdir_p(r.run_dir) ||
	    !(run_dir_abs = realpath(r.run_dir, NULL))) {
		term_errorf("run: cannot create '%s': %s", r.run_dir,
			    strerror(errno));
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	/* Absolute from here on: bwrap --chdir and the engines' --volume
	 * take paths that a relative run dir would break (podman reads a
	 * relative volume source as a named volume). */
	r.run_dir = run_dir_abs;
	if (r.report_path && task_report_open(r.report_path, &r.report, &err)) {
		term_errorf("run: %s", err.msg);
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	r.slots = calloc((size_t)r.parallel, sizeof(*r.slots));
	if (!r.slots) {
		term_errorf("run: out of memory");
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	if (failed_open(&r)) {
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	if (!r.tty)
		printf("run: runtime %s, %d in parallel\n",
		       run_runtime_name(r.rt), r.parallel);
	rc = run_loop(&r);
	failed_close(&r);
	bm_error_clear(&err);
	if (task_report_close(r.report, &err)) {
		term_errorf("run: %s", err.msg);
		rc = TERM_EXIT_FAILURE;
	}
	r.report = NULL;
out:
	task_report_close(r.report, &err);
	if (r.slots)
		for (i = 0; i < r.parallel; i++)
			slot_free(&r.slots[i]);
	free(r.slots);
	failed_close(&r);
	for (i = 0; i < RUN_REFUSED_MAX; i++) {
		free(r.refused[i]);
		free(r.failed_names[i]);
	}
	free(run_dir_abs);
	run_plan_release(&r.plan);
	tasks_job_release(&r.job);
	return rc;
}
