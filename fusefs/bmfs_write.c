/*
 * bmfs_write: open files. A read-only open of a blob streams it
 * (bmfs_read.c); any open for writing, and any open of a name that has a
 * local copy, works on the local copy under --tmp-path (layout in
 * bmfs_tmp.c). The local copy is uploaded on flush, fsync and release
 * when it changed: Put Blob up to 32 MiB, else Put Block of
 * --block-size-mb with --max-concurrency in flight and Put Block List
 * (bm_blob_upload_fd); blocks complete before the close are sent while
 * the writer goes on (bmfs_stream.c). A failed upload returns its error from
 * that close/fsync and leaves the copy, recorded ".pending", in place: the
 * mount keeps showing it, the next flush retries, and a restart on the
 * same tmp-path uploads it.
 *
 * Unlink wins: a file removed through the mount is never uploaded again,
 * by its handles' closes or by an upload that was in flight (unlink waits
 * for that one, then deletes). Its handles keep reading and writing the
 * local copy until they close, as POSIX has it.
 *
 * Limits: opening an existing blob for writing without O_TRUNC downloads
 * it whole first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"
#include "bmfs_mount.h"

/* Takes ownership of fd, data_path and rec_path. */
static struct bmfs_wfile *wfile_new(const char *name, int fd, char *data_path,
				    char *rec_path)
{
	struct bmfs_wfile *wf = calloc(1, sizeof(*wf));

	if (wf)
		wf->name = strdup(name);
	if (!wf || !wf->name) {
		if (wf)
			free(wf);
		close(fd);
		bmfs_tmp_remove(data_path, rec_path);
		free(data_path);
		free(rec_path);
		return NULL;
	}
	pthread_mutex_init(&wf->lock, NULL);
	wf->fd = fd;
	wf->data_path = data_path;
	wf->rec_path = rec_path;
	return wf;
}

/* Frees wf. Its files stay when it holds something to upload; a copy
 * that is what the blob now holds becomes a file cache entry; anything
 * else is removed. */
static void wfile_free(struct bmfs *fs, struct bmfs_wfile *wf)
{
	struct stat st;

	if (!wf->dirty && !wf->unlinked && wf->etag[0] &&
	    fstat(wf->fd, &st) == 0) {
		bmfs_tmp_remove(NULL, wf->rec_path);
		bmfs_fcache_adopt(fs, wf->name, wf->etag, wf->data_path,
				  (uint64_t)st.st_size);
	} else if (!wf->dirty || wf->unlinked || wf->write_err) {
		bmfs_tmp_remove(wf->data_path, wf->rec_path);
	}
	bmfs_stream_free(wf->stream); /* waits for its sends: they use fd */
	close(wf->fd);
	pthread_mutex_destroy(&wf->lock);
	free(wf->data_path);
	free(wf->rec_path);
	free(wf->name);
	free(wf);
}

/* fs->lock held. */
static void wfile_list(struct bmfs *fs, struct bmfs_wfile *wf)
{
	wf->next = fs->wfiles;
	fs->wfiles = wf;
	wf->listed = true;
}

/* fs->lock held. */
static void wfile_unlist(struct bmfs *fs, struct bmfs_wfile *wf)
{
	struct bmfs_wfile **p;

	for (p = &fs->wfiles; *p; p = &(*p)->next) {
		if (*p == wf) {
			*p = wf->next;
			break;
		}
	}
	wf->next = NULL;
	wf->listed = false;
}

void bmfs_wfile_drop(struct bmfs *fs, struct bmfs_wfile *wf,
		     const char *keep_as)
{
	char *name = keep_as ? strdup(keep_as) : NULL;

	bmfs_tmp_remove(wf->data_path, wf->rec_path);
	wf->dirty = false;
	pthread_mutex_lock(&fs->lock);
	wf->unlinked = true;
	if (name && wf->listed) {
		char *old = wf->name;

		wf->name = name;
		name = old;
	} else if (wf->listed) {
		wfile_unlist(fs, wf);
	}
	pthread_mutex_unlock(&fs->lock);
	free(name);
}

