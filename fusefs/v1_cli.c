/*
 * v1_cli: blobfuse v1's command line (see v1_cli.h). Before mounting, and
 * so before detaching, one request proves the credentials and the
 * container (mount_run.c); any failure is one line on stderr and a
 * nonzero exit, with nothing mounted.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf2_config.h"
#include "mount_guard.h"
#include "v1_cli.h"

enum { KEY_HELP, KEY_VERSION };

#define CLI_OPT(t, field)                                                      \
	{                                                                      \
		t, offsetof(struct v1_cli, field), 0                           \
	}

static const struct fuse_opt cli_opts[] = {
    CLI_OPT("--tmp-path=%s", tmp_path),
    CLI_OPT("--config-file=%s", config_file),
    CLI_OPT("--container-name=%s", container_name),
    CLI_OPT("--use-https=%s", use_https),
    CLI_OPT("--ca-cert-file=%s", ca_cert_file),
    CLI_OPT("--log-level=%s", log_level),
    CLI_OPT("--file-cache-timeout-in-seconds=%s", file_cache_timeout),
    CLI_OPT("--cache-size-mb=%s", cache_size_mb),
    CLI_OPT("--max-concurrency=%s", max_concurrency),
    CLI_OPT("--block-size-mb=%s", block_size_mb),
    CLI_OPT("--max-retry=%s", max_retry),
    CLI_OPT("--max-retry-interval-in-seconds=%s", max_retry_interval),
    /* Ours to know, and libfuse's to apply: kept for fuse_new. */
    CLI_OPT("attr_timeout=%lf", attr_timeout),
    FUSE_OPT_KEY("attr_timeout=", FUSE_OPT_KEY_KEEP),
    CLI_OPT("entry_timeout=%lf", entry_timeout),
    FUSE_OPT_KEY("entry_timeout=", FUSE_OPT_KEY_KEEP),
    CLI_OPT("negative_timeout=%lf", negative_timeout),
    FUSE_OPT_KEY("negative_timeout=", FUSE_OPT_KEY_KEEP),
    {"ro", offsetof(struct v1_cli, read_only), 1},
    FUSE_OPT_KEY("ro", FUSE_OPT_KEY_KEEP),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END,
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " MOUNTPOINT --tmp-path=DIR [options]   (blobfuse "
	    "v1)\n"
	    "       " PROG " mount MOUNTPOINT --config-file=FILE.yaml "
	    "[flags]   (blobfuse2)\n"
	    "       " PROG " unmount MOUNTPOINT [-z]\n"
	    "       " PROG " convert [v1 or blobfuse2 mount command line]\n"
	    "\n"
	    "  --tmp-path=DIR             local copies and file cache "
	    "(required)\n"
	    "  --config-file=FILE         blobfuse config file (accountName,\n"
	    "                             accountKey|sasToken, containerName,\n"
	    "                             authType, blobEndpoint); without it\n"
	    "                             AZURE_STORAGE_* variables are used\n"
	    "  --container-name=NAME      container (overrides the config)\n"
	    "  --use-https=true|false     default true\n"
	    "  --ca-cert-file=FILE        also trust the CAs in FILE (PEM)\n"
	    "  --file-cache-timeout-in-seconds=N  default 120\n"
	    "  --cache-size-mb=N          file cache size (default: 80%% of "
	    "the\n"
	    "                             free space of --tmp-path)\n"
	    "  "
	    "--log-level=LOG_OFF|LOG_CRIT|LOG_ERR|LOG_WARNING|LOG_INFO|LOG_"
	    "DEBUG\n"
	    "  --max-concurrency=N        parallel block transfers (default "
	    "8)\n"
	    "  --block-size-mb=N          read/upload block size (default 8)\n"
	    "  --max-retry=N              retries per request (default 5)\n"
	    "  --max-retry-interval-in-seconds=N  longest wait between "
	    "retries\n"
	    "  -o attr_timeout=N -o entry_timeout=N -o negative_timeout=N\n"
	    "  -o allow_other -o ro       and other FUSE mount options\n"
	    "  -f                         stay in the foreground\n"
	    "  -d                         debug (foreground, FUSE trace)\n"
	    "A long option's value may also be the next word: --tmp-path "
	    "DIR.\n");
}

static int cli_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct v1_cli *c = data;

	(void)outargs;
	switch (key) {
	case KEY_HELP:
		c->show_help = 1;
		return 0;
	case KEY_VERSION:
		c->show_version = 1;
		return 0;
	case FUSE_OPT_KEY_OPT:
		if (strncmp(arg, "--", 2) == 0) {
			/* Exact matching: never guess what a long option
			 * meant. The value may be a secret: print the name. */
			fprintf(stderr, PROG ": unknown option '%.*s'\n",
				(int)strcspn(arg, "="), arg);
			c->bad = 1;
			return -1;
		}
		return 1; /* -f, -d, -s and -o options are libfuse's */
	default:
		if (!c->mountpoint)
			c->mountpoint = arg; /* a word of c->argv */
		return 1;
	}
}

