/*
 * bmfs_ns: the namespace changes: mkdir, rmdir, unlink (also of a file
 * open, as libfuse asks it), and rename of files and directories. Each
 * is a few requests on the service (a directory rename: a copy and a
 * delete per blob under it) and an update of what the cache shows; local
 * copies being written (bmfs_write.c) are blocked, uploaded first or
 * follow the rename, so no upload lands under a name that is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bmfs_int.h"
#include "bmfs_lookup.h"
#include "bmfs_mount.h"

/* ---- mkdir, rmdir, unlink ---- */

static const struct bm_metadata dir_marker_md[] = {
    {"hdi_isfolder", "true"},
};

int bmfs_mkdir(struct bmfs *fs, const char *path)
{
	const char *name = bmfs_name(path);
	struct bm_put_opts po = {0};
	enum bmfs_kind kind;
	struct bm_error err;
	int rc;

	if (fs->opt.read_only)
		return -EROFS;
	rc = bmfs_lookup_kind(fs, name, &kind);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	/* blobfuse's empty-directory marker: a 0-byte blob NAME with
	 * metadata hdi_isfolder=true. */
	po.metadata = dir_marker_md;
	po.nmetadata = 1;
	po.if_none_match_any = true;
	bm_error_clear(&err);
	if (fs->client->ops->put(fs->client, fs->container, name, NULL, &po,
				 NULL, &err) != 0)
		return -bmfs_errno(BMFS_OP_MKDIR, name, &err);
	bmfs_note_dir(fs, name, true, true);
	return 0;
}

int bmfs_rmdir(struct bmfs *fs, const char *path)
{
	const char *name = bmfs_name(path);
	struct bm_blob_info info = {0};
	enum bmfs_kind kind;
	struct bm_error err;
	int rc;

	if (fs->opt.read_only)
		return -EROFS;
	if (!*name)
		return -EBUSY;
	rc = bmfs_lookup_kind(fs, name, &kind);
	if (rc)
		return rc;
	if (kind != BMFS_DIR)
		return -ENOTDIR;
	rc = bmfs_dir_has_children(fs, name, BMFS_OP_RMDIR);
	if (rc)
		return rc > 0 ? -ENOTEMPTY : rc;
	/* Delete the marker only when it is one: a plain blob NAME shadowed
	 * by the directory is data. */
	bm_error_clear(&err);
	if (fs->client->ops->head(fs->client, fs->container, name, &info,
				  &err) == 0) {
		if (info.is_dir_marker &&
		    fs->client->ops->remove(fs->client, fs->container, name,
					    &err) != 0 &&
		    err.code != BM_ERR_NOT_FOUND)
			return -bmfs_errno(BMFS_OP_RMDIR, name, &err);
	} else if (err.code != BM_ERR_NOT_FOUND) {
		return -bmfs_errno(BMFS_OP_RMDIR, name, &err);
	}
	bmfs_note_absent(fs, name);
	return 0;
}

/* Takes a reference on name's listed wfile, or returns NULL. */
static struct bmfs_wfile *wfile_get_ref(struct bmfs *fs, const char *name)
{
	struct bmfs_wfile *wf;

	pthread_mutex_lock(&fs->lock);
	wf = bmfs_wfile_find(fs, name);
	if (wf)
		wf->refs++;
	pthread_mutex_unlock(&fs->lock);
	return wf;
}

/* Locks wf (waiting for an upload in flight to finish) and marks it
 * unlinked, so no upload of it starts; until wfile_release_blocked. */
static void wfile_block(struct bmfs *fs, struct bmfs_wfile *wf)
{
	pthread_mutex_lock(&wf->lock);
	pthread_mutex_lock(&fs->lock);
	wf->unlinked = true;
	pthread_mutex_unlock(&fs->lock);
}

/* Ends wfile_block: the copy is dropped (done: its name is gone or
 * replaced; kept listed as keep_as if given), or uploadable again as
 * before. Drops the reference. */
