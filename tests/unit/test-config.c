/*
 * test-config: the blobfuse v1 config file (CRLF, comments, blanks, BOM),
 * every validation error with its message, the environment, connection
 * strings (BlobEndpoint, EndpointSuffix, UseDevelopmentStorage), the
 * permission warning, and that secrets are registered for redaction.
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
#include "bm_log.h"

#include "test-env.h"
#define SAS                                                                    \
	"sv=2021-08-06&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&sig="    \
	"abc%2Bdef%3D"

/* Parses buf as a config file and finishes; returns the rc of whichever
 * step failed (cfg is released by the caller). */
static int parse(struct bm_config *cfg, const char *buf, bool need_container,
		 struct bm_error *err)
{
	bm_config_init(cfg);
	bm_error_clear(err);
	if (bm_config_parse_buffer(cfg, buf, strlen(buf), "test.cfg", err) < 0)
		return -1;
	return bm_config_finish(cfg, need_container, err);
}

static void expect_error(const char *buf, bool need_container, const char *msg)
{
	struct bm_config cfg;
	struct bm_error err;

	assert_int_equal(parse(&cfg, buf, need_container, &err), -1);
	assert_int_equal(err.code, BM_ERR_CONFIG);
	assert_string_equal(err.msg, msg);
	assert_null(strchr(err.msg, '\n'));
	assert_null(strstr(err.msg, DEV_KEY));
	bm_config_release(&cfg);
}

static void test_file_crlf_comments(void **state)
{
	const char *buf =
	    "\xEF\xBB\xBF# blobfuse config\r\n"
	    "\r\n"
	    "accountName devstoreaccount1\r\n"
	    "   # indented comment\r\n"
	    "accountKey " DEV_KEY "\r\n"
	    "\t\r\n"
	    "containerName\tdata-in  \r\n"
	    "authType Key\r\n"
	    "blobEndpoint http://127.0.0.1:10000/devstoreaccount1/";
	struct bm_config cfg;
	struct bm_error err;

	(void)state;
	assert_int_equal(parse(&cfg, buf, true, &err), 0);
	assert_string_equal(cfg.account, "devstoreaccount1");
	assert_string_equal(cfg.account_key, DEV_KEY);
	assert_string_equal(cfg.container, "data-in");
	assert_string_equal(cfg.endpoint,
			    "http://127.0.0.1:10000/devstoreaccount1");
	assert_int_equal(cfg.auth_type, BM_AUTH_KEY);
	assert_int_equal(cfg.key_len, 64);
	assert_int_equal(cfg.key[0], 0x11);
	assert_null(cfg.sas_token);
	/* Finishing again (after a caller changed a field) is fine. */
	free(cfg.container);
	cfg.container = strdup("other-container");
	assert_int_equal(bm_config_finish(&cfg, true, &err), 0);
	assert_int_equal(cfg.key_len, 64);
	assert_string_equal(cfg.endpoint,
			    "http://127.0.0.1:10000/devstoreaccount1");
	bm_config_release(&cfg);
	assert_null(cfg.account);
	assert_null(cfg.key);
	assert_true(cfg.use_https);
}

static void test_file_sas_default_endpoint(void **state)
{
	struct bm_config cfg;
	struct bm_error err;

	(void)state;
	assert_int_equal(
	    parse(&cfg, "accountName myacct\nsasToken ?" SAS "\nauthType SAS\n",
		  false, &err),
	    0);
	assert_string_equal(cfg.sas_token, SAS);
	assert_int_equal(cfg.auth_type, BM_AUTH_SAS);
	assert_string_equal(cfg.endpoint,
			    "https://myacct.blob.core.windows.net");
	assert_null(cfg.container);
	bm_config_release(&cfg);

	/* --use-https=false before finish gives an http endpoint. */
	bm_config_init(&cfg);
	cfg.use_https = false;
	assert_int_equal(bm_config_parse_buffer(&cfg,
						"accountName myacct\n"
						"sasToken " SAS "\n",
						strlen("accountName myacct\n"
						       "sasToken " SAS "\n"),
						"x", &err),
			 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.endpoint,
			    "http://myacct.blob.core.windows.net");
	bm_config_release(&cfg);
}

