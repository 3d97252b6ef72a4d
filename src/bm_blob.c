/*
 * bm_blob: operations common to every client implementation, written on
 * the ops table only: paging a whole listing, and uploading a file as one
 * Put Blob or as parallel Put Block + Put Block List.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "bm_auth.h"
#include "bm_blob.h"
#include "bm_log.h"

int bm_blob_list_all(struct bm_blob_client *c, const char *container,
		     const struct bm_list_opts *o, bm_list_cb cb, void *ud,
		     struct bm_error *err)
{
	struct bm_list_opts page;
	char *marker = NULL, *next = NULL;
	int rc;

	page = *o;
	/* One marker alive at a time: memory does not grow with pages. */
	do {
		page.marker = marker ? marker : o->marker;
		rc = c->ops->list_page(c, container, &page, cb, ud, &next, err);
		free(marker);
		marker = next;
		next = NULL;
	} while (rc == 0 && marker);
	free(marker);
	return rc;
}

/* Azure limits: 50,000 blocks per blob, 4,000 MiB per block. */
#define BM_MAX_BLOCKS 50000u
#define BM_MAX_BLOCK_SIZE (4000ull << 20)

struct upload {
	struct bm_blob_client *c;
	const char *container, *name;
	int fd;
	uint64_t len, block_size;
	char **ids;
	size_t nblocks;
	const uint8_t *sent; /* blocks already sent, one bit each, or NULL */

	pthread_mutex_t lock; /* guards next, failed, err */
	size_t next;	      /* next block to send */
	bool failed;
	struct bm_error err; /* the first failure */
};

static void *upload_worker(void *arg)
{
	struct upload *u = arg;
	struct bm_error e;
	struct bm_body body;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		if (u->failed || u->next >= u->nblocks) {
			pthread_mutex_unlock(&u->lock);
			break;
		}
		i = u->next++;
		pthread_mutex_unlock(&u->lock);
		if (u->sent && (u->sent[i / 8] >> (i % 8)) & 1)
			continue;
		memset(&body, 0, sizeof(body));
		body.fd = u->fd;
		body.offset = (uint64_t)i * u->block_size;
		body.len = u->len - body.offset < u->block_size
			       ? u->len - body.offset
			       : u->block_size;
		bm_error_clear(&e);
		if (u->c->ops->put_block(u->c, u->container, u->name, u->ids[i],
					 &body, &e) < 0) {
			pthread_mutex_lock(&u->lock);
			if (!u->failed) {
				u->failed = true;
				u->err = e;
			}
			pthread_mutex_unlock(&u->lock);
			break;
		}
	}
	return NULL;
}

int bm_blob_block_prefix(char prefix[BM_BLOCK_PREFIX_SIZE],
			 struct bm_error *err)
{
	unsigned char r[(BM_BLOCK_PREFIX_SIZE - 1) / 2];
	size_t i;

	/* Unique, not secret: but a clock or a PID repeats across nodes. */
	if (RAND_bytes(r, (int)sizeof(r)) != 1) {
		bm_error_set(err, BM_ERR_NOMEM,
			     "cannot draw random block ids (OpenSSL RAND)");
		return -1;
	}
	for (i = 0; i < sizeof(r); i++)
		snprintf(prefix + 2 * i, 3, "%02x", r[i]);
	return 0;
}

char *bm_blob_block_id(const char *prefix, size_t i)
{
	char raw[48];

	/* 9 + 16 + 1 + 7 = 33 bytes: a multiple of 3, so no '=' padding. */
	if (strlen(prefix) != BM_BLOCK_PREFIX_SIZE - 1 || i >= 10000000)
		return NULL;
	snprintf(raw, sizeof(raw), "blobmill-%s-%07zu", prefix, i);
	return bm_base64_encode((const unsigned char *)raw, strlen(raw));
}

static char **make_block_ids(const char *prefix, size_t n)
{
	char **ids = calloc(n, sizeof(*ids));
	size_t i;

	if (!ids)
		return NULL;
	for (i = 0; i < n; i++) {
		ids[i] = bm_blob_block_id(prefix, i);
		if (!ids[i]) {
			while (i--)
				free(ids[i]);
			free(ids);
			return NULL;
		}
	}
	return ids;
}

static int upload_blocks(struct upload *u, int parallel)
{
	pthread_t *threads;
	int i, started = 0;

	if (parallel > 64)
		parallel = 64;
	if ((size_t)parallel > u->nblocks)
		parallel = (int)u->nblocks;
	threads = calloc((size_t)parallel, sizeof(*threads));
	if (parallel > 1 && threads) {
		for (i = 0; i < parallel; i++) {
			if (pthread_create(&threads[i], NULL, upload_worker,
					   u) != 0)
				break;
			started++;
		}
	}
	/* No threads (parallel 1, or none could start): this thread does
	 * the work; with some started, it joins them. */
	if (started == 0)
		upload_worker(u);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return u->failed ? -1 : 0;
}

uint64_t bm_blob_block_size(uint64_t len, uint64_t block_size)
{
	/* Grow the block size rather than exceed the block count limit. */
	while (block_size &&
	       (len + block_size - 1) / block_size > BM_MAX_BLOCKS &&
	       block_size < BM_MAX_BLOCK_SIZE)
		block_size *= 2;
	return block_size;
}