static void wfile_release_blocked(struct bmfs *fs, struct bmfs_wfile *wf,
				  bool done, const char *keep_as)
{
	if (done) {
		bmfs_wfile_drop(fs, wf, keep_as);
	} else {
		pthread_mutex_lock(&fs->lock);
		wf->unlinked = false;
		pthread_mutex_unlock(&fs->lock);
	}
	pthread_mutex_unlock(&wf->lock);
	bmfs_wfile_unref(fs, wf);
}

/*
 * Unlink wins over every upload of name: with wf->lock held no upload of
 * the local copy is in flight (one that was has finished, so the Delete
 * comes after its Put Blob or Put Block List), and with unlinked set none
 * starts again, from a handle's close or the retry thread. Were the Delete
 * to fail, the copy is uploadable again as before. keep_as: see
 * bmfs_wfile_drop.
 */
static int unlink_name(struct bmfs *fs, const char *name, const char *keep_as)
{
	struct bmfs_wfile *wf;
	struct bmfs_attr a;
	struct bm_error err;
	int rc;

	if (fs->opt.read_only)
		return -EROFS;
	rc = bmfs_lookup(fs, name, &a);
	if (rc)
		return rc;
	if (a.kind == BMFS_DIR) {
		free(a.blob);
		return -EISDIR;
	}
	wf = wfile_get_ref(fs, name);
	if (wf)
		wfile_block(fs, wf);
	bm_error_clear(&err);
	if (fs->client->ops->remove(fs->client, fs->container,
				    a.blob ? a.blob : name, &err) != 0 &&
	    !(err.code == BM_ERR_NOT_FOUND && wf))
		rc = -bmfs_errno(BMFS_OP_UNLINK, name, &err);
	if (wf)
		wfile_release_blocked(fs, wf, rc == 0, keep_as);
	if (rc == 0) {
		bmfs_note_absent(fs, name);
		bmfs_fcache_forget(fs, a.blob ? a.blob : name, false);
	}
	free(a.blob);
	return rc;
}

int bmfs_unlink(struct bmfs *fs, const char *path)
{
	return unlink_name(fs, bmfs_name(path), NULL);
}

int bmfs_unlink_open(struct bmfs *fs, const char *path, const char *hidden)
{
	/* Only an open file is hidden; anything else asked this is a plain
	 * rename by a user who chose such a name. */
	if (!bmfs_kcache_is_open(fs, bmfs_name(path)))
		return bmfs_rename(fs, path, hidden, true);
	return unlink_name(fs, bmfs_name(path), bmfs_name(hidden));
}

/* ---- rename ---- */

/*
 * A file rename is a copy and a delete on the service. Its local copy, if
 * it has one, is uploaded first (so the copy is what the mount shows) and
 * then follows the rename, so its open handles keep writing to the file
 * under its new name. The local copy of a target it replaces is blocked
 * from the start (as by unlink: no upload of it is in flight or starts
 * that could land over the renamed data) and dropped when the rename
 * succeeds. The source's lock is held from its upload until it follows,
 * so no write or upload falls between.
 */
static int rename_file(struct bmfs *fs, const char *from, const char *blob,
		       const char *to, const struct bmfs_attr *a)
{
	struct bmfs_wfile *sw, *tw;
	struct bm_error err;
	int rc = 0;

	tw = wfile_get_ref(fs, to);
	if (tw)
		wfile_block(fs, tw);
	sw = wfile_get_ref(fs, from);
	if (sw) {
		pthread_mutex_lock(&sw->lock);
		rc = bmfs_wfile_upload(fs, sw);
	}
	bm_error_clear(&err);
	if (rc == 0 && fs->client->ops->copy(fs->client, fs->container, blob,
					     to, &err) != 0)
		rc = -bmfs_errno(BMFS_OP_RENAME, from, &err);
	if (rc == 0 &&
	    fs->client->ops->remove(fs->client, fs->container, blob, &err) !=
		0 &&
	    err.code != BM_ERR_NOT_FOUND) {
		/* Both exist now; the source is intact. */
		bmfs_note_file(fs, to, a->size, time(NULL), NULL);
		rc = -bmfs_errno(BMFS_OP_RENAME, from, &err);
	}
	if (sw) {
		if (rc == 0)
			rc = bmfs_wfile_rename(fs, sw, to);
		pthread_mutex_unlock(&sw->lock);
		bmfs_wfile_unref(fs, sw);
	}
	if (tw)
		wfile_release_blocked(fs, tw, rc == 0, NULL);
	if (rc)
		return rc;
	bmfs_note_absent(fs, from);
	bmfs_note_file(fs, to, a->size, time(NULL), NULL);
	bmfs_fcache_forget(fs, blob, false);
	bmfs_fcache_forget(fs, to, false);
	return 0;
}

