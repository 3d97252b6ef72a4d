/*
 * bmfs_reader.h: what the readers (bmfs_read.c) and the read buffer
 * budget they share (bmfs_rbudget.c) both see: a reader, its units, the
 * budget, and the budget's calls on behalf of a reader. Nothing else
 * includes it (the rest of the mount: bmfs_reader_* and bmfs_rbudget_*
 * in bmfs_int.h).
 */
#ifndef BMFS_READER_H
#define BMFS_READER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm_blob.h"
#include "bmfs.h"

/* The first GET of a reader that has not shown it reads on, and the
 * sequential run after which it streams. */
#define HEAD_SIZE ((uint64_t)1 << 20)
/* All read buffers of a mount together (see the header comment). */
#define READ_BUDGET ((uint64_t)32 << 20)
/* Buffers at least this large come from mmap (returned on free). */
#define MMAP_MIN ((size_t)64 << 10)
/* The smallest stream unit, and what loads are aligned to. */
#define UNIT_MIN ((uint64_t)128 << 10)
#define UNIT_ALIGN ((uint64_t)64 << 10)
/* A stream's units per share: one being read, the rest filling. */
#define SHARE_UNITS 4
#define MAX_UNITS 16
/* A reader that has not read for this long may lose its units. */
#define IDLE_S 0.5
/* How often a waiting reader looks at the budget again. */
#define POLL_NS 5000000L

enum unit_state { U_FREE = 0, U_LOADING, U_READY, U_FAILED };

struct bmfs_unit {
	/* Guarded by r->lock, except buf[ready..len) and got, which only the
	 * loading thread touches while state == U_LOADING. */
	uint64_t off;
	size_t len;    /* bytes asked for */
	size_t got;    /* bytes received */
	size_t ready;  /* bytes readers may copy */
	size_t copied; /* bytes readers copied (consumed once >= len) */
	char *buf;     /* cap bytes, or NULL */
	size_t cap;    /* counted in the budget while buf is set */
	enum unit_state state;
	struct bm_error err;
	uint64_t stamp; /* last use, for reuse */
};

struct bmfs_rbudget {
	pthread_mutex_t lock;
	uint64_t limit; /* immutable */
	/* Guarded by lock. */
	uint64_t used;			 /* bytes of all buffers */
	uint64_t peak;			 /* the most used ever (tests) */
	unsigned active;		 /* readers holding or waiting */
	struct bmfs_reader *readers;	 /* all open readers */
	atomic_uint_fast64_t read_waits; /* see bmfs_rbudget_read_waits */
};

struct bmfs_reader {
	/* Immutable. */
	struct bmfs *fs;
	struct bmfs_rbudget *bud;
	char *blob;
	char *kname; /* the name whose page cache records it feeds */
	uint64_t bs;
	atomic_bool closing; /* read by sinks without the lock */
	char *tee_path;	     /* the cache file being filled, or NULL */
	int tee_fd;	     /* its fd (pwrite by loaders), or -1 */
	bool tee_wanted;     /* a reread: copy it at the first read */
	/* Only the stream thread touches sunit's buffer and got. */
	struct bmfs_unit *sunit; /* the unit the stream fills, or NULL */

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a unit loaded, filled more, or consumed */
	/* Guarded by lock. */
	struct bmfs_unit units[MAX_UNITS];
	char etag[BM_ETAG_MAX]; /* "" until the first GET answered */
	char want[BM_ETAG_MAX]; /* the version the opener believed */
	uint64_t size;
	unsigned inflight; /* GETs running (demand loads and the stream) */
	uint64_t next_seq; /* where a sequential read starts next */
	uint64_t seq_run;  /* bytes read in sequence up to next_seq */
	bool streaming;	   /* it once read more than half a head in
			    * sequence: it streams from now */
	uint64_t clock;
	bool stale; /* a GET found the blob changed */
	struct bm_error stale_err;
	bool sactive;	     /* a stream thread runs */
	bool sjoin;	     /* sthread is to be joined */
	pthread_t sthread;   /* the stream's thread */
	unsigned sgen;	     /* bumped to stop the stream */
	uint64_t spos;	     /* where the stream's next unit starts */
	uint8_t *tee_done;   /* one bit per UNIT_ALIGN granule written */
	bool tee_ok;	     /* no write failed, size as believed */
	uint64_t wake_at;    /* the stream wakes waiting reads once its
			      * bytes reach this offset (UINT64_MAX: none) */
	bool stream_waiting; /* the stream waits for a unit */

	/* Guarded by bud->lock. */
	struct bmfs_reader *bnext, *bprev; /* bud->readers */
	uint64_t held;			   /* bytes of its buffers */
	bool wants;			   /* a read waits for room */
	bool counted;			   /* in bud->active */
	double last_read;		   /* bmfs_now() at its last read */
	unsigned refs; /* threads about to free one of its buffers */
};

/* ---- the budget's calls (bmfs_rbudget.c) ---- */

/* Keeps bud->active in step with r's holding or wanting. bud->lock held. */
void bmfs_rbudget_recount(struct bmfs_reader *r);
/* The size of a stream unit for r now: a quarter of its share, a power of
 * two of at least UNIT_MIN. Not the block size: the stream is one GET
 * whatever its units, and a unit of a small block size would leave a
 * lone reader's share unused (MAX_UNITS). */
uint64_t bmfs_rbudget_unit_size(struct bmfs_reader *r);
/* Whether r holds more than its share. */
bool bmfs_rbudget_over_share(struct bmfs_reader *r);
/* Marks r as waiting for room (counted as active) or done waiting. */
void bmfs_rbudget_set_wants(struct bmfs_reader *r, bool wants);
/* Frees a unit's buffer (not loading); the unit is forgotten. r->lock
 * held. */
void bmfs_rbudget_drop(struct bmfs_reader *r, struct bmfs_unit *u);
/*
 * Gives the free unit u (no buffer) a buffer of n bytes if the budget has
 * room: within r's share, or any room when r holds nothing (so every
 * reader gets a unit). r->lock held.
 */
bool bmfs_rbudget_grant(struct bmfs_reader *r, struct bmfs_unit *u, size_t n);
/* Whether r has read all of u (or left it well behind). */
bool bmfs_rbudget_consumed(const struct bmfs_reader *r,
			   const struct bmfs_unit *u);
/* Waits on r->cond for at most POLL_NS (r->lock held): room in the budget
 * is not signalled, so whoever waits for it looks again. */
void bmfs_rbudget_poll_wait(struct bmfs_reader *r);
/*
 * Called by a read of r that found no room (r->lock held): frees a buffer
 * another reader has read (oldest last read first), else one of a reader
 * that has not read for IDLE_S (anything not loading), else waits a moment
 * for room. Drops r->lock meanwhile; the caller looks again.
 */
void bmfs_rbudget_wait_room(struct bmfs_reader *r);

#endif
