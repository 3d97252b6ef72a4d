/*
 * bm_config_check: the one validation path every caller goes through
 * (bm_config_finish): account, endpoint and container names, exactly one
 * credential and, for Entra ID, exactly one complete identity; the
 * account key decoded, the default endpoint made. Where the values came
 * from is bm_config.c's and bm_config_env.c's concern.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bm_auth.h"
#include "bm_config_impl.h"
#include "bm_log.h"

bool bm_account_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 3 || n > 24)
		return false;
	for (; *name; name++)
		if (!((*name >= 'a' && *name <= 'z') ||
		      (*name >= '0' && *name <= '9')))
			return false;
	return true;
}

bool bm_container_name_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (strcmp(name, "$root") == 0 || strcmp(name, "$logs") == 0 ||
	    strcmp(name, "$web") == 0)
		return true;
	if (n < 3 || n > 63 || name[0] == '-' || name[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (c == '-' && name[i + 1] == '-')
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return true;
}

/* http(s)://HOST[:PORT][/PATH] without query, fragment, blanks or
 * control characters; one trailing '/' or more is dropped. */
static int check_endpoint(struct bm_config *cfg, struct bm_error *err)
{
	char *e = cfg->endpoint, *host;
	size_t n = strlen(e);
	const unsigned char *p;

	while (n > 0 && e[n - 1] == '/')
		e[--n] = '\0';
	if (strncasecmp(e, "https://", 8) == 0)
		host = e + 8;
	else if (strncasecmp(e, "http://", 7) == 0)
		host = e + 7;
	else
		goto bad;
	if (*host == '\0' || *host == '/' || *host == ':')
		goto bad;
	for (p = (const unsigned char *)e; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' ||
		    *p == '@' || *p == '"' || *p == '\\')
			goto bad;
	return 0;
bad:
	bm_error_set(err, BM_ERR_CONFIG,
		     "bad blob endpoint '%s': expected http(s)://HOST[:PORT]"
		     "[/PATH]",
		     e);
	return -1;
}

/*
 * The account an endpoint names: the first path segment of a path-style
 * endpoint (Azurite), else the first host label of ACCOUNT.blob.*.
 * Sets *len to 0 when it names none.
 */
static const char *endpoint_account(const char *endpoint, size_t *len)
{
	const char *host = strstr(endpoint, "://"), *dot, *path;

	*len = 0;
	if (!host)
		return NULL;
	host += 3;
	path = host + strcspn(host, "/");
	dot = strchr(host, '.');
	if (*path == '/' && path[1]) {
		*len = strcspn(path + 1, "/");
		return path + 1;
	}
	if (dot && dot < path && strncmp(dot, ".blob.", 6) == 0) {
		*len = (size_t)(dot - host);
		return host;
	}
	return NULL;
}

/* The first Entra setting given, for messages. */
static const char *msi_setting(const struct bm_entra *e)
{
	return e->identity_client_id	 ? "identityClientId"
	       : e->identity_object_id	 ? "identityObjectId"
	       : e->identity_resource_id ? "identityResourceId"
	       : e->msi_endpoint	 ? "msiEndpoint"
					 : NULL;
}

static const char *spn_setting(const struct bm_entra *e)
{
	return e->client_id		 ? "servicePrincipalClientId"
	       : e->tenant_id		 ? "servicePrincipalTenantId"
	       : e->client_secret	 ? "servicePrincipalClientSecret"
	       : e->cert_path		 ? "AZURE_CLIENT_CERTIFICATE_PATH"
	       : e->federated_token_file ? "AZURE_FEDERATED_TOKEN_FILE"
					 : NULL;
}

/* "authType MSI", "a managed identity (identityClientId)", ... in a
 * static buffer per call site: messages only. */
static const char *entra_what(const struct bm_config *cfg,
			      enum bm_auth_type type)
{
	static __thread char buf[96];

	if (bm_auth_type_is_entra(type))
		snprintf(buf, sizeof(buf), "authType %s",
			 bm_auth_type_name(type));
	else if (bm_config_msi_given(&cfg->entra))
		snprintf(buf, sizeof(buf), "a managed identity (%s)",
			 msi_setting(&cfg->entra));
	else
		snprintf(buf, sizeof(buf), "a service principal (%s)",
			 spn_setting(&cfg->entra));
	return buf;
}

/* Tenant ids and names go into a URL path: a GUID or a domain name. */
static bool tenant_valid(const char *t)
{
	if (!*t || strlen(t) > 253)
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
		      (*t >= '0' && *t <= '9') || *t == '-' || *t == '.'))
			return false;
	return true;
}

