/*
 * test-config-entra: Microsoft Entra ID identities in the configuration —
 * blobfuse v1's keys and variables, the Azure SDK's variables, the
 * default-credential order, every conflict as one line, https only — and
 * the token module's pure parts (the refresh schedule, the response shapes
 * of IMDS, App Service, the authority and az).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bm_config.h"
#include "bm_log.h"
#include "bm_token.h"

#include "test-env.h"

#define EP "https://127.0.0.1:10000/devstoreaccount1"
#define HEAD "accountName devstoreaccount1\nblobEndpoint " EP "\n"

/* Parses buf, loads the environment, finishes. */
static int load(struct bm_config *cfg, const char *buf, struct bm_error *err)
{
	bm_config_init(cfg);
	bm_error_clear(err);
	if (bm_config_parse_buffer(cfg, buf, strlen(buf), "t.cfg", err) < 0 ||
	    bm_config_load_env(cfg, err) < 0)
		return -1;
	return bm_config_finish(cfg, false, err);
}

/* Loads buf with success and the authType `type`; the caller checks the
 * rest and releases cfg. */
static void expect_type(struct bm_config *cfg, const char *buf,
			enum bm_auth_type type)
{
	struct bm_error err;

	assert_int_equal(load(cfg, buf, &err), 0);
	assert_int_equal(cfg->auth_type, type);
}

static void expect_error(const char *buf, const char *msg)
{
	struct bm_config cfg;
	struct bm_error err;

	assert_int_equal(load(&cfg, buf, &err), -1);
	assert_int_equal(err.code, BM_ERR_CONFIG);
	assert_string_equal(err.msg, msg);
	bm_config_release(&cfg);
}

static void test_msi_file(void **state)
{
	struct bm_config cfg;
	struct bm_error err;

	(void)state;
	expect_type(&cfg, HEAD "authType MSI\n", BM_AUTH_MSI);
	assert_null(cfg.entra.identity_client_id);
	bm_config_release(&cfg);

	expect_type(&cfg,
		    HEAD "authType msi\nidentityObjectId oid-1\n"
			 "msiEndpoint http://127.0.0.1:9/token\n",
		    BM_AUTH_MSI);
	assert_string_equal(cfg.entra.identity_object_id, "oid-1");
	assert_string_equal(cfg.entra.msi_endpoint, "http://127.0.0.1:9/token");
	bm_config_release(&cfg);

	/* identity* alone implies MSI. */
	expect_type(&cfg, HEAD "identityResourceId /sub/x/id\n", BM_AUTH_MSI);
	bm_config_release(&cfg);

	/* No endpoint given: the default one is https. */
	assert_int_equal(load(&cfg, "accountName acct\nauthType MSI\n", &err),
			 0);
	assert_string_equal(cfg.endpoint, "https://acct.blob.core.windows.net");
	bm_config_release(&cfg);
}

static void test_spn_file_and_env(void **state)
{
	struct bm_config cfg;

	(void)state;
	/* blobfuse v1: the secret from AZURE_STORAGE_SPN_CLIENT_SECRET. */
	setenv("AZURE_STORAGE_SPN_CLIENT_SECRET", "s3cret-value", 1);
	expect_type(&cfg,
		    HEAD "authType SPN\nservicePrincipalClientId c1\n"
			 "servicePrincipalTenantId t1\n"
			 "aadEndpoint https://login.example/\n",
		    BM_AUTH_SPN);
	assert_string_equal(cfg.entra.client_secret, "s3cret-value");
	assert_string_equal(cfg.entra.tenant_id, "t1");
	assert_string_equal(cfg.entra.authority_host, "https://login.example/");
	bm_config_release(&cfg);
	unsetenv("AZURE_STORAGE_SPN_CLIENT_SECRET");

	/* The file's secret wins over the environment's. */
	setenv("AZURE_CLIENT_SECRET", "env-secret", 1);
	expect_type(&cfg,
		    HEAD "servicePrincipalClientId c1\n"
			 "servicePrincipalTenantId t1\n"
			 "servicePrincipalClientSecret file-secret\n",
		    BM_AUTH_SPN);
	assert_string_equal(cfg.entra.client_secret, "file-secret");
	bm_config_release(&cfg);
	unsetenv("AZURE_CLIENT_SECRET");

	/* The secret is redacted from logs once read. */
	{
		char line[128] = "secret is file-secret";

		bm_redact(line, sizeof(line));
		assert_null(strstr(line, "file-secret"));
	}
}

