/*
 * bmfs_read: reads of one remote blob (the read buffer budget that all
 * readers of the mount share: bmfs_rbudget.c; what both see: bmfs_reader.h).
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
 * (or blobfuse2's block_cache.mem-size-mb), shared fairly among the
 * readers that hold or wait for buffers; how: bmfs_rbudget.c.
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
#include <time.h>
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"
#include "bmfs_mount.h"
#include "bmfs_reader.h"

/* A stream that gets no unit for this long (its reader stopped reading)
 * ends; the next sequential read starts another. */
#define STREAM_WAIT_S 10
/* A stream thread's stack: curl and TLS need far less. */
#define STREAM_STACK ((size_t)256 << 10)

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
	r->wake_at = UINT64_MAX;
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
		bmfs_rbudget_drop(r, &r->units[i]);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_lock(&bud->lock);
	r->wants = false;
	bmfs_rbudget_recount(r);
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
		if (u->state == U_READY && !bmfs_rbudget_consumed(r, u) &&
		    !demand)
			continue;
		if (u->state == U_READY && !bmfs_rbudget_consumed(r, u) &&
		    (!spare || u->stamp < spare->stamp)) {
			spare = u; /* demand only: the reader's own bytes */
			continue;
		}
		if (!reuse || u->stamp < reuse->stamp)
			reuse = u;
	}
	if (reuse && reuse->cap >= n && reuse->cap <= 2 * n &&
	    !bmfs_rbudget_over_share(r))
		return reuse;
	if (reuse) {
		bmfs_rbudget_drop(
		    r, reuse); /* the wrong size, or over the share */
		empty = reuse;
	}
	if (empty && bmfs_rbudget_grant(r, empty, n))
		return empty;
	if (spare) {
		bmfs_rbudget_drop(r, spare);
		if (bmfs_rbudget_grant(r, spare, n))
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
		n = (size_t)bmfs_rbudget_unit_size(r);
		if (n > r->size - r->spos)
			n = (size_t)(r->size - r->spos);
		u = claim_unit(r, n, false);
		if (u)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= STREAM_WAIT_S)
			break;
		r->stream_waiting = true;
		bmfs_rbudget_poll_wait(r);
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
	/* Waking a read for every chunk curl hands over (16 KiB) cost a
	 * context switch each: most of the daemon's CPU on this VM. */
	if (done || u->off + u->got >= r->wake_at) {
		r->wake_at = UINT64_MAX;
		pthread_cond_broadcast(&r->cond);
	}
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
		uint64_t su = bmfs_rbudget_unit_size(r);

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
	bool was = bmfs_rbudget_consumed(r, u);

	u->copied += n;
	u->stamp = ++r->clock;
	if (was || !bmfs_rbudget_consumed(r, u))
		return;
	if (bmfs_rbudget_over_share(r))
		bmfs_rbudget_drop(r, u);
	if (r->stream_waiting)
		pthread_cond_broadcast(&r->cond);
}

/* Waits on r->cond (r->lock held). */
static void wait_change(struct bmfs_reader *r)
{
	pthread_cond_wait(&r->cond, &r->lock);
	atomic_fetch_add(&r->bud->read_waits, 1);
}

/* Waits (r->lock held) until the stream's bytes reach `until` or its
 * unit is complete (the stream may need this read to consume a unit
 * before it can go on). */
static void wait_stream(struct bmfs_reader *r, uint64_t until)
{
	if (until < r->wake_at)
		r->wake_at = until;
	wait_change(r);
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
		if (u && u == r->sunit) {
			wait_stream(r, off + size < u->off + u->len
					   ? off + size
					   : u->off + u->len);
			continue;
		}
		if (u && u->state == U_LOADING) {
			wait_change(r);
			continue;
		}
		if (u && u->state == U_FAILED) {
			struct bm_error e = u->err;

			bmfs_rbudget_drop(r, u);
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
		    pos < r->spos + (HEAD_SIZE > bmfs_rbudget_unit_size(r)
					 ? HEAD_SIZE
					 : bmfs_rbudget_unit_size(r))) {
			wait_stream(r, off + size);
			continue;
		}
		/* A jump ahead: the stream's bytes would not be read. */
		if (r->sactive && pos > r->spos)
			r->sgen++;
		demand_range(r, pos, off + size, &uoff, &n);
		u = claim_unit(r, n, true);
		if (!u) {
			bmfs_rbudget_wait_room(r);
			waited = true;
			continue;
		}
		start_unit(r, u, uoff, n);
		r->inflight++;
		load_unit(r, u);
	}
	if (waited)
		bmfs_rbudget_set_wants(r, false);
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
