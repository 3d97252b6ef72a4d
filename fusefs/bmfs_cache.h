/*
 * bmfs_cache: what the filesystem knows about blob names, and until when.
 * A hash table from a path's blob name ("" for the root, "a/b" for /a/b)
 * to its kind (file, directory, or known-absent), attributes and expiry
 * time; a directory node may also hold the children of its last listing,
 * valid until its own expiry. Not locked: struct bmfs.lock guards it.
 * Memory: one node per name seen; expired nodes are swept when the table
 * has doubled since the last sweep.
 */
#ifndef BMFS_CACHE_H
#define BMFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bm_blob.h"

enum bmfs_kind {
	BMFS_ABSENT = 0, /* a negative entry */
	BMFS_FILE,
	BMFS_DIR,
};

struct bmfs_attr {
	enum bmfs_kind kind;
	uint64_t size;
	time_t mtime;
	char etag[BM_ETAG_MAX]; /* "" when unknown (directories) */
	bool marker;		/* a directory with an hdi_isfolder blob */
	/* Set when the path's blob has another name: a blob shadowed by a
	 * directory of the same name (BMFS_SHADOW_SUFFIX). malloc()ed copy
	 * owned by the cache; NULL: the path's own name. */
	char *blob;
};

struct bmfs_cache;

struct bmfs_cache *bmfs_cache_new(void);
void bmfs_cache_free(struct bmfs_cache *c);

/* 1 and *out filled (out->blob borrowed until the next cache call) when
 * `name` has an entry that has not expired at `now`; else 0. */
int bmfs_cache_get(struct bmfs_cache *c, const char *name, double now,
		   struct bmfs_attr *out);

/* Sets the entry (a->blob is copied). Returns -1 on allocation failure. */
int bmfs_cache_put(struct bmfs_cache *c, const char *name,
		   const struct bmfs_attr *a, double expires);

/* Drops the entry (and a directory's listing). */
void bmfs_cache_forget(struct bmfs_cache *c, const char *name);

/* Drops every entry whose name starts with prefix (a subtree). */
void bmfs_cache_forget_prefix(struct bmfs_cache *c, const char *prefix);

/*
 * Directory listings. A listing is built with begin/add/commit; while it
 * is being built (a listing takes several requests) the old one stays in
 * use. dir is the directory's name ("" for the root).
 */
struct bmfs_listing;
struct bmfs_listing *bmfs_listing_new(void);
void bmfs_listing_free(struct bmfs_listing *l);
/* child: one path component (a shadowed blob's child carries
 * BMFS_SHADOW_SUFFIX already). */
int bmfs_listing_add(struct bmfs_listing *l, const char *child,
		     enum bmfs_kind kind, uint64_t size, time_t mtime);
/* Gives l to the cache (and frees it) as dir's listing until expires. */
void bmfs_cache_set_listing(struct bmfs_cache *c, const char *dir,
			    struct bmfs_listing *l, double expires);

/* Whether dir has a listing valid at now; then *present tells whether
 * child is in it. */
bool bmfs_cache_listing_has(struct bmfs_cache *c, const char *dir,
			    const char *child, double now, bool *present);

/* Adds or removes a child of dir's listing when dir has one (a write or
 * mkdir through the mount, visible at once). */
int bmfs_cache_listing_add(struct bmfs_cache *c, const char *dir,
			   const char *child, enum bmfs_kind kind);
void bmfs_cache_listing_remove(struct bmfs_cache *c, const char *dir,
			       const char *child);
/* Marks dir's listing stale (the next readdir lists again). */
void bmfs_cache_listing_drop(struct bmfs_cache *c, const char *dir);

/* Calls fn for each child of dir's listing valid at now. Returns -1 when
 * there is no valid listing (fn not called), 0 after every child, or the
 * first nonzero value fn returned (which stops the walk). */
typedef int (*bmfs_child_fn)(void *ud, const char *child, enum bmfs_kind kind,
			     uint64_t size, time_t mtime);
int bmfs_cache_listing_each(struct bmfs_cache *c, const char *dir, double now,
			    bmfs_child_fn fn, void *ud);

/* Number of nodes (for tests and the sweep). */
size_t bmfs_cache_count(const struct bmfs_cache *c);

#endif
