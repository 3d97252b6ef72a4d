/*
 * bf2_convert: each form of command line printed as the other (see
 * bf2_convert.h). Both directions parse with the same code as a mount
 * (v1_cli.c, bf2_cli.c) and stop before any check of the mount point or
 * request, so what is printed is what a mount would use.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf2_cli.h"
#include "bf2_convert.h"
#include "v1_cli.h"

/* A YAML double-quoted scalar. */
static void yaml_str(FILE *out, const char *key, const char *v)
{
	fprintf(out, "  %s: \"", key);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', out);
		fputc(*v, out);
	}
	fputs("\"\n", out);
}

/* The Entra ID identity in blobfuse2's keys; what it has no key for is
 * said in a comment. */
static void yaml_entra(FILE *out, const struct bm_config *cfg)
{
	const struct bm_entra *e = &cfg->entra;
	static const struct {
		size_t off;
		const char *key;
	} keys[] = {
	    {offsetof(struct bm_entra, identity_client_id), "appid"},
	    {offsetof(struct bm_entra, identity_object_id), "objid"},
	    {offsetof(struct bm_entra, identity_resource_id), "resid"},
	    {offsetof(struct bm_entra, tenant_id), "tenantid"},
	    {offsetof(struct bm_entra, client_id), "clientid"},
	    {offsetof(struct bm_entra, client_secret), "clientsecret"},
	    {offsetof(struct bm_entra, federated_token_file),
	     "oauth-token-path"},
	    {offsetof(struct bm_entra, authority_host), "aadendpoint"},
	};
	const char *v;
	size_t i;

	fprintf(out, "  mode: %s\n",
		cfg->auth_type == BM_AUTH_MSI	? "msi"
		: cfg->auth_type == BM_AUTH_SPN ? "spn"
						: "azcli");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = *(char *const *)((const char *)e + keys[i].off);
		if (v)
			yaml_str(out, keys[i].key, v);
	}
	if (e->msi_endpoint)
		fprintf(out,
			"  # msiEndpoint %s: blobfuse2 has no key for it; "
			"set MSI_ENDPOINT in the environment\n",
			e->msi_endpoint);
	if (e->cert_path)
		fprintf(out,
			"  # a certificate (%s) has no blobfuse2 key: "
			"blobfuse2's spn mode takes clientsecret or "
			"oauth-token-path\n",
			e->cert_path);
}

/* A v1 mount line's words: "-o" then a comma list, "-oLIST", -f, -d. */
struct v1_extras {
	bool allow_other, foreground, debug;
	char others[1024]; /* other -o options, comma-separated */
};

static void scan_v1_args(const struct fuse_args *a, struct v1_extras *x)
{
	char *list, *opt, *save;
	int i;

	memset(x, 0, sizeof(*x));
	for (i = 1; i < a->argc; i++) {
		const char *w = a->argv[i];

		if (!strcmp(w, "-f"))
			x->foreground = true;
		else if (!strcmp(w, "-d"))
			x->debug = x->foreground = true;
		if (strncmp(w, "-o", 2) != 0)
			continue;
		list = strdup(w[2]		? w + 2
			      : i + 1 < a->argc ? a->argv[++i]
						: "");
		for (opt = list ? strtok_r(list, ",", &save) : NULL; opt;
		     opt = strtok_r(NULL, ",", &save)) {
			if (!strcmp(opt, "allow_other"))
				x->allow_other = true;
			else if (strncmp(opt, "attr_timeout=", 13) &&
				 strncmp(opt, "entry_timeout=", 14) &&
				 strncmp(opt, "negative_timeout=", 17) &&
				 strcmp(opt, "ro"))
				snprintf(x->others + strlen(x->others),
					 sizeof(x->others) - strlen(x->others),
					 "%s%s", *x->others ? "," : "", opt);
		}
		free(list);
	}
}

/* blobfuse2 writes levels in lower case, v1 in upper case. */
static const char *level_name(enum bm_log_level l, bool upper)
{
	static const char *const names[][2] = {
	    {"log_off", "LOG_OFF"},   {"log_crit", "LOG_CRIT"},
	    {"log_err", "LOG_ERR"},   {"log_warning", "LOG_WARNING"},
	    {"log_info", "LOG_INFO"}, {"log_debug", "LOG_DEBUG"},
	};

	return (size_t)l < sizeof(names) / sizeof(names[0]) ? names[l][upper]
							    : names[3][upper];
}

