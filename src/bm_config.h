/*
 * bm_config: where the account, credentials, endpoint and container come
 * from. Three sources, one validation path (bm_config_finish):
 *   - a blobfuse v1 config file ("key value" lines, '#' comments, CRLF ok;
 *     keys accountName, accountKey, sasToken, containerName, authType,
 *     blobEndpoint; unknown keys are errors);
 *   - the environment: AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_ACCESS_KEY
 *     (or the az CLI's AZURE_STORAGE_KEY),
 *     AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_BLOB_ENDPOINT;
 *   - AZURE_STORAGE_CONNECTION_STRING (DefaultEndpointsProtocol, AccountName,
 *     AccountKey, SharedAccessSignature, BlobEndpoint, EndpointSuffix;
 *     UseDevelopmentStorage=true means Azurite's well-known account).
 * Microsoft Entra ID identities come from the same sources: blobfuse v1's
 * keys (authType MSI|SPN, identity*, servicePrincipal*, msiEndpoint,
 * aadEndpoint) and variables (AZURE_STORAGE_AUTH_TYPE,
 * AZURE_STORAGE_IDENTITY_*, AZURE_STORAGE_SPN_*, AZURE_STORAGE_AAD_ENDPOINT),
 * then the Azure SDK variables (AZURE_CLIENT_ID, AZURE_TENANT_ID,
 * AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH,
 * AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST, and IDENTITY_ENDPOINT or
 * MSI_ENDPOINT as the sign of a managed identity) when nothing else names a
 * credential. The order is written out in bm_config_load_env().
 * Errors are one line naming the problem (and the file and line number).
 */
#ifndef BM_CONFIG_H
#define BM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "bm_error.h"

enum bm_auth_type {
	BM_AUTH_UNSET = 0,
	BM_AUTH_KEY, /* SharedKey */
	BM_AUTH_SAS,
	BM_AUTH_MSI,   /* Entra ID: managed identity */
	BM_AUTH_SPN,   /* Entra ID: service principal (secret, certificate
			* or federated token: workload identity) */
	BM_AUTH_AZCLI, /* Entra ID: the az CLI's signed-in user */
};

/* "Key", "SAS", "MSI", "SPN", "AzCli" (or "none"). Static string. */
const char *bm_auth_type_name(enum bm_auth_type t);

/* Whether t signs with a Microsoft Entra ID bearer token. */
static inline int bm_auth_type_is_entra(enum bm_auth_type t)
{
	return t == BM_AUTH_MSI || t == BM_AUTH_SPN || t == BM_AUTH_AZCLI;
}

/*
 * Which Entra identity, with the names blobfuse v1 uses. All strings are
 * malloc()ed copies owned by the bm_config; client_secret is a secret
 * (registered for redaction, wiped on release). blobfuse2's YAML maps onto
 * the same fields (mode msi|spn|azcli).
 */
struct bm_entra {
	/* authType MSI: at most one of the three ids (none: the
	 * system-assigned identity). */
	char *identity_client_id;   /* identityClientId */
	char *identity_object_id;   /* identityObjectId */
	char *identity_resource_id; /* identityResourceId (ARM id) */
	char *msi_endpoint;	    /* msiEndpoint: token URL speaking the IMDS
				     * protocol, instead of 169.254.169.254 */
	/* authType SPN: tenant and client id, and exactly one proof. */
	char *tenant_id;	    /* servicePrincipalTenantId */
	char *client_id;	    /* servicePrincipalClientId */
	char *client_secret;	    /* servicePrincipalClientSecret */
	char *cert_path;	    /* PEM: private key + certificate */
	char *federated_token_file; /* workload identity's assertion */
	char *authority_host; /* aadEndpoint / AZURE_AUTHORITY_HOST, or NULL
			       * for https://login.microsoftonline.com/ */
};

struct bm_config {
	char *account;	    /* account name */
	char *account_key;  /* base64 as given; never logged */
	unsigned char *key; /* decoded account_key (by bm_config_finish) */
	size_t key_len;
	char *sas_token; /* without a leading '?'; never logged */
	char *container; /* may be NULL (CLI commands name their own) */
	char *endpoint;	 /* blob endpoint without trailing '/', e.g.
			  * "https://acct.blob.core.windows.net" or
			  * "http://127.0.0.1:10000/devstoreaccount1" */
	enum bm_auth_type auth_type;
	struct bm_entra entra; /* for the Entra ID auth types */
	bool use_https;	       /* default true; --use-https=false => http */
	char *ca_cert_file;    /* extra CA bundle, or NULL */
	bool insecure;	       /* TLS verification off (warns) */
};

/* Zeroes cfg and sets defaults (use_https = true). */
void bm_config_init(struct bm_config *cfg);
/* Frees every field (wiping key material) and re-inits. */
void bm_config_release(struct bm_config *cfg);

/* Reads a blobfuse config file. Warns (bm_warn) when group/other can read it.
 * Values already set in cfg are overwritten. */
int bm_config_load_file(struct bm_config *cfg, const char *path,
			struct bm_error *err);

/* A parser of a whole config file's text; origin names it in messages. */
typedef int (*bm_config_parse_fn)(void *ud, const char *buf, size_t len,
				  const char *origin, struct bm_error *err);

/* Reads a whole config file (at most 64 KiB, a regular file; warns with
 * bm_warn when group/other can read it), hands its text to parse, and
 * wipes it. For every config format: this file's, and blobfuse2's YAML
 * (fusefs/bf2_config.c). Returns what parse returns, or -1. */
int bm_config_parse_file(const char *path, bm_config_parse_fn parse, void *ud,
			 struct bm_error *err);

/* Same grammar, from a buffer (for tests and fuzzing). `origin` names the
 * source in error messages. */
int bm_config_parse_buffer(struct bm_config *cfg, const char *buf, size_t len,
			   const char *origin, struct bm_error *err);

/* Fills unset fields from the environment variables above, the connection
 * string included. Returns 0 when nothing applies (not an error). */
int bm_config_load_env(struct bm_config *cfg, struct bm_error *err);

/* For a caller that reads no other credential from the environment
 * (blobmill-fuse with a config file): when cfg names a service principal
 * without all of it, fills the missing tenant, client id, proof and
 * authority from the variables (blobfuse v1's, then the Azure SDK's).
 * Nothing else is taken from the environment. */
int bm_config_complete_identity(struct bm_config *cfg, struct bm_error *err);

int bm_config_parse_connection_string(struct bm_config *cfg, const char *cs,
				      struct bm_error *err);

/*
 * Validates and derives: account required; exactly one way to authenticate
 * (a key, a SAS, or one Entra identity: any two is an error naming both,
 * none is an error listing the choices); authType consistent with what is
 * given (identity* alone means MSI, servicePrincipal* alone means SPN); key
 * decodes as base64; an Entra identity is complete (SPN: tenant, client id
 * and one proof) and its endpoint is https; endpoint defaults to
 * http(s)://ACCOUNT.blob.core.windows.net and must be an http(s) URL;
 * require_container makes a missing containerName an error.
 */
int bm_config_finish(struct bm_config *cfg, bool require_container,
		     struct bm_error *err);

/* Azure's naming rules: 3-24 lowercase letters and digits. */
bool bm_account_name_valid(const char *name);

/* Azure's naming rules: 3-63 of [a-z0-9-], no leading, trailing or double
 * '-'; or one of "$root", "$logs", "$web". */
bool bm_container_name_valid(const char *name);

#endif
