/*
 * test-cli-common: what every `blobmill` command shares (cli_common.c):
 * exact checks of the credential option values, the credential precedence
 * (config file, then the environment for what the file left unset, then
 * the options), and the one-line error reports for failures that a real
 * Azurite cannot easily produce (timeouts, 5xx, throttling).
 * Nothing here touches the network: making the client sends no request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bm_config.h"
#include "cli.h"
#include "storage.h"

#include "test-env.h"

/* Runs fn with stderr sent to a buffer; returns what it printed
 * (malloc()ed, the caller frees it). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/test-cli-common.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char *out = calloc(1, 8192);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0 && out);
	fflush(stderr);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, 8191, 0);
	assert_true(n >= 0);
	close(fd);
	unlink(path);
	return out;
}

/* --- option values --- */

struct opt_case {
	int opt;
	const char *arg;
};

static void call_option(void *arg)
{
	const struct opt_case *c = arg;
	struct cli_cred cred;

	cli_cred_init(&cred);
	assert_int_equal(cli_cred_option(&cred, c->opt, c->arg), -1);
}

static void expect_bad_option(int opt, const char *arg, const char *msg)
{
	struct opt_case c = {opt, arg};
	char *out = capture_stderr(call_option, &c);

	if (!strstr(out, msg) || strncmp(out, "blobmill: ", 10) ||
	    strchr(out, '\n') != out + strlen(out) - 1)
		fail_msg("value '%s': got '%s', wanted one line with '%s'", arg,
			 out, msg);
	free(out);
}

static void test_option_values_exact(void **state)
{
	struct cli_cred cred;

	(void)state;
	cli_cred_init(&cred);
	assert_int_equal(cred.max_retry, -1);
	assert_int_equal(cred.max_retry_interval, -1);

	assert_int_equal(cli_cred_option(&cred, CLI_OPT_USE_HTTPS, "false"), 0);
	assert_string_equal(cred.use_https, "false");
	assert_int_equal(cli_cred_option(&cred, CLI_OPT_MAX_RETRY, "0"), 0);
	assert_int_equal(cred.max_retry, 0);
	assert_int_equal(cli_cred_option(&cred, CLI_OPT_MAX_RETRY, "100"), 0);
	assert_int_equal(cred.max_retry, 100);
	assert_int_equal(
	    cli_cred_option(&cred, CLI_OPT_MAX_RETRY_INTERVAL, "3600"), 0);
	assert_int_equal(cred.max_retry_interval, 3600);
	assert_int_equal(cli_cred_option(&cred, CLI_OPT_INSECURE, NULL), 0);
	assert_true(cred.insecure);

	/* Near misses are errors, never silently taken. */
	expect_bad_option(CLI_OPT_USE_HTTPS, "True", "expected true or false");
	expect_bad_option(CLI_OPT_USE_HTTPS, "1", "expected true or false");
	expect_bad_option(CLI_OPT_USE_HTTPS, "", "expected true or false");
	expect_bad_option(CLI_OPT_MAX_RETRY, "101", "from 0 to 100");
	expect_bad_option(CLI_OPT_MAX_RETRY, "-1", "from 0 to 100");
	expect_bad_option(CLI_OPT_MAX_RETRY, "+5", "from 0 to 100");
	expect_bad_option(CLI_OPT_MAX_RETRY, " 5", "from 0 to 100");
	expect_bad_option(CLI_OPT_MAX_RETRY, "5x", "from 0 to 100");
	expect_bad_option(CLI_OPT_MAX_RETRY, "", "from 0 to 100");
	expect_bad_option(CLI_OPT_MAX_RETRY, "99999999999999999999",
			  "from 0 to 100");
	expect_bad_option(CLI_OPT_MAX_RETRY_INTERVAL, "0", "from 1 to 3600");
	expect_bad_option(CLI_OPT_ENDPOINT, "ftp://host/acct",
			  "expected an http:// or https:// URL");
	expect_bad_option(CLI_OPT_ENDPOINT, "", "needs a value");
	expect_bad_option(CLI_OPT_ACCOUNT, "", "needs a value");
	expect_bad_option(CLI_OPT_CA_CERT, "/nonexistent/ca.pem",
			  "cannot read --ca-cert-file '/nonexistent/ca.pem'");
}

