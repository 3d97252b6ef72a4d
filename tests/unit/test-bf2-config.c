/*
 * test-bf2-config: blobfuse2's YAML config as fusefs/bf2_config.c reads
 * it: every mapped key lands in its field with its line, blobfuse2's value
 * spellings (quoted numbers, octal permissions, yes/no), empty values,
 * and each error with its exact one-line message: unknown key (with the
 * nearest name), wrong type, a secret never echoed, a key or section given
 * twice, an unsupported component, not YAML, not a mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bf2_config.h"
#include "bm_log.h"

#define SECRET_KEY "c2VjcmV0LWtleS0wMTIzNDU2Nzg5"

static int parse(struct bf2_config *c, const char *yaml, struct bm_error *err)
{
	bf2_config_init(c);
	bm_error_clear(err);
	return bf2_config_parse_buffer(c, yaml, strlen(yaml), "in.yaml", err);
}

static void expect_error(const char *yaml, const char *msg)
{
	struct bf2_config c;
	struct bm_error err;

	assert_int_equal(parse(&c, yaml, &err), -1);
	assert_int_equal(err.code, BM_ERR_CONFIG);
	assert_string_equal(err.msg, msg);
	assert_null(strstr(err.msg, SECRET_KEY));
	bf2_config_release(&c);
}

static void test_sample_config(void **state)
{
	/* The shape of blobfuse2's documented sample, every mapped key. */
	const char *yaml =
	    "# sample\n"
	    "allow-other: true\n"
	    "read-only: no\n"
	    "logging:\n"
	    "  type: syslog\n"
	    "  level: log_debug\n"
	    "components:\n"
	    "  - libfuse\n"
	    "  - block_cache\n"
	    "  - attr_cache\n"
	    "  - azstorage\n"
	    "libfuse:\n"
	    "  attribute-expiration-sec: 240\n"
	    "  entry-expiration-sec: \"30\"\n"
	    "  negative-entry-expiration-sec: 0\n"
	    "  default-permission: 0755\n"
	    "block_cache:\n"
	    "  block-size-mb: 16\n"
	    "  mem-size-mb: 4096\n"
	    "  prefetch: 12\n"
	    "  parallelism: 64\n"
	    "  path: /mnt/bc\n"
	    "attr_cache:\n"
	    "  timeout-sec: 7200\n"
	    "azstorage:\n"
	    "  type: block\n"
	    "  account-name: myaccount\n"
	    "  account-key: " SECRET_KEY "\n"
	    "  sas:\n"
	    "  endpoint: https://myaccount.blob.core.windows.net\n"
	    "  mode: key\n"
	    "  container: data-in\n"
	    "  max-retries: 7\n"
	    "  max-retry-timeout-sec: 60\n";
	struct bf2_config c;
	struct bm_error err;

	(void)state;
	assert_int_equal(parse(&c, yaml, &err), 0);
	assert_true(c.allow_other.v);
	assert_int_equal(c.allow_other.line, 2);
	assert_int_equal(c.read_only.line, 3);
	assert_false(c.read_only.v);
	assert_string_equal(c.log_level.v, "log_debug");
	assert_int_equal(c.components, BF2_LIBFUSE | BF2_BLOCK_CACHE |
					   BF2_ATTR_CACHE | BF2_AZSTORAGE);
	assert_int_equal(c.components_line, 7);
	assert_int_equal(c.attr_expiration.v, 240);
	assert_int_equal(c.entry_expiration.v, 30);
	assert_int_equal(c.negative_expiration.line, 15);
	assert_int_equal(c.negative_expiration.v, 0);
	assert_int_equal(c.default_permission.v, 0755);
	assert_int_equal(c.bc_mem_size.v, 4096);
	assert_int_equal(c.bc_prefetch.v, 12);
	assert_int_equal(c.bc_parallelism.v, 64);
	assert_string_equal(c.bc_path.v, "/mnt/bc");
	assert_int_equal(c.ac_timeout.v, 7200);
	assert_string_equal(c.account_key.v, SECRET_KEY);
	assert_int_equal(c.account_key.line, 28);
	/* "sas:" with no value is no SAS. */
	assert_null(c.sas.v);
	assert_int_equal(c.sas.line, 0);
	assert_string_equal(c.container.v, "data-in");
	assert_int_equal(c.az_max_retries.v, 7);
	/* The key is registered for redaction as soon as it is read. */
	{
		char line[128];

		snprintf(line, sizeof(line), "x %s y", SECRET_KEY);
		bm_redact(line, sizeof(line));
		assert_null(strstr(line, SECRET_KEY));
	}
	bf2_config_release(&c);
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error("azstorage:\n  acount-name: x\n",
		     "in.yaml:2: unknown key 'azstorage.acount-name' (did you "
		     "mean 'account-name'?)");
	expect_error("libfuse:\n  frobnicate: 1\n",
		     "in.yaml:2: unknown key 'libfuse.frobnicate' (see "
		     "blobmill-fuse(8), BLOBFUSE2 CONFIGURATION)");
	expect_error("read-onyl: true\n", "in.yaml:1: unknown key 'read-onyl' "
					  "(did you mean 'read-only'?)");
	/* A pasted key where a name goes is not echoed. */
	expect_error("azstorage:\n  " SECRET_KEY "==: 1\n",
		     "in.yaml:2: not a key of blobfuse2's config (not shown: "
		     "it may hold a secret)");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error("libfuse:\n  attribute-expiration-sec: -1\n",
		     "in.yaml:2: 'libfuse.attribute-expiration-sec' must be a "
		     "whole number from 0 to 31622400, not '-1'");
	expect_error("block_cache:\n  parallelism: 0\n",
		     "in.yaml:2: 'block_cache.parallelism' must be a whole "
		     "number from 1 to 128, not '0'");
	expect_error("read-only: maybe\n",
		     "in.yaml:1: 'read-only' must be true or false, not "
		     "'maybe'");
	expect_error("libfuse:\n  default-permission: 0789\n",
		     "in.yaml:2: 'libfuse.default-permission' must be octal "
		     "permission bits, e.g. 0755, not '0789'");
	expect_error("azstorage:\n  account-key: [" SECRET_KEY "]\n",
		     "in.yaml:2: 'azstorage.account-key' must be a single "
		     "value");
	expect_error("components: libfuse\n",
		     "in.yaml:1: 'components' must be a list (- libfuse, - "
		     "file_cache, - attr_cache, - azstorage)");
	expect_error("azstorage: key\n", "in.yaml:1: section 'azstorage' must "
					 "hold 'key: value' lines");
}

