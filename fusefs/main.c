/*
 * blobmill-fuse: mounts one blob container. Takes blobfuse v1's command
 * line (v1_cli.c) and blobfuse2's (`mount`, `unmount`: bf2_cli.c), and
 * `convert` prints one as the other (bf2_convert.c).
 */
#include <string.h>

#include "bm_log.h"
#include "v1_cli.h"

int main(int argc, char **argv)
{
	bm_log_init(PROG, BM_LOG_WARNING, false);
	return v1_main(argc, argv);
}
