/*
 * bmfs_cache: see bmfs_cache.h. A chained hash table (FNV-1a) that doubles
 * when its load passes 1; a directory's listing is an array of children
 * hanging off its node. Linear search in a listing is used only to answer
 * a miss (a name the listing does not have), never per `stat` hit.
 */
#include <stdlib.h>
#include <string.h>

#include "bmfs_cache.h"

struct bmfs_child {
	char *name;
	enum bmfs_kind kind;
	uint64_t size;
	time_t mtime;
};

struct bmfs_listing {
	struct bmfs_child *v;
	size_t n, cap;
};

struct bmfs_node {
	struct bmfs_node *next; /* hash chain */
	char *name;
	struct bmfs_attr attr;	      /* attr.blob owned */
	double expires;		      /* attr valid while now < expires */
	struct bmfs_listing *listing; /* directories: last listing or NULL */
	double listing_expires;
};

struct bmfs_cache {
	struct bmfs_node **buckets;
	size_t nbuckets;
	size_t count;
	size_t sweep_at; /* sweep expired nodes when count reaches this */
	double last_now; /* latest time seen, for the sweep */
};

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct bmfs_cache *bmfs_cache_new(void)
{
	struct bmfs_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->nbuckets = 256;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->sweep_at = 1024;
	return c;
}

void bmfs_listing_free(struct bmfs_listing *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	free(l);
}

static void node_free(struct bmfs_node *n)
{
	free(n->name);
	free(n->attr.blob);
	bmfs_listing_free(n->listing);
	free(n);
}

void bmfs_cache_free(struct bmfs_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nbuckets; i++) {
		struct bmfs_node *n = c->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			node_free(n);
		}
	}
	free(c->buckets);
	free(c);
}

static struct bmfs_node **find_slot(struct bmfs_cache *c, const char *name)
{
	struct bmfs_node **p = &c->buckets[hash_name(name) % c->nbuckets];

	while (*p && strcmp((*p)->name, name) != 0)
		p = &(*p)->next;
	return p;
}

static struct bmfs_node *find(struct bmfs_cache *c, const char *name)
{
	return *find_slot(c, name);
}

static void unlink_node(struct bmfs_cache *c, struct bmfs_node **slot)
{
	struct bmfs_node *n = *slot;

	*slot = n->next;
	node_free(n);
	c->count--;
}

/* A node is dead when neither its attributes nor its listing are valid. */
static bool node_dead(const struct bmfs_node *n, double now)
{
	return n->expires <= now && (!n->listing || n->listing_expires <= now);
}

static void sweep(struct bmfs_cache *c)
{
	size_t i;

	for (i = 0; i < c->nbuckets; i++) {
		struct bmfs_node **p = &c->buckets[i];

		while (*p) {
			if (node_dead(*p, c->last_now))
				unlink_node(c, p);
			else
				p = &(*p)->next;
		}
	}
	c->sweep_at = c->count * 2 > 1024 ? c->count * 2 : 1024;
}

/* Doubles the bucket array; on allocation failure the table just stays
 * more loaded. */
