/*
 * bm_token: OAuth 2.0 access tokens from Microsoft Entra ID for one
 * resource (storage: BM_RESOURCE_STORAGE, Batch: BM_RESOURCE_BATCH), shared
 * by blobmill-fuse and the CLI. Sources:
 *   - managed identity: IMDS (GET http://169.254.169.254/metadata/identity/
 *     oauth2/token, api-version 2018-02-01, "Metadata: true"), or msiEndpoint
 *     speaking the same protocol; IDENTITY_ENDPOINT + IDENTITY_HEADER (App
 *     Service, api-version 2019-08-01, X-IDENTITY-HEADER); MSI_ENDPOINT
 *     (with MSI_SECRET: App Service 2017-09-01 and its "secret" header;
 *     without: the IMDS protocol, as in Cloud Shell). A user-assigned
 *     identity is chosen by client id, object id or resource id.
 *   - service principal: client credentials against AUTHORITY/TENANT/
 *     oauth2/v2.0/token with a client secret, a certificate (an RS256
 *     client assertion signed with the PEM's key, x5t = its SHA-1
 *     thumbprint) or a federated token file (workload identity: the file
 *     is the assertion, read again at each refresh).
 *   - the az CLI: `az account get-access-token --resource R -o json`, run
 *     without a shell.
 *
 * Cache: one token in memory per bm_token. bm_token_get hands out a copy
 * while the token is fresh; one caller at a time refreshes it, five
 * minutes before expiry or at half its lifetime if that is sooner
 * (so one-minute tokens work), while the others keep using the old token
 * as long as it is valid. HTTP sources go through bm_http, so a refresh
 * is retried like any request; a refresh that still fails leaves the old
 * token in use until it nears expiry, and is tried again a few seconds
 * later. Thread-safe.
 *
 * Never logs a token, an assertion or a secret: they are registered with
 * bm_redact_register, and error messages carry only the service's error
 * code and description.
 */
#ifndef BM_TOKEN_H
#define BM_TOKEN_H

#include <stdbool.h>
#include <time.h>

#include "bm_config.h"
#include "bm_error.h"
#include "bm_http.h"

#define BM_RESOURCE_STORAGE "https://storage.azure.com/"
#define BM_RESOURCE_BATCH "https://batch.core.windows.net/"
#define BM_AUTHORITY_DEFAULT "https://login.microsoftonline.com/"
#define BM_IMDS_TOKEN_URL                                                      \
	"http://169.254.169.254/metadata/identity/oauth2/token"

struct bm_token;

/*
 * A token source for `resource` with the identity cfg names (cfg passed
 * bm_config_finish with an Entra auth type; its fields are copied). ho
 * are the caller's HTTP options, CA file and retry policy included: the
 * token requests use them too.
 * Reads IDENTITY_ENDPOINT, IDENTITY_HEADER, MSI_ENDPOINT and MSI_SECRET
 * for a managed identity without msiEndpoint. Sends nothing yet.
 */
struct bm_token *bm_token_new(const struct bm_config *cfg, const char *resource,
			      const struct bm_http_options *ho,
			      struct bm_error *err);
void bm_token_free(struct bm_token *t);

/*
 * A valid access token, malloc()ed: the caller wipes (explicit_bzero) and
 * frees it. NULL with err set when no valid token can be had; the message
 * names the source and the service's reason, never the token.
 */
char *bm_token_get(struct bm_token *t, struct bm_error *err);

/* Forgets the cached token (after the service refused it). */
void bm_token_invalidate(struct bm_token *t);

/* "managed identity (IMDS)", "service principal (secret)", ...: static. */
const char *bm_token_source_name(const struct bm_token *t);

/* When a token obtained at `now` that expires at `expires_on` is
 * refreshed: 5 minutes before expiry, or at half its lifetime when it
 * lives less than 10 minutes (so one-minute tokens work). Public for
 * tests. */
time_t bm_token_refresh_at(time_t now, time_t expires_on);

/*
 * Parses a token response (IMDS, App Service, the authority or az CLI's
 * JSON): access_token or accessToken; expires_in (number or numeric
 * string, relative to now), else expires_on (epoch seconds as number or
 * string, or App Service 2017's "MM/DD/YYYY HH:MM:SS +00:00"), else az's
 * expiresOn (local time). Public for tests. *token is malloc()ed.
 */
int bm_token_parse_response(const char *body, time_t now, char **token,
			    time_t *expires_on, struct bm_error *err);

/*
 * The az CLI source: a token for `resource` from `az account
 * get-access-token`, obtained at `now`. bm_token_get's; public only to
 * live in bm_token_azcli.c. *token is malloc()ed.
 */
int bm_token_fetch_azcli(const char *resource, time_t now, char **token,
			 time_t *expires_on, struct bm_error *err);

#endif
