/*
 * bmfs_read: reads of one remote blob, and the read buffer budget that all
 * readers of the mount share.
 *
 * A reader keeps up to MAX_UNITS "units": buffers that each hold one
 * range [off, off + len) of the blob, filled by a GET. A read copies from
 * the units that cover it.
 *
 * Head first: until the reader has read half of HEAD_SIZE in sequence, a
 * read that finds no unit loads one in the calling thread, asking only for
 * what the read needs rounded up to HEAD_SIZE: `head -c 4096` of a 1 GiB
 * blob is one GET of 1 MiB and nothing else.
 *
 * Streaming: from then on a read near the previous one starts a stream
 * unless one runs: ONE GET from the first byte no unit holds to the end of
 * the blob, run by a thread of the reader's own, which fills unit after
 * unit of the reader's window and waits (holding the connection, so TCP
 * pushes back on the server) while the window is full of bytes not yet
 * read. Readers copy a unit's bytes as they arrive. So a sequential reader
 * costs one head GET and one stream GET, and every byte is fetched once
 * whatever the number of readers: the budget bounds how far ahead a
 * reader is fetched, never what it has already been given. Why one GET
 * and not one per block: a GET costs the server fixed work (on Azurite
 * ~10 ms of CPU, as much as several MiB of body), and with many readers
 * sharing a small budget per-block GETs would have to be small.
 *
 * Budget: the buffers of all readers together stay within READ_BUDGET
 * (or blobfuse2's block_cache.mem-size-mb). blobfuse2's
 * block_cache.prefetch: 0 turns streams off (every read loads what it
 * needs); any other value streams as above.
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
 * Consistency: the first GET is sent without a condition (unless the
 * opener asked for a version) and its ETag becomes the reader's; every
 * later GET carries If-Match with it and only one GET runs until it is
 * known. A blob overwritten or deleted under a reader therefore fails the
 * read with ESTALE (412/404 via bmfs_errno), never mixes bytes of two
 * versions, and once stale the reader stays stale.
 *
 * Whole-file cache: a reader of a blob that fits in one block, reading a
 * version the mount has had open before (`pin`: a reread whose pages the
 * kernel no longer has, or it would not ask), also writes what it
 * receives into a file in the cache directory; if at close the whole blob
 * arrived under one ETag, that file becomes the cached copy
 * (bmfs_fcache.c). A first read makes no copy: creating a cache file per
 * blob cost more than the GET itself for small files read once. Larger
 * blobs are not copied to disk: the kernel's page cache, kept across
 * opens of an unchanged version (bmfs_kcache.c), serves their rereads.
 *
 * Locks: bmfs_reader.lock, then bmfs_rbudget.lock (a leaf). Freeing
 * another reader's buffer takes that reader's lock with none held.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"
#include "bmfs_mount.h"

/* The first GET of a reader that has not shown it reads on, and the
 * sequential run after which it streams. */
#define HEAD_SIZE ((uint64_t)1 << 20)
/* All read buffers of a mount together (see the header comment). */
#define READ_BUDGET ((uint64_t)32 << 20)
/* Buffers at least this large come from mmap (returned on free). */
#define MMAP_MIN ((size_t)64 << 10)
/* The smallest stream unit, and what loads are aligned to. */
#define UNIT_MIN ((uint64_t)128 << 10)
#define UNIT_ALIGN ((uint64_t)64 << 10)
/* A stream's units per share: one being read, the rest filling. */
#define SHARE_UNITS 4
#define MAX_UNITS 16
/* A stream that gets no unit for this long (its reader stopped reading)
 * ends; the next sequential read starts another. */
#define STREAM_WAIT_S 10
/* A reader that has not read for this long may lose its units. */
#define IDLE_S 0.5
/* How often a waiting reader looks at the budget again. */
#define POLL_NS 5000000L
/* A stream thread's stack: curl and TLS need far less. */
#define STREAM_STACK ((size_t)256 << 10)

enum unit_state { U_FREE = 0, U_LOADING, U_READY, U_FAILED };

struct bmfs_unit {
	/* Guarded by r->lock, except buf[ready..len) and got, which only the
	 * loading thread touches while state == U_LOADING. */
	uint64_t off;
	size_t len;    /* bytes asked for */
	size_t got;    /* bytes received */
	size_t ready;  /* bytes readers may copy */
	size_t copied; /* bytes readers copied (consumed once >= len) */
	char *buf;     /* cap bytes, or NULL */
	size_t cap;    /* counted in the budget while buf is set */
	enum unit_state state;
	struct bm_error err;
	uint64_t stamp; /* last use, for reuse */
};

