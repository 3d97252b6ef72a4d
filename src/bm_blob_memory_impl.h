/*
 * bm_blob_memory_impl: the in-memory Blob service's model (containers,
 * blobs, blocks, shared contents) and the helpers both parts use; not for
 * callers (they use bm_blob.h and bm_blob_client_new_memory).
 * bm_blob_memory.c holds the model, lookups, reads, listings and
 * containers; bm_blob_memory_write.c the writes (put, blocks, delete,
 * copy). Locking is described in bm_blob_memory.c: "under mem->lock"
 * below means the caller holds it.
 */
#ifndef BM_BLOB_MEMORY_IMPL_H
#define BM_BLOB_MEMORY_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bm_blob.h"

#define BLOCK_ID_MAX 64	     /* decoded bytes */
#define BLOCK_LIST_MAX 50000 /* committed blocks per blob */

/* Immutable blob contents, shared by the blob and running gets. */
struct mem_data {
	size_t refs; /* guarded by mem->lock */
	size_t len;
	unsigned char bytes[];
};

struct mem_block {
	char *id;
	struct mem_data *data;
};

struct mem_meta {
	char *name;
	char *value;
};

struct mem_blob {
	char *name;
	struct mem_data *data;
	char etag[BM_ETAG_MAX];
	time_t mtime;
	char *content_type;
	struct mem_meta *meta;
	size_t nmeta;
	/* The committed block list (empty after Put Blob): Put Block List may
	 * name committed blocks again, as on Azure. */
	struct mem_block *committed;
	size_t ncommitted;
};

/* Blocks uploaded with Put Block for one blob name, not yet committed. */
struct mem_pending {
	char *name;
	struct mem_block *blocks;
	size_t nblocks;
};

struct mem_container {
	char *name;
	struct mem_blob **blobs; /* sorted by strcmp (bytes) */
	size_t nblobs, cap;
	struct mem_pending *pending;
	size_t npending;
};

struct mem_service {
	pthread_mutex_t lock;
	struct mem_container **containers; /* sorted by name */
	size_t ncontainers;
	unsigned long long etag_seq;
	struct bm_http_stats stats;
};

static inline struct mem_service *svc(struct bm_blob_client *c)
{
	return c->impl;
}

/* Contents of len bytes with one reference; NULL when out of memory. */
struct mem_data *bm_mem_data_new(size_t len);
/* Under mem->lock (or before the data is shared). */
void bm_mem_data_unref(struct mem_data *d);
void bm_mem_blocks_free(struct mem_block *b, size_t n);
void bm_mem_meta_free(struct mem_meta *m, size_t n);
void bm_mem_blob_free(struct mem_blob *b);

/* Lookups, under mem->lock. *at (may be NULL) is where name stands or
 * would be inserted. */
struct mem_blob *bm_mem_blob_find(const struct mem_container *k,
				  const char *name, size_t *at);
/* The container or NULL with BM_ERR_NO_CONTAINER (404 ContainerNotFound). */
struct mem_container *bm_mem_container_get(struct mem_service *m,
					   const char *name,
					   struct bm_error *err);
struct mem_pending *bm_mem_pending_find(struct mem_container *k,
					const char *name);
/* Discards the uncommitted blocks of name. */
void bm_mem_pending_drop(struct mem_container *k, const char *name);

/* Counts one call of op; under mem->lock. */
void bm_mem_count(struct mem_service *m, enum bm_op op);
/* A fresh ETag into etag (BM_ETAG_MAX bytes); under mem->lock. */
void bm_mem_next_etag(struct mem_service *m, char *etag);
/* info (may be NULL) from b. */
void bm_mem_fill_info(const struct mem_blob *b, struct bm_blob_info *info);

/* Azure's name rules (400 InvalidResourceName); name may be NULL. */
int bm_mem_check_names(const char *container, const char *name,
		       struct bm_error *err);
/* If-Match: fails (412) when the blob is missing or has another ETag. */
bool bm_mem_if_match_fails(const struct mem_blob *b, const char *if_match,
			   const char *name, struct bm_error *err);

/* The operations of bm_blob_memory_write.c (see struct bm_blob_ops). */
int bm_mem_put(struct bm_blob_client *c, const char *container,
	       const char *name, const struct bm_body *body,
	       const struct bm_put_opts *o, struct bm_blob_info *info,
	       struct bm_error *err);
int bm_mem_put_block(struct bm_blob_client *c, const char *container,
		     const char *name, const char *block_id,
		     const struct bm_body *body, struct bm_error *err);
int bm_mem_put_block_list(struct bm_blob_client *c, const char *container,
			  const char *name, const char *const *block_ids,
			  size_t nblocks, const struct bm_put_opts *o,
			  struct bm_blob_info *info, struct bm_error *err);
int bm_mem_remove(struct bm_blob_client *c, const char *container,
		  const char *name, struct bm_error *err);
int bm_mem_copy(struct bm_blob_client *c, const char *container,
		const char *src, const char *dst, struct bm_error *err);

#endif
