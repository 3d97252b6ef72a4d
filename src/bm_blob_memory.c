/*
 * bm_blob_memory: an in-memory Blob service behind struct bm_blob_ops, for
 * unit tests of the filesystem and task layers. It keeps Azure's semantics
 * where callers can see them: error categories, names ordered by bytes,
 * List Blobs paging (prefix, delimiter, marker, max_results), metadata
 * only with include_metadata, ETags that change on every write, blocks
 * that stay uncommitted until Put Block List, and one counter per call.
 *
 * Locking: one mutex (mem->lock) guards everything in struct mem_service.
 * Callbacks (list entries, get sinks) run without it, so they may call the
 * client again. Blob contents are immutable, reference-counted buffers: a
 * get streams its snapshot while a writer replaces the blob.
 *
 * Limits: containers and blobs are sorted arrays (insertion is O(n), fine
 * for tests up to ~10^5 blobs); markers are plain blob names, which the
 * real service does not promise (callers must treat them as opaque).
 *
 * This file holds the model, lookups, reads, listings and containers;
 * the writes are in bm_blob_memory_write.c (shared parts:
 * bm_blob_memory_impl.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bm_blob_memory_impl.h"

#define LIST_DEFAULT_MAX 5000
#define SINK_CHUNK (64 * 1024)

/* ---- data, blocks, metadata ---------------------------------------- */

struct mem_data *bm_mem_data_new(size_t len)
{
	struct mem_data *d = malloc(sizeof(*d) + len);

	if (d) {
		d->refs = 1;
		d->len = len;
	}
	return d;
}

/* Under mem->lock (or before the data is shared). */
void bm_mem_data_unref(struct mem_data *d)
{
	if (d && --d->refs == 0)
		free(d);
}

void bm_mem_blocks_free(struct mem_block *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(b[i].id);
		bm_mem_data_unref(b[i].data);
	}
	free(b);
}

void bm_mem_meta_free(struct mem_meta *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].value);
	}
	free(m);
}

void bm_mem_blob_free(struct mem_blob *b)
{
	if (!b)
		return;
	free(b->name);
	bm_mem_data_unref(b->data);
	free(b->content_type);
	bm_mem_meta_free(b->meta, b->nmeta);
	bm_mem_blocks_free(b->committed, b->ncommitted);
	free(b);
}

static void pending_release(struct mem_pending *p)
{
	free(p->name);
	bm_mem_blocks_free(p->blocks, p->nblocks);
}

static void container_free(struct mem_container *k)
{
	size_t i;

	for (i = 0; i < k->nblobs; i++)
		bm_mem_blob_free(k->blobs[i]);
	for (i = 0; i < k->npending; i++)
		pending_release(&k->pending[i]);
	free(k->blobs);
	free(k->pending);
	free(k->name);
	free(k);
}

/* ---- lookups (all under mem->lock) ---------------------------------- */