struct bmfs_rbudget {
	pthread_mutex_t lock;
	uint64_t limit; /* immutable */
	/* Guarded by lock. */
	uint64_t used;		     /* bytes of all buffers */
	uint64_t peak;		     /* the most used ever (tests) */
	unsigned active;	     /* readers holding or waiting */
	struct bmfs_reader *readers; /* all open readers */
};

struct bmfs_reader {
	/* Immutable. */
	struct bmfs *fs;
	struct bmfs_rbudget *bud;
	char *blob;
	char *kname; /* the name whose page cache records it feeds */
	uint64_t bs;
	atomic_bool closing; /* read by sinks without the lock */
	char *tee_path;	     /* the cache file being filled, or NULL */
	int tee_fd;	     /* its fd (pwrite by loaders), or -1 */
	bool tee_wanted;     /* a reread: copy it at the first read */
	/* Only the stream thread touches sunit's buffer and got. */
	struct bmfs_unit *sunit; /* the unit the stream fills, or NULL */

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a unit loaded, filled more, or consumed */
	/* Guarded by lock. */
	struct bmfs_unit units[MAX_UNITS];
	char etag[BM_ETAG_MAX]; /* "" until the first GET answered */
	char want[BM_ETAG_MAX]; /* the version the opener believed */
	uint64_t size;
	unsigned inflight; /* GETs running (demand loads and the stream) */
	uint64_t next_seq; /* where a sequential read starts next */
	uint64_t seq_run;  /* bytes read in sequence up to next_seq */
	bool streaming;	   /* it once read more than half a head in
			    * sequence: it streams from now */
	uint64_t clock;
	bool stale; /* a GET found the blob changed */
	struct bm_error stale_err;
	bool sactive;	     /* a stream thread runs */
	bool sjoin;	     /* sthread is to be joined */
	pthread_t sthread;   /* the stream's thread */
	unsigned sgen;	     /* bumped to stop the stream */
	uint64_t spos;	     /* where the stream's next unit starts */
	uint8_t *tee_done;   /* one bit per UNIT_ALIGN granule written */
	bool tee_ok;	     /* no write failed, size as believed */
	unsigned waiters;    /* reads waiting on cond */
	bool stream_waiting; /* the stream waits for a unit */

	/* Guarded by bud->lock. */
	struct bmfs_reader *bnext, *bprev; /* bud->readers */
	uint64_t held;			   /* bytes of its buffers */
	bool wants;			   /* a read waits for room */
	bool counted;			   /* in bud->active */
	double last_read;		   /* bmfs_now() at its last read */
	unsigned refs; /* threads about to free one of its buffers */
};

/* ---- the budget ---- */

struct bmfs_rbudget *bmfs_rbudget_new(uint64_t limit)
{
	struct bmfs_rbudget *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
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

/* Keeps bud->active in step with r's holding or wanting. bud->lock held. */
static void recount(struct bmfs_reader *r)
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

/* The size of a stream unit for r now: a quarter of its share, a power of
 * two of at least UNIT_MIN. Not the block size: the stream is one GET
 * whatever its units, and a unit of a small block size would leave a
 * lone reader's share unused (MAX_UNITS). */
static uint64_t stream_unit(struct bmfs_reader *r)
{
	uint64_t s, u = UNIT_MIN;

	pthread_mutex_lock(&r->bud->lock);
	s = share_of(r->bud) / SHARE_UNITS;
	pthread_mutex_unlock(&r->bud->lock);
	while (u * 2 <= s)
		u *= 2;
	return u;
}

/* Whether r holds more than its share. */
static bool over_share(struct bmfs_reader *r)
{
	bool over;

	pthread_mutex_lock(&r->bud->lock);
	over = r->held > share_of(r->bud);
	pthread_mutex_unlock(&r->bud->lock);
	return over;
}

/* Marks r as waiting for room (counted as active) or done waiting. */
static void set_wants(struct bmfs_reader *r, bool wants)
{
	pthread_mutex_lock(&r->bud->lock);
	r->wants = wants;
	recount(r);
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

/* Frees a unit's buffer (not loading); the unit is forgotten. r->lock
 * held. */
static void drop_buf(struct bmfs_reader *r, struct bmfs_unit *u)
{
	struct bmfs_rbudget *bud = r->bud;

	u->state = U_FREE;
	if (!u->buf)
		return;
	buf_release(u->buf, u->cap);
	pthread_mutex_lock(&bud->lock);
	bud->used -= u->cap;
	r->held -= u->cap;
	recount(r);
	pthread_mutex_unlock(&bud->lock);
	u->buf = NULL;
	u->cap = 0;
}

/*
 * Gives the free unit u (no buffer) a buffer of n bytes if the budget has
 * room: within r's share, or any room when r holds nothing (so every
 * reader gets a unit). r->lock held.
 */
static bool grant_buf(struct bmfs_reader *r, struct bmfs_unit *u, size_t n)
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
		recount(r);
	}
	pthread_mutex_unlock(&bud->lock);
	if (!ok)
		return false;
	u->buf = buf_alloc(n);
	if (!u->buf) {
		pthread_mutex_lock(&bud->lock);
		bud->used -= n;
		r->held -= n;
		recount(r);
		pthread_mutex_unlock(&bud->lock);
		return false;
	}
	u->cap = n;
	return true;
}

