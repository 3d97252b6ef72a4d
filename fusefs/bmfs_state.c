/*
 * bmfs_state: the mount's shared state, as every other module sees it
 * (the interface in bmfs_mount.h): the clock, names, the stat of an
 * entry, the attributes of one name (the cache, a local copy, or one List
 * request), what the cache is told after the mount changed a name, and
 * the lookup in the table of local copies. Also the options' defaults and
 * the mount's counters (statfs, the stats xattr). Calls none of the
 * modules that use it (bmfs_read.c, bmfs_write.c, bmfs_fcache.c, ...):
 * those reach the mount through this file alone.
 *
 * Request cost of a stat, by design (the tests count it): 0 for a name
 * the cache knows (positive within attr_timeout, negative within
 * negative_timeout, or absent from a listing of its directory younger
 * than entry_timeout); else 1 List request (prefix=NAME, delimiter=/),
 * which tells a file, a directory (prefix or hdi_isfolder marker) and a
 * missing name apart, and sees a blob shadowed by a directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm_log.h"
#include "bmfs_int.h"
#include "bmfs_mount.h"

/* Lookup listings ask for this many entries: the exact name, and "NAME/",
 * come after the siblings that extend NAME with a character below '/'
 * ("NAME.txt", "NAME-1"), of which there are usually few. */
#define LOOKUP_PAGE 100

double bmfs_now(struct bmfs *fs)
{
	return fs->clock(fs->clock_ud);
}

void bmfs_options_init(struct bmfs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->attr_timeout = 1.0;
	o->entry_timeout = 1.0;
	o->negative_timeout = 0.0;
	o->block_size_mb = 8;
	o->max_concurrency = 8;
	o->file_cache_timeout = 120;
	o->retry_interval = 30;
	o->readahead_blocks = -1;
}

void bmfs_options_release(struct bmfs_options *o)
{
	free(o->tmp_path);
	o->tmp_path = NULL;
}

const char *bmfs_name(const char *path)
{
	while (*path == '/')
		path++;
	return path;
}

int bmfs_split(const char *name, char **dir, const char **base)
{
	const char *slash = strrchr(name, '/');

	*dir = slash ? strndup(name, (size_t)(slash - name)) : strdup("");
	*base = slash ? slash + 1 : name;
	return *dir ? 0 : -1;
}

char *bmfs_dir_prefix(const char *name)
{
	char *p;

	if (!*name)
		return strdup("");
	if (asprintf(&p, "%s/", name) < 0)
		return NULL;
	return p;
}

