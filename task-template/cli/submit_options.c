/*
 * submit_options: the command line of `blobmill submit`: its options,
 * --help, and the checks of their values and combinations before any
 * request is made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "cli.h"
#include "submit.h"
#include "tasks_cli.h"
#include "tasktemplate.h"

enum {
	SUBMIT_OPT_FIRST = 0x5000,
	SUBMIT_OPT_POOL = SUBMIT_OPT_FIRST,
	SUBMIT_OPT_JOB,
	SUBMIT_OPT_WAIT,
	SUBMIT_OPT_AUTO_POOL,
	SUBMIT_OPT_SCHEDULE,
	SUBMIT_OPT_START,
	SUBMIT_OPT_BATCH_URL,
	SUBMIT_OPT_BATCH_ACCOUNT,
	SUBMIT_OPT_BATCH_KEY_FILE,
	SUBMIT_OPT_REQUESTS,
	SUBMIT_OPT_POLL,
	SUBMIT_OPT_TIMEOUT,
	SUBMIT_OPT_NODE_BLOBMILL,
	SUBMIT_OPT_REPORT,
	SUBMIT_OPT_HELP,
};

static const struct option submit_longopts[] = {
    CLI_CRED_LONGOPTS,
    TT_TEMPLATE_LONGOPTS,
    POOL_SETTINGS_LONGOPTS,
    {"pool", required_argument, NULL, SUBMIT_OPT_POOL},
    {"job", required_argument, NULL, SUBMIT_OPT_JOB},
    {"wait", no_argument, NULL, SUBMIT_OPT_WAIT},
    {"auto-pool", no_argument, NULL, SUBMIT_OPT_AUTO_POOL},
    {"schedule", required_argument, NULL, SUBMIT_OPT_SCHEDULE},
    {"start", required_argument, NULL, SUBMIT_OPT_START},
    {"batch-url", required_argument, NULL, SUBMIT_OPT_BATCH_URL},
    {"batch-account", required_argument, NULL, SUBMIT_OPT_BATCH_ACCOUNT},
    {"batch-key-file", required_argument, NULL, SUBMIT_OPT_BATCH_KEY_FILE},
    {"requests", required_argument, NULL, SUBMIT_OPT_REQUESTS},
    {"poll-interval", required_argument, NULL, SUBMIT_OPT_POLL},
    {"timeout", required_argument, NULL, SUBMIT_OPT_TIMEOUT},
    {"node-blobmill", required_argument, NULL, SUBMIT_OPT_NODE_BLOBMILL},
    {"report", required_argument, NULL, SUBMIT_OPT_REPORT},
    {"help", no_argument, NULL, SUBMIT_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void submit_usage(FILE *out)
{
	fputs("usage: blobmill submit --pool ID | --auto-pool --job ID "
	      "--input CONTAINER --image IMAGE\n"
	      "         --command TEMPLATE [--wait] [--schedule RECURRENCE "
	      "[--start TIME]] [options]\n\n"
	      "Adds one Azure Batch task per input blob to job ID "
	      "(created if needed) and\n"
	      "lets the job end when its tasks are done. Rerun with the same "
	      "--job to add\n"
	      "only the tasks it is missing.\n\n"
	      "  --pool ID                 existing pool to run on\n"
	      "  --auto-pool               a pool made for this job and "
	      "deleted after it\n"
	      "                            (pool settings below)\n"
	      "  --job ID                  job id (job schedule id with "
	      "--schedule)\n"
	      "  --wait                    follow the tasks, summarize, exit "
	      "1 if any failed\n"
	      "  --poll-interval SECONDS   shortest wait between polls "
	      "(default 5)\n"
	      "  --timeout SECONDS         stop waiting after this long\n"
	      "  --report FILE             with --wait: one JSON line per "
	      "selected blob\n"
	      "                            (blob, task_id, state, exit_code, "
	      "duration_s,\n"
	      "                            retries, output, output_exists, "
	      "reason)\n"
	      "  --schedule RECURRENCE     create a job schedule instead, "
	      "e.g. PT24H; each job's\n"
	      "                            manager task adds the new blobs "
	      "(--skip-existing)\n"
	      "  --start TIME              first run, e.g. "
	      "2026-01-01T02:00:00Z\n"
	      "  --node-blobmill PATH      blobmill on the nodes "
	      "(default " SUBMIT_NODE_BLOBMILL ")\n"
	      "  --requests N              addtaskcollection requests in "
	      "flight (default 4)\n"
	      "  --batch-url URL, --batch-account NAME, --batch-key-file "
	      "FILE\n"
	      "                            Batch account (else "
	      "AZURE_BATCH_ENDPOINT,\n"
	      "                            AZURE_BATCH_ACCOUNT, "
	      "AZURE_BATCH_ACCESS_KEY)\n\n",
	      out);
	fputs(pool_settings_help, out);
	fputs("\n", out);
	tasks_job_help(out);
	fputs("\nexamples:\n"
	      "  blobmill submit --pool etl --job night-1 --input data-in "
	      "--image app:1 \\\n"
	      "      --command 'app {in} {out}' --wait\n"
	      "  blobmill submit --auto-pool --job night --input data-in "
	      "--image app:1 \\\n"
	      "      --command 'app {in} {out}' --schedule PT24H\n",
	      out);
}

/* ---- options ---------------------------------------------------------- */

