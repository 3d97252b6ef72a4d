/*
 * cmd_doctor: `blobmill doctor [CONTAINER]`, what a user runs first when
 * something does not work: which credential source, account and endpoint
 * are in use (and where each came from), whether the service answers and
 * accepts the credentials, how far this machine's clock is from the
 * service's (SharedKey requests fail beyond 15 minutes), whether the SAS
 * token has expired, and whether CONTAINER exists. Each problem found is
 * followed by a "fix:" line. Exit 0 when nothing is wrong, 1 otherwise.
 *
 * It sends at most three requests (List Containers, Get Container
 * Properties or a one-entry listing) and never prints a key or a SAS.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm_listing.h"
#include "bm_log.h"
#include "storage_cli.h"

/* Beyond this the clock is worth fixing: SharedKey allows 15 minutes,
 * and SAS start and expiry times are read against the service's clock. */
#define DOCTOR_SKEW_WARN_S 60
#define DOCTOR_SKEW_FAIL_S (15 * 60)

struct doctor {
	unsigned problems;
};

static void row(const char *what, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A line of the report: formatted, then stripped of any secret. */
static void format_line(char *line, size_t cap, const char *fmt, va_list ap)
{
	vsnprintf(line, cap, fmt, ap);
	bm_redact(line, cap);
}

static void row(const char *what, const char *fmt, ...)
{
	char line[1600];
	va_list ap;

	va_start(ap, fmt);
	format_line(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("%-12s %s\n", what, line);
}

static void problem(struct doctor *d, const char *what, const char *fix,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(struct doctor *d, const char *what, const char *fix,
		    const char *fmt, ...)
{
	char line[1600];
	va_list ap;

	va_start(ap, fmt);
	format_line(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("%-12s PROBLEM: %s\n%-12s fix: %s\n", what, line, "", fix);
	d->problems++;
}

static bool env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

/* Where a value came from, in precedence order (cli_common.c). */
static const char *source_of(const char *option, bool from_file,
			     const char *file, const char *const *vars,
			     char *buf, size_t cap)
{
	size_t i;

	if (option)
		return option;
	if (from_file) {
		snprintf(buf, cap, "config file '%s'", file);
		return buf;
	}
	for (i = 0; vars[i]; i++)
		if (env_set(vars[i]))
			return vars[i];
	return NULL;
}

static void report_sources(const struct cli_cred *cred,
			   const struct bm_config *cfg,
			   const struct cli_config_origin *file_set)
{
	static const char *const account_vars[] = {
	    "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_CONNECTION_STRING", NULL};
	static const char *const key_vars[] = {
	    "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_KEY",
	    "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING", NULL};
	static const char *const endpoint_vars[] = {
	    "AZURE_STORAGE_BLOB_ENDPOINT", "AZURE_STORAGE_CONNECTION_STRING",
	    NULL};
	const char *file = cred->config_file;
	const char *src, *kind;
	char buf[1200];

	kind = cfg->auth_type == BM_AUTH_SAS   ? "SAS token"
	       : cfg->auth_type == BM_AUTH_KEY ? "account key"
					       : NULL;
	if (kind) {
		src = source_of(NULL, file_set->credential, file, key_vars, buf,
				sizeof(buf));
		row("credential", "%s from %s", kind, src ? src : "(unknown)");
	} else {
		/* Entra ID: the identity, never the secret. */
		row("credential", "Microsoft Entra ID token (authType %s)",
		    bm_auth_type_name(cfg->auth_type));
	}
	src = source_of(cred->account ? "--account" : NULL, file_set->account,
			file, account_vars, buf, sizeof(buf));
	row("account", "%s (from %s)", cfg->account, src ? src : "(unknown)");
	src =
	    source_of(cred->endpoint ? "--endpoint" : NULL, file_set->endpoint,
		      file, endpoint_vars, buf, sizeof(buf));
	/* A connection string without BlobEndpoint gives the default. */
	row("endpoint", "%s (%s%s)", cfg->endpoint, src ? "from " : "",
	    src ? src : "the account's default");
}

/* The SAS token's expiry (se=2024-01-01T00:00:00Z, ':' maybe %3A), or 0. */
static time_t sas_expiry(const char *sas)
{
	const char *p = sas;
	char value[64];
	struct tm tm;
	size_t i, n = 0;

	while (p && strncmp(p, "se=", 3))
		if ((p = strchr(p, '&')))
			p++;
	if (!p)
		return 0;
	for (i = 3; p[i] && p[i] != '&' && n + 1 < sizeof(value); i++) {
		if (!strncmp(p + i, "%3A", 3) || !strncmp(p + i, "%3a", 3)) {
			value[n++] = ':';
			i += 2;
		} else {
			value[n++] = p[i];
		}
	}
	value[n] = '\0';
	memset(&tm, 0, sizeof(tm));
	if (!strptime(value, "%Y-%m-%dT%H:%M:%SZ", &tm) &&
	    !strptime(value, "%Y-%m-%dT%H:%MZ", &tm) &&
	    !strptime(value, "%Y-%m-%d", &tm))
		return 0;
	return timegm(&tm);
}

static const char *auth_fix(const struct bm_config *cfg)
{
	if (bm_auth_type_is_entra(cfg->auth_type))
		return "give the identity a data role on the account "
		       "(Storage Blob Data Reader or Contributor), and check "
		       "its tenant and client id";
	return cfg->auth_type == BM_AUTH_SAS
		   ? "check the SAS token: its account, expiry (se=), "
		     "permissions (sp=) and, for List Containers, an account "
		     "SAS (srt=sco)"
		   : "check that the key is the current key of this account "
		     "(az storage account keys list --account-name ACCOUNT)";
}

static void report_failure(struct doctor *d, const char *what,
			   const struct bm_config *cfg,
			   const struct bm_error *err)
{
	switch (err->code) {
	case BM_ERR_NETWORK:
	case BM_ERR_TIMEOUT:
		problem(d, what,
			strstr(err->msg, "certificate")
			    ? "give the CA with --ca-cert-file=FILE, or "
			      "check the endpoint's host name"
			    : "check the endpoint URL (--endpoint, "
			      "AZURE_STORAGE_BLOB_ENDPOINT, blobEndpoint) and "
			      "that the service is running and reachable",
			"endpoint unreachable: %s", err->msg);
		break;
	case BM_ERR_AUTH:
	case BM_ERR_PERMISSION:
		problem(d, what, auth_fix(cfg),
			"the service refused the credential (%ld %s)",
			err->http_status, err->azure_code);
		break;
	default:
		problem(d, what,
			"run again with -v to see each request and response",
			"%s", err->msg[0] ? err->msg : bm_errc_str(err->code));
		break;
	}
}

static int count_entry(const struct bm_blob_entry *e, void *ud)
{
	(*(unsigned long *)ud)++;
	return 0;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void check_clock(struct doctor *d, time_t server_time)
{
	long skew = (long)(time(NULL) - server_time);
	long abs_skew = skew < 0 ? -skew : skew;
	char fix[160];

	if (abs_skew <= DOCTOR_SKEW_WARN_S) {
		row("clock", "in step with the service (%ld s apart)", skew);
		return;
	}
	snprintf(fix, sizeof(fix),
		 "set this machine's clock (timedatectl set-ntp true, or "
		 "chronyd)%s",
		 abs_skew > DOCTOR_SKEW_FAIL_S
		     ? ": SharedKey requests fail beyond 15 minutes"
		     : "");
	problem(d, "clock", fix,
		"this machine's clock is %ld s %s the service's", abs_skew,
		skew > 0 ? "ahead of" : "behind");
}

static int run_doctor(struct st_ctx *ctx)
{
	const struct st_args *a = &ctx->a;
	const char *container = a->argc ? a->argv[0] : NULL;
	struct doctor d = {0};
	struct cli_config_origin file_set;
	struct bm_config cfg;
	struct bm_error err;
	struct bm_blob_client *c = NULL;
	unsigned long ncontainers = 0;
	time_t server_time = 0, expiry;
	long t0, ms;
	int r;

	if (container && !bm_container_name_valid(container)) {
		term_errorf("doctor: invalid container name '%s': use 3 to 63 "
			    "lowercase letters, digits and single hyphens",
			    container);
		return TERM_EXIT_USAGE;
	}
	bm_config_init(&cfg);
	bm_error_clear(&err);
	/* Read once: a second read would print its warnings again. */
	if (cli_load_config_from(&ctx->cred, &cfg, &file_set, &err)) {
		problem(&d, "config",
			"set AZURE_STORAGE_ACCOUNT and "
			"AZURE_STORAGE_ACCESS_KEY (or _SAS_TOKEN), "
			"AZURE_STORAGE_CONNECTION_STRING, or give "
			"--config-file=FILE",
			"%s", err.msg);
		goto out;
	}
	report_sources(&ctx->cred, &cfg, &file_set);
	if (cfg.auth_type == BM_AUTH_SAS &&
	    (expiry = sas_expiry(cfg.sas_token)) && expiry < time(NULL)) {
		char when[32];
		struct tm tm;

		gmtime_r(&expiry, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		problem(&d, "sas", "make a new SAS token",
			"the SAS token expired at %s", when);
	}
	c = cli_client_new(&ctx->cred, &cfg);
	if (!c) {
		d.problems++;
		goto out;
	}
	ctx->client = c;
	t0 = mono_ms();
	r = c->ops->list_containers(c, NULL, count_entry, &ncontainers,
				    &server_time, &err);
	ms = mono_ms() - t0;
	if (r == 0) {
		row("service", "answered in %ld ms: %lu container%s", ms,
		    ncontainers, ncontainers == 1 ? "" : "s");
	} else if (cfg.auth_type == BM_AUTH_SAS &&
		   (err.code == BM_ERR_AUTH || err.code == BM_ERR_PERMISSION) &&
		   container) {
		/* A container SAS may not list containers; the container
		 * check below says whether it works where it should. */
		row("service",
		    "answered in %ld ms (this SAS cannot list "
		    "containers: fine for a container SAS)",
		    ms);
	} else {
		report_failure(&d, "service", &cfg, &err);
	}
	if (server_time)
		check_clock(&d, server_time);
	if (container && server_time) {
		bm_error_clear(&err);
		if (c->ops->check_container(c, container, &err) == 0) {
			row("container", "'%s' exists", container);
		} else if (err.code == BM_ERR_NO_CONTAINER ||
			   err.code == BM_ERR_NOT_FOUND) {
			char fix[128];

			snprintf(fix, sizeof(fix),
				 "create it with 'blobmill mb %s'", container);
			problem(&d, "container", fix, "'%s' not found",
				container);
		} else {
			report_failure(&d, "container", &cfg, &err);
		}
	}
out:
	if (d.problems)
		printf("%u problem%s found\n", d.problems,
		       d.problems == 1 ? "" : "s");
	else
		printf("no problems found\n");
	bm_config_release(&cfg);
	return d.problems ? TERM_EXIT_FAILURE : TERM_EXIT_OK;
}

static const struct st_cmd st_doctor = {
    .name = "doctor",
    .usage = "doctor [CONTAINER] [options]\n"
	     "check the credential, account, endpoint, clock and CONTAINER, "
	     "and say how to\n"
	     "fix each problem found",
    .examples = "  blobmill doctor\n"
		"  blobmill doctor data-in\n"
		"  blobmill doctor --config-file=fuse_conn_in.cfg -v data-in",
    .min_args = 0,
    .max_args = 1,
    .run = run_doctor,
};

int cmd_doctor(int argc, char **argv)
{
	return st_main(&st_doctor, argc, argv);
}
