/*
 * bmfs: the filesystem logic of blobmill-fuse, one blob container seen as
 * a tree of files. Paths in, POSIX results out (0, a byte count, or
 * -errno); nothing here knows libfuse's types, so the logic is unit-tested
 * against the in-memory blob client without a mount (tests/unit/test-fs-*).
 * fuse_ops.c adapts these functions to libfuse's high-level API.
 *
 * What it does: maps paths to blob names ("/a/b" -> "a/b"), answers stat
 * and readdir from caches filled by `delimiter=/` listings, streams reads
 * with a head GET then one streaming GET per sequential run, within a
 * read buffer budget shared fairly by all readers (bmfs_read.c), writes
 * through local files under --tmp-path that are uploaded on
 * flush/fsync/release (bmfs_write.c, layout in bmfs_tmp.c), keeps
 * whole-file copies for rereads (bmfs_fcache.c), and implements unlink,
 * rename, mkdir, rmdir, truncate, statfs. Errors become errno in one function,
 * bmfs_errno() (bmfs_errno.c).
 *
 * Locks (the order is written here once; take them only in this order):
 *   1. struct bmfs_reader.lock   (one open remote reader)
 *   2. struct bmfs_wfile.lock    (one file being written; held during its
 *                                 upload, which is network I/O)
 *   3. struct bmfs.lock          (caches and tables; never held across
 *                                 network or disk I/O)
 *   4. struct bmfs_pool.lock     (the worker job queue; a leaf)
 *   4. struct bmfs_rbudget.lock  (the read buffer budget; a leaf, never
 *                                 held with bmfs_pool.lock)
 * No function holds two locks of the same kind at once.
 */
#ifndef BMFS_H
#define BMFS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "bm_blob.h"

struct bmfs_cache;
struct bmfs_pool;
struct bmfs_wfile;
struct bmfs_cfile;
struct bmfs_krec;
struct bmfs_rbudget;

/* What the command line sets; read-only once bmfs_new has returned. */
struct bmfs_options {
	char *tmp_path;		     /* --tmp-path (required) */
	double attr_timeout;	     /* -o attr_timeout, seconds */
	double entry_timeout;	     /* -o entry_timeout */
	double negative_timeout;     /* -o negative_timeout */
	unsigned block_size_mb;	     /* --block-size-mb: read block and upload
				      * block size */
	unsigned max_concurrency;    /* --max-concurrency: prefetch and upload
				      * parallelism */
	unsigned file_cache_timeout; /* --file-cache-timeout-in-seconds */
	unsigned cache_size_mb;	     /* --cache-size-mb, 0: 80% of free space */
	bool read_only;		     /* -o ro */
	bool open_to_all;	 /* -o allow_other without default_permissions:
				  * the kernel lets every user read and write, so
				  * every mode shows 0777 */
	unsigned read_budget_mb; /* all readers' buffers together
				  * (blobfuse2 block_cache.mem-size-mb);
				  * 0: 32 */
	int readahead_blocks;	 /* blocks a sequential reader keeps
				  * loading ahead (block_cache.prefetch);
				  * -1: max_concurrency */
	unsigned default_permission; /* mode bits of every file and
				      * directory (libfuse.default-permission);
				      * 0: 0644 files, 0755 directories */
	double retry_interval; /* seconds between retries of failed uploads
				* while mounted (30) */
};

/* Defaults: timeouts 1 s (libfuse's), 0 negative; 8 MiB blocks, 8 in
 * flight; file cache 120 s (blobfuse's). */
void bmfs_options_init(struct bmfs_options *o);
void bmfs_options_release(struct bmfs_options *o);

/* Monotonic seconds; replaceable so tests can step time. */
typedef double (*bmfs_clock_fn)(void *ud);

/*
 * The daemon's state, passed to libfuse as userdata. Each field names what
 * guards it.
 */
struct bmfs {
	/* Immutable after bmfs_new: no lock. */
	struct bm_blob_client *client; /* itself thread-safe; owned unless
					* client_borrowed (tests that
					* restart on one service) */
	bool client_borrowed;
	char *container;
	struct bmfs_options opt;
	char *files_dir; /* TMP/blobmill/files: local copies being written */
	char *cache_dir; /* TMP/blobmill/cache: whole-file cache */
	bmfs_clock_fn clock;
	void *clock_ud;
	uid_t uid;
	gid_t gid;
	time_t mount_time; /* mtime of directories without a marker */

	pthread_mutex_t lock;
	/* Guarded by lock. */
	struct bmfs_cache *cache;  /* attributes, negatives, listings */
	struct bmfs_wfile *wfiles; /* files with a local copy, a list */
	uint64_t next_local_id;	   /* names of cache files */
	struct bmfs_cfile *cfiles; /* whole-file cache entries */
	uint64_t cache_bytes;	   /* their total size */
	uint64_t cache_limit;	   /* set by bmfs_new; 0: cache off */
	struct bmfs_krec *krecs;   /* page cache records (bmfs_kcache.c) */
	uint64_t kgen;		   /* their last generation */

	/* Read buffers of all readers; its own lock (bmfs_read.c). */
	struct bmfs_rbudget *rbudget;

	/* Started by bmfs_start (after daemonizing), stopped by bmfs_free. */
	struct bmfs_pool *pool;
	pthread_t retry_thread; /* re-queues failed uploads */
	bool retry_started;
	pthread_cond_t retry_cond; /* wakes it to stop; with lock */
	bool stopping;		   /* guarded by lock */
};

/* Creates --tmp-path (0700) when missing; refuses (-1, err set, one line)
 * a tmp-path not owned by the daemon's user or writable by group or
 * others. bmfs_new checks it too; call it first when anything else is put
 * there before bmfs_new. */