int submit_forward(struct submit *s, const char *name, const char *value)
{
	const char **n = realloc(s->fwd, (s->nfwd + 2) * sizeof(*n));

	if (!n)
		return -1;
	s->fwd = n;
	s->fwd[s->nfwd++] = name;
	s->fwd[s->nfwd++] = value;
	return 0;
}

/* Whether the job manager of a schedule repeats this option: the template
 * and pool settings do; credentials, the job id and --wait do not, and the
 * registry password reaches it through SUBMIT_REGISTRY_ENV instead. */
static bool forwarded(int opt)
{
	if (opt >= TT_OPT_FIRST && opt < TT_OPT_LAST)
		return opt != TT_OPT_SKIP_EXISTING &&
		       opt != TT_OPT_REGISTRY_PASSWORD_ENV &&
		       opt != TT_OPT_REGISTRY_PASSWORD_FILE &&
		       opt != TT_OPT_ENV; /* resolved: submit_schedule */
	return (opt >= POOL_OPT_FIRST && opt < POOL_OPT_LAST) ||
	       opt == SUBMIT_OPT_POOL || opt == SUBMIT_OPT_AUTO_POOL ||
	       opt == SUBMIT_OPT_REQUESTS;
}

static int parse_seconds(const char *opt, const char *arg, double *out)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !(v > 0) || v > 86400.0 * 7) {
		term_errorf("submit: invalid value '%s' for --%s: expected "
			    "seconds, more than 0",
			    arg, opt);
		return -1;
	}
	*out = v;
	return 0;
}

static int submit_option(struct submit *s, int opt, const char *arg)
{
	int n;

	switch (opt) {
	case SUBMIT_OPT_POOL:
		s->pool_id = arg;
		return 0;
	case SUBMIT_OPT_JOB:
		s->job_id = arg;
		return 0;
	case SUBMIT_OPT_WAIT:
		s->wait = true;
		return 0;
	case SUBMIT_OPT_AUTO_POOL:
		s->auto_pool = true;
		return 0;
	case SUBMIT_OPT_SCHEDULE:
		s->schedule = arg;
		return 0;
	case SUBMIT_OPT_START:
		s->start = arg;
		return 0;
	case SUBMIT_OPT_BATCH_URL:
		s->batch_url = arg;
		return 0;
	case SUBMIT_OPT_BATCH_ACCOUNT:
		s->batch_account = arg;
		return 0;
	case SUBMIT_OPT_BATCH_KEY_FILE:
		s->batch_key_file = arg;
		return 0;
	case SUBMIT_OPT_NODE_BLOBMILL:
		s->node_blobmill = arg;
		return 0;
	case SUBMIT_OPT_REPORT:
		s->report_path = arg;
		return 0;
	case SUBMIT_OPT_REQUESTS:
		if (cli_parse_int("submit", "requests", arg, 1, 64, &n))
			return -1;
		s->add.parallel = n;
		return 0;
	case SUBMIT_OPT_POLL:
		return parse_seconds("poll-interval", arg,
				     &s->wopts.interval_s);
	case SUBMIT_OPT_TIMEOUT:
		return parse_seconds("timeout", arg, &s->wopts.timeout_s);
	}
	term_errorf("internal error: unknown submit option %d", opt);
	return -1;
}

