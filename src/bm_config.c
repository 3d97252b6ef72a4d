/*
 * bm_config: credentials, endpoint and container from a blobfuse v1 config
 * file or a connection string, and the fields' ownership (init, release,
 * setters). See bm_config.h. The environment is read by bm_config_env.c;
 * the one validation path (bm_config_finish) every caller goes through
 * is bm_config_check.c.
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
#include "bm_config_impl.h"
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
int bm_config_set_field(char **field, const char *value, size_t n, bool secret,
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
int bm_config_set_sas(char **field, const char *value, size_t n,
		      struct bm_error *err)
{
	while (n > 0 && *value == '?') {
		value++;
		n--;
	}
	return bm_config_set_field(field, value, n, true, err);
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

int bm_config_set_auth_type(struct bm_config *cfg, const char *value, size_t n,
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
		return bm_config_set_field(&cfg->account, value, n, false, err);
	case KEY_ACCOUNT_KEY:
		return bm_config_set_field(&cfg->account_key, value, n, true,
					   err);
	case KEY_SAS:
		return bm_config_set_sas(&cfg->sas_token, value, n, err);
	case KEY_CONTAINER:
		return bm_config_set_field(&cfg->container, value, n, false,
					   err);
	case KEY_AUTH_TYPE:
		return bm_config_set_auth_type(cfg, value, n, where, err);
	case KEY_ENDPOINT:
		return bm_config_set_field(&cfg->endpoint, value, n, false,
					   err);
	case KEY_IDENTITY_CLIENT_ID:
		return bm_config_set_field(&cfg->entra.identity_client_id,
					   value, n, false, err);
	case KEY_IDENTITY_OBJECT_ID:
		return bm_config_set_field(&cfg->entra.identity_object_id,
					   value, n, false, err);
	case KEY_IDENTITY_RESOURCE_ID:
		return bm_config_set_field(&cfg->entra.identity_resource_id,
					   value, n, false, err);
	case KEY_MSI_ENDPOINT:
		return bm_config_set_field(&cfg->entra.msi_endpoint, value, n,
					   false, err);
	case KEY_SPN_CLIENT_ID:
		return bm_config_set_field(&cfg->entra.client_id, value, n,
					   false, err);
	case KEY_SPN_TENANT_ID:
		return bm_config_set_field(&cfg->entra.tenant_id, value, n,
					   false, err);
	case KEY_SPN_CLIENT_SECRET:
		return bm_config_set_field(&cfg->entra.client_secret, value, n,
					   true, err);
	case KEY_AAD_ENDPOINT:
		return bm_config_set_field(&cfg->entra.authority_host, value, n,
					   false, err);
	}
	return -1;
}

/* "accountName, accountKey, ...": file_keys' names, for messages. */
static void known_keys(char *out, size_t cap)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof(file_keys) / sizeof(file_keys[0]) && n < cap;
	     i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "",
				      file_keys[i].name);
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
	if (showable_name(key, klen)) {
		char known[512];

		known_keys(known, sizeof(known));
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s: unknown key '%.*s' (known: %s)", where,
			     (int)klen, key, known);
	} else {
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s: not a 'key value' line (not shown: it may "
			     "hold a secret)",
			     where);
	}
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
		return bm_config_set_field(&cfg->account, v, vlen, false, err);
	if (IS("AccountKey"))
		return bm_config_set_field(&cfg->account_key, v, vlen, true,
					   err);
	if (IS("SharedAccessSignature"))
		return bm_config_set_sas(&cfg->sas_token, v, vlen, err);
	if (IS("BlobEndpoint"))
		return bm_config_set_field(&cfg->endpoint, v, vlen, false, err);
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
		    bm_config_set_field(&cfg->account, DEV_ACCOUNT,
					strlen(DEV_ACCOUNT), false, err) < 0)
			goto out;
		if (!cfg->account_key && !cfg->sas_token &&
		    bm_config_set_field(&cfg->account_key, DEV_KEY,
					strlen(DEV_KEY), true, err) < 0)
			goto out;
		if (!cfg->endpoint &&
		    bm_config_set_field(&cfg->endpoint, DEV_ENDPOINT,
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

/* ---- which identity the fields name ------------------------------- */

/* Whether any field of a managed identity / a service principal is set. */
bool bm_config_msi_given(const struct bm_entra *e)
{
	return e->identity_client_id || e->identity_object_id ||
	       e->identity_resource_id || e->msi_endpoint;
}

bool bm_config_spn_given(const struct bm_entra *e)
{
	return e->tenant_id || e->client_id || e->client_secret ||
	       e->cert_path || e->federated_token_file;
}

/* Whether cfg already names a way to authenticate (the credential unit
 * that a later source may not add to). */
bool bm_config_has_credential(const struct bm_config *cfg)
{
	return cfg->account_key || cfg->sas_token ||
	       bm_auth_type_is_entra(cfg->auth_type) ||
	       bm_config_msi_given(&cfg->entra) ||
	       bm_config_spn_given(&cfg->entra);
}

/* The authType given, else the one the fields imply (identity* alone
 * means MSI, servicePrincipal* alone SPN, as blobfuse v1's docs pair them). */
enum bm_auth_type bm_config_implied_type(const struct bm_config *c)
{
	if (c->auth_type != BM_AUTH_UNSET || c->account_key || c->sas_token)
		return c->auth_type;
	if (bm_config_msi_given(&c->entra) && !bm_config_spn_given(&c->entra))
		return BM_AUTH_MSI;
	if (bm_config_spn_given(&c->entra) && !bm_config_msi_given(&c->entra))
		return BM_AUTH_SPN;
	return BM_AUTH_UNSET;
}
