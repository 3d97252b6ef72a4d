/*
 * cmd_submit: `blobmill submit`, the input container's tasks onto Azure
 * Batch.
 *
 *   1. the job: created with onAllTasksComplete=noaction on --pool (which
 *      must exist) or an auto pool; a job that exists already is reused if
 *      it can take tasks (active, same pool), and then only the tasks it
 *      does not have are added (its task ids are listed first);
 *   2. the tasks: from libtasktemplate's streaming iterator, through
 *      batch_add (chunks, requests in flight, 413 halving, retries);
 *   3. only when every task is in: onAllTasksComplete=terminatejob, so the
 *      job ends when its tasks do. A partial add leaves the job open and
 *      names every task that is missing; the same command adds them;
 *   4. --wait: batch_wait until done, then the failed tasks.
 * --schedule instead creates a job schedule whose job manager task runs
 * this command on the node, with --skip-existing, for nightly drops.
 * The command line and its checks: submit_options.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "batch.h"
#include "bm_log.h"
#include "bm_token.h"
#include "cli.h"
#include "submit.h"
#include "tasks_cli.h"
#include "tasktemplate.h"

/* ---- reporting -------------------------------------------------------- */

/* "blobmill: submit: WHAT: MESSAGE", with what to do about a bad key. */
static void submit_report(const char *what, const struct bm_error *err)
{
	const char *msg = err->msg[0] ? err->msg : bm_errc_str(err->code);

	if (err->code == BM_ERR_AUTH)
		term_errorf("submit: %s: %s: check the Batch account key "
			    "(--batch-key-file or AZURE_BATCH_ACCESS_KEY) and "
			    "account name",
			    what, msg);
	else
		term_errorf("submit: %s: %s", what, msg);
}

/* ---- the job ---------------------------------------------------------- */

/* The pool the job runs on: {"poolId"} or an autoPoolSpecification built
 * by the same builder as `blobmill pool`. NULL with a message printed. */
static json_t *pool_info(struct submit *s, const struct bm_config *cfg)
{
	struct bm_error err;
	json_t *spec;

	if (!s->auto_pool)
		return json_pack("{s:s}", "poolId", s->pool_id);
	bm_error_clear(&err);
	if (pool_settings_add_image(&s->pool, s->job.topt.image) < 0) {
		term_errorf("submit: too many container images to prefetch");
		return NULL;
	}
	pool_settings_storage(&s->pool, cfg);
	s->pool.registry = s->job.topt.registry;
	s->pool.registry_user = s->job.topt.registry_user;
	s->pool.registry_password = s->job.topt.registry_password;
	spec = pool_spec_build(&s->pool, false, &err);
	if (!spec) {
		term_errorf("submit: cannot build the auto pool: %s", err.msg);
		return NULL;
	}
	/* poolLifetimeOption job: the nodes exist while the job runs and
	 * are deleted after it. */
	return json_pack("{s:{s:s, s:s, s:b, s:o}}", "autoPoolSpecification",
			 "autoPoolIdPrefix", "blobmill", "poolLifetimeOption",
			 "job", "keepAlive", 0, "pool", spec);
}

/* Task ids already in the job, sorted, for a rerun to skip them. */
struct id_set {
	char **ids;
	size_t n, cap;
};

static void id_set_release(struct id_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->ids[i]);
	free(set->ids);
	memset(set, 0, sizeof(*set));
}

static int id_set_add(json_t *task, void *ud)
{
	struct id_set *set = ud;
	const char *id = json_string_value(json_object_get(task, "id"));

	if (!id)
		return 0;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 256;
		char **n = realloc(set->ids, cap * sizeof(*n));

		if (!n)
			return -1;
		set->ids = n;
		set->cap = cap;
	}
	set->ids[set->n] = strdup(id);
	return set->ids[set->n++] ? 0 : -1;
}

/* Batch task ids are unique without regard to case. */
static int id_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

static bool id_set_has(const struct id_set *set, const char *id)
{
	return set->n && bsearch(&id, set->ids, set->n, sizeof(char *), id_cmp);
}

