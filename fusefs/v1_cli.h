/*
 * v1_cli: blobfuse v1's command line, as blobmill-fuse has always taken it:
 *   blobmill-fuse MOUNTPOINT --tmp-path=DIR [--config-file=FILE] ...
 *     [-o attr_timeout=N] [-o entry_timeout=N] [-o negative_timeout=N]
 *     [-o allow_other] [-o ro] [-f] [-d]
 * Every long option that takes a value also takes it as the next word
 * (`--tmp-path DIR`), as the blobmill CLI does. Options go through
 * fuse_opt tables with exact matching: an unknown "--long" option is an
 * error here, an unknown "-o" option is an error in libfuse.
 */
#ifndef V1_CLI_H
#define V1_CLI_H

#include <stdbool.h>

#include "mount_run.h"

/* What the command line says; strings from fuse_opt are malloc()ed. */
struct v1_cli {
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
	int bad;     /* an unknown long option was seen */
	char **argv; /* the words given to fuse_opt (values joined) */
	const char *mountpoint; /* the first other word, in argv */
};

/*
 * Parses argv (the v1 form, argv[0] the program) into c and j->args,
 * j->fo. Returns 0, 1 when --help or --version was answered (exit 0),
 * -2 after printing why the mount point cannot take a mount (exit 1), or
 * -1 after printing the error (exit 2). Without to_mount (convert) the
 * mount point is neither checked nor handed to libfuse: j->args keeps
 * every -o, -f and -d word, and c->mountpoint names it.
 */
int v1_cli_parse(int argc, char **argv, struct v1_cli *c, struct mount_job *j,
		 bool to_mount);

/* Fills j (options, log level, tmp path) from c. -1 after an error line. */
int v1_cli_options(const struct v1_cli *c, struct mount_job *j);

/* Loads the config file (or, with use_env, the environment) and applies
 * the command line's overrides. Does not validate (bm_config_finish). */
int v1_cli_config(const struct v1_cli *c, struct bm_config *cfg, bool use_env,
		  struct bm_error *err);

void v1_cli_release(struct v1_cli *c);

/* The whole v1 form: parse, configure, mount. Returns the exit status. */
int v1_main(int argc, char **argv);

#endif