/* ISO 8601 duration as Batch takes it: P[nD][T[nH][nM][nS]], e.g. PT24H. */
static bool valid_recurrence(const char *r)
{
	bool time_part = false, any = false;
	const char *p = r + 1;

	if (r[0] != 'P')
		return false;
	while (*p) {
		if (*p == 'T' && !time_part) {
			time_part = true;
			p++;
			continue;
		}
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
		if (!*p || !strchr(time_part ? "HMS" : "YMWD", *p))
			return false;
		p++;
		any = true;
	}
	return any;
}

static bool valid_time(const char *t)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
	return end && (!*end || !strcmp(end, "Z"));
}

/* Everything that needs the whole command line. */
static int submit_check(struct submit *s)
{
	if (!s->job_id || !*s->job_id) {
		term_errorf("submit: --job ID is required");
		return -1;
	}
	if (!s->pool_id == !s->auto_pool) {
		term_errorf(
		    "submit: give either --pool ID (an existing pool) or "
		    "--auto-pool");
		return -1;
	}
	if (s->start && !s->schedule) {
		term_errorf("submit: --start goes with --schedule");
		return -1;
	}
	if (s->schedule && !valid_recurrence(s->schedule)) {
		term_errorf("submit: invalid --schedule '%s': expected an ISO "
			    "8601 duration such as PT24H or P1D",
			    s->schedule);
		return -1;
	}
	if (s->start && !valid_time(s->start)) {
		term_errorf("submit: invalid --start '%s': expected a UTC time "
			    "such as 2026-01-01T02:00:00Z",
			    s->start);
		return -1;
	}
	if (s->report_path && !s->wait) {
		term_errorf("submit: --report needs --wait (the results are "
			    "known once the tasks end)");
		return -1;
	}
	if (s->schedule && s->wait) {
		term_errorf("submit: --wait does not go with --schedule (each "
			    "scheduled job runs on its own)");
		return -1;
	}
	if (s->schedule && !s->job.topt.output) {
		term_errorf("submit: --schedule needs --output: each night's "
			    "job skips the blobs whose output exists");
		return -1;
	}
	if (s->schedule)
		s->job.topt.skip_existing = true;
	return 0;
}

int submit_parse(struct submit *s, int argc, char **argv)
{
	int opt, idx;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":" CLI_SHORT_VERBOSE,
				  submit_longopts, &idx)) != -1) {
		int rc;

		if (opt == '?' || opt == ':') {
			cli_bad_option("submit", opt, argv, submit_longopts);
			return -1;
		}
		if (opt == 'v')
			opt = CLI_OPT_VERBOSE;
		if (opt == SUBMIT_OPT_HELP) {
			submit_usage(stdout);
			return 1;
		}
		/* credentials and template: 1 handled, -1 bad, 0 not theirs */
		rc = tasks_job_option(&s->job, opt, optarg);
		if (rc == 0)
			rc = opt >= POOL_OPT_FIRST && opt < POOL_OPT_LAST
				 ? pool_settings_option(&s->pool, opt, optarg)
				 : submit_option(s, opt, optarg);
		else
			rc = rc < 0 ? -1 : 0;
		if (rc)
			return -1;
		if (forwarded(opt) &&
		    submit_forward(s, submit_longopts[idx].name,
				   submit_longopts[idx].has_arg ? optarg
								: NULL)) {
			term_errorf("submit: out of memory");
			return -1;
		}
	}
	if (optind < argc) {
		term_errorf("submit: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return submit_check(s);
}
