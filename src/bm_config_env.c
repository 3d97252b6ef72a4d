/*
 * bm_config_env: a configuration from the environment (see
 * bm_config_load_env in bm_config.h): blobfuse v1's AZURE_STORAGE_*
 * variables, AZURE_STORAGE_CONNECTION_STRING and the Azure SDK's
 * variables, in that order, each filling only what is still unset, the
 * credential as one unit. Parsing files and connection strings is
 * bm_config.c's, validation bm_config_check.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "bm_config_impl.h"
#include "bm_log.h"

/* *dst = copy of src when *dst is unset and src is. */
static int fill_str(char **dst, const char *src, bool secret,
		    struct bm_error *err)
{
	if (*dst || !src)
		return 0;
	return bm_config_set_field(dst, src, strlen(src), secret, err);
}

/* The proof of a service principal (secret, certificate or federated
 * token) moves as one unit: dst keeps its own if it has one. */
static int fill_spn(struct bm_entra *dst, const struct bm_entra *src,
		    struct bm_error *err)
{
	bool proof =
	    dst->client_secret || dst->cert_path || dst->federated_token_file;

	if (fill_str(&dst->tenant_id, src->tenant_id, false, err) < 0 ||
	    fill_str(&dst->client_id, src->client_id, false, err) < 0 ||
	    fill_str(&dst->authority_host, src->authority_host, false, err) < 0)
		return -1;
	if (proof)
		return 0;
	if (fill_str(&dst->client_secret, src->client_secret, true, err) < 0 ||
	    fill_str(&dst->cert_path, src->cert_path, false, err) < 0 ||
	    fill_str(&dst->federated_token_file, src->federated_token_file,
		     false, err) < 0)
		return -1;
	return 0;
}

static int fill_msi(struct bm_entra *dst, const struct bm_entra *src,
		    struct bm_error *err)
{
	if (!dst->identity_client_id && !dst->identity_object_id &&
	    !dst->identity_resource_id &&
	    (fill_str(&dst->identity_client_id, src->identity_client_id, false,
		      err) < 0 ||
	     fill_str(&dst->identity_object_id, src->identity_object_id, false,
		      err) < 0 ||
	     fill_str(&dst->identity_resource_id, src->identity_resource_id,
		      false, err) < 0))
		return -1;
	return fill_str(&dst->msi_endpoint, src->msi_endpoint, false, err);
}

/*
 * Copies the fields src has and dst lacks; the credential as one unit:
 * with no credential yet, src's whole credential; with an Entra authType
 * already chosen (authType SPN in a file, the secret in the environment,
 * as blobfuse v1 reads it), only the missing parts of that same identity.
 */
static int fill_unset(struct bm_config *dst, const struct bm_config *src,
		      struct bm_error *err)
{
	bool creds = !bm_config_has_credential(dst);

	if (!dst->account && src->account &&
	    bm_config_set_field(&dst->account, src->account,
				strlen(src->account), false, err) < 0)
		return -1;
	if (creds && src->account_key &&
	    bm_config_set_field(&dst->account_key, src->account_key,
				strlen(src->account_key), true, err) < 0)
		return -1;
	if (creds && src->sas_token &&
	    bm_config_set_field(&dst->sas_token, src->sas_token,
				strlen(src->sas_token), true, err) < 0)
		return -1;
	if (creds && src->auth_type != BM_AUTH_UNSET &&
	    dst->auth_type == BM_AUTH_UNSET)
		dst->auth_type = src->auth_type;
	if ((creds || bm_config_implied_type(dst) == BM_AUTH_SPN) &&
	    fill_spn(&dst->entra, &src->entra, err) < 0)
		return -1;
	if ((creds || bm_config_implied_type(dst) == BM_AUTH_MSI) &&
	    fill_msi(&dst->entra, &src->entra, err) < 0)
		return -1;
	if (!dst->endpoint && src->endpoint) {
		if (bm_config_set_field(&dst->endpoint, src->endpoint,
					strlen(src->endpoint), false, err) < 0)
			return -1;
		dst->use_https = src->use_https;
	}
	return 0;
}

