/*
 * The interface of batch/, blobmill's side of Azure Batch: the REST
 * client (batch_client.c), adding tasks to a job (batch_add.c), following
 * them to the end (batch_wait.c), the report of a job (batch_report.c) and
 * the pool JSON (pool_spec.c). cli/ (cmd_submit.c, cmd_pool.c) decides
 * what to do and what to tell the user; tasks come from template/.
 */
#ifndef BATCH_CLIENT_H
#define BATCH_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bm_blob.h"
#include "bm_error.h"
#include "bm_http.h"
#include "task.h"

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

/*
 * batch_add: adds a stream of tasks to one job with addtaskcollection.
 *
 * Tasks are packed into chunks of at most 100 tasks and under 1 MB of
 * JSON, the service's limits, and several chunks are in flight at once
 * (worker threads; the producer blocks while all are busy, so memory stays
 * bounded whatever the number of tasks). Per chunk:
 *   - 413: the chunk is split in halves, and later chunks are no larger
 *     than the half (the service's real limit is below ours);
 *   - servererror results: those tasks are sent again, with backoff, up
 *     to a bounded number of attempts;
 *   - clienterror results: the task is not added; its id and the
 *     service's code and message are kept for the report;
 *   - TaskExists: the task is in the job (the caller skipped the ids that
 *     existed before it started, so this is an earlier attempt of ours that
 *     the service applied but whose reply was lost) and counts as added;
 *   - a request that fails as a whole (network, throttling past bm_http's
 *     retry budget) is tried again like servererror; then its tasks are
 *     reported as not confirmed.
 * The report names every task that was not added, so no partial job is
 * silent; a rerun (which skips existing ids) adds exactly those.
 */

#define BATCH_ADD_MAX_TASKS 100
/* "Under 1 MB": below both 10^6 and 2^20 bytes. */
#define BATCH_ADD_MAX_BYTES 1000000

struct batch_add_opts {
	int parallel;	  /* requests in flight (default 4) */
	int max_attempts; /* per task, for servererror (default 5) */
	size_t max_tasks; /* per request (default BATCH_ADD_MAX_TASKS) */
	size_t max_bytes; /* per request body (default BATCH_ADD_MAX_BYTES) */
	long backoff_ms;  /* first wait before a retry (default 500) */
};

void batch_add_opts_default(struct batch_add_opts *o);

/* One task that was not added. */
struct batch_add_failure {
	char *task_id;
	char *blob;   /* the task's displayName (its input blob), or NULL */
	char *reason; /* one line: "TaskExists: ...", "request failed: ..." */
};

struct batch_add_report {
	size_t submitted; /* tasks handed to batch_adder_add */
	size_t added;	  /* now in the job (TaskExists included) */
	size_t requests;  /* addtaskcollection requests sent */
	size_t splits;	  /* chunks halved after a 413 */
	struct batch_add_failure *failures; /* malloc()ed array */
	size_t nfailures;
};

/* Frees the failures and zeroes the report. */
void batch_add_report_release(struct batch_add_report *r);

struct batch_adder;

/* Starts the workers. c must outlive the adder. */
struct batch_adder *batch_adder_new(struct batch_client *c, const char *job_id,
				    const struct batch_add_opts *o,
				    struct bm_error *err);

/*
 * Queues one TaskAddParameter (borrowed: it is serialized at once). May
 * block while every worker is busy. -1 with err set only when the task
 * cannot be queued at all (no memory); a task the service refuses is a
 * failure in the report, not an error here.
 */
int batch_adder_add(struct batch_adder *a, const json_t *task,
		    struct bm_error *err);

/* Sends what is queued, waits for every request, fills *r (the caller
 * releases it) and frees the adder. */
void batch_adder_finish(struct batch_adder *a, struct batch_add_report *r);

