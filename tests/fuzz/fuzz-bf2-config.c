/*
 * fuzz-bf2-config: blobfuse2's YAML config (fusefs/bf2_config.c, on
 * libyaml) on arbitrary bytes. Checks: a failure sets a one-line error;
 * an account key, SAS or client secret given in the input never appears in
 * that error; what was read is released (ASan/LSan in the replay).
 */
#include "bf2_config.h"
#include "bm_log.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bm_log_init("fuzz-bf2-config", BM_LOG_OFF, false);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf2_config c;
	struct bm_error err;
	int rc;

	bf2_config_init(&c);
	bm_error_clear(&err);
	rc = bf2_config_parse_buffer(&c, (const char *)data, size, "fuzz.yaml",
				     &err);
	fuzz_check_error(rc, &err);
	if (rc != 0) {
		fuzz_check_secret(c.account_key.v, data, size, err.msg);
		fuzz_check_secret(c.sas.v, data, size, err.msg);
		fuzz_check_secret(c.clientsecret.v, data, size, err.msg);
	}
	bf2_config_release(&c);
	return 0;
}
