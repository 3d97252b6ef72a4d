/*
 * bmfs_lookup.h: what the namespace changes (bmfs_ns.c) ask of lookups
 * and listings (bmfs_lookup.c) besides the public bmfs_getattr and
 * bmfs_readdir. Not for the read, write and file-cache modules: they
 * reach the mount through bmfs_mount.h only.
 */
#ifndef BMFS_LOOKUP_H
#define BMFS_LOOKUP_H

#include <stdbool.h>

#include "bmfs.h"
#include "bmfs_cache.h"

/* bmfs_lookup for callers that need only the kind. */
int bmfs_lookup_kind(struct bmfs *fs, const char *name, enum bmfs_kind *kind);
/* Whether a local copy lives under prefix (open ones only, if asked). */
bool bmfs_local_under(struct bmfs *fs, const char *prefix, bool open_only);
/* Whether anything lives under NAME/, remotely or as a local file; op
 * names the operation for the errno. 1 yes, 0 no, -errno. */
int bmfs_dir_has_children(struct bmfs *fs, const char *name, enum bmfs_op op);

#endif
