/*
 * mount_readahead: how far the kernel reads ahead in a mount's files, so
 * that a sequential read reaches the daemon in few large requests
 * (mount_readahead.c says why).
 */
#ifndef MOUNT_READAHEAD_H
#define MOUNT_READAHEAD_H

/* The kernel's readahead window for our mounts (why this size: the .c). */
#define MOUNT_READAHEAD_KB 256

/* Sets the readahead of the newest mount on `canon` (a canonical path,
 * made by realpath() BEFORE the mount: resolving it after would ask the
 * daemon itself) to kb KiB. 0, or -1 with errno (not root, /sys
 * read-only, not mounted): the kernel's default then stays, which costs
 * speed, not correctness. */
int mount_readahead_set(const char *canon, unsigned kb);

#endif
