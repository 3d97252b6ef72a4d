/*
 * bf2_resolve: what a blobfuse2 config file, `mount` flags and (for a
 * mount) blobfuse2's environment variables amount to: the mount job and
 * the v1 options that say the same (see bf2_cli.h). Precedence is
 * blobfuse2's: -o options, then flags, then the environment, then the
 * file, then blobfuse2's defaults. The authentication mode is the one
 * given, else blobfuse2's guess from the credentials there; credentials
 * of another mode are an error, not silently ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bf2_cli.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* One credential-ish value and where it came from, for messages. */
struct src_str {
	const char *v;
	char where[300];
};

static void pick(struct src_str *out, const struct bf2_config *file,
		 const struct bf2_str *fv, const char *env, bool use_env)
{
	const char *e = use_env && env ? getenv(env) : NULL;

	out->v = NULL;
	out->where[0] = '\0';
	if (e && *e) {
		out->v = e;
		snprintf(out->where, sizeof(out->where), "%s", env);
		if (!strcmp(env, "AZURE_STORAGE_ACCESS_KEY") ||
		    !strcmp(env, "AZURE_STORAGE_SAS_TOKEN") ||
		    !strcmp(env, "AZURE_STORAGE_SPN_CLIENT_SECRET"))
			bm_redact_register(e);
	} else if (fv->v) {
		out->v = fv->v;
		snprintf(out->where, sizeof(out->where), "%s:%u", file->origin,
			 fv->line);
	}
}

