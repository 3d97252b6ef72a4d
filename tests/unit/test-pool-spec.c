/*
 * Unit tests of pool_spec, the one builder of `blobmill pool` and
 * `submit --auto-pool`: the PoolAddParameter shape, that the auto-pool
 * specification is the same object without the id, that a hostile mounts
 * path reaches the installer as exactly one word (split as Batch splits a
 * commandLine), where credentials go, and the settings it refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include "batch.h"
#include "cli.h"
#include "tasktemplate.h"

static json_t *build(const struct pool_settings *s, bool with_id)
{
	struct bm_error err;
	json_t *p;

	bm_error_clear(&err);
	p = pool_spec_build(s, with_id, &err);
	if (!p)
		fail_msg("pool_spec_build: %s", err.msg);
	return p;
}

static const char *str_at(json_t *root, const char *path)
{
	char buf[256], *save = NULL, *part;
	json_t *v = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part && v;
	     part = strtok_r(NULL, ".", &save)) {
		if (json_is_array(v))
			v = json_array_get(v, (size_t)atoi(part));
		else
			v = json_object_get(v, part);
	}
	return json_string_value(v);
}

static void test_defaults(void **state)
{
	struct pool_settings s;
	json_t *p, *st;

	(void)state;
	pool_settings_init(&s);
	s.id = "p1";
	assert_int_equal(pool_settings_add_image(&s, "app:1"), 0);
	assert_int_equal(pool_settings_add_image(&s, "app:1"), 0);
	p = build(&s, true);
	assert_string_equal(str_at(p, "id"), "p1");
	assert_string_equal(str_at(p, "vmSize"), POOL_DEFAULT_VM_SIZE);
	assert_string_equal(
	    str_at(p,
		   "virtualMachineConfiguration.containerConfiguration.type"),
	    "dockerCompatible");
	assert_int_equal(
	    json_array_size(json_object_get(
		json_object_get(
		    json_object_get(p, "virtualMachineConfiguration"),
		    "containerConfiguration"),
		"containerImageNames")),
	    1);
	assert_string_equal(
	    str_at(p, "virtualMachineConfiguration.imageReference.version"),
	    "latest");
	assert_string_equal(
	    str_at(p, "virtualMachineConfiguration.nodeAgentSKUId"),
	    POOL_DEFAULT_NODE_AGENT);
	assert_int_equal(
	    json_integer_value(json_object_get(p, "targetDedicatedNodes")), 1);
	st = json_object_get(p, "startTask");
	assert_true(json_is_true(json_object_get(st, "waitForSuccess")));
	assert_string_equal(str_at(st, "userIdentity.autoUser.scope"), "pool");
	assert_string_equal(str_at(st, "userIdentity.autoUser.elevationLevel"),
			    "admin");
	assert_string_equal(
	    str_at(st, "resourceFiles.0.autoStorageContainerName"),
	    POOL_DEFAULT_BUNDLE_CONTAINER);
	assert_int_equal(
	    json_array_size(json_object_get(st, "environmentSettings")), 0);
	json_decref(p);
}

/* --auto-pool and `blobmill pool` must not drift apart. */
static void test_spec_is_pool_without_id(void **state)
{
	struct pool_settings s;
	json_t *with, *without;

	(void)state;
	pool_settings_init(&s);
	s.id = "p1";
	s.dedicated = 0;
	s.low_priority = 7;
	s.bundle_url = "https://a.blob.core.windows.net/b/x.tgz?sig=abc";
	with = build(&s, true);
	without = build(&s, false);
	assert_null(json_object_get(without, "id"));
	assert_int_equal(json_object_del(with, "id"), 0);
	assert_true(json_equal(with, without));
	json_decref(with);
	json_decref(without);
}

/* The mounts path is the installer's one argument, whatever it holds. */
static void test_hostile_mounts_path(void **state)
{
	const char *path = "my mounts/it's $(touch pwned) \"x\"\n`y`.txt";
	struct pool_settings s;
	struct bm_error err;
	char **argv = NULL;
	size_t argc = 0;
	json_t *p;

	(void)state;
	pool_settings_init(&s);
	s.mounts = path;
	p = build(&s, false);
	bm_error_clear(&err);
	assert_int_equal(task_cmdline_split(str_at(p, "startTask.commandLine"),
					    &argv, &argc, &err),
			 0);
	assert_int_equal(argc, 4);
	assert_string_equal(argv[0], "/bin/bash");
	assert_string_equal(argv[1], "-c");
	assert_non_null(strstr(argv[2], "blobmill-startup --mounts \"$0\""));
	assert_string_equal(argv[3], path);
	task_argv_free(argv);
	json_decref(p);
}

static void test_credentials(void **state)
{
	struct pool_settings s;
	json_t *p, *env;

	(void)state;
	pool_settings_init(&s);
	s.storage_account = "acct";
	s.storage_endpoint = "https://acct.blob.core.windows.net";
	s.storage_sas = "sv=2021-08-06&sig=abc";
	s.registry = "r.azurecr.io";
	s.registry_user = "u";
	s.registry_password = "pw";
	s.mounts_url = "https://acct.blob.core.windows.net/c/m.txt?sig=x";
	p = build(&s, true);
	env = json_object_get(json_object_get(p, "startTask"),
			      "environmentSettings");
	assert_int_equal(json_array_size(env), 3);
	assert_string_equal(str_at(env, "2.name"), "AZURE_STORAGE_SAS_TOKEN");
	assert_string_equal(str_at(env, "2.value"), s.storage_sas);
	assert_string_equal(
	    str_at(p, "virtualMachineConfiguration.containerConfiguration."
		      "containerRegistries.0.password"),
	    "pw");
	assert_string_equal(str_at(p, "startTask.resourceFiles.1.filePath"),
			    "mounts.txt");
	assert_non_null(
	    strstr(str_at(p, "startTask.commandLine"), "' 'mounts.txt'"));
	json_decref(p);
}

