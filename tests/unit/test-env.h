/*
 * test-env.h: what the credential tests share: Azurite's well-known key and
 * a cmocka setup that clears every variable the configuration reads
 * (AZURE_STORAGE_*, the Azure SDK's, the managed identity endpoints), so no
 * test sees the caller's environment.
 */
#ifndef BM_TEST_ENV_H
#define BM_TEST_ENV_H

#include <stdlib.h>

#define DEV_KEY                                                                \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZ"  \
	"FPTOtr/KBHBeksoGMGw=="

static inline int clear_env(void **state)
{
	static const char *const names[] = {
	    "AZURE_STORAGE_ACCOUNT",
	    "AZURE_STORAGE_ACCESS_KEY",
	    "AZURE_STORAGE_SAS_TOKEN",
	    "AZURE_STORAGE_BLOB_ENDPOINT",
	    "AZURE_STORAGE_CONNECTION_STRING",
	    "AZURE_STORAGE_KEY",
	    "AZURE_STORAGE_AUTH_TYPE",
	    "AZURE_STORAGE_IDENTITY_CLIENT_ID",
	    "AZURE_STORAGE_IDENTITY_OBJECT_ID",
	    "AZURE_STORAGE_IDENTITY_RESOURCE_ID",
	    "AZURE_STORAGE_SPN_TENANT_ID",
	    "AZURE_STORAGE_SPN_CLIENT_ID",
	    "AZURE_STORAGE_SPN_CLIENT_SECRET",
	    "AZURE_STORAGE_AAD_ENDPOINT",
	    "AZURE_CLIENT_ID",
	    "AZURE_TENANT_ID",
	    "AZURE_CLIENT_SECRET",
	    "AZURE_CLIENT_CERTIFICATE_PATH",
	    "AZURE_FEDERATED_TOKEN_FILE",
	    "AZURE_AUTHORITY_HOST",
	    "IDENTITY_ENDPOINT",
	    "IDENTITY_HEADER",
	    "MSI_ENDPOINT",
	    "MSI_SECRET",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
	return 0;
}

#endif