static void test_default_order(void **state)
{
	struct bm_config cfg;
	struct bm_error err;

	(void)state;
	/* 4.1 the SDK's service principal. */
	setenv("AZURE_TENANT_ID", "tenant", 1);
	setenv("AZURE_CLIENT_ID", "client", 1);
	setenv("AZURE_CLIENT_SECRET", "sdk-secret-value", 1);
	setenv("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent", 1);
	setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token", 1);
	expect_type(&cfg, HEAD, BM_AUTH_SPN);
	assert_string_equal(cfg.entra.client_secret, "sdk-secret-value");
	assert_null(cfg.entra.federated_token_file);
	bm_config_release(&cfg);

	/* 4.2 workload identity: no secret or certificate. */
	unsetenv("AZURE_CLIENT_SECRET");
	assert_int_equal(load(&cfg, HEAD, &err), -1);
	assert_string_equal(err.msg, "cannot read federated token file "
				     "'/nonexistent': No such file or "
				     "directory");
	bm_config_release(&cfg);
	setenv("AZURE_FEDERATED_TOKEN_FILE", "/dev/null", 1);
	expect_type(&cfg, HEAD, BM_AUTH_SPN);
	assert_string_equal(cfg.entra.federated_token_file, "/dev/null");
	bm_config_release(&cfg);

	/* 4.3 a managed identity, AZURE_CLIENT_ID naming it. */
	unsetenv("AZURE_FEDERATED_TOKEN_FILE");
	unsetenv("AZURE_TENANT_ID");
	expect_type(&cfg, HEAD, BM_AUTH_MSI);
	assert_string_equal(cfg.entra.identity_client_id, "client");
	bm_config_release(&cfg);

	/* A key anywhere before wins; the SDK variables are not a conflict. */
	setenv("AZURE_STORAGE_ACCESS_KEY", DEV_KEY, 1);
	expect_type(&cfg, HEAD, BM_AUTH_KEY);
	bm_config_release(&cfg);
	unsetenv("AZURE_STORAGE_ACCESS_KEY");

	/* blobfuse v1's AZURE_STORAGE_AUTH_TYPE beats the SDK's choice. */
	setenv("AZURE_STORAGE_AUTH_TYPE", "AzCli", 1);
	expect_type(&cfg, HEAD, BM_AUTH_AZCLI);
	bm_config_release(&cfg);
	unsetenv("AZURE_STORAGE_AUTH_TYPE");
	unsetenv("IDENTITY_ENDPOINT");
	unsetenv("AZURE_CLIENT_ID");

	/* Nothing at all: the usual error, which names the Entra choices. */
	assert_int_equal(load(&cfg, HEAD, &err), -1);
	assert_non_null(strstr(err.msg, "authType MSI, SPN or AzCli"));
	bm_config_release(&cfg);
}

static void test_conflicts(void **state)
{
	(void)state;
	expect_error(HEAD "accountKey " DEV_KEY "\nauthType MSI\n",
		     "both an account key and authType MSI are given for "
		     "'devstoreaccount1': keep only one");
	expect_error(HEAD "sasToken sv=1&sig=x\nidentityClientId c\n",
		     "both a SAS token and a managed identity "
		     "(identityClientId) are given for 'devstoreaccount1': "
		     "keep only one");
	expect_error(HEAD "identityClientId c\nservicePrincipalClientId d\n",
		     "both a managed identity (identityClientId) and a service "
		     "principal (servicePrincipalClientId) are given for "
		     "'devstoreaccount1': keep only one");
	expect_error(
	    HEAD "authType MSI\nservicePrincipalTenantId t\n",
	    "authType MSI does not take servicePrincipalTenantId: "
	    "keep only one way to authenticate for 'devstoreaccount1'");
	expect_error(HEAD "authType Key\nidentityObjectId o\n",
		     "authType Key does not take identityObjectId: keep only "
		     "one way to authenticate for 'devstoreaccount1'");
	expect_error(HEAD "authType MSI\nidentityClientId c\n"
			  "identityObjectId o\n",
		     "give only one of identityClientId, identityObjectId and "
		     "identityResourceId");
	expect_error(HEAD "authType SPN\nservicePrincipalClientId c\n",
		     "authType SPN needs servicePrincipalTenantId (or "
		     "AZURE_TENANT_ID)");
	expect_error(HEAD "authType SPN\nservicePrincipalTenantId t\n",
		     "authType SPN needs servicePrincipalClientId (or "
		     "AZURE_CLIENT_ID)");
	expect_error(HEAD "authType SPN\nservicePrincipalTenantId t\n"
			  "servicePrincipalClientId c\n",
		     "authType SPN needs a client secret "
		     "(servicePrincipalClientSecret, "
		     "AZURE_STORAGE_SPN_CLIENT_SECRET or AZURE_CLIENT_SECRET), "
		     "a certificate (AZURE_CLIENT_CERTIFICATE_PATH) or a "
		     "federated token (AZURE_FEDERATED_TOKEN_FILE)");
	expect_error(
	    HEAD "authType SPN\nservicePrincipalTenantId t/../x\n"
		 "servicePrincipalClientId c\n"
		 "servicePrincipalClientSecret secret-value-1\n",
	    "bad tenant id 't/../x': expected a GUID or a domain name");
	expect_error(HEAD "authType SPN\nservicePrincipalTenantId t\n"
			  "servicePrincipalClientId c\n"
			  "servicePrincipalClientSecret secret-value-1\n"
			  "aadEndpoint http://login.example/\n",
		     "bad aadEndpoint 'http://login.example/': expected an "
		     "https URL such as https://login.microsoftonline.com/");
	/* Tokens never go over plain HTTP. */
	expect_error("accountName devstoreaccount1\nauthType MSI\n"
		     "blobEndpoint http://127.0.0.1:10000/devstoreaccount1\n",
		     "refusing to send an Entra ID token over plain HTTP to "
		     "'http://127.0.0.1:10000/devstoreaccount1': use an https "
		     "blob endpoint");
	setenv("AZURE_CLIENT_SECRET", "secret-value-2", 1);
	setenv("AZURE_CLIENT_CERTIFICATE_PATH", "/dev/null", 1);
	expect_error(HEAD, "both AZURE_CLIENT_SECRET and "
			   "AZURE_CLIENT_CERTIFICATE_PATH are set: unset one "
			   "of them");
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
	setenv("AZURE_STORAGE_AUTH_TYPE", "Password", 1);
	expect_error(HEAD,
		     "AZURE_STORAGE_AUTH_TYPE: authType 'Password' is not "
		     "supported (use Key, SAS, MSI, SPN or AzCli)");
	unsetenv("AZURE_STORAGE_AUTH_TYPE");
}

