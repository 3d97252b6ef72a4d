/*
 * fuzz-connstr: the connection-string parser
 * (bm_config_parse_connection_string) and bm_config_finish on arbitrary
 * text. Checks: a failure sets a one-line error that never contains the
 * AccountKey or SharedAccessSignature given.
 */
#include "bm_config.h"
#include "bm_log.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bm_log_init("fuzz-connstr", BM_LOG_OFF, false);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cs = fuzz_cstr(data, size);
	struct bm_config cfg;
	struct bm_error err;
	int rc;

	bm_config_init(&cfg);
	bm_error_clear(&err);
	rc = bm_config_parse_connection_string(&cfg, cs, &err);
	fuzz_finish_config(&cfg, rc, &err, data, size);
	free(cs);
	return 0;
}
