/*
 * bmfs_pool: a fixed set of threads running queued jobs (write-behind
 * sends, upload retries).
 * Started after the daemon has forked (threads do not survive fork);
 * bmfs_pool_free runs what is queued, then joins. A job owns its argument
 * and must not block on another job of the same pool.
 */
#include <stdlib.h>

#include "bm_log.h"
#include "bmfs_int.h"

struct bmfs_job {
	struct bmfs_job *next;
	bmfs_job_fn fn;
	void *arg;
};

struct bmfs_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Guarded by lock. */
	struct bmfs_job *head, *tail;
	bool stopping;
	/* Immutable after bmfs_pool_new. */
	pthread_t *threads;
	unsigned nthreads;
};

static void *pool_main(void *ud)
{
	struct bmfs_pool *p = ud;
	struct bmfs_job *j;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		j = p->head;
		if (!j)
			break; /* stopping and nothing left */
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct bmfs_pool *bmfs_pool_new(unsigned nthreads)
{
	struct bmfs_pool *p = calloc(1, sizeof(*p));
	unsigned i;

	if (!p)
		return NULL;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
			bm_warn("cannot start worker thread %u of %u", i + 1,
				nthreads);
			break;
		}
	}
	p->nthreads = i;
	if (i == 0) {
		bmfs_pool_free(p);
		return NULL;
	}
	return p;
}

int bmfs_pool_submit(struct bmfs_pool *p, bmfs_job_fn fn, void *arg)
{
	struct bmfs_job *j = malloc(sizeof(*j));
	int rc = -1;

	if (!j)
		return -1;
	j->next = NULL;
	j->fn = fn;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (!p->stopping) {
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		pthread_cond_signal(&p->cond);
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	if (rc)
		free(j);
	return rc;
}

void bmfs_pool_free(struct bmfs_pool *p)
{
	unsigned i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->threads);
	free(p);
}
