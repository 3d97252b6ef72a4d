/*
 * blobmill-fuse: mounts one blob container. A drop-in for blobfuse v1's
 * command line:
 *   blobmill-fuse MOUNTPOINT --tmp-path=DIR [--config-file=FILE] ...
 *     [-o attr_timeout=N] [-o entry_timeout=N] [-o negative_timeout=N]
 *     [-o allow_other] [-o ro] [-f] [-d]
 * Options go through fuse_opt tables with exact matching: an unknown
 * "--long" option is an error here, an unknown "-o" option is an error in
 * libfuse. Before mounting, and so before detaching, one request proves
 * the credentials and the container; any failure is one line on stderr
 * and a nonzero exit, with nothing mounted.
 */
#define FUSE_USE_VERSION 31

#include "config.h"

#include <errno.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_blob.h"
#include "bm_config.h"
#include "bm_log.h"
#include "bmfs.h"
#include "fuse_ops.h"

#define PROG "blobmill-fuse"

enum { EXIT_MOUNT = 1, EXIT_USAGE = 2 };

/* What the command line says; strings from fuse_opt are malloc()ed. */
struct cli {
	char *tmp_path;
	char *config_file;
	char *container_name;
	char *use_https;
	char *ca_cert_file;
	char *log_level;
	char *file_cache_timeout;
	char *cache_size_mb;
	char *max_concurrency;
	char *block_size_mb;
	char *max_retry;
	char *max_retry_interval;
	double attr_timeout;
	double entry_timeout;
	double negative_timeout;
	int read_only;
	int show_help;
	int show_version;
	int bad; /* an unknown long option was seen */
};

enum { KEY_HELP, KEY_VERSION };

#define CLI_OPT(t, field)                                                      \
	{                                                                      \
		t, offsetof(struct cli, field), 0                              \
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
    {"ro", offsetof(struct cli, read_only), 1},
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
	    "usage: " PROG " MOUNTPOINT --tmp-path=DIR [options]\n"
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
	    "  -d                         debug (foreground, FUSE trace)\n");
}

static int cli_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct cli *c = data;

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
		return 1; /* the mountpoint */
	}
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

static int cli_to_options(const struct cli *c, struct bmfs_options *o,
			  struct bm_http_options *ho)
{
	unsigned long v;

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
	return 0;
}

/* Configuration: the file, or else the environment; then the options. */
static int load_config(const struct cli *c, struct bm_config *cfg,
		       struct bm_error *err)
{
	if (c->config_file) {
		/* The environment may still complete the file's Entra
		 * identity (blobfuse v1 reads the SPN secret from there). */
		if (bm_config_load_file(cfg, c->config_file, err) != 0 ||
		    bm_config_complete_identity(cfg, err) != 0)
			return -1;
	} else if (bm_config_load_env(cfg, err) != 0) {
		return -1;
	}
	if (c->container_name) {
		free(cfg->container);
		cfg->container = strdup(c->container_name);
		if (!cfg->container) {
			bm_error_set(err, BM_ERR_NOMEM, "out of memory");
			return -1;
		}
	}
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
	if (c->ca_cert_file) {
		free(cfg->ca_cert_file);
		cfg->ca_cert_file = strdup(c->ca_cert_file);
		if (!cfg->ca_cert_file) {
			bm_error_set(err, BM_ERR_NOMEM, "out of memory");
			return -1;
		}
	}
	return bm_config_finish(cfg, true, err);
}

