/*
 * bmfs_kcache: when an open may keep the kernel's page cache of a file
 * (FOPEN_KEEP_CACHE), so that rereading an unchanged blob costs neither a
 * request nor any work in the daemon.
 *
 * The kernel drops a file's cached pages at every open unless told to keep
 * them. Keeping them is right only when every cached page holds the
 * version the new handle reads. Pages enter the cache only through open
 * handles, and an open that does not keep them empties the cache, so one
 * record per name follows what the cache can hold: the version (ETag) of
 * the handles opened since the last emptying, and whether a handle of
 * another version (opened before that emptying and still open, or a
 * reader that found the blob had changed) may have added pages since.
 * An open keeps the cache when its version is the record's and nothing
 * else may have added pages; any other open empties it and starts a new
 * generation. Handles that write, or of an unknown version, have version
 * "" and never match.
 *
 * So a reread within attr_timeout (while the ETag the filesystem believes
 * is unchanged) is served by the kernel; a new version seen by a lookup
 * makes the next open drop the old pages. A handle that keeps the cache
 * reads the remote blob only at that version (bmfs_read.c sends If-Match
 * from its first GET), so pages of two versions never meet in one file.
 *
 * Records are guarded by fs->lock. Records of names with no open handle
 * are dropped, least recently used first, beyond KCACHE_IDLE_MAX; a name
 * without a record simply does not keep its cache at the next open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmfs_int.h"

#define KCACHE_IDLE_MAX 4096

struct bmfs_krec {
	struct bmfs_krec *next; /* fs->krecs, most recently used first */
	char *name;
	char etag[BM_ETAG_MAX]; /* version of the current generation */
	uint64_t gen;		/* fs->kgen when it began */
	unsigned nopen;		/* handles of this generation */
	unsigned nforeign;	/* handles of earlier generations */
	bool tainted;		/* pages of another version may be cached */
};

static struct bmfs_krec *krec_find(struct bmfs *fs, const char *name)
{
	struct bmfs_krec **p, *k;

	for (p = &fs->krecs; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			k = *p; /* to the front */
			*p = k->next;
			k->next = fs->krecs;
			fs->krecs = k;
			return k;
		}
	}
	return NULL;
}

/* Drops idle records from the tail beyond KCACHE_IDLE_MAX. */
static void krec_trim(struct bmfs *fs)
{
	struct bmfs_krec **p = &fs->krecs, *k;
	unsigned idle = 0;

	while ((k = *p)) {
		if (k->nopen || k->nforeign || ++idle <= KCACHE_IDLE_MAX) {
			p = &k->next;
			continue;
		}
		*p = k->next;
		free(k->name);
		free(k);
	}
}

bool bmfs_kcache_open(struct bmfs *fs, const char *name, const char *etag,
		      uint64_t *gen)
{
	struct bmfs_krec *k;
	bool keep = false;

	pthread_mutex_lock(&fs->lock);
	k = krec_find(fs, name);
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (k && !(k->name = strdup(name))) {
			free(k);
			k = NULL;
		}
		if (!k) {
			*gen = 0; /* never matches: release ignores it */
			goto out;
		}
		k->next = fs->krecs;
		fs->krecs = k;
		krec_trim(fs);
	} else {
		keep = etag[0] && !k->tainted && strcmp(k->etag, etag) == 0;
	}
	if (!keep) {
		/* The kernel empties the cache now; handles still open of
		 * the previous generations may refill it with their pages. */
		k->nforeign += k->nopen;
		k->nopen = 0;
		k->gen = ++fs->kgen;
		k->tainted = k->nforeign > 0;
		snprintf(k->etag, sizeof(k->etag), "%s", etag);
	}
	k->nopen++;
	*gen = k->gen;
out:
	pthread_mutex_unlock(&fs->lock);
	return keep;
}

void bmfs_kcache_release(struct bmfs *fs, const char *name, uint64_t gen)
{
	struct bmfs_krec *k;

	if (!gen)
		return;
	pthread_mutex_lock(&fs->lock);
	k = krec_find(fs, name);
	if (k && k->gen == gen && k->nopen)
		k->nopen--;
	else if (k && k->gen != gen && k->nforeign)
		k->nforeign--;
	pthread_mutex_unlock(&fs->lock);
}

bool bmfs_kcache_is_open(struct bmfs *fs, const char *name)
{
	struct bmfs_krec *k;
	bool open;

	pthread_mutex_lock(&fs->lock);
	k = krec_find(fs, name);
	open = k && (k->nopen || k->nforeign);
	pthread_mutex_unlock(&fs->lock);
	return open;
}

void bmfs_kcache_taint(struct bmfs *fs, const char *name)
{
	struct bmfs_krec *k;

	pthread_mutex_lock(&fs->lock);
	k = krec_find(fs, name);
	if (k)
		k->tainted = true;
	pthread_mutex_unlock(&fs->lock);
}

void bmfs_kcache_free(struct bmfs *fs)
{
	struct bmfs_krec *k;

	while ((k = fs->krecs)) {
		fs->krecs = k->next;
		free(k->name);
		free(k);
	}
}
