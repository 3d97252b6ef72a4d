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
 * The device is found in /proc/self/mountinfo (its "major:minor" field),
 * not by stat() of the mount point: that would ask this very daemon,
 * whose loop does not run yet.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount_readahead.h"

/* Undoes mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

int mount_readahead_path(const char *canon, char *path, unsigned size)
{
	char dev[32] = "", *line = NULL;
	size_t cap = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	/* "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...": the last line for
	 * the mount point is the mount on top. */
	while (getline(&line, &cap, f) > 0) {
		char majmin[32], mp[PATH_MAX + 1];

		if (sscanf(line, "%*s %*s %31s %*s %4096s", majmin, mp) != 2)
			continue;
		unescape(mp);
		if (strcmp(mp, canon) == 0)
			snprintf(dev, sizeof(dev), "%s", majmin);
	}
	free(line);
	fclose(f);
	if (!dev[0]) {
		errno = ENOENT;
		return -1;
	}
	if ((unsigned)snprintf(path, size, "/sys/class/bdi/%s/read_ahead_kb",
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

	if (mount_readahead_path(canon, path, sizeof(path)) != 0)
		return -1;
	f = fopen(path, "we");
	if (!f)
		return -1;
	rc = fprintf(f, "%u\n", kb) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}