/* Whether an existing job can take our tasks; a message says what to do
 * when it cannot. */
static int check_existing_job(const struct submit *s, json_t *job)
{
	const char *state = json_string_value(json_object_get(job, "state"));
	json_t *pi = json_object_get(job, "poolInfo");
	const char *pool = json_string_value(json_object_get(pi, "poolId"));

	if (!state || (strcmp(state, "active") && strcmp(state, "disabled"))) {
		term_errorf("submit: job '%s' already exists and is %s, so it "
			    "takes no more tasks: use a new --job ID",
			    s->job_id, state ? state : "in an unknown state");
		return -1;
	}
	if (s->pool_id && (!pool || strcmp(pool, s->pool_id))) {
		term_errorf("submit: job '%s' already exists on %s%s%s: rerun "
			    "with that pool to add its missing tasks, or use a "
			    "new --job ID",
			    s->job_id, pool ? "pool '" : "an auto pool",
			    pool ? pool : "", pool ? "'" : "");
		return -1;
	}
	if (s->auto_pool && pool) {
		term_errorf("submit: job '%s' already exists on pool '%s', not "
			    "an auto pool: rerun with --pool %s to add its "
			    "missing tasks, or use a new --job ID",
			    s->job_id, pool, pool);
		return -1;
	}
	return 0;
}

/* The pool must exist before a job goes onto it: the service would
 * accept the job and leave its tasks waiting forever. */
static int check_pool(struct batch_client *bc, const struct submit *s)
{
	struct bm_error err;

	bm_error_clear(&err);
	if (batch_pool_get(bc, s->pool_id, "id,state", NULL, &err) == 0)
		return 0;
	if (!strcmp(err.azure_code, "PoolNotFound"))
		term_errorf("submit: pool '%s' not found in Batch account: "
			    "create it first (blobmill pool --pool %s ... > "
			    "pool.json; az batch pool create --json-file "
			    "pool.json) or use --auto-pool",
			    s->pool_id, s->pool_id);
	else
		submit_report("cannot check the pool", &err);
	return -1;
}

/*
 * Makes sure job s->job_id exists and can take tasks, creating it when it
 * does not exist, and fills `existing` with the ids of its tasks.
 */
static int ensure_job(struct batch_client *bc, struct submit *s,
		      const struct bm_config *cfg, struct id_set *existing)
{
	json_t *job = NULL, *add = NULL, *pi = NULL;
	struct bm_error err;
	int rc = -1;

	bm_error_clear(&err);
	if (batch_job_get(bc, s->job_id, "id,state,poolInfo", &job, &err) == 0)
		goto exists;
	if (strcmp(err.azure_code, "JobNotFound")) {
		char what[160];

		snprintf(what, sizeof(what), "cannot get job '%s'", s->job_id);
		submit_report(what, &err);
		goto out;
	}
	if (s->pool_id && check_pool(bc, s))
		goto out;
	pi = pool_info(s, cfg);
	if (!pi)
		goto out;
	add = json_pack("{s:s, s:s+, s:O, s:s, s:s}", "id", s->job_id,
			"displayName", "blobmill: ", s->job.topt.input,
			"poolInfo", pi, "onAllTasksComplete", "noaction",
			"onTaskFailure", "noaction");
	bm_error_clear(&err);
	if (add && batch_job_add(bc, add, &err) == 0) {
		fprintf(stderr, "blobmill: submit: created job '%s'\n",
			s->job_id);
		rc = 0;
		goto out;
	}
	if (strcmp(err.azure_code, "JobExists")) {
		char what[160];

		snprintf(what, sizeof(what), "cannot create job '%s'",
			 s->job_id);
		submit_report(what, &err);
		goto out;
	}
	/* Created meanwhile by someone else: treat it as existing. */
	bm_error_clear(&err);
	if (batch_job_get(bc, s->job_id, "id,state,poolInfo", &job, &err)) {
		submit_report("cannot get the job", &err);
		goto out;
	}
exists:
	if (check_existing_job(s, job))
		goto out;
	bm_error_clear(&err);
	if (batch_task_list(bc, s->job_id, "id", NULL, id_set_add, existing,
			    &err)) {
		submit_report("cannot list the job's tasks", &err);
		goto out;
	}
	qsort(existing->ids, existing->n, sizeof(char *), id_cmp);
	fprintf(stderr,
		"blobmill: submit: job '%s' exists with %zu tasks: adding only "
		"the tasks it does not have\n",
		s->job_id, existing->n);
	rc = 0;
out:
	json_decref(job);
	json_decref(add);
	json_decref(pi);
	return rc;
}

