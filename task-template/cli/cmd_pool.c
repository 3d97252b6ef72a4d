/*
 * cmd_pool: `blobmill pool` prints the PoolAddParameter JSON of a pool
 * that runs blobmill tasks (pool_spec builds it), ready for
 * `az batch pool create --json-file`. It sends nothing anywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "batch.h"
#include "tasktemplate.h"

enum {
	POOLCMD_OPT_ID = 0x5200,
	POOLCMD_OPT_HELP,
};

/* --image and the registry options mean what they mean for tasks, so
 * they share libtasktemplate's option values. */
static const struct option pool_longopts[] = {
    CLI_CRED_LONGOPTS,
    POOL_SETTINGS_LONGOPTS,
    {"pool", required_argument, NULL, POOLCMD_OPT_ID},
    {"image", required_argument, NULL, TT_OPT_IMAGE},
    TT_REGISTRY_LONGOPTS,
    {"help", no_argument, NULL, POOLCMD_OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void pool_usage(FILE *out)
{
	fputs("usage: blobmill pool [--pool ID] [--image IMAGE] [options] > "
	      "pool.json\n\n"
	      "Prints the pool JSON (PoolAddParameter) for "
	      "'az batch pool create --json-file':\n"
	      "a container-enabled Ubuntu pool whose start task installs "
	      "blobmill from the\n"
	      "node bundle and mounts the containers of the mounts file.\n\n"
	      "  --pool ID                 pool id (default 'blobmill')\n"
	      "  --image IMAGE             task image to prefetch on every "
	      "node\n"
	      "  --registry SERVER, --registry-user USER,\n"
	      "  --registry-password-env VAR | --registry-password-file FILE\n"
	      "                            private registry of the images\n"
	      "storage credentials for the nodes: a SAS token "
	      "(AZURE_STORAGE_SAS_TOKEN or the\n"
	      "config file) goes into the start task's environment; an "
	      "account key never does\n\n",
	      out);
	fputs(pool_settings_help, out);
	cli_cred_help(out);
	fputs("\nexamples:\n"
	      "  blobmill pool --pool etl --image myacr.azurecr.io/app:1 > "
	      "pool.json\n"
	      "  az batch pool create --json-file pool.json\n",
	      out);
}

/* The registry password from the variable or the file the options name;
 * malloc()ed (the caller wipes and frees it), NULL with a message. */
static char *registry_password(const struct tt_options *o)
{
	char buf[1024];
	size_t n;
	FILE *f;

	if (o->registry_password_env) {
		const char *v = getenv(o->registry_password_env);

		if (v && *v)
			return strdup(v);
		term_errorf("pool: registry password variable '%s' is not set",
			    o->registry_password_env);
		return NULL;
	}
	if (!o->registry_password_file) {
		term_errorf("pool: registry '%s' needs a password: "
			    "--registry-password-env VAR or "
			    "--registry-password-file FILE",
			    o->registry);
		return NULL;
	}
	f = fopen(o->registry_password_file, "r");
	if (!f) {
		term_errorf("pool: cannot read registry password file '%s': %s",
			    o->registry_password_file, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return strdup(buf);
}

/* Whether the user configured storage at all (else the nodes get their
 * credentials from the mounts file's config files). */
static bool storage_configured(const struct cli_cred *c)
{
	return c->config_file || getenv("AZURE_STORAGE_ACCOUNT") ||
	       getenv("AZURE_STORAGE_CONNECTION_STRING");
}

int cmd_pool(int argc, char **argv)
{
	struct bm_blob_client *blob = NULL;
	struct pool_settings ps;
	struct tt_options tt;
	struct cli_cred cred;
	struct bm_config cfg;
	struct bm_error err;
	json_t *pool = NULL;
	char *pw = NULL;
	int opt, rc = TERM_EXIT_USAGE;

	cli_cred_init(&cred);
	tt_options_init(&tt);
	pool_settings_init(&ps);
	bm_config_init(&cfg);
	ps.id = "blobmill";
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":" CLI_SHORT_VERBOSE,
				  pool_longopts, NULL)) != -1) {
		int bad = 0;

		bm_error_clear(&err);
		if (opt == 'v')
			opt = CLI_OPT_VERBOSE;
		if (opt == '?' || opt == ':') {
			cli_bad_option("pool", opt, argv, pool_longopts);
			goto out;
		} else if (opt == POOLCMD_OPT_HELP) {
			pool_usage(stdout);
			rc = TERM_EXIT_OK;
			goto out;
		} else if (opt == POOLCMD_OPT_ID) {
			ps.id = optarg;
		} else if (opt >= CLI_OPT_CRED_FIRST &&
			   opt < CLI_OPT_CRED_LAST) {
			bad = cli_cred_option(&cred, opt, optarg);
		} else if (opt >= POOL_OPT_FIRST && opt < POOL_OPT_LAST) {
			bad = pool_settings_option(&ps, opt, optarg);
		} else if (tt_options_set(&tt, opt, optarg, &err)) {
			term_errorf("pool: %s", err.msg);
			bad = 1;
		}
		if (bad)
			goto out;
	}
	if (optind < argc) {
		term_errorf("pool: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (tt.image && pool_settings_add_image(&ps, tt.image) < 0) {
		term_errorf("pool: too many images to prefetch");
		goto out;
	}
	/* With a node identity the registry is reached with it: no
	 * password is looked for. */
	if (tt.registry && ps.node_identity) {
		ps.registry = tt.registry;
	} else if (tt.registry) {
		pw = registry_password(&tt);
		if (!pw)
			goto out;
		ps.registry = tt.registry;
		ps.registry_user = tt.registry_user;
		ps.registry_password = pw;
	}
	if (storage_configured(&cred)) {
		blob = cli_open_client(&cred, &cfg);
		if (!blob)
			goto out;
		pool_settings_storage(&ps, &cfg);
	}
	bm_error_clear(&err);
	pool = pool_spec_build(&ps, true, &err);
	if (!pool) {
		term_errorf("pool: %s", err.msg);
		goto out;
	}
	rc = TERM_EXIT_FAILURE;
	if (json_dumpf(pool, stdout, JSON_INDENT(2)) == 0 &&
	    fputc('\n', stdout) != EOF)
		rc = TERM_EXIT_OK;
out:
	json_decref(pool);
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	bm_blob_client_free(blob);
	bm_config_release(&cfg);
	tt_options_release(&tt);
	return rc;
}