static void test_twice_and_structure(void **state)
{
	(void)state;
	expect_error("azstorage:\n  container: a\n  container: b\n",
		     "in.yaml:3: 'azstorage.container' is given twice (first "
		     "on line 2)");
	expect_error("azstorage:\n  container: a\nazstorage:\n  "
		     "account-name: b\n",
		     "in.yaml:3: section 'azstorage' is given twice (first on "
		     "line 1)");
	expect_error("components:\n  - libfuse\n  - stream\n",
		     "in.yaml:3: component 'stream' is not supported by "
		     "blobmill-fuse (it has libfuse, file_cache, block_cache, "
		     "attr_cache, azstorage)");
	expect_error("", "in.yaml: the file is empty");
	expect_error("- a\n- b\n", "in.yaml:1: not a blobfuse2 config "
				   "(expected sections such as 'azstorage:')");
	expect_error("azstorage:\n  container: [a\n",
		     "in.yaml:3: not valid YAML: did not find expected ',' or "
		     "']' while parsing a flow sequence");
}

static void test_ignored_keys(void **state)
{
	struct bf2_config c;
	struct bm_error err;

	(void)state;
	/* Accepted (a warning says they change nothing), typed all the same. */
	assert_int_equal(parse(&c,
			       "logging:\n  file-path: /var/log/b.log\n"
			       "file_cache:\n  policy: lru\n"
			       "azstorage:\n  virtual-directory: true\n",
			       &err),
			 0);
	bf2_config_release(&c);
	expect_error("logging:\n  file-path:\n    - a\n",
		     "in.yaml:3: 'logging.file-path' must be a single value");
}

static void test_yaml_names(void **state)
{
	(void)state;
	assert_true(bf2_is_yaml_name("in.yaml"));
	assert_true(bf2_is_yaml_name("/etc/b/IN.YML"));
	assert_false(bf2_is_yaml_name("fuse_conn.cfg"));
	assert_false(bf2_is_yaml_name(".yaml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sample_config),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_twice_and_structure),
	    cmocka_unit_test(test_ignored_keys),
	    cmocka_unit_test(test_yaml_names),
	};

	bm_log_init("test-bf2-config", BM_LOG_OFF, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