void bmfs_fill_stat(struct bmfs *fs, enum bmfs_kind kind, uint64_t size,
		    time_t mtime, struct stat *st)
{
	mode_t w = fs->opt.read_only ? 0 : 0200;
	mode_t perm = fs->opt.default_permission & 07777;

	/* Unless configured, modes show who may do what: the owner only (no
	 * allow_other: the kernel lets no one else in), or everyone
	 * (allow_other without default_permissions: the kernel checks
	 * nothing). With default_permissions, libfuse's -o uid=,gid=,umask=
	 * set what the kernel then enforces. */
	if (!perm && fs->opt.open_to_all)
		perm = 0777;
	/* A read-only mount shows no write bit, whatever the permission. */
	if (perm && fs->opt.read_only)
		perm &= ~(mode_t)0222;
	memset(st, 0, sizeof(*st));
	if (kind == BMFS_DIR) {
		st->st_mode = S_IFDIR | (perm ? perm : 0555 | w);
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | (perm ? perm : 0444 | w);
		st->st_nlink = 1;
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
	}
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

/* ---- cache updates ---- */

void bmfs_note_attr(struct bmfs *fs, const char *name,
		    const struct bmfs_attr *a, double now)
{
	double ttl = a->kind == BMFS_ABSENT ? fs->opt.negative_timeout
					    : fs->opt.attr_timeout;

	if (bmfs_cache_put(fs->cache, name, a, now + ttl) != 0)
		bm_warn("cache: out of memory for '%s'", name);
}

/* Adds or removes name in its parent's listing. fs->lock held. */
static void listing_update(struct bmfs *fs, const char *name,
			   enum bmfs_kind kind)
{
	char *dir;
	const char *base;

	if (!*name || bmfs_split(name, &dir, &base) != 0)
		return;
	if (kind == BMFS_ABSENT)
		bmfs_cache_listing_remove(fs->cache, dir, base);
	else if (bmfs_cache_listing_add(fs->cache, dir, base, kind) != 0)
		bmfs_cache_listing_drop(fs->cache, dir);
	free(dir);
}

void bmfs_note_file(struct bmfs *fs, const char *name, uint64_t size,
		    time_t mtime, const char *etag)
{
	struct bmfs_attr a = {.kind = BMFS_FILE, .size = size, .mtime = mtime};

	snprintf(a.etag, sizeof(a.etag), "%s", etag ? etag : "");
	pthread_mutex_lock(&fs->lock);
	bmfs_note_attr(fs, name, &a, bmfs_now(fs));
	listing_update(fs, name, BMFS_FILE);
	pthread_mutex_unlock(&fs->lock);
}

void bmfs_note_absent(struct bmfs *fs, const char *name)
{
	struct bmfs_attr a = {.kind = BMFS_ABSENT};

	pthread_mutex_lock(&fs->lock);
	bmfs_note_attr(fs, name, &a, bmfs_now(fs));
	bmfs_cache_listing_drop(fs->cache, name);
	listing_update(fs, name, BMFS_ABSENT);
	pthread_mutex_unlock(&fs->lock);
}

void bmfs_note_dir(struct bmfs *fs, const char *name, bool marker, bool empty)
{
	struct bmfs_attr a = {.kind = BMFS_DIR, .marker = marker};
	double now;

	a.mtime = time(NULL);
	pthread_mutex_lock(&fs->lock);
	now = bmfs_now(fs);
	bmfs_note_attr(fs, name, &a, now);
	if (empty) {
		/* A new directory is known to be empty: lookups inside it
		 * cost nothing until entry_timeout. */
		struct bmfs_listing *l = bmfs_listing_new();

		if (l)
			bmfs_cache_set_listing(fs->cache, name, l,
					       now + fs->opt.entry_timeout);
	}
	listing_update(fs, name, BMFS_DIR);
	pthread_mutex_unlock(&fs->lock);
}

void bmfs_forget_attrs(struct bmfs *fs, const char *name)
{
	char *dir;
	const char *base;

	bmfs_cache_forget(fs->cache, name);
	if (bmfs_split(name, &dir, &base) == 0) {
		bmfs_cache_listing_drop(fs->cache, dir);
		free(dir);
	}
}

/* ---- the attributes of one name ---- */

struct bmfs_wfile *bmfs_wfile_find(struct bmfs *fs, const char *name)
{
	struct bmfs_wfile *wf;

	for (wf = fs->wfiles; wf; wf = wf->next)
		if (strcmp(wf->name, name) == 0)
			return wf;
	return NULL;
}

struct lookup_ctx {
	const char *name;
	char *slashed; /* NAME + "/" */
	bool blob;     /* a blob named exactly NAME */
	bool marker;   /* ... with hdi_isfolder=true */
	bool prefix;   /* blobs under NAME/ */
	bool past;     /* the listing went past NAME/ */
	uint64_t size;
	time_t mtime;
	char etag[BM_ETAG_MAX];
};

static int lookup_cb(const struct bm_blob_entry *e, void *ud)
{
	struct lookup_ctx *x = ud;

	if (e->is_prefix && strcmp(e->name, x->slashed) == 0) {
		x->prefix = true;
	} else if (!e->is_prefix && strcmp(e->name, x->name) == 0) {
		x->blob = true;
		x->marker = e->is_dir_marker;
		x->size = e->size;
		x->mtime = e->mtime;
		snprintf(x->etag, sizeof(x->etag), "%s", e->etag);
	} else if (strcmp(e->name, x->slashed) > 0) {
		x->past = true;
	}
	return 0;
}

/* One List request (rarely more) that tells what NAME is. */
static int remote_lookup(struct bmfs *fs, struct lookup_ctx *x,
			 struct bm_error *err)
{
	struct bm_list_opts o = {0};
	char *marker = NULL;
	int rc;

	o.prefix = x->name;
	o.delimiter = "/";
	o.max_results = LOOKUP_PAGE;
	o.include_metadata = true;
	do {
		char *next = NULL;

		o.marker = marker;
		rc = fs->client->ops->list_page(fs->client, fs->container, &o,
						lookup_cb, x, &next, err);
		free(marker);
		marker = next;
	} while (rc == 0 && marker && !x->prefix && !x->past);
	free(marker);
	return rc;
}

/* Whether name ends in the shadow suffix; *len is the name without it. */
static bool shadow_name(const char *name, size_t *len)
{
	size_t n = strlen(name), s = strlen(BMFS_SHADOW_SUFFIX);

	if (n <= s || strcmp(name + n - s, BMFS_SHADOW_SUFFIX) != 0)
		return false;
	*len = n - s;
	return name[*len - 1] != '/';
}

/* Fills *a from a listing context. */
static void lookup_result(struct bmfs *fs, const struct lookup_ctx *x,
			  struct bmfs_attr *a)
{
	memset(a, 0, sizeof(*a));
	if (x->marker || x->prefix) {
		a->kind = BMFS_DIR;
		a->marker = x->marker;
		a->mtime = x->marker ? x->mtime : fs->mount_time;
	} else if (x->blob) {
		a->kind = BMFS_FILE;
		a->size = x->size;
		a->mtime = x->mtime;
		memcpy(a->etag, x->etag, sizeof(a->etag));
	}
}

static int lookup_uncached(struct bmfs *fs, const char *name,
			   struct bmfs_attr *a, struct bm_error *err)
{
	struct lookup_ctx x = {.name = name};
	size_t len;
	int rc;

	if (asprintf(&x.slashed, "%s/", name) < 0) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	rc = remote_lookup(fs, &x, err);
	if (rc == 0)
		lookup_result(fs, &x, a);
	free(x.slashed);
	if (rc == 0 && a->kind == BMFS_ABSENT && shadow_name(name, &len)) {
		/* NAME.blobmill-blob: the blob NAME when a directory NAME
		 * shadows it. */
		struct lookup_ctx y = {0};
		char *real = strndup(name, len);

		if (!real || asprintf(&y.slashed, "%s/", real) < 0) {
			free(real);
			bm_error_set(err, BM_ERR_NOMEM, "out of memory");
			return -1;
		}
		y.name = real;
		rc = remote_lookup(fs, &y, err);
		if (rc == 0 && y.blob && !y.marker && y.prefix) {
			a->kind = BMFS_FILE;
			a->size = y.size;
			a->mtime = y.mtime;
			memcpy(a->etag, y.etag, sizeof(a->etag));
			a->blob = real;
			real = NULL;
		}
		free(real);
		free(y.slashed);
	}
	return rc;
}

/* What a stat of name shows without asking anyone: its local copy, else
 * its cache entry. 1 with *a set (a->blob borrowed), else 0. fs->lock
 * held. */
int bmfs_known_attr(struct bmfs *fs, const char *name, struct bmfs_attr *a,
		    double now)
{
	struct bmfs_wfile *wf = bmfs_wfile_find(fs, name);

	if (wf) {
		memset(a, 0, sizeof(*a));
		a->kind = BMFS_FILE;
		a->size = wf->size;
		a->mtime = wf->mtime;
		return 1;
	}
	return bmfs_cache_get(fs->cache, name, now, a);
}

/* From the cache, the local copies or a listing; fs->lock held. 1 when
 * answered (*a set, a->blob borrowed), 0 when a request is needed. */
static int lookup_local(struct bmfs *fs, const char *name, struct bmfs_attr *a,
			double now)
{
	char *dir;
	const char *base;
	bool present = true, listed;

	if (bmfs_known_attr(fs, name, a, now))
		return 1;
	if (bmfs_split(name, &dir, &base) != 0)
		return 0;
	listed = bmfs_cache_listing_has(fs->cache, dir, base, now, &present);
	free(dir);
	if (listed && !present) {
		memset(a, 0, sizeof(*a));
		return 1;
	}
	return 0;
}

int bmfs_lookup(struct bmfs *fs, const char *name, struct bmfs_attr *out)
{
	struct bm_error err;
	double now;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!*name) {
		out->kind = BMFS_DIR;
		out->mtime = fs->mount_time;
		return 0;
	}
	pthread_mutex_lock(&fs->lock);
	now = bmfs_now(fs);
	rc = lookup_local(fs, name, out, now);
	if (rc == 1 && out->blob) {
		out->blob = strdup(out->blob);
		if (!out->blob)
			rc = -1;
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc == -1)
		return -ENOMEM;
	if (rc == 0) {
		bm_error_clear(&err);
		if (lookup_uncached(fs, name, out, &err) != 0)
			return -bmfs_errno(BMFS_OP_LOOKUP, name, &err);
		pthread_mutex_lock(&fs->lock);
		bmfs_note_attr(fs, name, out, now);
		pthread_mutex_unlock(&fs->lock);
	}
	return out->kind == BMFS_ABSENT ? -ENOENT : 0;
}