/*
 * batch_wait: follows a job's tasks until they are all completed, with a
 * progress line, then summarizes the failed ones (`blobmill submit
 * --wait`).
 *
 * Polling costs one request per round (Get Task Counts), whatever the
 * number of tasks; the interval grows while nothing changes and when the
 * service throttles (its Retry-After is honoured, beyond bm_http's own
 * retries), and shrinks back when tasks move. Only the failed tasks are
 * listed at the end ($filter on executionInfo/result).
 */

struct batch_wait_opts {
	double interval_s;     /* first and shortest poll interval (5) */
	double max_interval_s; /* longest interval between polls (60) */
	double timeout_s;      /* give up after this long; 0: never */
	int max_errors;	       /* consecutive transient errors tolerated (10) */
};

void batch_wait_opts_default(struct batch_wait_opts *o);

/*
 * Polls until no task is active or running and at least `expected` tasks
 * are completed. Progress goes to `progress` (rewritten in place on a
 * terminal, one line per change otherwise). *final receives the last
 * counts. -1 with err set on a lasting error or the timeout.
 */
int batch_wait_job(struct batch_client *c, const char *job_id, long expected,
		   const struct batch_wait_opts *o, FILE *progress,
		   struct batch_task_counts *final, struct bm_error *err);

/*
 * Prints one entry per failed task of the job to out: id, input blob,
 * exit code or failure code and message, and where its stdout.txt and
 * stderr.txt are. Returns the number of failed tasks, -1 with err set.
 */
long batch_report_failures(struct batch_client *c, const char *job_id,
			   FILE *out, struct bm_error *err);

/*
 * batch_report: `submit --wait --report FILE`, the task_report lines of
 * a Batch job. While tasks are added it remembers, per task id, the blob
 * and output name of every selected blob (added now or already in the
 * job) and writes at once the lines that are final then (invalid,
 * skipped-existing, not-added); after the wait it writes one line per
 * remembered task from the job's task list (state, exit code, retries,
 * duration from executionInfo) and whether each output exists (one
 * listing of the output container).
 */

struct batch_report;

/* Creates (truncates) path; *out malloc()ed, batch_report_close. */
int batch_report_open(const char *path, struct batch_report **out,
		      struct bm_error *err);

/* A selected blob's task, added now or already in the job. -1 with err
 * on allocation failure. */
int batch_report_select(struct batch_report *br, const struct task *t,
			struct bm_error *err);

/* The line of a blob the listing skipped. */
void batch_report_skip(struct batch_report *br, const struct task_skip *sk);

/* The line of a task that could not be added. */
void batch_report_not_added(struct batch_report *br, const char *task_id,
			    const char *blob, const char *reason);

/*
 * The lines of the selected tasks, from GET /jobs/JOB/tasks; output
 * (may be NULL: output_exists null) is listed once through c. -1 with
 * err set when the task list cannot be read (lines already written stay).
 */
int batch_report_finish(struct batch_report *br, struct batch_client *bc,
			const char *job_id, struct bm_blob_client *c,
			const char *output, struct bm_error *err);

/* Frees br (NULL: nothing); -1 with err set if the file is incomplete. */
int batch_report_close(struct batch_report *br, struct bm_error *err);

/*
 * pool_spec: the pool settings of `blobmill pool` and `blobmill submit
 * --auto-pool` (their command-line options: cli/cli_pool.c) and the one
 * JSON builder both use: a Batch PoolSpecification (PoolAddParameter when it
 * carries an id) for a container-enabled Ubuntu image whose start task
 * downloads the node bundle (`make bundle`, blobmill-node-VERSION.tar.gz) as a
 * resource file and runs the installer `blobmill-startup --mounts FILE` as an
 * admin auto-user with waitForSuccess.
 *
 * Credentials reach the nodes the way Batch recommends and never through
 * the bundle: the bundle and mounts file come from SAS-bearing URLs or the
 * account's auto-storage container, and the storage account and a SAS
 * token (never an account key) go into the start task's
 * environmentSettings. Registry passwords come from a file or the
 * environment, never from argv.
 */

#define POOL_MAX_IMAGES 16

