/*
 * bmfs: the namespace side of the filesystem: lifecycle, lookup/stat,
 * readdir, mkdir, rmdir, unlink, rename, statfs, the stats xattr.
 * Open files (reads, writes, uploads) are in bmfs_write.c and bmfs_read.c.
 *
 * Request costs, by design (the tests count them):
 *   - the mount-time check (bmfs_check_root): 1 List request of the top
 *     level, kept as the root's listing when it fits in one page;
 *   - stat of a name the cache knows (positive within attr_timeout,
 *     negative within negative_timeout, or absent from a listing of its
 *     directory younger than entry_timeout): 0 requests;
 *   - stat of an unknown name: 1 List request (prefix=NAME, delimiter=/),
 *     which tells a file, a directory (prefix or hdi_isfolder marker) and
 *     a missing name apart, and sees a blob shadowed by a directory;
 *   - readdir: ceil(N/5000) List requests, which also fill the attributes
 *     of every entry, so `ls -l` costs nothing per file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"

/* Lookup listings ask for this many entries: the exact name, and "NAME/",
 * come after the siblings that extend NAME with a character below '/'
 * ("NAME.txt", "NAME-1"), of which there are usually few. */
#define LOOKUP_PAGE 100

static double mono_clock(void *ud)
{
	struct timespec ts;

	(void)ud;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

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

/* ---- lifecycle ---- */

/* A condition whose timed waits use CLOCK_MONOTONIC (immune to clock
 * changes). */
static void init_monotonic_cond(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

struct bmfs *bmfs_new(struct bm_blob_client *client, const char *container,
		      const struct bmfs_options *opt, struct bm_error *err)
{
	struct bmfs *fs = calloc(1, sizeof(*fs));

	if (!fs) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		bm_blob_client_free(client);
		return NULL;
	}
	fs->client = client;
	fs->opt = *opt;
	fs->opt.tmp_path = opt->tmp_path ? strdup(opt->tmp_path) : NULL;
	fs->container = strdup(container);
	fs->clock = mono_clock;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->mount_time = time(NULL);
	pthread_mutex_init(&fs->lock, NULL);
	init_monotonic_cond(&fs->retry_cond);
	fs->cache = bmfs_cache_new();
	fs->rbudget = bmfs_rbudget_new(
	    fs->opt.read_budget_mb ? (uint64_t)fs->opt.read_budget_mb << 20
				   : 0);
	if (!fs->container || !fs->cache || !fs->rbudget || !fs->opt.tmp_path) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (fs->opt.block_size_mb == 0 || fs->opt.max_concurrency == 0) {
		bm_error_set(err, BM_ERR_INVALID,
			     "block size and concurrency must be positive");
		goto fail;
	}
	if (bmfs_tmp_init(fs, err) != 0 || bmfs_fcache_init(fs, err) != 0)
		goto fail;
	/* Before anything is served: a name with a pending upload must show
	 * its local content, and a new write must continue it. */
	bmfs_tmp_scan(fs, bmfs_wfile_recovered);
	return fs;
fail:
	bmfs_free(fs);
	return NULL;
}

/* Every retry_interval, queues the upload of each local copy whose upload
 * failed and that no handle holds: "kept until uploaded" while mounted,
 * not only at the next flush or start. */
static void *retry_main(void *ud)
{
	struct bmfs *fs = ud;
	struct timespec ts;
	double at;

	pthread_mutex_lock(&fs->lock);
	while (!fs->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		at = (double)ts.tv_nsec / 1e9 + fs->opt.retry_interval;
		ts.tv_sec += (time_t)at;
		ts.tv_nsec = (long)((at - (double)(time_t)at) * 1e9);
		pthread_cond_timedwait(&fs->retry_cond, &fs->lock, &ts);
		if (fs->stopping)
			break;
		pthread_mutex_unlock(&fs->lock);
		bmfs_wfile_retry_all(fs);
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

int bmfs_start(struct bmfs *fs)
{
	fs->pool = bmfs_pool_new(fs->opt.max_concurrency + 2);
	if (!fs->pool)
		return -1;
	bmfs_wfile_retry_all(fs);
	fs->retry_started =
	    pthread_create(&fs->retry_thread, NULL, retry_main, fs) == 0;
	if (!fs->retry_started)
		bm_warn("cannot start the upload retry thread: failed uploads "
			"are retried at the next flush or mount only");
	return 0;
}

void bmfs_free(struct bmfs *fs)
{
	if (!fs)
		return;
	if (fs->retry_started) {
		pthread_mutex_lock(&fs->lock);
		fs->stopping = true;
		pthread_cond_signal(&fs->retry_cond);
		pthread_mutex_unlock(&fs->lock);
		pthread_join(fs->retry_thread, NULL);
	}
	/* Jobs next: they use wfiles and the client. */
	bmfs_pool_free(fs->pool);
	bmfs_wfile_free_all(fs);
	bmfs_fcache_free(fs);
	bmfs_kcache_free(fs);
	bmfs_rbudget_free(fs->rbudget);
	bmfs_cache_free(fs->cache);
	if (!fs->client_borrowed)
		bm_blob_client_free(fs->client);
	pthread_mutex_destroy(&fs->lock);
	pthread_cond_destroy(&fs->retry_cond);
	bmfs_options_release(&fs->opt);
	free(fs->container);
	free(fs->files_dir);
	free(fs->cache_dir);
	free(fs);
}

/* ---- cache updates ---- */

static void put_attr(struct bmfs *fs, const char *name,
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
	put_attr(fs, name, &a, bmfs_now(fs));
	listing_update(fs, name, BMFS_FILE);
	pthread_mutex_unlock(&fs->lock);
}

void bmfs_note_absent(struct bmfs *fs, const char *name)
{
	struct bmfs_attr a = {.kind = BMFS_ABSENT};

	pthread_mutex_lock(&fs->lock);
	put_attr(fs, name, &a, bmfs_now(fs));
	bmfs_cache_listing_drop(fs->cache, name);
	listing_update(fs, name, BMFS_ABSENT);
	pthread_mutex_unlock(&fs->lock);
}

static void note_dir(struct bmfs *fs, const char *name, bool marker, bool empty)
{
	struct bmfs_attr a = {.kind = BMFS_DIR, .marker = marker};
	double now;

	a.mtime = time(NULL);
	pthread_mutex_lock(&fs->lock);
	now = bmfs_now(fs);
	put_attr(fs, name, &a, now);
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

/* ---- lookup ---- */

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

/* From the cache, the local copies or a listing; fs->lock held. 1 when
 * answered (*a set, a->blob borrowed), 0 when a request is needed. */
/* What a stat of name shows without asking anyone: its local copy, else
 * its cache entry. 1 with *a set (a->blob borrowed), else 0. fs->lock
 * held. */
static int known_attr(struct bmfs *fs, const char *name, struct bmfs_attr *a,
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

static int lookup_local(struct bmfs *fs, const char *name, struct bmfs_attr *a,
			double now)
{
	char *dir;
	const char *base;
	bool present = true, listed;

	if (known_attr(fs, name, a, now))
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
		put_attr(fs, name, out, now);
		pthread_mutex_unlock(&fs->lock);
	}
	return out->kind == BMFS_ABSENT ? -ENOENT : 0;
}

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
static int lookup_kind(struct bmfs *fs, const char *name, enum bmfs_kind *kind)
{
	struct bmfs_attr a;
	int rc = bmfs_lookup(fs, name, &a);

	free(a.blob);
	*kind = a.kind;
	return rc;
}

/* Whether a local copy lives under prefix (open ones only, if asked). */
static bool local_under(struct bmfs *fs, const char *prefix, bool open_only)
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
		put_attr(fs, key, &a, now);
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
	if (known_attr(f->fs, key, &a, f->now) && a.kind == kind) {
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

	rc = lookup_kind(fs, name, &kind);
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
	rc = lookup_kind(fs, name, &kind);
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
	note_dir(fs, name, true, true);
	return 0;
}

/* Whether anything lives under NAME/, remotely or as a local file.
 * 1 yes, 0 no, -errno. */
static int dir_has_children(struct bmfs *fs, const char *name, enum bmfs_op op)
{
	struct dir_ctx x = {.fs = fs};
	struct bm_list_opts o = {0};
	struct bm_error err;
	char *prefix = bmfs_dir_prefix(name), *next = NULL;
	int rc = 0;

	if (!prefix)
		return -ENOMEM;
	if (local_under(fs, prefix, false)) {
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
	rc = lookup_kind(fs, name, &kind);
	if (rc)
		return rc;
	if (kind != BMFS_DIR)
		return -ENOTDIR;
	rc = dir_has_children(fs, name, BMFS_OP_RMDIR);
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
	if (local_under(fs, prefix, true))
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
		note_dir(fs, to, a->marker, false);
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
		rc = dir_has_children(fs, to, BMFS_OP_RENAME);
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