/* ---- the tasks -------------------------------------------------------- */

struct add_totals {
	uint64_t present; /* generated, but already in the job */
	bool listing_failed;
};

/* The template's tasks, with the first one read ahead: a listing that
 * cannot start (no input container, a wrong storage key) fails before
 * any job is created. */
struct task_source {
	struct tasks_job *job;
	const struct task *next; /* valid while more == 1 */
	int more;		 /* tt_iter_next's last result */
};

/* Opens the job's client, spec, --skip-existing set and iterator, and
 * reads the first task. An exit code (message printed) on failure. */
static int source_open(struct submit *s, struct task_source *src)
{
	struct bm_error err;
	int rc;

	src->job = &s->job;
	rc = tasks_job_open(&s->job);
	if (rc != TERM_EXIT_OK)
		return rc;
	bm_error_clear(&err);
	src->more = tt_iter_next(s->job.iter, &src->next, &err);
	if (src->more < 0) {
		tasks_report(&s->job, true, &err);
		return TERM_EXIT_FAILURE;
	}
	return TERM_EXIT_OK;
}

/* Streams the tasks into the adder, skipping the ids the job has. */
static int feed_tasks(struct task_source *src, const struct id_set *existing,
		      struct batch_adder *adder, struct batch_report *report,
		      struct add_totals *tot)
{
	struct bm_error err;

	bm_error_clear(&err);
	for (; src->more == 1;
	     src->more = tt_iter_next(src->job->iter, &src->next, &err)) {
		json_t *j;

		if (report && batch_report_select(report, src->next, &err))
			break;
		if (id_set_has(existing, src->next->id)) {
			tot->present++;
			continue;
		}
		j = task_to_json(src->next);
		if (!j) {
			bm_error_set(&err, BM_ERR_INVALID,
				     "cannot make the task of blob '%s'",
				     src->next->blob);
			break;
		}
		if (batch_adder_add(adder, j, &err)) {
			json_decref(j);
			break;
		}
		json_decref(j);
	}
	if (err.code == BM_OK)
		return 0;
	tot->listing_failed = true;
	tasks_report(src->job, true, &err);
	return -1;
}

/* Names every task that is not in the job. */
static void report_partial(const struct submit *s,
			   const struct batch_add_report *r,
			   const struct add_totals *tot)
{
	size_t i;

	for (i = 0; i < r->nfailures; i++) {
		const struct batch_add_failure *f = &r->failures[i];

		term_errorf("submit: task '%s' (blob '%s') not added: %s",
			    f->task_id, f->blob ? f->blob : "?", f->reason);
		if (s->report)
			batch_report_not_added(s->report, f->task_id, f->blob,
					       f->reason);
	}
	term_errorf("submit: job '%s': %zu of %zu tasks added, %zu not added%s"
		    "; the job stays open: run the same command again to add "
		    "the missing tasks",
		    s->job_id, r->added, r->submitted, r->nfailures,
		    tot->listing_failed ? " and the input listing stopped early"
					: " (listed above)");
}

static int terminate_when_done(struct batch_client *bc, const char *job_id)
{
	json_t *patch =
	    json_pack("{s:s}", "onAllTasksComplete", "terminatejob");
	struct bm_error err;
	int rc;

	bm_error_clear(&err);
	rc = batch_job_patch(bc, job_id, patch, &err);
	json_decref(patch);
	if (rc)
		submit_report("cannot set the job to end with its tasks", &err);
	return rc;
}