static void test_file_errors(void **state)
{
	(void)state;
	expect_error("accountName a1b\n\naccountname x\n", false,
		     "test.cfg:3: unknown key 'accountname' (known: "
		     "accountName, accountKey, sasToken, containerName, "
		     "authType, blobEndpoint, identityClientId, "
		     "identityObjectId, identityResourceId, msiEndpoint, "
		     "servicePrincipalClientId, servicePrincipalTenantId, "
		     "servicePrincipalClientSecret, aadEndpoint)");
	expect_error("# c\r\nfoo bar\r\n", false,
		     "test.cfg:2: unknown key 'foo' (known: accountName, "
		     "accountKey, sasToken, containerName, authType, "
		     "blobEndpoint, identityClientId, identityObjectId, "
		     "identityResourceId, msiEndpoint, "
		     "servicePrincipalClientId, servicePrincipalTenantId, "
		     "servicePrincipalClientSecret, aadEndpoint)");
	expect_error("accountName acct\n" DEV_KEY "\n", false,
		     "test.cfg:2: not a 'key value' line (not shown: it may "
		     "hold a secret)");
	expect_error("accountName acct # my account\n", false,
		     "test.cfg:1: the value of 'accountName' has a blank in it "
		     "(comments go on their own line)");
	expect_error("accountName\n", false,
		     "test.cfg:1: 'accountName' has no value");
	expect_error("accountName acct\nauthType OAuth\n", false,
		     "test.cfg:2: authType 'OAuth' is not supported (use Key, "
		     "SAS, MSI, SPN or AzCli)");
	expect_error("accountKey " DEV_KEY "\n", false,
		     "no storage account given: set accountName in the config "
		     "file, AZURE_STORAGE_ACCOUNT or "
		     "AZURE_STORAGE_CONNECTION_STRING");
	expect_error("accountName acct\n", false,
		     "no credentials for account 'acct': give an account key "
		     "(accountKey, AZURE_STORAGE_ACCESS_KEY), a SAS token "
		     "(sasToken, AZURE_STORAGE_SAS_TOKEN) or an Entra ID "
		     "identity (authType MSI, SPN or AzCli)");
	expect_error("accountName acct\naccountKey " DEV_KEY "\nsasToken " SAS
		     "\n",
		     false,
		     "both an account key and a SAS token are given for "
		     "'acct': keep only one");
	expect_error("accountName acct\naccountKey abc!def=\n", false,
		     "the account key for 'acct' is not valid base64 (copy it "
		     "again from the portal)");
	expect_error("accountName acct\naccountKey " DEV_KEY " x\n", false,
		     "test.cfg:2: the value of 'accountKey' has a blank in it "
		     "(comments go on their own line)");
	expect_error("accountName acct\naccountKey " DEV_KEY "x\n", false,
		     "the account key for 'acct' is not valid base64 (copy it "
		     "again from the portal)");
	expect_error("accountName acct\nsasToken " SAS "\nauthType Key\n",
		     false,
		     "authType is Key but no account key is given for 'acct'");
	expect_error("accountName acct\naccountKey " DEV_KEY "\nauthType sas\n",
		     false,
		     "authType is SAS but no SAS token is given for 'acct'");
	expect_error("accountName acct\nsasToken sv=1&sp=r\n", false,
		     "the SAS token for 'acct' is malformed (no sig= "
		     "parameter, or blanks in it)");
	expect_error("accountName acct\naccountKey " DEV_KEY
		     "\nblobEndpoint ftp://x/\n",
		     false,
		     "bad blob endpoint 'ftp://x': expected http(s)://HOST"
		     "[:PORT][/PATH]");
	expect_error("accountName acct\naccountKey " DEV_KEY
		     "\nblobEndpoint http://\n",
		     false,
		     "bad blob endpoint 'http:': expected http(s)://HOST"
		     "[:PORT][/PATH]");
	expect_error("accountName acct\naccountKey " DEV_KEY
		     "\nblobEndpoint http://h/a?x=1\n",
		     false,
		     "bad blob endpoint 'http://h/a?x=1': expected "
		     "http(s)://HOST[:PORT][/PATH]");
	expect_error("accountName acct\naccountKey " DEV_KEY "\n", true,
		     "no container given: set containerName in the config "
		     "file or use --container-name");
	expect_error(
	    "accountName acct\naccountKey " DEV_KEY "\ncontainerName Data_In\n",
	    false,
	    "bad container name 'Data_In': use 3-63 lowercase letters, "
	    "digits and single hyphens");
	expect_error(
	    "accountName My-Account\naccountKey " DEV_KEY "\n", false,
	    "bad account name 'My-Account': use 3-24 lowercase letters "
	    "and digits");
}

