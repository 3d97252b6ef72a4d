/*
 * bm_config: credentials, endpoint and container from a blobfuse v1 config
 * file, the environment or a connection string, and the one validation
 * path (bm_config_finish) every caller goes through. See bm_config.h.
 *
 * Precedence is the caller's order of calls: a file loaded first and then
 * bm_config_load_env() keeps the file's values, because the environment
 * only fills what is still unset. Credentials (key or SAS) count as one
 * unit there, so a key from the file is never paired with a SAS from the
 * environment.
 *
 * Every secret is registered with bm_redact_register() as soon as it is
 * read, and wiped from memory on release.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bm_auth.h"
#include "bm_config.h"
#include "bm_log.h"

/* Azurite's well-known development account (public, documented by
 * Microsoft; not a secret). */
#define DEV_ACCOUNT "devstoreaccount1"
#define DEV_KEY                                                                \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZ"  \
	"FPTOtr/KBHBeksoGMGw=="
#define DEV_ENDPOINT "http://127.0.0.1:10000/" DEV_ACCOUNT

/* Config files are a few lines; anything bigger is not one. */
#define CONFIG_FILE_MAX (64 * 1024)

void bm_config_init(struct bm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->use_https = true;
}

static void free_secret(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static void entra_release(struct bm_entra *e)
{
	free(e->identity_client_id);
	free(e->identity_object_id);
	free(e->identity_resource_id);
	free(e->msi_endpoint);
	free(e->tenant_id);
	free(e->client_id);
	free_secret(&e->client_secret);
	free(e->cert_path);
	free(e->federated_token_file);
	free(e->authority_host);
	memset(e, 0, sizeof(*e));
}

void bm_config_release(struct bm_config *cfg)
{
	entra_release(&cfg->entra);
	free(cfg->account);
	free_secret(&cfg->account_key);
	if (cfg->key) {
		explicit_bzero(cfg->key, cfg->key_len);
		free(cfg->key);
	}
	free_secret(&cfg->sas_token);
	free(cfg->container);
	free(cfg->endpoint);
	free(cfg->ca_cert_file);
	bm_config_init(cfg);
}

/* Replaces *field with a copy of the first n bytes of value. */
static int set_field(char **field, const char *value, size_t n, bool secret,
		     struct bm_error *err)
{
	char *copy = strndup(value, n);

	if (!copy) {
		bm_error_set(err, BM_ERR_NOMEM, "cannot read configuration: %s",
			     "out of memory");
		return -1;
	}
	if (secret) {
		bm_redact_register(copy);
		free_secret(field);
	} else {
		free(*field);
	}
	*field = copy;
	return 0;
}

/* A SAS token is kept without its leading '?' (portal copies have it). */
static int set_sas(char **field, const char *value, size_t n,
		   struct bm_error *err)
{
	while (n > 0 && *value == '?') {
		value++;
		n--;
	}
	return set_field(field, value, n, true, err);
}

/* blobfuse v1's names (any case), plus AzCli for blobfuse2's mode azcli. */
static const struct {
	const char *name;
	enum bm_auth_type type;
} auth_types[] = {
    {"Key", BM_AUTH_KEY}, {"SAS", BM_AUTH_SAS},	    {"MSI", BM_AUTH_MSI},
    {"SPN", BM_AUTH_SPN}, {"AzCli", BM_AUTH_AZCLI},
};

const char *bm_auth_type_name(enum bm_auth_type t)
{
	size_t i;

	for (i = 0; i < sizeof(auth_types) / sizeof(auth_types[0]); i++)
		if (auth_types[i].type == t)
			return auth_types[i].name;
	return "none";
}

static int set_auth_type(struct bm_config *cfg, const char *value, size_t n,
			 const char *where, struct bm_error *err)
{
	size_t i;

	for (i = 0; i < sizeof(auth_types) / sizeof(auth_types[0]); i++) {
		if (strlen(auth_types[i].name) == n &&
		    strncasecmp(value, auth_types[i].name, n) == 0) {
			cfg->auth_type = auth_types[i].type;
			return 0;
		}
	}
	bm_error_set(err, BM_ERR_CONFIG,
		     "%s: authType '%.*s' is not supported (use Key, SAS, "
		     "MSI, SPN or AzCli)",
		     where, (int)n, value);
	return -1;
}

/* ---- the config file ----------------------------------------------- */

enum file_key {
	KEY_ACCOUNT,
	KEY_ACCOUNT_KEY,
	KEY_SAS,
	KEY_CONTAINER,
	KEY_AUTH_TYPE,
	KEY_ENDPOINT,
	KEY_IDENTITY_CLIENT_ID,
	KEY_IDENTITY_OBJECT_ID,
	KEY_IDENTITY_RESOURCE_ID,
	KEY_MSI_ENDPOINT,
	KEY_SPN_CLIENT_ID,
	KEY_SPN_TENANT_ID,
	KEY_SPN_CLIENT_SECRET,
	KEY_AAD_ENDPOINT,
};

/* Exact, case-sensitive names, as blobfuse v1 reads them. */
static const struct {
	const char *name;
	enum file_key key;
} file_keys[] = {
    {"accountName", KEY_ACCOUNT},
    {"accountKey", KEY_ACCOUNT_KEY},
    {"sasToken", KEY_SAS},
    {"containerName", KEY_CONTAINER},
    {"authType", KEY_AUTH_TYPE},
    {"blobEndpoint", KEY_ENDPOINT},
    {"identityClientId", KEY_IDENTITY_CLIENT_ID},
    {"identityObjectId", KEY_IDENTITY_OBJECT_ID},
    {"identityResourceId", KEY_IDENTITY_RESOURCE_ID},
    {"msiEndpoint", KEY_MSI_ENDPOINT},
    {"servicePrincipalClientId", KEY_SPN_CLIENT_ID},
    {"servicePrincipalTenantId", KEY_SPN_TENANT_ID},
    {"servicePrincipalClientSecret", KEY_SPN_CLIENT_SECRET},
    {"aadEndpoint", KEY_AAD_ENDPOINT},
};

static int file_set(struct bm_config *cfg, enum file_key key, const char *value,
		    size_t n, const char *where, struct bm_error *err)
{
	switch (key) {
	case KEY_ACCOUNT:
		return set_field(&cfg->account, value, n, false, err);
	case KEY_ACCOUNT_KEY:
		return set_field(&cfg->account_key, value, n, true, err);
	case KEY_SAS:
		return set_sas(&cfg->sas_token, value, n, err);
	case KEY_CONTAINER:
		return set_field(&cfg->container, value, n, false, err);
	case KEY_AUTH_TYPE:
		return set_auth_type(cfg, value, n, where, err);
	case KEY_ENDPOINT:
		return set_field(&cfg->endpoint, value, n, false, err);
	case KEY_IDENTITY_CLIENT_ID:
		return set_field(&cfg->entra.identity_client_id, value, n,
				 false, err);
	case KEY_IDENTITY_OBJECT_ID:
		return set_field(&cfg->entra.identity_object_id, value, n,
				 false, err);
	case KEY_IDENTITY_RESOURCE_ID:
		return set_field(&cfg->entra.identity_resource_id, value, n,
				 false, err);
	case KEY_MSI_ENDPOINT:
		return set_field(&cfg->entra.msi_endpoint, value, n, false,
				 err);
	case KEY_SPN_CLIENT_ID:
		return set_field(&cfg->entra.client_id, value, n, false, err);
	case KEY_SPN_TENANT_ID:
		return set_field(&cfg->entra.tenant_id, value, n, false, err);
	case KEY_SPN_CLIENT_SECRET:
		return set_field(&cfg->entra.client_secret, value, n, true,
				 err);
	case KEY_AAD_ENDPOINT:
		return set_field(&cfg->entra.authority_host, value, n, false,
				 err);
	}
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Whether an unknown name may be echoed in an error: a short identifier.
 * Anything else may be a pasted key or token, and is not shown.
 */
static bool showable_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 32)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

/* One line without its line end: blank, "# comment" or "key value". */
static int parse_line(struct bm_config *cfg, const char *line, size_t len,
		      const char *origin, unsigned lineno, struct bm_error *err)
{
	const char *key, *value, *end = line + len;
	char where[320];
	size_t klen, i;

	while (line < end && is_blank(*line))
		line++;
	while (end > line && is_blank(end[-1]))
		end--;
	if (line == end || *line == '#')
		return 0;
	snprintf(where, sizeof(where), "%s:%u", origin, lineno);
	if (memchr(line, '\0', (size_t)(end - line))) {
		bm_error_set(err, BM_ERR_CONFIG, "%s: line holds a NUL byte",
			     where);
		return -1;
	}
	key = line;
	for (klen = 0; key + klen < end && !is_blank(key[klen]); klen++)
		;
	value = key + klen;
	while (value < end && is_blank(*value))
		value++;
	for (i = 0; i < sizeof(file_keys) / sizeof(file_keys[0]); i++) {
		if (strlen(file_keys[i].name) != klen ||
		    strncmp(file_keys[i].name, key, klen) != 0)
			continue;
		if (value == end) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "%s: '%.*s' has no value", where,
				     (int)klen, key);
			return -1;
		}
		/* No value holds a blank; "value # note" is a mistake that
		 * blobfuse silently cut. The value is not shown. */
		if (memchr(value, ' ', (size_t)(end - value)) ||
		    memchr(value, '\t', (size_t)(end - value))) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "%s: the value of '%.*s' has a blank in "
				     "it (comments go on their own line)",
				     where, (int)klen, key);
			return -1;
		}
		return file_set(cfg, file_keys[i].key, value,
				(size_t)(end - value), where, err);
	}
	if (showable_name(key, klen))
		bm_error_set(
		    err, BM_ERR_CONFIG,
		    "%s: unknown key '%.*s' (known: accountName, "
		    "accountKey, sasToken, containerName, authType, "
		    "blobEndpoint, identityClientId, identityObjectId, "
		    "identityResourceId, msiEndpoint, "
		    "servicePrincipalClientId, "
		    "servicePrincipalTenantId, "
		    "servicePrincipalClientSecret, aadEndpoint)",
		    where, (int)klen, key);
	else
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s: not a 'key value' line (not shown: it may "
			     "hold a secret)",
			     where);
	return -1;
}

