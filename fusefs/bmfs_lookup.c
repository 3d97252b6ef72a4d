/*
 * bmfs_lookup: stat by path, directory listings and readdir, the
 * mount-time check of the container, and whether a directory has
 * children (for rmdir and rename, bmfs_ns.c). The attributes of one name
 * are bmfs_lookup() (bmfs_state.c); listings prime them for every entry.
 *
 * Request costs, by design (the tests count them):
 *   - the mount-time check (bmfs_check_root): 1 List request of the top
 *     level, kept as the root's listing when it fits in one page;
 *   - stat: see bmfs_state.c (0 for a name the cache knows, else 1 List);
 *   - readdir: ceil(N/5000) List requests, which also fill the attributes
 *     of every entry, so `ls -l` costs nothing per file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_log.h"
#include "bmfs_int.h"
#include "bmfs_lookup.h"
#include "bmfs_mount.h"

int bmfs_getattr(struct bmfs *fs, const char *path, struct stat *st)
{
	struct bmfs_attr a;
	int rc = bmfs_lookup(fs, bmfs_name(path), &a);

	if (rc == 0)
		bmfs_fill_stat(fs, a.kind, a.size, a.mtime, st);
	free(a.blob);
	return rc;
}

/* bmfs_lookup for callers that need only the kind. */
int bmfs_lookup_kind(struct bmfs *fs, const char *name, enum bmfs_kind *kind)
{
	struct bmfs_attr a;
	int rc = bmfs_lookup(fs, name, &a);

	free(a.blob);
	*kind = a.kind;
	return rc;
}

/* Whether a local copy lives under prefix (open ones only, if asked). */
bool bmfs_local_under(struct bmfs *fs, const char *prefix, bool open_only)
{
	struct bmfs_wfile *wf;
	size_t plen = strlen(prefix);
	bool found = false;

	pthread_mutex_lock(&fs->lock);
	for (wf = fs->wfiles; wf && !found; wf = wf->next)
		found = !wf->unlinked && strncmp(wf->name, prefix, plen) == 0 &&
			(!open_only || wf->refs > 0);
	pthread_mutex_unlock(&fs->lock);
	return found;
}

/* ---- readdir ---- */

struct dir_entry {
	char *child;
	enum bmfs_kind kind;
	bool marker;
	uint64_t size;
	time_t mtime;
	char etag[BM_ETAG_MAX];
};

struct dir_ctx {
	struct bmfs *fs;
	const char *prefix; /* "" or "dir/" */
	struct dir_entry *v;
	size_t n, cap;
	bool oom;
};

static int dir_cb(const struct bm_blob_entry *e, void *ud)
{
	struct dir_ctx *x = ud;
	struct dir_entry *d;
	size_t plen = strlen(x->prefix), len;

	if (strncmp(e->name, x->prefix, plen) != 0)
		return 0;
	len = strlen(e->name + plen);
	if (e->is_prefix && len > 0)
		len--; /* "sub/" -> "sub" */
	if (len == 0)
		return 0; /* a blob named "dir/" itself, or "dir//" */
	if ((len == 1 || len == 2) && strncmp(e->name + plen, "..", len) == 0)
		return 0; /* "." and "..": the kernel's own entries already */
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 256;
		struct dir_entry *v = realloc(x->v, cap * sizeof(*v));

		if (!v) {
			x->oom = true;
			return 1;
		}
		x->v = v;
		x->cap = cap;
	}
	d = &x->v[x->n];
	memset(d, 0, sizeof(*d));
	d->child = strndup(e->name + plen, len);
	if (!d->child) {
		x->oom = true;
		return 1;
	}
	x->n++;
	d->marker = !e->is_prefix && e->is_dir_marker;
	d->kind = e->is_prefix || d->marker ? BMFS_DIR : BMFS_FILE;
	d->size = e->is_prefix ? 0 : e->size;
	d->mtime = e->is_prefix ? x->fs->mount_time : e->mtime;
	snprintf(d->etag, sizeof(d->etag), "%s", e->etag ? e->etag : "");
	return 0;
}

/* Directories before files of the same name, so duplicates are adjacent
 * and the directory comes first. */
static int dir_entry_cmp(const void *pa, const void *pb)
{
	const struct dir_entry *a = pa, *b = pb;
	int c = strcmp(a->child, b->child);

	if (c)
		return c;
	return (a->kind != BMFS_DIR) - (b->kind != BMFS_DIR);
}

/* Turns the entries into a listing and cache entries; fs->lock held. A
 * directory and a marker blob of the same name merge; a directory and a
 * plain blob of the same name both stay, the blob renamed with the
 * shadow suffix. */
