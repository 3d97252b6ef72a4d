/*
 * bm_blob_faulty: a client that fails a seeded fraction of calls before
 * they reach the wrapped client, with the categories a real service
 * produces after its retries ran out (server error, network, timeout).
 * For tests of the layers above: their error paths, and that nothing is
 * lost or half-written when a call fails. A failed call has no effect,
 * but for one case the real client has too: a conditional write (If-Match,
 * If-None-Match), which bm_http does not retry because a repeat would fail
 * its own condition, reports the first attempt's reset or timeout, and
 * that attempt may have reached the service. One such fault in two is
 * injected after the wrapped call ran: the write happened, its response
 * was lost.
 *
 * Thread-safe: the PRNG state is guarded by f->lock.
 */
#include <pthread.h>
#include <stdlib.h>

#include "bm_blob.h"

struct faulty {
	struct bm_blob_client base;
	struct bm_blob_client *inner;
	double rate;
	pthread_mutex_t lock; /* guards state */
	unsigned state;
};

static struct bm_blob_client *inner_of(struct bm_blob_client *c)
{
	return ((struct faulty *)c->impl)->inner;
}

static unsigned draw(struct faulty *f)
{
	unsigned x;

	pthread_mutex_lock(&f->lock);
	x = f->state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	f->state = x;
	pthread_mutex_unlock(&f->lock);
	return x;
}

/* True (err set) when this call is chosen to fail. */
static bool inject(struct bm_blob_client *c, const char *op,
		   struct bm_error *err)
{
	struct faulty *f = c->impl;

	if ((double)draw(f) / 4294967296.0 >= f->rate)
		return false;
	switch (draw(f) % 3) {
	case 0:
		bm_error_set_http(err, BM_ERR_SERVER, 500, "InternalError",
				  "injected fault in %s: server error (500 "
				  "InternalError)",
				  op);
		break;
	case 1:
		bm_error_set(err, BM_ERR_NETWORK,
			     "injected fault in %s: connection reset", op);
		break;
	default:
		bm_error_set(err, BM_ERR_TIMEOUT,
			     "injected fault in %s: timed out", op);
		break;
	}
	return true;
}

static int f_list_page(struct bm_blob_client *c, const char *container,
		       const struct bm_list_opts *o, bm_list_cb cb, void *ud,
		       char **next_marker, struct bm_error *err)
{
	*next_marker = NULL;
	if (inject(c, "list", err))
		return -1;
	return inner_of(c)->ops->list_page(inner_of(c), container, o, cb, ud,
					   next_marker, err);
}

static int f_get(struct bm_blob_client *c, const char *container,
		 const char *name, const struct bm_get_opts *o, bm_sink_fn sink,
		 void *ud, struct bm_blob_info *info, struct bm_error *err)
{
	if (inject(c, "get", err))
		return -1;
	return inner_of(c)->ops->get(inner_of(c), container, name, o, sink, ud,
				     info, err);
}

static int f_head(struct bm_blob_client *c, const char *container,
		  const char *name, struct bm_blob_info *info,
		  struct bm_error *err)
{
	if (inject(c, "head", err))
		return -1;
	return inner_of(c)->ops->head(inner_of(c), container, name, info, err);
}

/* After an injected fault in a write with options o (err set by
 * inject): whether to run the write anyway, its response lost. */
static bool lost_response(struct bm_blob_client *c, const struct bm_put_opts *o,
			  const struct bm_error *err)
{
	if (!o || !(o->if_match || o->if_none_match_any) || !err ||
	    (err->code != BM_ERR_NETWORK && err->code != BM_ERR_TIMEOUT))
		return false;
	return draw(c->impl) % 2 == 0;
}

static int f_put(struct bm_blob_client *c, const char *container,
		 const char *name, const struct bm_body *body,
		 const struct bm_put_opts *o, struct bm_blob_info *info,
		 struct bm_error *err)
{
	struct bm_error lost;

	if (inject(c, "put", err)) {
		bm_error_clear(&lost);
		if (lost_response(c, o, err))
			inner_of(c)->ops->put(inner_of(c), container, name,
					      body, o, NULL, &lost);
		return -1;
	}
	return inner_of(c)->ops->put(inner_of(c), container, name, body, o,
				     info, err);
}

