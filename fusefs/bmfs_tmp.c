/*
 * bmfs_tmp: the on-disk layout under --tmp-path, designed so that a
 * restart on the same tmp-path finds and re-uploads what an earlier run
 * had accepted but not uploaded.
 *
 *   TMP/                       created 0700 when missing; refused when
 *                              not owned by the daemon's user or writable
 *                              by group or others
 *   TMP/blobmill/              0700
 *   TMP/blobmill/files/        0700, local copies of files being written
 *     ID                       0600, the file's whole content
 *     ID.open                  0600, record: written through the mount, not
 *                              yet flushed; never uploaded by a restart
 *                              (the writer never closed or fsynced it)
 *     ID.pending               0600, record: a flush/fsync/close asked for
 *                              the upload and it has not succeeded yet; a
 *                              restart uploads ID under the recorded name
 *   TMP/blobmill/cache/        0700, whole-file cache (bmfs_filecache.c)
 *
 * A record is "blobmill-pending 1\n" CONTAINER "\n" NAME, the blob name's
 * raw bytes up to the end of the file (names may hold newlines). Records
 * are written to ID.tmp and renamed, so a record is whole or absent; state
 * changes are renames. After a successful upload the record is removed
 * first, then the data.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"

#define REC_MAGIC "blobmill-pending 1\n"

static char *path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

static int make_dir(const char *path, struct bm_error *err)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	bm_error_set(err, errno == ENOSPC ? BM_ERR_NOSPACE : BM_ERR_IO,
		     "cannot create directory '%s': %s", path, strerror(errno));
	return -1;
}

int bmfs_tmp_check(const char *path, struct bm_error *err)
{
	struct stat st;

	if (make_dir(path, err) != 0)
		return -1;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "tmp-path '%s' is not a directory", path);
		return -1;
	}
	/* The local copies are the data the daemon uploads: a directory
	 * another user may write lets that user swap them. */
	if (st.st_uid != geteuid()) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "tmp-path '%s' is owned by uid %u, not by the "
			     "daemon's user (uid %u): use a directory of its "
			     "own (created 0700 when missing)",
			     path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "tmp-path '%s' is writable by group or others "
			     "(mode %04o): run 'chmod go-w %s' or use a "
			     "directory of its own (created 0700 when missing)",
			     path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