static struct bmfs_listing *dir_commit(struct bmfs *fs, struct dir_ctx *x,
				       double now)
{
	struct bmfs_listing *l = bmfs_listing_new();
	size_t i;

	if (!l)
		return NULL;
	if (x->n) /* x->v is NULL for an empty directory */
		qsort(x->v, x->n, sizeof(*x->v), dir_entry_cmp);
	for (i = 0; i < x->n; i++) {
		struct dir_entry *d = &x->v[i];
		struct bmfs_attr a = {.kind = d->kind,
				      .size = d->size,
				      .mtime = d->mtime,
				      .marker = d->marker};
		bool same = i > 0 && strcmp(x->v[i - 1].child, d->child) == 0;
		char *shown = NULL, *key = NULL, *blob = NULL;
		int rc = -1;

		if (same && d->kind == BMFS_DIR)
			continue; /* the prefix and the marker of one dir */
		if (same) {
			if (asprintf(&shown, "%s%s", d->child,
				     BMFS_SHADOW_SUFFIX) < 0 ||
			    asprintf(&blob, "%s%s", x->prefix, d->child) < 0)
				goto next;
		}
		if (asprintf(&key, "%s%s", x->prefix,
			     shown ? shown : d->child) < 0)
			goto next;
		if (bmfs_listing_add(l, shown ? shown : d->child, d->kind,
				     d->size, d->mtime) != 0)
			goto next;
		memcpy(a.etag, d->etag, sizeof(a.etag));
		a.blob = blob;
		bmfs_note_attr(fs, key, &a, now);
		rc = 0;
	next:
		free(shown);
		free(key);
		free(blob);
		if (rc) {
			bmfs_listing_free(l);
			return NULL;
		}
	}
	return l;
}

/* Local files of dir that the service does not list yet. fs->lock held. */
static void dir_add_local(struct bmfs *fs, const char *dir)
{
	struct bmfs_wfile *wf;

	for (wf = fs->wfiles; wf; wf = wf->next) {
		char *wdir;
		const char *base;

		if (wf->unlinked || bmfs_split(wf->name, &wdir, &base) != 0)
			continue;
		if (strcmp(wdir, dir) == 0 &&
		    bmfs_cache_listing_add(fs->cache, dir, base, BMFS_FILE))
			bm_warn("cache: out of memory for '%s'", wf->name);
		free(wdir);
	}
}

/* Makes a complete listing of dir (x) its cached listing and primes the
 * attributes of its entries. fs->lock held. 0 or -ENOMEM. */
static int dir_store(struct bmfs *fs, const char *dir, struct dir_ctx *x,
		     double now)
{
	struct bmfs_listing *l = dir_commit(fs, x, now);

	if (!l)
		return -ENOMEM;
	bmfs_cache_set_listing(fs->cache, dir, l, now + fs->opt.entry_timeout);
	dir_add_local(fs, dir);
	return 0;
}

/*
 * Drops from the first page of a listing the files whose kind a later
 * page could change: a blob NAME is shadowed by a directory NAME/, which
 * sorts after NAME and after every name extending NAME with a character
 * below '/', so it may lie past the page. Entries arrive in name order;
 * the last one bounds what the page has seen.
 */
static void dir_trim_partial(struct dir_ctx *x)
{
	const struct dir_entry *last;
	char *bound;
	size_t i, kept = 0;

	if (!x->n)
		return;
	last = &x->v[x->n - 1];
	if (asprintf(&bound, "%s%s", last->child,
		     last->kind == BMFS_DIR && !last->marker ? "/" : "") < 0) {
		x->oom = true;
		return;
	}
	for (i = 0; i < x->n; i++) {
		struct dir_entry *d = &x->v[i];
		size_t len = strlen(d->child);
		int c = strncmp(d->child, bound, len);

		/* c compares CHILD + "/" with the bound. */
		if (c == 0)
			c = strcmp("/", bound + len);
		if (d->kind == BMFS_FILE && c > 0)
			free(d->child);
		else
			x->v[kept++] = *d;
	}
	x->n = kept;
	free(bound);
}

struct fill_ctx {
	struct bmfs *fs;
	const char *dir;
	double now;
	bmfs_fill_fn fill;
	void *ud;
};

/* One entry of a listing, with the attributes a stat would give now: a
 * local copy's or the cache's when they know the name as the listing
 * does (a listing keeps no size or time for what the mount added to it,
 * and readdirplus hands these to the kernel as the entry's attributes).
 * Not lookup_local: its fallback searches the listing, once per entry.
 * fs->lock held. */
static int fill_child(void *ud, const char *child, enum bmfs_kind kind,
		      uint64_t size, time_t mtime)
{
	struct fill_ctx *f = ud;
	struct bmfs_attr a;
	struct stat st;
	char *key;

	if (asprintf(&key, "%s%s%s", f->dir, *f->dir ? "/" : "", child) < 0)
		return -ENOMEM;
	if (bmfs_known_attr(f->fs, key, &a, f->now) && a.kind == kind) {
		size = a.size;
		mtime = a.mtime;
	}
	free(key);
	bmfs_fill_stat(f->fs, kind, size, mtime, &st);
	return f->fill(f->ud, child, &st);
}

