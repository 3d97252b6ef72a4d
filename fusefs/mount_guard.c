/*
 * mount_guard: refuse a mount point that is missing or already mounted,
 * and a --tmp-path another daemon holds. See mount_guard.h.
 *
 * The mount table, not stat(), decides "already mounted": a dead FUSE
 * mount fails every stat with ENOTCONN, and a live one on an empty
 * container looks like any empty directory. Paths in
 * /proc/self/mountinfo are resolved and octal-escaped (" " is "\040"), so
 * the mount point is resolved the same way first: its parent with
 * realpath(), since realpath() of a dead mount point itself fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mount_guard.h"

/* The absolute path mp names, its last component resolved only when it is
 * a symbolic link: a stat of the mount point itself would wait on a hung
 * daemon. NULL when its parent cannot be resolved. Caller frees. */
static char *resolve_mountpoint(const char *mp);

char *mount_guard_resolve(const char *cwd, const char *mp)
{
	char *joined = NULL, *out;

	if (cwd && mp[0] != '/') {
		if (asprintf(&joined, "%s/%s", cwd, mp) < 0)
			return NULL;
		mp = joined;
	}
	out = resolve_mountpoint(mp);
	free(joined);
	return out;
}

static char *resolve_mountpoint(const char *mp)
{
	char *dup_dir = strdup(mp), *dup_base = strdup(mp), *parent = NULL;
	char *out = NULL, link[8];
	const char *base;

	if (!dup_dir || !dup_base)
		goto out;
	/* readlink() answers EINVAL for a directory without asking it. */
	if (readlink(mp, link, sizeof(link)) >= 0) {
		out = realpath(mp, NULL);
		goto out;
	}
	base = basename(dup_base);
	if (!strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
		out = realpath(mp, NULL);
		goto out;
	}
	parent = realpath(dirname(dup_dir), NULL);
	if (parent && asprintf(&out, "%s/%s", strcmp(parent, "/") ? parent : "",
			       base) < 0)
		out = NULL;
out:
	free(parent);
	free(dup_dir);
	free(dup_base);
	return out;
}

/* Undoes the kernel's octal escapes of a mountinfo field, in place. */
static void unescape_field(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Whether path is a mount point; *fstype gets its type (caller frees),
 * and dev (devcap bytes, unless NULL) its "major:minor". The last mount
 * on a path is the one in effect: later lines win. */
static int find_mount(const char *path, char **fstype, char *dev, size_t devcap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *mp, *majmin, *type, *save;
	size_t cap = 0;
	int found = 0, i;

	*fstype = NULL;
	if (!f)
		return 0;
	/* "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ... - TYPE ..." */
	while (getline(&line, &cap, f) > 0) {
		mp = strtok_r(line, " ", &save);
		majmin = NULL;
		for (i = 1; mp && i < 5; i++) {
			mp = strtok_r(NULL, " ", &save);
			if (i == 2)
				majmin = mp;
		}
		if (!mp)
			continue;
		unescape_field(mp);
		if (strcmp(mp, path) != 0)
			continue;
		type = strstr(save ? save : "", " - ");
		free(*fstype);
		*fstype = strndup(type ? type + 3 : "?",
				  type ? strcspn(type + 3, " ") : 1);
		if (dev)
			snprintf(dev, devcap, "%s", majmin);
		found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

int mount_guard_find(const char *mp, char **path, char **fstype)
{
	*fstype = NULL;
	*path = resolve_mountpoint(mp);
	return *path && find_mount(*path, fstype, NULL, 0);
}

int mount_guard_device(const char *path, char *dev, size_t cap)
{
	char *fstype;
	int found = find_mount(path, &fstype, dev, cap);

	free(fstype);
	return found ? 0 : -1;
}

int mount_guard_mountpoint(const char *mp, struct bm_error *err)
{
	char *path = NULL, *fstype = NULL;
	struct stat st;
	int rc = -1;

	if (mount_guard_find(mp, &path, &fstype)) {
		if (stat(path, &st) < 0 && errno == ENOTCONN)
			bm_error_set(err, BM_ERR_INVALID,
				     "cannot mount on '%s': a dead mount is "
				     "still there (transport endpoint is not "
				     "connected): unmount it first with "
				     "'fusermount3 -u %s'",
				     mp, path);
		else
			bm_error_set(err, BM_ERR_INVALID,
				     "cannot mount on '%s': it is already "
				     "mounted (%s): unmount it first with "
				     "'fusermount3 -u %s'",
				     mp, fstype ? fstype : "?", path);
		goto out;
	}
	if (stat(mp, &st) < 0) {
		if (errno == ENOENT)
			bm_error_set(err, BM_ERR_INVALID,
				     "cannot mount on '%s': no such directory; "
				     "create it: mkdir -p %s",
				     mp, mp);
		else
			bm_error_set(err, BM_ERR_INVALID,
				     "cannot mount on '%s': %s", mp,
				     strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		bm_error_set(err, BM_ERR_INVALID,
			     "cannot mount on '%s': not a directory", mp);
		goto out;
	}
	rc = 0;
out:
	free(fstype);
	free(path);
	return rc;
}

static int make_dir(const char *path, struct bm_error *err)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	bm_error_set(err, BM_ERR_IO, "cannot create '%s': %s", path,
		     strerror(errno));
	return -1;
}

int mount_guard_lock_tmp(const char *tmp_path, struct bm_error *err)
{
	char *dir = NULL, *lock = NULL, owner[256];
	ssize_t n;
	int fd = -1;

	if (asprintf(&dir, "%s/blobmill", tmp_path) < 0 ||
	    asprintf(&lock, "%s/lock", dir) < 0) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (make_dir(tmp_path, err) < 0 || make_dir(dir, err) < 0)
		goto out;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		bm_error_set(err, BM_ERR_IO, "cannot open '%s': %s", lock,
			     strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		goto out;
	if (errno == EWOULDBLOCK) {
		n = pread(fd, owner, sizeof(owner) - 1, 0);
		owner[n > 0 ? n : 0] = '\0';
		owner[strcspn(owner, "\n")] = '\0';
		bm_error_set(err, BM_ERR_INVALID,
			     "--tmp-path '%s' is in use by another "
			     "blobmill-fuse%s%s%s: give each mount its own "
			     "--tmp-path",
			     tmp_path, *owner ? " (" : "", owner,
			     *owner ? ")" : "");
	} else {
		bm_error_set(err, BM_ERR_IO, "cannot lock '%s': %s", lock,
			     strerror(errno));
	}
	close(fd);
	fd = -1;
out:
	free(dir);
	free(lock);
	return fd;
}

void mount_guard_note_owner(int lock_fd, const char *mp)
{
	char line[PATH_MAX + 64];
	int n;

	n = snprintf(line, sizeof(line), "pid %ld, mounted on %s\n",
		     (long)getpid(), mp);
	if (n < 0 || (size_t)n >= sizeof(line) || ftruncate(lock_fd, 0) < 0 ||
	    pwrite(lock_fd, line, (size_t)n, 0) < 0)
		return; /* only the message of a second daemon loses detail */
}