/* Index of the first blob whose name is >= name (binary search). */
static size_t blob_lower_bound(const struct mem_container *k, const char *name)
{
	size_t lo = 0, hi = k->nblobs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(k->blobs[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct mem_blob *bm_mem_blob_find(const struct mem_container *k,
				  const char *name, size_t *at)
{
	size_t i = blob_lower_bound(k, name);

	if (at)
		*at = i;
	return i < k->nblobs && strcmp(k->blobs[i]->name, name) == 0
		   ? k->blobs[i]
		   : NULL;
}

static size_t container_lower_bound(const struct mem_service *m,
				    const char *name)
{
	size_t i = 0;

	while (i < m->ncontainers && strcmp(m->containers[i]->name, name) < 0)
		i++;
	return i;
}

static struct mem_container *container_find(struct mem_service *m,
					    const char *name)
{
	size_t i = container_lower_bound(m, name);

	return i < m->ncontainers && strcmp(m->containers[i]->name, name) == 0
		   ? m->containers[i]
		   : NULL;
}

/* The container or NULL with BM_ERR_NO_CONTAINER (404 ContainerNotFound). */
struct mem_container *bm_mem_container_get(struct mem_service *m,
					   const char *name,
					   struct bm_error *err)
{
	struct mem_container *k = container_find(m, name);

	if (!k)
		bm_error_set_http(err, BM_ERR_NO_CONTAINER, 404,
				  "ContainerNotFound",
				  "container '%s' not found", name);
	return k;
}

struct mem_pending *bm_mem_pending_find(struct mem_container *k,
					const char *name)
{
	size_t i;

	for (i = 0; i < k->npending; i++)
		if (strcmp(k->pending[i].name, name) == 0)
			return &k->pending[i];
	return NULL;
}

void bm_mem_pending_drop(struct mem_container *k, const char *name)
{
	struct mem_pending *p = bm_mem_pending_find(k, name);

	if (!p)
		return;
	pending_release(p);
	*p = k->pending[--k->npending];
}

void bm_mem_count(struct mem_service *m, enum bm_op op)
{
	m->stats.requests[op]++;
}

void bm_mem_next_etag(struct mem_service *m, char *etag)
{
	snprintf(etag, BM_ETAG_MAX, "\"0x8DC%013llX\"", ++m->etag_seq);
}

static bool is_dir_marker(const struct mem_blob *b)
{
	size_t i;

	for (i = 0; i < b->nmeta; i++)
		if (strcasecmp(b->meta[i].name, "hdi_isfolder") == 0 &&
		    strcasecmp(b->meta[i].value, "true") == 0)
			return true;
	return false;
}

void bm_mem_fill_info(const struct mem_blob *b, struct bm_blob_info *info)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	info->size = b->data->len;
	info->mtime = b->mtime;
	snprintf(info->etag, sizeof(info->etag), "%s", b->etag);
	info->is_dir_marker = is_dir_marker(b);
}

/* ---- validation (no lock needed) ------------------------------------ */

/* Azure counts a name's length in UTF-16 code units; invalid UTF-8 is
 * refused here as the service refuses it. */
static bool blob_name_valid(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t units = 0;
	int more;

	if (!*p)
		return false;
	while (*p) {
		if (*p < 0x80)
			more = 0;
		else if ((*p & 0xE0) == 0xC0 && *p >= 0xC2)
			more = 1;
		else if ((*p & 0xF0) == 0xE0)
			more = 2;
		else if ((*p & 0xF8) == 0xF0 && *p <= 0xF4)
			more = 3;
		else
			return false;
		units += more == 3 ? 2 : 1;
		for (p++; more > 0; more--, p++)
			if ((*p & 0xC0) != 0x80)
				return false;
	}
	return units <= 1024;
}

int bm_mem_check_names(const char *container, const char *name,
		       struct bm_error *err)
{
	if (!bm_container_name_valid(container)) {
		bm_error_set_http(err, BM_ERR_INVALID, 400,
				  "InvalidResourceName",
				  "bad container name '%s'", container);
		return -1;
	}
	if (name && !blob_name_valid(name)) {
		bm_error_set_http(err, BM_ERR_INVALID, 400,
				  "InvalidResourceName",
				  "bad blob name '%s' (1-1024 characters of "
				  "valid UTF-8)",
				  name);
		return -1;
	}
	return 0;
}

/* If-Match: fails (412) when the blob is missing or has another ETag. */
bool bm_mem_if_match_fails(const struct mem_blob *b, const char *if_match,
			   const char *name, struct bm_error *err)
{
	if (!if_match || (b && strcmp(if_match, b->etag) == 0))
		return false;
	bm_error_set_http(err, BM_ERR_PRECONDITION, 412, "ConditionNotMet",
			  "blob '%s' changed (ETag does not match)", name);
	return true;
}

/* ---- list ----------------------------------------------------------- */

/* A copy of one listing entry, so callbacks run without the lock. */
struct list_item {
	char *name;
	bool is_prefix;
	uint64_t size;
	time_t mtime;
	char etag[BM_ETAG_MAX];
	char *content_type;
	bool is_dir_marker;
};

static void items_free(struct list_item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(it[i].name);
		free(it[i].content_type);
	}
	free(it);
}

/* Length of the BlobPrefix a blob name falls under, or 0 for none. */
static size_t prefix_group(const char *name, size_t plen, const char *delim)
{
	const char *d;

	if (!delim || !*delim)
		return 0;
	d = strstr(name + plen, delim);
	return d ? (size_t)(d - name) + strlen(delim) : 0;
}

/* Collects one page under the lock; next_marker is the first item left. */
static int list_collect(struct mem_container *k, const struct bm_list_opts *o,
			int max, struct list_item **out, size_t *nout,
			char **next_marker, struct bm_error *err)
{
	const char *prefix = o->prefix ? o->prefix : "";
	size_t plen = strlen(prefix), i, n = 0, group;
	struct list_item *items = calloc((size_t)max, sizeof(*items));
	struct mem_blob *b;

	if (!items)
		goto nomem;
	i = blob_lower_bound(
	    k, o->marker && strcmp(o->marker, prefix) > 0 ? o->marker : prefix);
	while (i < k->nblobs) {
		b = k->blobs[i];
		if (strncmp(b->name, prefix, plen) != 0)
			break;
		group = prefix_group(b->name, plen, o->delimiter);
		if (n == (size_t)max) {
			*next_marker =
			    group ? strndup(b->name, group) : strdup(b->name);
			if (!*next_marker)
				goto nomem;
			break;
		}
		if (group) {
			items[n].name = strndup(b->name, group);
			items[n].is_prefix = true;
			if (!items[n++].name)
				goto nomem;
			/* Skip every blob under this prefix: one entry. */
			while (i < k->nblobs &&
			       strncmp(k->blobs[i]->name, b->name, group) == 0)
				i++;
			continue;
		}
		items[n].name = strdup(b->name);
		items[n].content_type = strdup(b->content_type);
		items[n].size = b->data->len;
		items[n].mtime = b->mtime;
		snprintf(items[n].etag, sizeof(items[n].etag), "%s", b->etag);
		items[n].is_dir_marker =
		    o->include_metadata && is_dir_marker(b);
		if (!items[n].name || !items[n++].content_type)
			goto nomem;
		i++;
	}
	*out = items;
	*nout = n;
	return 0;
nomem:
	items_free(items, n);
	bm_error_set(err, BM_ERR_NOMEM, "cannot list: out of memory");
	return -1;
}

static int mem_list_page(struct bm_blob_client *c, const char *container,
			 const struct bm_list_opts *o, bm_list_cb cb, void *ud,
			 char **next_marker, struct bm_error *err)
{
	static const struct bm_list_opts none;
	struct mem_service *m = svc(c);
	struct mem_container *k;
	struct list_item *items = NULL;
	struct bm_blob_entry e;
	size_t n = 0, i;
	int rc = -1, max;

	*next_marker = NULL;
	if (!o)
		o = &none;
	max = o->max_results ? o->max_results : LIST_DEFAULT_MAX;
	pthread_mutex_lock(&m->lock);
	bm_mem_count(m, BM_OP_LIST);
	if (bm_mem_check_names(container, NULL, err) < 0)
		goto unlock;
	if (max < 1 || max > LIST_DEFAULT_MAX) {
		bm_error_set_http(err, BM_ERR_INVALID, 400,
				  "OutOfRangeQueryParameterValue",
				  "cannot list '%s': maxresults %d is not in "
				  "1..5000",
				  container, max);
		goto unlock;
	}
	k = bm_mem_container_get(m, container, err);
	if (k)
		rc = list_collect(k, o, max, &items, &n, next_marker, err);
unlock:
	pthread_mutex_unlock(&m->lock);
	for (i = 0; rc == 0 && i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.name = items[i].name;
		e.is_prefix = items[i].is_prefix;
		e.size = items[i].size;
		e.mtime = items[i].mtime;
		e.etag = items[i].etag;
		e.content_type =
		    items[i].content_type ? items[i].content_type : "";
		e.is_dir_marker = items[i].is_dir_marker;
		if (cb(&e, ud) != 0) {
			bm_error_set(err, BM_ERR_ABORTED,
				     "listing of '%s' stopped by its caller",
				     container);
			rc = -1;
		}
	}
	items_free(items, n);
	if (rc < 0) {
		free(*next_marker);
		*next_marker = NULL;
	}
	return rc;
}

/* ---- get, head ------------------------------------------------------ */

static int mem_get(struct bm_blob_client *c, const char *container,
		   const char *name, const struct bm_get_opts *o,
		   bm_sink_fn sink, void *ud, struct bm_blob_info *info,
		   struct bm_error *err)
{
	struct mem_service *m = svc(c);
	struct mem_container *k;
	struct mem_blob *b = NULL;
	struct mem_data *d = NULL;
	uint64_t off = o ? o->offset : 0, len = o ? o->length : 0, end, at;
	size_t chunk;
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	bm_mem_count(m, BM_OP_GET);
	if (bm_mem_check_names(container, name, err) < 0)
		goto unlock;
	k = bm_mem_container_get(m, container, err);
	if (!k)
		goto unlock;
	b = bm_mem_blob_find(k, name, NULL);
	/* If-Match is checked first: a blob that is gone fails it (412),
	 * as the service answers. */
	if (o && bm_mem_if_match_fails(b, o->if_match, name, err)) {
		b = NULL;
		goto unlock;
	}
	if (!b) {
		bm_error_set_http(err, BM_ERR_NOT_FOUND, 404, "BlobNotFound",
				  "blob '%s' not found", name);
		goto unlock;
	}
	/* Azure answers 416 for a range that starts at or past the end. A
	 * whole-blob read (offset 0, length 0) sends no range, so it reads
	 * an empty blob as empty; any range on an empty blob is a 416. */
	if ((b->data->len > 0 && off >= b->data->len) ||
	    (b->data->len == 0 && (off > 0 || len > 0))) {
		bm_error_set_http(err, BM_ERR_RANGE, 416, "InvalidRange",
				  "cannot read blob '%s' at offset %llu: it "
				  "has %zu bytes",
				  name, (unsigned long long)off, b->data->len);
		goto unlock;
	}
	d = b->data;
	d->refs++;
	bm_mem_fill_info(b, info);
	rc = 0;
unlock:
	pthread_mutex_unlock(&m->lock);
	if (rc < 0)
		return -1;
	end = len == 0 || off + len > d->len ? d->len : off + len;
	/* Chunks, like a network read: sinks see more than one call. */
	for (at = off < d->len ? off : d->len; at < end; at += chunk) {
		chunk = end - at > SINK_CHUNK ? SINK_CHUNK : (size_t)(end - at);
		if (sink && sink(d->bytes + at, chunk, ud) != 0) {
			bm_error_set(err, BM_ERR_ABORTED,
				     "download of '%s' stopped by its caller",
				     name);
			rc = -1;
			break;
		}
	}
	pthread_mutex_lock(&m->lock);
	m->stats.bytes_received += rc == 0 ? end - (off < end ? off : end) : 0;
	bm_mem_data_unref(d);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mem_head(struct bm_blob_client *c, const char *container,
		    const char *name, struct bm_blob_info *info,
		    struct bm_error *err)
{
	struct mem_service *m = svc(c);
	struct mem_container *k;
	struct mem_blob *b = NULL;

	pthread_mutex_lock(&m->lock);
	bm_mem_count(m, BM_OP_HEAD);
	if (bm_mem_check_names(container, name, err) == 0 &&
	    (k = bm_mem_container_get(m, container, err)) &&
	    !(b = bm_mem_blob_find(k, name, NULL)))
		bm_error_set_http(err, BM_ERR_NOT_FOUND, 404, "BlobNotFound",
				  "blob '%s' not found", name);
	if (b)
		bm_mem_fill_info(b, info);
	pthread_mutex_unlock(&m->lock);
	return b ? 0 : -1;
}

/* ---- containers ------------------------------------------------------ */

static int mem_create_container(struct bm_blob_client *c, const char *container,
				struct bm_error *err)
{
	struct mem_service *m = svc(c);
	struct mem_container *k = NULL, **grown;
	size_t at;
	int rc = -1;

	pthread_mutex_lock(&m->lock);
	bm_mem_count(m, BM_OP_CONTAINER);
	if (bm_mem_check_names(container, NULL, err) < 0)
		goto unlock;
	if (container_find(m, container)) {
		bm_error_set_http(err, BM_ERR_EXISTS, 409,
				  "ContainerAlreadyExists",
				  "container '%s' already exists", container);
		goto unlock;
	}
	k = calloc(1, sizeof(*k));
	grown = realloc(m->containers,
			(m->ncontainers + 1) * sizeof(*m->containers));
	if (grown)
		m->containers = grown;
	if (!k || !grown || !(k->name = strdup(container))) {
		free(k);
		bm_error_set(err, BM_ERR_NOMEM,
			     "cannot create container '%s': out of memory",
			     container);
		goto unlock;
	}
	at = container_lower_bound(m, container);
	memmove(&m->containers[at + 1], &m->containers[at],
		(m->ncontainers - at) * sizeof(*m->containers));
	m->containers[at] = k;
	m->ncontainers++;
	rc = 0;
unlock:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int mem_delete_container(struct bm_blob_client *c, const char *container,
				struct bm_error *err)
{
	struct mem_service *m = svc(c);
	struct mem_container *k = NULL;
	size_t at;

	pthread_mutex_lock(&m->lock);
	bm_mem_count(m, BM_OP_CONTAINER);
	if (bm_mem_check_names(container, NULL, err) == 0 &&
	    (k = bm_mem_container_get(m, container, err))) {
		at = container_lower_bound(m, container);
		memmove(&m->containers[at], &m->containers[at + 1],
			(m->ncontainers - at - 1) * sizeof(*m->containers));
		m->ncontainers--;
		container_free(k);
	}
	pthread_mutex_unlock(&m->lock);
	return k ? 0 : -1;
}

static int mem_check_container(struct bm_blob_client *c, const char *container,
			       struct bm_error *err)
{
	struct mem_service *m = svc(c);
	bool ok;

	pthread_mutex_lock(&m->lock);
	bm_mem_count(m, BM_OP_CONTAINER);
	ok = bm_mem_check_names(container, NULL, err) == 0 &&
	     bm_mem_container_get(m, container, err);
	pthread_mutex_unlock(&m->lock);
	return ok ? 0 : -1;
}

/* The names are copied under the lock and handed out after it: the
 * callback may call the client again. */
static int mem_list_containers(struct bm_blob_client *c, const char *prefix,
			       bm_list_cb cb, void *ud, time_t *server_time,
			       struct bm_error *err)
{
	struct mem_service *m = svc(c);
	struct bm_blob_entry e;
	size_t plen = prefix ? strlen(prefix) : 0, n = 0, i;
	char **names;
	int rc = 0;

	if (server_time)
		*server_time = time(NULL);
	pthread_mutex_lock(&m->lock);
	bm_mem_count(m, BM_OP_LIST);
	names = calloc(m->ncontainers ? m->ncontainers : 1, sizeof(*names));
	for (i = 0; names && i < m->ncontainers; i++) {
		if (plen && strncmp(m->containers[i]->name, prefix, plen))
			continue;
		if (!(names[n] = strdup(m->containers[i]->name)))
			break;
		n++;
	}
	if (names && i < m->ncontainers) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		rc = -1;
	}
	pthread_mutex_unlock(&m->lock);
	if (!names) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.name = names[i];
		e.etag = "";
		e.content_type = "";
		if (cb(&e, ud)) {
			bm_error_set(err, BM_ERR_ABORTED,
				     "listing stopped by the caller");
			rc = -1;
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static void mem_get_stats(struct bm_blob_client *c, struct bm_http_stats *out)
{
	struct mem_service *m = svc(c);

	pthread_mutex_lock(&m->lock);
	*out = m->stats;
	pthread_mutex_unlock(&m->lock);
}

static void mem_free(struct bm_blob_client *c)
{
	struct mem_service *m = svc(c);
	size_t i;

	for (i = 0; i < m->ncontainers; i++)
		container_free(m->containers[i]);
	free(m->containers);
	pthread_mutex_destroy(&m->lock);
	free(m);
	free(c);
}

static const struct bm_blob_ops mem_ops = {
    .list_page = mem_list_page,
    .get = mem_get,
    .head = mem_head,
    .put = bm_mem_put,
    .put_block = bm_mem_put_block,
    .put_block_list = bm_mem_put_block_list,
    .remove = bm_mem_remove,
    .copy = bm_mem_copy,
    .create_container = mem_create_container,
    .delete_container = mem_delete_container,
    .check_container = mem_check_container,
    .list_containers = mem_list_containers,
    .get_stats = mem_get_stats,
    .free = mem_free,
};

/* NULL only when out of memory. The caller frees with
 * bm_blob_client_free(). */
struct bm_blob_client *bm_blob_client_new_memory(void)
{
	struct bm_blob_client *c = calloc(1, sizeof(*c));
	struct mem_service *m = calloc(1, sizeof(*m));

	if (!c || !m || pthread_mutex_init(&m->lock, NULL) != 0) {
		free(c);
		free(m);
		return NULL;
	}
	c->ops = &mem_ops;
	c->impl = m;
	return c;
}