int bmfs_tmp_check(const char *path, struct bm_error *err);

/* Takes ownership of client. Creates the tmp-path layout (mode 0700) and
 * lists pending uploads left by an earlier run (bmfs_tmp.c). Returns NULL
 * with err set. */
struct bmfs *bmfs_new(struct bm_blob_client *client, const char *container,
		      const struct bmfs_options *opt, struct bm_error *err);
/* Starts worker threads and re-uploads what an earlier run left pending.
 * Call after fork (daemonizing). */
int bmfs_start(struct bmfs *fs);
/* The mount-time check: one List request of the container's top level,
 * which proves the credentials and the container and primes the cache
 * with what it lists (the whole top level when it fits in one page).
 * Before bmfs_start. 0, or -1 with err set. */
int bmfs_check_root(struct bmfs *fs, struct bm_error *err);
/* Uploads what is still dirty (best effort, logged), stops the threads and
 * frees everything. */
void bmfs_free(struct bmfs *fs);

/* Every operation an errno may be chosen for; see bmfs_errno(). */
enum bmfs_op {
	BMFS_OP_LOOKUP,
	BMFS_OP_READDIR,
	BMFS_OP_OPEN,
	BMFS_OP_READ,
	BMFS_OP_WRITE,
	BMFS_OP_UPLOAD, /* flush, fsync, release */
	BMFS_OP_TRUNCATE,
	BMFS_OP_UNLINK,
	BMFS_OP_MKDIR,
	BMFS_OP_RMDIR,
	BMFS_OP_RENAME,
};

/* The one place a bm_error becomes an errno (returned positive). Logs the
 * error's line (not for the expected ENOENT of a lookup). */
int bmfs_errno(enum bmfs_op op, const char *path, const struct bm_error *err);

/* An open file; opaque to the adapter, which keeps it in fi->fh. */
struct bmfs_handle;

/* readdir callback: name and the stat of the entry (type and size). */
typedef int (*bmfs_fill_fn)(void *ud, const char *name, const struct stat *st);

/* All return 0 (or a byte count) on success, -errno on failure. */
int bmfs_getattr(struct bmfs *fs, const char *path, struct stat *st);
/* fstat: the attributes of an open file, from its handle alone (libfuse
 * passes no path for a file unlinked while open). */
int bmfs_fgetattr(struct bmfs_handle *h, struct stat *st);
int bmfs_readdir(struct bmfs *fs, const char *path, bmfs_fill_fn fill,
		 void *ud);
/* An open directory (bmfs_dir.c): the read at offset 0 takes a snapshot
 * of the listing (bmfs_readdir); later reads resume in it by index. */
struct bmfs_dir;
/* fill gets the offset of the entry after this one; nonzero stops. */
typedef int (*bmfs_dirfill_fn)(void *ud, const char *name,
			       const struct stat *st, uint64_t next);
int bmfs_opendir(struct bmfs *fs, const char *path, struct bmfs_dir **out);
int bmfs_readdir_at(struct bmfs_dir *d, uint64_t first, bmfs_dirfill_fn fill,
		    void *ud);
void bmfs_releasedir(struct bmfs_dir *d);
int bmfs_open(struct bmfs *fs, const char *path, int flags,
	      struct bmfs_handle **out);
int bmfs_create(struct bmfs *fs, const char *path, int flags,
		struct bmfs_handle **out);
int bmfs_read(struct bmfs_handle *h, char *buf, size_t size, uint64_t off);
int bmfs_write(struct bmfs_handle *h, const char *buf, size_t size,
	       uint64_t off);
int bmfs_flush(struct bmfs_handle *h);
int bmfs_fsync(struct bmfs_handle *h);
/* Uploads if still dirty, frees h. */
int bmfs_release(struct bmfs_handle *h);
/* Whether the kernel may keep the pages it cached of h's file: set by
 * bmfs_open (FOPEN_KEEP_CACHE; see bmfs_kcache.c). */
bool bmfs_keep_cache(const struct bmfs_handle *h);
/* h may be NULL (truncate by path); path may be NULL when h is given
 * (ftruncate of a file unlinked while open). */
int bmfs_truncate(struct bmfs *fs, const char *path, uint64_t size,
		  struct bmfs_handle *h);
int bmfs_unlink(struct bmfs *fs, const char *path);
/* Unlink of an open file that libfuse (without hard_remove) asks as a
 * rename to a hidden name in the same directory: the blob is deleted as
 * by bmfs_unlink, and the file's local copy stays reachable by `hidden`
 * (stat, open) until its last handle is released; libfuse then unlinks
 * `hidden`. A file with no handle open is renamed as asked. */
int bmfs_unlink_open(struct bmfs *fs, const char *path, const char *hidden);
int bmfs_mkdir(struct bmfs *fs, const char *path);
int bmfs_rmdir(struct bmfs *fs, const char *path);
/* noreplace: RENAME_NOREPLACE. */
int bmfs_rename(struct bmfs *fs, const char *from, const char *to,
		bool noreplace);
int bmfs_statfs(struct bmfs *fs, struct statvfs *st);

/* The extended attribute carrying the request counters, on the root only:
 * bm_http_stats_format's line. */
#define BMFS_XATTR_STATS "user.blobmill.stats"
/* getxattr semantics: size 0 asks for the length. */
int bmfs_getxattr(struct bmfs *fs, const char *path, const char *name,
		  char *buf, size_t size);
int bmfs_listxattr(struct bmfs *fs, const char *path, char *buf, size_t size);

/* A blob `a` beside blobs `a/...`: the directory keeps the name `a` and
 * the blob is shown as `a` + this suffix, so neither hides the other. */
#define BMFS_SHADOW_SUFFIX ".blobmill-blob"

#endif