/* Whether word is "--NAME" of an option above that takes a value. */
static bool takes_value(const char *word)
{
	size_t i, n = strlen(word);

	if (strncmp(word, "--", 2) != 0 || strchr(word, '='))
		return false;
	for (i = 0; cli_opts[i].templ; i++) {
		const char *t = cli_opts[i].templ;

		if (!strncmp(t, "--", 2) && !strncmp(t, word, n) &&
		    !strcmp(t + n, "=%s"))
			return true;
	}
	return false;
}

/*
 * "--tmp-path DIR" becomes "--tmp-path=DIR" (fuse_opt knows only the
 * second). A word after "--" is never joined. Returns a NULL-terminated
 * vector whose joined words are malloc()ed; -1 when out of memory.
 */
static int join_values(int argc, char **argv, char ***out)
{
	char **v = calloc((size_t)argc + 1, sizeof(*v));
	int i, n = 0, dashdash = 0;

	if (!v)
		return -1;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			dashdash = 1;
		if (i > 0 && !dashdash && i + 1 < argc &&
		    takes_value(argv[i])) {
			if (asprintf(&v[n], "%s=%s", argv[i], argv[i + 1]) < 0)
				return free(v), -1;
			n++;
			i++;
			continue;
		}
		v[n] = strdup(argv[i]);
		if (!v[n++])
			return free(v), -1;
	}
	*out = v;
	return n;
}

