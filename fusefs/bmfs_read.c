/*
 * bmfs_read: streaming reads of one blob with ranged GETs.
 *
 * A reader holds a few block-sized buffers (--block-size-mb; max-concurrency
 * + 2 of them, allocated on first use). A read copies from the blocks that
 * cover it, loading a missing block in the calling thread; once the reader
 * has shown it reads sequentially (a read that starts where the last one
 * ended, past the middle of the first block), the next max-concurrency
 * blocks are fetched in parallel by the worker pool. So a small read at
 * the start of a large blob costs one GET of at most one block, and a
 * sequential read keeps several GETs in flight.
 *
 * Consistency: the first GET is sent without a condition and its ETag
 * becomes the reader's; every later GET carries If-Match with it and only
 * one GET runs until it is known. A blob overwritten or deleted under a
 * reader therefore fails the read with ESTALE (412/404 via bmfs_errno),
 * never mixes bytes of two versions, and once stale the reader stays
 * stale.
 *
 * Whole-file cache: a reader also writes every block it receives into a
 * file in the cache directory (when the blob fits the cache); if at close
 * every block arrived under one ETag, that file becomes the cached copy
 * (bmfs_fcache.c), so the next open reads it without a request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"

enum blk_state { BLK_FREE = 0, BLK_LOADING, BLK_READY, BLK_FAILED };

struct bmfs_block {
	struct bmfs_reader *r; /* immutable */
	/* Guarded by r->lock, except buf[0..len) and got, which only the
	 * loading thread touches while state == BLK_LOADING. */
	uint64_t off;
	size_t len; /* bytes asked for */
	size_t got; /* bytes received */
	char *buf;  /* r->bs bytes, or NULL until first used */
	enum blk_state state;
	struct bm_error err;
	uint64_t stamp; /* last use, for eviction */
};

struct bmfs_reader {
	/* Immutable. */
	struct bmfs *fs;
	char *blob;
	uint64_t bs;
	unsigned nblocks;
	struct bmfs_block *blocks;
	atomic_bool closing; /* read by sinks without the lock */
	char *tee_path;	     /* the cache file being filled, or NULL */
	int tee_fd;	     /* its fd (pwrite by loaders), or -1 */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Guarded by lock. */
	char etag[BM_ETAG_MAX]; /* "" until the first GET answered */
	uint64_t size;
	unsigned inflight; /* blocks in BLK_LOADING */
	uint64_t next_seq; /* where a sequential read starts next */
	uint64_t clock;
	bool stale; /* a GET found the blob changed */
	struct bm_error stale_err;
	uint8_t *tee_done; /* one bit per block written to tee_fd */
	bool tee_ok;	   /* no write failed, size as believed */
};