static int wait_and_summarize(struct batch_client *bc, struct submit *s,
			      long expected)
{
	struct batch_task_counts final = {0};
	struct bm_error err;
	long failed;

	bm_error_clear(&err);
	if (batch_wait_job(bc, s->job_id, expected, &s->wopts, stderr, &final,
			   &err)) {
		submit_report("cannot follow the job", &err);
		return TERM_EXIT_FAILURE;
	}
	failed = batch_report_failures(bc, s->job_id, stdout, &err);
	if (failed < 0) {
		submit_report("cannot list the failed tasks", &err);
		return TERM_EXIT_FAILURE;
	}
	if (s->report &&
	    batch_report_finish(s->report, bc, s->job_id, s->job.client,
				s->job.topt.output, &err)) {
		submit_report("cannot write the report", &err);
		return TERM_EXIT_FAILURE;
	}
	printf("job '%s': %ld tasks completed: %ld succeeded, %ld failed\n",
	       s->job_id, final.completed, final.succeeded, final.failed);
	return final.failed || failed ? TERM_EXIT_FAILURE : TERM_EXIT_OK;
}

static int submit_tasks(struct batch_client *bc, struct submit *s)
{
	struct batch_add_report rep = {0};
	struct add_totals tot = {0};
	struct id_set existing = {0};
	struct task_source src = {0};
	struct batch_adder *adder;
	struct bm_error err;
	bool invalid;
	int rc;

	bm_error_clear(&err);
	rc = source_open(s, &src);
	if (rc != TERM_EXIT_OK)
		goto out;
	rc = TERM_EXIT_FAILURE;
	if (ensure_job(bc, s, &s->job.cfg, &existing))
		goto out;
	adder = batch_adder_new(bc, s->job_id, &s->add, &err);
	if (!adder) {
		submit_report("cannot start adding tasks", &err);
		goto out;
	}
	feed_tasks(&src, &existing, adder, s->report, &tot);
	batch_adder_finish(adder, &rep);
	if (rep.nfailures || tot.listing_failed) {
		report_partial(s, &rep, &tot);
		/* The tasks that are in: their state now, so that every
		 * selected blob still has its line. */
		if (s->report &&
		    batch_report_finish(s->report, bc, s->job_id, s->job.client,
					s->job.topt.output, &err))
			submit_report("cannot write the report", &err);
		goto out;
	}
	if (terminate_when_done(bc, s->job_id))
		goto out;
	printf("job '%s': added %zu tasks in %zu requests (%llu already in "
	       "the job)\n",
	       s->job_id, rep.added, rep.requests,
	       (unsigned long long)tot.present);
	fflush(stdout);
	invalid = tasks_job_invalid_summary(&s->job);
	rc = s->wait ? wait_and_summarize(bc, s, (long)(existing.n + rep.added))
		     : TERM_EXIT_OK;
	if (invalid)
		rc = TERM_EXIT_FAILURE;
out:
	batch_add_report_release(&rep);
	id_set_release(&existing);
	return rc;
}

/* ---- job schedules ---------------------------------------------------- */

/*
 * The job manager's command line: a shell (for $AZ_BATCH_JOB_ID) running
 * blobmill submit with the forwarded options, every value quoted. Batch
 * splits the outer line into words; the shell parses the inner script.
 * malloc()ed, NULL on allocation failure.
 */
static char *job_manager_command(const struct submit *s)
{
	char *script = NULL, *line = NULL, *q;
	size_t i;

	q = task_shell_quote(s->node_blobmill ? s->node_blobmill
					      : SUBMIT_NODE_BLOBMILL);
	if (!q || asprintf(&script,
			   "exec %s submit --job \"$AZ_BATCH_JOB_ID\" "
			   "--skip-existing%s",
			   q,
			   s->job.topt.registry_password
			       ? " --registry-password-env " SUBMIT_REGISTRY_ENV
			       : "") < 0)
		script = NULL;
	free(q);
	/* Pairs of an option name (a fixed word) and its value (quoted),
	 * or NULL for a flag. */
	for (i = 0; script && i + 1 < s->nfwd; i += 2) {
		char *next = NULL, *v = NULL;

		if (s->fwd[i + 1])
			v = task_shell_quote(s->fwd[i + 1]);
		if ((!s->fwd[i + 1] || v) &&
		    asprintf(&next, "%s --%s%s%s", script, s->fwd[i],
			     v ? " " : "", v ? v : "") < 0)
			next = NULL;
		free(v);
		free(script);
		script = next;
	}
	q = script ? task_shell_quote(script) : NULL;
	if (q && asprintf(&line, "/bin/sh -c %s", q) < 0)
		line = NULL;
	free(q);
	free(script);
	return line;
}

