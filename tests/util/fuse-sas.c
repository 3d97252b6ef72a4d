/*
 * fuse-sas: prints a service SAS for a container, for the blobmill-fuse
 * tests that need credentials with fewer permissions (a mount that can
 * read but not write). Usage: fuse-sas CONTAINER PERMISSIONS; the account
 * and key come from AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_ACCESS_KEY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bm_auth.h"

int main(int argc, char **argv)
{
	const char *account = getenv("AZURE_STORAGE_ACCOUNT");
	const char *key64 = getenv("AZURE_STORAGE_ACCESS_KEY");
	struct bm_error err = {0};
	unsigned char *key = NULL;
	size_t key_len = 0;
	char *sas;

	if (argc != 3 || !account || !key64) {
		fprintf(stderr,
			"usage: fuse-sas CONTAINER PERMISSIONS (with "
			"AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_ACCESS_KEY)\n");
		return 2;
	}
	if (bm_base64_decode(key64, &key, &key_len) != 0) {
		fprintf(stderr,
			"fuse-sas: AZURE_STORAGE_ACCESS_KEY is not base64\n");
		return 2;
	}
	sas = bm_auth_service_sas(account, key, key_len, argv[1], NULL, argv[2],
				  time(NULL) + 3600, &err);
	free(key);
	if (!sas) {
		fprintf(stderr, "fuse-sas: %s\n", err.msg);
		return 1;
	}
	printf("%s\n", sas);
	free(sas);
	return 0;
}
