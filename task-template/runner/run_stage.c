/*
 * run_stage: the files of `blobmill run --stage`, and the directories
 * around them (runner.h).
 *
 * Staging: with --stage the input blob is downloaded into TASKDIR/in and
 * TASKDIR/out is uploaded afterwards, and those directories replace the
 * sources of the volumes at in-dir and out-dir. Without --stage the
 * volume sources (normally blobmill-fuse mounts) are used as they are.
 * The task owns TASKDIR/out, and a container task runs as a root we do
 * not trust: its output is opened beneath TASKDIR/out without following
 * any symbolic link (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, else
 * O_NOFOLLOW on every component) and uploaded only if it is a regular
 * file, so a task cannot make us upload a host file it could not read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "bm_log.h"
#include "runner.h"

int run_mkdir_p(const char *dir)
{
	char *d = strdup(dir), *p;
	int rc = -1;

	if (!d)
		return -1;
	for (p = d + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(d, 0755) && errno != EEXIST)
				goto out;
			*p = c;
			if (!c)
				break;
		}
	}
	rc = 0;
out:
	free(d);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	return remove(path);
}

int run_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) && errno == ENOENT)
		return 0;
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Creates the parent directories of a file path. */
static int mkdir_parent(const char *path)
{
	char *d = strdup(path), *slash;
	int rc = 0;

	if (!d)
		return -1;
	slash = strrchr(d, '/');
	if (slash && slash != d) {
		*slash = '\0';
		rc = run_mkdir_p(d);
	}
	free(d);
	return rc;
}

static int sink_fd(const void *data, size_t len, void *ud)
{
	int fd = *(int *)ud;
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int run_stage_in(struct bm_blob_client *c, const char *container,
		 const char *name, const char *path, struct bm_error *err)
{
	struct bm_get_opts go = {0};
	int fd, rc;

	if (mkdir_parent(path)) {
		bm_error_set(err, BM_ERR_IO,
			     "cannot create the folder of '%s': "
			     "%s",
			     path, strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		bm_error_set(err, BM_ERR_IO, "cannot create '%s': %s", path,
			     strerror(errno));
		return -1;
	}
	rc = c->ops->get(c, container, name, &go, sink_fd, &fd, NULL, err);
	if (rc)
		bm_error_prefix(err, "cannot download '%s/%s'", container,
				name);
	if (close(fd) && !rc) {
		bm_error_set(err, BM_ERR_IO, "cannot write '%s': %s", path,
			     strerror(errno));
		rc = -1;
	}
	return rc;
}

/*
 * Opens name (relative, checked by task_name_path_problem) beneath the
 * directory dirfd without following a symbolic link anywhere: openat2
 * with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel has it, else
 * openat with O_NOFOLLOW on each component. O_NONBLOCK: a FIFO must not
 * hang the run. -1 with errno set (ELOOP: a symbolic link on the way).
 */
static int open_beneath(int dirfd, const char *name)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	char *copy, *comp, *slash;
	int fd, cur, saved;

#ifdef SYS_openat2
	{
		struct open_how how = {
		    .flags = (uint64_t)flags,
		    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			       RESOLVE_NO_MAGICLINKS,
		};

		fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		/* ENOSYS: an older kernel; EPERM: a seccomp filter that
		 * does not know the call. Both: the portable walk. */
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return fd;
	}
#endif
	copy = strdup(name);
	if (!copy)
		return -1;
	cur = dirfd;
	comp = copy;
	while ((slash = strchr(comp, '/'))) {
		*slash = '\0';
		fd = openat(cur, comp,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		saved = errno;
		if (cur != dirfd)
			close(cur);
		if (fd < 0) {
			free(copy);
			/* O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR on some
			 * kernels; say what it is. */
			errno = saved == ENOTDIR ? ELOOP : saved;
			return -1;
		}
		cur = fd;
		comp = slash + 1;
	}
	fd = openat(cur, comp, flags);
	saved = errno;
	if (cur != dirfd)
		close(cur);
	free(copy);
	errno = saved;
	return fd;
}

int run_stage_out(struct bm_blob_client *c, const char *container,
		  const char *out_dir, const char *name, struct bm_error *err)
{
	struct stat st;
	int dfd, fd = -1, rc = -1;

	/* out_dir is ours, but a host task could swap it for a link. */
	dfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		bm_error_set(err, BM_ERR_IO, "cannot open '%s': %s", out_dir,
			     strerror(errno));
		return -1;
	}
	fd = open_beneath(dfd, name);
	if (fd < 0) {
		if (errno == ENOENT)
			bm_error_set(err, BM_ERR_NOT_FOUND,
				     "task did not write its output '%s'",
				     name);
		else if (errno == ELOOP || errno == EXDEV)
			bm_error_set(err, BM_ERR_INVALID,
				     "output '%s' refused: it is (or is under) "
				     "a symbolic link; only regular files are "
				     "uploaded",
				     name);
		else
			bm_error_set(err, BM_ERR_IO,
				     "cannot read output '%s': %s", name,
				     strerror(errno));
		goto out;
	}
	if (fstat(fd, &st)) {
		bm_error_set(err, BM_ERR_IO, "cannot read output '%s': %s",
			     name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		bm_error_set(err, BM_ERR_INVALID,
			     "output '%s' refused: it is %s, not a regular "
			     "file",
			     name,
			     S_ISDIR(st.st_mode)    ? "a directory"
			     : S_ISFIFO(st.st_mode) ? "a FIFO"
			     : S_ISSOCK(st.st_mode) ? "a socket"
						    : "a device");
		goto out;
	}
	/* Put Blob up to 64 MiB, else 8 MiB blocks, 4 in flight. */
	rc = bm_blob_upload_fd(c, container, name, fd, (uint64_t)st.st_size,
			       64ULL << 20, 8ULL << 20, 4, NULL, NULL, err);
	if (rc)
		bm_error_prefix(err, "cannot upload output '%s/%s'", container,
				name);
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return rc;
}
