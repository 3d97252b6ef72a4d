/*
 * pool_spec: see pool_spec.h. One builder for `blobmill pool` and for the
 * autoPoolSpecification of `blobmill submit --auto-pool`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_config.h"
#include "bm_log.h"
#include "config.h"
#include "batch.h"

/* What `make bundle` produces and what it unpacks to. */
#define POOL_BUNDLE_NAME "blobmill-node-" PACKAGE_VERSION ".tar.gz"
#define POOL_BUNDLE_DIR "blobmill-node-" PACKAGE_VERSION
#define POOL_MOUNTS_FILE "mounts.txt"

void pool_settings_init(struct pool_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->vm_size = POOL_DEFAULT_VM_SIZE;
	s->node_image = POOL_DEFAULT_NODE_IMAGE;
	s->node_agent_sku = POOL_DEFAULT_NODE_AGENT;
	s->dedicated = 1;
	s->task_slots = 1;
}

int pool_settings_add_image(struct pool_settings *s, const char *image)
{
	size_t i;

	for (i = 0; i < s->nimages; i++)
		if (!strcmp(s->images[i], image))
			return 0;
	if (s->nimages == POOL_MAX_IMAGES)
		return -1;
	s->images[s->nimages++] = image;
	return 0;
}

void pool_settings_storage(struct pool_settings *s, const struct bm_config *cfg)
{
	if (s->node_identity) {
		s->storage_account = cfg->account;
		s->storage_endpoint = cfg->endpoint;
		return;
	}
	if (!cfg->sas_token) {
		bm_warn("the pool's nodes get no storage credentials: a pool "
			"never carries an account key; set "
			"AZURE_STORAGE_SAS_TOKEN to a SAS for the containers "
			"they mount, or give their config files with "
			"--mounts-url");
		return;
	}
	s->storage_account = cfg->account;
	s->storage_endpoint = cfg->endpoint;
	s->storage_sas = cfg->sas_token;
}

static json_t *image_reference(const char *spec, struct bm_error *err)
{
	char part[4][128] = {"", "", "", "latest"};
	const char *p = spec;
	int n = 0;

	while (n < 4) {
		size_t len = strcspn(p, ":");

		if (len == 0 || len >= sizeof(part[0]))
			break;
		memcpy(part[n], p, len);
		part[n][len] = '\0';
		n++;
		p += len;
		if (*p != ':')
			break;
		p++;
	}
	if (n < 3 || *p) {
		bm_error_set(err, BM_ERR_INVALID,
			     "invalid --node-image '%s': expected "
			     "PUBLISHER:OFFER:SKU[:VERSION]",
			     spec);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:s}", "publisher", part[0], "offer",
			 part[1], "sku", part[2], "version", part[3]);
}

/* {"resourceId": ID}: how Batch names the node identity to use. */
static json_t *identity_reference(const struct pool_settings *s)
{
	return json_pack("{s:s}", "resourceId", s->node_identity);
}

/* A resource file fetched with the node identity when there is one. */
static json_t *with_identity(const struct pool_settings *s, json_t *file)
{
	if (file && s->node_identity)
		json_object_set_new(file, "identityReference",
				    identity_reference(s));
	return file;
}

static json_t *container_configuration(const struct pool_settings *s,
				       struct bm_error *err)
{
	json_t *cc, *names = json_array();
	size_t i;

	for (i = 0; i < s->nimages; i++)
		json_array_append_new(names, json_string(s->images[i]));
	cc = json_pack("{s:s, s:o}", "type", "dockerCompatible",
		       "containerImageNames", names);
	if (!cc || !s->registry)
		return cc;
	if (s->node_identity && s->registry_password) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "registry '%s': give a password or "
			     "--node-identity, not both",
			     s->registry);
		json_decref(cc);
		return NULL;
	}
	if (s->node_identity) {
		json_object_set_new(cc, "containerRegistries",
				    json_pack("[{s:s, s:o}]", "registryServer",
					      s->registry, "identityReference",
					      identity_reference(s)));
		return cc;
	}
	if (!s->registry_user || !s->registry_password) {
		bm_error_set(
		    err, BM_ERR_CONFIG,
		    "registry '%s' needs --registry-user and a password",
		    s->registry);
		json_decref(cc);
		return NULL;
	}
	json_object_set_new(cc, "containerRegistries",
			    json_pack("[{s:s, s:s, s:s}]", "registryServer",
				      s->registry, "username", s->registry_user,
				      "password", s->registry_password));
	return cc;
}

/* The bundle as a ResourceFile; NULL with err set on conflicting sources. */
static json_t *bundle_resource(const struct pool_settings *s,
			       struct bm_error *err)
{
	int nsrc =
	    !!s->bundle_url + !!s->bundle_container_url + !!s->bundle_storage;

