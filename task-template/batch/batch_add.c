/*
 * batch_add: see batch_add.h. One producer (the caller) packs serialized
 * tasks into chunks and hands them to `parallel` worker threads through a
 * bounded queue.
 *
 * Locking: adder->lock guards the queue (head, tail, queued, closing), the
 * report and max_tasks. cur/cur_bytes belong to the producer alone. A
 * worker holds no lock while it talks to the service.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"

/* {"value":[ ... ]} around the comma-separated tasks. */
#define ENVELOPE_BYTES (sizeof("{\"value\":[]}") - 1)
#define MAX_BACKOFF_MS 10000

struct add_item {
	char *id;
	char *blob;
	char *json; /* the TaskAddParameter, compact */
	size_t len;
	char *last; /* why the last attempt did not add it, or NULL */
};

struct add_chunk {
	struct add_item *items;
	size_t n, cap;
	struct add_chunk *next;
};

struct batch_adder {
	struct batch_client *c;
	char *job_id;
	struct batch_add_opts o;
	pthread_mutex_t lock;
	pthread_cond_t work;	       /* a chunk was queued, or closing */
	pthread_cond_t space;	       /* a worker took a chunk */
	struct add_chunk *head, *tail; /* guarded by lock */
	size_t queued;		       /* guarded by lock */
	bool closing;		       /* guarded by lock */
	size_t max_tasks;	       /* guarded by lock; lowered by 413 */
	struct batch_add_report rep;   /* guarded by lock */
	pthread_t *threads;
	int nthreads;
	struct add_chunk *cur; /* producer only */
	size_t cur_bytes;      /* producer only */
};

void batch_add_opts_default(struct batch_add_opts *o)
{
	o->parallel = 4;
	o->max_attempts = 5;
	o->max_tasks = BATCH_ADD_MAX_TASKS;
	o->max_bytes = BATCH_ADD_MAX_BYTES;
	o->backoff_ms = 500;
}

void batch_add_report_release(struct batch_add_report *r)
{
	size_t i;

	for (i = 0; i < r->nfailures; i++) {
		free(r->failures[i].task_id);
		free(r->failures[i].blob);
		free(r->failures[i].reason);
	}
	free(r->failures);
	memset(r, 0, sizeof(*r));
}

static void item_release(struct add_item *it)
{
	free(it->id);
	free(it->blob);
	free(it->json);
	free(it->last);
}

static void chunk_free(struct add_chunk *ch)
{
	size_t i;

	if (!ch)
		return;
	for (i = 0; i < ch->n; i++)
		item_release(&ch->items[i]);
	free(ch->items);
	free(ch);
}

/* Records that a task was not added; takes nothing from it. */
static void report_failure(struct batch_adder *a, const struct add_item *it,
			   const char *reason)
{
	struct batch_add_failure *f;

	pthread_mutex_lock(&a->lock);
	f = realloc(a->rep.failures,
		    (a->rep.nfailures + 1) * sizeof(*a->rep.failures));
	if (f) {
		a->rep.failures = f;
		f += a->rep.nfailures++;
		f->task_id = strdup(it->id);
		f->blob = it->blob ? strdup(it->blob) : NULL;
		f->reason = strdup(reason);
	}
	pthread_mutex_unlock(&a->lock);
}

static void count(struct batch_adder *a, size_t *field, size_t n)
{
	pthread_mutex_lock(&a->lock);
	*field += n;
	pthread_mutex_unlock(&a->lock);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static long backoff(const struct batch_adder *a, int attempt)
{
	long ms = a->o.backoff_ms;

	while (--attempt > 0 && ms < MAX_BACKOFF_MS)
		ms *= 2;
	return ms < MAX_BACKOFF_MS ? ms : MAX_BACKOFF_MS;
}

/* Whole-request failures worth another attempt: the service was busy or
 * unreachable, not wrong about the request. */
static bool request_retryable(enum bm_errc code)
{
	return code == BM_ERR_THROTTLED || code == BM_ERR_SERVER ||
	       code == BM_ERR_NETWORK || code == BM_ERR_TIMEOUT;
}

/* The request body for items[0..n); malloc()ed. */
static char *build_body(const struct add_item *items, size_t n, size_t *len)
{
	size_t i, total = ENVELOPE_BYTES + 1;
	char *body, *p;

	for (i = 0; i < n; i++)
		total += items[i].len + 1;
	body = malloc(total);
	if (!body)
		return NULL;
	p = body;
	p += sprintf(p, "{\"value\":[");
	for (i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, items[i].json, items[i].len);
		p += items[i].len;
	}
	p += sprintf(p, "]}");
	*len = (size_t)(p - body);
	return body;
}

