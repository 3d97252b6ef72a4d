/*
 * bmfs_stream: write-behind of the blocks of a large local copy.
 *
 * A file written through the mount is uploaded at flush/fsync/close, and
 * a file over the Put Blob limit goes up as Put Block + Put Block List.
 * Waiting for the close to send every block would add the whole upload
 * to the time the writer has already spent writing; instead, once the
 * copy is past the Put Blob limit, every block wholly below the end of
 * the last write is sent by the worker pool while the writer goes on
 * (--max-concurrency in flight at most). At flush the upload sends only
 * the blocks that are not already there, then the block list
 * (bm_blob_upload_blocks_fd), so a sequential writer's close waits for
 * the last blocks only.
 *
 * Block ids carry a prefix drawn at random (bm_blob_block_id), kept
 * from one commit to the next so that a later flush sends only the
 * blocks that changed and names the others again; that commit is then
 * conditional on the ETag of the one before (bm_blob_upload_blocks_fd):
 * blocks this mount committed are its own only while nobody else wrote
 * the blob. A truncation, or a flush that had to send everything again,
 * starts a fresh prefix.
 *
 * Nothing here decides what the blob holds: a block sent early is an
 * uncommitted block until the flush commits it, and a write to a block
 * after it was sent (or while it is being sent: a generation counter
 * tells) makes it unsent again, so the flush sends it with what the copy
 * holds then. A failed early send is forgotten (the flush sends the block
 * and reports any error there), so every error still surfaces at
 * close/fsync. The bodies are read from the copy with pread by the HTTP
 * layer: no block is held in memory.
 *
 * The worker pool is one queue for every writer of the mount. A flush
 * does not wait behind other writers' queued sends for its own: it starts
 * a new epoch, waits only for this stream's sends already on the wire,
 * and takes back the blocks still queued; a job queued in an older epoch
 * sends nothing when it finally runs. The flush sends those blocks
 * itself (--max-concurrency of its own). So N writers closing at once
 * each wait for their own last blocks, not for the whole queue.
 *
 * Locks: stream.lock is taken under wf->lock (writers, flush) or alone
 * (the send jobs, which never take wf->lock). A job holds no reference
 * to the wfile: freeing the wfile waits for its jobs instead
 * (bmfs_stream_free), so a job never waits for a writer or a flush.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_log.h"
#include "bmfs_int.h"

enum { BLK_UNSENT = 0, BLK_SENDING, BLK_SENT };

struct bmfs_stream {
	pthread_mutex_t lock;
	pthread_cond_t idle;
	/* Guarded by lock. */
	uint64_t bs;	  /* block size of every send */
	size_t cap;	  /* blocks tracked */
	uint8_t *state;	  /* BLK_* per block */
	uint32_t *gen;	  /* bumped by every write to the block */
	size_t next;	  /* first block never queued */
	unsigned sending; /* jobs queued or on the wire (free waits) */
	unsigned on_wire; /* jobs sending now (a flush waits) */
	unsigned epoch;	  /* jobs queued before the last drain are void */
	uint8_t *bits;	  /* bitmap handed to the flush */
	/* Of every send; "" when none could be drawn (no early sends). */
	char prefix[BM_BLOCK_PREFIX_SIZE];
	/* Of the last commit, when its blocks count as sent; else "". */
	char etag[BM_ETAG_MAX];
};

struct send_job {
	struct bmfs *fs;
	struct bmfs_wfile *wf; /* alive until the job ends: see above */
	size_t i;
	uint32_t gen;
	unsigned epoch;
	char prefix[BM_BLOCK_PREFIX_SIZE];
};

struct bmfs_stream *bmfs_stream_new(uint64_t block_size)
{
	struct bmfs_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->bs = block_size;
	if (bm_blob_block_prefix(s->prefix, NULL) < 0)
		s->prefix[0] = '\0';
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	return s;
}