	if (nsrc > 1) {
		bm_error_set(err, BM_ERR_INVALID,
			     "give only one of --bundle-url, "
			     "--bundle-container-url and --bundle-storage");
		return NULL;
	}
	if (s->bundle_url)
		return with_identity(s, json_pack("{s:s, s:s}", "httpUrl",
						  s->bundle_url, "filePath",
						  POOL_BUNDLE_NAME));
	/* From a container, only the bundle (blobPrefix) lands in the
	 * working directory. */
	if (s->bundle_container_url)
		return with_identity(
		    s, json_pack("{s:s, s:s}", "storageContainerUrl",
				 s->bundle_container_url, "blobPrefix",
				 POOL_BUNDLE_NAME));
	return with_identity(
	    s, json_pack("{s:s, s:s}", "autoStorageContainerName",
			 s->bundle_storage ? s->bundle_storage
					   : POOL_DEFAULT_BUNDLE_CONTAINER,
			 "blobPrefix", POOL_BUNDLE_NAME));
}

void pool_env_add(json_t *env, const char *name, const char *value)
{
	if (value && *value)
		json_array_append_new(
		    env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

json_t *pool_storage_env(const char *account, const char *endpoint,
			 const char *sas)
{
	json_t *env = json_array();

	pool_env_add(env, "AZURE_STORAGE_ACCOUNT", account);
	pool_env_add(env, "AZURE_STORAGE_BLOB_ENDPOINT", endpoint);
	pool_env_add(env, "AZURE_STORAGE_SAS_TOKEN", sas);
	return env;
}

void pool_identity_env(json_t *env, const char *identity)
{
	if (!identity)
		return;
	pool_env_add(env, "AZURE_STORAGE_AUTH_TYPE", "MSI");
	pool_env_add(env, "AZURE_STORAGE_IDENTITY_RESOURCE_ID", identity);
}

static json_t *start_task(const struct pool_settings *s, struct bm_error *err)
{
	const char *mounts = s->mounts	     ? s->mounts
			     : s->mounts_url ? POOL_MOUNTS_FILE
					     : POOL_BUNDLE_DIR
				 "/" POOL_MOUNTS_FILE;
	json_t *files = json_array(), *bundle, *st = NULL;
	json_t *env =
	    pool_storage_env(s->storage_account, s->storage_endpoint,
			     s->node_identity ? NULL : s->storage_sas);
	char *qm = task_shell_quote(mounts), *cmd = NULL;

	bundle = bundle_resource(s, err);
	if (!bundle || !qm)
		goto out;
	json_array_append_new(files, bundle);
	pool_identity_env(env, s->node_identity);
	if (s->mounts_url)
		json_array_append_new(
		    files, with_identity(s, json_pack("{s:s, s:s}", "httpUrl",
						      s->mounts_url, "filePath",
						      POOL_MOUNTS_FILE)));
	/* The installer unpacks nothing itself from a path it must guess:
	 * the start task's working directory holds the bundle. */
	if (asprintf(&cmd,
		     "/bin/bash -c 'set -e; tar -xzf " POOL_BUNDLE_NAME
		     "; exec ./" POOL_BUNDLE_DIR "/blobmill-startup --mounts "
		     "\"$0\"' %s",
		     qm) < 0) {
		cmd = NULL;
		goto out;
	}
	st = json_pack("{s:s, s:O, s:O, s:{s:{s:s, s:s}}, s:i, s:b}",
		       "commandLine", cmd, "resourceFiles", files,
		       "environmentSettings", env, "userIdentity", "autoUser",
		       "scope", "pool", "elevationLevel", "admin",
		       "maxTaskRetryCount", 2, "waitForSuccess", 1);
out:
	if (!st && err && err->code == BM_OK)
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	json_decref(files);
	json_decref(env);
	free(cmd);
	free(qm);
	return st;
}

json_t *pool_spec_build(const struct pool_settings *s, bool with_id,
			struct bm_error *err)
{
	json_t *pool = json_object(), *img, *cc = NULL, *st = NULL;

	if (!pool)
		goto nomem;
	if (with_id)
		json_object_set_new(pool, "id", json_string(s->id));
	json_object_set_new(pool, "vmSize", json_string(s->vm_size));
	img = image_reference(s->node_image, err);
	if (!img)
		goto fail;
	cc = container_configuration(s, err);
	if (!cc) {
		json_decref(img);
		goto fail;
	}
	json_object_set_new(pool, "virtualMachineConfiguration",
			    json_pack("{s:o, s:s, s:o}", "imageReference", img,
				      "nodeAgentSKUId", s->node_agent_sku,
				      "containerConfiguration", cc));
	json_object_set_new(pool, "targetDedicatedNodes",
			    json_integer(s->dedicated));
	json_object_set_new(pool, "targetLowPriorityNodes",
			    json_integer(s->low_priority));
	json_object_set_new(pool, "taskSlotsPerNode",
			    json_integer(s->task_slots));
	json_object_set_new(pool, "taskSchedulingPolicy",
			    json_pack("{s:s}", "nodeFillType", "spread"));
	/* The identity the nodes carry: Batch's pool identity shape. */
	if (s->node_identity)
		json_object_set_new(
		    pool, "identity",
		    json_pack("{s:s, s:[o]}", "type", "UserAssigned",
			      "userAssignedIdentities", identity_reference(s)));
	st = start_task(s, err);
	if (!st)
		goto fail;
	json_object_set_new(pool, "startTask", st);
	return pool;
nomem:
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
fail:
	json_decref(pool);
	return NULL;
}