/* The job manager lists storage with a SAS from its environment; an
 * account key never goes into a job. */
static json_t *job_manager_env(const struct submit *s,
			       const struct bm_config *cfg)
{
	const char *identity = s->pool.node_identity;
	json_t *env = pool_storage_env(cfg->account, cfg->endpoint,
				       identity ? NULL : cfg->sas_token);

	/* With the nodes' identity the job manager signs in with it. */
	pool_identity_env(env, identity);

	pool_env_add(env, SUBMIT_REGISTRY_ENV, s->job.topt.registry_password);
	return env;
}

static int submit_schedule(struct batch_client *bc, struct submit *s)
{
	const struct bm_config *cfg = &s->job.cfg;
	json_t *sched = NULL, *pi = NULL, *when;
	struct bm_error err;
	char *cmd = NULL;
	size_t i;
	int rc = TERM_EXIT_USAGE;

	/* Nothing is listed now: the options and the storage configuration
	 * are checked, and the job manager does the listing each night. */
	bm_error_clear(&err);
	if (tt_options_finish(&s->job.topt, &err)) {
		term_errorf("submit: %s", err.msg);
		return TERM_EXIT_USAGE;
	}
	/* --env NAME took its value here; the job manager's environment
	 * does not have it, so it gets NAME=VALUE. */
	for (i = 0; s->job.topt.env && s->job.topt.env[i]; i++)
		if (submit_forward(s, "env", s->job.topt.env[i])) {
			term_errorf("submit: out of memory");
			return TERM_EXIT_FAILURE;
		}
	s->job.client = cli_open_client(&s->job.cred, &s->job.cfg);
	if (!s->job.client)
		return TERM_EXIT_USAGE;
	rc = TERM_EXIT_FAILURE;
	if (s->pool_id && check_pool(bc, s))
		goto out;
	if (!cfg->sas_token && !s->pool.node_identity) {
		term_errorf(
		    "submit: --schedule needs a SAS token "
		    "(AZURE_STORAGE_SAS_TOKEN, or sasToken in the config "
		    "file) or the nodes' identity (--node-identity) for the "
		    "job manager to read '%s' and '%s': an account key never "
		    "goes into a job",
		    s->job.topt.input, s->job.topt.output);
		rc = TERM_EXIT_USAGE;
		goto out;
	}
	pi = pool_info(s, cfg);
	if (!pi)
		goto out;
	cmd = job_manager_command(s);
	when = json_pack("{s:s}", "recurrenceInterval", s->schedule);
	if (s->start)
		json_object_set_new(when, "doNotRunUntil",
				    json_string(s->start));
	/* The job manager gets a token for its own job (no Batch key on the
	 * node); killJobOnCompletion false: the job ends with its tasks,
	 * once the manager has set onAllTasksComplete. */
	sched = json_pack(
	    "{s:s, s:s+, s:o, s:{s:O, s:s, s:{s:s, s:s, s:s, s:o, s:{s:[s]},"
	    " s:b, s:b, s:{s:i}}}}",
	    "id", s->job_id, "displayName", "blobmill: ", s->job.topt.input,
	    "schedule", when, "jobSpecification", "poolInfo", pi,
	    "onAllTasksComplete", "noaction", "jobManagerTask", "id",
	    SUBMIT_JOB_MANAGER_ID, "displayName", "blobmill submit",
	    "commandLine", cmd ? cmd : "", "environmentSettings",
	    job_manager_env(s, cfg), "authenticationTokenSettings", "access",
	    "job", "killJobOnCompletion", 0, "runExclusive", 0, "constraints",
	    "maxTaskRetryCount", 2);
	if (!pi || !cmd || !sched) {
		term_errorf("submit: cannot build the job schedule");
		goto out;
	}
	bm_error_clear(&err);
	if (batch_job_schedule_add(bc, sched, &err)) {
		char what[160];

		snprintf(what, sizeof(what), "cannot create job schedule '%s'",
			 s->job_id);
		if (!strcmp(err.azure_code, "JobScheduleExists"))
			term_errorf(
			    "submit: job schedule '%s' already exists: "
			    "delete it (az batch job-schedule delete) or "
			    "use a new --job ID",
			    s->job_id);
		else
			submit_report(what, &err);
		goto out;
	}
	printf(
	    "job schedule '%s': every %s%s%s, adding the new blobs of '%s'\n",
	    s->job_id, s->schedule, s->start ? " from " : "",
	    s->start ? s->start : "", s->job.topt.input);
	rc = TERM_EXIT_OK;
out:
	json_decref(sched);
	json_decref(pi);
	free(cmd);
	return rc;
}

