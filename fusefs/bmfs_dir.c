/*
 * bmfs_dir: open directories. The kernel reads a large directory in many
 * READDIR(PLUS) calls, each resuming at an offset. An open directory
 * therefore keeps a snapshot of the listing taken by the read at offset
 * 0 (bmfs_readdir: the cache, or List requests), and later calls resume
 * in it by index: one consistent list however long the reader takes,
 * even when entry_timeout ends in between, and a request only at offset
 * 0 (opendir, rewinddir). Offsets let libfuse pass each entry's
 * attributes with it (READDIRPLUS), so `ls -l` sends no LOOKUP per entry.
 * A snapshot holds the name, kind, size and mtime of each entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bmfs_int.h"
#include "bmfs_mount.h"

struct dir_item {
	char *name;
	bool dir;
	uint64_t size;
	time_t mtime;
};

struct bmfs_dir {
	struct bmfs *fs;
	char *path;
	struct dir_item *v;
	size_t n, cap;
	bool oom;
};

int bmfs_opendir(struct bmfs *fs, const char *path, struct bmfs_dir **out)
{
	struct bmfs_dir *d = calloc(1, sizeof(*d));

	if (d)
		d->path = strdup(path);
	if (!d || !d->path) {
		free(d);
		return -ENOMEM;
	}
	d->fs = fs;
	*out = d;
	return 0;
}

static void clear(struct bmfs_dir *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->v[i].name);
	d->n = 0;
	d->oom = false;
}

void bmfs_releasedir(struct bmfs_dir *d)
{
	if (!d)
		return;
	clear(d);
	free(d->v);
	free(d->path);
	free(d);
}

static int collect(void *ud, const char *name, const struct stat *st)
{
	struct bmfs_dir *d = ud;
	struct dir_item *it;

	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct dir_item *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			goto oom;
		d->v = v;
		d->cap = cap;
	}
	it = &d->v[d->n];
	it->name = strdup(name);
	if (!it->name)
		goto oom;
	it->dir = S_ISDIR(st->st_mode);
	it->size = (uint64_t)st->st_size;
	it->mtime = st->st_mtime;
	d->n++;
	return 0;
oom:
	d->oom = true;
	return 1;
}

int bmfs_readdir_at(struct bmfs_dir *d, uint64_t first, bmfs_dirfill_fn fill,
		    void *ud)
{
	struct stat st;
	size_t i;
	int rc;

	if (first == 0) {
		clear(d);
		rc = bmfs_readdir(d->fs, d->path, collect, d);
		if (rc == 0 && d->oom)
			rc = -ENOMEM;
		if (rc)
			return rc;
	}
	for (i = (size_t)first; i < d->n; i++) {
		const struct dir_item *it = &d->v[i];

		bmfs_fill_stat(d->fs, it->dir ? BMFS_DIR : BMFS_FILE, it->size,
			       it->mtime, &st);
		if (fill(ud, it->name, &st, (uint64_t)i + 1))
			break; /* the reply is full: the next call resumes */
	}
	return 0;
}