static void test_names_valid(void **state)
{
	(void)state;
	assert_true(bm_container_name_valid("abc"));
	assert_true(bm_container_name_valid("data-in-2"));
	assert_true(bm_container_name_valid("$root"));
	assert_false(bm_container_name_valid("ab"));
	assert_false(bm_container_name_valid("-abc"));
	assert_false(bm_container_name_valid("abc-"));
	assert_false(bm_container_name_valid("a--b"));
	assert_false(bm_container_name_valid("a/b"));
	assert_false(bm_container_name_valid("$other"));
	assert_true(bm_account_name_valid("devstoreaccount1"));
	assert_false(bm_account_name_valid("ab"));
	assert_false(bm_account_name_valid("abcdefghijklmnopqrstuvwxy"));
}

/* Writes buf to a new file with mode; returns the malloc()ed path. */
static char *write_file(const char *buf, mode_t mode)
{
	char *path = strdup("/tmp/test-config.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* Stderr goes to a temporary file between capture_begin and capture_end,
 * which returns what was printed (caller frees). */
struct capture {
	char path[32];
	int fd, saved;
};

static void capture_begin(struct capture *c)
{
	snprintf(c->path, sizeof(c->path), "/tmp/test-config-err.XXXXXX");
	c->fd = mkstemp(c->path);
	c->saved = dup(2);
	assert_true(c->fd >= 0 && c->saved >= 0);
	fflush(stderr);
	dup2(c->fd, 2);
}

static char *capture_end(struct capture *c)
{
	off_t len;
	char *out;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	len = lseek(c->fd, 0, SEEK_END);
	out = calloc(1, (size_t)len + 1);
	assert_int_equal(pread(c->fd, out, (size_t)len, 0), (ssize_t)len);
	close(c->fd);
	unlink(c->path);
	return out;
}

/* Loads path with stderr captured; returns what was printed. */
static char *load_capturing(struct bm_config *cfg, const char *path, int *rc,
			    struct bm_error *err)
{
	struct capture c;

	capture_begin(&c);
	*rc = bm_config_load_file(cfg, path, err);
	return capture_end(&c);
}

/* An endpoint that names another account than the one given: a warning
 * (a 403 would follow), not an error (proxies may have paths). */
static void test_endpoint_account_mismatch(void **state)
{
	struct bm_config cfg;
	struct bm_error err;
	struct capture c;
	char *out;

	(void)state;
	bm_log_init("test-config", BM_LOG_WARNING, false);
	capture_begin(&c);
	assert_int_equal(
	    parse(&cfg,
		  "accountName acct\naccountKey " DEV_KEY
		  "\nblobEndpoint http://127.0.0.1:1/devstoreaccount1\n",
		  false, &err),
	    0);
	bm_config_release(&cfg);
	assert_int_equal(
	    parse(&cfg,
		  "accountName acct\naccountKey " DEV_KEY
		  "\nblobEndpoint https://acct.blob.core.windows.net\n",
		  false, &err),
	    0);
	bm_config_release(&cfg);
	out = capture_end(&c);
	assert_string_equal(out,
			    "test-config: warning: blob endpoint "
			    "'http://127.0.0.1:1/devstoreaccount1' names "
			    "account 'devstoreaccount1', but the account is "
			    "'acct'\n");
	free(out);
}

static void test_load_file_permissions(void **state)
{
	const char *body = "accountName acct\r\naccountKey " DEV_KEY "\r\n";
	struct bm_config cfg;
	struct bm_error err = {0};
	char *path, *out, want[512];
	int rc;

	(void)state;
	bm_log_init("test-config", BM_LOG_WARNING, false);
	path = write_file(body, 0644);
	bm_config_init(&cfg);
	out = load_capturing(&cfg, path, &rc, &err);
	assert_int_equal(rc, 0);
	snprintf(want, sizeof(want),
		 "test-config: warning: config file '%s' is readable by group "
		 "or others; it holds credentials: chmod 600 '%s'\n",
		 path, path);
	assert_string_equal(out, want);
	assert_string_equal(cfg.account, "acct");
	free(out);
	bm_config_release(&cfg);

	assert_int_equal(chmod(path, 0600), 0);
	bm_config_init(&cfg);
	out = load_capturing(&cfg, path, &rc, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	free(out);
	bm_config_release(&cfg);
	unlink(path);

	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_file(&cfg, path, &err), -1);
	assert_int_equal(err.code, BM_ERR_CONFIG);
	snprintf(want, sizeof(want),
		 "cannot read config file '%s': No such file or directory",
		 path);
	assert_string_equal(err.msg, want);
	bm_config_release(&cfg);
	free(path);

	bm_error_clear(&err);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_file(&cfg, "/tmp", &err), -1);
	assert_string_equal(err.msg, "cannot read config file '/tmp': not a "
				     "regular file");
	bm_config_release(&cfg);
}

static void test_env(void **state)
{
	struct bm_config cfg;
	struct bm_error err = {0};

	(void)state;
	setenv("AZURE_STORAGE_ACCOUNT", "envacct", 1);
	setenv("AZURE_STORAGE_ACCESS_KEY", DEV_KEY, 1);
	setenv("AZURE_STORAGE_BLOB_ENDPOINT", "http://127.0.0.1:9/envacct/", 1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.account, "envacct");
	assert_string_equal(cfg.endpoint, "http://127.0.0.1:9/envacct");
	assert_int_equal(cfg.auth_type, BM_AUTH_KEY);
	bm_config_release(&cfg);

	/* The file's values win; credentials count as one unit. */
	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_buffer(&cfg,
						"accountName fileacct\n"
						"sasToken " SAS "\n",
						strlen("accountName fileacct\n"
						       "sasToken " SAS "\n"),
						"f", &err),
			 0);
	assert_int_equal(bm_config_load_env(&cfg, &err), 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.account, "fileacct");
	assert_null(cfg.account_key);
	assert_int_equal(cfg.auth_type, BM_AUTH_SAS);
	bm_config_release(&cfg);

	/* Nothing set: not an error to load, an error to finish. */
	clear_env(NULL);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), 0);
	assert_null(cfg.account);
	assert_int_equal(bm_config_finish(&cfg, false, &err), -1);
	bm_config_release(&cfg);

	/* Key and SAS both in the environment: one clear error. */
	bm_error_clear(&err);
	setenv("AZURE_STORAGE_ACCOUNT", "envacct", 1);
	setenv("AZURE_STORAGE_ACCESS_KEY", DEV_KEY, 1);
	setenv("AZURE_STORAGE_SAS_TOKEN", "?" SAS, 1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), 0);
	assert_string_equal(cfg.sas_token, SAS);
	assert_int_equal(bm_config_finish(&cfg, false, &err), -1);
	assert_string_equal(err.msg, "both an account key and a SAS token are "
				     "given for 'envacct': keep only one");
	bm_config_release(&cfg);
	clear_env(NULL);
}