/* A variable's value when set and not empty, else NULL. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int env_str(char **field, const char *name, bool secret,
		   struct bm_error *err)
{
	const char *v = env(name);

	return v ? bm_config_set_field(field, v, strlen(v), secret, err) : 0;
}

/*
 * The account key from the environment: AZURE_STORAGE_ACCESS_KEY (the
 * SDKs' and blobfuse's name) or AZURE_STORAGE_KEY (the az CLI's). Both
 * set to different keys is an error rather than a silent pick: one of
 * them is stale. *key is NULL when neither is set; -1 on that error.
 */
static int env_account_key(const char **key, struct bm_error *err)
{
	const char *access = getenv("AZURE_STORAGE_ACCESS_KEY");
	const char *az = getenv("AZURE_STORAGE_KEY");

	if (access && !*access)
		access = NULL;
	if (az && !*az)
		az = NULL;
	if (access && az && strcmp(access, az) != 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "AZURE_STORAGE_ACCESS_KEY and AZURE_STORAGE_KEY "
			     "hold different keys: unset one of them");
		return -1;
	}
	*key = access ? access : az;
	return 0;
}

/* blobfuse v1's variables (AZURE_STORAGE_*) into vars. */
static int load_storage_vars(struct bm_config *vars, struct bm_error *err)
{
	struct bm_entra *e = &vars->entra;
	const char *v;

	if (env_str(&vars->account, "AZURE_STORAGE_ACCOUNT", false, err) < 0 ||
	    env_account_key(&v, err) < 0 ||
	    (v && bm_config_set_field(&vars->account_key, v, strlen(v), true,
				      err) < 0) ||
	    ((v = env("AZURE_STORAGE_SAS_TOKEN")) &&
	     bm_config_set_sas(&vars->sas_token, v, strlen(v), err) < 0) ||
	    env_str(&vars->endpoint, "AZURE_STORAGE_BLOB_ENDPOINT", false,
		    err) < 0 ||
	    ((v = env("AZURE_STORAGE_AUTH_TYPE")) &&
	     bm_config_set_auth_type(vars, v, strlen(v),
				     "AZURE_STORAGE_AUTH_TYPE", err) < 0) ||
	    env_str(&e->identity_client_id, "AZURE_STORAGE_IDENTITY_CLIENT_ID",
		    false, err) < 0 ||
	    env_str(&e->identity_object_id, "AZURE_STORAGE_IDENTITY_OBJECT_ID",
		    false, err) < 0 ||
	    env_str(&e->identity_resource_id,
		    "AZURE_STORAGE_IDENTITY_RESOURCE_ID", false, err) < 0 ||
	    env_str(&e->tenant_id, "AZURE_STORAGE_SPN_TENANT_ID", false, err) <
		0 ||
	    env_str(&e->client_id, "AZURE_STORAGE_SPN_CLIENT_ID", false, err) <
		0 ||
	    env_str(&e->client_secret, "AZURE_STORAGE_SPN_CLIENT_SECRET", true,
		    err) < 0 ||
	    env_str(&e->authority_host, "AZURE_STORAGE_AAD_ENDPOINT", false,
		    err) < 0)
		return -1;
	return 0;
}

/*
 * The Azure SDK's variables into sdk, as DefaultAzureCredential reads
 * them, but decided here rather than by trying each at run time:
 *   1. a service principal: AZURE_TENANT_ID + AZURE_CLIENT_ID with
 *      AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH (both is an
 *      error);
 *   2. workload identity: the same ids with AZURE_FEDERATED_TOKEN_FILE;
 *   3. a managed identity when IDENTITY_ENDPOINT or MSI_ENDPOINT says the
 *      host has one (AZURE_CLIENT_ID then picks a user-assigned one).
 * The parts of a service principal are also kept in sdk->entra when no
 * identity is complete, for an explicit authType SPN to take.
 */