static json_t *find_result(json_t *results, const char *id)
{
	size_t i;
	json_t *r;

	json_array_foreach(results, i, r)
	{
		const char *rid =
		    json_string_value(json_object_get(r, "taskId"));

		if (rid && !strcmp(rid, id))
			return r;
	}
	return NULL;
}

/* "CODE: first line of the message" of a task result's error. */
static char *result_reason(json_t *r)
{
	json_t *e = json_object_get(r, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(
	    json_object_get(json_object_get(e, "message"), "value"));
	char *out;

	if (asprintf(&out, "%s: %.*s", code ? code : "unknown error",
		     msg ? (int)strcspn(msg, "\r\n") : 0, msg ? msg : "") < 0)
		return NULL;
	return out;
}

static void set_last(struct add_item *it, char *reason)
{
	free(it->last);
	it->last = reason;
}

/*
 * Sorts one request's results into added, failed and to-retry; the items
 * to retry are moved to the front. Returns how many to retry.
 */
static size_t apply_results(struct batch_adder *a, struct add_item *items,
			    size_t n, json_t *results)
{
	size_t i, again = 0, added = 0;

	for (i = 0; i < n; i++) {
		json_t *r = find_result(results, items[i].id);
		const char *status =
		    json_string_value(json_object_get(r, "status"));
		const char *code = json_string_value(
		    json_object_get(json_object_get(r, "error"), "code"));

		if (status && !strcmp(status, "success")) {
			added++;
		} else if (status && !strcmp(status, "clienterror") && code &&
			   !strcmp(code, "TaskExists")) {
			added++;
		} else if (status && !strcmp(status, "clienterror")) {
			char *why = result_reason(r);

			report_failure(a, &items[i], why ? why : "clienterror");
			free(why);
		} else {
			struct add_item tmp;

			set_last(
			    &items[i],
			    r ? result_reason(r)
			      : strdup("the service sent no result for it"));
			tmp = items[again];
			items[again++] = items[i];
			items[i] = tmp;
		}
	}
	count(a, &a->rep.added, added);
	return again;
}

static void lower_max_tasks(struct batch_adder *a, size_t n)
{
	pthread_mutex_lock(&a->lock);
	if (a->max_tasks > n)
		a->max_tasks = n;
	a->rep.splits++;
	pthread_mutex_unlock(&a->lock);
}

/* Adds items[0..n), reporting each task that is not added. */
static void add_items(struct batch_adder *a, struct add_item *items, size_t n)
{
	int attempt;

	for (attempt = 1; n > 0; attempt++) {
		struct bm_error err;
		json_t *results = NULL;
		size_t len, i;
		char *body = build_body(items, n, &len);

		bm_error_clear(&err);
		if (!body) {
			bm_error_set(&err, BM_ERR_NOMEM, "out of memory");
		} else {
			batch_task_add_collection(a->c, a->job_id, body, len,
						  &results, &err);
			count(a, &a->rep.requests, 1);
		}
		free(body);
		if (err.code == BM_ERR_TOO_LARGE && n > 1) {
			size_t half = n / 2;

			lower_max_tasks(a, half);
			add_items(a, items, half);
			add_items(a, items + half, n - half);
			return;
		}
		if (err.code != BM_OK) {
			if (request_retryable(err.code) &&
			    attempt < a->o.max_attempts) {
				sleep_ms(backoff(a, attempt));
				continue;
			}
			for (i = 0; i < n; i++) {
				char *why = NULL;

				if (asprintf(&why, "%s%s",
					     request_retryable(err.code)
						 ? "not confirmed: "
						 : "",
					     err.msg) < 0)
					why = NULL;
				report_failure(a, &items[i],
					       why ? why : err.msg);
				free(why);
			}
			return;
		}
		n = apply_results(a, items, n, results);
		json_decref(results);
		if (n > 0 && attempt >= a->o.max_attempts) {
			for (i = 0; i < n; i++) {
				char *why = NULL;

				if (asprintf(&why,
					     "servererror after %d "
					     "attempts: %s",
					     attempt,
					     items[i].last ? items[i].last
							   : "") < 0)
					why = NULL;
				report_failure(a, &items[i],
					       why ? why : "servererror");
				free(why);
			}
			return;
		}
		if (n > 0)
			sleep_ms(backoff(a, attempt));
	}
}

static void *worker(void *arg)
{
	struct batch_adder *a = arg;

	for (;;) {
		struct add_chunk *ch;

		pthread_mutex_lock(&a->lock);
		while (!a->head && !a->closing)
			pthread_cond_wait(&a->work, &a->lock);
		ch = a->head;
		if (ch) {
			a->head = ch->next;
			if (!a->head)
				a->tail = NULL;
			a->queued--;
			pthread_cond_signal(&a->space);
		}
		pthread_mutex_unlock(&a->lock);
		if (!ch)
			return NULL;
		add_items(a, ch->items, ch->n);
		chunk_free(ch);
	}
}

struct batch_adder *batch_adder_new(struct batch_client *c, const char *job_id,
				    const struct batch_add_opts *o,
				    struct bm_error *err)
{
	struct batch_adder *a = calloc(1, sizeof(*a));
	int i;

	if (!a || !(a->job_id = strdup(job_id))) {
		free(a);
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	a->c = c;
	a->o = *o;
	if (a->o.parallel < 1)
		a->o.parallel = 1;
	if (a->o.max_attempts < 1)
		a->o.max_attempts = 1;
	a->max_tasks = a->o.max_tasks;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->space, NULL);
	a->threads = calloc((size_t)a->o.parallel, sizeof(*a->threads));
	for (i = 0; a->threads && i < a->o.parallel; i++) {
		if (pthread_create(&a->threads[i], NULL, worker, a) != 0)
			break;
		a->nthreads++;
	}
	if (a->nthreads == 0) {
		struct batch_add_report r;

		bm_error_set(err, BM_ERR_NOMEM, "cannot start request threads");
		batch_adder_finish(a, &r);
		batch_add_report_release(&r);
		return NULL;
	}
	return a;
}

/* Hands the producer's current chunk to the workers (blocks while the
 * queue is full). */
static void flush_current(struct batch_adder *a)
{
	struct add_chunk *ch = a->cur;

	if (!ch)
		return;
	a->cur = NULL;
	a->cur_bytes = 0;
	pthread_mutex_lock(&a->lock);
	while (a->queued >= (size_t)a->nthreads)
		pthread_cond_wait(&a->space, &a->lock);
	if (a->tail)
		a->tail->next = ch;
	else
		a->head = ch;
	a->tail = ch;
	a->queued++;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
}

int batch_adder_add(struct batch_adder *a, const json_t *task,
		    struct bm_error *err)
{
	const char *id = json_string_value(json_object_get(task, "id"));
	const char *blob =
	    json_string_value(json_object_get(task, "displayName"));
	struct add_item it = {0};
	size_t max_tasks;

	it.id = strdup(id ? id : "");
	it.blob = blob ? strdup(blob) : NULL;
	it.json = json_dumps(task, JSON_COMPACT);
	if (!it.id || (blob && !it.blob) || !it.json)
		goto nomem;
	it.len = strlen(it.json);
	count(a, &a->rep.submitted, 1);
	if (it.len + ENVELOPE_BYTES >= a->o.max_bytes) {
		char why[128];

		snprintf(why, sizeof(why),
			 "its JSON is %zu bytes, more than one request may "
			 "carry (%zu)",
			 it.len, a->o.max_bytes);
		report_failure(a, &it, why);
		item_release(&it);
		return 0;
	}
	pthread_mutex_lock(&a->lock);
	max_tasks = a->max_tasks;
	pthread_mutex_unlock(&a->lock);
	if (a->cur &&
	    (a->cur->n >= max_tasks ||
	     a->cur_bytes + it.len + 1 + ENVELOPE_BYTES >= a->o.max_bytes))
		flush_current(a);
	if (!a->cur) {
		a->cur = calloc(1, sizeof(*a->cur));
		if (!a->cur)
			goto nomem;
	}
	if (a->cur->n == a->cur->cap) {
		size_t cap = a->cur->cap ? a->cur->cap * 2 : 16;
		struct add_item *n = realloc(a->cur->items, cap * sizeof(*n));

		if (!n)
			goto nomem;
		a->cur->items = n;
		a->cur->cap = cap;
	}
	a->cur->items[a->cur->n++] = it;
	a->cur_bytes += it.len + 1;
	return 0;
nomem:
	item_release(&it);
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	return -1;
}

void batch_adder_finish(struct batch_adder *a, struct batch_add_report *r)
{
	int i;

	if (a->nthreads > 0)
		flush_current(a);
	pthread_mutex_lock(&a->lock);
	a->closing = true;
	pthread_cond_broadcast(&a->work);
	pthread_mutex_unlock(&a->lock);
	for (i = 0; i < a->nthreads; i++)
		pthread_join(a->threads[i], NULL);
	chunk_free(a->cur);
	*r = a->rep;
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->work);
	pthread_cond_destroy(&a->space);
	free(a->threads);
	free(a->job_id);
	free(a);
}
