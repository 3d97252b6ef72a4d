/*
 * storage_cli.h: what the storage commands' files in cli/ share
 * (cmd_storage.c: the command table, option parsing, ls, get, put, rm, mb,
 * rb; cmd_doctor.c): the command entry and the context of one run. The
 * engine they drive is storage/'s (storage.h).
 */
#ifndef BM_STORAGE_CLI_H
#define BM_STORAGE_CLI_H

#include "cli.h"
#include "storage.h"

/* Which command-specific options a command accepts (credential options,
 * -v, --stats and --help go with every command). */
enum {
	ST_ACCEPT_LIST = 1 << 0,      /* -l, -h, -0, --delimiter, --output */
	ST_ACCEPT_UPLOAD = 1 << 1,    /* --block-size-mb, --max-concurrency */
	ST_ACCEPT_TRANSFER = 1 << 2,  /* --no-progress, --max-concurrency */
	ST_ACCEPT_RECURSIVE = 1 << 3, /* -r */
	ST_ACCEPT_FORCE = 1 << 4,     /* --force */
};

struct st_ctx {
	struct cli_cred cred;
	struct st_args a;
	/* opened by the command, freed by st_main */
	struct bm_blob_client *client;
	/* errno of a failed stdout write, for run_builtin's message */
	int out_errno;
};

struct st_cmd {
	const char *name;
	const char *usage;    /* synopsis and the command's own options */
	const char *notes;    /* printed after the options, or NULL */
	const char *examples; /* printed last by --help */
	unsigned accept;
	int min_args;
	int max_args; /* -1: any number */
	int (*run)(struct st_ctx *ctx);
};

/* Parses, checks the operand count, runs, prints --stats, frees the
 * client. Returns the exit code. */
int st_main(const struct st_cmd *cmd, int argc, char **argv);

#endif