static int load_sdk_vars(struct bm_config *sdk, struct bm_error *err)
{
	struct bm_entra *e = &sdk->entra;
	bool ids;

	if (env("AZURE_CLIENT_SECRET") &&
	    env("AZURE_CLIENT_CERTIFICATE_PATH")) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "both AZURE_CLIENT_SECRET and "
			     "AZURE_CLIENT_CERTIFICATE_PATH are set: unset one "
			     "of them");
		return -1;
	}
	if (env_str(&e->tenant_id, "AZURE_TENANT_ID", false, err) < 0 ||
	    env_str(&e->client_id, "AZURE_CLIENT_ID", false, err) < 0 ||
	    env_str(&e->client_secret, "AZURE_CLIENT_SECRET", true, err) < 0 ||
	    env_str(&e->cert_path, "AZURE_CLIENT_CERTIFICATE_PATH", false,
		    err) < 0 ||
	    env_str(&e->authority_host, "AZURE_AUTHORITY_HOST", false, err) < 0)
		return -1;
	/* Workload identity only when no secret or certificate is given. */
	if (!e->client_secret && !e->cert_path &&
	    env_str(&e->federated_token_file, "AZURE_FEDERATED_TOKEN_FILE",
		    false, err) < 0)
		return -1;
	ids = e->tenant_id && e->client_id;
	if (ids &&
	    (e->client_secret || e->cert_path || e->federated_token_file))
		sdk->auth_type = BM_AUTH_SPN;
	else if (env("IDENTITY_ENDPOINT") || env("MSI_ENDPOINT"))
		sdk->auth_type = BM_AUTH_MSI;
	return 0;
}

/*
 * The order, first wins, the credential as one unit:
 *   1. what the caller loaded before (a config file);
 *   2. blobfuse v1's AZURE_STORAGE_* variables;
 *   3. AZURE_STORAGE_CONNECTION_STRING;
 *   4. the Azure SDK variables (load_sdk_vars).
 */
int bm_config_load_env(struct bm_config *cfg, struct bm_error *err)
{
	struct bm_config vars, conn, sdk;
	bool conn_creds;
	const char *v;
	int rc = -1;

	bm_config_init(&vars);
	bm_config_init(&conn);
	bm_config_init(&sdk);
	if (load_storage_vars(&vars, err) < 0 || load_sdk_vars(&sdk, err) < 0)
		goto out;
	if ((v = getenv("AZURE_STORAGE_CONNECTION_STRING")) && *v) {
		bm_redact_register(v);
		if (bm_config_parse_connection_string(&conn, v, err) < 0) {
			bm_error_prefix(err, "AZURE_STORAGE_CONNECTION_STRING");
			goto out;
		}
	}
	/* Variables win over the connection string: they fill cfg first. */
	conn_creds = !bm_config_has_credential(cfg) &&
		     !bm_config_has_credential(&vars) &&
		     (conn.account_key || conn.sas_token);
	if (fill_unset(cfg, &vars, err) < 0 || fill_unset(cfg, &conn, err) < 0)
		goto out;
	/* The SDK's identity applies only when nothing else named one; its
	 * parts complete an authType SPN or MSI chosen above. */
	if (!bm_config_has_credential(cfg) && sdk.auth_type == BM_AUTH_MSI) {
		if (fill_str(&cfg->entra.identity_client_id,
			     sdk.entra.client_id, false, err) < 0)
			goto out;
		cfg->auth_type = BM_AUTH_MSI;
	} else if ((!bm_config_has_credential(cfg) &&
		    sdk.auth_type == BM_AUTH_SPN) ||
		   bm_config_implied_type(cfg) == BM_AUTH_SPN) {
		if (fill_spn(&cfg->entra, &sdk.entra, err) < 0)
			goto out;
		if (cfg->auth_type == BM_AUTH_UNSET)
			cfg->auth_type = BM_AUTH_SPN;
	}
	/* A key is only good for its own account. */
	if (conn_creds && conn.account && cfg->account &&
	    strcmp(conn.account, cfg->account) != 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "the account '%s' differs from the connection "
			     "string's account '%s', whose credentials would "
			     "be used: unset one of them",
			     cfg->account, conn.account);
		goto out;
	}
	rc = 0;
out:
	bm_config_release(&vars);
	bm_config_release(&conn);
	bm_config_release(&sdk);
	return rc;
}

int bm_config_complete_identity(struct bm_config *cfg, struct bm_error *err)
{
	struct bm_config vars, sdk;
	int rc = 0;

	if (bm_config_implied_type(cfg) != BM_AUTH_SPN)
		return 0;
	bm_config_init(&vars);
	bm_config_init(&sdk);
	if (load_storage_vars(&vars, err) < 0 || load_sdk_vars(&sdk, err) < 0 ||
	    fill_spn(&cfg->entra, &vars.entra, err) < 0 ||
	    fill_spn(&cfg->entra, &sdk.entra, err) < 0)
		rc = -1;
	bm_config_release(&vars);
	bm_config_release(&sdk);
	return rc;
}
