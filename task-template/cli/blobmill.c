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
#include "tasktemplate.h"

static const struct cli_cmd commands[] = {
    /* storage (cmd_storage.c) */
    {"ls", cmd_ls,
     "list containers, or blobs: ls [CONTAINER[/PREFIX]] [-l] "
     "[--delimiter /]"},
    {"get", cmd_get,
     "download: get CONTAINER/NAME [FILE|DIR|-], get -r CONTAINER[/PREFIX] "
     "DIR"},
    {"put", cmd_put,
     "upload: put FILE|- CONTAINER[/NAME], put -r DIR CONTAINER[/PREFIX]"},
    {"rm", cmd_rm,
     "delete blobs: rm CONTAINER/NAME..., rm -r CONTAINER/PREFIX"},
    {"mb", cmd_mb, "create a container: mb CONTAINER"},
    {"rb", cmd_rb, "delete an empty container: rb [--force] CONTAINER"},
    {"doctor", cmd_doctor,
     "check credentials, endpoint, clock and a container: doctor "
     "[CONTAINER]"},

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
	fprintf(out, "\n'blobmill help COMMAND' (or 'blobmill COMMAND "
		     "--help') describes a command;\n"
		     "'blobmill version' prints the version.\n");
}

static const struct cli_cmd *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* "blobmill: 'lss' is not a command (did you mean ls?); see ..." */
static int unknown_command(const char *name)
{
	const char *names[sizeof(commands) / sizeof(commands[0]) + 2];
	const char *near;
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		names[i] = commands[i].name;
	names[i++] = "help";
	names[i++] = "version";
	near = tt_suggest(name, strlen(name), names, i);
	fprintf(stderr,
		"blobmill: '%s' is not a command%s%s%s; see 'blobmill "
		"--help'\n",
		name, near ? " (did you mean " : "", near ? near : "",
		near ? "?)" : "");
	return TERM_EXIT_USAGE;
}

static int run_builtin(const struct cli_cmd *cmd, int argc, char **argv)
{
	int status = cmd->fn(argc, argv);

	/* Output that could not be written is a failure, even if the
	 * command itself succeeded. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "blobmill: %s: cannot write output: %s\n",
			cmd->name, strerror(errno));
		return TERM_EXIT_FAILURE;
	}
	if (fclose(stdout) != 0 && errno != EBADF) {
		fprintf(stderr, "blobmill: %s: cannot close output: %s\n",
			cmd->name, strerror(errno));
		return TERM_EXIT_FAILURE;
	}
	return status;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	bm_log_init("blobmill", BM_LOG_WARNING, false);
	if (argc < 2) {
		usage(stderr);
		return TERM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    (!strcmp(argv[1], "help") && argc == 2)) {
		usage(stdout);
		return TERM_EXIT_OK;
	}
	/* "blobmill help CMD" is "blobmill CMD --help", as in git. */
	if (!strcmp(argv[1], "help")) {
		char *help_argv[] = {argv[2], "--help", NULL};

		if (argc > 3) {
			fprintf(stderr, "blobmill: help: one command at a "
					"time; see 'blobmill --help'\n");
			return TERM_EXIT_USAGE;
		}
		cmd = find_command(argv[2]);
		if (!cmd)
			return unknown_command(argv[2]);
		return run_builtin(cmd, 2, help_argv);
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("blobmill %s\n", PACKAGE_VERSION);
		return TERM_EXIT_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return unknown_command(argv[1]);
	return run_builtin(cmd, argc - 1, argv + 1);
}