/* The az CLI's AZURE_STORAGE_KEY stands for AZURE_STORAGE_ACCESS_KEY; two
 * different keys are an error, not a silent pick. */
static void test_env_az_cli_key(void **state)
{
	struct bm_config cfg;
	struct bm_error err = {0};

	(void)state;
	setenv("AZURE_STORAGE_ACCOUNT", "envacct", 1);
	setenv("AZURE_STORAGE_KEY", DEV_KEY, 1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_int_equal(cfg.auth_type, BM_AUTH_KEY);
	assert_string_equal(cfg.account_key, DEV_KEY);
	bm_config_release(&cfg);

	/* The same key under both names is fine. */
	setenv("AZURE_STORAGE_ACCESS_KEY", DEV_KEY, 1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), 0);
	bm_config_release(&cfg);

	setenv("AZURE_STORAGE_ACCESS_KEY", "AAAA", 1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), -1);
	assert_string_equal(err.msg, "AZURE_STORAGE_ACCESS_KEY and "
				     "AZURE_STORAGE_KEY hold different keys: "
				     "unset one of them");
	bm_config_release(&cfg);
	clear_env(NULL);
}

static void test_connection_strings(void **state)
{
	struct bm_config cfg;
	struct bm_error err = {0};

	(void)state;
	bm_config_init(&cfg);
	assert_int_equal(
	    bm_config_parse_connection_string(
		&cfg,
		"DefaultEndpointsProtocol=https;AccountName=prodacct;"
		"AccountKey=" DEV_KEY ";EndpointSuffix=core.windows.net",
		&err),
	    0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.endpoint,
			    "https://prodacct.blob.core.windows.net");
	assert_int_equal(cfg.key_len, 64);
	bm_config_release(&cfg);

	/* SAS with BlobEndpoint only: the account comes from the host. */
	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_connection_string(
			     &cfg,
			     "BlobEndpoint=https://sasacct.blob.core."
			     "windows.net/;QueueEndpoint=https://q;"
			     "SharedAccessSignature=" SAS ";",
			     &err),
			 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.account, "sasacct");
	assert_string_equal(cfg.sas_token, SAS);
	assert_string_equal(cfg.endpoint,
			    "https://sasacct.blob.core.windows.net");
	bm_config_release(&cfg);

	/* Azurite's form: path-style BlobEndpoint. */
	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_connection_string(
			     &cfg,
			     "DefaultEndpointsProtocol=http;AccountName="
			     "devstoreaccount1;AccountKey=" DEV_KEY
			     ";BlobEndpoint=http://127.0.0.1:41234/"
			     "devstoreaccount1;",
			     &err),
			 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.endpoint,
			    "http://127.0.0.1:41234/devstoreaccount1");
	assert_false(cfg.use_https);
	bm_config_release(&cfg);

	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_connection_string(
			     &cfg, "UseDevelopmentStorage=true", &err),
			 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.account, "devstoreaccount1");
	assert_string_equal(cfg.account_key, DEV_KEY);
	assert_string_equal(cfg.endpoint,
			    "http://127.0.0.1:10000/devstoreaccount1");
	bm_config_release(&cfg);

	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_connection_string(
			     &cfg, "AccountName=a;Bogus=1", &err),
			 -1);
	assert_string_equal(err.msg, "connection string: unknown name 'Bogus'");
	bm_config_release(&cfg);

	/* A malformed part is not echoed: it may be a bare key. */
	bm_error_clear(&err);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_connection_string(
			     &cfg, "AccountName=a;" DEV_KEY, &err),
			 -1);
	assert_string_equal(err.msg, "connection string: part 2 has an unknown "
				     "name (not shown: it may hold a secret)");
	bm_config_release(&cfg);
	bm_error_clear(&err);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_connection_string(
			     &cfg, "AccountName=a;secretwithoutequals", &err),
			 -1);
	assert_string_equal(err.msg,
			    "connection string: part 2 is not Name=Value");
	bm_config_release(&cfg);

	bm_error_clear(&err);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_connection_string(
			     &cfg, "DefaultEndpointsProtocol=ftp", &err),
			 -1);
	assert_string_equal(err.msg, "connection string: "
				     "DefaultEndpointsProtocol 'ftp' is not "
				     "http or https");
	bm_config_release(&cfg);

	/* A protocol without BlobEndpoint or suffix: Azure's endpoint. */
	bm_error_clear(&err);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_parse_connection_string(
			     &cfg,
			     "DefaultEndpointsProtocol=http;AccountName=plain;"
			     "AccountKey=" DEV_KEY,
			     &err),
			 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.endpoint, "http://plain.blob.core.windows.net");
	bm_config_release(&cfg);
	/* ... and it survives the environment's merge. */
	setenv("AZURE_STORAGE_CONNECTION_STRING",
	       "DefaultEndpointsProtocol=http;AccountName=plain;"
	       "AccountKey=" DEV_KEY,
	       1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), 0);
	assert_int_equal(bm_config_finish(&cfg, false, &err), 0);
	assert_string_equal(cfg.endpoint, "http://plain.blob.core.windows.net");
	bm_config_release(&cfg);
	/* An account variable with another account's connection string. */
	setenv("AZURE_STORAGE_ACCOUNT", "other", 1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), -1);
	assert_string_equal(err.msg,
			    "the account 'other' differs from the connection "
			    "string's account 'plain', whose credentials would "
			    "be used: unset one of them");
	bm_config_release(&cfg);
	unsetenv("AZURE_STORAGE_ACCOUNT");

	/* Through the environment, the variables win over the string. */
	bm_error_clear(&err);
	setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true",
	       1);
	setenv("AZURE_STORAGE_BLOB_ENDPOINT",
	       "http://127.0.0.1:5555/devstoreaccount1", 1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), 0);
	assert_int_equal(bm_config_finish(&cfg, true, &err), -1);
	assert_string_equal(cfg.endpoint,
			    "http://127.0.0.1:5555/devstoreaccount1");
	assert_string_equal(cfg.account, "devstoreaccount1");
	bm_config_release(&cfg);
	bm_error_clear(&err);
	setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=x;Nope=1", 1);
	bm_config_init(&cfg);
	assert_int_equal(bm_config_load_env(&cfg, &err), -1);
	assert_string_equal(err.msg, "AZURE_STORAGE_CONNECTION_STRING: "
				     "connection string: unknown name 'Nope'");
	bm_config_release(&cfg);
	clear_env(NULL);
}