/* --- precedence --- */

static char *write_config(const char *text)
{
	char *path = strdup("/tmp/test-cli-common-cfg.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static struct bm_blob_client *open_client(const struct cli_cred *cred,
					  struct bm_config *cfg)
{
	bm_config_init(cfg);
	return cli_open_client(cred, cfg);
}

static void test_file_wins_env_fills_options_override(void **state)
{
	char *path = write_config("accountName fileacct\n"
				  "accountKey " DEV_KEY "\n");
	struct bm_blob_client *c;
	struct cli_cred cred;
	struct bm_config cfg;

	(void)state;
	setenv("AZURE_STORAGE_ACCOUNT", "envacct", 1);
	setenv("AZURE_STORAGE_SAS_TOKEN", "sv=1&sig=abc", 1);
	setenv("AZURE_STORAGE_BLOB_ENDPOINT", "http://127.0.0.1:9/envacct", 1);
	cli_cred_init(&cred);
	cred.config_file = path;

	/* The file's account and key win; its key keeps the environment's
	 * SAS out; the endpoint it lacks comes from the environment. */
	c = open_client(&cred, &cfg);
	assert_non_null(c);
	assert_string_equal(cfg.account, "fileacct");
	assert_non_null(cfg.account_key);
	assert_null(cfg.sas_token);
	assert_string_equal(cfg.endpoint, "http://127.0.0.1:9/envacct");
	bm_blob_client_free(c);
	bm_config_release(&cfg);

	/* Options override both. */
	cred.account = "optacct";
	cred.endpoint = "https://optacct.blob.example.net";
	c = open_client(&cred, &cfg);
	assert_non_null(c);
	assert_string_equal(cfg.account, "optacct");
	assert_string_equal(cfg.endpoint, "https://optacct.blob.example.net");
	bm_blob_client_free(c);
	bm_config_release(&cfg);

	unlink(path);
	free(path);
}

static void test_use_https_false_default_endpoint(void **state)
{
	struct bm_blob_client *c;
	struct cli_cred cred;
	struct bm_config cfg;

	(void)state;
	setenv("AZURE_STORAGE_ACCOUNT", "myacct", 1);
	setenv("AZURE_STORAGE_ACCESS_KEY", DEV_KEY, 1);
	cli_cred_init(&cred);
	assert_int_equal(cli_cred_option(&cred, CLI_OPT_USE_HTTPS, "false"), 0);
	c = open_client(&cred, &cfg);
	assert_non_null(c);
	assert_string_equal(cfg.endpoint,
			    "http://myacct.blob.core.windows.net");
	bm_blob_client_free(c);
	bm_config_release(&cfg);
}

static void call_open(void *arg)
{
	struct bm_config cfg;

	assert_null(open_client(arg, &cfg));
	bm_config_release(&cfg);
}

static void test_config_error_is_one_line_without_secret(void **state)
{
	char *path = write_config("accountName myacct\n"
				  "accountKey " DEV_KEY "\n"
				  "sasToken sv=1&sig=SECRETSIG\n");
	struct cli_cred cred;
	char *out;

	(void)state;
	cli_cred_init(&cred);
	cred.config_file = path;
	out = capture_stderr(call_open, &cred);
	assert_non_null(strstr(out, "blobmill: both an account key and a SAS"));
	assert_null(strstr(out, "SECRETSIG"));
	assert_null(strstr(out, DEV_KEY));
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	free(out);
	unlink(path);
	free(path);

	/* Nothing configured at all. */
	cli_cred_init(&cred);
	out = capture_stderr(call_open, &cred);
	assert_non_null(strstr(out, "blobmill: no storage account given"));
	free(out);
}

/* --- error reports --- */

struct report_case {
	const char *what;
	struct bm_error err;
};

static void call_report(void *arg)
{
	struct report_case *r = arg;

	term_report(r->what, &r->err);
}

static void expect_report(const char *what, enum bm_errc code, long status,
			  const char *azure_code, const char *msg,
			  const char *want)
{
	struct report_case r = {.what = what};
	char *out;

	bm_error_clear(&r.err);
	if (status)
		bm_error_set_http(&r.err, code, status, azure_code, "%s", msg);
	else
		bm_error_set(&r.err, code, "%s", msg);
	out = capture_stderr(call_report, &r);
	if (strcmp(out, want))
		fail_msg("got      '%s'\nexpected '%s'", out, want);
	free(out);
}

static void test_reports(void **state)
{
	(void)state;
	/* The client's own context is not repeated. */
	expect_report("cannot list 'data'", BM_ERR_NO_CONTAINER, 404,
		      "ContainerNotFound",
		      "cannot list 'data': container not found (404 "
		      "ContainerNotFound: The specified container does not "
		      "exist.)",
		      "blobmill: cannot list 'data': container not found (404 "
		      "ContainerNotFound)\n");
	expect_report("cannot list 'data'", BM_ERR_AUTH, 403,
		      "AuthenticationFailed", "cannot list 'data': whatever",
		      "blobmill: cannot list 'data': authentication failed "
		      "(403 AuthenticationFailed): check the account key or "
		      "SAS token\n");
	expect_report("cannot list 'data'", BM_ERR_NETWORK, 0, NULL,
		      "cannot list 'data': cannot connect to '127.0.0.1:1': "
		      "connection refused",
		      "blobmill: cannot list 'data': endpoint unreachable: "
		      "cannot connect to '127.0.0.1:1': connection refused\n");
	expect_report("cannot get 'data/x'", BM_ERR_TIMEOUT, 0, NULL,
		      "cannot get 'data/x': no response from '127.0.0.1:1': "
		      "timeout",
		      "blobmill: cannot get 'data/x': timed out: no response "
		      "from '127.0.0.1:1': timeout\n");
	/* Statuses without a category of their own keep the service's
	 * explanation. */
	expect_report("cannot upload 'data/x'", BM_ERR_THROTTLED, 503,
		      "ServerBusy",
		      "cannot upload 'data/x': throttled by the service (503 "
		      "ServerBusy: The server is busy.)",
		      "blobmill: cannot upload 'data/x': throttled by the "
		      "service (503 ServerBusy: The server is busy.)\n");
	expect_report("cannot get 'data/x'", BM_ERR_HTTP, 400, "", "odd reply",
		      "blobmill: cannot get 'data/x': unexpected HTTP status "
		      "(400): odd reply\n");
	/* A message from elsewhere keeps its own words. */
	expect_report("cannot get 'data/x'", BM_ERR_IO, 0, NULL, "disk on fire",
		      "blobmill: cannot get 'data/x': disk on fire\n");
	expect_report("cannot get 'data/x'", BM_ERR_ABORTED, 0, NULL, "",
		      "blobmill: cannot get 'data/x': aborted\n");
	/* A name with a newline or ESC still makes one safe line. */
	expect_report("cannot get 'data/a\nb\x1b[2J'", BM_ERR_NOT_FOUND, 404,
		      "BlobNotFound", "x",
		      "blobmill: cannot get 'data/a\\nb\\x1b[2J': not found "
		      "(404 BlobNotFound)\n");
}

/* --- names: blob <-> local path (st_names.c) --- */

static void test_local_names(void **state)
{
	char long_component[300];

	(void)state;
	assert_null(st_local_problem("a"));
	assert_null(st_local_problem("with space/it's \"q\"/$(x)"));
	assert_null(st_local_problem("new\nline"));
	assert_null(st_local_problem("dir/")); /* a folder */
	assert_non_null(st_local_problem(""));
	assert_non_null(st_local_problem(".."));
	assert_non_null(st_local_problem("a/../b"));
	assert_non_null(st_local_problem("a/./b"));
	assert_non_null(st_local_problem("a//b"));
	assert_non_null(st_local_problem("/abs"));
	memset(long_component, 'x', 256);
	long_component[256] = '\0';
	assert_non_null(st_local_problem(long_component));
	long_component[255] = '\0';
	assert_null(st_local_problem(long_component));
}

static void test_blob_names(void **state)
{
	char name[1100];

	(void)state;
	assert_int_equal(st_utf8_chars("abc"), 3);
	assert_int_equal(st_utf8_chars("\xc3\xa9t\xc3\xa9"), 3);
	assert_int_equal(st_utf8_chars("\xe6\x97\xa5"), 1);
	assert_int_equal(st_utf8_chars("latin1-\xe9"), -1);
	assert_int_equal(st_utf8_chars("\xc0\xaf"), -1);     /* overlong '/' */
	assert_int_equal(st_utf8_chars("\xed\xa0\x80"), -1); /* surrogate */
	assert_null(st_blob_problem("p/", "a b/$(c)"));
	assert_non_null(st_blob_problem("p/", "latin1-\xe9"));
	/* 1,024 characters with the prefix, and not one more. */
	memset(name, 'a', 1020);
	name[1020] = '\0';
	assert_null(st_blob_problem("pre/", name));
	assert_non_null(st_blob_problem("pre/x", name));
	assert_string_equal(st_basename("a/b/c.txt"), "c.txt");
	assert_string_equal(st_basename("c.txt"), "c.txt");
}

static void test_folder_prefix(void **state)
{
	char *p;

	(void)state;
	p = st_folder_prefix("");
	assert_string_equal(p, "");
	free(p);
	p = st_folder_prefix("x");
	assert_string_equal(p, "x/");
	free(p);
	p = st_folder_prefix("x/y/");
	assert_string_equal(p, "x/y/");
	free(p);
}

/* --- unknown options: one format for every command --- */

static const struct option some_opts[] = {
    {"image", required_argument, NULL, 1},
    {"input", required_argument, NULL, 2},
    {"help", no_argument, NULL, 3},
    {NULL, 0, NULL, 0},
};

struct bad_case {
	char *argv[3];
	int opt;
};

static void call_bad_option(void *arg)
{
	struct bad_case *c = arg;
	int opt;

	optind = 1;
	opterr = 0;
	opt = getopt_long(2, c->argv, ":h", some_opts, NULL);
	assert_true(opt == '?' || opt == ':');
	cli_bad_option("run", opt, c->argv, some_opts);
}

static void expect_bad(char *arg, const char *want)
{
	struct bad_case c = {{"run", arg, NULL}, 0};
	char *out = capture_stderr(call_bad_option, &c);

	assert_string_equal(out, want);
	free(out);
}

static void test_bad_option(void **state)
{
	(void)state;
	expect_bad("--imgae",
		   "blobmill: run: unknown option '--imgae' (did "
		   "you mean --image?); see 'blobmill run --help'\n");
	expect_bad("--imgae=x", "blobmill: run: unknown option '--imgae' "
				"(did you mean --image?); see 'blobmill run "
				"--help'\n");
	expect_bad("--frobnicate", "blobmill: run: unknown option "
				   "'--frobnicate'; see 'blobmill run "
				   "--help'\n");
	expect_bad("-z", "blobmill: run: unknown option '-z'; see 'blobmill "
			 "run --help'\n");
	expect_bad("--image", "blobmill: run: option '--image' needs a "
			      "value; see 'blobmill run --help'\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_option_values_exact),
	    cmocka_unit_test_setup(test_file_wins_env_fills_options_override,
				   clear_env),
	    cmocka_unit_test_setup(test_use_https_false_default_endpoint,
				   clear_env),
	    cmocka_unit_test_setup(test_config_error_is_one_line_without_secret,
				   clear_env),
	    cmocka_unit_test(test_reports),
	    cmocka_unit_test(test_local_names),
	    cmocka_unit_test(test_blob_names),
	    cmocka_unit_test(test_folder_prefix),
	    cmocka_unit_test(test_bad_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
