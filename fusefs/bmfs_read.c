/*
 * bmfs_read: streaming reads of one blob with ranged GETs, and the read
 * buffer budget that all readers of the mount share.
 *
 * A reader has read-ahead + 2 block slots (read-ahead: max-concurrency,
 * or blobfuse2's block_cache.prefetch). A block is the range
 * [k * block size, min((k + 1) * block size, size)); its buffer is
 * min(block size, blob size) bytes, so a 4 KiB file costs 4 KiB, not a
 * block. A read copies from the blocks that cover it, loading a missing
 * block in the calling thread. Until the reader has read half of
 * HEAD_SIZE in sequence, a load asks only for what the read needs rounded
 * up to HEAD_SIZE (a "head"; the rest of the block is fetched when a read
 * gets there): `head -c 4096` of a 1 GiB blob is one GET of 1 MiB. From
 * then on ("streaming") loads are whole blocks, and each read near the
 * last one keeps the rest of the current block and the next
 * read-ahead blocks loading on the worker pool, as far as the budget
 * allows.
 *
 * Budget: the buffers of all readers together stay within READ_BUDGET
 * bytes (or blobfuse2's block_cache.mem-size-mb; one buffer, when a block
 * is larger). A buffer is "idle" while
 * its block is not loading. Prefetch takes only free budget or the
 * reader's own blocks that lie behind it. A read that needs a buffer when
 * the budget is spent first reuses its own idle buffers, then frees the
 * idle buffer of the reader that has waited longest since its last read,
 * then waits for a load to finish: every loading buffer becomes idle in
 * bounded time, so a reader always gets at least one buffer and many open
 * files cannot exhaust memory. Buffers are mmap()ed, so their pages go
 * back to the system when freed and a short last block touches only what
 * it holds.
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
 * blob cost more than the GET itself for small files read once (cat of
 * 1,000 x 4 KiB: 0.9 x curl with the copy, 1.1 x without). Larger
 * blobs are not copied to disk: the kernel's page cache, kept across
 * opens of an unchanged version (bmfs_kcache.c), serves their rereads,
 * and the copy would cost a write of every byte.
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
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"

/* The first GET of a reader that has not shown it reads on, and the
 * sequential run after which whole blocks are loaded. */
#define HEAD_SIZE ((uint64_t)1 << 20)
/* All read buffers of a mount together (see the header comment). */
#define READ_BUDGET ((uint64_t)32 << 20)
/* Buffers at least this large come from mmap (returned on free). */
#define MMAP_MIN ((size_t)64 << 10)

enum blk_state { BLK_FREE = 0, BLK_LOADING, BLK_READY, BLK_FAILED };

struct bmfs_block {
	struct bmfs_reader *r; /* immutable */
	/* Guarded by r->lock, except buf[ready..len) and got, which only the
	 * loading thread touches while state == BLK_LOADING. */
	uint64_t off;
	size_t len;   /* bytes asked for so far (a head, or the block) */
	size_t got;   /* bytes received */
	size_t ready; /* bytes readers may copy (got when not loading) */
	char *buf;    /* cap bytes, or NULL */
	size_t cap;   /* counted in the budget while buf is set */
	enum blk_state state;
	struct bm_error err;
	uint64_t stamp; /* last use, for eviction */
};

struct bmfs_rbudget {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a buffer was freed or became idle */
	uint64_t limit;	     /* immutable */
	/* Guarded by lock. */
	uint64_t used;		     /* bytes of all buffers */
	uint64_t peak;		     /* the most used ever (tests) */
	struct bmfs_reader *readers; /* all open readers */
	uint64_t clock;		     /* orders readers' last reads */
};