/* Waits for the jobs in flight. s->lock held. */
static void wait_idle(struct bmfs_stream *s)
{
	while (s->sending)
		pthread_cond_wait(&s->idle, &s->lock);
}

/* Voids the queued jobs and waits for the sends on the wire: every
 * block then is sent or unsent, none in between. s->lock held. */
static void drain(struct bmfs_stream *s)
{
	size_t i;

	s->epoch++;
	while (s->on_wire)
		pthread_cond_wait(&s->idle, &s->lock);
	for (i = 0; i < s->cap; i++)
		if (s->state[i] == BLK_SENDING)
			s->state[i] = BLK_UNSENT; /* its job is void */
}

void bmfs_stream_free(struct bmfs_stream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	drain(s);
	wait_idle(s); /* the void jobs too: they read s */
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s->state);
	free(s->gen);
	free(s->bits);
	free(s);
}

/* Tracks blocks [0, n). s->lock held. -1 on ENOMEM. */
static int grow(struct bmfs_stream *s, size_t n)
{
	size_t cap = s->cap ? s->cap : 64;
	uint8_t *state;
	uint32_t *gen;

	if (n <= s->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	state = realloc(s->state, cap);
	if (!state)
		return -1;
	s->state = state;
	gen = realloc(s->gen, cap * sizeof(*gen));
	if (!gen)
		return -1;
	s->gen = gen;
	memset(s->state + s->cap, BLK_UNSENT, cap - s->cap);
	memset(s->gen + s->cap, 0, (cap - s->cap) * sizeof(*gen));
	s->cap = cap;
	return 0;
}

static void send_job(void *arg)
{
	struct send_job *j = arg;
	struct bmfs_stream *s = j->wf->stream;
	struct bm_body body = {0};
	struct bm_error err;
	char *id = bm_blob_block_id(j->prefix, j->i);
	size_t i = j->i;
	uint32_t gen = j->gen;
	bool skip;
	int rc = -1;

	pthread_mutex_lock(&s->lock);
	skip = j->epoch != s->epoch;
	if (!skip)
		s->on_wire++;
	pthread_mutex_unlock(&s->lock);
	bm_error_clear(&err);
	body.fd = j->wf->fd;
	body.offset = (uint64_t)j->i * s->bs;
	body.len = s->bs;
	if (id && !skip)
		rc = j->fs->client->ops->put_block(
		    j->fs->client, j->fs->container, j->wf->name, id, &body,
		    &err);
	if (rc != 0 && !skip)
		bm_debug("early send of block %zu of '%s' failed (the close "
			 "sends it): %s",
			 j->i, j->wf->name, id ? err.msg : "out of memory");
	free(id);
	free(j);
	/* The last touch of the wfile: it may be freed once this unlocks. */
	pthread_mutex_lock(&s->lock);
	if (!skip) {
		s->on_wire--;
		if (s->state[i] == BLK_SENDING)
			s->state[i] =
			    rc == 0 && s->gen[i] == gen ? BLK_SENT : BLK_UNSENT;
	}
	s->sending--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

/* Queues block i. s->lock held (wf->lock too). 0, or -1 when it cannot
 * be queued now. */
static int queue(struct bmfs *fs, struct bmfs_wfile *wf, size_t i)
{
	struct bmfs_stream *s = wf->stream;
	struct send_job *j;
	bool gone;

	pthread_mutex_lock(&fs->lock);
	gone = wf->unlinked;
	pthread_mutex_unlock(&fs->lock);
	if (gone || !s->prefix[0])
		return -1; /* never uploaded: nothing to send */
	j = malloc(sizeof(*j));
	if (!j)
		return -1;
	*j = (struct send_job){fs, wf, i, s->gen[i], s->epoch, ""};
	memcpy(j->prefix, s->prefix, sizeof(j->prefix));
	s->state[i] = BLK_SENDING;
	s->sending++;
	if (bmfs_pool_submit(fs->pool, send_job, j) != 0) {
		s->state[i] = BLK_UNSENT;
		s->sending--;
		free(j);
		return -1;
	}
	return 0;
}

void bmfs_stream_wrote(struct bmfs *fs, struct bmfs_wfile *wf, uint64_t off,
		       uint64_t end, uint64_t size)
{
	struct bmfs_stream *s = wf->stream;
	size_t i, full;

	if (!s || end <= off)
		return;
	pthread_mutex_lock(&s->lock);
	if (grow(s, (size_t)((end + s->bs - 1) / s->bs)) != 0) {
		/* Cannot track it: send nothing early from now on. */
		s->next = SIZE_MAX;
		goto out;
	}
	for (i = (size_t)(off / s->bs); i < (end + s->bs - 1) / s->bs; i++) {
		s->gen[i]++;
		if (s->state[i] == BLK_SENT)
			s->state[i] = BLK_UNSENT;
	}
	if (size <= BMFS_SINGLE_PUT_MAX || !fs->pool)
		goto out;
	full = (size_t)(end / s->bs);
	while (s->next < full && s->sending < fs->opt.max_concurrency) {
		if (s->state[s->next] == BLK_UNSENT &&
		    queue(fs, wf, s->next) != 0)
			break;
		s->next++;
	}
out:
	pthread_mutex_unlock(&s->lock);
}

void bmfs_stream_settle(struct bmfs_wfile *wf, uint64_t len,
			struct bm_blocks *b)
{
	struct bmfs_stream *s = wf->stream;
	size_t i, n = (size_t)((len + b->block_size - 1) / b->block_size);
	bool any = false;

	b->sent = NULL;
	b->prefix[0] = '\0';
	b->etag[0] = '\0';
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	drain(s);
	free(s->bits);
	s->bits = NULL;
	/* Sent blocks count only at the size they were sent with, and
	 * only whole (a copy cut short since was reset anyway). */
	if (b->block_size == s->bs && len > BMFS_SINGLE_PUT_MAX)
		s->bits = calloc((n + 7) / 8, 1);
	for (i = 0; s->bits && i < n && i < s->cap; i++) {
		if (s->state[i] == BLK_SENT && (i + 1) * s->bs <= len) {
			s->bits[i / 8] |= (uint8_t)(1u << (i % 8));
			any = true;
		}
	}
	if (any) {
		b->sent = s->bits;
		memcpy(b->prefix, s->prefix, sizeof(b->prefix));
		memcpy(b->etag, s->etag, sizeof(b->etag));
	}
	pthread_mutex_unlock(&s->lock);
}

void bmfs_stream_committed(struct bmfs_wfile *wf, uint64_t len,
			   const struct bm_blocks *b, const char *etag)
{
	struct bmfs_stream *s = wf->stream;
	/* Committed blocks are named again only under If-Match on their
	 * commit's ETag: without one, they count as unsent. */
	bool keep = b && b->block_size == (s ? s->bs : 0) && etag && etag[0];
	size_t i;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	/* No send of an old content may land after this (and none still
	 * queued may start). */
	drain(s);
	for (i = 0; i < s->cap; i++)
		s->state[i] =
		    keep && (i + 1) * s->bs <= len ? BLK_SENT : BLK_UNSENT;
	s->next = keep ? (size_t)(len / s->bs) : 0;
	snprintf(s->etag, sizeof(s->etag), "%s", keep ? etag : "");
	/* The committed ids' prefix; else a fresh one, so that no id of
	 * an old content is ever named again. */
	if (keep)
		memcpy(s->prefix, b->prefix, sizeof(s->prefix));
	else if (bm_blob_block_prefix(s->prefix, NULL) < 0)
		s->prefix[0] = '\0';
	pthread_mutex_unlock(&s->lock);
}

void bmfs_stream_reset(struct bmfs_wfile *wf)
{
	bmfs_stream_committed(wf, 0, NULL, NULL);
}