/* Uploads and drops the local copy of name under a directory being moved,
 * so the move copies what the mount shows. A copy with handles open (or
 * an upload queued) makes the move fail with EBUSY: its writes would have
 * nowhere to go. 0 or -errno. */
static int flush_moved(struct bmfs *fs, const char *name)
{
	struct bmfs_wfile *wf = wfile_get_ref(fs, name);
	bool busy;
	int rc = 0;

	if (!wf)
		return 0;
	pthread_mutex_lock(&wf->lock);
	pthread_mutex_lock(&fs->lock);
	busy = wf->refs > 1;
	pthread_mutex_unlock(&fs->lock);
	rc = busy ? -EBUSY : bmfs_wfile_upload(fs, wf);
	if (rc == 0)
		bmfs_wfile_drop(fs, wf, NULL);
	pthread_mutex_unlock(&wf->lock);
	bmfs_wfile_unref(fs, wf);
	return rc;
}

struct names {
	char **v;
	size_t n, cap;
	bool oom;
};

static int names_cb(const struct bm_blob_entry *e, void *ud)
{
	struct names *x = ud;

	if (e->is_prefix)
		return 0;
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		char **v = realloc(x->v, cap * sizeof(*v));

		if (!v) {
			x->oom = true;
			return 1;
		}
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n] = strdup(e->name);
	if (!x->v[x->n]) {
		x->oom = true;
		return 1;
	}
	x->n++;
	return 0;
}

static void names_release(struct names *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		free(x->v[i]);
	free(x->v);
}

/* The blob names a directory move takes along: every blob under FROM/
 * and FROM's marker. */
static int dir_blobs(struct bmfs *fs, const char *from, bool marker,
		     struct names *x)
{
	struct bm_list_opts o = {0};
	struct bm_error err;
	char *prefix = bmfs_dir_prefix(from);
	struct bm_blob_entry me = {.name = from};
	int rc = 0;

	if (!prefix)
		return -ENOMEM;
	o.prefix = prefix;
	bm_error_clear(&err);
	if (bm_blob_list_all(fs->client, fs->container, &o, names_cb, x,
			     &err) != 0 &&
	    !x->oom)
		rc = -bmfs_errno(BMFS_OP_RENAME, from, &err);
	if (rc == 0 && marker)
		names_cb(&me, x);
	if (rc == 0 && x->oom)
		rc = -ENOMEM;
	free(prefix);
	return rc;
}

static char *moved_name(const char *name, const char *from, const char *to)
{
	size_t flen = strlen(from);
	char *p;

	if (asprintf(&p, "%s%s", to, name + flen) < 0)
		return NULL;
	return p;
}

/* Copies every blob, then deletes the sources: a failure while copying
 * removes the copies made and leaves the source whole. */
