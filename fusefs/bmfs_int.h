/*
 * bmfs_int.h: what the bmfs_*.c modules offer each other and nothing else
 * sees: open handles, files being written, remote readers, the worker
 * pool, write-behind, the tmp-path layout, the file and page caches. The
 * mount itself (clock, names, attributes, cache updates) is reached
 * through bmfs_mount.h only. Lock order: see bmfs.h.
 */
#ifndef BMFS_INT_H
#define BMFS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bmfs.h"
#include "bmfs_cache.h"

/* ---- worker pool (bmfs_pool.c) ---- */

typedef void (*bmfs_job_fn)(void *arg);
struct bmfs_pool *bmfs_pool_new(unsigned nthreads);
/* Queues a job; -1 when the pool is stopping or on ENOMEM. */
int bmfs_pool_submit(struct bmfs_pool *p, bmfs_job_fn fn, void *arg);
/* Runs the queued jobs to the end, joins the threads, frees p. */
void bmfs_pool_free(struct bmfs_pool *p);

/* ---- remote reads (bmfs_read.c) ---- */

/* The read buffers of all readers of a mount (bmfs_read.c). */
/* limit: bytes of all read buffers together; 0 for the default. */
struct bmfs_rbudget *bmfs_rbudget_new(uint64_t limit);
void bmfs_rbudget_free(struct bmfs_rbudget *b);
/* Bytes of read buffers now, and the most ever (tests). */
void bmfs_rbudget_usage(struct bmfs_rbudget *b, uint64_t *used, uint64_t *peak);
/* How many times a read has waited for bytes of its reader (tests: each
 * wait is a context switch, which is what a read costs most on a VM). */
uint64_t bmfs_rbudget_read_waits(struct bmfs_rbudget *b);

struct bmfs_reader;
/* A reader of blob `blob` (shown as name `kname`) whose size is believed
 * to be `size` and ETag `etag` (NULL or "" when unknown). Unless `pin`,
 * the ETag is taken from the first response; with `pin` every GET
 * requires `etag`. Either way it is required (If-Match) after that. */
struct bmfs_reader *bmfs_reader_new(struct bmfs *fs, const char *blob,
				    const char *kname, uint64_t size,
				    const char *etag, bool pin);
/* Bytes read, or -errno. */
int bmfs_reader_read(struct bmfs_reader *r, char *buf, size_t size,
		     uint64_t off);
/* Waits for its prefetches to stop, frees r. */
void bmfs_reader_free(struct bmfs_reader *r);

/* ---- local files (bmfs_write.c, layout in bmfs_tmp.c) ---- */

/*
 * A file with a local copy under TMP/blobmill/files: written through the
 * mount and not yet uploaded, or whose upload failed. One per blob name
 * while listed in fs->wfiles; open handles share it. It stays listed while
 * it has handles or its upload is pending, so the mount keeps showing what
 * was written and a later writer continues the same local copy. Unlisted
 * (unlink, rename) it lives on until its last handle is released.
 */
struct bmfs_wfile {
	char *name; /* changed (rename) with both lock and fs->lock held:
		     * read it holding either */
	/* Guarded by fs->lock. */
	struct bmfs_wfile *next; /* fs->wfiles list */
	bool listed;		 /* in fs->wfiles */
	int refs;		 /* open handles + running jobs */
	uint64_t size;		 /* the local copy's size */
	time_t mtime;
	bool unlinked; /* removed or replaced through the mount: never
			* upload (set with lock held too, so no upload is
			* in flight once it is set) */

	pthread_mutex_t lock; /* serializes writes and uploads */
	/* Guarded by lock. */
	int fd;			    /* the local copy, O_RDWR; read with pread
				     * without the lock */
	char *data_path;	    /* TMP/blobmill/files/ID */
	char *rec_path;		    /* ID.open or ID.pending */
	bool dirty;		    /* changed since the last upload */
	int write_err;		    /* errno of a failed write to the copy:
				     * never uploaded, dropped at the last
				     * close */
	char etag[BM_ETAG_MAX];	    /* of the blob the last upload made */
	struct bmfs_stream *stream; /* write-behind; set at creation, may be
				     * NULL */
};