/* ---- statfs, xattr ---- */

int bmfs_statfs(struct bmfs *fs, struct statvfs *st)
{
	(void)fs;
	/* A container has no capacity to report: say "large and empty" so
	 * tools that check free space go ahead. */
	memset(st, 0, sizeof(*st));
	st->f_bsize = 4096;
	st->f_frsize = 4096;
	st->f_blocks = (fsblkcnt_t)1 << 38; /* 1 PiB */
	st->f_bfree = st->f_blocks;
	st->f_bavail = st->f_blocks;
	st->f_files = (fsfilcnt_t)1 << 32;
	st->f_ffree = st->f_files;
	st->f_favail = st->f_files;
	st->f_namemax = 255;
	return 0;
}

int bmfs_getxattr(struct bmfs *fs, const char *path, const char *name,
		  char *buf, size_t size)
{
	struct bm_http_stats s;
	char line[512];
	int len;

	/* No other attribute exists, and ENOTSUP (not ENODATA) says so: ls
	 * -l then stops asking for ACLs and labels after the first file,
	 * instead of a round trip per file and attribute. */
	if (*bmfs_name(path) || strcmp(name, BMFS_XATTR_STATS) != 0)
		return -ENOTSUP;
	memset(&s, 0, sizeof(s));
	fs->client->ops->get_stats(fs->client, &s);
	len = bm_http_stats_format(&s, line, sizeof(line));
	if (len < 0 || (size_t)len >= sizeof(line))
		return -EIO;
	if (size == 0)
		return len;
	if ((size_t)len > size)
		return -ERANGE;
	memcpy(buf, line, (size_t)len);
	return len;
}

int bmfs_listxattr(struct bmfs *fs, const char *path, char *buf, size_t size)
{
	size_t len = sizeof(BMFS_XATTR_STATS); /* with the NUL */

	(void)fs;
	if (*bmfs_name(path))
		return 0;
	if (size == 0)
		return (int)len;
	if (len > size)
		return -ERANGE;
	memcpy(buf, BMFS_XATTR_STATS, len);
	return (int)len;
}