static int rename_dir(struct bmfs *fs, const char *from, const char *to,
		      const struct bmfs_attr *a)
{
	struct names x = {0};
	struct bm_error err;
	struct bmfs_wfile *wf;
	char *prefix = bmfs_dir_prefix(from);
	size_t i, copied = 0, plen;
	int rc = 0;

	if (!prefix)
		return -ENOMEM;
	plen = strlen(prefix);
	/* Local copies under FROM/ go up first; an open one blocks. */
	if (bmfs_local_under(fs, prefix, true))
		rc = -EBUSY;
	for (;;) {
		char *name = NULL;

		if (rc)
			goto out;
		pthread_mutex_lock(&fs->lock);
		for (wf = fs->wfiles; wf && !name; wf = wf->next)
			if (!wf->unlinked &&
			    strncmp(wf->name, prefix, plen) == 0)
				name = strdup(wf->name);
		pthread_mutex_unlock(&fs->lock);
		if (!name)
			break;
		rc = flush_moved(fs, name);
		free(name);
	}
	rc = dir_blobs(fs, from, a->marker, &x);
	bm_error_clear(&err);
	for (i = 0; rc == 0 && i < x.n; i++) {
		char *dst = moved_name(x.v[i], from, to);

		if (!dst)
			rc = -ENOMEM;
		else if (fs->client->ops->copy(fs->client, fs->container,
					       x.v[i], dst, &err) != 0)
			rc = -bmfs_errno(BMFS_OP_RENAME, x.v[i], &err);
		else
			copied++;
		free(dst);
	}
	if (rc) {
		for (i = 0; i < copied; i++) {
			char *dst = moved_name(x.v[i], from, to);

			bm_error_clear(&err);
			if (dst)
				fs->client->ops->remove(
				    fs->client, fs->container, dst, &err);
			free(dst);
		}
		goto out;
	}
	for (i = 0; i < x.n; i++) {
		bm_error_clear(&err);
		if (fs->client->ops->remove(fs->client, fs->container, x.v[i],
					    &err) != 0 &&
		    err.code != BM_ERR_NOT_FOUND && rc == 0)
			rc = -bmfs_errno(BMFS_OP_RENAME, x.v[i], &err);
	}
out:
	if (copied) {
		char *tprefix = bmfs_dir_prefix(to);

		pthread_mutex_lock(&fs->lock);
		bmfs_cache_forget_prefix(fs->cache, prefix);
		if (tprefix)
			bmfs_cache_forget_prefix(fs->cache, tprefix);
		bmfs_cache_forget(fs->cache, from);
		bmfs_cache_forget(fs->cache, to);
		pthread_mutex_unlock(&fs->lock);
		free(tprefix);
		if (rc == 0)
			bmfs_note_absent(fs, from);
		bmfs_note_dir(fs, to, a->marker, false);
		bmfs_fcache_forget(fs, from, true);
		bmfs_fcache_forget(fs, to, true);
	}
	names_release(&x);
	free(prefix);
	return rc;
}

int bmfs_rename(struct bmfs *fs, const char *from_path, const char *to_path,
		bool noreplace)
{
	const char *from = bmfs_name(from_path), *to = bmfs_name(to_path);
	struct bmfs_attr a, b;
	size_t flen = strlen(from);
	int rc;

	if (fs->opt.read_only)
		return -EROFS;
	if (!*from || !*to)
		return -EBUSY;
	if (strcmp(from, to) == 0)
		return 0;
	if (strncmp(to, from, flen) == 0 && to[flen] == '/')
		return -EINVAL; /* into itself */
	rc = bmfs_lookup(fs, from, &a);
	if (rc)
		return rc;
	rc = bmfs_lookup(fs, to, &b);
	free(b.blob);
	if (rc && rc != -ENOENT)
		goto out;
	if (rc == 0 && noreplace) {
		rc = -EEXIST;
		goto out;
	}
	if (a.kind == BMFS_FILE) {
		if (rc == 0 && b.kind == BMFS_DIR)
			rc = -EISDIR;
		else
			rc = rename_file(fs, from, a.blob ? a.blob : from, to,
					 &a);
		goto out;
	}
	if (rc == 0 && b.kind == BMFS_FILE) {
		rc = -ENOTDIR;
		goto out;
	}
	if (rc == 0) {
		rc = bmfs_dir_has_children(fs, to, BMFS_OP_RENAME);
		if (rc) {
			rc = rc > 0 ? -ENOTEMPTY : rc;
			goto out;
		}
	}
	rc = rename_dir(fs, from, to, &a);
out:
	free(a.blob);
	return rc;
}