int bm_blob_upload_fd(struct bm_blob_client *c, const char *container,
		      const char *name, int fd, uint64_t len,
		      uint64_t single_max, uint64_t block_size, int parallel,
		      const struct bm_put_opts *o, struct bm_blob_info *info,
		      struct bm_error *err)
{
	struct bm_blocks b;
	struct bm_body body;

	if (len <= single_max || block_size == 0) {
		memset(&body, 0, sizeof(body));
		body.fd = fd;
		body.len = len;
		return c->ops->put(c, container, name, &body, o, info, err);
	}
	memset(&b, 0, sizeof(b));
	b.block_size = bm_blob_block_size(len, block_size);
	return bm_blob_upload_blocks_fd(c, container, name, fd, len, &b,
					parallel, o, info, err);
}

/* One round: Put Block of what is not sent, then Put Block List. */
static int upload_round(struct bm_blob_client *c, const char *container,
			const char *name, int fd, uint64_t len,
			const struct bm_blocks *b, int parallel,
			const struct bm_put_opts *o, struct bm_blob_info *info,
			struct bm_error *err)
{
	struct upload u;
	size_t i;
	int rc = -1;

	memset(&u, 0, sizeof(u));
	u.c = c;
	u.container = container;
	u.name = name;
	u.fd = fd;
	u.len = len;
	u.block_size = b->block_size;
	u.nblocks = (size_t)((len + b->block_size - 1) / b->block_size);
	u.sent = b->sent;
	u.ids = make_block_ids(b->prefix, u.nblocks);
	if (!u.ids) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	pthread_mutex_init(&u.lock, NULL);
	if (upload_blocks(&u, parallel < 1 ? 1 : parallel) < 0) {
		if (err && err->code == BM_OK)
			*err = u.err;
		goto out;
	}
	rc = c->ops->put_block_list(c, container, name,
				    (const char *const *)u.ids, u.nblocks, o,
				    info, err);
out:
	pthread_mutex_destroy(&u.lock);
	for (i = 0; i < u.nblocks; i++)
		free(u.ids[i]);
	free(u.ids);
	return rc;
}

/* Whether a failed commit is answered by sending every block again (see
 * bm_blob_upload_blocks_fd). `ours`: the commit carried our If-Match. */
static bool send_all_again(const struct bm_error *e, bool ours)
{
	if (e->code == BM_ERR_INVALID &&
	    strcmp(e->azure_code, "InvalidBlockList") == 0)
		return true;
	if (!ours)
		return false;
	switch (e->code) {
	case BM_ERR_PRECONDITION: /* another writer committed since */
	case BM_ERR_NOT_FOUND:	  /* or deleted the blob */
	/* Not retried by bm_http: perhaps committed, response lost. */
	case BM_ERR_SERVER:
	case BM_ERR_THROTTLED:
	case BM_ERR_NETWORK:
	case BM_ERR_TIMEOUT:
		return true;
	default:
		return false;
	}
}

#define BM_UPLOAD_ROUNDS 3

int bm_blob_upload_blocks_fd(struct bm_blob_client *c, const char *container,
			     const char *name, int fd, uint64_t len,
			     struct bm_blocks *b, int parallel,
			     const struct bm_put_opts *o,
			     struct bm_blob_info *info, struct bm_error *err)
{
	struct bm_put_opts po;
	struct bm_error e;
	bool callers = o && (o->if_match || o->if_none_match_any), ours;
	int round, rc = -1;

	if (b->block_size == 0 || b->block_size > BM_MAX_BLOCK_SIZE ||
	    (len + b->block_size - 1) / b->block_size > BM_MAX_BLOCKS) {
		bm_error_set(
		    err, BM_ERR_TOO_LARGE,
		    "cannot upload '%s/%.80s': %llu bytes is more than "
		    "a block blob holds",
		    container, name, (unsigned long long)len);
		return -1;
	}
	b->resent = false;
	if (!b->prefix[0] || !b->sent) {
		b->sent = NULL;
		b->etag[0] = '\0';
		if (bm_blob_block_prefix(b->prefix, err) < 0)
			return -1;
	}
	for (round = 1;; round++) {
		memset(&po, 0, sizeof(po));
		if (o)
			po = *o;
		ours = !callers && b->sent && b->etag[0];
		if (ours)
			po.if_match = b->etag;
		bm_error_clear(&e);
		rc = upload_round(c, container, name, fd, len, b, parallel, &po,
				  info, &e);
		if (rc == 0 || round == BM_UPLOAD_ROUNDS ||
		    !send_all_again(&e, ours))
			break;
		bm_info("'%s': blocks sent before are not ours to commit "
			"(%s); sending every block again",
			name, e.msg);
		b->sent = NULL;
		b->etag[0] = '\0';
		b->resent = true;
		if (bm_blob_block_prefix(b->prefix, &e) < 0)
			break;
	}
	if (rc == 0 && info)
		info->size = len;
	if (rc < 0 && err && err->code == BM_OK)
		*err = e;
	return rc;
}