/* Above this a local copy is uploaded in blocks (else one Put Blob). */
#define BMFS_SINGLE_PUT_MAX ((uint64_t)32 << 20)

/* ---- write-behind of complete blocks (bmfs_stream.c) ---- */

struct bmfs_stream *bmfs_stream_new(uint64_t block_size);
/* Waits for its sends in flight, then frees it. */
void bmfs_stream_free(struct bmfs_stream *s);
/* After a write of [off, end) to wf's copy, now `size` bytes (wf->lock
 * held): blocks it touched are unsent again; once size is over
 * BMFS_SINGLE_PUT_MAX, complete blocks are queued for sending. */
void bmfs_stream_wrote(struct bmfs *fs, struct bmfs_wfile *wf, uint64_t off,
		       uint64_t end, uint64_t size);
/* For the upload of len bytes in blocks of b->block_size (wf->lock held):
 * waits for the sends in flight and fills the rest of b: the prefix of
 * the blocks sent, the bitmap of those already there (owned by the stream
 * until the next call; NULL for none), and the ETag of the commit that
 * made the committed ones. */
void bmfs_stream_settle(struct bmfs_wfile *wf, uint64_t len,
			struct bm_blocks *b);
/* After an upload of len bytes: b, the blocks committed (NULL: one Put
 * Blob), whose commit returned etag. */
void bmfs_stream_committed(struct bmfs_wfile *wf, uint64_t len,
			   const struct bm_blocks *b, const char *etag);
/* The copy was truncated: nothing sent counts any more. */
void bmfs_stream_reset(struct bmfs_wfile *wf);

/* Record suffixes of the tmp-path layout (see bmfs_tmp.c). */
#define BMFS_REC_OPEN ".open"
#define BMFS_REC_PENDING ".pending"

/* Creates TMP/blobmill/{files,cache} (mode 0700). */
int bmfs_tmp_init(struct bmfs *fs, struct bm_error *err);
/* Creates a new local file (0600) and its ".open" record naming the blob.
 * On success the caller owns *fd, *data_path and *rec_path. */
int bmfs_tmp_create(struct bmfs *fs, const char *name, int *fd,
		    char **data_path, char **rec_path, struct bm_error *err);
/* Renames the record to state suffix (".open"/".pending"); updates
 * *rec_path. */
int bmfs_tmp_set_state(char **rec_path, const char *suffix,
		       struct bm_error *err);
/* Rewrites the record at rec_path to name blob `name` (a rename). */
int bmfs_tmp_rename(struct bmfs *fs, const char *name, const char *rec_path,
		    struct bm_error *err);
/* Removes a local file and its record. */
void bmfs_tmp_remove(const char *data_path, const char *rec_path);
/* Calls fn for each ".pending" record of this container that an earlier
 * run left; fn takes data_path and rec_path (malloc()ed) when it returns
 * 0. Returns how many were taken. */
typedef int (*bmfs_recovered_fn)(struct bmfs *fs, const char *name,
				 char *data_path, char *rec_path);
int bmfs_tmp_scan(struct bmfs *fs, bmfs_recovered_fn fn);

/* Uploads wf if dirty; wf->lock held by the caller. 0 or -errno. */
int bmfs_wfile_upload(struct bmfs *fs, struct bmfs_wfile *wf);
/* Drops a reference (fs->lock not held); frees an unlisted wfile with no
 * references left, and unlists a clean one. */
void bmfs_wfile_unref(struct bmfs *fs, struct bmfs_wfile *wf);
/* wf->lock held: wf is never uploaded again (unlink, or the target of a
 * rename): its record and data file removed at once so a restart cannot
 * upload it either, and unlisted, or, with keep_as, listed under that
 * name until its last handle goes (libfuse's hidden name of a file
 * unlinked while open, which getattr asks for). Handles open on it keep
 * reading and writing its local copy until they close (POSIX). */