static void test_refresh_schedule(void **state)
{
	(void)state;
	/* An hour: 5 minutes before expiry. */
	assert_int_equal(bm_token_refresh_at(1000, 1000 + 3600), 1000 + 3300);
	/* Ten minutes: 5 minutes before is also half-life. */
	assert_int_equal(bm_token_refresh_at(0, 600), 300);
	/* A minute: half of it, so one-minute tokens are refreshed. */
	assert_int_equal(bm_token_refresh_at(0, 60), 30);
	/* Already expired: now. */
	assert_int_equal(bm_token_refresh_at(100, 90), 100);
}

static void expect_parse(const char *body, time_t now, time_t exp_want)
{
	struct bm_error err;
	char *tok = NULL;
	time_t exp = 0;

	bm_error_clear(&err);
	assert_int_equal(bm_token_parse_response(body, now, &tok, &exp, &err),
			 0);
	assert_string_equal(tok, "eyJ0.e30.sig");
	assert_int_equal(exp, exp_want);
	free(tok);
}

static void test_parse_responses(void **state)
{
	struct bm_error err;
	char *tok = NULL;
	time_t exp;

	(void)state;
	/* IMDS: strings, expires_in relative to now wins. */
	expect_parse(
	    "{\"access_token\":\"eyJ0.e30.sig\",\"expires_in\":\"3599\","
	    "\"expires_on\":\"1\",\"token_type\":\"Bearer\"}",
	    1000, 1000 + 3599);
	/* The authority v2.0: numbers. */
	expect_parse(
	    "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
	    "\"ext_expires_in\":3599,\"access_token\":\"eyJ0.e30.sig\"}",
	    1000, 1000 + 3599);
	/* App Service 2019: expires_on as a number of epoch seconds. */
	expect_parse("{\"access_token\":\"eyJ0.e30.sig\",\"expires_on\":"
		     "1700000000}",
		     1000, 1700000000);
	/* App Service 2017: expires_on as a US date, UTC. */
	expect_parse("{\"access_token\":\"eyJ0.e30.sig\",\"expires_on\":"
		     "\"06/20/2019 02:57:58 +00:00\"}",
		     1000, 1560999478);
	/* az CLI 2.54+: expires_on beside expiresOn (local time). */
	expect_parse("{\"accessToken\":\"eyJ0.e30.sig\",\"expiresOn\":"
		     "\"2019-06-20 02:57:58.000000\",\"expires_on\":1560999478,"
		     "\"tokenType\":\"Bearer\"}",
		     1000, 1560999478);
	bm_error_clear(&err);
	assert_int_equal(bm_token_parse_response("{\"access_token\":\"x\"}", 1,
						 &tok, &exp, &err),
			 -1);
	assert_string_equal(err.msg, "the token response has no usable "
				     "expires_in or expires_on");
	bm_error_clear(&err);
	assert_int_equal(bm_token_parse_response("<html>", 1, &tok, &exp, &err),
			 -1);
	assert_string_equal(err.msg, "the token response is not a JSON object");
	assert_null(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_msi_file, clear_env),
	    cmocka_unit_test_setup(test_spn_file_and_env, clear_env),
	    cmocka_unit_test_setup(test_default_order, clear_env),
	    cmocka_unit_test_setup(test_conflicts, clear_env),
	    cmocka_unit_test(test_refresh_schedule),
	    cmocka_unit_test(test_parse_responses),
	};

	bm_log_init("test-config-entra", BM_LOG_OFF, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
