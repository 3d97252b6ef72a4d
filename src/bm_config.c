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

void bm_config_release(struct bm_config *cfg)
{
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

static int set_auth_type(struct bm_config *cfg, const char *value, size_t n,
			 const char *where, struct bm_error *err)
{
	if (n == 3 && strncasecmp(value, "Key", 3) == 0) {
		cfg->auth_type = BM_AUTH_KEY;
	} else if (n == 3 && strncasecmp(value, "SAS", 3) == 0) {
		cfg->auth_type = BM_AUTH_SAS;
	} else {
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s: authType '%.*s' is not supported (use Key or "
			     "SAS)",
			     where, (int)n, value);
		return -1;
	}
	return 0;
}

/* ---- the config file ----------------------------------------------- */

enum file_key {
	KEY_ACCOUNT,
	KEY_ACCOUNT_KEY,
	KEY_SAS,
	KEY_CONTAINER,
	KEY_AUTH_TYPE,
	KEY_ENDPOINT,
};

/* Exact, case-sensitive names, as blobfuse v1 reads them. */
static const struct {
	const char *name;
	enum file_key key;
} file_keys[] = {
    {"accountName", KEY_ACCOUNT}, {"accountKey", KEY_ACCOUNT_KEY},
    {"sasToken", KEY_SAS},	  {"containerName", KEY_CONTAINER},
    {"authType", KEY_AUTH_TYPE},  {"blobEndpoint", KEY_ENDPOINT},
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
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s: unknown key '%.*s' (known: accountName, "
			     "accountKey, sasToken, containerName, authType, "
			     "blobEndpoint)",
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

int bm_config_read_file(const char *path, char **out, size_t *out_len,
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

int bm_config_load_file(struct bm_config *cfg, const char *path,
			struct bm_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (bm_config_read_file(path, &buf, &len, err) < 0)
		return -1;
	rc = bm_config_parse_buffer(cfg, buf, len, path, err);
	explicit_bzero(buf, len);
	free(buf);
	return rc;
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

/* Copies the fields src has and dst lacks; credentials as one unit. */
static int fill_unset(struct bm_config *dst, const struct bm_config *src,
		      struct bm_error *err)
{
	bool creds = !dst->account_key && !dst->sas_token;

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
	if (!dst->endpoint && src->endpoint) {
		if (set_field(&dst->endpoint, src->endpoint,
			      strlen(src->endpoint), false, err) < 0)
			return -1;
		dst->use_https = src->use_https;
	}
	return 0;
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

/*
 * The AZURE_STORAGE_* variables first, then the connection string for
 * whatever they leave unset.
 */
int bm_config_load_env(struct bm_config *cfg, struct bm_error *err)
{
	struct bm_config vars, conn;
	bool conn_creds;
	const char *v;
	int rc = -1;

	bm_config_init(&vars);
	bm_config_init(&conn);
	if ((v = getenv("AZURE_STORAGE_ACCOUNT")) && *v &&
	    set_field(&vars.account, v, strlen(v), false, err) < 0)
		goto out;
	if (env_account_key(&v, err) < 0)
		goto out;
	if (v && set_field(&vars.account_key, v, strlen(v), true, err) < 0)
		goto out;
	if ((v = getenv("AZURE_STORAGE_SAS_TOKEN")) && *v &&
	    set_sas(&vars.sas_token, v, strlen(v), err) < 0)
		goto out;
	if ((v = getenv("AZURE_STORAGE_BLOB_ENDPOINT")) && *v &&
	    set_field(&vars.endpoint, v, strlen(v), false, err) < 0)
		goto out;
	if ((v = getenv("AZURE_STORAGE_CONNECTION_STRING")) && *v) {
		bm_redact_register(v);
		if (bm_config_parse_connection_string(&conn, v, err) < 0) {
			bm_error_prefix(err, "AZURE_STORAGE_CONNECTION_STRING");
			goto out;
		}
	}
	/* Variables win over the connection string: they fill cfg first. */
	conn_creds = !cfg->account_key && !cfg->sas_token &&
		     !vars.account_key && !vars.sas_token &&
		     (conn.account_key || conn.sas_token);
	if (fill_unset(cfg, &vars, err) < 0 || fill_unset(cfg, &conn, err) < 0)
		goto out;
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

int bm_config_finish(struct bm_config *cfg, bool require_container,
		     struct bm_error *err)
{
	const char *sig, *named;
	size_t nlen;

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
	if (cfg->account_key && cfg->sas_token) {
		bm_error_set(
		    err, BM_ERR_CONFIG,
		    "both an account key and a SAS token are given for "
		    "'%s': keep only one",
		    cfg->account);
		return -1;
	}
	if (!cfg->account_key && !cfg->sas_token) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "no credentials for account '%s': give an account "
			     "key (accountKey, AZURE_STORAGE_ACCESS_KEY) or a "
			     "SAS token (sasToken, AZURE_STORAGE_SAS_TOKEN)",
			     cfg->account);
		return -1;
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
	if (!cfg->endpoint &&
	    asprintf(&cfg->endpoint, "%s://%s.blob.core.windows.net",
		     cfg->use_https ? "https" : "http", cfg->account) < 0) {
		cfg->endpoint = NULL;
		bm_error_set(err, BM_ERR_NOMEM, "configuration: out of memory");
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
