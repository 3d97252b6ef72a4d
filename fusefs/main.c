/*
 * blobmill-fuse: mounts one blob container. Takes blobfuse v1's command
 * line (v1_cli.c) and blobfuse2's (`mount`, `unmount`: bf2_cli.c), and
 * `convert` prints either as the other (bf2_convert.c).
 *
 * A v1 mount point named "mount", "unmount" or "convert" in the current
 * directory is written "./mount".
 */
#include <string.h>

#include "bf2_cli.h"
#include "bf2_convert.h"
#include "bm_log.h"
#include "v1_cli.h"

int main(int argc, char **argv)
{
	bm_log_init(PROG, BM_LOG_WARNING, false);
	if (argc > 1 && !strcmp(argv[1], "mount"))
		return bf2_mount_main(argv[0], argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "unmount"))
		return bf2_unmount_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "convert"))
		return bf2_convert_main(argv[0], argc - 1, argv + 1);
	return v1_main(argc, argv);
}
