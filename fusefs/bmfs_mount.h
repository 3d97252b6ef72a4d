/*
 * bmfs_mount.h: the mount as the other modules see it. bmfs_read.c,
 * bmfs_write.c, bmfs_fcache.c (and bmfs_lookup.c, bmfs_ns.c, bmfs_dir.c)
 * reach the mount's state through this header alone: its clock, its
 * names, the stat of an entry, the attributes of one name, what the
 * attribute cache is told after the mount changed a name, and the table
 * of local copies. Implemented by bmfs_state.c, which calls none of them
 * back. struct bmfs is in bmfs.h (each field names its lock); the lock
 * order is there too.
 */
#ifndef BMFS_MOUNT_H
#define BMFS_MOUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "bmfs.h"
#include "bmfs_cache.h"

/* Monotonic seconds (fs->clock: tests step it). */
double bmfs_now(struct bmfs *fs);

/* ---- names ---- */

/* "/a/b" -> "a/b", "/" -> "". Returns a pointer into path. */
const char *bmfs_name(const char *path);
/* Parent directory's name and the last component; malloc()ed, the caller
 * frees *dir. "a/b" -> "a" + "b"; "b" -> "" + "b". -1 on ENOMEM. */
int bmfs_split(const char *name, char **dir, const char **base);
/* "a" -> "a/" (the listing prefix of a directory); "" stays "".
 * malloc()ed; the caller frees it. */
char *bmfs_dir_prefix(const char *name);

/* ---- attributes ---- */

/* The stat of an entry: modes from the options, the daemon's uid/gid. */
void bmfs_fill_stat(struct bmfs *fs, enum bmfs_kind kind, uint64_t size,
		    time_t mtime, struct stat *st);
/* Attributes of name (cache, local copy, or one listing request). 0 or
 * -errno; out->blob is malloc()ed (caller frees) or NULL. */
int bmfs_lookup(struct bmfs *fs, const char *name, struct bmfs_attr *out);
/* What a stat of name shows without asking anyone: its local copy, else
 * its cache entry. 1 with *a set (a->blob borrowed), else 0. fs->lock
 * held. */
int bmfs_known_attr(struct bmfs *fs, const char *name, struct bmfs_attr *a,
		    double now);

/* ---- what the mount did to a name (the attribute cache) ---- */

/* Caches a's attributes of name until now + attr_timeout (or
 * negative_timeout for an absent name). fs->lock held. */
void bmfs_note_attr(struct bmfs *fs, const char *name,
		    const struct bmfs_attr *a, double now);
/* A file written, created or renamed to; a name removed; a directory made
 * (empty: its listing is known) or moved. fs->lock not held. */
void bmfs_note_file(struct bmfs *fs, const char *name, uint64_t size,
		    time_t mtime, const char *etag);
void bmfs_note_absent(struct bmfs *fs, const char *name);
void bmfs_note_dir(struct bmfs *fs, const char *name, bool marker, bool empty);
/* Drops what the caches hold of name and its parent's listing: the next
 * stat asks the service. fs->lock held. */
void bmfs_forget_attrs(struct bmfs *fs, const char *name);

/* ---- the table of local copies (fs->wfiles) ---- */

/* The listed wfile for name (struct bmfs_wfile: bmfs_int.h), or NULL;
 * fs->lock held by the caller. bmfs_write.c adds and removes them. */
struct bmfs_wfile *bmfs_wfile_find(struct bmfs *fs, const char *name);

#endif