int bmfs_wfile_rename(struct bmfs *fs, struct bmfs_wfile *wf, const char *to)
{
	struct bmfs_wfile *other;
	struct bm_error err;
	char *name = strdup(to), *old;

	if (!name)
		return -ENOMEM;
	bm_error_clear(&err);
	if (bmfs_tmp_rename(fs, to, wf->rec_path, &err) != 0)
		bm_warn("%s (a restart would upload '%s' under its old name)",
			err.msg, to);
	pthread_mutex_lock(&fs->lock);
	other = bmfs_wfile_find(fs, to);
	if (other && other != wf && other->unlinked)
		wfile_unlist(fs, other);
	old = wf->name;
	wf->name = name;
	pthread_mutex_unlock(&fs->lock);
	free(old);
	return 0;
}

void bmfs_wfile_unref(struct bmfs *fs, struct bmfs_wfile *wf)
{
	bool last;

	pthread_mutex_lock(&wf->lock);
	pthread_mutex_lock(&fs->lock);
	wf->refs--;
	if (wf->refs == 0 && wf->listed &&
	    (!wf->dirty || wf->unlinked || wf->write_err)) {
		wfile_unlist(fs, wf);
		/* What the mount showed of a failed copy was never the
		 * blob's: ask the service again. */
		if (wf->write_err)
			bmfs_forget_attrs(fs, wf->name);
	}
	last = wf->refs == 0 && !wf->listed;
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_unlock(&wf->lock);
	if (last)
		wfile_free(fs, wf);
}

static enum bm_errc io_errc(int e)
{
	return e == ENOSPC || e == EDQUOT ? BM_ERR_NOSPACE : BM_ERR_IO;
}

int bmfs_wfile_upload(struct bmfs *fs, struct bmfs_wfile *wf)
{
	struct bm_blob_info info = {0};
	struct bm_blocks b = {0};
	struct bm_error err;
	struct stat st;
	bool unlinked, blocks;
	time_t mtime;
	uint64_t len, bs = (uint64_t)fs->opt.block_size_mb << 20;
	int rc;

	if (!wf->dirty)
		return 0;
	pthread_mutex_lock(&fs->lock);
	unlinked = wf->unlinked;
	pthread_mutex_unlock(&fs->lock);
	if (unlinked)
		return 0;
	bm_error_clear(&err);
	if (wf->write_err) {
		bm_error_set(&err, io_errc(wf->write_err),
			     "not uploaded: a write to its local copy failed "
			     "(%s); the blob is left as it was",
			     strerror(wf->write_err));
		return -bmfs_errno(BMFS_OP_UPLOAD, wf->name, &err);
	}
	/* Recorded as pending before the first byte goes out: from here a
	 * crash or a failure leaves something a restart uploads. */
	if (bmfs_tmp_set_state(&wf->rec_path, BMFS_REC_PENDING, &err) != 0)
		return -bmfs_errno(BMFS_OP_UPLOAD, wf->name, &err);
	if (fstat(wf->fd, &st) != 0) {
		bm_error_set(&err, BM_ERR_IO, "cannot stat '%s': %s",
			     wf->data_path, strerror(errno));
		return -bmfs_errno(BMFS_OP_UPLOAD, wf->name, &err);
	}
	len = (uint64_t)st.st_size;
	blocks = len > BMFS_SINGLE_PUT_MAX;
	if (blocks) {
		b.block_size = bm_blob_block_size(len, bs);
		bmfs_stream_settle(wf, len, &b);
		/* Blocks sent early or committed before are named again
		 * only if still ours (the two-writer rule, bm_blob.h). */
		rc = bm_blob_upload_blocks_fd(
		    fs->client, fs->container, wf->name, wf->fd, len, &b,
		    (int)fs->opt.max_concurrency, NULL, &info, &err);
	} else {
		rc = bm_blob_upload_fd(fs->client, fs->container, wf->name,
				       wf->fd, len, BMFS_SINGLE_PUT_MAX, bs, 1,
				       NULL, &info, &err);
	}
	if (rc != 0) {
		bm_error_prefix(&err, "local copy kept in '%s'", wf->data_path);
		return -bmfs_errno(BMFS_OP_UPLOAD, wf->name, &err);
	}
	bmfs_stream_committed(wf, len, blocks ? &b : NULL, info.etag);
	wf->dirty = false;
	memcpy(wf->etag, info.etag, sizeof(wf->etag));
	bm_error_clear(&err);
	if (bmfs_tmp_set_state(&wf->rec_path, BMFS_REC_OPEN, &err) != 0)
		bm_warn("%s (uploaded; a restart would upload it again)",
			err.msg);
	/* The mtime the mount showed while the copy was local, so a stat
	 * before and after the upload agree (tar checks that). */
	pthread_mutex_lock(&fs->lock);
	mtime = wf->mtime;
	pthread_mutex_unlock(&fs->lock);
	bmfs_note_file(fs, wf->name, (uint64_t)st.st_size, mtime, info.etag);
	bm_debug("uploaded '%s' (%lld bytes)", wf->name, (long long)st.st_size);
	return 0;
}