struct bmfs_reader {
	/* Immutable. */
	struct bmfs *fs;
	struct bmfs_rbudget *bud;
	char *blob;
	char *kname; /* the name whose page cache records it feeds */
	uint64_t bs;
	unsigned nblocks;
	struct bmfs_block *blocks;
	atomic_bool closing; /* read by sinks without the lock */
	char *tee_path;	     /* the cache file being filled, or NULL */
	int tee_fd;	     /* its fd (pwrite by loaders), or -1 */
	bool tee_wanted;     /* a reread: copy it at the first read */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Guarded by lock. */
	char etag[BM_ETAG_MAX]; /* "" until the first GET answered */
	char want[BM_ETAG_MAX]; /* the version the opener believed */
	uint64_t size;
	size_t bufsz;	   /* buffer size: min(block size, size) */
	unsigned inflight; /* blocks in BLK_LOADING */
	uint64_t next_seq; /* where a sequential read starts next */
	uint64_t seq_run;  /* bytes read in sequence up to next_seq */
	bool streaming;	   /* it once read more than half a head in
			    * sequence: whole blocks and prefetch from now */
	uint64_t clock;
	bool stale; /* a GET found the blob changed */
	struct bm_error stale_err;
	uint8_t *tee_done; /* one bit per block written to tee_fd */
	bool tee_ok;	   /* no write failed, size as believed */

	/* Guarded by bud->lock. */
	struct bmfs_reader *bnext, *bprev; /* bud->readers */
	uint64_t idle;	    /* bytes of its buffers not loading */
	uint64_t last_read; /* bud->clock at its last read */
	unsigned refs;	    /* threads about to free one of its buffers */
};

/* Blocks a streaming reader keeps loading ahead of the one it reads. */
static unsigned readahead_blocks(const struct bmfs *fs)
{
	return fs->opt.readahead_blocks < 0
		   ? fs->opt.max_concurrency
		   : (unsigned)fs->opt.readahead_blocks;
}

/* ---- the budget ---- */

struct bmfs_rbudget *bmfs_rbudget_new(uint64_t limit)
{
	struct bmfs_rbudget *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->limit = limit ? limit : READ_BUDGET;
	return b;
}

void bmfs_rbudget_free(struct bmfs_rbudget *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b);
}

