/*
 * cli_common: what every `blobmill` subcommand shares: the credential
 * options, loading and validating the configuration, making the Azure
 * client. (Error lines and reports are term/term_out.c's.)
 *
 * Credential precedence (the same for every command), as bm_config
 * defines it:
 *   1. --config-file=FILE (blobfuse's format): its values win;
 *   2. the environment (AZURE_STORAGE_ACCOUNT, _ACCESS_KEY, _SAS_TOKEN,
 *      _BLOB_ENDPOINT, then AZURE_STORAGE_CONNECTION_STRING) fills only
 *      what the file left unset; a key and a SAS are one unit, so a key
 *      from the file is never paired with a SAS from the environment;
 *   3. then --account, --endpoint, --use-https, --ca-cert-file and
 *      --insecure override what those gave.
 * The key and the SAS are never options: they would show in `ps`.
 *
 * Does not: parse a command's own options, or print anything on stdout.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm_http.h"
#include "bm_log.h"
#include "bm_token.h"
#include "cli.h"
#include "tasktemplate.h"

/* Bounds of the numeric options: enough for any real use, small enough
 * that a typo (an extra zero or two) is caught rather than obeyed. */
#define CLI_MAX_RETRY_LIMIT 100
#define CLI_MAX_RETRY_INTERVAL_LIMIT 3600

void cli_cred_init(struct cli_cred *c)
{
	memset(c, 0, sizeof(*c));
	c->max_retry = -1;
	c->max_retry_interval = -1;
}

void cli_cred_help(FILE *out)
{
	fputs("credentials (the key and SAS come only from the file or the "
	      "environment):\n"
	      "  --config-file=FILE     blobfuse config file; its values win "
	      "over the\n"
	      "                         AZURE_STORAGE_* variables\n"
	      "  --account=NAME         storage account (overrides the file "
	      "or environment)\n"
	      "  --endpoint=URL         blob endpoint, e.g. "
	      "http://127.0.0.1:10000/devstoreaccount1\n"
	      "  --use-https=true|false scheme of the default endpoint\n"
	      "  --ca-cert-file=FILE    extra CA certificates (PEM)\n"
	      "  --insecure             do not verify TLS certificates "
	      "(warns)\n"
	      "  --max-retry=N          retries of a failed request "
	      "(0-100, default 5)\n"
	      "  --max-retry-interval-in-seconds=N\n"
	      "                         longest wait between retries "
	      "(1-3600, default 30)\n"
	      "the environment fills what the file leaves unset: "
	      "AZURE_STORAGE_ACCOUNT,\n"
	      "AZURE_STORAGE_ACCESS_KEY (or AZURE_STORAGE_KEY) or "
	      "AZURE_STORAGE_SAS_TOKEN,\n"
	      "AZURE_STORAGE_BLOB_ENDPOINT, "
	      "AZURE_STORAGE_CONNECTION_STRING\n",
	      out);
}

int cli_parse_int(const char *cmd, const char *opt, const char *arg, long min,
		  long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	/* strtol alone would take " 5", "+5" and "-0": digits only. */
	if (!(*arg >= '0' && *arg <= '9') || *end || errno || v < min ||
	    v > max) {
		term_errorf("%s%sinvalid value '%s' for --%s: expected a whole "
			    "number from %ld to %ld",
			    cmd ? cmd : "", cmd ? ": " : "", arg, opt, min,
			    max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int nonempty(const char *opt, const char *arg)
{
	if (!*arg) {
		term_errorf("--%s needs a value", opt);
		return -1;
	}
	return 0;
}

int cli_cred_option(struct cli_cred *c, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_CONFIG_FILE:
		if (nonempty("config-file", arg))
			return -1;
		c->config_file = arg;
		return 0;
	case CLI_OPT_ACCOUNT:
		if (nonempty("account", arg))
			return -1;
		c->account = arg;
		return 0;
	case CLI_OPT_ENDPOINT:
		if (nonempty("endpoint", arg))
			return -1;
		if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)) {
			term_errorf(
			    "invalid value '%s' for --endpoint: expected "
			    "an http:// or https:// URL",
			    arg);
			return -1;
		}
		c->endpoint = arg;
		return 0;
	case CLI_OPT_USE_HTTPS:
		if (strcmp(arg, "true") && strcmp(arg, "false")) {
			term_errorf(
			    "invalid value '%s' for --use-https: expected "
			    "true or false",
			    arg);
			return -1;
		}
		c->use_https = arg;
		return 0;
	case CLI_OPT_CA_CERT:
		if (nonempty("ca-cert-file", arg))
			return -1;
		if (access(arg, R_OK)) {
			term_errorf("cannot read --ca-cert-file '%s': %s", arg,
				    strerror(errno));
			return -1;
		}
		c->ca_cert_file = arg;
		return 0;
	case CLI_OPT_INSECURE:
		c->insecure = true;
		return 0;
	case CLI_OPT_MAX_RETRY:
		return cli_parse_int(NULL, "max-retry", arg, 0,
				     CLI_MAX_RETRY_LIMIT, &c->max_retry);
	case CLI_OPT_MAX_RETRY_INTERVAL:
		return cli_parse_int(NULL, "max-retry-interval-in-seconds", arg,
				     1, CLI_MAX_RETRY_INTERVAL_LIMIT,
				     &c->max_retry_interval);
	case CLI_OPT_LOG_LEVEL: {
		enum bm_log_level level;

		if (bm_log_level_parse(arg, &level)) {
			term_errorf("invalid value '%s' for --log-level: use "
				    "LOG_OFF, LOG_CRIT, LOG_ERR, LOG_WARNING, "
				    "LOG_INFO or LOG_DEBUG",
				    arg);
			return -1;
		}
		/* Option parsing runs before any thread starts. */
		bm_log_init("blobmill", level, false);
		return 0;
	}
	case CLI_OPT_VERBOSE:
		bm_log_init("blobmill", BM_LOG_DEBUG, false);
		return 0;
	}
	term_errorf("internal error: unknown credential option %d", opt);
	return -1;
}

