/*
 * bm_blob: Blob service operations behind a table of function pointers, so
 * the filesystem and task layers can run against three implementations:
 *   - bm_blob_client_new_azure: the real REST client (bm_http + bm_auth),
 *   - bm_blob_client_new_memory: an in-memory container store for unit
 *     tests of the layers above (same error categories as the real one),
 *   - bm_blob_client_new_faulty: wraps another client and fails a seeded
 *     fraction of calls, for tests of error paths.
 * Blob names are UTF-8, 1..1024 bytes, any character Azure allows.
 * All functions return 0 on success or -1 with err set.
 */
#ifndef BM_BLOB_H
#define BM_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bm_config.h"
#include "bm_error.h"
#include "bm_http.h"
#include "bm_listing.h"

#define BM_ETAG_MAX 96

struct bm_blob_info {
	uint64_t size;
	time_t mtime;
	char etag[BM_ETAG_MAX]; /* quotes included, as the service sends it */
	bool is_dir_marker;	/* metadata hdi_isfolder=true */
};

struct bm_list_opts {
	const char *prefix;    /* NULL or "" for everything */
	const char *delimiter; /* NULL: flat; "/" for one directory level */
	const char *marker;    /* NULL for the first page */
	int max_results;       /* 0: service default (5000) */
	bool include_metadata; /* needed to see hdi_isfolder markers */
};

struct bm_get_opts {
	uint64_t offset;
	uint64_t length;      /* 0: to the end */
	const char *if_match; /* ETag the blob must still have, or NULL */
};

struct bm_metadata {
	const char *name;
	const char *value;
};

struct bm_put_opts {
	const char *content_type; /* NULL: application/octet-stream */
	const struct bm_metadata *metadata;
	size_t nmetadata;
	const char *if_match;	/* NULL, or an ETag */
	bool if_none_match_any; /* fail with BM_ERR_EXISTS if present */
};

struct bm_blob_client;

struct bm_blob_ops {
	/* One page of List Blobs; *next_marker is malloc()ed (caller frees)
	 * or NULL on the last page. */
	int (*list_page)(struct bm_blob_client *c, const char *container,
			 const struct bm_list_opts *o, bm_list_cb cb, void *ud,
			 char **next_marker, struct bm_error *err);
	/* Get Blob (range when o->offset/o->length say so). Each byte of the
	 * range reaches the sink exactly once, in order, or the call fails.
	 * info (may be NULL) receives the blob's properties. */
	int (*get)(struct bm_blob_client *c, const char *container,
		   const char *name, const struct bm_get_opts *o,
		   bm_sink_fn sink, void *ud, struct bm_blob_info *info,
		   struct bm_error *err);
	int (*head)(struct bm_blob_client *c, const char *container,
		    const char *name, struct bm_blob_info *info,
		    struct bm_error *err);
	/* Put Blob (BlockBlob) of body (NULL body: 0 bytes). */
	int (*put)(struct bm_blob_client *c, const char *container,
		   const char *name, const struct bm_body *body,
		   const struct bm_put_opts *o, struct bm_blob_info *info,
		   struct bm_error *err);
	/* block_id: base64 text, all ids of one blob of equal length. */
	int (*put_block)(struct bm_blob_client *c, const char *container,
			 const char *name, const char *block_id,
			 const struct bm_body *body, struct bm_error *err);
	int (*put_block_list)(struct bm_blob_client *c, const char *container,
			      const char *name, const char *const *block_ids,
			      size_t nblocks, const struct bm_put_opts *o,
			      struct bm_blob_info *info, struct bm_error *err);
	int (*remove)(struct bm_blob_client *c, const char *container,
		      const char *name, struct bm_error *err);
	/* Server-side copy within the container; returns when the copy has
	 * completed (polls x-ms-copy-status when the service runs it async). */
	int (*copy)(struct bm_blob_client *c, const char *container,
		    const char *src, const char *dst, struct bm_error *err);
	int (*create_container)(struct bm_blob_client *c, const char *container,
				struct bm_error *err);
	int (*delete_container)(struct bm_blob_client *c, const char *container,
				struct bm_error *err);
	/* One request that proves the credentials and that the container
	 * exists (Get Container Properties, or a 1-entry listing under SAS). */
	int (*check_container)(struct bm_blob_client *c, const char *container,
			       struct bm_error *err);
	/* List Containers, every page: one callback per container (name,
	 * mtime, etag; size 0) whose name starts with prefix (NULL: all).
	 * server_time (may be NULL) receives the Date of the service's last
	 * response (0 when none came), on failure too: a caller measures
	 * clock skew even when authentication failed. */
	int (*list_containers)(struct bm_blob_client *c, const char *prefix,
			       bm_list_cb cb, void *ud, time_t *server_time,
			       struct bm_error *err);
	void (*get_stats)(struct bm_blob_client *c, struct bm_http_stats *out);
	void (*free)(struct bm_blob_client *c);
};

