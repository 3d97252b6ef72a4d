/*
 * pool_spec: the pool settings of `blobmill pool` and `blobmill submit
 * --auto-pool`, their command-line options, and the one JSON builder both
 * use: a Batch PoolSpecification (PoolAddParameter when it carries an id)
 * for a container-enabled Ubuntu image whose start task downloads the node
 * bundle (`make bundle`, blobmill-node-VERSION.tar.gz) as a resource file
 * and runs the installer `blobmill-startup --mounts FILE` as an admin
 * auto-user with waitForSuccess.
 *
 * Credentials reach the nodes the way Batch recommends and never through
 * the bundle: the bundle and mounts file come from SAS-bearing URLs or the
 * account's auto-storage container, and the storage account and a SAS
 * token (never an account key) go into the start task's
 * environmentSettings. Registry passwords come from a file or the
 * environment, never from argv.
 */
#ifndef POOL_SPEC_H
#define POOL_SPEC_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "bm_error.h"

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

/* Option values handled by pool_settings_option(). */
enum {
	POOL_OPT_FIRST = 0x5100,
	POOL_OPT_VM_SIZE = POOL_OPT_FIRST,
	POOL_OPT_NODE_IMAGE,
	POOL_OPT_NODE_AGENT,
	POOL_OPT_DEDICATED,
	POOL_OPT_SPOT,
	POOL_OPT_TASK_SLOTS,
	POOL_OPT_PREFETCH,
	POOL_OPT_BUNDLE_URL,
	POOL_OPT_BUNDLE_CONTAINER_URL,
	POOL_OPT_BUNDLE_STORAGE,
	POOL_OPT_MOUNTS_URL,
	POOL_OPT_MOUNTS,
	POOL_OPT_NODE_IDENTITY,
	POOL_OPT_LAST,
};

/* clang-format off */
#define POOL_SETTINGS_LONGOPTS                                                 \
	{"vm-size", required_argument, NULL, POOL_OPT_VM_SIZE},                \
	{"node-image", required_argument, NULL, POOL_OPT_NODE_IMAGE},          \
	{"node-agent-sku", required_argument, NULL, POOL_OPT_NODE_AGENT},      \
	{"dedicated", required_argument, NULL, POOL_OPT_DEDICATED},            \
	{"spot", required_argument, NULL, POOL_OPT_SPOT},                      \
	{"task-slots", required_argument, NULL, POOL_OPT_TASK_SLOTS},          \
	{"prefetch", required_argument, NULL, POOL_OPT_PREFETCH},              \
	{"bundle-url", required_argument, NULL, POOL_OPT_BUNDLE_URL},          \
	{"bundle-container-url", required_argument, NULL,                      \
	 POOL_OPT_BUNDLE_CONTAINER_URL},                                       \
	{"bundle-storage", required_argument, NULL, POOL_OPT_BUNDLE_STORAGE},  \
	{"mounts-url", required_argument, NULL, POOL_OPT_MOUNTS_URL},          \
	{"mounts", required_argument, NULL, POOL_OPT_MOUNTS},                  \
	{"node-identity", required_argument, NULL, POOL_OPT_NODE_IDENTITY}
/* clang-format on */

/* One line per option, for --help. */
extern const char pool_settings_help[];

/* Handles one option (POOL_OPT_FIRST <= opt < POOL_OPT_LAST); -1 with a
 * message printed on a bad value. arg must outlive s. */
int pool_settings_option(struct pool_settings *s, int opt, const char *arg);

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
