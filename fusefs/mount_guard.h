/*
 * mount_guard: the checks blobmill-fuse makes before it mounts, so that
 * two daemons never share a mount point or a --tmp-path:
 *   - the mount point exists, is a directory and has nothing mounted on it
 *     (a live mount or a dead one, "Transport endpoint is not connected");
 *   - the --tmp-path is locked (flock on TMP/blobmill/lock) for the
 *     daemon's whole life: a second daemon on the same --tmp-path would
 *     upload, and delete, the first one's pending files.
 * Errors are one line in err, with what to do.
 */
#ifndef MOUNT_GUARD_H
#define MOUNT_GUARD_H

#include <stddef.h>

#include "bm_error.h"

/* Whether mp (resolved as the kernel shows it) is a mount point; *fstype
 * gets its type (caller frees), *path the resolved path (caller frees).
 * Never stats mp itself (its daemon may hang). */
int mount_guard_find(const char *mp, char **path, char **fstype);

/* The "major:minor" of the newest mount on path (absolute and resolved,
 * as the kernel's mount table writes it) into dev (cap bytes). 0, or -1
 * when nothing is mounted there. Reads only the mount table. */
int mount_guard_device(const char *path, char *dev, size_t cap);

/* The absolute path of what mp names, its last component unresolved
 * unless a symbolic link, as the kernel's mount table writes it; relative
 * to cwd (a directory path) when not NULL. Caller frees; NULL on error. */
char *mount_guard_resolve(const char *cwd, const char *mp);

/* 0 when something may be mounted on mp; -1 with err set otherwise. */
int mount_guard_mountpoint(const char *mp, struct bm_error *err);

/*
 * Creates TMP and TMP/blobmill (0700) when missing and takes an exclusive,
 * non-blocking flock on TMP/blobmill/lock. Returns the lock's descriptor
 * (keep it open: the lock lasts as long as it, across fork), or -1 with
 * err set; the message names the daemon that holds the lock.
 */
int mount_guard_lock_tmp(const char *tmp_path, struct bm_error *err);

/* Records who holds the lock (PID and mount point), for the message a
 * second daemon prints; call again after daemonizing (the PID changed). */
void mount_guard_note_owner(int lock_fd, const char *mp);

#endif