/* Replaces *field with a copy of value (value NULL: leave it). */
static int override(char **field, const char *value)
{
	char *copy;

	if (!value)
		return 0;
	copy = strdup(value);
	if (!copy)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

int cli_load_config_from(const struct cli_cred *c, struct bm_config *cfg,
			 struct cli_config_origin *file_set,
			 struct bm_error *err)
{
	if (c->config_file && bm_config_load_file(cfg, c->config_file, err))
		return -1;
	if (file_set) {
		/* Nothing but the file has been read yet. */
		file_set->credential = cfg->account_key || cfg->sas_token;
		file_set->account = cfg->account;
		file_set->endpoint = cfg->endpoint;
	}
	if (bm_config_load_env(cfg, err) < 0)
		return -1;
	if (override(&cfg->account, c->account) ||
	    override(&cfg->endpoint, c->endpoint) ||
	    override(&cfg->ca_cert_file, c->ca_cert_file)) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (c->use_https)
		cfg->use_https = !strcmp(c->use_https, "true");
	if (c->insecure)
		cfg->insecure = true;
	return bm_config_finish(cfg, false, err);
}

int cli_load_config(const struct cli_cred *c, struct bm_config *cfg,
		    struct bm_error *err)
{
	return cli_load_config_from(c, cfg, NULL, err);
}

static void http_options(const struct cli_cred *c, const struct bm_config *cfg,
			 struct bm_http_options *ho)
{
	bm_http_options_default(ho);
	if (c->max_retry >= 0)
		ho->retry.max_retries = c->max_retry;
	if (c->max_retry_interval > 0)
		ho->retry.max_delay_ms = (long)c->max_retry_interval * 1000;
	ho->ca_cert_file = cfg->ca_cert_file;
	ho->insecure = cfg->insecure;
}

struct bm_token *cli_batch_token(const struct cli_cred *c, struct bm_error *err)
{
	struct bm_http_options ho;
	struct bm_token *t = NULL;
	struct bm_config cfg;
	struct bm_error cerr;

	bm_config_init(&cfg);
	bm_error_clear(&cerr);
	/* A storage configuration that does not load names no identity:
	 * its error comes later, where storage is used. */
	if (cli_load_config(c, &cfg, &cerr) == 0 &&
	    bm_auth_type_is_entra(cfg.auth_type)) {
		http_options(c, &cfg, &ho);
		t = bm_token_new(&cfg, BM_RESOURCE_BATCH, &ho, err);
	}
	bm_config_release(&cfg);
	return t;
}

struct bm_blob_client *cli_client_new(const struct cli_cred *c,
				      const struct bm_config *cfg)
{
	struct bm_blob_client *client;
	struct bm_http_options ho;
	struct bm_error err;

	bm_error_clear(&err);
	if (cfg->insecure)
		bm_warn("--insecure: TLS certificates are not verified; anyone "
			"on the path can read and change the data");
	http_options(c, cfg, &ho);
	client = bm_blob_client_new_azure(cfg, &ho, &err);
	if (!client)
		term_report("cannot set up the storage client", &err);
	return client;
}

struct bm_blob_client *cli_open_client(const struct cli_cred *c,
				       struct bm_config *cfg_out)
{
	struct bm_blob_client *client = NULL;
	struct bm_config cfg;
	struct bm_error err;

	bm_config_init(&cfg);
	bm_error_clear(&err);
	/* bm_config's messages name the file, line or variable and the fix;
	 * they stand alone. It also registers the key and SAS for redaction. */
	if (cli_load_config(c, &cfg, &err)) {
		term_errorf("%s", err.msg[0] ? err.msg : bm_errc_str(err.code));
		goto out;
	}
	client = cli_client_new(c, &cfg);
out:
	if (client && cfg_out)
		*cfg_out = cfg;
	else
		bm_config_release(&cfg);
	return client;
}

void cli_bad_option(const char *cmd, int opt, char **argv,
		    const struct option *longopts)
{
	const char *bad = argv[optind - 1];
	const char *names[128];
	const char *near = NULL;
	char shortopt[3] = {'-', (char)optopt, 0};
	size_t n = 0, len;

	/* getopt leaves a bad short option's letter in optopt; the word
	 * in argv may be a cluster ("-lz"). */
	if (optopt && strncmp(bad, "--", 2))
		bad = shortopt;
	if (opt == ':') {
		term_errorf("%s: option '%s' needs a value; see 'blobmill %s "
			    "--help'",
			    cmd, bad, cmd);
		return;
	}
	if (!strncmp(bad, "--", 2)) {
		len = strcspn(bad + 2, "=");
		for (; longopts[n].name && n < sizeof(names) / sizeof(*names);
		     n++)
			names[n] = longopts[n].name;
		near = tt_suggest(bad + 2, len, names, n);
		/* getopt reports an ambiguous abbreviation as unknown. */
		term_errorf("%s: unknown option '%.*s'%s%s%s; see 'blobmill %s "
			    "--help'",
			    cmd, (int)(len + 2), bad,
			    near ? " (did you mean --" : "", near ? near : "",
			    near ? "?)" : "", cmd);
		return;
	}
	term_errorf("%s: unknown option '%s'; see 'blobmill %s --help'", cmd,
		    bad, cmd);
}