/* ---- entry ------------------------------------------------------------ */

/* tasks_job's on_skip: the report's line of a skipped blob. */
static void submit_skip(const struct task_skip *sk, void *ud)
{
	struct submit *s = ud;

	if (s->report)
		batch_report_skip(s->report, sk);
}

int cmd_submit(int argc, char **argv)
{
	struct batch_client *bc = NULL;
	struct bm_token *entra = NULL;
	struct batch_account acct;
	struct bm_http_options ho;
	struct submit s;
	struct bm_error err;
	int rc, prc;

	memset(&s, 0, sizeof(s));
	memset(&acct, 0, sizeof(acct));
	tasks_job_init(&s.job, "submit");
	pool_settings_init(&s.pool);
	batch_add_opts_default(&s.add);
	batch_wait_opts_default(&s.wopts);
	prc = submit_parse(&s, argc, argv);
	if (prc) {
		rc = prc > 0 ? TERM_EXIT_OK : TERM_EXIT_USAGE;
		goto out;
	}
	bm_error_clear(&err);
	/* No Batch key: the identity that signs in to storage signs in to
	 * Batch too (a token for the Batch resource). */
	if (!batch_account_has_secret(s.batch_key_file) &&
	    !(entra = cli_batch_token(&s.job.cred, &err)) &&
	    err.code != BM_OK) {
		term_errorf("submit: %s", err.msg);
		rc = TERM_EXIT_USAGE;
		goto out;
	}
	if (batch_account_load(&acct, s.batch_url, s.batch_account,
			       s.batch_key_file, entra, &err)) {
		term_errorf("submit: %s", err.msg);
		rc = TERM_EXIT_USAGE;
		goto out;
	}
	bm_http_options_default(&ho);
	if (s.job.cred.max_retry >= 0)
		ho.retry.max_retries = s.job.cred.max_retry;
	if (s.job.cred.max_retry_interval > 0)
		ho.retry.max_delay_ms =
		    (long)s.job.cred.max_retry_interval * 1000;
	ho.ca_cert_file = s.job.cred.ca_cert_file;
	ho.insecure = s.job.cred.insecure;
	bc = batch_client_new(&acct, &ho, &err);
	if (!bc) {
		submit_report("cannot set up the Batch client", &err);
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	if (s.report_path &&
	    batch_report_open(s.report_path, &s.report, &err)) {
		term_errorf("submit: %s", err.msg);
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	s.job.on_skip = submit_skip;
	s.job.skip_ud = &s;
	rc = s.schedule ? submit_schedule(bc, &s) : submit_tasks(bc, &s);
	bm_error_clear(&err);
	if (batch_report_close(s.report, &err)) {
		term_errorf("submit: %s", err.msg);
		rc = TERM_EXIT_FAILURE;
	}
	s.report = NULL;
out:
	batch_report_close(s.report, &err);
	batch_client_free(bc);
	batch_account_release(&acct);
	bm_token_free(entra);
	tasks_job_release(&s.job);
	free(s.fwd);
	return rc;
}