int bm_config_parse_buffer(struct bm_config *cfg, const char *buf, size_t len,
			   const char *origin, struct bm_error *err)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t n;
	unsigned lineno = 0;

	/* Windows editors may start the file with a UTF-8 byte order mark. */
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		lineno++;
		if (parse_line(cfg, p, n > 0 && p[n - 1] == '\r' ? n - 1 : n,
			       origin, lineno, err) < 0)
			return -1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static int read_file(const char *path, char **out, size_t *out_len,
		     struct bm_error *err)
{
	char *buf = NULL;
	struct stat st;
	ssize_t got;
	size_t len = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot read config file '%s': %s", path,
			     strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot read config file '%s': not a regular file",
			     path);
		goto out;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot read config file '%s': larger than %d "
			     "bytes",
			     path, CONFIG_FILE_MAX);
		goto out;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		bm_warn("config file '%s' is readable by group or others; "
			"it holds credentials: chmod 600 '%s'",
			path, path);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		bm_error_set(err, BM_ERR_NOMEM,
			     "cannot read config file '%s': out of memory",
			     path);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		got = read(fd, buf + len, (size_t)st.st_size - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "cannot read config file '%s': %s", path,
				     strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return rc;
}

int bm_config_parse_file(const char *path, bm_config_parse_fn parse, void *ud,
			 struct bm_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (read_file(path, &buf, &len, err) < 0)
		return -1;
	rc = parse(ud, buf, len, path, err);
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

static int parse_v1(void *cfg, const char *buf, size_t len, const char *origin,
		    struct bm_error *err)
{
	return bm_config_parse_buffer(cfg, buf, len, origin, err);
}

int bm_config_load_file(struct bm_config *cfg, const char *path,
			struct bm_error *err)
{
	return bm_config_parse_file(path, parse_v1, cfg, err);
}

/* ---- connection strings -------------------------------------------- */

/* Parts of a connection string before they are combined. */
struct conn_parts {
	const char *protocol, *suffix;
	size_t protocol_len, suffix_len;
	bool dev;
};

/* Names the SDKs write that concern other services: accepted, unused. */
static const char *const conn_ignored[] = {
    "QueueEndpoint",	     "TableEndpoint",	       "FileEndpoint",
    "BlobSecondaryEndpoint", "QueueSecondaryEndpoint", "TableSecondaryEndpoint",
    "FileSecondaryEndpoint",
};

static int conn_pair(struct bm_config *cfg, struct conn_parts *cp,
		     unsigned part, const char *name, size_t nlen,
		     const char *v, size_t vlen, struct bm_error *err)
{
	size_t i;

#define IS(s) (nlen == strlen(s) && strncasecmp(name, s, nlen) == 0)
	if (IS("AccountName"))
		return set_field(&cfg->account, v, vlen, false, err);
	if (IS("AccountKey"))
		return set_field(&cfg->account_key, v, vlen, true, err);
	if (IS("SharedAccessSignature"))
		return set_sas(&cfg->sas_token, v, vlen, err);
	if (IS("BlobEndpoint"))
		return set_field(&cfg->endpoint, v, vlen, false, err);
	if (IS("DefaultEndpointsProtocol")) {
		cp->protocol = v;
		cp->protocol_len = vlen;
		return 0;
	}
	if (IS("EndpointSuffix")) {
		cp->suffix = v;
		cp->suffix_len = vlen;
		return 0;
	}
	if (IS("UseDevelopmentStorage")) {
		if (vlen == 4 && strncasecmp(v, "true", 4) == 0) {
			cp->dev = true;
			return 0;
		}
		bm_error_set(err, BM_ERR_CONFIG,
			     "connection string: UseDevelopmentStorage must be "
			     "'true', not '%.*s'",
			     (int)vlen, v);
		return -1;
	}
	for (i = 0; i < sizeof(conn_ignored) / sizeof(conn_ignored[0]); i++)
		if (IS(conn_ignored[i]))
			return 0;
#undef IS
	if (showable_name(name, nlen))
		bm_error_set(err, BM_ERR_CONFIG,
			     "connection string: unknown name '%.*s'",
			     (int)nlen, name);
	else
		bm_error_set(err, BM_ERR_CONFIG,
			     "connection string: part %u has an unknown name "
			     "(not shown: it may hold a secret)",
			     part);
	return -1;
}

int bm_config_parse_connection_string(struct bm_config *cfg, const char *cs,
				      struct bm_error *err)
{
	struct conn_parts cp = {0};
	const char *p, *end, *eq;
	char *endpoint = NULL;
	unsigned part = 0;
	int rc = -1;

	for (p = cs; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ";");
		part++;
		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			continue;
		/* Values hold '=' (base64 padding, SAS); split at the first. */
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq || eq == p) {
			/* The part is not shown: it may be a bare key. */
			bm_error_set(err, BM_ERR_CONFIG,
				     "connection string: part %u is not "
				     "Name=Value",
				     part);
			goto out;
		}
		if (conn_pair(cfg, &cp, part, p, (size_t)(eq - p), eq + 1,
			      (size_t)(end - eq - 1), err) < 0)
			goto out;
	}
	if (cp.dev) {
		if (!cfg->account &&
		    set_field(&cfg->account, DEV_ACCOUNT, strlen(DEV_ACCOUNT),
			      false, err) < 0)
			goto out;
		if (!cfg->account_key && !cfg->sas_token &&
		    set_field(&cfg->account_key, DEV_KEY, strlen(DEV_KEY), true,
			      err) < 0)
			goto out;
		if (!cfg->endpoint &&
		    set_field(&cfg->endpoint, DEV_ENDPOINT,
			      strlen(DEV_ENDPOINT), false, err) < 0)
			goto out;
		cfg->use_https = false;
	}
	if (cp.protocol) {
		if (cp.protocol_len == 4 &&
		    strncasecmp(cp.protocol, "http", 4) == 0) {
			cfg->use_https = false;
		} else if (cp.protocol_len == 5 &&
			   strncasecmp(cp.protocol, "https", 5) == 0) {
			cfg->use_https = true;
		} else {
			bm_error_set(err, BM_ERR_CONFIG,
				     "connection string: "
				     "DefaultEndpointsProtocol '%.*s' is not "
				     "http or https",
				     (int)cp.protocol_len, cp.protocol);
			goto out;
		}
	}
	/* With a protocol or a suffix and no BlobEndpoint, the endpoint is
	 * PROTOCOL://ACCOUNT.blob.SUFFIX (suffix core.windows.net). It is
	 * made here so that the protocol travels with it. */
	if ((cp.suffix || cp.protocol) && !cfg->endpoint && cfg->account) {
		if (!cp.suffix) {
			cp.suffix = "core.windows.net";
			cp.suffix_len = strlen(cp.suffix);
		}
		if (asprintf(&endpoint, "%s://%s.blob.%.*s",
			     cfg->use_https ? "https" : "http", cfg->account,
			     (int)cp.suffix_len, cp.suffix) < 0) {
			endpoint = NULL;
			bm_error_set(err, BM_ERR_NOMEM,
				     "connection string: out of memory");
			goto out;
		}
		cfg->endpoint = endpoint;
	}
	rc = 0;