/* Whether r has read all of u (or left it well behind). */
static bool consumed(const struct bmfs_reader *r, const struct bmfs_unit *u)
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
		if (u->state != U_READY || consumed(v, u)) {
			best = u;
			break;
		}
		if (idle && (!best || u->off > best->off))
			best = u;
	}
	if (best)
		drop_buf(v, best);
	pthread_mutex_unlock(&v->lock);
	return best != NULL;
}

/* Waits on r->cond for at most POLL_NS (r->lock held): room in the budget
 * is not signalled, so whoever waits for it looks again. */
static void poll_wait(struct bmfs_reader *r)
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

/*
 * Called by a read of r that found no room (r->lock held): frees a buffer
 * of the reader whose last read is oldest (what it has read, or anything
 * not loading when it has not read for IDLE_S), else waits a moment for
 * room. Drops r->lock meanwhile; the caller looks again.
 */
static void wait_room(struct bmfs_reader *r)
{
	struct bmfs_rbudget *bud = r->bud;
	struct bmfs_reader *v, *victim = NULL;
	double now = bmfs_now(r->fs);
	bool freed, idle = false;

	set_wants(r, true);
	pthread_mutex_lock(&bud->lock);
	for (v = bud->readers; v; v = v->bnext)
		if (v != r && v->held &&
		    (!victim || v->last_read < victim->last_read))
			victim = v;
	if (victim) {
		victim->refs++;
		idle = now - victim->last_read >= IDLE_S;
	}
	pthread_mutex_unlock(&bud->lock);
	if (victim) {
		pthread_mutex_unlock(&r->lock);
		freed = steal_one(victim, idle);
		pthread_mutex_lock(&bud->lock);
		victim->refs--;
		pthread_mutex_unlock(&bud->lock);
		pthread_mutex_lock(&r->lock);
		if (freed)
			return;
	}
	r->waiters++;
	poll_wait(r);
	r->waiters--;
}

/* ---- the whole-file cache tee ---- */

/* Starts filling a cache file when the blob is one block and can be
 * cached at all (larger blobs: see the header comment). */