struct fd_sink {
	int fd;
	uint64_t off;
	int err; /* errno of a failed write */
};

static int fd_sink_fn(const void *data, size_t len, void *ud)
{
	struct fd_sink *s = ud;
	const char *p = data;

	while (len) {
		ssize_t w = pwrite(s->fd, p, len, (off_t)s->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			s->err = errno;
			return 1;
		}
		p += w;
		len -= (size_t)w;
		s->off += (uint64_t)w;
	}
	return 0;
}

/* Copies the blob into fd (opening an existing file for writing). */
static int download(struct bmfs *fs, const char *name, int fd, uint64_t *size,
		    struct bm_error *err)
{
	struct fd_sink s = {.fd = fd};
	struct bm_get_opts o = {0};

	if (fs->client->ops->get(fs->client, fs->container, name, &o,
				 fd_sink_fn, &s, NULL, err) != 0) {
		if (s.err) {
			bm_error_clear(err);
			bm_error_set(err, io_errc(s.err),
				     "cannot write local copy: %s",
				     strerror(s.err));
		}
		return -1;
	}
	*size = s.off;
	return 0;
}

/* Empties the local copy (O_TRUNC). wf->lock held. */
static int wfile_truncate(struct bmfs *fs, struct bmfs_wfile *wf, uint64_t size)
{
	struct bm_error err;

	if (ftruncate(wf->fd, (off_t)size) != 0) {
		bm_error_clear(&err);
		bm_error_set(&err, io_errc(errno), "cannot truncate '%s': %s",
			     wf->data_path, strerror(errno));
		return -bmfs_errno(BMFS_OP_TRUNCATE, wf->name, &err);
	}
	wf->dirty = true;
	bmfs_stream_reset(wf);
	pthread_mutex_lock(&fs->lock);
	wf->size = size;
	wf->mtime = time(NULL);
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

/*
 * The local copy of name, with a reference taken: the existing one, or a
 * new one holding the blob's content (a: its attributes; NULL or trunc:
 * start empty).
 */
static int wfile_open(struct bmfs *fs, const char *name,
		      const struct bmfs_attr *a, bool trunc,
		      struct bmfs_wfile **out)
{
	struct bmfs_wfile *wf, *other;
	struct bm_error err;
	char *data = NULL, *rec = NULL;
	uint64_t size = 0;
	int fd, rc = 0;

	pthread_mutex_lock(&fs->lock);
	wf = bmfs_wfile_find(fs, name);
	if (wf)
		wf->refs++;
	pthread_mutex_unlock(&fs->lock);
	/* What is cached of name is about to be out of date. */
	bmfs_fcache_forget(fs, name, false);
	if (!wf) {
		bm_error_clear(&err);
		rc = bmfs_tmp_create(fs, name, &fd, &data, &rec, &err);
		if (rc != 0 && err.code == BM_ERR_NOSPACE &&
		    bmfs_fcache_evict(fs) > 0) {
			bm_error_clear(&err);
			rc = bmfs_tmp_create(fs, name, &fd, &data, &rec, &err);
		}
		if (rc != 0)
			return -bmfs_errno(BMFS_OP_OPEN, name, &err);
		if (!trunc && a && a->size > 0 &&
		    download(fs, name, fd, &size, &err) != 0) {
			close(fd);
			bmfs_tmp_remove(data, rec);
			free(data);
			free(rec);
			return -bmfs_errno(BMFS_OP_OPEN, name, &err);
		}
		wf = wfile_new(name, fd, data, rec);
		if (!wf)
			return -ENOMEM;
		/* Without it the close just sends every block itself. */
		wf->stream =
		    bmfs_stream_new((uint64_t)fs->opt.block_size_mb << 20);
		wf->size = size;
		wf->mtime = a && !trunc ? a->mtime : time(NULL);
		/* A new file exists once it is closed, even empty. */
		wf->dirty = trunc || !a;
		wf->refs = 1;
		pthread_mutex_lock(&fs->lock);
		other = bmfs_wfile_find(fs, name);
		if (other)
			other->refs++;
		else
			wfile_list(fs, wf);
		pthread_mutex_unlock(&fs->lock);
		if (other) {
			/* Another open made one meanwhile: use that. */
			wf->dirty = false;
			wfile_free(fs, wf);
			wf = other;
		} else {
			trunc = false;
		}
	}
	if (trunc) {
		pthread_mutex_lock(&wf->lock);
		rc = wfile_truncate(fs, wf, 0);
		pthread_mutex_unlock(&wf->lock);
	}
	if (rc) {
		bmfs_wfile_unref(fs, wf);
		return rc;
	}
	*out = wf;
	return 0;
}

/* A handle of name, registered with the page cache records as reading
 * version etag ("" for a writer). */
static struct bmfs_handle *handle_new(struct bmfs *fs, const char *name,
				      int flags, const char *etag)
{
	struct bmfs_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->fs = fs;
	h->flags = flags;
	h->cfd = -1;
	h->name = strdup(name);
	if (!h->name) {
		free(h);
		return NULL;
	}
	h->keep_cache = bmfs_kcache_open(fs, name, etag, &h->kgen);
	return h;
}

static void handle_free(struct bmfs_handle *h)
{
	bmfs_kcache_release(h->fs, h->name, h->kgen);
	free(h->name);
	free(h);
}

bool bmfs_keep_cache(const struct bmfs_handle *h)
{
	return h->keep_cache;
}

int bmfs_open(struct bmfs *fs, const char *path, int flags,
	      struct bmfs_handle **out)
{
	const char *name = bmfs_name(path);
	bool wr = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	struct bmfs_wfile *wf;
	struct bmfs_handle *h;
	struct bmfs_attr a;
	int rc;

	if (wr && fs->opt.read_only)
		return -EROFS;
	rc = bmfs_lookup(fs, name, &a);
	if (rc)
		return rc;
	if (a.kind == BMFS_DIR) {
		rc = -EISDIR;
		goto out;
	}
	if (wr && a.blob) {
		/* A blob shadowed by a directory is shown to be read, not
		 * written: its writes would land on the directory's name. */
		bm_warn("'%s' is read-only: a directory shadows blob '%s'",
			name, a.blob);
		rc = -EROFS;
		goto out;
	}
	if (wr) {
		h = handle_new(fs, name, flags, "");
		if (!h) {
			rc = -ENOMEM;
			goto out;
		}
		rc = wfile_open(fs, name, &a, (flags & O_TRUNC) != 0, &h->wf);
	} else {
		pthread_mutex_lock(&fs->lock);
		wf = bmfs_wfile_find(fs, name);
		if (wf)
			wf->refs++;
		pthread_mutex_unlock(&fs->lock);
		/* A local copy has no version the kernel could keep. */
		h = handle_new(fs, name, flags, wf ? "" : a.etag);
		if (!h) {
			if (wf)
				bmfs_wfile_unref(fs, wf);
			rc = -ENOMEM;
			goto out;
		}
		h->wf = wf;
		h->size = a.size;
		h->mtime = a.mtime;
		/* A fresh cached copy of this version, else stream; a
		 * handle that keeps the kernel's pages reads their version
		 * only. */
		if (!h->wf)
			h->cfd = bmfs_fcache_open(fs, a.blob ? a.blob : name,
						  a.etag);
		if (!h->wf && h->cfd < 0) {
			h->rd =
			    bmfs_reader_new(fs, a.blob ? a.blob : name, name,
					    a.size, a.etag, h->keep_cache);
			if (!h->rd)
				rc = -ENOMEM;
		}
	}
	if (rc) {
		handle_free(h);
		goto out;
	}
	*out = h;
out:
	free(a.blob);
	return rc;
}

int bmfs_create(struct bmfs *fs, const char *path, int flags,
		struct bmfs_handle **out)
{
	const char *name = bmfs_name(path);
	struct bmfs_handle *h;
	int rc;

	if (fs->opt.read_only)
		return -EROFS;
	if (!*name)
		return -EISDIR;
	h = handle_new(fs, name, flags, "");
	if (!h)
		return -ENOMEM;
	rc = wfile_open(fs, name, NULL, true, &h->wf);
	if (rc) {
		handle_free(h);
		return rc;
	}
	/* Visible at once in the parent's listing. */
	bmfs_note_file(fs, name, 0, time(NULL), NULL);
	*out = h;
	return 0;
}

int bmfs_read(struct bmfs_handle *h, char *buf, size_t size, uint64_t off)
{
	struct bm_error err;
	ssize_t n;

	if (h->rd)
		return bmfs_reader_read(h->rd, buf, size, off);
	do
		n = pread(h->cfd >= 0 ? h->cfd : h->wf->fd, buf, size,
			  (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (int)n;
	bm_error_clear(&err);
	bm_error_set(&err, BM_ERR_IO, "cannot read a local copy: %s",
		     strerror(errno));
	return -bmfs_errno(BMFS_OP_READ, h->name, &err);
}

int bmfs_fgetattr(struct bmfs_handle *h, struct stat *st)
{
	struct bmfs *fs = h->fs;
	uint64_t size = h->size;
	time_t mtime = h->mtime;
	struct stat cst;

	if (h->wf) {
		pthread_mutex_lock(&fs->lock);
		size = h->wf->size;
		mtime = h->wf->mtime;
		pthread_mutex_unlock(&fs->lock);
	} else if (h->cfd >= 0 && fstat(h->cfd, &cst) == 0) {
		size = (uint64_t)cst.st_size;
	}
	bmfs_fill_stat(fs, BMFS_FILE, size, mtime, st);
	return 0;
}

/* A write to wf's copy failed with e (wf->lock held): from now on the
 * copy holds what nobody wrote, so it is never uploaded (and a restart
 * must not upload it either: its record goes). */
static void wfile_fail(struct bmfs_wfile *wf, int e)
{
	if (!wf->write_err)
		wf->write_err = e;
	bmfs_tmp_remove(NULL, wf->rec_path);
}

/* Writes all of buf at off to wf's copy (wf->lock held); *done: bytes
 * written. A full tmp-path (ENOSPC, EDQUOT) first empties the whole-file
 * cache and tries once more. 0 or errno. */
static int copy_write(struct bmfs *fs, struct bmfs_wfile *wf, const char *buf,
		      size_t size, uint64_t off, size_t *done)
{
	bool evicted = false;

	*done = 0;
	while (*done < size) {
		ssize_t n = pwrite(wf->fd, buf + *done, size - *done,
				   (off_t)(off + *done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ENOSPC || errno == EDQUOT) && !evicted &&
		    bmfs_fcache_evict(fs) > 0) {
			evicted = true;
			continue;
		}
		if (n < 0)
			return errno;
		*done += (size_t)n;
	}
	return 0;
}

int bmfs_write(struct bmfs_handle *h, const char *buf, size_t size,
	       uint64_t off)
{
	struct bmfs_wfile *wf = h->wf;
	struct bm_error err;
	size_t done;
	int e;

	if (!wf)
		return -EBADF;
	pthread_mutex_lock(&wf->lock);
	e = copy_write(h->fs, wf, buf, size, off, &done);
	if (e)
		wfile_fail(wf, e);
	if (done > 0) {
		uint64_t len;
		bool unlinked;

		wf->dirty = true;
		pthread_mutex_lock(&h->fs->lock);
		if (off + done > wf->size)
			wf->size = off + done;
		wf->mtime = time(NULL);
		len = wf->size;
		unlinked = wf->unlinked;
		pthread_mutex_unlock(&h->fs->lock);
		/* An unlinked file's blocks would go to a name that is gone. */
		if (!unlinked)
			bmfs_stream_wrote(h->fs, wf, off, off + done, len);
	}
	if (!e) {
		pthread_mutex_unlock(&wf->lock);
		return (int)done;
	}
	bm_error_clear(&err);
	bm_error_set(&err, io_errc(e),
		     "cannot write local copy '%s': %s; the file will not be "
		     "uploaded",
		     wf->data_path, strerror(e));
	e = bmfs_errno(BMFS_OP_WRITE, wf->name, &err);
	pthread_mutex_unlock(&wf->lock);
	return -e;
}

int bmfs_flush(struct bmfs_handle *h)
{
	int rc;

	/* Only a writer's close uploads: a reader closing a file that is
	 * being written must not publish it half done. */
	if (!h->wf ||
	    ((h->flags & O_ACCMODE) == O_RDONLY && !(h->flags & O_TRUNC)))
		return 0;
	pthread_mutex_lock(&h->wf->lock);
	rc = bmfs_wfile_upload(h->fs, h->wf);
	pthread_mutex_unlock(&h->wf->lock);
	return rc;
}

int bmfs_fsync(struct bmfs_handle *h)
{
	return bmfs_flush(h);
}

int bmfs_release(struct bmfs_handle *h)
{
	int rc = 0;

	if (h->wf) {
		rc = bmfs_flush(h);
		bmfs_wfile_unref(h->fs, h->wf);
	}
	bmfs_reader_free(h->rd);
	if (h->cfd >= 0)
		close(h->cfd);
	handle_free(h);
	return rc;
}

int bmfs_truncate(struct bmfs *fs, const char *path, uint64_t size,
		  struct bmfs_handle *h)
{
	struct bmfs_handle *own = NULL;
	int rc;

	if (fs->opt.read_only)
		return -EROFS;
	if (!h || !h->wf) {
		if (!path)
			return h ? -EBADF : -ESTALE; /* not open for writing */
		rc = bmfs_open(fs, path, O_WRONLY | (size == 0 ? O_TRUNC : 0),
			       &own);
		if (rc)
			return rc;
		h = own;
	}
	pthread_mutex_lock(&h->wf->lock);
	rc = wfile_truncate(fs, h->wf, size);
	pthread_mutex_unlock(&h->wf->lock);
	if (own) {
		int rc2 = bmfs_release(own);

		if (rc == 0)
			rc = rc2;
	}
	return rc;
}

int bmfs_wfile_recovered(struct bmfs *fs, const char *name, char *data_path,
			 char *rec_path)
{
	struct bmfs_wfile *wf;
	struct stat st;
	int fd = open(data_path, O_RDWR | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		bm_err("pending upload of '%s': cannot open '%s': %s", name,
		       data_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	wf = wfile_new(name, fd, data_path, rec_path);
	if (!wf)
		return 0; /* wfile_new took the paths */
	wf->dirty = true;
	wf->size = (uint64_t)st.st_size;
	wf->mtime = st.st_mtime;
	pthread_mutex_lock(&fs->lock);
	if (bmfs_wfile_find(fs, name)) {
		/* Two pending copies of one name: the files stay on disk
		 * for a person to compare; only the first is served. */
		pthread_mutex_unlock(&fs->lock);
		bm_warn("pending upload of '%s' from '%s' left in place: "
			"another local copy of that name is pending",
			name, data_path);
		wfile_free(fs, wf); /* dirty: its files stay */
		return 0;
	}
	wfile_list(fs, wf);
	pthread_mutex_unlock(&fs->lock);
	bm_info("found pending upload of '%s' in '%s'", name, data_path);
	return 0;
}

struct retry {
	struct bmfs *fs;
	struct bmfs_wfile *wf; /* a reference */
};

static void retry_job(void *arg)
{
	struct retry *r = arg;
	int rc;

	pthread_mutex_lock(&r->wf->lock);
	rc = bmfs_wfile_upload(r->fs, r->wf);
	if (rc == 0)
		bm_info("uploaded pending '%s'", r->wf->name);
	pthread_mutex_unlock(&r->wf->lock);
	bmfs_wfile_unref(r->fs, r->wf);
	free(r);
}

void bmfs_wfile_retry_all(struct bmfs *fs)
{
	struct bmfs_wfile *wf;

	pthread_mutex_lock(&fs->lock);
	for (wf = fs->wfiles; wf; wf = wf->next) {
		struct retry *r;

		if (wf->refs > 0)
			continue; /* its handles upload it */
		r = malloc(sizeof(*r));
		if (!r)
			break;
		r->fs = fs;
		r->wf = wf;
		wf->refs++;
		if (bmfs_pool_submit(fs->pool, retry_job, r) != 0) {
			wf->refs--;
			free(r);
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

void bmfs_wfile_free_all(struct bmfs *fs)
{
	struct bmfs_wfile *wf;

	for (;;) {
		pthread_mutex_lock(&fs->lock);
		wf = fs->wfiles;
		if (wf)
			wfile_unlist(fs, wf);
		pthread_mutex_unlock(&fs->lock);
		if (!wf)
			break;
		pthread_mutex_lock(&wf->lock);
		if (bmfs_wfile_upload(fs, wf) != 0 && !wf->write_err)
			bm_err("unmount: '%s' not uploaded; kept in '%s' for "
			       "the next mount",
			       wf->name, wf->data_path);
		pthread_mutex_unlock(&wf->lock);
		/* No request comes after unmount: handles left open are
		 * never released, so free regardless of refs. */
		wfile_free(fs, wf);
	}
}