/* Keys and SAS signatures read from a config are redacted from then on. */
static void test_secrets_registered(void **state)
{
	const char *other_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
				"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
	struct bm_config cfg;
	struct bm_error err;
	char buf[256];

	(void)state;
	assert_int_equal(parse(&cfg,
			       "accountName acct\naccountKey "
			       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
			       false, &err),
			 0);
	snprintf(buf, sizeof(buf), "k=%s", other_key);
	bm_redact(buf, sizeof(buf));
	assert_string_equal(buf, "k=REDACTED");
	bm_config_release(&cfg);
}

/* Random bytes, random lines of known keys, random connection strings:
 * never a crash (ASan run), and every failure is one non-empty line. */
static void test_random_input(void **state)
{
	static const char *const words[] = {
	    "accountName",
	    "accountKey",
	    "sasToken",
	    "containerName",
	    "authType",
	    "blobEndpoint",
	    "Key",
	    "SAS",
	    "#",
	    " ",
	    "\t",
	    "\r\n",
	    "\n",
	    "=",
	    ";",
	    "AccountName=",
	    "BlobEndpoint=http://h/a",
	    "UseDevelopmentStorage=true",
	    DEV_KEY,
	    "?sv=1&sig=x",
	    "http://",
	    "\xEF\xBB\xBF",
	    "\0",
	};
	unsigned seed = 12345;
	char buf[512];
	size_t len, i, k, count;
	struct bm_config cfg;
	struct bm_error err;
	int round, rc;

	(void)state;
	for (round = 0; round < 3000; round++) {
		len = 0;
		count = 1 + (size_t)rand_r(&seed) % 24;
		for (i = 0; i < count; i++) {
			const char *w;

			if (rand_r(&seed) % 4 == 0) {
				if (len + 1 < sizeof(buf))
					buf[len++] = (char)rand_r(&seed);
				continue;
			}
			w = words[rand_r(&seed) %
				  (sizeof(words) / sizeof(words[0]))];
			k = strlen(w) ? strlen(w) : 1;
			if (len + k >= sizeof(buf))
				break;
			memcpy(buf + len, w, k);
			len += k;
		}
		buf[len] = '\0';
		bm_config_init(&cfg);
		bm_error_clear(&err);
		rc = bm_config_parse_buffer(&cfg, buf, len, "fuzz", &err);
		if (rc == 0)
			rc = bm_config_finish(&cfg, rand_r(&seed) % 2, &err);
		if (rc < 0) {
			assert_int_equal(err.code, BM_ERR_CONFIG);
			assert_true(err.msg[0] != '\0');
			assert_null(strchr(err.msg, '\n'));
		}
		bm_config_release(&cfg);
		bm_config_init(&cfg);
		bm_error_clear(&err);
		rc = bm_config_parse_connection_string(&cfg, buf, &err);
		if (rc == 0)
			rc = bm_config_finish(&cfg, false, &err);
		if (rc < 0)
			assert_true(err.msg[0] != '\0');
		bm_config_release(&cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_file_crlf_comments, clear_env),
	    cmocka_unit_test_setup(test_file_sas_default_endpoint, clear_env),
	    cmocka_unit_test_setup(test_file_errors, clear_env),
	    cmocka_unit_test(test_names_valid),
	    cmocka_unit_test_setup(test_load_file_permissions, clear_env),
	    cmocka_unit_test_setup(test_env, clear_env),
	    cmocka_unit_test_setup(test_env_az_cli_key, clear_env),
	    cmocka_unit_test_setup(test_connection_strings, clear_env),
	    cmocka_unit_test_setup(test_secrets_registered, clear_env),
	    cmocka_unit_test_setup(test_random_input, clear_env),
	    cmocka_unit_test_setup(test_endpoint_account_mismatch, clear_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