/* Defaults: a container-capable Batch image (Docker-compatible runtime
 * preinstalled) and its node agent. */
#define POOL_DEFAULT_NODE_IMAGE "microsoft-dsvm:ubuntu-hpc:2204:latest"
#define POOL_DEFAULT_NODE_AGENT "batch.node.ubuntu 22.04"
#define POOL_DEFAULT_VM_SIZE "standard_d2s_v3"
#define POOL_DEFAULT_BUNDLE_CONTAINER "blobmill"

struct pool_settings {
	const char *id; /* pool id (blobmill pool) */
	const char *vm_size;
	const char *node_image; /* PUBLISHER:OFFER:SKU[:VERSION] */
	const char *node_agent_sku;
	long dedicated;			     /* targetDedicatedNodes */
	long low_priority;		     /* targetLowPriorityNodes (spot) */
	long task_slots;		     /* taskSlotsPerNode */
	const char *images[POOL_MAX_IMAGES]; /* container images to prefetch */
	size_t nimages;
	/* Private registry of the images (the task template's --registry
	 * options), or NULL; the password is a value, never from argv. */
	const char *registry;
	const char *registry_user;
	const char *registry_password;
	/* Where the start task gets the bundle: exactly one of these; the
	 * auto-storage container POOL_DEFAULT_BUNDLE_CONTAINER by default. */
	const char *bundle_url;		  /* httpUrl (SAS-bearing blob URL) */
	const char *bundle_container_url; /* storageContainerUrl (with SAS) */
	const char *bundle_storage;	  /* autoStorageContainerName */
	const char *mounts_url;		  /* SAS-bearing URL of a mounts file */
	const char *mounts;		  /* mounts file path on the node */
	/* Storage credentials for the start task's environment (copied from
	 * the configuration by the caller; SAS only). */
	const char *storage_account;
	const char *storage_endpoint;
	const char *storage_sas;
	/* A user-assigned managed identity the nodes carry (its ARM resource
	 * id), or NULL. With it the pool holds no SAS and no registry
	 * password: the nodes pull the image, fetch the bundle and mount
	 * with that identity (authType MSI). */
	const char *node_identity;
};

/* Defaults: 1 dedicated node, 0 spot, 1 slot, the images above. */
void pool_settings_init(struct pool_settings *s);

/*
 * Copies the storage account, endpoint and SAS token of cfg (borrowed:
 * keep cfg alive) for the start task's environment. A configuration with
 * only an account key gives the nodes nothing, with a warning: a key never
 * goes into pool JSON. With a node identity, only the account and the
 * endpoint: the nodes sign in with the identity.
 */
struct bm_config;
void pool_settings_storage(struct pool_settings *s,
			   const struct bm_config *cfg);

/* Appends {"name", "value"} to an environmentSettings array unless value
 * is NULL or empty. */
void pool_env_add(json_t *env, const char *name, const char *value);

/* environmentSettings with the storage account, endpoint and SAS token
 * (those that are set), as blobmill-fuse and the CLI read them. New
 * reference. */
json_t *pool_storage_env(const char *account, const char *endpoint,
			 const char *sas);

/* Adds AZURE_STORAGE_AUTH_TYPE=MSI and AZURE_STORAGE_IDENTITY_RESOURCE_ID
 * to env when identity (an ARM resource id) is set: blobmill-fuse and the
 * CLI then sign in with the node's user-assigned identity. */
void pool_identity_env(json_t *env, const char *identity);

/* Adds an image to prefetch unless it is there already; -1 when full. */
int pool_settings_add_image(struct pool_settings *s, const char *image);

/*
 * The pool JSON. with_id: a PoolAddParameter (`blobmill pool`), else a
 * PoolSpecification for an autoPoolSpecification. The caller
 * json_decref()s the result; NULL with err set on bad settings.
 */
json_t *pool_spec_build(const struct pool_settings *s, bool with_id,
			struct bm_error *err);

#endif
