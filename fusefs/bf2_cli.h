/*
 * bf2_cli: blobfuse2's command line, beside blobfuse v1's:
 *   blobmill-fuse mount MOUNTPOINT --config-file=FILE.yaml [flags]
 *   blobmill-fuse unmount MOUNTPOINT [-z|--lazy]
 * and what a blobfuse2 config means here. Precedence is blobfuse2's:
 * -o options, then flags, then its environment variables, then the file,
 * then blobfuse2's defaults (kernel timeouts 120 s, attribute cache 120 s,
 * file cache 120 s). Flags, mount and unmount: bf2_cli.c; the resolution
 * (bf2_resolve, struct bf2_mount): bf2_resolve.c.
 */
#ifndef BF2_CLI_H
#define BF2_CLI_H

#include <stdbool.h>

#include "bf2_config.h"
#include "mount_run.h"

/* The flags blobfuse2's `mount` takes that blobmill-fuse knows. Numbers
 * are -1 and booleans -1 when not given. */
struct bf2_flags {
	char *config_file, *tmp_path, *container_name, *log_level, *log_type;
	char *ca_cert_file;
	long attr_timeout, entry_timeout, negative_timeout;
	long file_cache_timeout, cache_size_mb, max_concurrency, max_retry;
	long max_retry_interval;
	int read_only, foreground, allow_other, use_https, block_cache;
	int use_attr_cache;
	bool debug, help;
	char **fuse_opts; /* each -o word, split at commas */
	int n_fuse_opts;
	char *mountpoint;
};

/* What a config and command line amount to: the mount job, and what the
 * v1 form needs to say the same (for convert). */
struct bf2_mount {
	struct mount_job job;
	double kernel_attr, kernel_entry, kernel_negative;
	bool allow_other, allow_root, foreground;
	unsigned components; /* BF2_* bits in effect */
	char **pass_opts;    /* -o options handed to libfuse as given */
	int n_pass_opts;
};

/* Parses argv (argv[0] is "mount"). 0, or -1 after an error line. */
int bf2_flags_parse(int argc, char **argv, struct bf2_flags *f);
void bf2_flags_release(struct bf2_flags *f);

/*
 * Resolves file, flags and (with use_env) the environment into m.
 * Credentials are checked for consistency but not finished
 * (bm_config_finish) so that convert shows what was given. 0, or -1 with
 * err set.
 */
int bf2_resolve(const struct bf2_config *file, const struct bf2_flags *f,
		bool use_env, struct bf2_mount *m, struct bm_error *err);
void bf2_mount_init(struct bf2_mount *m);
void bf2_mount_release(struct bf2_mount *m);

/* `blobmill-fuse mount ...` and `blobmill-fuse unmount ...`; argv[0] is
 * the subcommand. Return the exit status. */
int bf2_mount_main(const char *prog, int argc, char **argv);
int bf2_unmount_main(int argc, char **argv);

#endif
