/*
 * bm_blob_azure_impl: what the two parts of the Azure blob client share;
 * not for callers (they use bm_blob.h). bm_blob_azure.c holds the client
 * object, how one request is made, and the blob operations;
 * bm_blob_azure_containers.c the listings and everything addressed to a
 * container or the account.
 */
#ifndef BM_BLOB_AZURE_IMPL_H
#define BM_BLOB_AZURE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bm_blob.h"
#include "bm_token.h"

struct azure {
	struct bm_blob_client base;
	char *endpoint;
	char *account;
	char *sas_token;
	unsigned char *key;
	size_t key_len;
	struct bm_token *token; /* Entra ID auth types, else NULL */
	struct bm_auth auth;	/* points into the fields above */
	struct bm_retry_policy retry;
	struct bm_http *http;
};

static inline struct azure *az_of(struct bm_blob_client *c)
{
	return c->impl;
}

/* One request to the Blob service, before bm_az_perform makes its URL. */
struct hdrs; /* a header list (bm_blob_azure.c) */

struct call {
	const char *method;
	enum bm_op op;
	const char *container;
	const char *name;  /* NULL: container-level */
	const char *query; /* already encoded, or NULL */
	struct hdrs *hdrs;
	const struct bm_body *body;
	bm_sink_fn sink;
	void *sink_ud;
	bool idempotent;
};

/* "container/name" for messages, cut at a UTF-8 boundary after about 80
 * bytes ("..."). */
void bm_az_subject(const char *container, const char *name, char *out,
		   size_t cap);

/* Azure's names: err set and -1 when a container or blob name is not
 * one (name may be NULL: container-level). */
int bm_az_check_container_name(const char *container, struct bm_error *err);
int bm_az_check_names(const char *container, const char *name,
		      struct bm_error *err);

/* Sends call through bm_http (retries included); resp may be NULL. */
int bm_az_perform(struct azure *az, const struct call *call,
		  struct bm_http_response *resp, struct bm_error *err);

/* First message wins: an error the caller already holds stays. */
void bm_az_error_take(struct bm_error *err, const struct bm_error *e);

/* A broken connection or a timeout, as opposed to a status. */
bool bm_az_transport_failure(const struct bm_error *e);

/* Waits before a resume/refetch attempt per the retry policy; false when
 * the policy says to give up. */
bool bm_az_resume_wait(struct azure *az, int attempt, long start_ms,
		       unsigned *seed);

long bm_az_mono_ms(void);

/* A delete or create that was retried may have succeeded on an attempt
 * whose response was lost: the retry then sees "gone" / "exists". */
bool bm_az_lost_success(const struct bm_http_response *r,
			const struct bm_error *e, enum bm_errc a,
			enum bm_errc b);

/* The operations of bm_blob_azure_containers.c (see struct bm_blob_ops). */
int bm_az_list_page(struct bm_blob_client *c, const char *container,
		    const struct bm_list_opts *o, bm_list_cb cb, void *ud,
		    char **next_marker, struct bm_error *err);
int bm_az_create_container(struct bm_blob_client *c, const char *container,
			   struct bm_error *err);
int bm_az_delete_container(struct bm_blob_client *c, const char *container,
			   struct bm_error *err);
int bm_az_check_container(struct bm_blob_client *c, const char *container,
			  struct bm_error *err);
int bm_az_list_containers(struct bm_blob_client *c, const char *prefix,
			  bm_list_cb cb, void *ud, time_t *server_time,
			  struct bm_error *err);

#endif