/* v1 command line and config file -> blobfuse2 YAML. */
static int v1_to_yaml(int argc, char **argv)
{
	struct v1_cli c = {.attr_timeout = 1.0, .entry_timeout = 1.0};
	struct mount_job j;
	struct bm_config *cfg = &j.cfg;
	struct bm_error err;
	struct v1_extras x;
	int rc = EXIT_USAGE, parsed, i;

	mount_job_init(&j);
	bm_error_clear(&err);
	parsed = v1_cli_parse(argc, argv, &c, &j, false);
	if (parsed != 0) {
		rc = parsed > 0 ? 0 : EXIT_USAGE;
		goto out;
	}
	if (v1_cli_options(&c, &j) != 0)
		goto out;
	if (v1_cli_config(&c, cfg, false, &err) != 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	scan_v1_args(&j.args, &x);
	printf("# blobfuse2 config equivalent to:\n#   %s", PROG);
	for (i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n# mount it with (blobfuse2 takes the same line):\n"
	       "#   %s mount %s --config-file=THIS-FILE.yaml%s%s%s\n",
	       PROG, c.mountpoint, *x.others ? " -o " : "", x.others,
	       x.debug ? " -d" : "");
	if (!c.config_file)
		printf("# No config file: the credentials come from "
		       "AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_ACCESS_KEY or\n"
		       "# AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_BLOB_ENDPOINT "
		       "at mount time (not\n# AZURE_STORAGE_CONNECTION_STRING, "
		       "which only the v1 form reads).\n");
	if (x.allow_other)
		printf("allow-other: true\n");
	if (j.o.read_only)
		printf("read-only: true\n");
	if (x.foreground)
		printf("foreground: true\n");
	printf("\nlogging:\n  type: syslog\n  level: %s\n",
	       level_name(j.level, false));
	printf("\ncomponents:\n  - libfuse\n  - file_cache\n  - attr_cache\n"
	       "  - azstorage\n");
	printf("\nlibfuse:\n  attribute-expiration-sec: %.0f\n"
	       "  entry-expiration-sec: %.0f\n"
	       "  negative-entry-expiration-sec: %.0f\n",
	       j.o.attr_timeout, j.o.entry_timeout, j.o.negative_timeout);
	printf("\nfile_cache:\n");
	yaml_str(stdout, "path", j.o.tmp_path);
	printf("  timeout-sec: %u\n", j.o.file_cache_timeout);
	if (j.o.cache_size_mb)
		printf("  max-size-mb: %u\n", j.o.cache_size_mb);
	printf("\nattr_cache:\n  timeout-sec: %.0f\n", j.o.attr_timeout);
	printf("\nazstorage:\n  type: block\n");
	if (cfg->account)
		yaml_str(stdout, "account-name", cfg->account);
	if (cfg->account_key) {
		printf("  mode: key\n");
		yaml_str(stdout, "account-key", cfg->account_key);
	} else if (cfg->sas_token) {
		printf("  mode: sas\n");
		yaml_str(stdout, "sas", cfg->sas_token);
	} else if (bm_auth_type_is_entra(cfg->auth_type)) {
		yaml_entra(stdout, cfg);
	}
	if (cfg->endpoint)
		yaml_str(stdout, "endpoint", cfg->endpoint);
	if (!cfg->use_https)
		printf("  use-http: true\n");
	if (cfg->container)
		yaml_str(stdout, "container", cfg->container);
	printf("  block-size-mb: %u\n  max-concurrency: %u\n"
	       "  max-retries: %d\n  max-retry-timeout-sec: %ld\n",
	       j.o.block_size_mb, j.o.max_concurrency, j.ho.retry.max_retries,
	       j.ho.retry.max_delay_ms / 1000);
	rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_MOUNT;
out:
	mount_job_release(&j);
	v1_cli_release(&c);
	return rc;
}

/* The Entra ID identity in blobfuse v1's keys. */
static void v1_entra(const struct bm_config *cfg)
{
	const struct bm_entra *e = &cfg->entra;

	printf("authType %s\n", bm_auth_type_name(cfg->auth_type));
	if (e->identity_client_id)
		printf("identityClientId %s\n", e->identity_client_id);
	if (e->identity_object_id)
		printf("identityObjectId %s\n", e->identity_object_id);
	if (e->identity_resource_id)
		printf("identityResourceId %s\n", e->identity_resource_id);
	if (e->tenant_id)
		printf("servicePrincipalTenantId %s\n", e->tenant_id);
	if (e->client_id)
		printf("servicePrincipalClientId %s\n", e->client_id);
	if (e->client_secret)
		printf("servicePrincipalClientSecret %s\n", e->client_secret);
	if (e->authority_host)
		printf("aadEndpoint %s\n", e->authority_host);
	if (e->federated_token_file)
		printf("# oauth-token-path has no v1 key: set "
		       "AZURE_FEDERATED_TOKEN_FILE=%s in the environment\n",
		       e->federated_token_file);
}

/* blobfuse2 command line and YAML -> v1 config file and command line. */
static int yaml_to_v1(int argc, char **argv)
{
	struct bf2_flags f;
	struct bf2_config file;
	struct bf2_mount m;
	struct bm_error err;
	struct bm_config *cfg = &m.job.cfg;
	struct bmfs_options *o = &m.job.o;
	int rc = EXIT_USAGE, i;

	bf2_config_init(&file);
	bf2_mount_init(&m);
	bm_error_clear(&err);
	if (bf2_flags_parse(argc, argv, &f) < 0)
		goto out;
	if (!f.mountpoint || !f.config_file) {
		fprintf(stderr, PROG ": convert mount: give MOUNTPOINT and "
				     "--config-file=FILE.yaml\n");
		goto out;
	}
	if (bf2_config_load_file(&file, f.config_file, &err) < 0 ||
	    bf2_resolve(&file, &f, false, &m, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	printf("# blobfuse v1 config file equivalent to:\n#   %s", PROG);
	for (i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n# mount it with (blobfuse v1 takes the same line):\n#   %s "
	       "%s --tmp-path=%s --config-file=THIS-FILE.cfg",
	       PROG, f.mountpoint, o->tmp_path);
	printf(" -o attr_timeout=%g -o entry_timeout=%g -o negative_timeout=%g",
	       m.kernel_attr, m.kernel_entry, m.kernel_negative);
	if (m.allow_other)
		printf(" -o allow_other");
	if (m.allow_root)
		printf(" -o allow_root");
	if (o->read_only)
		printf(" -o ro");
	for (i = 0; i < m.n_pass_opts; i++)
		printf(" -o %s", m.pass_opts[i]);
	printf(" --file-cache-timeout-in-seconds=%u", o->file_cache_timeout);
	if (o->cache_size_mb)
		printf(" --cache-size-mb=%u", o->cache_size_mb);
	printf(" --block-size-mb=%u --max-concurrency=%u --max-retry=%d "
	       "--max-retry-interval-in-seconds=%ld --log-level=%s",
	       o->block_size_mb, o->max_concurrency, m.job.ho.retry.max_retries,
	       m.job.ho.retry.max_delay_ms / 1000,
	       level_name(m.job.level, true));
	if (!cfg->use_https)
		printf(" --use-https=false");
	if (cfg->ca_cert_file)
		printf(" --ca-cert-file=%s", cfg->ca_cert_file);
	if (m.foreground || f.debug)
		printf(" %s", f.debug ? "-d" : "-f");
	printf("\n");
	/* What the v1 form cannot say. */
	if (o->attr_timeout != m.kernel_attr)
		printf("# note: the v1 form has one attribute timeout; "
		       "attr_cache.timeout-sec (%g) is not used, "
		       "attr_timeout (%g) is\n",
		       o->attr_timeout, m.kernel_attr);
	if (o->read_budget_mb || o->readahead_blocks >= 0)
		printf("# note: block_cache.mem-size-mb and prefetch have no "
		       "v1 option (v1 uses 32 MB of read buffers and "
		       "max-concurrency blocks of read-ahead)\n");
	if (o->default_permission)
		printf("# note: libfuse.default-permission (%04o) has no v1 "
		       "option (v1 shows 0644 files, 0755 directories)\n",
		       o->default_permission);
	if (cfg->account)
		printf("accountName %s\n", cfg->account);
	if (cfg->account_key)
		printf("accountKey %s\nauthType Key\n", cfg->account_key);
	else if (cfg->sas_token)
		printf("sasToken %s\nauthType SAS\n", cfg->sas_token);
	else if (bm_auth_type_is_entra(cfg->auth_type))
		v1_entra(cfg);
	if (cfg->container)
		printf("containerName %s\n", cfg->container);
	if (cfg->endpoint)
		printf("blobEndpoint %s\n", cfg->endpoint);
	rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : EXIT_MOUNT;
out:
	bf2_mount_release(&m);
	bf2_config_release(&file);
	bf2_flags_release(&f);
	return rc;
}

int bf2_convert_main(const char *prog, int argc, char **argv)
{
	(void)prog;
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs("usage: " PROG " convert MOUNTPOINT --tmp-path=DIR "
		      "[--config-file=v1.cfg] [v1 options]\n"
		      "       " PROG " convert mount MOUNTPOINT "
		      "--config-file=FILE.yaml [blobfuse2 flags]\n"
		      "Prints the same mount in the other form (the output "
		      "holds the credentials).\n",
		      argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "mount"))
		return yaml_to_v1(argc - 1, argv + 1);
	/* v1_cli_parse wants the program name first: "convert" stands in. */
	return v1_to_yaml(argc, argv);
}
