/*
 * cmd_tasks: `blobmill tasks`: one Azure Batch task per input blob, printed
 * as a JSON array of TaskAddParameter objects (the file format of
 * `az batch task create --json-file`), as JSON lines (--format jsonl), or
 * as a listing for humans (--dry-run: blob, task id, command).
 *
 * Output streams: each task is printed as soon as the listing yields it,
 * so memory does not grow with the container (see tt_iter.c).
 *
 * Also here: struct tasks_job, the option handling and setup that `tasks`
 * and `run` share (tasks_cli.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_log.h"
#include "tasks_cli.h"

/* ------------------------------------------------------------------ */
/* The shared job                                                      */
/* ------------------------------------------------------------------ */

void tasks_job_init(struct tasks_job *j, const char *cmd)
{
	memset(j, 0, sizeof(*j));
	j->cmd = cmd;
	cli_cred_init(&j->cred);
	tt_options_init(&j->topt);
	bm_config_init(&j->cfg);
}

int tasks_job_option(struct tasks_job *j, int opt, const char *arg)
{
	struct bm_error err;

	if (opt >= CLI_OPT_CRED_FIRST && opt < CLI_OPT_CRED_LAST)
		return cli_cred_option(&j->cred, opt, arg) ? -1 : 1;
	if (opt < TT_OPT_FIRST || opt >= TT_OPT_LAST)
		return 0;
	bm_error_clear(&err);
	if (tt_options_set(&j->topt, opt, arg, &err)) {
		term_errorf("%s: %s", j->cmd, err.msg);
		return -1;
	}
	return 1;
}

/* The iterator's skip callback: the command's hook, then one line for a
 * blob that cannot become a task (once: the iterator passes each blob
 * once). */
static void job_skip(const struct task_skip *sk, void *ud)
{
	struct tasks_job *j = ud;

	if (j->on_skip)
		j->on_skip(sk, j->skip_ud);
	if (sk->kind == TASK_SKIP_INVALID)
		term_errorf("%s: skipped blob '%s': %s", j->cmd, sk->blob,
			    sk->reason);
}

bool tasks_job_invalid_summary(const struct tasks_job *j)
{
	struct tt_iter_stats st;

	if (!j->iter)
		return false;
	tt_iter_stats(j->iter, &st);
	if (st.invalid)
		term_errorf("%s: %" PRIu64 " of %" PRIu64
			    " selected blobs skipped: they cannot become "
			    "tasks (named above); every other blob did",
			    j->cmd, st.invalid, st.selected);
	return st.invalid > 0;
}

int tasks_job_open(struct tasks_job *j)
{
	struct bm_error err;

	bm_error_clear(&err);
	if (tt_options_finish(&j->topt, &err)) {
		term_errorf("%s: %s", j->cmd, err.msg);
		return TERM_EXIT_USAGE;
	}
	j->client = cli_open_client(&j->cred, &j->cfg);
	if (!j->client)
		return TERM_EXIT_FAILURE;
	if (tt_spec_new(&j->topt, j->cfg.endpoint, &j->spec, &err)) {
		term_errorf("%s: %s", j->cmd, err.msg);
		return TERM_EXIT_USAGE;
	}
	if (j->topt.skip_existing &&
	    task_existing_load(j->client, j->topt.output, &j->existing, &err)) {
		tasks_report(j, false, &err);
		return TERM_EXIT_FAILURE;
	}
	if (tt_iter_open(j->client, j->spec, j->existing, j->page_size,
			 &j->iter, &err)) {
		term_report(j->cmd, &err);
		return TERM_EXIT_FAILURE;
	}
	tt_iter_on_skip(j->iter, job_skip, j);
	return TERM_EXIT_OK;
}

void tasks_job_release(struct tasks_job *j)
{
	tt_iter_free(j->iter);
	task_existing_free(j->existing);
	tt_spec_free(j->spec);
	bm_blob_client_free(j->client);
	bm_config_release(&j->cfg);
	tt_options_release(&j->topt);
	memset(j, 0, sizeof(*j));
}

void tasks_report(const struct tasks_job *j, bool input,
		  const struct bm_error *err)
{
	const char *name = input ? j->topt.input : j->topt.output;
	char what[512];

	if (err->code == BM_ERR_NO_CONTAINER) {
		term_errorf("%s: %s container '%s' not found: create it with "
			    "'blobmill mb %s'",
			    j->cmd, input ? "input" : "output", name, name);
		return;
	}
	if (err->http_status)
		snprintf(what, sizeof(what), "%s: %s container '%s'", j->cmd,
			 input ? "input" : "output",
			 input ? j->topt.input : j->topt.output);
	else
		snprintf(what, sizeof(what), "%s", j->cmd);
	term_report(what, err);
}

void tasks_job_help(FILE *out)
{
	fputs(TT_OPTIONS_HELP, out);
	fputs("\n", out);
	cli_cred_help(out);
}

void tasks_print_escaped(FILE *out, const char *s)
{
	term_print_name(out, s);
}

/* ------------------------------------------------------------------ */
/* blobmill tasks                                                      */
/* ------------------------------------------------------------------ */

enum {
	OPT_HELP = 'h',
	OPT_FORMAT = 0x100,
	OPT_DRY_RUN,
	OPT_PAGE_SIZE,
};