static bool url_has_scheme(const char *url, bool https_only)
{
	return strncasecmp(url, "https://", 8) == 0 ||
	       (!https_only && strncasecmp(url, "http://", 7) == 0);
}

/* A file the token source will read later, checked now. */
static int check_readable(const char *path, const char *what,
			  struct bm_error *err)
{
	if (access(path, R_OK) == 0)
		return 0;
	bm_error_set(err, BM_ERR_CONFIG, "cannot read %s '%s': %s", what, path,
		     strerror(errno));
	return -1;
}

/* Exactly one identity, complete, of the type given or implied. */
static int finish_entra(struct bm_config *cfg, enum bm_auth_type type,
			struct bm_error *err)
{
	struct bm_entra *e = &cfg->entra;
	int ids = !!e->identity_client_id + !!e->identity_object_id +
		  !!e->identity_resource_id;
	int proofs =
	    !!e->client_secret + !!e->cert_path + !!e->federated_token_file;

	if (type == BM_AUTH_UNSET) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "both a managed identity (%s) and a service "
			     "principal (%s) are given for '%s': keep only one",
			     msi_setting(e), spn_setting(e), cfg->account);
		return -1;
	}
	if ((type != BM_AUTH_MSI && bm_config_msi_given(e)) ||
	    (type != BM_AUTH_SPN && bm_config_spn_given(e))) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "authType %s does not take %s: keep only one way "
			     "to authenticate for '%s'",
			     bm_auth_type_name(type),
			     type != BM_AUTH_MSI && bm_config_msi_given(e)
				 ? msi_setting(e)
				 : spn_setting(e),
			     cfg->account);
		return -1;
	}
	if (ids > 1) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "give only one of identityClientId, "
			     "identityObjectId and identityResourceId");
		return -1;
	}
	if (e->msi_endpoint && !url_has_scheme(e->msi_endpoint, false)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "bad msiEndpoint '%s': expected an http(s) URL",
			     e->msi_endpoint);
		return -1;
	}
	if (e->authority_host && !url_has_scheme(e->authority_host, true)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "bad aadEndpoint '%s': expected an https URL such "
			     "as https://login.microsoftonline.com/",
			     e->authority_host);
		return -1;
	}
	if (type == BM_AUTH_SPN) {
		if (!e->tenant_id || !e->client_id) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "authType SPN needs %s (or %s)",
				     e->tenant_id ? "servicePrincipalClientId"
						  : "servicePrincipalTenantId",
				     e->tenant_id ? "AZURE_CLIENT_ID"
						  : "AZURE_TENANT_ID");
			return -1;
		}
		if (!tenant_valid(e->tenant_id)) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "bad tenant id '%s': expected a GUID or a "
				     "domain name",
				     e->tenant_id);
			return -1;
		}
		if (proofs == 0) {
			bm_error_set(
			    err, BM_ERR_CONFIG,
			    "authType SPN needs a client secret "
			    "(servicePrincipalClientSecret, "
			    "AZURE_STORAGE_SPN_CLIENT_SECRET or "
			    "AZURE_CLIENT_SECRET), a certificate "
			    "(AZURE_CLIENT_CERTIFICATE_PATH) or a "
			    "federated token (AZURE_FEDERATED_TOKEN_FILE)");
			return -1;
		}
		if (proofs > 1) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "give only one of a client secret, a "
				     "certificate and a federated token file");
			return -1;
		}
		if ((e->cert_path &&
		     check_readable(e->cert_path, "certificate", err) < 0) ||
		    (e->federated_token_file &&
		     check_readable(e->federated_token_file,
				    "federated token file", err) < 0))
			return -1;
	}
	cfg->auth_type = type;
	return 0;
}

static int finish_endpoint_container(struct bm_config *cfg,
				     bool require_container,
				     struct bm_error *err);

int bm_config_finish(struct bm_config *cfg, bool require_container,
		     struct bm_error *err)
{
	const char *sig, *named;
	enum bm_auth_type type;
	size_t nlen;
	bool entra;