int v1_cli_parse(int argc, char **argv, struct v1_cli *c, struct mount_job *j,
		 bool to_mount)
{
	int n = join_values(argc, argv, &c->argv);
	struct fuse_args a;
	struct bm_error err;

	if (n < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	bm_error_clear(&err);
	a = (struct fuse_args)FUSE_ARGS_INIT(n, c->argv);
	if (fuse_opt_parse(&a, c, cli_opts, cli_proc) != 0) {
		if (!c->bad)
			fprintf(stderr, PROG ": invalid command line\n");
		j->args = a;
		return -1;
	}
	j->args = a;
	if (c->show_help) {
		usage(stdout);
		return 1;
	}
	if (c->show_version) {
		printf(PROG " %s (libfuse %s)\n", PACKAGE_VERSION,
		       fuse_pkgversion());
		return 1;
	}
	if (!to_mount) {
		if (!c->mountpoint || !c->tmp_path) {
			fprintf(stderr, PROG ": convert: missing %s\n",
				c->mountpoint ? "--tmp-path" : "mountpoint");
			return -1;
		}
		return 0;
	}
	/* Before libfuse, whose "bad mount point" says nothing of the fix. */
	if (c->mountpoint && mount_guard_mountpoint(c->mountpoint, &err) != 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		return -2;
	}
	if (fuse_parse_cmdline(&j->args, &j->fo) != 0)
		return -1;
	if (!j->fo.mountpoint) {
		fprintf(stderr, PROG ": missing mountpoint\n");
		usage(stderr);
		return -1;
	}
	if (!c->tmp_path) {
		fprintf(stderr, PROG ": missing --tmp-path=DIR (where files "
				     "are kept until uploaded)\n");
		return -1;
	}
	return 0;
}

/* A whole decimal number in [min, max], or -1 with a message. */
static int parse_uint(const char *opt, const char *s, unsigned long min,
		      unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || *s == '-' || errno || v < min || v > max) {
		fprintf(stderr,
			PROG ": invalid value '%s' for %s (a whole number "
			     "from %lu to %lu)\n",
			s, opt, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int v1_cli_options(const struct v1_cli *c, struct mount_job *j)
{
	struct bmfs_options *o = &j->o;
	struct bm_http_options *ho = &j->ho;
	unsigned long v;

	if (c->log_level && bm_log_level_parse(c->log_level, &j->level) != 0) {
		fprintf(stderr,
			PROG ": invalid --log-level '%s' (LOG_OFF, LOG_CRIT, "
			     "LOG_ERR, LOG_WARNING, LOG_INFO or LOG_DEBUG)\n",
			c->log_level);
		return -1;
	}
	if (j->fo.debug && j->level < BM_LOG_DEBUG)
		j->level = BM_LOG_DEBUG;
	o->attr_timeout = c->attr_timeout;
	o->entry_timeout = c->entry_timeout;
	o->negative_timeout = c->negative_timeout;
	o->read_only = c->read_only != 0;
	v = o->file_cache_timeout;
	if (parse_uint("--file-cache-timeout-in-seconds", c->file_cache_timeout,
		       0, 86400 * 365, &v))
		return -1;
	o->file_cache_timeout = (unsigned)v;
	v = o->cache_size_mb;
	if (parse_uint("--cache-size-mb", c->cache_size_mb, 0, UINT_MAX, &v))
		return -1;
	o->cache_size_mb = (unsigned)v;
	v = o->max_concurrency;
	if (parse_uint("--max-concurrency", c->max_concurrency, 1, 128, &v))
		return -1;
	o->max_concurrency = (unsigned)v;
	v = o->block_size_mb;
	if (parse_uint("--block-size-mb", c->block_size_mb, 1, 100, &v))
		return -1;
	o->block_size_mb = (unsigned)v;
	v = (unsigned long)ho->retry.max_retries;
	if (parse_uint("--max-retry", c->max_retry, 0, 100, &v))
		return -1;
	ho->retry.max_retries = (int)v;
	v = (unsigned long)(ho->retry.max_delay_ms / 1000);
	if (parse_uint("--max-retry-interval-in-seconds", c->max_retry_interval,
		       1, 3600, &v))
		return -1;
	ho->retry.max_delay_ms = (long)v * 1000;
	ho->max_handles = (int)o->max_concurrency * 2 + 8;
	if (c->attr_timeout < 0 || c->entry_timeout < 0 ||
	    c->negative_timeout < 0) {
		fprintf(stderr, PROG ": timeouts cannot be negative\n");
		return -1;
	}
	free(o->tmp_path);
	o->tmp_path = strdup(c->tmp_path);
	if (!o->tmp_path) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	return 0;
}

static int set_copy(char **field, const char *value, struct bm_error *err)
{
	free(*field);
	*field = strdup(value);
	if (*field)
		return 0;
	bm_error_set(err, BM_ERR_NOMEM, "out of memory");
	return -1;
}

int v1_cli_config(const struct v1_cli *c, struct bm_config *cfg, bool use_env,
		  struct bm_error *err)
{
	if (c->config_file && bf2_is_yaml_name(c->config_file)) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "'%s' is a blobfuse2 config (YAML): mount it with "
			     "'" PROG " mount MOUNTPOINT --config-file=%s'",
			     c->config_file, c->config_file);
		return -1;
	}
	if (c->config_file) {
		/* The environment may still complete the file's Entra
		 * identity (blobfuse v1 reads the SPN secret from there). */
		if (bm_config_load_file(cfg, c->config_file, err) != 0 ||
		    bm_config_complete_identity(cfg, err) != 0)
			return -1;
	} else if (use_env && bm_config_load_env(cfg, err) != 0) {
		return -1;
	}
	if (c->container_name &&
	    set_copy(&cfg->container, c->container_name, err) < 0)
		return -1;
	if (c->use_https) {
		if (strcmp(c->use_https, "true") == 0) {
			cfg->use_https = true;
		} else if (strcmp(c->use_https, "false") == 0) {
			cfg->use_https = false;
		} else {
			bm_error_set(err, BM_ERR_CONFIG,
				     "invalid value '%s' for --use-https "
				     "(true or false)",
				     c->use_https);
			return -1;
		}
	}
	if (c->ca_cert_file &&
	    set_copy(&cfg->ca_cert_file, c->ca_cert_file, err) < 0)
		return -1;
	return 0;
}

void v1_cli_release(struct v1_cli *c)
{
	char **p;

	free(c->tmp_path);
	free(c->config_file);
	free(c->container_name);
	free(c->use_https);
	free(c->ca_cert_file);
	free(c->log_level);
	free(c->file_cache_timeout);
	free(c->cache_size_mb);
	free(c->max_concurrency);
	free(c->block_size_mb);
	free(c->max_retry);
	free(c->max_retry_interval);
	for (p = c->argv; p && *p; p++)
		free(*p);
	free(c->argv);
	memset(c, 0, sizeof(*c));
}

int v1_main(int argc, char **argv)
{
	struct v1_cli c = {.attr_timeout = 1.0, .entry_timeout = 1.0};
	struct mount_job j;
	struct bm_error err;
	int rc = EXIT_USAGE, parsed;

	mount_job_init(&j);
	bm_error_clear(&err);
	parsed = v1_cli_parse(argc, argv, &c, &j, true);
	if (parsed != 0) {
		rc = parsed > 0 ? 0 : parsed == -2 ? EXIT_MOUNT : EXIT_USAGE;
		goto out;
	}
	if (v1_cli_options(&c, &j) != 0)
		goto out;
	bm_log_init(PROG, j.level, false);
	if (v1_cli_config(&c, &j.cfg, true, &err) != 0 ||
	    bm_config_finish(&j.cfg, true, &err) != 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	rc = mount_run(&j);
out:
	mount_job_release(&j);
	v1_cli_release(&c);
	return rc;
}
