/*
 * bmfs_fcache: the whole-file cache under TMP/blobmill/cache, so a file
 * that is reread, or read after being written through the mount, costs no
 * request while its cached copy is fresh.
 *
 * An entry is a complete copy of blob NAME at ETag E. It is made from a
 * local copy whose upload succeeded (the copy is renamed in, not copied)
 * or from a read of a blob no larger than one block that received all of
 * it (bmfs_read.c tees it into a cache file; larger blobs rely on the
 * kernel's page cache, bmfs_kcache.c). It is used by a read-only open only when
 * the ETag the filesystem currently believes (attribute cache, listing or
 * lookup, so within attr_timeout) equals E, and only within
 * --file-cache-timeout-in-seconds of its last use. The entries' total size
 * stays under --cache-size-mb (default: 80% of the space free on the
 * tmp-path's filesystem at mount), least recently used evicted first.
 *
 * Entries live in memory only: the cache directory is emptied at start.
 * An evicted or replaced entry's file is unlinked at once; readers that
 * have it open keep reading it (POSIX unlink semantics).
 * Everything here runs under fs->lock except the file removals noted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm_log.h"
#include "bmfs_int.h"
#include "bmfs_mount.h"

struct bmfs_cfile {
	struct bmfs_cfile *next;
	char *name;
	char etag[BM_ETAG_MAX];
	char *path;
	uint64_t size;
	double last_use;
};

static bool fcache_on(struct bmfs *fs)
{
	return fs->opt.file_cache_timeout > 0 && fs->cache_limit > 0;
}

int bmfs_fcache_init(struct bmfs *fs, struct bm_error *err)
{
	DIR *d = opendir(fs->cache_dir);
	struct dirent *de;
	struct statvfs sv;

	if (!d) {
		bm_error_set(err, BM_ERR_IO, "cannot open '%s': %s",
			     fs->cache_dir, strerror(errno));
		return -1;
	}
	/* Entries are not kept across mounts: start empty. */
	while ((de = readdir(d)))
		if (de->d_name[0] == 'c')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	if (fs->opt.cache_size_mb)
		fs->cache_limit = (uint64_t)fs->opt.cache_size_mb << 20;
	else if (statvfs(fs->cache_dir, &sv) == 0)
		fs->cache_limit = (uint64_t)sv.f_bavail * sv.f_frsize / 5 * 4;
	return 0;
}

static void cfile_free(struct bmfs_cfile *c)
{
	free(c->name);
	free(c->path);
	free(c);
}

/* Unlinks entry *p from the list, removes its file. fs->lock held. */
static void drop(struct bmfs *fs, struct bmfs_cfile **p)
{
	struct bmfs_cfile *c = *p;

	*p = c->next;
	fs->cache_bytes -= c->size;
	if (unlink(c->path) != 0 && errno != ENOENT)
		bm_warn("cannot remove '%s': %s", c->path, strerror(errno));
	cfile_free(c);
}

/* Drops expired entries, then the least recently used until `need` more
 * bytes fit. fs->lock held. */
static void make_room(struct bmfs *fs, uint64_t need, double now)
{
	struct bmfs_cfile **p, **lru;

	for (p = &fs->cfiles; *p;) {
		if ((*p)->last_use + fs->opt.file_cache_timeout <= now)
			drop(fs, p);
		else
			p = &(*p)->next;
	}
	while (fs->cfiles && fs->cache_bytes + need > fs->cache_limit) {
		lru = &fs->cfiles;
		for (p = &fs->cfiles; *p; p = &(*p)->next)
			if ((*p)->last_use < (*lru)->last_use)
				lru = p;
		drop(fs, lru);
	}
}

int bmfs_fcache_open(struct bmfs *fs, const char *name, const char *etag)
{
	struct bmfs_cfile **p;
	double now;
	int fd = -1;

	if (!etag || !*etag)
		return -1;
	pthread_mutex_lock(&fs->lock);
	now = bmfs_now(fs);
	for (p = &fs->cfiles; *p; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0)
			break;
	if (*p && (strcmp((*p)->etag, etag) != 0 ||
		   (*p)->last_use + fs->opt.file_cache_timeout <= now)) {
		drop(fs, p); /* another version, or stale */
	} else if (*p) {
		fd = open((*p)->path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			(*p)->last_use = now;
		else
			drop(fs, p);
	}
	pthread_mutex_unlock(&fs->lock);
	return fd;
}

char *bmfs_fcache_newpath(struct bmfs *fs, uint64_t size)
{
	char *path = NULL;

	if (!fcache_on(fs) || size > fs->cache_limit)
		return NULL;
	pthread_mutex_lock(&fs->lock);
	if (asprintf(&path, "%s/c%llu", fs->cache_dir,
		     (unsigned long long)++fs->next_local_id) < 0)
		path = NULL;
	pthread_mutex_unlock(&fs->lock);
	return path;
}

void bmfs_fcache_adopt(struct bmfs *fs, const char *name, const char *etag,
		       const char *path, uint64_t size)
{
	struct bmfs_cfile *c = NULL, **p;
	char *dst = NULL;
	bool ours = strncmp(path, fs->cache_dir, strlen(fs->cache_dir)) == 0;

	if (!fcache_on(fs) || !etag || !*etag || size > fs->cache_limit)
		goto discard;
	dst = ours ? strdup(path) : bmfs_fcache_newpath(fs, size);
	c = calloc(1, sizeof(*c));
	if (!dst || !c || !(c->name = strdup(name)))
		goto discard;
	if (!ours && rename(path, dst) != 0) {
		bm_warn("cannot move '%s' into the file cache: %s", path,
			strerror(errno));
		goto discard;
	}
	snprintf(c->etag, sizeof(c->etag), "%s", etag);
	c->path = dst;
	c->size = size;
	pthread_mutex_lock(&fs->lock);
	c->last_use = bmfs_now(fs);
	for (p = &fs->cfiles; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			drop(fs, p);
			break;
		}
	}
	make_room(fs, size, c->last_use);
	c->next = fs->cfiles;
	fs->cfiles = c;
	fs->cache_bytes += size;
	pthread_mutex_unlock(&fs->lock);
	return;
discard:
	if (unlink(path) != 0 && errno != ENOENT)
		bm_warn("cannot remove '%s': %s", path, strerror(errno));
	if (c)
		free(c->name);
	free(c);
	free(dst);
}

void bmfs_fcache_forget(struct bmfs *fs, const char *name, bool subtree)
{
	struct bmfs_cfile **p;
	size_t len = strlen(name);

	pthread_mutex_lock(&fs->lock);
	for (p = &fs->cfiles; *p;) {
		const char *n = (*p)->name;

		if (strcmp(n, name) == 0 ||
		    (subtree && strncmp(n, name, len) == 0 && n[len] == '/'))
			drop(fs, p);
		else
			p = &(*p)->next;
	}
	pthread_mutex_unlock(&fs->lock);
}

uint64_t bmfs_fcache_evict(struct bmfs *fs)
{
	uint64_t bytes;

	pthread_mutex_lock(&fs->lock);
	bytes = fs->cache_bytes;
	while (fs->cfiles)
		drop(fs, &fs->cfiles);
	pthread_mutex_unlock(&fs->lock);
	if (bytes)
		bm_info("tmp-path '%s' is full: dropped %llu bytes of cached "
			"files",
			fs->opt.tmp_path, (unsigned long long)bytes);
	return bytes;
}

void bmfs_fcache_free(struct bmfs *fs)
{
	while (fs->cfiles)
		drop(fs, &fs->cfiles);
}
