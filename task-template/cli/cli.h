/*
 * cli.h: what the `blobmill` subcommands share: the command table entry,
 * the credential options every command accepts, loading the configuration.
 * Error lines, reports, progress and exit codes are term.h's.
 * Each subcommand lives in its own cmd_*.c file.
 */
#ifndef BM_CLI_H
#define BM_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bm_blob.h"
#include "bm_config.h"
#include "bm_error.h"
#include "term.h"

/* A subcommand: argv[0] is the subcommand's name. Returns the exit code. */
struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/*
 * Credential options, shared by all commands: --config-file=FILE,
 * --account=NAME, --endpoint=URL, --use-https=true|false, --ca-cert-file,
 * --insecure, --max-retry, --max-retry-interval-in-seconds. The key and SAS
 * are never options (they would show in `ps`): they come from the config
 * file or the environment.
 * Use CLI_CRED_LONGOPTS inside a getopt_long option array and pass every
 * option value >= CLI_OPT_CRED_FIRST to cli_cred_option().
 */
enum {
	CLI_OPT_CRED_FIRST = 0x1000,
	CLI_OPT_CONFIG_FILE = CLI_OPT_CRED_FIRST,
	CLI_OPT_ACCOUNT,
	CLI_OPT_ENDPOINT,
	CLI_OPT_USE_HTTPS,
	CLI_OPT_CA_CERT,
	CLI_OPT_INSECURE,
	CLI_OPT_MAX_RETRY,
	CLI_OPT_MAX_RETRY_INTERVAL,
	CLI_OPT_LOG_LEVEL,
	CLI_OPT_VERBOSE,
	CLI_OPT_CRED_LAST,
};

/* -v is every command's short form of --verbose: add CLI_SHORT_VERBOSE to
 * the getopt optstring and treat 'v' as CLI_OPT_VERBOSE. */
#define CLI_SHORT_VERBOSE "v"

#define CLI_CRED_LONGOPTS                                                      \
	{"config-file", required_argument, NULL, CLI_OPT_CONFIG_FILE},         \
	    {"account", required_argument, NULL, CLI_OPT_ACCOUNT},             \
	    {"endpoint", required_argument, NULL, CLI_OPT_ENDPOINT},           \
	    {"use-https", required_argument, NULL, CLI_OPT_USE_HTTPS},         \
	    {"ca-cert-file", required_argument, NULL, CLI_OPT_CA_CERT},        \
	    {"insecure", no_argument, NULL, CLI_OPT_INSECURE},                 \
	    {"max-retry", required_argument, NULL, CLI_OPT_MAX_RETRY},         \
	    {"max-retry-interval-in-seconds", required_argument, NULL,         \
	     CLI_OPT_MAX_RETRY_INTERVAL},                                      \
	    {"log-level", required_argument, NULL, CLI_OPT_LOG_LEVEL},         \
	{                                                                      \
		"verbose", no_argument, NULL, CLI_OPT_VERBOSE                  \
	}

struct cli_cred {
	const char *config_file;
	const char *account;
	const char *endpoint;
	const char *use_https; /* "true"/"false" or NULL */
	const char *ca_cert_file;
	bool insecure;
	int max_retry;		/* -1: default */
	int max_retry_interval; /* seconds, -1: default */
};

void cli_cred_init(struct cli_cred *c);

/* Handles one credential option; -1 (message printed) on a bad value.
 * --log-level=LOG_* and -v/--verbose (= LOG_DEBUG: every request with its
 * status and time, every retry; never a key, SAS or signature) set the
 * process's log level at once. */
int cli_cred_option(struct cli_cred *c, int opt, const char *arg);

/*
 * Reports what getopt_long refused (it returned '?' or ':'; the caller set
 * opterr = 0 and began optstring with ':') in the one format every
 * command uses, with the nearest long option of longopts when there is
 * one:
 *   blobmill: CMD: unknown option '--imgae' (did you mean --image?); see
 * 'blobmill CMD --help' blobmill: CMD: option '--image' needs a value; see
 * 'blobmill CMD --help'
 */
void cli_bad_option(const char *cmd, int opt, char **argv,
		    const struct option *longopts);

/* Fills cfg (initialised) from the sources in precedence order, then
 * bm_config_finish. 0, or -1 with err set; release cfg either way. */
int cli_load_config(const struct cli_cred *c, struct bm_config *cfg,
		    struct bm_error *err);

/* What the config file itself set, apart from the environment and the
 * options (doctor says where each value came from). */
struct cli_config_origin {
	bool credential; /* an account key or a SAS token */
	bool account;
	bool endpoint;
};

/* cli_load_config that also tells (file_set, may be NULL) what the file
 * set: the file is read once, so its warnings print once. */