static int set_str(char **field, const char *v, struct bm_error *err)
{
	free(*field);
	*field = v ? strdup(v) : NULL;
	if (v && !*field) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* blobfuse2's authentication modes, a bit each. */
enum { M_KEY = 1, M_SAS = 2, M_MSI = 4, M_SPN = 8, M_AZCLI = 16 };

static const struct {
	const char *name;
	unsigned bit;
	enum bm_auth_type type;
} modes[] = {
    {"key", M_KEY, BM_AUTH_KEY},       {"sas", M_SAS, BM_AUTH_SAS},
    {"msi", M_MSI, BM_AUTH_MSI},       {"spn", M_SPN, BM_AUTH_SPN},
    {"azcli", M_AZCLI, BM_AUTH_AZCLI},
};

#define EOFF(f) offsetof(struct bm_entra, f)
#define NO_ENTRA ((size_t)-1)

/* The credential keys, blobfuse2's variable for each, the modes that use
 * it, and where it goes (an Entra field, or NO_ENTRA for key and SAS). */
static const struct {
	size_t off;
	const char *key, *env;
	unsigned modes;
	size_t entra;
} cred_keys[] = {
    {offsetof(struct bf2_config, account_key), "account-key",
     "AZURE_STORAGE_ACCESS_KEY", M_KEY, NO_ENTRA},
    {offsetof(struct bf2_config, sas), "sas", "AZURE_STORAGE_SAS_TOKEN", M_SAS,
     NO_ENTRA},
    {offsetof(struct bf2_config, appid), "appid",
     "AZURE_STORAGE_IDENTITY_CLIENT_ID", M_MSI, EOFF(identity_client_id)},
    {offsetof(struct bf2_config, objid), "objid",
     "AZURE_STORAGE_IDENTITY_OBJECT_ID", M_MSI, EOFF(identity_object_id)},
    {offsetof(struct bf2_config, resid), "resid",
     "AZURE_STORAGE_IDENTITY_RESOURCE_ID", M_MSI, EOFF(identity_resource_id)},
    {offsetof(struct bf2_config, tenantid), "tenantid",
     "AZURE_STORAGE_SPN_TENANT_ID", M_SPN, EOFF(tenant_id)},
    {offsetof(struct bf2_config, clientid), "clientid",
     "AZURE_STORAGE_SPN_CLIENT_ID", M_SPN, EOFF(client_id)},
    {offsetof(struct bf2_config, clientsecret), "clientsecret",
     "AZURE_STORAGE_SPN_CLIENT_SECRET", M_SPN, EOFF(client_secret)},
    {offsetof(struct bf2_config, oauth_token_path), "oauth-token-path",
     "AZURE_OAUTH_TOKEN_FILE", M_SPN, EOFF(federated_token_file)},
    {offsetof(struct bf2_config, aadendpoint), "aadendpoint",
     "AZURE_STORAGE_AAD_ENDPOINT", M_SPN, EOFF(authority_host)},
};

enum {
	CK_KEY,
	CK_SAS,
	CK_APPID,
	CK_OBJID,
	CK_RESID,
	CK_TENANT,
	CK_CLIENT,
	CK_SECRET,
	CK_TOKEN_PATH,
	CK_AAD,
	CK_N
};

/*
 * The mode: given (file or AZURE_STORAGE_AUTH_TYPE), else blobfuse2's
 * guess from what is there (an identity id: msi; a key; a SAS; a service
 * principal key: spn). Unlike blobfuse2, nothing at all is an error, not a
 * silent attempt at a managed identity. Sets *bit and mwhere.
 */
static int pick_mode(const struct src_str *mode, const struct src_str *ck,
		     unsigned *bit, char *mwhere, size_t len,
		     struct bm_error *err)
{
	static const int guess[] = {CK_APPID, CK_OBJID,	 CK_RESID,  CK_KEY,
				    CK_SAS,   CK_CLIENT, CK_SECRET, CK_TENANT};
	size_t i;

	if (mode->v) {
		for (i = 0; i < N(modes); i++)
			if (!strcasecmp(mode->v, modes[i].name))
				break;
		if (i == N(modes)) {
			bm_error_set(
			    err, BM_ERR_CONFIG,
			    "%s: azstorage.mode must be key, sas, msi, "
			    "spn or azcli",
			    mode->where);
			return -1;
		}
		*bit = modes[i].bit;
		snprintf(mwhere, len, "azstorage.mode %s (%s)", modes[i].name,
			 mode->where);
		return 0;
	}
	if (ck[CK_KEY].v && ck[CK_SAS].v) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "both an account key (%s) and a SAS (%s) are "
			     "given: keep one, or set azstorage.mode",
			     ck[CK_KEY].where, ck[CK_SAS].where);
		return -1;
	}
	for (i = 0; i < N(guess); i++) {
		if (!ck[guess[i]].v)
			continue;
		*bit = cred_keys[guess[i]].modes;
		snprintf(mwhere, len, "mode %s (implied by %s at %s)",
			 *bit == M_MSI	 ? "msi"
			 : *bit == M_KEY ? "key"
			 : *bit == M_SAS ? "sas"
					 : "spn",
			 cred_keys[guess[i]].key, ck[guess[i]].where);
		return 0;
	}
	bm_error_set(err, BM_ERR_CONFIG,
		     "no credentials: set azstorage.account-key or sas (or "
		     "AZURE_STORAGE_ACCESS_KEY, AZURE_STORAGE_SAS_TOKEN), or "
		     "azstorage.mode msi, spn or azcli");
	return -1;
}

static int resolve_credentials(const struct bf2_config *file, bool use_env,
			       struct bm_config *cfg, struct bm_error *err)
{
	struct src_str account, mode, endpoint, type, ck[CK_N];
	char mwhere[400];
	unsigned bit = 0;
	size_t i;
	int ids = 0;

