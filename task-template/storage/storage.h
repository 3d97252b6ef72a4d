/*
 * storage.h: the engine of the storage commands (st_xfer.c: one file up or
 * down; st_tree.c: put -r, get -r, rm -r; st_names.c: blob names <-> local
 * paths). Prints through term.h only; the commands that drive it (their
 * table and parsing) are cli/'s (storage_cli.h, cmd_storage.c).
 */
#ifndef BM_STORAGE_H
#define BM_STORAGE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bm_blob.h"
#include "term.h"

#define ST_MIB (1024ULL * 1024)
#define ST_BLOCK_MB_DEFAULT 8
#define ST_BLOCK_MB_MAX 4000   /* Azure's largest Put Block */
#define ST_MAX_BLOCKS 50000ULL /* Azure's block count limit per blob */
#define ST_CONCURRENCY_DEFAULT 8
#define ST_CONCURRENCY_MAX 64
#define ST_BLOB_NAME_MAX 1024 /* characters (Azure's limit) */

/* The parsed command line of a storage command (the credential options
 * stay in cli/: struct st_ctx). */
struct st_args {
	bool stats;
	bool long_format;
	bool human; /* ls -h: sizes as 1.5 MiB */
	bool null_sep;
	bool recursive;
	bool force;
	bool no_progress;
	bool json; /* --output json */
	const char *delimiter;
	const char *prefix;
	int block_size_mb;
	int concurrency;
	char **argv; /* the operands */
	int argc;
};

/*
 * The temporaries of downloads in flight. While any exists, SIGINT,
 * SIGTERM and SIGHUP are blocked in every thread (threads started later,
 * libcurl's included, inherit the mask) and taken by one waiter thread,
 * which removes every registered temporary and then lets the signal end
 * the process as it would have. SIGUSR1 from st_temps_stop ends the
 * waiter. Best effort: without the waiter, an interrupted get leaves its
 * hidden temporaries, as any program killed mid-write would.
 */
#define ST_TEMPS_MAX ST_CONCURRENCY_MAX

struct st_temps {
	pthread_t thread;
	sigset_t set;
	sigset_t old;
	pthread_mutex_t lock;		 /* guards paths */
	const char *paths[ST_TEMPS_MAX]; /* borrowed; NULL: free slot */
	bool running;
};

void st_temps_start(struct st_temps *t);
void st_temps_stop(struct st_temps *t);

/* Options of one transfer. */
struct st_xfer {
	struct bm_blob_client *client;
	struct st_temps *temps;		/* NULL: no signal clean-up */
	struct term_progress *progress; /* counts the bytes, may be off */
	int block_size_mb;
	int concurrency;
};

/*
 * Downloads container/name to dest through a temporary beside it, renamed
 * into place only when the whole blob has arrived and been synced, with
 * the blob's Last-Modified as its mtime (what get -r compares to resume).
 * Prints one line on failure ("get: ..."); returns a TERM_EXIT_* code.
 */
int st_get_file(const struct st_xfer *x, const char *container,
		const char *name, const char *dest);

/* Downloads to stdout. Prints one line on failure; TERM_EXIT_*. */
int st_get_stdout(const struct st_xfer *x, const char *container,
		  const char *name);

/*
 * Uploads what fd holds as container/name: a regular file read from its
 * start goes through bm_blob_upload_fd (pread, parallel blocks); anything
 * else is a stream read one block at a time. `shown` names the source in
 * messages. Prints one line on failure; TERM_EXIT_*.
 */
int st_put_fd(const struct st_xfer *x, int fd, const char *shown,
	      const char *container, const char *name);

/* put -r, get -r, rm -r (st_tree.c); the operands are in a->argv. */
int st_put_tree(struct bm_blob_client *c, const struct st_args *a);
int st_get_tree(struct bm_blob_client *c, const struct st_args *a);
int st_rm_tree(struct bm_blob_client *c, const struct st_args *a);

/*
 * Splits "CONTAINER/NAME" at the first '/'. *container is malloc()ed (the
 * caller frees it); *name points into arg ("" when there is no '/').
 * need_name: a missing or empty NAME is an error. Prints the error.
 */
int st_split_target(const char *cmd, const char *arg, bool need_name,
		    char **container, const char **name);

/* --- st_names.c: names, with no I/O (unit-tested) --- */

/* Characters (UTF-8 code points) of s; -1 when s is not valid UTF-8. */
long st_utf8_chars(const char *s);

/*
 * Why blob-relative name rel (below the prefix) cannot be a local path
 * under the target directory, or NULL when it can: empty, '.' or '..'
 * components, an empty component ("a//b"), a component over NAME_MAX
 * bytes. Static string.
 */
const char *st_local_problem(const char *rel);

/*
 * Why a local file at relative path rel cannot be the blob prefix + rel,
 * or NULL: not UTF-8, longer than 1,024 characters with the prefix.
 */
const char *st_blob_problem(const char *prefix, const char *rel);

/* The listing prefix of CONTAINER/PREFIX taken as a folder: "" stays "",
 * "x" and "x/" both give "x/". malloc()ed; the caller frees it. */
char *st_folder_prefix(const char *prefix);

/* The last component of a blob name ("a/b/c.txt" -> "c.txt"). */
const char *st_basename(const char *name);

#endif
