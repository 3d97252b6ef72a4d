/*
 * fuzz-config: the blobfuse config-file grammar (bm_config_parse_buffer)
 * and then the validation (bm_config_finish) on arbitrary bytes. Checks:
 * a failure sets a one-line error, and the account key or SAS token given
 * in the input never appears in that error.
 */
#include "bm_config.h"
#include "bm_log.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bm_log_init("fuzz-config", BM_LOG_OFF, false);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bm_config cfg;
	struct bm_error err;
	int rc;

	bm_config_init(&cfg);
	bm_error_clear(&err);
	rc = bm_config_parse_buffer(&cfg, (const char *)data, size, "fuzz.cfg",
				    &err);
	fuzz_finish_config(&cfg, rc, &err, data, size);
	return 0;
}