	pick(&account, file, &file->account, "AZURE_STORAGE_ACCOUNT", use_env);
	pick(&mode, file, &file->mode, "AZURE_STORAGE_AUTH_TYPE", use_env);
	pick(&endpoint, file, &file->endpoint, "AZURE_STORAGE_BLOB_ENDPOINT",
	     use_env);
	pick(&type, file, &file->type, "AZURE_STORAGE_ACCOUNT_TYPE", use_env);
	for (i = 0; i < CK_N; i++)
		pick(&ck[i], file,
		     (const struct bf2_str *)((const char *)file +
					      cred_keys[i].off),
		     cred_keys[i].env, use_env);
	if (type.v && strcasecmp(type.v, "block") != 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s: azstorage.type '%s' is not supported: "
			     "blobmill-fuse mounts through the Blob endpoint "
			     "(type: block, which also works for accounts "
			     "with a hierarchical namespace)",
			     type.where, strlen(type.v) < 16 ? type.v : "?");
		return -1;
	}
	if (pick_mode(&mode, ck, &bit, mwhere, sizeof(mwhere), err) < 0)
		return -1;
	/* A credential the mode does not use makes no sense beside it. */
	for (i = 0; i < CK_N; i++) {
		if (!ck[i].v || (cred_keys[i].modes & bit))
			continue;
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s: azstorage.%s has no use with %s: keep only "
			     "one credential",
			     ck[i].where, cred_keys[i].key, mwhere);
		return -1;
	}
	ids = !!ck[CK_APPID].v + !!ck[CK_OBJID].v + !!ck[CK_RESID].v;
	if ((bit == M_KEY && !ck[CK_KEY].v) ||
	    (bit == M_SAS && !ck[CK_SAS].v) ||
	    (bit == M_SPN && (!ck[CK_TENANT].v || !ck[CK_CLIENT].v ||
			      (!ck[CK_SECRET].v && !ck[CK_TOKEN_PATH].v))) ||
	    ids > 1) {
		bm_error_set(err, BM_ERR_CONFIG, "%s needs %s", mwhere,
			     bit == M_KEY   ? "azstorage.account-key (or "
					      "AZURE_STORAGE_ACCESS_KEY)"
			     : bit == M_SAS ? "azstorage.sas (or "
					      "AZURE_STORAGE_SAS_TOKEN)"
			     : bit == M_SPN
				 ? "azstorage.tenantid, clientid and "
				   "clientsecret (or oauth-token-path)"
				 : "at most one of azstorage.appid, "
				   "objid and resid");
		return -1;
	}
	for (i = 0; i < N(modes); i++)
		if (modes[i].bit == bit)
			cfg->auth_type = modes[i].type;
	if (set_str(&cfg->account, account.v, err) < 0 ||
	    set_str(&cfg->account_key, ck[CK_KEY].v, err) < 0)
		return -1;
	if (cfg->account_key)
		bm_redact_register(cfg->account_key);
	/* blobfuse2 adds the '?' itself; ours is kept without it. */
	if (set_str(&cfg->sas_token,
		    ck[CK_SAS].v ? ck[CK_SAS].v + (*ck[CK_SAS].v == '?') : NULL,
		    err) < 0)
		return -1;
	if (cfg->sas_token)
		bm_redact_register(cfg->sas_token);
	for (i = 0; i < CK_N; i++) {
		if (cred_keys[i].entra == NO_ENTRA || !ck[i].v)
			continue;
		if (set_str((char **)((char *)&cfg->entra + cred_keys[i].entra),
			    ck[i].v, err) < 0)
			return -1;
	}
	if (cfg->entra.client_secret)
		bm_redact_register(cfg->entra.client_secret);
	if (file->use_http.line)
		cfg->use_https = !file->use_http.v;
	/* blobfuse2 takes an endpoint without its scheme and adds one. */
	if (endpoint.v && strncasecmp(endpoint.v, "http://", 7) &&
	    strncasecmp(endpoint.v, "https://", 8)) {
		free(cfg->endpoint);
		if (asprintf(&cfg->endpoint, "%s://%s",
			     cfg->use_https ? "https" : "http",
			     endpoint.v) < 0) {
			cfg->endpoint = NULL;
			bm_error_set(err, BM_ERR_NOMEM, "out of memory");
			return -1;
		}
	} else if (set_str(&cfg->endpoint, endpoint.v, err) < 0) {
		return -1;
	}
	return 0;
}

/* The first of the values given (>= 0, or a file value with its line). */
static long first_set(long flag, const struct bf2_num *a,
		      const struct bf2_num *b, long dflt)
{
	if (flag >= 0)
		return flag;
	if (a && a->line)
		return (long)a->v;
	if (b && b->line)
		return (long)b->v;
	return dflt;
}

