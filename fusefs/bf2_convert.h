/*
 * bf2_convert: `blobmill-fuse convert COMMAND-LINE` prints what a mount
 * command line and its config file mean in the other form, so a user sees
 * exactly what is used:
 *   convert MOUNTPOINT --tmp-path=DIR --config-file=v1.cfg [v1 options]
 *       prints a blobfuse2 YAML config (the mount command in a comment);
 *   convert mount MOUNTPOINT --config-file=FILE.yaml [blobfuse2 flags]
 *       prints a blobfuse v1 config file (the command line in a comment).
 * Every setting is written out, defaults included, because the two forms'
 * defaults differ (kernel timeouts 1 s in v1, 120 s in blobfuse2). Only
 * the file and the command line are converted, not the environment.
 * The output holds the file's credentials: write it to a file only you
 * can read.
 */
#ifndef BF2_CONVERT_H
#define BF2_CONVERT_H

/* argv[0] is "convert". Returns the exit status. */
int bf2_convert_main(const char *prog, int argc, char **argv);

#endif
