/*
 * batch_wait: see batch_wait.h.
 */
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"

void batch_wait_opts_default(struct batch_wait_opts *o)
{
	o->interval_s = 5;
	o->max_interval_s = 60;
	o->timeout_s = 0;
	o->max_errors = 10;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* "1h02m", "3m05s", "12s" */
static void fmt_duration(double s, char *out, size_t cap)
{
	long t = (long)(s + 0.5);

	if (t >= 3600)
		snprintf(out, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else if (t >= 60)
		snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(out, cap, "%lds", t);
}

/* Only transient failures are waited out; a wrong key or a deleted job
 * ends the wait at once. */
static bool transient(enum bm_errc code)
{
	return code == BM_ERR_THROTTLED || code == BM_ERR_SERVER ||
	       code == BM_ERR_NETWORK || code == BM_ERR_TIMEOUT;
}

static bool same_counts(const struct batch_task_counts *a,
			const struct batch_task_counts *b)
{
	return a->active == b->active && a->running == b->running &&
	       a->completed == b->completed && a->failed == b->failed;
}

static void progress_line(FILE *f, bool tty, const char *job_id,
			  const struct batch_task_counts *c, long expected,
			  double rate)
{
	long total = c->active + c->running + c->completed;
	char eta[32] = "--";

	if (!f)
		return;
	if (total < expected)
		total = expected;
	if (rate > 0 && c->completed < total)
		fmt_duration((double)(total - c->completed) / rate, eta,
			     sizeof(eta));
	else if (c->completed >= total)
		snprintf(eta, sizeof(eta), "0s");
	fprintf(f,
		"%sjob '%s': %ld active, %ld running, %ld completed of %ld "
		"(%ld succeeded, %ld failed), ETA %s%s",
		tty ? "\r" : "", job_id, c->active, c->running, c->completed,
		total, c->succeeded, c->failed, eta, tty ? "\033[K" : "\n");
	fflush(f);
}

int batch_wait_job(struct batch_client *c, const char *job_id, long expected,
		   const struct batch_wait_opts *o, FILE *progress,
		   struct batch_task_counts *final, struct bm_error *err)
{
	struct batch_task_counts cur, last = {-1, -1, -1, -1, -1};
	bool tty = progress && isatty(fileno(progress));
	double start = now_s(), interval = o->interval_s, rate = 0;
	long first_completed = -1;
	int errors = 0, rc = -1;

	for (;;) {
		struct bm_error perr;
		long retry_after = -1;

		bm_error_clear(&perr);
		if (batch_job_task_counts(c, job_id, &cur, &retry_after,
					  &perr) < 0) {
			if (!transient(perr.code) || ++errors > o->max_errors) {
				*err = perr;
				goto out;
			}
			/* Throttled or busy: wait longer, at least as long
			 * as the service asks. */
			interval = dmin(interval * 2, o->max_interval_s);
			if (retry_after > 0 && retry_after / 1000.0 > interval)
				interval = retry_after / 1000.0;
		} else {
			double elapsed = now_s() - start;

			errors = 0;
			if (first_completed < 0)
				first_completed = cur.completed;
			if (elapsed > 0 && cur.completed > first_completed)
				rate =
				    (double)(cur.completed - first_completed) /
				    elapsed;
			*final = cur;
			if (!same_counts(&cur, &last)) {
				progress_line(progress, tty, job_id, &cur,
					      expected, rate);
				interval = o->interval_s;
			} else {
				interval =
				    dmin(interval * 1.5, o->max_interval_s);
			}
			last = cur;
			if (cur.active == 0 && cur.running == 0 &&
			    cur.completed >= expected)
				break;
		}
		if (o->timeout_s > 0 &&
		    now_s() - start + interval > o->timeout_s) {
			bm_error_set(err, BM_ERR_TIMEOUT,
				     "job '%s' still has tasks to run after "
				     "%.0f s of waiting",
				     job_id, o->timeout_s);
			goto out;
		}
		sleep_s(interval);
	}
	rc = 0;
out:
	if (tty)
		fputc('\n', progress);
	return rc;
}

struct failure_ctx {
	FILE *out;
	long n;
};

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

static int print_failure(json_t *task, void *ud)
{
	struct failure_ctx *ctx = ud;
	json_t *ei = json_object_get(task, "executionInfo");
	json_t *fi = json_object_get(ei, "failureInfo");
	json_t *code = json_object_get(ei, "exitCode");
	const char *url = str_or(task, "url", "");
	const char *msg = str_or(fi, "message", "");

	ctx->n++;
	fprintf(ctx->out,
		"failed: task '%s' (blob '%s'): ", str_or(task, "id", "?"),
		str_or(task, "displayName", "?"));
	if (json_is_integer(code))
		fprintf(ctx->out, "exit code %lld",
			(long long)json_integer_value(code));
	else
		fprintf(ctx->out, "no exit code");
	if (fi)
		fprintf(ctx->out, " (%s: %.*s)", str_or(fi, "code", "?"),
			(int)strcspn(msg, "\r\n"), msg);
	fprintf(ctx->out,
		"\n  stdout: %s/files/stdout.txt\n"
		"  stderr: %s/files/stderr.txt\n",
		url, url);
	return 0;
}

long batch_report_failures(struct batch_client *c, const char *job_id,
			   FILE *out, struct bm_error *err)
{
	struct failure_ctx ctx = {out, 0};

	if (batch_task_list(c, job_id, "id,displayName,url,executionInfo",
			    "executionInfo/result eq 'failure'", print_failure,
			    &ctx, err) < 0)
		return -1;
	return ctx.n;
}