static int check_range(const char *what, long v, long min, long max,
		       struct bm_error *err)
{
	if (v >= min && v <= max)
		return 0;
	bm_error_set(err, BM_ERR_CONFIG,
		     "%s must be a whole number from %ld to %ld, not %ld", what,
		     min, max, v);
	return -1;
}

static int parse_timeout_opt(const char *opt, const char *v, double *out,
			     struct bm_error *err)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	if (!*v || *end || errno || *out < 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "invalid value '%s' for -o %s (seconds)", v, opt);
		return -1;
	}
	return 0;
}

static int add_pass(struct bf2_mount *m, const char *opt, struct bm_error *err)
{
	char **grown = realloc(m->pass_opts,
			       sizeof(*grown) * (size_t)(m->n_pass_opts + 1));

	if (grown) {
		m->pass_opts = grown;
		m->pass_opts[m->n_pass_opts] = strdup(opt);
		if (m->pass_opts[m->n_pass_opts])
			return m->n_pass_opts++, 0;
	}
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	return -1;
}

/* -o words: blobfuse2's own meanings first, the rest to libfuse. */
static int apply_fuse_opts(const struct bf2_flags *f, struct bf2_mount *m,
			   struct bm_error *err)
{
	const char *o;
	int i;

	for (i = 0; i < f->n_fuse_opts; i++) {
		o = f->fuse_opts[i];
		if (!strcmp(o, "allow_other") || !strcmp(o, "allow_other=true"))
			m->allow_other = true;
		else if (!strcmp(o, "allow_root") ||
			 !strcmp(o, "allow_root=true"))
			m->allow_root = true;
		else if (!strcmp(o, "ro") || !strcmp(o, "ro=true"))
			m->job.o.read_only = true;
		else if (!strcmp(o, "nonempty") || !strcmp(o, "nonempty=true"))
			continue; /* FUSE 3 always allows it */
		else if (!strncmp(o, "attr_timeout=", 13)) {
			if (parse_timeout_opt("attr_timeout", o + 13,
					      &m->kernel_attr, err) < 0)
				return -1;
		} else if (!strncmp(o, "entry_timeout=", 14)) {
			if (parse_timeout_opt("entry_timeout", o + 14,
					      &m->kernel_entry, err) < 0)
				return -1;
		} else if (!strncmp(o, "negative_timeout=", 17)) {
			if (parse_timeout_opt("negative_timeout", o + 17,
					      &m->kernel_negative, err) < 0)
				return -1;
		} else if (add_pass(m, o, err) < 0) {
			return -1;
		}
	}
	return 0;
}

/* blobfuse2's level names: LOG_WARNING or log_warning; log_trace is our
 * debug. */
static int parse_level(const char *s, enum bm_log_level *out)
{
	char up[32];
	size_t i;

	for (i = 0; s[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	up[i] = '\0';
	if (!strcmp(up, "LOG_TRACE"))
		strcpy(up, "LOG_DEBUG");
	return bm_log_level_parse(up, out);
}

static int resolve_components(const struct bf2_config *file,
			      const struct bf2_flags *f, struct bf2_mount *m,
			      struct bm_error *err)
{
	unsigned c = file->components;

	if (!file->components_line) {
		/* blobfuse2's pipeline when the file lists none. */
		c = BF2_LIBFUSE | BF2_FILE_CACHE | BF2_ATTR_CACHE |
		    BF2_AZSTORAGE;
	} else if (!(c & BF2_LIBFUSE) || !(c & BF2_AZSTORAGE)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s:%u: 'components' must list libfuse and "
			     "azstorage",
			     file->origin, file->components_line);
		return -1;
	} else if ((c & BF2_FILE_CACHE) && (c & BF2_BLOCK_CACHE)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s:%u: 'components' lists both file_cache and "
			     "block_cache: keep one (blobfuse2 refuses it "
			     "too)",
			     file->origin, file->components_line);
		return -1;
	}
	if (f->block_cache == 1)
		c = (c & ~(unsigned)BF2_FILE_CACHE) | BF2_BLOCK_CACHE;
	if (f->use_attr_cache == 0)
		c &= ~(unsigned)BF2_ATTR_CACHE;
	m->components = c;
	return 0;
}

