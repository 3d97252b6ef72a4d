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
	bool use_https;	    /* default true; --use-https=false => http */
	char *ca_cert_file; /* extra CA bundle, or NULL */
	bool insecure;	    /* TLS verification off (warns) */
};

/* Zeroes cfg and sets defaults (use_https = true). */
void bm_config_init(struct bm_config *cfg);
/* Frees every field (wiping key material) and re-inits. */
void bm_config_release(struct bm_config *cfg);

/* Reads a blobfuse config file. Warns (bm_warn) when group/other can read it.
 * Values already set in cfg are overwritten. */
int bm_config_load_file(struct bm_config *cfg, const char *path,
			struct bm_error *err);

/* Reads a whole config file (at most 64 KiB, a regular file) into a
 * NUL-terminated buffer the caller wipes and frees; warns (bm_warn) when
 * group/other can read it. For every config format (the blobfuse2 YAML
 * parser in fusefs/ too). */
int bm_config_read_file(const char *path, char **buf, size_t *len,
			struct bm_error *err);

/* Same grammar, from a buffer (for tests and fuzzing). `origin` names the
 * source in error messages. */
int bm_config_parse_buffer(struct bm_config *cfg, const char *buf, size_t len,
			   const char *origin, struct bm_error *err);

/* Fills unset fields from the environment variables above, the connection
 * string included. Returns 0 when nothing applies (not an error). */
int bm_config_load_env(struct bm_config *cfg, struct bm_error *err);

int bm_config_parse_connection_string(struct bm_config *cfg, const char *cs,
				      struct bm_error *err);

/*
 * Validates and derives: account required; exactly one of key and SAS (both
 * is an error, neither is an error); authType consistent with what is given;
 * key decodes as base64; endpoint defaults to
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