static void cli_release(struct cli *c)
{
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
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts fo = {0};
	struct cli c = {.attr_timeout = 1.0, .entry_timeout = 1.0};
	struct bmfs_options o;
	struct bm_http_options ho;
	struct bm_config cfg;
	struct bm_error err;
	struct bm_blob_client *client = NULL;
	struct bmfs *fs = NULL;
	struct fuse *f = NULL;
	enum bm_log_level level = BM_LOG_WARNING;
	int rc = EXIT_USAGE, mounted = 0;

	bmfs_options_init(&o);
	bm_http_options_default(&ho);
	bm_config_init(&cfg);
	bm_error_clear(&err);
	bm_log_init(PROG, level, false);
	if (fuse_opt_parse(&args, &c, cli_opts, cli_proc) != 0) {
		if (!c.bad)
			fprintf(stderr, PROG ": invalid command line\n");
		goto out;
	}
	if (c.show_help) {
		usage(stdout);
		rc = 0;
		goto out;
	}
	if (c.show_version) {
		printf(PROG " %s (libfuse %s)\n", PACKAGE_VERSION,
		       fuse_pkgversion());
		rc = 0;
		goto out;
	}
	if (fuse_parse_cmdline(&args, &fo) != 0)
		goto out;
	if (!fo.mountpoint) {
		fprintf(stderr, PROG ": missing mountpoint\n");
		usage(stderr);
		goto out;
	}
	if (!c.tmp_path) {
		fprintf(stderr, PROG ": missing --tmp-path=DIR (where files "
				     "are kept until uploaded)\n");
		goto out;
	}
	if (c.log_level && bm_log_level_parse(c.log_level, &level) != 0) {
		fprintf(stderr,
			PROG ": invalid --log-level '%s' (LOG_OFF, LOG_CRIT, "
			     "LOG_ERR, LOG_WARNING, LOG_INFO or LOG_DEBUG)\n",
			c.log_level);
		goto out;
	}
	if (fo.debug && level < BM_LOG_DEBUG)
		level = BM_LOG_DEBUG;
	bm_log_init(PROG, level, false);
	if (cli_to_options(&c, &o, &ho) != 0)
		goto out;
	o.tmp_path = strdup(c.tmp_path);
	if (load_config(&c, &cfg, &err) != 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	client = bm_blob_client_new_azure(&cfg, &ho, &err);
	if (!client) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	fs = bmfs_new(client, cfg.container, &o, &err);
	client = NULL; /* bmfs_new took it */
	if (!fs) {
		fprintf(stderr, PROG ": cannot mount '%s': %s\n", cfg.container,
			err.msg);
		goto out;
	}
	/* Parses (and rejects unknown) -o options before any request. */
	f = fuse_new(&args, &bmfs_fuse_ops, sizeof(bmfs_fuse_ops), fs);
	if (!f)
		goto out;
	rc = EXIT_MOUNT;
	if (bmfs_check_root(fs, &err) != 0) {
		fprintf(stderr, PROG ": cannot mount '%s': %s\n", fs->container,
			err.msg);
		goto out;
	}
	if (fuse_mount(f, fo.mountpoint) != 0) {
		fprintf(stderr, PROG ": cannot mount '%s' on '%s'\n",
			fs->container, fo.mountpoint);
		goto out;
	}
	mounted = 1;
	if (fuse_set_signal_handlers(fuse_get_session(f)) != 0 ||
	    fuse_daemonize(fo.foreground) != 0) {
		fprintf(stderr, PROG ": cannot start the daemon\n");
		goto out;
	}
	/* Detached: stderr is gone, syslog takes the log. */
	bm_log_init(PROG, level, !fo.foreground);
	bm_info("mounted container '%s' on '%s'", fs->container, fo.mountpoint);
	if (fo.singlethread)
		rc = fuse_loop(f);
	else
		rc = fuse_loop_mt(f, fo.clone_fd);
	rc = rc == 0 ? 0 : EXIT_MOUNT;
	fuse_remove_signal_handlers(fuse_get_session(f));
out:
	if (mounted)
		fuse_unmount(f);
	if (f)
		fuse_destroy(f);
	bmfs_free(fs);
	bm_blob_client_free(client);
	bm_config_release(&cfg);
	bmfs_options_release(&o);
	cli_release(&c);
	free(fo.mountpoint);
	fuse_opt_free_args(&args);
	return rc;
}