static void grow(struct bmfs_cache *c)
{
	size_t nb = c->nbuckets * 2, i;
	struct bmfs_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < c->nbuckets; i++) {
		struct bmfs_node *n = c->buckets[i], *next;

		for (; n; n = next) {
			size_t h = hash_name(n->name) % nb;

			next = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

/* The node for name, created (expired, absent) when missing. */
static struct bmfs_node *get_node(struct bmfs_cache *c, const char *name)
{
	struct bmfs_node **slot = find_slot(c, name), *n;

	if (*slot)
		return *slot;
	if (c->count >= c->sweep_at) {
		sweep(c);
		slot = find_slot(c, name);
	}
	if (c->count >= c->nbuckets) {
		grow(c);
		slot = find_slot(c, name);
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->next = *slot;
	*slot = n;
	c->count++;
	return n;
}

int bmfs_cache_get(struct bmfs_cache *c, const char *name, double now,
		   struct bmfs_attr *out)
{
	struct bmfs_node *n = find(c, name);

	if (now > c->last_now)
		c->last_now = now;
	if (!n || n->expires <= now)
		return 0;
	*out = n->attr;
	return 1;
}

int bmfs_cache_put(struct bmfs_cache *c, const char *name,
		   const struct bmfs_attr *a, double expires)
{
	struct bmfs_node *n = get_node(c, name);
	char *blob = NULL;

	if (!n)
		return -1;
	if (a->blob) {
		blob = strdup(a->blob);
		if (!blob)
			return -1;
	}
	free(n->attr.blob);
	n->attr = *a;
	n->attr.blob = blob;
	n->expires = expires;
	if (a->kind != BMFS_DIR) {
		/* No longer a directory: its listing is meaningless. */
		bmfs_listing_free(n->listing);
		n->listing = NULL;
	}
	return 0;
}

void bmfs_cache_forget(struct bmfs_cache *c, const char *name)
{
	struct bmfs_node **slot = find_slot(c, name);

	if (*slot)
		unlink_node(c, slot);
}

void bmfs_cache_forget_prefix(struct bmfs_cache *c, const char *prefix)
{
	size_t i, len = strlen(prefix);

	for (i = 0; i < c->nbuckets; i++) {
		struct bmfs_node **p = &c->buckets[i];

		while (*p) {
			if (strncmp((*p)->name, prefix, len) == 0)
				unlink_node(c, p);
			else
				p = &(*p)->next;
		}
	}
}

struct bmfs_listing *bmfs_listing_new(void)
{
	return calloc(1, sizeof(struct bmfs_listing));
}

int bmfs_listing_add(struct bmfs_listing *l, const char *child,
		     enum bmfs_kind kind, uint64_t size, time_t mtime)
{
	struct bmfs_child *ch;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct bmfs_child *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	ch = &l->v[l->n];
	ch->name = strdup(child);
	if (!ch->name)
		return -1;
	ch->kind = kind;
	ch->size = size;
	ch->mtime = mtime;
	l->n++;
	return 0;
}

void bmfs_cache_set_listing(struct bmfs_cache *c, const char *dir,
			    struct bmfs_listing *l, double expires)
{
	struct bmfs_node *n = get_node(c, dir);

	if (!n) {
		bmfs_listing_free(l);
		return;
	}
	bmfs_listing_free(n->listing);
	n->listing = l;
	n->listing_expires = expires;
}

static struct bmfs_listing *valid_listing(struct bmfs_cache *c, const char *dir,
					  double now)
{
	struct bmfs_node *n = find(c, dir);

	if (!n || !n->listing || n->listing_expires <= now)
		return NULL;
	return n->listing;
}

static struct bmfs_child *listing_find(struct bmfs_listing *l,
				       const char *child)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, child) == 0)
			return &l->v[i];
	return NULL;
}

bool bmfs_cache_listing_has(struct bmfs_cache *c, const char *dir,
			    const char *child, double now, bool *present)
{
	struct bmfs_listing *l = valid_listing(c, dir, now);

	if (!l)
		return false;
	*present = listing_find(l, child) != NULL;
	return true;
}

int bmfs_cache_listing_add(struct bmfs_cache *c, const char *dir,
			   const char *child, enum bmfs_kind kind)
{
	struct bmfs_node *n = find(c, dir);
	struct bmfs_child *ch;

	if (!n || !n->listing)
		return 0;
	ch = listing_find(n->listing, child);
	if (ch) {
		ch->kind = kind;
		return 0;
	}
	return bmfs_listing_add(n->listing, child, kind, 0, 0);
}

void bmfs_cache_listing_remove(struct bmfs_cache *c, const char *dir,
			       const char *child)
{
	struct bmfs_node *n = find(c, dir);
	struct bmfs_child *ch;
	struct bmfs_listing *l;

	if (!n || !n->listing)
		return;
	l = n->listing;
	ch = listing_find(l, child);
	if (!ch)
		return;
	free(ch->name);
	*ch = l->v[--l->n];
}

void bmfs_cache_listing_drop(struct bmfs_cache *c, const char *dir)
{
	struct bmfs_node *n = find(c, dir);

	if (!n)
		return;
	bmfs_listing_free(n->listing);
	n->listing = NULL;
}

int bmfs_cache_listing_each(struct bmfs_cache *c, const char *dir, double now,
			    bmfs_child_fn fn, void *ud)
{
	struct bmfs_listing *l = valid_listing(c, dir, now);
	size_t i;
	int rc;

	if (!l)
		return -1;
	for (i = 0; i < l->n; i++) {
		rc = fn(ud, l->v[i].name, l->v[i].kind, l->v[i].size,
			l->v[i].mtime);
		if (rc)
			return rc;
	}
	return 0;
}

size_t bmfs_cache_count(const struct bmfs_cache *c)
{
	return c->count;
}
