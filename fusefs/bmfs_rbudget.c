/*
 * bmfs_rbudget: the read buffer budget that all readers of a mount share:
 * who may hold how many bytes of buffers, who gives way to whom. The
 * readers themselves are bmfs_read.c; what both see is bmfs_reader.h.
 *
 * Budget: the buffers of all readers together stay within READ_BUDGET
 * (or blobfuse2's block_cache.mem-size-mb). blobfuse2's
 * block_cache.prefetch: 0 turns streams off (every read loads what it
 * needs); any other value streams (bmfs_read.c).
 * Each reader that holds buffers or waits for one is "active", and its
 * fair share is READ_BUDGET / active readers; a stream's units are a
 * quarter of its reader's share (a power of two, at least UNIT_MIN), so
 * a lone reader streams through 4 units of 8 MiB and 64 readers through
 * 4 of 128 KiB each. A stream takes a new unit only within its share; a
 * unit its reader has consumed is reused, or freed when the reader is
 * over its share (the share shrank because readers came). A unit that is
 * loading or holds bytes its reader has not read is never taken from an
 * active reader. A read that needs a unit and finds no room waits: readers
 * over their share free units as they consume them, so room comes in
 * bounded time while they read on. Only a reader that has not read for
 * IDLE_S (paused, or a process that holds many files open and reads one)
 * may lose its units to a waiting reader, and refetches them if it comes
 * back. Buffers of 64 KiB and more are mmap()ed, so freed pages go back to
 * the system at once.
 *
 * Locks: bmfs_reader.lock, then bmfs_rbudget.lock (a leaf). Freeing
 * another reader's buffer takes that reader's lock with none held.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "bmfs_int.h"
#include "bmfs_mount.h"
#include "bmfs_reader.h"

struct bmfs_rbudget *bmfs_rbudget_new(uint64_t limit)
{
	struct bmfs_rbudget *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	atomic_init(&b->read_waits, 0);
	b->limit = limit ? limit : READ_BUDGET;
	return b;
}

void bmfs_rbudget_free(struct bmfs_rbudget *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void bmfs_rbudget_usage(struct bmfs_rbudget *b, uint64_t *used, uint64_t *peak)
{
	pthread_mutex_lock(&b->lock);
	*used = b->used;
	*peak = b->peak;
	pthread_mutex_unlock(&b->lock);
}

uint64_t bmfs_rbudget_read_waits(struct bmfs_rbudget *b)
{
	return atomic_load(&b->read_waits);
}

void bmfs_rbudget_recount(struct bmfs_reader *r)
{
	bool active = r->held > 0 || r->wants;

	if (active != r->counted) {
		r->counted = active;
		if (active)
			r->bud->active++;
		else
			r->bud->active--;
	}
}

/* r's fair share of the budget. bud->lock held. */
static uint64_t share_of(const struct bmfs_rbudget *bud)
{
	return bud->limit / (bud->active ? bud->active : 1);
}

uint64_t bmfs_rbudget_unit_size(struct bmfs_reader *r)
{
	uint64_t s, u = UNIT_MIN;

	pthread_mutex_lock(&r->bud->lock);
	s = share_of(r->bud) / SHARE_UNITS;
	pthread_mutex_unlock(&r->bud->lock);
	while (u * 2 <= s)
		u *= 2;
	return u;
}

bool bmfs_rbudget_over_share(struct bmfs_reader *r)
{
	bool over;

	pthread_mutex_lock(&r->bud->lock);
	over = r->held > share_of(r->bud);
	pthread_mutex_unlock(&r->bud->lock);
	return over;
}

void bmfs_rbudget_set_wants(struct bmfs_reader *r, bool wants)
{
	pthread_mutex_lock(&r->bud->lock);
	r->wants = wants;
	bmfs_rbudget_recount(r);
	pthread_mutex_unlock(&r->bud->lock);
}