static void tee_start(struct bmfs_reader *r)
{
	uint64_t granules = (r->size + UNIT_ALIGN - 1) / UNIT_ALIGN;

	r->tee_fd = -1;
	if (r->size == 0 || r->size > r->bs)
		return;
	r->tee_path = bmfs_fcache_newpath(r->fs, r->size);
	if (!r->tee_path)
		return;
	r->tee_done = calloc((size_t)(granules + 7) / 8, 1);
	if (r->tee_done)
		r->tee_fd = open(r->tee_path,
				 O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (r->tee_fd < 0) {
		free(r->tee_done);
		r->tee_done = NULL;
		free(r->tee_path);
		r->tee_path = NULL;
		return;
	}
	r->tee_ok = true;
}

/* At close: a complete copy becomes a cache entry; else it goes. */
static void tee_finish(struct bmfs_reader *r)
{
	uint64_t i, n = (r->size + UNIT_ALIGN - 1) / UNIT_ALIGN;
	bool whole = r->tee_ok && !r->stale && r->etag[0];

	if (r->tee_fd < 0)
		return;
	for (i = 0; whole && i < n; i++)
		whole = (r->tee_done[i / 8] >> (i % 8)) & 1;
	close(r->tee_fd);
	if (whole)
		bmfs_fcache_adopt(r->fs, r->blob, r->etag, r->tee_path,
				  r->size);
	else
		unlink(r->tee_path);
	free(r->tee_path);
	free(r->tee_done);
}

/* Writes u's bytes [from, got) to the cache file (no lock: units hold
 * distinct ranges while loading). */
static bool tee_write(struct bmfs_reader *r, const struct bmfs_unit *u,
		      size_t from)
{
	size_t done = from;

	while (done < u->got) {
		ssize_t n = pwrite(r->tee_fd, u->buf + done, u->got - done,
				   (off_t)(u->off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* Notes that [off, end) is in the cache file: the granules it covers
 * whole (or up to the blob's end). r->lock held. */
static void tee_mark(struct bmfs_reader *r, uint64_t off, uint64_t end)
{
	uint64_t g = (off + UNIT_ALIGN - 1) / UNIT_ALIGN;

	for (; g * UNIT_ALIGN < end; g++) {
		uint64_t gend = (g + 1) * UNIT_ALIGN;

		if (gend > r->size)
			gend = r->size;
		if (gend > end)
			break;
		r->tee_done[g / 8] |= (uint8_t)(1u << (g % 8));
	}
}

/* After a GET into u of [u->off + from, u->off + got): tee it if a copy
 * is being made. Called without r->lock; returns whether it went well. */
static bool tee_unit(struct bmfs_reader *r, const struct bmfs_unit *u,
		     size_t from)
{
	return r->tee_fd < 0 || tee_write(r, u, from);
}

/* Records the tee of u's bytes from `from` (r->lock held). */
static void tee_note(struct bmfs_reader *r, const struct bmfs_unit *u,
		     size_t from, bool ok)
{
	if (r->tee_fd < 0)
		return;
	if (ok)
		tee_mark(r, u->off + from, u->off + u->got);
	else
		r->tee_ok = false;
}

/* ---- readers ---- */

struct bmfs_reader *bmfs_reader_new(struct bmfs *fs, const char *blob,
				    const char *kname, uint64_t size,
				    const char *etag, bool pin)
{
	struct bmfs_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fs = fs;
	r->bud = fs->rbudget;
	r->blob = strdup(blob);
	r->kname = strdup(kname);
	r->bs = (uint64_t)fs->opt.block_size_mb << 20;
	if (!r->blob || !r->kname) {
		free(r->blob);
		free(r->kname);
		free(r);
		return NULL;
	}
	r->size = size;
	if (etag && pin)
		snprintf(r->etag, sizeof(r->etag), "%s", etag);
	if (etag)
		snprintf(r->want, sizeof(r->want), "%s", etag);
	r->tee_fd = -1;
	r->tee_wanted = pin;
	r->last_read = bmfs_now(fs);
	atomic_init(&r->closing, false);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	pthread_mutex_lock(&r->bud->lock);
	r->bnext = r->bud->readers;
	if (r->bnext)
		r->bnext->bprev = r;
	r->bud->readers = r;
	pthread_mutex_unlock(&r->bud->lock);
	return r;
}

void bmfs_reader_free(struct bmfs_reader *r)
{
	struct bmfs_rbudget *bud;
	struct timespec pause = {0, POLL_NS};
	unsigned i;

	if (!r)
		return;
	bud = r->bud;
	atomic_store(&r->closing, true);
	/* Out of the list first, so no reader picks it to free a buffer;
	 * then wait for those that already did. */
	pthread_mutex_lock(&bud->lock);
	if (r->bprev)
		r->bprev->bnext = r->bnext;
	else
		bud->readers = r->bnext;
	if (r->bnext)
		r->bnext->bprev = r->bprev;
	while (r->refs) {
		pthread_mutex_unlock(&bud->lock);
		nanosleep(&pause, NULL);
		pthread_mutex_lock(&bud->lock);
	}
	pthread_mutex_unlock(&bud->lock);
	pthread_mutex_lock(&r->lock);
	pthread_cond_broadcast(&r->cond); /* a stream waiting for a unit */
	while (r->inflight)
		pthread_cond_wait(&r->cond, &r->lock);
	if (r->sjoin)
		pthread_join(r->sthread, NULL);
	tee_finish(r);
	for (i = 0; i < MAX_UNITS; i++)
		drop_buf(r, &r->units[i]);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_lock(&bud->lock);
	r->wants = false;
	recount(r);
	pthread_mutex_unlock(&bud->lock);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->blob);
	free(r->kname);
	free(r);
}

static int unit_sink(const void *data, size_t len, void *ud)
{
	struct bmfs_unit *u = ud;

	if (len > u->len - u->got)
		return 1; /* more than asked for: fail, do not overrun */
	memcpy(u->buf + u->got, data, len);
	u->got += len;
	return 0;
}

/* The first answer fixes the version this reader reads. r->lock held. */
static void fix_version(struct bmfs_reader *r, const struct bm_blob_info *info)
{
	memcpy(r->etag, info->etag, sizeof(r->etag));
	if (info->size != r->size) {
		r->size = info->size;
		r->tee_ok = false; /* sized for the old size */
	}
	/* The kernel may hold pages of the version the opener believed. */
	if (r->want[0] && strcmp(r->want, r->etag) != 0)
		bmfs_kcache_taint(r->fs, r->kname);
}

/* After a GET (rc, err, info): checks the version and marks the reader
 * stale when the blob changed. Returns rc, -1 for another version. r->lock
 * held. */
static int check_version(struct bmfs_reader *r, int rc,
			 const struct bm_blob_info *info, struct bm_error *err)
{
	if (rc == 0 && !r->etag[0] && info->etag[0]) {
		fix_version(r, info);
	} else if (rc == 0 && info->etag[0] && strcmp(info->etag, r->etag)) {
		rc = -1;
		bm_error_set(err, BM_ERR_PRECONDITION,
			     "blob '%s' changed while open", r->blob);
	}
	if (rc != 0 && (err->code == BM_ERR_PRECONDITION ||
			err->code == BM_ERR_NOT_FOUND)) {
		r->stale = true;
		r->stale_err = *err;
	}
	return rc;
}

/*
 * Performs the GET of u's bytes (state U_LOADING, counted in inflight) in
 * the calling thread. Called and returns with r->lock held; drops it
 * during the request.
 */
static void load_unit(struct bmfs_reader *r, struct bmfs_unit *u)
{
	struct bmfs *fs = r->fs;
	char etag[BM_ETAG_MAX];
	struct bm_get_opts o = {0};
	struct bm_blob_info info = {0};
	struct bm_error err;
	bool teed;
	int rc = -1;

	memcpy(etag, r->etag, sizeof(etag));
	o.offset = u->off;
	o.length = u->len;
	o.if_match = etag[0] ? etag : NULL;
	bm_error_clear(&err);
	pthread_mutex_unlock(&r->lock);
	if (atomic_load(&r->closing))
		bm_error_set(&err, BM_ERR_ABORTED, "reader closed");
	else
		rc = fs->client->ops->get(fs->client, fs->container, r->blob,
					  &o, unit_sink, u, &info, &err);
	teed = rc == 0 && tee_unit(r, u, 0);
	pthread_mutex_lock(&r->lock);
	if (rc == 0)
		tee_note(r, u, 0, teed);
	rc = check_version(r, rc, &info, &err);
	u->ready = u->got;
	if (rc == 0) {
		u->state = U_READY;
	} else {
		u->err = err;
		u->state = U_FAILED;
	}
	r->inflight--;
	pthread_cond_broadcast(&r->cond);
}

/* The unit holding byte pos (loading, or with bytes), or NULL. */
static struct bmfs_unit *find_unit(struct bmfs_reader *r, uint64_t pos)
{
	unsigned i;

	for (i = 0; i < MAX_UNITS; i++) {
		struct bmfs_unit *u = &r->units[i];

		if (u->state != U_FREE && u->off <= pos &&
		    pos < u->off + u->len)
			return u;
	}
	return NULL;
}

/* Where the first unit starting after pos begins (or the blob's end). */
static uint64_t next_unit_start(struct bmfs_reader *r, uint64_t pos)
{
	uint64_t end = r->size;
	unsigned i;

	for (i = 0; i < MAX_UNITS; i++) {
		struct bmfs_unit *u = &r->units[i];

		if (u->state != U_FREE && u->off > pos && u->off < end)
			end = u->off;
	}
	return end;
}

/*
 * A unit with a buffer of at least n bytes and not too much more, for a
 * load: one of r's units it has consumed or that holds nothing (or, for a
 * demand, any of its units not loading, least recently used first), else
 * a new buffer within the budget. NULL when none is there now. r->lock
 * held.
 */
static struct bmfs_unit *claim_unit(struct bmfs_reader *r, size_t n,
				    bool demand)
{
	struct bmfs_unit *reuse = NULL, *spare = NULL, *empty = NULL;
	unsigned i;

	for (i = 0; i < MAX_UNITS; i++) {
		struct bmfs_unit *u = &r->units[i];

		if (u->state == U_LOADING || u == r->sunit)
			continue;
		if (!u->buf) {
			empty = empty ? empty : u;
			continue;
		}
		if (u->state == U_READY && !consumed(r, u) && !demand)
			continue;
		if (u->state == U_READY && !consumed(r, u) &&
		    (!spare || u->stamp < spare->stamp)) {
			spare = u; /* demand only: the reader's own bytes */
			continue;
		}
		if (!reuse || u->stamp < reuse->stamp)
			reuse = u;
	}
	if (reuse && reuse->cap >= n && reuse->cap <= 2 * n && !over_share(r))
		return reuse;
	if (reuse) {
		drop_buf(r, reuse); /* the wrong size, or over the share */
		empty = reuse;
	}
	if (empty && grant_buf(r, empty, n))
		return empty;
	if (spare) {
		drop_buf(r, spare);
		if (grant_buf(r, spare, n))
			return spare;
	}
	return NULL;
}

/* Makes unit u (with a buffer) load [off, off + len). r->lock held. */
static void start_unit(struct bmfs_reader *r, struct bmfs_unit *u, uint64_t off,
		       size_t len)
{
	u->off = off;
	u->len = len;
	u->got = 0;
	u->ready = 0;
	u->copied = 0;
	bm_error_clear(&u->err);
	u->stamp = ++r->clock;
	u->state = U_LOADING;
}

/* ---- the stream ---- */

/*
 * The stream's next unit, marked loading, for [spos, ...). Waits (r->lock
 * dropped) while the reader still uses every unit it may have; NULL when
 * the blob is done, the reader closes, goes stale or stopped this stream
 * (gen), or no unit came within STREAM_WAIT_S.
 */
static struct bmfs_unit *stream_next(struct bmfs_reader *r, unsigned gen)
{
	struct bmfs_unit *u = NULL;
	struct timespec t0, now;
	size_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&r->lock);
	while (r->spos < r->size && !atomic_load(&r->closing) && !r->stale &&
	       r->sgen == gen) {
		n = (size_t)stream_unit(r);
		if (n > r->size - r->spos)
			n = (size_t)(r->size - r->spos);
		u = claim_unit(r, n, false);
		if (u)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= STREAM_WAIT_S)
			break;
		r->stream_waiting = true;
		poll_wait(r);
	}
	r->stream_waiting = false;
	if (u && (r->spos >= r->size || atomic_load(&r->closing) || r->stale ||
		  r->sgen != gen))
		u = NULL; /* keeps its buffer, free for the next load */
	if (u) {
		start_unit(r, u, r->spos, n);
		r->spos += n;
		r->sunit = u;
	}
	pthread_mutex_unlock(&r->lock);
	return u;
}

/* Lets readers copy what the stream put in u; completes u when full or
 * when the stream ends (`last`). Called by the stream thread, r->lock not
 * held. */
static void stream_publish(struct bmfs_reader *r, struct bmfs_unit *u,
			   bool last)
{
	bool done = last || u->got == u->len;
	bool teed = !done || tee_unit(r, u, 0);

	pthread_mutex_lock(&r->lock);
	u->ready = u->got;
	if (done) {
		tee_note(r, u, 0, teed);
		if (u->got < u->len) {
			/* Stopped early: keep what arrived. */
			u->len = u->got;
			r->spos = u->off + u->got;
		}
		u->state = u->got ? U_READY : U_FREE;
		r->sunit = NULL;
	}
	if (r->waiters || done)
		pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

struct stream_ctx {
	struct bmfs_reader *r;
	unsigned gen;
};

/* Fills the stream's units in order. Only the stream thread touches
 * r->sunit's bytes. */
static int stream_sink(const void *data, size_t len, void *ud)
{
	struct stream_ctx *c = ud;
	struct bmfs_reader *r = c->r;
	const char *p = data;

	while (len > 0) {
		struct bmfs_unit *u = r->sunit;
		size_t n;

		if (atomic_load(&r->closing))
			return 1;
		if (!u && !(u = stream_next(r, c->gen)))
			return 1; /* stops the GET; see stream_main */
		n = u->len - u->got < len ? u->len - u->got : len;
		memcpy(u->buf + u->got, p, n);
		u->got += n;
		p += n;
		len -= n;
		stream_publish(r, u, false);
	}
	return 0;
}

/* One GET of [spos, size) feeding unit after unit (see the header). */
static void *stream_main(void *arg)
{
	struct bmfs_reader *r = arg;
	struct bmfs *fs = r->fs;
	struct stream_ctx c = {r, 0};
	struct bm_get_opts o = {0};
	struct bm_blob_info info = {0};
	struct bm_error err;
	char etag[BM_ETAG_MAX];
	int rc;

	pthread_mutex_lock(&r->lock);
	memcpy(etag, r->etag, sizeof(etag));
	c.gen = r->sgen;
	o.offset = r->spos;
	o.length = r->size - r->spos;
	pthread_mutex_unlock(&r->lock);
	o.if_match = etag;
	bm_error_clear(&err);
	rc = fs->client->ops->get(fs->client, fs->container, r->blob, &o,
				  stream_sink, &c, &info, &err);
	if (r->sunit)
		stream_publish(r, r->sunit, true);
	pthread_mutex_lock(&r->lock);
	if (rc != 0 && err.code != BM_ERR_ABORTED)
		bm_debug("read '%s': stream ended: %s", r->blob, err.msg);
	if (rc != 0)
		check_version(r, rc, &info, &err);
	r->sactive = false;
	r->inflight--;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/*
 * Starts a stream from the first byte at or after pos that no unit holds,
 * unless it runs already or the blob is all there. r->lock held.
 */
static void start_stream(struct bmfs_reader *r, uint64_t pos)
{
	pthread_attr_t attr;
	struct bmfs_unit *u;
	int rc;

	if (r->sactive)
		return;
	while (pos < r->size && (u = find_unit(r, pos)) &&
	       (u->state == U_LOADING ||
		(u->state == U_READY && u->got == u->len)))
		pos = u->off + u->len;
	if (pos >= r->size)
		return;
	if (r->sjoin) {
		pthread_join(r->sthread, NULL); /* it has ended */
		r->sjoin = false;
	}
	r->spos = pos;
	r->sgen++;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STREAM_STACK);
	rc = pthread_create(&r->sthread, &attr, stream_main, r);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		bm_debug("read '%s': cannot start a stream thread", r->blob);
		return; /* reads load what they need themselves */
	}
	r->sactive = true;
	r->sjoin = true;
	r->inflight++;
}

/* ---- reads ---- */

/*
 * Where and how much a read at pos that no unit holds loads itself: from
 * pos rounded down to UNIT_ALIGN (not into a unit before it), what the
 * read needs rounded up to UNIT_ALIGN and to a head (or a stream unit once
 * the reader streams), not into a unit after it. r->lock held.
 */
static void demand_range(struct bmfs_reader *r, uint64_t pos, uint64_t end,
			 uint64_t *off, size_t *len)
{
	uint64_t start = pos - pos % UNIT_ALIGN, stop, want;
	unsigned i;

	for (i = 0; i < MAX_UNITS; i++) {
		struct bmfs_unit *u = &r->units[i];

		if (u->state != U_FREE && u->off < pos &&
		    u->off + u->len > start)
			start = u->off + u->len;
	}
	want = (end - start + UNIT_ALIGN - 1) / UNIT_ALIGN * UNIT_ALIGN;
	if (r->streaming) {
		uint64_t su = stream_unit(r);

		want = want > su ? want : su;
	} else {
		want = (want + HEAD_SIZE - 1) / HEAD_SIZE * HEAD_SIZE;
	}
	stop = next_unit_start(r, pos);
	if (r->sactive && r->spos > pos && r->spos < stop)
		stop = r->spos;
	if (start + want < stop)
		stop = start + want;
	*off = start;
	*len = (size_t)(stop - start);
}

/* Notes a read for the choice of whom to take buffers from. */
static void note_read(struct bmfs_reader *r)
{
	double now = bmfs_now(r->fs);

	pthread_mutex_lock(&r->bud->lock);
	r->last_read = now;
	pthread_mutex_unlock(&r->bud->lock);
}

/* Copied n bytes from u: once r has read all of it, its buffer serves
 * the stream again, or goes back to the budget when r is over its
 * share. r->lock held. */
static void copied_from(struct bmfs_reader *r, struct bmfs_unit *u, size_t n)
{
	bool was = consumed(r, u);

	u->copied += n;
	u->stamp = ++r->clock;
	if (was || !consumed(r, u))
		return;
	if (over_share(r))
		drop_buf(r, u);
	if (r->stream_waiting)
		pthread_cond_broadcast(&r->cond);
}

/* Waits on r->cond (r->lock held). */
static void wait_change(struct bmfs_reader *r)
{
	r->waiters++;
	pthread_cond_wait(&r->cond, &r->lock);
	r->waiters--;
}

int bmfs_reader_read(struct bmfs_reader *r, char *buf, size_t size,
		     uint64_t off)
{
	struct bm_error err;
	size_t done = 0;
	int rc = 0;
	bool sequential, near, waited = false;

	bm_error_clear(&err);
	note_read(r);
	pthread_mutex_lock(&r->lock);
	if (r->tee_wanted) {
		/* Before any load: every unit then passes the tee. */
		r->tee_wanted = false;
		tee_start(r);
	}
	sequential = off == r->next_seq;
	/* The kernel's readahead sends several reads at once, which may
	 * arrive out of order: within a block of the last one is near. */
	near = off + r->bs >= r->next_seq && off <= r->next_seq + r->bs;
	while (done < size && !r->stale) {
		uint64_t pos = off + done, uoff;
		struct bmfs_unit *u;
		size_t n;

		if (pos >= r->size)
			break;
		u = find_unit(r, pos);
		if (u && pos < u->off + u->ready) {
			n = u->off + u->ready - pos;
			if (n > size - done)
				n = size - done;
			memcpy(buf + done, u->buf + (pos - u->off), n);
			done += n;
			copied_from(r, u, n);
			continue;
		}
		if (u && u->state == U_LOADING) {
			wait_change(r);
			continue;
		}
		if (u && u->state == U_FAILED) {
			struct bm_error e = u->err;

			drop_buf(r, u);
			if (e.code == BM_ERR_RANGE)
				break; /* the blob is shorter than believed */
			err = e;
			break;
		}
		if (u)
			break; /* a short unit: the blob ended early */
		/* Until the ETag is known only one GET may run. */
		if (!r->etag[0] && r->inflight) {
			wait_change(r);
			continue;
		}
		/* The stream is about to bring it. */
		if (r->sactive && pos >= r->spos &&
		    pos < r->spos + (HEAD_SIZE > stream_unit(r)
					 ? HEAD_SIZE
					 : stream_unit(r))) {
			wait_change(r);
			continue;
		}
		/* A jump ahead: the stream's bytes would not be read. */
		if (r->sactive && pos > r->spos)
			r->sgen++;
		demand_range(r, pos, off + size, &uoff, &n);
		u = claim_unit(r, n, true);
		if (!u) {
			wait_room(r);
			waited = true;
			continue;
		}
		start_unit(r, u, uoff, n);
		r->inflight++;
		load_unit(r, u);
	}
	if (waited)
		set_wants(r, false);
	if (r->stale && err.code == BM_OK)
		err = r->stale_err;
	/* A failure after some bytes fails the read: a short count would
	 * tell the kernel the file ends there. */
	if (err.code == BM_OK) {
		rc = (int)done;
		r->seq_run = sequential ? r->seq_run + done : done;
		r->next_seq = off + done;
		/* Stream once the reader is past the middle of its head
		 * going forward: a peek at the start costs one GET. */
		if (r->seq_run > HEAD_SIZE / 2)
			r->streaming = true;
		if (r->streaming && near && r->etag[0] &&
		    r->fs->opt.readahead_blocks != 0)
			start_stream(r, off + done);
	}
	pthread_mutex_unlock(&r->lock);
	if (err.code != BM_OK)
		rc = -bmfs_errno(BMFS_OP_READ, r->blob, &err);
	return rc;
}