struct bm_blob_client {
	const struct bm_blob_ops *ops;
	void *impl;
};

/* Real client. cfg must have passed bm_config_finish; it is copied. */
struct bm_blob_client *bm_blob_client_new_azure(const struct bm_config *cfg,
						const struct bm_http_options *o,
						struct bm_error *err);

/* Empty in-memory service (containers created with create_container).
 * Counts calls in get_stats like the real client counts requests. */
struct bm_blob_client *bm_blob_client_new_memory(void);

/* Fails about `rate` (0..1) of calls, chosen by a PRNG seeded with seed,
 * with BM_ERR_SERVER/BM_ERR_NETWORK/BM_ERR_TIMEOUT; delegates the rest.
 * Takes ownership of inner. */
struct bm_blob_client *bm_blob_client_new_faulty(struct bm_blob_client *inner,
						 unsigned seed, double rate);

/* Convenience wrappers: c->ops->X(c, ...). */
static inline void bm_blob_client_free(struct bm_blob_client *c)
{
	if (c)
		c->ops->free(c);
}

/* Every page of a listing, in order (loops on NextMarker). */
int bm_blob_list_all(struct bm_blob_client *c, const char *container,
		     const struct bm_list_opts *o, bm_list_cb cb, void *ud,
		     struct bm_error *err);

/* Uploads `len` bytes from fd at offset 0: Put Blob when len <= single_max,
 * else Put Block of block_size each (up to `parallel` in flight) and Put
 * Block List. Used by the CLI and the filesystem alike. */
int bm_blob_upload_fd(struct bm_blob_client *c, const char *container,
		      const char *name, int fd, uint64_t len,
		      uint64_t single_max, uint64_t block_size, int parallel,
		      const struct bm_put_opts *o, struct bm_blob_info *info,
		      struct bm_error *err);

/* The block size bm_blob_upload_fd uses for len bytes: block_size, doubled
 * until the blob fits in the service's 50,000 blocks. */
uint64_t bm_blob_block_size(uint64_t len, uint64_t block_size);

/*
 * Block ids. Each upload draws a prefix at random and names its block i
 * "blobmill-PREFIX-IIIIIII" (33 bytes; base64, 44 characters): two
 * writers of one blob never name a block alike, so a block list commits
 * only its own writer's blocks, and every id of ours has the one length
 * the service requires of the uncommitted blocks of a blob.
 */
#define BM_BLOCK_PREFIX_SIZE 17 /* 16 hex digits and the NUL */
/* Draws a fresh prefix into prefix. -1 (err set) if no randomness. */
int bm_blob_block_prefix(char prefix[BM_BLOCK_PREFIX_SIZE],
			 struct bm_error *err);
/* The id of block i (< 10,000,000) under prefix: malloc()ed base64 (the
 * caller frees), or NULL when out of memory. */
char *bm_blob_block_id(const char *prefix, size_t i);

/* What a writer already has at the service, for the block path of an
 * upload (bm_blob_upload_blocks_fd). */
struct bm_blocks {
	uint64_t block_size;
	/* In: the prefix of the blocks in `sent` ("" draws one). Out: the
	 * prefix of the blocks now committed. */
	char prefix[BM_BLOCK_PREFIX_SIZE];
	/* Block i is at the service already when its bit is set (NULL:
	 * none): sent early and still uncommitted, or committed by this
	 * writer's last commit, whose ETag is etag. */
	const uint8_t *sent;
	/* "" when no block in `sent` is a committed one. */
	char etag[BM_ETAG_MAX];
	bool resent; /* out: every block was sent again (see below) */
};

/*
 * The block half of bm_blob_upload_fd for a writer that may have sent
 * blocks before: Put Block of every block not in b->sent, then Put Block
 * List of them all. The two-writer rule (docs/RELIABILITY.md): the blob
 * ends up holding this file whole, or the call fails; never a mix.
 *   - A list that names committed blocks again is committed If-Match
 *     b->etag: another writer's commit since replaced those blocks.
 *   - When that commit fails (412, 404, or a network or server error,
 *     which bm_http does not retry on a conditional request), or any
 *     commit finds blocks gone (400 InvalidBlockList: another writer's
 *     commit discarded the uncommitted ones), every block is sent again
 *     under a fresh prefix and committed without condition: this file
 *     wins whole (last writer wins). At most three rounds.
 * A condition the caller sets in o (if_match, if_none_match_any) is kept
 * on every round and its failure returned.
 */
int bm_blob_upload_blocks_fd(struct bm_blob_client *c, const char *container,
			     const char *name, int fd, uint64_t len,
			     struct bm_blocks *b, int parallel,
			     const struct bm_put_opts *o,
			     struct bm_blob_info *info, struct bm_error *err);

#endif