void bmfs_rbudget_usage(struct bmfs_rbudget *b, uint64_t *used, uint64_t *peak)
{
	pthread_mutex_lock(&b->lock);
	*used = b->used;
	*peak = b->peak;
	pthread_mutex_unlock(&b->lock);
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

/* Moves a block with a buffer between loading and idle. r->lock held. */
static void set_state(struct bmfs_block *b, enum blk_state st)
{
	struct bmfs_reader *r = b->r;
	bool was_idle = b->buf && b->state != BLK_LOADING;
	bool idle = b->buf && st != BLK_LOADING;

	b->state = st;
	if (was_idle == idle)
		return;
	pthread_mutex_lock(&r->bud->lock);
	if (idle) {
		r->idle += b->cap;
		pthread_cond_broadcast(&r->bud->cond);
	} else {
		r->idle -= b->cap;
	}
	pthread_mutex_unlock(&r->bud->lock);
}

/* Frees an idle block's buffer; the block is forgotten. r->lock held. */
static void drop_buf(struct bmfs_block *b)
{
	struct bmfs_reader *r = b->r;
	struct bmfs_rbudget *bud = r->bud;

	if (!b->buf)
		return;
	buf_release(b->buf, b->cap);
	pthread_mutex_lock(&bud->lock);
	bud->used -= b->cap;
	r->idle -= b->cap;
	pthread_cond_broadcast(&bud->cond);
	pthread_mutex_unlock(&bud->lock);
	b->buf = NULL;
	b->cap = 0;
	b->state = BLK_FREE;
}

/*
 * Gives the free slot b a buffer of r->bufsz bytes if the budget has room
 * (a demand may also take the first buffer of an empty budget). The slot
 * is counted as idle. r->lock held.
 */
static bool grant_buf(struct bmfs_block *b, bool demand)
{
	struct bmfs_reader *r = b->r;
	struct bmfs_rbudget *bud = r->bud;
	size_t n = r->bufsz;
	bool ok;

	pthread_mutex_lock(&bud->lock);
	ok = bud->used + n <= bud->limit || (demand && bud->used == 0);
	if (ok) {
		bud->used += n;
		if (bud->used > bud->peak)
			bud->peak = bud->used;
		r->idle += n;
	}
	pthread_mutex_unlock(&bud->lock);
	if (!ok)
		return false;
	b->buf = buf_alloc(n);
	b->cap = n;
	if (!b->buf) {
		pthread_mutex_lock(&bud->lock);
		bud->used -= n;
		r->idle -= n;
		pthread_mutex_unlock(&bud->lock);
		b->cap = 0;
		return false;
	}
	b->state = BLK_FREE;
	return true;
}

/* Frees the least recently used idle buffer of v. v->lock not held. */
static void steal_one(struct bmfs_reader *v)
{
	struct bmfs_block *best = NULL;
	unsigned i;

	pthread_mutex_lock(&v->lock);
	for (i = 0; i < v->nblocks; i++) {
		struct bmfs_block *b = &v->blocks[i];

		if (!b->buf || b->state == BLK_LOADING)
			continue;
		if (!best || b->state == BLK_FREE ||
		    (best->state != BLK_FREE && b->stamp < best->stamp))
			best = b;
		if (best->state == BLK_FREE)
			break;
	}
	if (best)
		drop_buf(best);
	pthread_mutex_unlock(&v->lock);
}

/*
 * Called by a read of r that found no buffer (r->lock held, none of r's
 * blocks loading): frees another reader's idle buffer, or waits until one
 * is freed, becomes idle, or the budget has room. Drops r->lock meanwhile;
 * the caller looks again.
 */
static void reclaim(struct bmfs_reader *r)
{
	struct bmfs_rbudget *bud = r->bud;
	struct bmfs_reader *v, *victim = NULL;

	pthread_mutex_unlock(&r->lock);
	pthread_mutex_lock(&bud->lock);
	for (;;) {
		if (bud->used + r->bufsz <= bud->limit || bud->used == 0)
			break;
		for (v = bud->readers; v; v = v->bnext)
			if (v != r && v->idle &&
			    (!victim || v->last_read < victim->last_read))
				victim = v;
		if (victim)
			break;
		pthread_cond_wait(&bud->cond, &bud->lock);
	}
	if (victim)
		victim->refs++;
	pthread_mutex_unlock(&bud->lock);
	if (victim) {
		steal_one(victim);
		pthread_mutex_lock(&bud->lock);
		if (--victim->refs == 0)
			pthread_cond_broadcast(&bud->cond);
		pthread_mutex_unlock(&bud->lock);
	}
	pthread_mutex_lock(&r->lock);
}

/* ---- the whole-file cache tee ---- */

/* Starts filling a cache file when the blob is one block and can be
 * cached at all (larger blobs: see the header comment). */
static void tee_start(struct bmfs_reader *r)
{
	r->tee_fd = -1;
	if (r->size == 0 || r->size > r->bs)
		return;
	r->tee_path = bmfs_fcache_newpath(r->fs, r->size);
	if (!r->tee_path)
		return;
	r->tee_done = calloc(1, 1);
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
	uint64_t i, nblk = (r->size + r->bs - 1) / r->bs;
	bool whole = r->tee_ok && !r->stale && r->etag[0];

	if (r->tee_fd < 0)
		return;
	for (i = 0; whole && i < nblk; i++)
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

/* Writes a received block to the cache file (no lock: distinct ranges). */
static bool tee_write(struct bmfs_reader *r, const struct bmfs_block *b,
		      size_t from)
{
	size_t done = from;

	while (done < b->got) {
		ssize_t n = pwrite(r->tee_fd, b->buf + done, b->got - done,
				   (off_t)(b->off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* ---- readers ---- */

struct bmfs_reader *bmfs_reader_new(struct bmfs *fs, const char *blob,
				    const char *kname, uint64_t size,
				    const char *etag, bool pin)
{
	struct bmfs_reader *r = calloc(1, sizeof(*r));
	unsigned i;

	if (!r)
		return NULL;
	r->fs = fs;
	r->bud = fs->rbudget;
	r->blob = strdup(blob);
	r->kname = strdup(kname);
	r->bs = (uint64_t)fs->opt.block_size_mb << 20;
	r->nblocks = readahead_blocks(fs) + 2;
	r->blocks = calloc(r->nblocks, sizeof(*r->blocks));
	if (!r->blob || !r->kname || !r->blocks) {
		free(r->blob);
		free(r->kname);
		free(r->blocks);
		free(r);
		return NULL;
	}
	for (i = 0; i < r->nblocks; i++)
		r->blocks[i].r = r;
	r->size = size;
	r->bufsz = (size_t)(size && size < r->bs ? size : r->bs);
	if (etag && pin)
		snprintf(r->etag, sizeof(r->etag), "%s", etag);
	if (etag)
		snprintf(r->want, sizeof(r->want), "%s", etag);
	r->tee_fd = -1;
	r->tee_wanted = pin;
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
	while (r->refs)
		pthread_cond_wait(&bud->cond, &bud->lock);
	pthread_mutex_unlock(&bud->lock);
	pthread_mutex_lock(&r->lock);
	while (r->inflight)
		pthread_cond_wait(&r->cond, &r->lock);
	tee_finish(r);
	for (i = 0; i < r->nblocks; i++)
		drop_buf(&r->blocks[i]);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->blocks);
	free(r->blob);
	free(r->kname);
	free(r);
}

static int block_sink(const void *data, size_t len, void *ud)
{
	struct bmfs_block *b = ud;

	if (atomic_load(&b->r->closing))
		return 1;
	if (len > b->len - b->got)
		return 1; /* more than asked for: fail, do not overrun */
	memcpy(b->buf + b->got, data, len);
	b->got += len;
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

/*
 * Performs the GET of b's bytes [got, len) (state BLK_LOADING, counted in
 * inflight). Called and returns with r->lock held; drops it during the
 * request.
 */
static void load_block(struct bmfs_reader *r, struct bmfs_block *b)
{
	struct bmfs *fs = r->fs;
	char etag[BM_ETAG_MAX];
	struct bm_get_opts o = {0};
	struct bm_blob_info info = {0};
	struct bm_error err;
	size_t from = b->got;
	bool teed;
	int rc = -1;

	memcpy(etag, r->etag, sizeof(etag));
	o.offset = b->off + b->got;
	o.length = b->len - b->got;
	o.if_match = etag[0] ? etag : NULL;
	bm_error_clear(&err);
	pthread_mutex_unlock(&r->lock);
	if (atomic_load(&r->closing))
		bm_error_set(&err, BM_ERR_ABORTED, "reader closed");
	else
		rc = fs->client->ops->get(fs->client, fs->container, r->blob,
					  &o, block_sink, b, &info, &err);
	teed = rc == 0 && r->tee_fd >= 0 && tee_write(r, b, from);
	pthread_mutex_lock(&r->lock);
	if (r->tee_fd >= 0) {
		if (teed && b->got == b->len && b->off + b->len == r->size)
			r->tee_done[0] |= 1;
		else if (rc == 0 && !teed)
			r->tee_ok = false;
	}
	if (rc == 0 && !r->etag[0] && info.etag[0]) {
		fix_version(r, &info);
	} else if (rc == 0 && info.etag[0] && strcmp(info.etag, r->etag)) {
		rc = -1;
		bm_error_set(&err, BM_ERR_PRECONDITION,
			     "blob '%s' changed while open", r->blob);
	}
	b->ready = b->got;
	if (rc == 0) {
		set_state(b, BLK_READY);
	} else {
		b->err = err;
		set_state(b, BLK_FAILED);
		if (err.code == BM_ERR_PRECONDITION ||
		    err.code == BM_ERR_NOT_FOUND) {
			r->stale = true;
			r->stale_err = err;
		}
	}
	r->inflight--;
	pthread_cond_broadcast(&r->cond);
}

static void prefetch_job(void *arg)
{
	struct bmfs_block *b = arg;
	struct bmfs_reader *r = b->r;

	pthread_mutex_lock(&r->lock);
	load_block(r, b);
	pthread_mutex_unlock(&r->lock);
}

static struct bmfs_block *find_block(struct bmfs_reader *r, uint64_t off)
{
	unsigned i;

	for (i = 0; i < r->nblocks; i++)
		if (r->blocks[i].state != BLK_FREE && r->blocks[i].off == off)
			return &r->blocks[i];
	return NULL;
}

/*
 * A slot with a buffer for a new block: an idle buffer of this reader
 * (free first, else the least recently used block), else a free slot the
 * budget gives a buffer. A prefetch (demand false) only takes blocks that
 * lie wholly before `pos`, so it never evicts what the reader still
 * needs. NULL when none qualifies.
 */
static struct bmfs_block *claim_slot(struct bmfs_reader *r, uint64_t pos,
				     bool demand)
{
	struct bmfs_block *best = NULL, *empty = NULL;
	unsigned i;

	for (i = 0; i < r->nblocks; i++) {
		struct bmfs_block *b = &r->blocks[i];

		if (b->state == BLK_LOADING)
			continue;
		if (!b->buf || b->cap < r->bufsz) {
			if (b->state == BLK_FREE || demand ||
			    b->off + b->len <= pos)
				empty = empty ? empty : b;
			continue;
		}
		if (b->state == BLK_FREE)
			return b;
		if (!demand && b->off + b->len > pos)
			continue;
		if (!best || b->stamp < best->stamp)
			best = b;
	}
	if (best)
		return best;
	if (!empty)
		return NULL;
	drop_buf(empty); /* too small for a grown blob, or none */
	return grant_buf(empty, demand) ? empty : NULL;
}

/* Bytes of the block at off: a block, or what is left of the blob. */
static size_t block_len(const struct bmfs_reader *r, uint64_t off)
{
	return r->size - off < r->bs ? (size_t)(r->size - off) : (size_t)r->bs;
}

/* Makes slot b (idle, with a buffer) load [off, off + len). */
static void start_block(struct bmfs_reader *r, struct bmfs_block *b,
			uint64_t off, size_t len)
{
	b->off = off;
	b->len = len;
	b->got = 0;
	b->ready = 0;
	bm_error_clear(&b->err);
	b->stamp = ++r->clock;
	set_state(b, BLK_LOADING);
	r->inflight++;
}

/* Asks for the rest of a block that holds only a head. */
static void extend_block(struct bmfs_reader *r, struct bmfs_block *b)
{
	b->len = block_len(r, b->off);
	set_state(b, BLK_LOADING);
	r->inflight++;
}

/* Queues b's load on the pool; false (b left free) when it cannot. */
static bool submit(struct bmfs_reader *r, struct bmfs_block *b)
{
	if (bmfs_pool_submit(r->fs->pool, prefetch_job, b) == 0)
		return true;
	b->len = b->got;
	set_state(b, b->got ? BLK_READY : BLK_FREE);
	r->inflight--;
	return false;
}

/* Completes the current block and keeps up to read-ahead blocks
 * after `pos` loading, as far as the budget allows. Lock held. */
static void prefetch(struct bmfs_reader *r, uint64_t pos)
{
	uint64_t off = pos - pos % r->bs;
	struct bmfs_block *cur = find_block(r, off);
	unsigned i;

	if (cur && cur->state == BLK_READY && cur->got == cur->len &&
	    cur->len < block_len(r, off)) {
		extend_block(r, cur);
		if (!submit(r, cur))
			return;
	}
	for (i = 1; i <= readahead_blocks(r->fs); i++) {
		struct bmfs_block *b;
		uint64_t boff = off + i * r->bs;

		if (boff >= r->size)
			break;
		if (find_block(r, boff))
			continue;
		b = claim_slot(r, pos, false);
		if (!b)
			break;
		start_block(r, b, boff, block_len(r, boff));
		if (!submit(r, b))
			break;
	}
}

/* What a demand load of the block at off asks for: the whole block once
 * the reader reads on, else the bytes up to `end` rounded up to a head. */
static size_t demand_len(const struct bmfs_reader *r, uint64_t off,
			 uint64_t end)
{
	size_t full = block_len(r, off);
	uint64_t want = end - off;

	if (r->streaming)
		return full;
	want = (want + HEAD_SIZE - 1) / HEAD_SIZE * HEAD_SIZE;
	return want < full ? (size_t)want : full;
}

/* Notes a read for the budget's choice of whom to take buffers from. */
static void note_read(struct bmfs_reader *r)
{
	pthread_mutex_lock(&r->bud->lock);
	r->last_read = ++r->bud->clock;
	pthread_mutex_unlock(&r->bud->lock);
}

int bmfs_reader_read(struct bmfs_reader *r, char *buf, size_t size,
		     uint64_t off)
{
	struct bm_error err;
	size_t done = 0;
	int rc = 0;
	bool sequential, near;

	bm_error_clear(&err);
	note_read(r);
	pthread_mutex_lock(&r->lock);
	if (r->tee_wanted) {
		/* Before any load: every block then passes the tee. */
		r->tee_wanted = false;
		tee_start(r);
	}
	sequential = off == r->next_seq;
	/* The kernel's readahead sends several reads at once, which may
	 * arrive out of order: within a block of the last one is near. */
	near = off + r->bs >= r->next_seq && off <= r->next_seq + r->bs;
	while (done < size && !r->stale) {
		uint64_t pos = off + done, boff;
		struct bmfs_block *b;
		size_t n;

		if (pos >= r->size)
			break;
		boff = pos - pos % r->bs;
		b = find_block(r, boff);
		if (b && pos < b->off + b->ready) {
			n = b->off + b->ready - pos;
			if (n > size - done)
				n = size - done;
			memcpy(buf + done, b->buf + (pos - b->off), n);
			done += n;
			b->stamp = ++r->clock;
			continue;
		}
		if (b && b->state == BLK_LOADING) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		if (b && b->state == BLK_FAILED) {
			set_state(b, BLK_FREE);
			if (b->err.code == BM_ERR_RANGE)
				break; /* the blob is shorter than believed */
			err = b->err;
			break;
		}
		if (b && b->got < b->len)
			break; /* short block: the blob ended early */
		/* Until the ETag is known only one GET may run. */
		if (!r->etag[0] && r->inflight) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		if (b) {
			extend_block(r, b); /* a head: fetch the rest */
			load_block(r, b);
			continue;
		}
		b = claim_slot(r, pos, true);
		if (!b && r->inflight) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		if (!b) {
			reclaim(r);
			continue;
		}
		start_block(r, b, boff, demand_len(r, boff, off + size));
		load_block(r, b);
	}
	if (r->stale && err.code == BM_OK)
		err = r->stale_err;
	/* A failure after some bytes fails the read: a short count would
	 * tell the kernel the file ends there. */
	if (err.code == BM_OK) {
		rc = (int)done;
		r->seq_run = sequential ? r->seq_run + done : done;
		r->next_seq = off + done;
		/* Prefetch once the reader is past the middle of its head
		 * going forward: a peek at the start costs one GET. */
		if (r->seq_run > HEAD_SIZE / 2)
			r->streaming = true;
		if (r->streaming && near && r->etag[0] && r->fs->pool)
			prefetch(r, off + done);
	}
	pthread_mutex_unlock(&r->lock);
	if (err.code != BM_OK)
		rc = -bmfs_errno(BMFS_OP_READ, r->blob, &err);
	return rc;
}
