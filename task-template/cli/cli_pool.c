/*
 * cli_pool: the command-line options of a pool's settings, shared by
 * `blobmill pool` and `blobmill submit --auto-pool` (batch/pool_spec.c
 * builds the JSON from the settings they fill).
 */
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "cli.h"

const char pool_settings_help[] =
    "pool settings:\n"
    "  --vm-size SIZE            VM size (default " POOL_DEFAULT_VM_SIZE ")\n"
    "  --node-image P:O:S[:V]    marketplace image "
    "(default " POOL_DEFAULT_NODE_IMAGE ")\n"
    "  --node-agent-sku SKU      node agent (default '" POOL_DEFAULT_NODE_AGENT
    "')\n"
    "  --dedicated N             dedicated nodes (default 1)\n"
    "  --spot N                  spot (low-priority) nodes (default 0)\n"
    "  --task-slots N            task slots per node (default 1)\n"
    "  --prefetch IMAGE          container image to pull at node start "
    "(repeatable)\n"
    "  --bundle-url URL          node bundle from a (SAS) blob URL\n"
    "  --bundle-container-url URL  ... from a (SAS) container URL\n"
    "  --bundle-storage NAME     ... from the account's auto-storage "
    "container\n"
    "                            (default '" POOL_DEFAULT_BUNDLE_CONTAINER
    "')\n"
    "  --mounts-url URL          mounts file from a (SAS) URL\n"
    "  --mounts PATH             mounts file on the node (default: the "
    "bundle's)\n"
    "  --node-identity ID        user-assigned managed identity (ARM "
    "resource id)\n"
    "                            the nodes carry and use for the registry, "
    "the\n"
    "                            bundle and the mounts: no SAS or password "
    "in the pool\n";

/* A count option into a long field, through the CLI's one number parser. */
static int parse_count(const char *opt, const char *arg, long min, long max,
		       long *out)
{
	int v;

	if (cli_parse_int(NULL, opt, arg, min, max, &v))
		return -1;
	*out = v;
	return 0;
}

int pool_settings_option(struct pool_settings *s, int opt, const char *arg)
{
	switch (opt) {
	case POOL_OPT_VM_SIZE:
		s->vm_size = arg;
		return 0;
	case POOL_OPT_NODE_IMAGE:
		s->node_image = arg;
		return 0;
	case POOL_OPT_NODE_AGENT:
		s->node_agent_sku = arg;
		return 0;
	case POOL_OPT_DEDICATED:
		return parse_count("dedicated", arg, 0, 100000, &s->dedicated);
	case POOL_OPT_SPOT:
		return parse_count("spot", arg, 0, 100000, &s->low_priority);
	case POOL_OPT_TASK_SLOTS:
		/* Batch allows up to 256 slots per node. */
		return parse_count("task-slots", arg, 1, 256, &s->task_slots);
	case POOL_OPT_PREFETCH:
		if (pool_settings_add_image(s, arg) < 0) {
			fprintf(stderr,
				"blobmill: too many --prefetch images (at most "
				"%d)\n",
				POOL_MAX_IMAGES);
			return -1;
		}
		return 0;
	case POOL_OPT_BUNDLE_URL:
		s->bundle_url = arg;
		return 0;
	case POOL_OPT_BUNDLE_CONTAINER_URL:
		s->bundle_container_url = arg;
		return 0;
	case POOL_OPT_BUNDLE_STORAGE:
		s->bundle_storage = arg;
		return 0;
	case POOL_OPT_MOUNTS_URL:
		s->mounts_url = arg;
		return 0;
	case POOL_OPT_MOUNTS:
		s->mounts = arg;
		return 0;
	case POOL_OPT_NODE_IDENTITY:
		/* An ARM id: /subscriptions/.../userAssignedIdentities/NAME */
		if (arg[0] != '/' ||
		    !strstr(arg, "/providers/Microsoft.ManagedIdentity/"
				 "userAssignedIdentities/")) {
			fprintf(stderr,
				"blobmill: invalid --node-identity '%s': "
				"expected the resource id of a user-assigned "
				"identity (/subscriptions/.../providers/"
				"Microsoft.ManagedIdentity/"
				"userAssignedIdentities/NAME)\n",
				arg);
			return -1;
		}
		s->node_identity = arg;
		return 0;
	}
	fprintf(stderr, "blobmill: internal error: unknown pool option %d\n",
		opt);
	return -1;
}