void bmfs_wfile_drop(struct bmfs *fs, struct bmfs_wfile *wf,
		     const char *keep_as);
/* wf->lock held: wf becomes the local copy of `to` (a rename): its next
 * upload goes there, and its record names `to` for a restart. A listed
 * copy of `to` already unlinked is unlisted. 0 or -ENOMEM. */
int bmfs_wfile_rename(struct bmfs *fs, struct bmfs_wfile *wf, const char *to);
/* Registers a pending upload found by bmfs_tmp_scan (bmfs_tmp_scan's fn). */
int bmfs_wfile_recovered(struct bmfs *fs, const char *name, char *data_path,
			 char *rec_path);
/* Queues uploads of every listed wfile that is pending (start-up). */
void bmfs_wfile_retry_all(struct bmfs *fs);
/* Uploads what is dirty and frees every wfile (unmount). */
void bmfs_wfile_free_all(struct bmfs *fs);

/* ---- whole-file cache (bmfs_fcache.c) ---- */

/* Empties TMP/blobmill/cache and sets fs->cache_limit. */
int bmfs_fcache_init(struct bmfs *fs, struct bm_error *err);
/* An fd (the caller closes it) of the fresh cached copy of name at etag,
 * or -1. */
int bmfs_fcache_open(struct bmfs *fs, const char *name, const char *etag);
/* A path in the cache directory for a copy of `size` bytes being made, or
 * NULL when the cache is off or it cannot fit. malloc()ed. */
char *bmfs_fcache_newpath(struct bmfs *fs, uint64_t size);
/* Makes the complete file at path the cached copy of name at etag (moved
 * in), or removes it when it cannot be cached. */
void bmfs_fcache_adopt(struct bmfs *fs, const char *name, const char *etag,
		       const char *path, uint64_t size);
/* Drops the cached copy of name (and of names under name/ if subtree). */
void bmfs_fcache_forget(struct bmfs *fs, const char *name, bool subtree);
/* Drops every entry (a write found the tmp-path full). Returns the bytes
 * dropped (their space comes back once no reader holds them open). */
uint64_t bmfs_fcache_evict(struct bmfs *fs);
/* Drops every entry (unmount). */
void bmfs_fcache_free(struct bmfs *fs);

/* ---- the kernel's page cache (bmfs_kcache.c) ---- */

/* Whether an open of name reading version etag ("" for a writer or an
 * unknown version) may keep the kernel's cached pages; registers the
 * handle under *gen, to be passed to bmfs_kcache_release. */
bool bmfs_kcache_open(struct bmfs *fs, const char *name, const char *etag,
		      uint64_t *gen);
void bmfs_kcache_release(struct bmfs *fs, const char *name, uint64_t gen);
/* Whether name has open handles (every handle is registered here, under
 * the name it was opened by). */
bool bmfs_kcache_is_open(struct bmfs *fs, const char *name);
/* A handle of name read a version other than the one it opened. */
void bmfs_kcache_taint(struct bmfs *fs, const char *name);
/* Drops every record (unmount). */
void bmfs_kcache_free(struct bmfs *fs);

/* ---- open handles ---- */

struct bmfs_handle {
	struct bmfs *fs;
	int flags;
	struct bmfs_wfile *wf;	/* local copy, or NULL */
	struct bmfs_reader *rd; /* remote reader, or NULL */
	int cfd;		/* a whole-file cache copy, or -1 */
	char *name;		/* as opened, for bmfs_kcache_release */
	uint64_t size;		/* a reader's file as opened (fstat of */
	time_t mtime;		/* an unlinked file: no name to look up) */
	uint64_t kgen;		/* from bmfs_kcache_open */
	bool keep_cache;	/* the kernel keeps its cached pages */
};

#endif