out:
	return rc;
}

/* ---- the environment ----------------------------------------------- */

/* Whether any field of a managed identity / a service principal is set. */
static bool msi_given(const struct bm_entra *e)
{
	return e->identity_client_id || e->identity_object_id ||
	       e->identity_resource_id || e->msi_endpoint;
}

static bool spn_given(const struct bm_entra *e)
{
	return e->tenant_id || e->client_id || e->client_secret ||
	       e->cert_path || e->federated_token_file;
}

/* Whether cfg already names a way to authenticate (the credential unit
 * that a later source may not add to). */
static bool has_credential(const struct bm_config *cfg)
{
	return cfg->account_key || cfg->sas_token ||
	       bm_auth_type_is_entra(cfg->auth_type) ||
	       msi_given(&cfg->entra) || spn_given(&cfg->entra);
}

/* The authType given, else the one the fields imply (identity* alone
 * means MSI, servicePrincipal* alone SPN, as blobfuse v1's docs pair them). */
static enum bm_auth_type implied_type(const struct bm_config *c)
{
	if (c->auth_type != BM_AUTH_UNSET || c->account_key || c->sas_token)
		return c->auth_type;
	if (msi_given(&c->entra) && !spn_given(&c->entra))
		return BM_AUTH_MSI;
	if (spn_given(&c->entra) && !msi_given(&c->entra))
		return BM_AUTH_SPN;
	return BM_AUTH_UNSET;
}