int cli_load_config_from(const struct cli_cred *c, struct bm_config *cfg,
			 struct cli_config_origin *file_set,
			 struct bm_error *err);

/* The Azure client for a configuration cli_load_config finished (the
 * --insecure warning, the HTTP options). On failure prints one line
 * "blobmill: ..." and returns NULL. cfg is not kept. */
struct bm_blob_client *cli_client_new(const struct cli_cred *c,
				      const struct bm_config *cfg);

/*
 * Loads the configuration (file, then environment, then the options) and
 * validates it with bm_config_finish, then makes the Azure client. On
 * failure prints one line "blobmill: ..." and returns NULL.
 * cfg_out (may be NULL) receives the finished configuration; the caller
 * releases it with bm_config_release.
 */
/*
 * An Entra ID token source for Azure Batch (https://batch.core.windows.net/)
 * with the identity the storage configuration names (the same file,
 * environment and options as cli_open_client), for `submit` when no Batch
 * key is given. NULL with err clear when that configuration names no
 * Entra identity (or none at all); NULL with err set on failure. The
 * caller frees it with bm_token_free.
 */
struct bm_token *cli_batch_token(const struct cli_cred *c,
				 struct bm_error *err);

struct bm_blob_client *cli_open_client(const struct cli_cred *c,
				       struct bm_config *cfg_out);

/* Prints the help text of the credential options (for `CMD --help`). */
void cli_cred_help(FILE *out);

/* Parses the value of option --OPT as a whole number in [min, max]: digits
 * only, nothing after them. On a bad value prints "blobmill: [CMD: ]invalid
 * value ..." (cmd may be NULL) and returns -1. */
int cli_parse_int(const char *cmd, const char *opt, const char *arg, long min,
		  long max, int *out);

/* --- storage commands (cmd_storage.c) --- */
int cmd_ls(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_mb(int argc, char **argv);
int cmd_rb(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* --- task commands (cmd_tasks.c, cmd_run.c) --- */
int cmd_tasks(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* --- Azure Batch (cmd_submit.c) --- */
int cmd_submit(int argc, char **argv);

/* --- pool JSON (cmd_pool.c) --- */
int cmd_pool(int argc, char **argv);

/* --- pool settings' options (cli_pool.c), for pool and submit --- */
struct pool_settings;

/* Option values handled by pool_settings_option(). */
enum {
	POOL_OPT_FIRST = 0x5100,
	POOL_OPT_VM_SIZE = POOL_OPT_FIRST,
	POOL_OPT_NODE_IMAGE,
	POOL_OPT_NODE_AGENT,
	POOL_OPT_DEDICATED,
	POOL_OPT_SPOT,
	POOL_OPT_TASK_SLOTS,
	POOL_OPT_PREFETCH,
	POOL_OPT_BUNDLE_URL,
	POOL_OPT_BUNDLE_CONTAINER_URL,
	POOL_OPT_BUNDLE_STORAGE,
	POOL_OPT_MOUNTS_URL,
	POOL_OPT_MOUNTS,
	POOL_OPT_NODE_IDENTITY,
	POOL_OPT_LAST,
};

/* clang-format off */
#define POOL_SETTINGS_LONGOPTS                                                 \
	{"vm-size", required_argument, NULL, POOL_OPT_VM_SIZE},                \
	{"node-image", required_argument, NULL, POOL_OPT_NODE_IMAGE},          \
	{"node-agent-sku", required_argument, NULL, POOL_OPT_NODE_AGENT},      \
	{"dedicated", required_argument, NULL, POOL_OPT_DEDICATED},            \
	{"spot", required_argument, NULL, POOL_OPT_SPOT},                      \
	{"task-slots", required_argument, NULL, POOL_OPT_TASK_SLOTS},          \
	{"prefetch", required_argument, NULL, POOL_OPT_PREFETCH},              \
	{"bundle-url", required_argument, NULL, POOL_OPT_BUNDLE_URL},          \
	{"bundle-container-url", required_argument, NULL,                      \
	 POOL_OPT_BUNDLE_CONTAINER_URL},                                       \
	{"bundle-storage", required_argument, NULL, POOL_OPT_BUNDLE_STORAGE},  \
	{"mounts-url", required_argument, NULL, POOL_OPT_MOUNTS_URL},          \
	{"mounts", required_argument, NULL, POOL_OPT_MOUNTS},                  \
	{"node-identity", required_argument, NULL, POOL_OPT_NODE_IDENTITY}
/* clang-format on */

/* One line per option, for --help. */
extern const char pool_settings_help[];

/* Handles one option (POOL_OPT_FIRST <= opt < POOL_OPT_LAST); -1 with a
 * message printed on a bad value. arg must outlive s. */
int pool_settings_option(struct pool_settings *s, int opt, const char *arg);

#endif