static const struct option tasks_longopts[] = {
    {"help", no_argument, NULL, OPT_HELP},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
    TT_TEMPLATE_LONGOPTS,
    CLI_CRED_LONGOPTS,
    {NULL, 0, NULL, 0},
};

enum tasks_format { FORMAT_JSON, FORMAT_JSONL, FORMAT_DRY_RUN };

static void tasks_usage(FILE *out)
{
	fputs(
	    "usage: blobmill tasks --input CONTAINER --image IMAGE "
	    "--command TEMPLATE [options]\n"
	    "Prints one Azure Batch task per input blob.\n\n"
	    "  --format json|jsonl  a JSON array (az batch task create "
	    "--json-file) or\n"
	    "                       one task per line (default json)\n"
	    "  --dry-run            list blob -> task id -> command for "
	    "humans\n"
	    "  --page-size N        blobs per List Blobs request (1-5000)\n\n",
	    out);
	tasks_job_help(out);
	fputs("\nexamples:\n"
	      "  blobmill tasks --input data-in --image app:1 --command 'app "
	      "{in} {out}' > tasks.json\n"
	      "  blobmill tasks --input data-in --image app:1 --command 'app "
	      "{in} {out}' --dry-run\n"
	      "  az batch task create --job-id J --json-file tasks.json\n",
	      out);
}

static int print_task(const struct task *t, enum tasks_format fmt, bool first)
{
	json_t *j;
	int rc;

	if (fmt == FORMAT_DRY_RUN) {
		tasks_print_escaped(stdout, t->blob);
		printf(" -> %s -> ", t->id);
		tasks_print_escaped(stdout, *t->command_line
						? t->command_line
						: "(image entrypoint)");
		putchar('\n');
		return 0;
	}
	j = task_to_json(t);
	if (!j) {
		term_errorf("tasks: cannot encode the task of '%s' as JSON",
			    t->blob);
		return -1;
	}
	if (fmt == FORMAT_JSON)
		fputs(first ? "[\n" : ",\n", stdout);
	rc = json_dumpf(j, stdout,
			fmt == FORMAT_JSON ? JSON_INDENT(2) : JSON_COMPACT);
	if (fmt == FORMAT_JSONL)
		putchar('\n');
	json_decref(j);
	return rc;
}

int cmd_tasks(int argc, char **argv)
{
	struct tasks_job job;
	enum tasks_format fmt = FORMAT_JSON;
	const struct task *t;
	struct tt_iter_stats st;
	struct bm_error err;
	uint64_t n = 0;
	int opt, rc = TERM_EXIT_USAGE, r;

	tasks_job_init(&job, "tasks");
	optind = 1;
	opterr = 0; /* cli_bad_option's one format */
	while ((opt = getopt_long(argc, argv, ":h" CLI_SHORT_VERBOSE,
				  tasks_longopts, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			cli_bad_option("tasks", opt, argv, tasks_longopts);
			goto out;
		}
		if (opt == 'v')
			opt = CLI_OPT_VERBOSE;
		r = tasks_job_option(&job, opt, optarg);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_HELP:
			tasks_usage(stdout);
			rc = TERM_EXIT_OK;
			goto out;
		case OPT_FORMAT:
			if (!strcmp(optarg, "json")) {
				fmt = FORMAT_JSON;
			} else if (!strcmp(optarg, "jsonl")) {
				fmt = FORMAT_JSONL;
			} else {
				term_errorf("tasks: --format '%s': use json or "
					    "jsonl",
					    optarg);
				goto out;
			}
			break;
		case OPT_DRY_RUN:
			fmt = FORMAT_DRY_RUN;
			break;
		case OPT_PAGE_SIZE:
			if (cli_parse_int("tasks", "--page-size", optarg, 1,
					  5000, &job.page_size))
				goto out;
			break;
		default:
			fputs("see 'blobmill tasks --help'\n", stderr);
			goto out;
		}
	}
	if (optind < argc) {
		term_errorf("tasks: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	rc = tasks_job_open(&job);
	if (rc != TERM_EXIT_OK)
		goto out;
	bm_error_clear(&err);
	while ((r = tt_iter_next(job.iter, &t, &err)) == 1) {
		if (print_task(t, fmt, n == 0)) {
			rc = TERM_EXIT_FAILURE;
			goto out;
		}
		n++;
	}
	if (r < 0) {
		/* What was printed is an incomplete array: say so loudly. */
		tasks_report(&job, true, &err);
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	if (fmt == FORMAT_JSON)
		fputs(n ? "\n]\n" : "[]\n", stdout);
	tt_iter_stats(job.iter, &st);
	if (fmt == FORMAT_DRY_RUN)
		printf("%" PRIu64 " tasks from %" PRIu64
		       " blobs listed (%" PRIu64 " selected, %" PRIu64
		       " skipped: output exists, %" PRIu64
		       " skipped: cannot become a task)\n",
		       n, st.listed, st.selected, st.skipped, st.invalid);
	/* The JSON holds every other task; exit 1 so a script notices. */
	rc = tasks_job_invalid_summary(&job) ? TERM_EXIT_FAILURE : TERM_EXIT_OK;
out:
	tasks_job_release(&job);
	return rc;
}
