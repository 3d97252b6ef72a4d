/*
 * batch_client: a small Azure Batch REST client (api-version
 * BM_BATCH_API_VERSION) for `blobmill submit`: pool get, job add/get/patch,
 * task counts, task add collection, task list with $select/$filter and
 * odata.nextLink paging, job schedule add. Bodies are JSON (jansson).
 *
 * Requests go through bm_http (retries, Retry-After, counters under
 * BM_OP_BATCH) and are signed with the Batch SharedKey scheme of bm_auth,
 * or carry an Entra ID token (BM_SCHEME_BATCH_BEARER, resource
 * https://batch.core.windows.net/), or carry the job-scoped bearer token Batch
 * gives a job manager task (AZ_BATCH_AUTHENTICATION_TOKEN), so a node never
 * needs the account key.
 *
 * Errors: the service's error body ({"code", "message": {"value"}}, or the
 * older {"odata.error": ...}) is kept: err->azure_code gets the code and
 * err->msg the first line of the message. The client does not decide what
 * an error means for the user; cmd_submit.c does.
 *
 * Thread-safe: any number of threads may use one client at once.
 */
#ifndef BATCH_CLIENT_H
#define BATCH_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm_error.h"
#include "bm_http.h"

/* Where the Batch account is and how to authenticate to it. */
struct batch_account {
	char *url;	    /* e.g. "https://acct.westeurope.batch.azure.com",
			     * no trailing '/' */
	char *name;	    /* account name (signed into every request) */
	unsigned char *key; /* decoded account key, or NULL with a token */
	size_t key_len;
	char *token; /* job-scoped bearer token, or NULL; never logged */
	struct bm_token *entra; /* Entra ID token source (resource Batch),
				 * borrowed: the caller frees it after the
				 * client; or NULL */
};

/*
 * Fills `a` from the options (any may be NULL), falling back to
 * AZURE_BATCH_ENDPOINT, AZURE_BATCH_ACCOUNT and AZURE_BATCH_ACCESS_KEY, and
 * on a Batch node (no key anywhere) to AZ_BATCH_ACCOUNT_URL and
 * AZ_BATCH_AUTHENTICATION_TOKEN; with neither, to `entra` (an Entra ID
 * token source for BM_RESOURCE_BATCH, borrowed; may be NULL), which needs
 * an https account URL. The key file holds the base64 key (a
 * trailing newline is fine); one readable by group or others draws a
 * warning. The account name defaults to the first label of a
 * *.batch.azure.com host. Release with batch_account_release.
 */
int batch_account_load(struct batch_account *a, const char *url,
		       const char *name, const char *key_file,
		       struct bm_token *entra, struct bm_error *err);

/* Whether batch_account_load would find a key or a job token (options or
 * environment): when not, the caller sets up an Entra ID token. */
bool batch_account_has_secret(const char *key_file);
/* Frees every field (wiping the key) and zeroes the struct. */
void batch_account_release(struct batch_account *a);

struct batch_client;

/* The account is copied. Free with batch_client_free. */
struct batch_client *batch_client_new(const struct batch_account *a,
				      const struct bm_http_options *o,
				      struct bm_error *err);
void batch_client_free(struct batch_client *c);

/* Request counters of the client's bm_http (for tests and --verbose). */
void batch_client_stats(struct batch_client *c, struct bm_http_stats *out);

/*
 * GET /pools/ID (with $select when select is not NULL). *out (may be NULL)
 * receives the pool object; the caller json_decref()s it.
 */
int batch_pool_get(struct batch_client *c, const char *pool_id,
		   const char *select, json_t **out, struct bm_error *err);

/* POST /jobs with a JobAddParameter. 409 JobExists keeps azure_code. */
int batch_job_add(struct batch_client *c, const json_t *job,
		  struct bm_error *err);

/* GET /jobs/ID; *out is the job object, the caller json_decref()s it. */
int batch_job_get(struct batch_client *c, const char *job_id,
		  const char *select, json_t **out, struct bm_error *err);

/* PATCH /jobs/ID with a JobPatchParameter (only the fields it holds). */
int batch_job_patch(struct batch_client *c, const char *job_id,
		    const json_t *patch, struct bm_error *err);

struct batch_task_counts {
	long active, running, completed, succeeded, failed;
};

/*
 * GET /jobs/ID/taskcounts. retry_after_ms (may be NULL) receives the
 * service's Retry-After of the final response when it sent one, else -1,
 * so a polling loop can wait as long as the service asks.
 */
int batch_job_task_counts(struct batch_client *c, const char *job_id,
			  struct batch_task_counts *out, long *retry_after_ms,
			  struct bm_error *err);

/*
 * POST /jobs/ID/addtaskcollection with `body`, an already serialized
 * TaskAddCollectionParameter ({"value": [...]}) of `len` bytes: the caller
 * sizes chunks by their serialized length. *result receives the
 * TaskAddCollectionResult's "value" array (the caller json_decref()s it).
 * A 413 fails with BM_ERR_TOO_LARGE.
 */
int batch_task_add_collection(struct batch_client *c, const char *job_id,
			      const char *body, size_t len, json_t **result,
			      struct bm_error *err);

/* Called once per task of a listing; nonzero stops it (BM_ERR_ABORTED).
 * The object is borrowed: json_incref() it to keep it. */
typedef int (*batch_item_fn)(json_t *item, void *ud);

/*
 * GET /jobs/ID/tasks with $select and $filter (either may be NULL),
 * following odata.nextLink until the last page.
 */
int batch_task_list(struct batch_client *c, const char *job_id,
		    const char *select, const char *filter, batch_item_fn cb,
		    void *ud, struct bm_error *err);

/* POST /jobschedules with a JobScheduleAddParameter. */
int batch_job_schedule_add(struct batch_client *c, const json_t *schedule,
			   struct bm_error *err);

#endif