static int resolve_options(const struct bf2_config *file,
			   const struct bf2_flags *f, struct bf2_mount *m,
			   struct bm_error *err)
{
	struct bmfs_options *o = &m->job.o;
	struct bm_http_options *ho = &m->job.ho;
	bool bc = m->components & BF2_BLOCK_CACHE;
	const char *tmp = f->tmp_path, *lvl = f->log_level, *type = f->log_type;
	long v;

	/* The local directory: the flag, the path of the cache in use. */
	if (!tmp)
		tmp = bc && file->bc_path.v ? file->bc_path.v
		      : file->fc_path.v	    ? file->fc_path.v
					    : file->bc_path.v;
	if (!tmp) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "no local directory for files being written: "
			     "give --tmp-path=DIR, or set file_cache.path in "
			     "%s%s%s",
			     file->path_given ? "'" : "the config file",
			     file->path_given ? file->origin : "",
			     file->path_given ? "'" : "");
		return -1;
	}
	if (set_str(&o->tmp_path, tmp, err) < 0)
		return -1;
	m->kernel_attr = (double)first_set(f->attr_timeout,
					   &file->attr_expiration, NULL, 120);
	m->kernel_entry = (double)first_set(f->entry_timeout,
					    &file->entry_expiration, NULL, 120);
	m->kernel_negative = (double)first_set(
	    f->negative_timeout, &file->negative_expiration, NULL, 120);
	o->read_only = f->read_only >= 0
			   ? f->read_only == 1
			   : file->read_only.line && file->read_only.v;
	m->allow_other = f->allow_other >= 0
			     ? f->allow_other == 1
			     : file->allow_other.line && file->allow_other.v;
	m->allow_root = file->allow_root.line && file->allow_root.v;
	m->foreground = f->foreground >= 0
			    ? f->foreground == 1
			    : file->foreground.line && file->foreground.v;
	if (apply_fuse_opts(f, m, err) < 0)
		return -1;
	/* Our own caches: attributes as blobfuse2's attr_cache keeps them
	 * (none without it); listings and misses as the kernel does. */
	o->attr_timeout =
	    m->components & BF2_ATTR_CACHE
		? (double)first_set(-1, &file->ac_timeout, NULL, 120)
		: 0;
	o->entry_timeout = m->kernel_entry;
	o->negative_timeout = m->kernel_negative;
	v = first_set(f->file_cache_timeout,
		      bc ? &file->bc_disk_timeout : &file->fc_timeout, NULL,
		      (long)o->file_cache_timeout);
	if (check_range("the file cache timeout", v, 0, 86400L * 366, err) < 0)
		return -1;
	o->file_cache_timeout = (unsigned)v;
	v = first_set(f->cache_size_mb,
		      bc ? &file->bc_disk_size : &file->fc_max_size, NULL,
		      (long)o->cache_size_mb);
	if (check_range("the cache size (MB)", v, 0, (long)UINT_MAX, err) < 0)
		return -1;
	o->cache_size_mb = (unsigned)v;
	/* One block size serves reads and uploads here. */
	if (bc && file->bc_block_size.line && file->az_block_size.line &&
	    file->bc_block_size.v != file->az_block_size.v)
		bm_warn("%s: block_cache.block-size-mb (%lu) and "
			"azstorage.block-size-mb (%lu) differ: blobmill-fuse "
			"uses one block size, %lu MB, for reads and uploads",
			file->origin, file->bc_block_size.v,
			file->az_block_size.v, file->bc_block_size.v);
	o->block_size_mb =
	    (unsigned)first_set(-1, bc ? &file->bc_block_size : NULL,
				&file->az_block_size, (long)o->block_size_mb);
	v = first_set(f->max_concurrency, bc ? &file->bc_parallelism : NULL,
		      &file->az_max_concurrency, (long)o->max_concurrency);
	if (check_range("--max-concurrency", v, 1, 128, err) < 0)
		return -1;
	o->max_concurrency = (unsigned)v;
	if (bc && file->bc_prefetch.line)
		o->readahead_blocks = (int)file->bc_prefetch.v;
	if (bc && file->bc_mem_size.line)
		o->read_budget_mb = (unsigned)file->bc_mem_size.v;
	if (file->default_permission.line)
		o->default_permission = (unsigned)file->default_permission.v;
	v = first_set(f->max_retry, &file->az_max_retries, NULL,
		      ho->retry.max_retries);
	if (check_range("--max-retry", v, 0, 100, err) < 0)
		return -1;
	ho->retry.max_retries = (int)v;
	v = first_set(f->max_retry_interval, &file->az_max_retry_timeout, NULL,
		      ho->retry.max_delay_ms / 1000);
	if (check_range("--max-retry-interval-in-seconds", v, 1, 3600, err) < 0)
		return -1;
	ho->retry.max_delay_ms = v * 1000;
	ho->max_handles = (int)o->max_concurrency * 2 + 8;
	/* Logging: the flag, then the file. */
	if (!lvl)
		lvl = file->log_level.v;
	if (lvl && parse_level(lvl, &m->job.level) < 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "%s%s%u: invalid log level '%s' (log_off, "
			     "log_crit, log_err, log_warning, log_info, "
			     "log_trace, log_debug)",
			     f->log_level ? "--log-level" : file->origin,
			     f->log_level ? "" : ":",
			     f->log_level ? 0 : file->log_level.line,
			     strlen(lvl) < 24 ? lvl : "?");
		return -1;
	}
	if (!type)
		type = file->log_type.v;
	if (type && !strcmp(type, "silent"))
		m->job.level = BM_LOG_OFF;
	else if (type && !strcmp(type, "base"))
		bm_warn("logging.type 'base' (a log file) has no effect in "
			"blobmill-fuse: the log goes to syslog, or to stderr "
			"in the foreground");
	else if (type && strcmp(type, "syslog") != 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "invalid logging.type '%s' (syslog, silent or "
			     "base)",
			     strlen(type) < 24 ? type : "?");
		return -1;
	}
	if (f->debug && m->job.level < BM_LOG_DEBUG)
		m->job.level = BM_LOG_DEBUG;
	return 0;
}

