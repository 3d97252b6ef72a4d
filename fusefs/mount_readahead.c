/*
 * mount_readahead: the kernel's readahead window of a blobmill mount.
 *
 * A FUSE mount's readahead is its backing device's read_ahead_kb, 128 KiB
 * unless changed, and the daemon cannot raise it in its INIT answer (the
 * kernel offers 128 KiB, the answer may only lower it). So a sequential
 * reader reaches the daemon as one 128 KiB read request after another,
 * and each costs a round trip: the kernel wakes a libfuse worker, the
 * worker reads the request, answers with a writev, and waits again. On
 * this kind of VM (paravirtualised, where every context switch and system
 * call is dear) those round trips were most of the daemon's system CPU
 * on a cold 1 GiB read. With 256 KiB a GiB is 4,096 requests instead of
 * 8,192. Not more: the kernel asks up to about two windows ahead of what
 * the reader has read, and a read more than 1 MiB past the stream cuts it
 * (bmfs_read.c). With 1 MiB, 8 readers at once cost 64 GETs instead of
 * ~20 (t-fuse-readers.sh); with 512 KiB, under ASan, reads that landed
 * ahead left units behind as consumed and 8 readers fetched up to 108
 * MiB for 96 read (4 runs in 18, limit 1.05). The window also bounds
 * what a random reader may fetch beyond what it asked for.
 *
 * The device is found in the mount table (mount_guard_device: the
 * "major:minor" field of /proc/self/mountinfo), not by stat() of the
 * mount point: that would ask this very daemon, whose loop does not run
 * yet.
 */
#include <errno.h>
#include <stdio.h>

#include "mount_guard.h"
#include "mount_readahead.h"

/* The sysfs file that holds the readahead of the mount on canon, into
 * path (size bytes). 0, or -1 with errno. */
static int readahead_path(const char *canon, char *path, size_t size)
{
	char dev[32];

	if (mount_guard_device(canon, dev, sizeof(dev)) != 0) {
		errno = ENOENT;
		return -1;
	}
	if ((size_t)snprintf(path, size, "/sys/class/bdi/%s/read_ahead_kb",
			     dev) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int mount_readahead_set(const char *canon, unsigned kb)
{
	char path[96];
	FILE *f;
	int rc;

	if (readahead_path(canon, path, sizeof(path)) != 0)
		return -1;
	f = fopen(path, "we");
	if (!f)
		return -1;
	rc = fprintf(f, "%u\n", kb) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}