static void expect_refused(const struct pool_settings *s, const char *text)
{
	struct bm_error err;

	bm_error_clear(&err);
	assert_null(pool_spec_build(s, true, &err));
	assert_int_not_equal(err.code, BM_OK);
	if (!strstr(err.msg, text))
		fail_msg("expected '%s' in '%s'", text, err.msg);
}

static void test_refused(void **state)
{
	struct pool_settings s;

	(void)state;
	pool_settings_init(&s);
	s.bundle_url = "https://x/y";
	s.bundle_storage = "b";
	expect_refused(&s, "only one of --bundle-url");
	pool_settings_init(&s);
	s.node_image = "ubuntu";
	expect_refused(&s, "PUBLISHER:OFFER:SKU");
	s.node_image = "a:b:c:d:e";
	expect_refused(&s, "PUBLISHER:OFFER:SKU");
	s.node_image = "a::c";
	expect_refused(&s, "PUBLISHER:OFFER:SKU");
	pool_settings_init(&s);
	s.registry = "r.azurecr.io";
	s.registry_user = "u";
	expect_refused(&s, "'r.azurecr.io'");
}

#define UAI                                                                    \
	"/subscriptions/0000/resourceGroups/rg/providers/"                     \
	"Microsoft.ManagedIdentity/userAssignedIdentities/nodes"

/* A node identity: the pool carries it, pulls the image, fetches the
 * bundle and mounts with it, and holds no SAS and no password. */
static void test_node_identity(void **state)
{
	struct pool_settings s;
	struct bm_error err;
	json_t *p, *env;
	char *text;

	(void)state;
	pool_settings_init(&s);
	assert_int_equal(
	    pool_settings_option(&s, POOL_OPT_NODE_IDENTITY, "nodes"), -1);
	assert_int_equal(pool_settings_option(&s, POOL_OPT_NODE_IDENTITY, UAI),
			 0);
	s.storage_account = "acct";
	s.storage_endpoint = "https://acct.blob.core.windows.net";
	s.storage_sas = "sv=2021-08-06&sig=abc";
	s.registry = "r.azurecr.io";
	s.bundle_container_url = "https://acct.blob.core.windows.net/blobmill";
	s.mounts_url = "https://acct.blob.core.windows.net/blobmill/m.txt";
	p = build(&s, true);
	assert_string_equal(str_at(p, "identity.type"), "UserAssigned");
	assert_string_equal(
	    str_at(p, "identity.userAssignedIdentities.0.resourceId"), UAI);
	assert_string_equal(
	    str_at(p, "virtualMachineConfiguration.containerConfiguration."
		      "containerRegistries.0.identityReference.resourceId"),
	    UAI);
	assert_string_equal(
	    str_at(p, "startTask.resourceFiles.0.identityReference.resourceId"),
	    UAI);
	assert_string_equal(
	    str_at(p, "startTask.resourceFiles.1.identityReference.resourceId"),
	    UAI);
	env = json_object_get(json_object_get(p, "startTask"),
			      "environmentSettings");
	assert_int_equal(json_array_size(env), 4);
	assert_string_equal(str_at(env, "2.name"), "AZURE_STORAGE_AUTH_TYPE");
	assert_string_equal(str_at(env, "2.value"), "MSI");
	assert_string_equal(str_at(env, "3.name"),
			    "AZURE_STORAGE_IDENTITY_RESOURCE_ID");
	assert_string_equal(str_at(env, "3.value"), UAI);
	text = json_dumps(p, JSON_COMPACT);
	assert_null(strstr(text, "sig="));
	assert_null(strstr(text, "password"));
	assert_null(strstr(text, "SAS_TOKEN"));
	free(text);
	json_decref(p);

	/* A password and the identity for one registry: one of them. */
	s.registry_user = "u";
	s.registry_password = "pw";
	bm_error_clear(&err);
	assert_null(pool_spec_build(&s, true, &err));
	assert_string_equal(err.msg, "registry 'r.azurecr.io': give a password "
				     "or --node-identity, not both");
}

static void test_options(void **state)
{
	struct pool_settings s;
	int i;

	(void)state;
	pool_settings_init(&s);
	assert_int_equal(pool_settings_option(&s, POOL_OPT_DEDICATED, "3"), 0);
	assert_int_equal(s.dedicated, 3);
	assert_int_equal(pool_settings_option(&s, POOL_OPT_SPOT, "-1"), -1);
	assert_int_equal(pool_settings_option(&s, POOL_OPT_TASK_SLOTS, "0"),
			 -1);
	assert_int_equal(pool_settings_option(&s, POOL_OPT_TASK_SLOTS, "2x"),
			 -1);
	assert_int_equal(s.task_slots, 1);
	for (i = 0; i < POOL_MAX_IMAGES; i++) {
		char *img;

		assert_true(asprintf(&img, "img%d", i) > 0);
		assert_int_equal(pool_settings_add_image(&s, img), 0);
		/* the settings borrow the string: keep it */
	}
	assert_int_equal(pool_settings_option(&s, POOL_OPT_PREFETCH, "more"),
			 -1);
	for (i = 0; i < POOL_MAX_IMAGES; i++)
		free((char *)s.images[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_spec_is_pool_without_id),
	    cmocka_unit_test(test_hostile_mounts_path),
	    cmocka_unit_test(test_credentials),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_node_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