int bmfs_tmp_init(struct bmfs *fs, struct bm_error *err)
{
	char *top = NULL;
	int rc = -1;

	if (bmfs_tmp_check(fs->opt.tmp_path, err) != 0)
		goto out;
	/* Absolute: the daemon changes to "/" when it detaches. */
	top = realpath(fs->opt.tmp_path, NULL);
	if (!top) {
		bm_error_set(err, BM_ERR_CONFIG, "tmp-path '%s': %s",
			     fs->opt.tmp_path, strerror(errno));
		goto out;
	}
	free(fs->opt.tmp_path);
	fs->opt.tmp_path = top;
	top = path_join(fs->opt.tmp_path, "blobmill");
	fs->files_dir = top ? path_join(top, "files") : NULL;
	fs->cache_dir = top ? path_join(top, "cache") : NULL;
	if (!fs->files_dir || !fs->cache_dir) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (make_dir(top, err) || make_dir(fs->files_dir, err) ||
	    make_dir(fs->cache_dir, err))
		goto out;
	if (access(fs->files_dir, W_OK) != 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "tmp-path '%s' is not writable: %s",
			     fs->opt.tmp_path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(top);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static enum bm_errc io_errc(int e)
{
	return e == ENOSPC || e == EDQUOT ? BM_ERR_NOSPACE : BM_ERR_IO;
}

/* Writes the record for name at path (via path.tmp and a rename). */
static int write_record(struct bmfs *fs, const char *name, const char *path,
			struct bm_error *err)
{
	char *tmp = NULL;
	int fd = -1, rc = -1;

	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, REC_MAGIC, strlen(REC_MAGIC)) ||
	    write_all(fd, fs->container, strlen(fs->container)) ||
	    write_all(fd, "\n", 1) || write_all(fd, name, strlen(name)) ||
	    close(fd) != 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		fd = -1;
		unlink(tmp);
		bm_error_set(err, io_errc(e), "cannot write '%s': %s", tmp,
			     strerror(e));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		bm_error_set(err, io_errc(errno), "cannot rename '%s': %s", tmp,
			     strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

int bmfs_tmp_create(struct bmfs *fs, const char *name, int *fd,
		    char **data_path, char **rec_path, struct bm_error *err)
{
	char *data = path_join(fs->files_dir, "fXXXXXX"), *rec = NULL;
	int d = -1;

	if (!data) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	d = mkostemp(data, O_CLOEXEC); /* mode 0600 */
	if (d < 0) {
		bm_error_set(err, io_errc(errno),
			     "cannot create a local file in '%s': %s",
			     fs->files_dir, strerror(errno));
		goto fail;
	}
	if (asprintf(&rec, "%s%s", data, BMFS_REC_OPEN) < 0) {
		rec = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (write_record(fs, name, rec, err) != 0)
		goto fail;
	*fd = d;
	*data_path = data;
	*rec_path = rec;
	return 0;
fail:
	if (d >= 0) {
		close(d);
		unlink(data);
	}
	free(data);
	free(rec);
	return -1;
}

int bmfs_tmp_set_state(char **rec_path, const char *suffix,
		       struct bm_error *err)
{
	char *dot = strrchr(*rec_path, '.'), *np;

	if (dot && strcmp(dot, suffix) == 0)
		return 0;
	if (asprintf(&np, "%.*s%s", dot ? (int)(dot - *rec_path) : 0, *rec_path,
		     suffix) < 0) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (rename(*rec_path, np) != 0) {
		bm_error_set(err, io_errc(errno), "cannot rename '%s': %s",
			     *rec_path, strerror(errno));
		free(np);
		return -1;
	}
	free(*rec_path);
	*rec_path = np;
	return 0;
}

int bmfs_tmp_rename(struct bmfs *fs, const char *name, const char *rec_path,
		    struct bm_error *err)
{
	return write_record(fs, name, rec_path, err);
}

void bmfs_tmp_remove(const char *data_path, const char *rec_path)
{
	if (rec_path && unlink(rec_path) != 0 && errno != ENOENT)
		bm_warn("cannot remove '%s': %s", rec_path, strerror(errno));
	if (data_path && unlink(data_path) != 0 && errno != ENOENT)
		bm_warn("cannot remove '%s': %s", data_path, strerror(errno));
}

/* The longest record: a blob name is up to 1,024 characters of up to 4
 * bytes of UTF-8 each, a container name up to 63 characters. */
#define REC_MAX (sizeof(REC_MAGIC) + 63 + 1 + 1024 * 4)

/* Reads a record; *name malloc()ed. 1: a record of this container, 0: of
 * another container or malformed (logged), -1: unreadable. */
static int read_record(struct bmfs *fs, const char *path, char **name)
{
	char *buf = malloc(REC_MAX + 1);
	size_t len = 0, clen = strlen(fs->container), mlen = strlen(REC_MAGIC);
	ssize_t n;
	int fd = -1, rc = -1;

	if (!buf)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	/* One byte more than a record can hold tells one too long. */
	while (len <= REC_MAX &&
	       (n = read(fd, buf + len, REC_MAX + 1 - len)) > 0)
		len += (size_t)n;
	rc = 0;
	if (len <= mlen + clen + 1 || len > REC_MAX ||
	    memcmp(buf, REC_MAGIC, mlen) != 0) {
		bm_warn("ignoring malformed record '%s'", path);
		goto out;
	}
	if (memcmp(buf + mlen, fs->container, clen) != 0 ||
	    buf[mlen + clen] != '\n')
		goto out;
	*name = strndup(buf + mlen + clen + 1, len - mlen - clen - 1);
	rc = *name ? 1 : -1;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int bmfs_tmp_scan(struct bmfs *fs, bmfs_recovered_fn fn)
{
	DIR *d = opendir(fs->files_dir);
	struct dirent *de;
	int count = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		char *rec = NULL, *data = NULL, *name = NULL;

		if (!dot)
			continue;
		rec = path_join(fs->files_dir, de->d_name);
		if (!rec)
			break;
		if (strcmp(dot, ".tmp") == 0) {
			unlink(rec); /* a record never completed */
		} else if (strcmp(dot, BMFS_REC_OPEN) == 0 &&
			   read_record(fs, rec, &name) == 1) {
			bm_warn("unfinished write of '%s' (never flushed) kept "
				"in '%.*s'",
				name, (int)(strlen(rec) - strlen(dot)), rec);
		} else if (strcmp(dot, BMFS_REC_PENDING) == 0 &&
			   read_record(fs, rec, &name) == 1) {
			if (asprintf(&data, "%.*s",
				     (int)(strlen(rec) - strlen(dot)),
				     rec) >= 0) {
				if (fn(fs, name, data, rec) == 0) {
					data = rec = NULL; /* taken */
					count++;
				}
			} else {
				data = NULL;
			}
		}
		free(name);
		free(data);
		free(rec);
	}
	closedir(d);
	return count;
}