int bf2_resolve(const struct bf2_config *file, const struct bf2_flags *f,
		bool use_env, struct bf2_mount *m, struct bm_error *err)
{
	struct bm_config *cfg = &m->job.cfg;
	const char *e;

	if (resolve_components(file, f, m, err) < 0 ||
	    resolve_credentials(file, use_env, cfg, err) < 0 ||
	    resolve_options(file, f, m, err) < 0)
		return -1;
	e = use_env ? getenv("AZURE_STORAGE_ACCOUNT_CONTAINER") : NULL;
	if (set_str(&cfg->container,
		    f->container_name ? f->container_name
		    : e && *e	      ? e
				      : file->container.v,
		    err) < 0)
		return -1;
	if (f->use_https >= 0)
		cfg->use_https = f->use_https == 1;
	if (f->ca_cert_file &&
	    set_str(&cfg->ca_cert_file, f->ca_cert_file, err) < 0)
		return -1;
	return 0;
}

void bf2_mount_init(struct bf2_mount *m)
{
	memset(m, 0, sizeof(*m));
	mount_job_init(&m->job);
}

void bf2_mount_release(struct bf2_mount *m)
{
	int i;

	mount_job_release(&m->job);
	for (i = 0; i < m->n_pass_opts; i++)
		free(m->pass_opts[i]);
	free(m->pass_opts);
	memset(m, 0, sizeof(*m));
}