/* Starts filling a cache file when the blob can be cached at all. */
static void tee_start(struct bmfs_reader *r)
{
	uint64_t nblk = (r->size + r->bs - 1) / r->bs;

	r->tee_fd = -1;
	if (r->size == 0)
		return;
	r->tee_path = bmfs_fcache_newpath(r->fs, r->size);
	if (!r->tee_path)
		return;
	r->tee_done = calloc((size_t)(nblk + 7) / 8, 1);
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
static bool tee_write(struct bmfs_reader *r, const struct bmfs_block *b)
{
	size_t done = 0;

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

struct bmfs_reader *bmfs_reader_new(struct bmfs *fs, const char *blob,
				    uint64_t size)
{
	struct bmfs_reader *r = calloc(1, sizeof(*r));
	unsigned i;

	if (!r)
		return NULL;
	r->fs = fs;
	r->blob = strdup(blob);
	r->bs = (uint64_t)fs->opt.block_size_mb << 20;
	r->nblocks = fs->opt.max_concurrency + 2;
	r->blocks = calloc(r->nblocks, sizeof(*r->blocks));
	if (!r->blob || !r->blocks) {
		free(r->blob);
		free(r->blocks);
		free(r);
		return NULL;
	}
	for (i = 0; i < r->nblocks; i++)
		r->blocks[i].r = r;
	r->size = size;
	tee_start(r);
	atomic_init(&r->closing, false);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	return r;
}

void bmfs_reader_free(struct bmfs_reader *r)
{
	unsigned i;

	if (!r)
		return;
	atomic_store(&r->closing, true);
	pthread_mutex_lock(&r->lock);
	while (r->inflight)
		pthread_cond_wait(&r->cond, &r->lock);
	tee_finish(r);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->nblocks; i++)
		free(r->blocks[i].buf);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->blocks);
	free(r->blob);
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

/*
 * Performs the GET of b (state BLK_LOADING, counted in inflight). Called
 * and returns with r->lock held; drops it during the request.
 */
static void load_block(struct bmfs_reader *r, struct bmfs_block *b)
{
	struct bmfs *fs = r->fs;
	char etag[BM_ETAG_MAX];
	struct bm_get_opts o = {0};
	struct bm_blob_info info = {0};
	struct bm_error err;
	bool teed;
	int rc = -1;

	memcpy(etag, r->etag, sizeof(etag));
	o.offset = b->off;
	o.length = b->len;
	o.if_match = etag[0] ? etag : NULL;
	b->got = 0;
	bm_error_clear(&err);
	pthread_mutex_unlock(&r->lock);
	if (atomic_load(&r->closing))
		bm_error_set(&err, BM_ERR_ABORTED, "reader closed");
	else
		rc = fs->client->ops->get(fs->client, fs->container, r->blob,
					  &o, block_sink, b, &info, &err);
	teed = rc == 0 && r->tee_fd >= 0 && tee_write(r, b);
	pthread_mutex_lock(&r->lock);
	if (r->tee_fd >= 0) {
		if (teed && b->got == b->len)
			r->tee_done[b->off / r->bs / 8] |=
			    (uint8_t)(1u << (b->off / r->bs % 8));
		else if (rc == 0)
			r->tee_ok = false;
	}
	if (rc == 0 && !r->etag[0] && info.etag[0]) {
		/* The first answer fixes the version this reader reads. */
		memcpy(r->etag, info.etag, sizeof(r->etag));
		if (info.size != r->size) {
			r->size = info.size;
			r->tee_ok = false; /* sized for the old size */
		}
	} else if (rc == 0 && info.etag[0] && strcmp(info.etag, r->etag)) {
		rc = -1;
		bm_error_set(&err, BM_ERR_PRECONDITION,
			     "blob '%s' changed while open", r->blob);
	}
	if (rc == 0) {
		b->state = BLK_READY;
	} else {
		b->state = BLK_FAILED;
		b->err = err;
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
 * A slot for a new block: a free one, else the least recently used block
 * that is not loading. A prefetch (demand false) only takes blocks that
 * lie wholly before `pos`, so it never evicts what the reader still needs.
 * NULL when none qualifies or its buffer cannot be allocated.
 */
static struct bmfs_block *claim_slot(struct bmfs_reader *r, uint64_t pos,
				     bool demand)
{
	struct bmfs_block *best = NULL;
	unsigned i;

	for (i = 0; i < r->nblocks; i++) {
		struct bmfs_block *b = &r->blocks[i];

		if (b->state == BLK_LOADING)
			continue;
		if (b->state == BLK_FREE) {
			best = b;
			break;
		}
		if (!demand && b->off + b->len > pos)
			continue;
		if (!best || b->stamp < best->stamp)
			best = b;
	}
	if (best && !best->buf) {
		best->buf = malloc(r->bs);
		if (!best->buf)
			return NULL;
	}
	return best;
}

static void start_block(struct bmfs_reader *r, struct bmfs_block *b,
			uint64_t off)
{
	b->off = off;
	b->len = r->size - off < r->bs ? r->size - off : r->bs;
	b->got = 0;
	b->state = BLK_LOADING;
	bm_error_clear(&b->err);
	b->stamp = ++r->clock;
	r->inflight++;
}

/* Keeps up to max-concurrency blocks after `pos` loading. Lock held. */
static void prefetch(struct bmfs_reader *r, uint64_t pos)
{
	uint64_t off = pos - pos % r->bs;
	unsigned i;

	for (i = 1; i <= r->fs->opt.max_concurrency; i++) {
		struct bmfs_block *b;
		uint64_t boff = off + i * r->bs;

		if (boff >= r->size)
			break;
		if (find_block(r, boff))
			continue;
		b = claim_slot(r, pos, false);
		if (!b)
			break;
		start_block(r, b, boff);
		if (bmfs_pool_submit(r->fs->pool, prefetch_job, b) != 0) {
			b->state = BLK_FREE;
			r->inflight--;
			break;
		}
	}
}

int bmfs_reader_read(struct bmfs_reader *r, char *buf, size_t size,
		     uint64_t off)
{
	struct bm_error err;
	size_t done = 0;
	int rc = 0;
	bool sequential;

	bm_error_clear(&err);
	pthread_mutex_lock(&r->lock);
	sequential = off == r->next_seq;
	while (done < size && !r->stale) {
		uint64_t pos = off + done;
		struct bmfs_block *b;
		size_t n;

		if (pos >= r->size)
			break;
		b = find_block(r, pos - pos % r->bs);
		if (!b) {
			/* Until the ETag is known only one GET may run. */
			if (!r->etag[0] && r->inflight) {
				pthread_cond_wait(&r->cond, &r->lock);
				continue;
			}
			b = claim_slot(r, pos, true);
			if (!b && !r->inflight) {
				bm_error_set(&err, BM_ERR_NOMEM,
					     "no memory for a read buffer");
				break;
			}
			if (!b) {
				pthread_cond_wait(&r->cond, &r->lock);
				continue;
			}
			start_block(r, b, pos - pos % r->bs);
			load_block(r, b);
			continue;
		}
		if (b->state == BLK_LOADING) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		if (b->state == BLK_FAILED) {
			b->state = BLK_FREE;
			if (b->err.code == BM_ERR_RANGE)
				break; /* the blob is shorter than believed */
			err = b->err;
			break;
		}
		if (pos >= b->off + b->got)
			break; /* short block: the blob ended early */
		n = b->off + b->got - pos;
		if (n > size - done)
			n = size - done;
		memcpy(buf + done, b->buf + (pos - b->off), n);
		done += n;
		b->stamp = ++r->clock;
	}
	if (r->stale && err.code == BM_OK)
		err = r->stale_err;
	if (done > 0 || err.code == BM_OK) {
		rc = (int)done;
		r->next_seq = off + done;
		/* Prefetch once the reader is past the middle of its first
		 * block going forward: a peek at the start costs one GET. */
		if (sequential && r->etag[0] && off + done > r->bs / 2 &&
		    r->fs->pool)
			prefetch(r, off + done);
	}
	pthread_mutex_unlock(&r->lock);
	if (rc == 0 && err.code != BM_OK)
		rc = -bmfs_errno(BMFS_OP_READ, r->blob, &err);
	return rc;
}