	if (cfg->endpoint && check_endpoint(cfg, err) < 0)
		return -1;
	/* SAS connection strings often give only BlobEndpoint. */
	named = cfg->endpoint ? endpoint_account(cfg->endpoint, &nlen) : NULL;
	if (!cfg->account && named &&
	    bm_config_set_field(&cfg->account, named, nlen, false, err) < 0)
		return -1;
	if (!cfg->account || !*cfg->account) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "no storage account given: set accountName in the "
			     "config file, AZURE_STORAGE_ACCOUNT or "
			     "AZURE_STORAGE_CONNECTION_STRING");
		return -1;
	}
	if (!bm_account_name_valid(cfg->account)) {
		bm_error_set(
		    err, BM_ERR_CONFIG,
		    "bad account name '%s': use 3-24 lowercase letters "
		    "and digits",
		    cfg->account);
		return -1;
	}
	/* Likely a 403 later: the signature names the account. */
	if (named && (nlen != strlen(cfg->account) ||
		      strncmp(named, cfg->account, nlen) != 0))
		bm_warn("blob endpoint '%s' names account '%.*s', but the "
			"account is '%s'",
			cfg->endpoint, (int)nlen, named, cfg->account);
	type = bm_config_implied_type(cfg);
	entra = bm_auth_type_is_entra(type) ||
		bm_config_msi_given(&cfg->entra) ||
		bm_config_spn_given(&cfg->entra);
	if (cfg->account_key && cfg->sas_token) {
		bm_error_set(
		    err, BM_ERR_CONFIG,
		    "both an account key and a SAS token are given for "
		    "'%s': keep only one",
		    cfg->account);
		return -1;
	}
	if ((cfg->account_key || cfg->sas_token) && entra) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "both %s and %s are given for '%s': keep only one",
			     cfg->account_key ? "an account key"
					      : "a SAS token",
			     entra_what(cfg, type), cfg->account);
		return -1;
	}
	if (!cfg->account_key && !cfg->sas_token && !entra) {
		bm_error_set(
		    err, BM_ERR_CONFIG,
		    "no credentials for account '%s': give an account "
		    "key (accountKey, AZURE_STORAGE_ACCESS_KEY), a "
		    "SAS token (sasToken, AZURE_STORAGE_SAS_TOKEN) or "
		    "an Entra ID identity (authType MSI, SPN or AzCli)",
		    cfg->account);
		return -1;
	}
	if (entra) {
		if (finish_entra(cfg, type, err) < 0)
			return -1;
		return finish_endpoint_container(cfg, require_container, err);
	}
	if (cfg->auth_type == BM_AUTH_KEY && !cfg->account_key) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "authType is Key but no account key is given for "
			     "'%s'",
			     cfg->account);
		return -1;
	}
	if (cfg->auth_type == BM_AUTH_SAS && !cfg->sas_token) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "authType is SAS but no SAS token is given for "
			     "'%s'",
			     cfg->account);
		return -1;
	}
	if (cfg->account_key) {
		bm_redact_register(cfg->account_key);
		if (cfg->key) {
			explicit_bzero(cfg->key, cfg->key_len);
			free(cfg->key);
			cfg->key = NULL;
		}
		if (bm_base64_decode(cfg->account_key, &cfg->key,
				     &cfg->key_len) < 0) {
			cfg->key = NULL;
			bm_error_set(err, BM_ERR_CONFIG,
				     "the account key for '%s' is not valid "
				     "base64 (copy it again from the portal)",
				     cfg->account);
			return -1;
		}
		cfg->auth_type = BM_AUTH_KEY;
	} else {
		bm_redact_register(cfg->sas_token);
		sig = strstr(cfg->sas_token, "sig=");
		if (!sig || (sig != cfg->sas_token && sig[-1] != '&') ||
		    strpbrk(cfg->sas_token, " \t\r\n#?")) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "the SAS token for '%s' is malformed (no "
				     "sig= parameter, or blanks in it)",
				     cfg->account);
			return -1;
		}
		cfg->auth_type = BM_AUTH_SAS;
	}
	return finish_endpoint_container(cfg, require_container, err);
}

/* The default endpoint, https for tokens, and the container's name. */
static int finish_endpoint_container(struct bm_config *cfg,
				     bool require_container,
				     struct bm_error *err)
{
	if (!cfg->endpoint &&
	    asprintf(&cfg->endpoint, "%s://%s.blob.core.windows.net",
		     cfg->use_https ? "https" : "http", cfg->account) < 0) {
		cfg->endpoint = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "configuration: out of memory");
		return -1;
	}
	/* A bearer token is as good as a password for its lifetime: it
	 * never travels in clear text (nor would Azure accept it so). */
	if (bm_auth_type_is_entra(cfg->auth_type) &&
	    strncasecmp(cfg->endpoint, "https://", 8) != 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "refusing to send an Entra ID token over plain "
			     "HTTP to '%s': use an https blob endpoint",
			     cfg->endpoint);
		return -1;
	}
	if (require_container && (!cfg->container || !*cfg->container)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "no container given: set containerName in the "
			     "config file or use --container-name");
		return -1;
	}
	if (cfg->container && !bm_container_name_valid(cfg->container)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "bad container name '%s': use 3-63 lowercase "
			     "letters, digits and single hyphens",
			     cfg->container);
		return -1;
	}
	return 0;
}