static char *buf_alloc(size_t n)
{
	void *p;

	if (n < MMAP_MIN)
		return malloc(n);
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void buf_release(char *p, size_t n)
{
	if (n < MMAP_MIN)
		free(p);
	else if (p)
		munmap(p, n);
}

void bmfs_rbudget_drop(struct bmfs_reader *r, struct bmfs_unit *u)
{
	struct bmfs_rbudget *bud = r->bud;

	u->state = U_FREE;
	if (!u->buf)
		return;
	buf_release(u->buf, u->cap);
	pthread_mutex_lock(&bud->lock);
	bud->used -= u->cap;
	r->held -= u->cap;
	bmfs_rbudget_recount(r);
	pthread_mutex_unlock(&bud->lock);
	u->buf = NULL;
	u->cap = 0;
}

bool bmfs_rbudget_grant(struct bmfs_reader *r, struct bmfs_unit *u, size_t n)
{
	struct bmfs_rbudget *bud = r->bud;
	bool ok;

	pthread_mutex_lock(&bud->lock);
	ok = bud->used + n <= bud->limit &&
	     (r->held == 0 || r->held + n <= share_of(bud));
	/* A unit larger than the whole budget (a block size over 32 MiB)
	 * may be the only one. */
	ok = ok || (bud->used == 0 && n > bud->limit);
	if (ok) {
		bud->used += n;
		if (bud->used > bud->peak)
			bud->peak = bud->used;
		r->held += n;
		bmfs_rbudget_recount(r);
	}
	pthread_mutex_unlock(&bud->lock);
	if (!ok)
		return false;
	u->buf = buf_alloc(n);
	if (!u->buf) {
		pthread_mutex_lock(&bud->lock);
		bud->used -= n;
		r->held -= n;
		bmfs_rbudget_recount(r);
		pthread_mutex_unlock(&bud->lock);
		return false;
	}
	u->cap = n;
	return true;
}

bool bmfs_rbudget_consumed(const struct bmfs_reader *r,
			   const struct bmfs_unit *u)
{
	return u->state == U_READY &&
	       (u->copied >= u->len ||
		u->off + u->len + HEAD_SIZE <= r->next_seq);
}

/*
 * Frees one buffer of reader v for a reader that waits: a unit v has
 * consumed (or holding nothing), else, when v is idle, the one furthest
 * ahead (v refetches it if it reads on). v->lock not held.
 */
static bool steal_one(struct bmfs_reader *v, bool idle)
{
	struct bmfs_unit *best = NULL;
	unsigned i;

	pthread_mutex_lock(&v->lock);
	for (i = 0; i < MAX_UNITS; i++) {
		struct bmfs_unit *u = &v->units[i];

		if (!u->buf || u->state == U_LOADING || u == v->sunit)
			continue;
		if (u->state != U_READY || bmfs_rbudget_consumed(v, u)) {
			best = u;
			break;
		}
		if (idle && (!best || u->off > best->off))
			best = u;
	}
	if (best)
		bmfs_rbudget_drop(v, best);
	pthread_mutex_unlock(&v->lock);
	return best != NULL;
}

void bmfs_rbudget_poll_wait(struct bmfs_reader *r)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += POLL_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&r->cond, &r->lock, &until);
}

struct candidate {
	struct bmfs_reader *v;
	double last_read;
};

static int by_last_read(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return (x->last_read > y->last_read) - (x->last_read < y->last_read);
}

/*
 * The readers other than r that hold buffers, oldest last read first,
 * each with a ref so that it stays while we free one of its buffers
 * without bud->lock. NULL when there is none (or no memory: r waits).
 */
static struct candidate *take_candidates(struct bmfs_reader *r, size_t *n)
{
	struct bmfs_rbudget *bud = r->bud;
	struct bmfs_reader *v;
	struct candidate *c = NULL;
	size_t k = 0;

	pthread_mutex_lock(&bud->lock);
	for (v = bud->readers; v; v = v->bnext)
		k += v != r && v->held;
	if (k)
		c = malloc(k * sizeof(*c));
	*n = 0;
	for (v = bud->readers; c && v; v = v->bnext)
		if (v != r && v->held) {
			v->refs++;
			c[(*n)++] = (struct candidate){v, v->last_read};
		}
	pthread_mutex_unlock(&bud->lock);
	if (c)
		qsort(c, *n, sizeof(*c), by_last_read);
	return c;
}

/*
 * Asks every reader holding buffers, oldest last read first, for a buffer
 * it has read, then the idle ones for any: the oldest may hold only bytes
 * it has not read yet while a younger one holds bytes it has (asking only
 * the oldest made a read wait until that one went idle, or forever on a
 * stopped clock), and a buffer already read costs nobody a refetch.
 */
void bmfs_rbudget_wait_room(struct bmfs_reader *r)
{
	struct bmfs_rbudget *bud = r->bud;
	struct candidate *c;
	double now = bmfs_now(r->fs);
	bool freed = false;
	size_t i, n;

	bmfs_rbudget_set_wants(r, true);
	pthread_mutex_unlock(&r->lock);
	c = take_candidates(r, &n);
	for (i = 0; i < n && !freed; i++)
		freed = steal_one(c[i].v, false);
	for (i = 0; i < n && !freed; i++)
		if (now - c[i].last_read >= IDLE_S)
			freed = steal_one(c[i].v, true);
	pthread_mutex_lock(&bud->lock);
	for (i = 0; i < n; i++)
		c[i].v->refs--;
	pthread_mutex_unlock(&bud->lock);
	free(c);
	pthread_mutex_lock(&r->lock);
	if (freed)
		return;
	bmfs_rbudget_poll_wait(r);
}