static void dir_ctx_release(struct dir_ctx *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		free(x->v[i].child);
	free(x->v);
}

int bmfs_readdir(struct bmfs *fs, const char *path, bmfs_fill_fn fill, void *ud)
{
	const char *name = bmfs_name(path);
	struct fill_ctx f = {.fs = fs, .dir = name, .fill = fill, .ud = ud};
	struct dir_ctx x = {.fs = fs};
	struct bm_list_opts o = {0};
	enum bmfs_kind kind;
	struct bm_error err;
	char *prefix = NULL;
	double now;
	int rc;

	rc = bmfs_lookup_kind(fs, name, &kind);
	if (rc)
		return rc;
	if (kind != BMFS_DIR)
		return -ENOTDIR;
	pthread_mutex_lock(&fs->lock);
	f.now = bmfs_now(fs);
	rc = bmfs_cache_listing_each(fs->cache, name, f.now, fill_child, &f);
	pthread_mutex_unlock(&fs->lock);
	if (rc != -1)
		return 0;

	prefix = bmfs_dir_prefix(name);
	if (!prefix)
		return -ENOMEM;
	x.prefix = prefix;
	o.prefix = prefix;
	o.delimiter = "/";
	o.include_metadata = true;
	bm_error_clear(&err);
	now = bmfs_now(fs);
	if (bm_blob_list_all(fs->client, fs->container, &o, dir_cb, &x, &err) !=
		0 &&
	    !x.oom) {
		rc = -bmfs_errno(BMFS_OP_READDIR, name, &err);
		goto out;
	}
	if (x.oom) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	rc = dir_store(fs, name, &x, now);
	if (rc == 0) {
		/* Served from the listing just made even when entry_timeout
		 * is 0: pass a time before its expiry. */
		f.now = now;
		rc = bmfs_cache_listing_each(fs->cache, name, now - 1,
					     fill_child, &f);
		rc = rc == -1 ? -EIO : 0;
	}
	pthread_mutex_unlock(&fs->lock);
out:
	dir_ctx_release(&x);
	free(prefix);
	return rc;
}

int bmfs_check_root(struct bmfs *fs, struct bm_error *err)
{
	struct dir_ctx x = {.fs = fs, .prefix = ""};
	struct bm_list_opts o = {0};
	char *next = NULL;
	double now = bmfs_now(fs);
	int rc;

	o.delimiter = "/";
	o.include_metadata = true;
	rc = fs->client->ops->list_page(fs->client, fs->container, &o, dir_cb,
					&x, &next, err);
	if (rc == 0 && next)
		dir_trim_partial(&x);
	if (x.oom)
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	if (rc != 0 || x.oom) {
		bm_error_prefix(err, "cannot access container '%.80s'",
				fs->container);
		rc = -1;
		goto out;
	}
	pthread_mutex_lock(&fs->lock);
	if (next) {
		/* A partial page: its entries' attributes only. */
		bmfs_listing_free(dir_commit(fs, &x, now));
	} else if (dir_store(fs, "", &x, now) != 0) {
		bm_warn("cache: out of memory for the root listing");
	}
	pthread_mutex_unlock(&fs->lock);
out:
	dir_ctx_release(&x);
	free(next);
	return rc;
}

/* ---- children ---- */

/* Whether anything lives under NAME/, remotely or as a local file.
 * 1 yes, 0 no, -errno. */
int bmfs_dir_has_children(struct bmfs *fs, const char *name, enum bmfs_op op)
{
	struct dir_ctx x = {.fs = fs};
	struct bm_list_opts o = {0};
	struct bm_error err;
	char *prefix = bmfs_dir_prefix(name), *next = NULL;
	int rc = 0;

	if (!prefix)
		return -ENOMEM;
	if (bmfs_local_under(fs, prefix, false)) {
		rc = 1;
		goto out;
	}
	x.prefix = prefix;
	o.prefix = prefix;
	o.delimiter = "/";
	o.max_results = 2; /* "NAME/" itself may be a blob */
	bm_error_clear(&err);
	if (fs->client->ops->list_page(fs->client, fs->container, &o, dir_cb,
				       &x, &next, &err) != 0) {
		rc = x.oom ? -ENOMEM : -bmfs_errno(op, name, &err);
		goto out;
	}
	/* A page with nothing but a "NAME/" blob and more after it counts
	 * as not empty. */
	rc = x.n > 0 || next;
out:
	free(next);
	dir_ctx_release(&x);
	free(prefix);
	return rc;
}
