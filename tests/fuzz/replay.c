/*
 * replay: runs a fuzz target's LLVMFuzzerTestOneInput over files and
 * directories of inputs, without libFuzzer, so the seed corpora and every
 * crash reproducer run in `make check` (and under the ASan pass) with any
 * compiler. Usage: fuzz-TARGET-replay PATH...; prints how many inputs ran.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Returns the number of inputs run, -1 on an unreadable path. */
static int replay_path(const char *path)
{
	struct stat st;
	int n = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		struct dirent **ents;
		int k = scandir(path, &ents, NULL, alphasort);

		if (k < 0) {
			fprintf(stderr, "replay: cannot list '%s'\n", path);
			return -1;
		}
		for (int i = 0; i < k; i++) {
			char sub[4096];
			int r = 0;

			if (ents[i]->d_name[0] != '.') {
				snprintf(sub, sizeof(sub), "%s/%s", path,
					 ents[i]->d_name);
				r = replay_path(sub);
			}
			free(ents[i]);
			if (r < 0 || n < 0)
				n = -1;
			else
				n += r;
		}
		free(ents);
		return n;
	}

	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	size_t len;

	if (!f || !buf) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		if (f)
			fclose(f);
		free(buf);
		return -1;
	}
	len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 1;
}

int main(int argc, char **argv)
{
	int total = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		int n = replay_path(argv[i]);

		if (n < 0)
			return 1;
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("replay: %d inputs ran without a crash\n", total);
	return 0;
}