/* *dst = copy of src when *dst is unset and src is. */
static int fill_str(char **dst, const char *src, bool secret,
		    struct bm_error *err)
{
	if (*dst || !src)
		return 0;
	return set_field(dst, src, strlen(src), secret, err);
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
	bool creds = !has_credential(dst);

	if (!dst->account && src->account &&
	    set_field(&dst->account, src->account, strlen(src->account), false,
		      err) < 0)
		return -1;
	if (creds && src->account_key &&
	    set_field(&dst->account_key, src->account_key,
		      strlen(src->account_key), true, err) < 0)
		return -1;
	if (creds && src->sas_token &&
	    set_field(&dst->sas_token, src->sas_token, strlen(src->sas_token),
		      true, err) < 0)
		return -1;
	if (creds && src->auth_type != BM_AUTH_UNSET &&
	    dst->auth_type == BM_AUTH_UNSET)
		dst->auth_type = src->auth_type;
	if ((creds || implied_type(dst) == BM_AUTH_SPN) &&
	    fill_spn(&dst->entra, &src->entra, err) < 0)
		return -1;
	if ((creds || implied_type(dst) == BM_AUTH_MSI) &&
	    fill_msi(&dst->entra, &src->entra, err) < 0)
		return -1;
	if (!dst->endpoint && src->endpoint) {
		if (set_field(&dst->endpoint, src->endpoint,
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

	return v ? set_field(field, v, strlen(v), secret, err) : 0;
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
	    (v && set_field(&vars->account_key, v, strlen(v), true, err) < 0) ||
	    ((v = env("AZURE_STORAGE_SAS_TOKEN")) &&
	     set_sas(&vars->sas_token, v, strlen(v), err) < 0) ||
	    env_str(&vars->endpoint, "AZURE_STORAGE_BLOB_ENDPOINT", false,
		    err) < 0 ||
	    ((v = env("AZURE_STORAGE_AUTH_TYPE")) &&
	     set_auth_type(vars, v, strlen(v), "AZURE_STORAGE_AUTH_TYPE", err) <
		 0) ||
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
	conn_creds = !has_credential(cfg) && !has_credential(&vars) &&
		     (conn.account_key || conn.sas_token);
	if (fill_unset(cfg, &vars, err) < 0 || fill_unset(cfg, &conn, err) < 0)
		goto out;
	/* The SDK's identity applies only when nothing else named one; its
	 * parts complete an authType SPN or MSI chosen above. */
	if (!has_credential(cfg) && sdk.auth_type == BM_AUTH_MSI) {
		if (fill_str(&cfg->entra.identity_client_id,
			     sdk.entra.client_id, false, err) < 0)
			goto out;
		cfg->auth_type = BM_AUTH_MSI;
	} else if ((!has_credential(cfg) && sdk.auth_type == BM_AUTH_SPN) ||
		   implied_type(cfg) == BM_AUTH_SPN) {
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

	if (implied_type(cfg) != BM_AUTH_SPN)
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

/* ---- validation ---------------------------------------------------- */

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
	else if (msi_given(&cfg->entra))
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
	if ((type != BM_AUTH_MSI && msi_given(e)) ||
	    (type != BM_AUTH_SPN && spn_given(e))) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "authType %s does not take %s: keep only one way "
			     "to authenticate for '%s'",
			     bm_auth_type_name(type),
			     type != BM_AUTH_MSI && msi_given(e)
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
	    set_field(&cfg->account, named, nlen, false, err) < 0)
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
	type = implied_type(cfg);
	entra = bm_auth_type_is_entra(type) || msi_given(&cfg->entra) ||
		spn_given(&cfg->entra);
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
