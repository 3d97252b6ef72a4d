/*
 * blobmill: the command line. Dispatches to a subcommand through a table
 * and checks that stdout was written and closed without error, so that
 * `blobmill ls > full-disk/file` fails instead of losing output silently.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bm_log.h"
#include "cli.h"
#include "config.h"

static const struct cli_cmd commands[] = {
    /* storage (cmd_storage.c) */
    {"ls", cmd_ls, "list blobs: ls CONTAINER[/PREFIX] [-l] [--delimiter /]"},
    {"get", cmd_get, "download a blob: get CONTAINER/NAME [FILE|-]"},
    {"put", cmd_put, "upload a file: put FILE|- CONTAINER/NAME"},
    {"rm", cmd_rm, "delete a blob: rm CONTAINER/NAME"},
    {"mb", cmd_mb, "create a container: mb CONTAINER"},
    {"rb", cmd_rb, "delete a container: rb CONTAINER"},

    /* tasks (cmd_tasks.c, cmd_run.c) */
    {"tasks", cmd_tasks, "print Batch tasks, one per input blob (JSON)"},
    {"run", cmd_run, "run those tasks on this machine (podman/docker/host)"},

    /* Azure Batch (cmd_submit.c) */
    {"submit", cmd_submit,
     "add one Batch task per blob: submit --pool ID|--auto-pool --job ID "
     "[--wait]"},

    /* pool JSON (cmd_pool.c) */
    {"pool", cmd_pool,
     "print Batch pool JSON: pool [--pool ID] [--image "
     "IMAGE]"},
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: blobmill COMMAND [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\n'blobmill COMMAND --help' describes a command.\n");
}

static int run_builtin(const struct cli_cmd *cmd, int argc, char **argv)
{
	int status = cmd->fn(argc, argv);

	/* Output that could not be written is a failure, even if the
	 * command itself succeeded. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "blobmill: %s: cannot write output: %s\n",
			cmd->name, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	if (fclose(stdout) != 0 && errno != EBADF) {
		fprintf(stderr, "blobmill: %s: cannot close output: %s\n",
			cmd->name, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	return status;
}

int main(int argc, char **argv)
{
	size_t i;

	bm_log_init("blobmill", BM_LOG_WARNING, false);
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("blobmill %s\n", PACKAGE_VERSION);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return run_builtin(&commands[i], argc - 1, argv + 1);
	fprintf(stderr,
		"blobmill: '%s' is not a command; see 'blobmill --help'\n",
		argv[1]);
	return CLI_EXIT_USAGE;
}