static int f_put_block(struct bm_blob_client *c, const char *container,
		       const char *name, const char *block_id,
		       const struct bm_body *body, struct bm_error *err)
{
	if (inject(c, "put_block", err))
		return -1;
	return inner_of(c)->ops->put_block(inner_of(c), container, name,
					   block_id, body, err);
}

static int f_put_block_list(struct bm_blob_client *c, const char *container,
			    const char *name, const char *const *block_ids,
			    size_t nblocks, const struct bm_put_opts *o,
			    struct bm_blob_info *info, struct bm_error *err)
{
	struct bm_error lost;

	if (inject(c, "put_block_list", err)) {
		bm_error_clear(&lost);
		if (lost_response(c, o, err))
			inner_of(c)->ops->put_block_list(
			    inner_of(c), container, name, block_ids, nblocks, o,
			    NULL, &lost);
		return -1;
	}
	return inner_of(c)->ops->put_block_list(
	    inner_of(c), container, name, block_ids, nblocks, o, info, err);
}

static int f_remove(struct bm_blob_client *c, const char *container,
		    const char *name, struct bm_error *err)
{
	if (inject(c, "delete", err))
		return -1;
	return inner_of(c)->ops->remove(inner_of(c), container, name, err);
}

static int f_copy(struct bm_blob_client *c, const char *container,
		  const char *src, const char *dst, struct bm_error *err)
{
	if (inject(c, "copy", err))
		return -1;
	return inner_of(c)->ops->copy(inner_of(c), container, src, dst, err);
}

static int f_create_container(struct bm_blob_client *c, const char *container,
			      struct bm_error *err)
{
	if (inject(c, "create_container", err))
		return -1;
	return inner_of(c)->ops->create_container(inner_of(c), container, err);
}

static int f_delete_container(struct bm_blob_client *c, const char *container,
			      struct bm_error *err)
{
	if (inject(c, "delete_container", err))
		return -1;
	return inner_of(c)->ops->delete_container(inner_of(c), container, err);
}

static int f_check_container(struct bm_blob_client *c, const char *container,
			     struct bm_error *err)
{
	if (inject(c, "check_container", err))
		return -1;
	return inner_of(c)->ops->check_container(inner_of(c), container, err);
}

static int f_list_containers(struct bm_blob_client *c, const char *prefix,
			     bm_list_cb cb, void *ud, time_t *server_time,
			     struct bm_error *err)
{
	if (server_time)
		*server_time = 0;
	if (inject(c, "list_containers", err))
		return -1;
	return inner_of(c)->ops->list_containers(inner_of(c), prefix, cb, ud,
						 server_time, err);
}

static void f_get_stats(struct bm_blob_client *c, struct bm_http_stats *out)
{
	inner_of(c)->ops->get_stats(inner_of(c), out);
}

static void f_free(struct bm_blob_client *c)
{
	struct faulty *f = c->impl;

	bm_blob_client_free(f->inner);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static const struct bm_blob_ops faulty_ops = {
    .list_page = f_list_page,
    .get = f_get,
    .head = f_head,
    .put = f_put,
    .put_block = f_put_block,
    .put_block_list = f_put_block_list,
    .remove = f_remove,
    .copy = f_copy,
    .create_container = f_create_container,
    .delete_container = f_delete_container,
    .check_container = f_check_container,
    .list_containers = f_list_containers,
    .get_stats = f_get_stats,
    .free = f_free,
};

struct bm_blob_client *bm_blob_client_new_faulty(struct bm_blob_client *inner,
						 unsigned seed, double rate)
{
	struct faulty *f = calloc(1, sizeof(*f));

	if (!f) {
		bm_blob_client_free(inner);
		return NULL;
	}
	f->base.ops = &faulty_ops;
	f->base.impl = f;
	f->inner = inner;
	f->rate = rate;
	/* xorshift has one bad state, 0. */
	f->state = seed ? seed : 0x2545f491u;
	pthread_mutex_init(&f->lock, NULL);
	return &f->base;
}
