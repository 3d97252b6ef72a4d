/*
 * fuzz.h: what every libFuzzer target in tests/fuzz/ shares: the contract
 * checks on a failed call (an error is set, its message is one line), a
 * secret-leak check, and a NUL-terminated copy of the input. Targets abort()
 * on a broken contract so libFuzzer records the input as a crash.
 */
#ifndef BM_FUZZ_H
#define BM_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bm_config.h"
#include "bm_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A failed call must say why, in one line (STYLE.md, "Errors"). */
static inline void fuzz_check_error(int rc, const struct bm_error *err)
{
	if (rc == 0)
		return;
	if (err->code == BM_OK || err->msg[0] == '\0')
		abort();
	if (strchr(err->msg, '\n') ||
	    strnlen(err->msg, sizeof(err->msg)) == sizeof(err->msg))
		abort();
}

/* Occurrences of needle in haystack[0..len). */
static inline size_t fuzz_count(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	const char *p = hay, *end = hay + len;

	if (nl == 0)
		return 0;
	while ((p = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* A secret that appears once in the input must not appear in a message.
 * Short secrets are skipped: they match by chance. */
static inline void fuzz_check_secret(const char *secret, const uint8_t *data,
				     size_t size, const char *msg)
{
	if (!secret || strlen(secret) < 12)
		return;
	if (fuzz_count((const char *)data, size, secret) != 1)
		return;
	if (strstr(msg, secret))
		abort();
}

/* After a config source was parsed into cfg with result rc: validates
 * (bm_config_finish) when parsing succeeded, checks the error contract,
 * checks that no secret from the input reached the message, releases cfg. */
static inline void fuzz_finish_config(struct bm_config *cfg, int rc,
				      struct bm_error *err, const uint8_t *data,
				      size_t size)
{
	fuzz_check_error(rc, err);
	if (rc == 0) {
		rc = bm_config_finish(cfg, false, err);
		fuzz_check_error(rc, err);
	}
	if (rc != 0) {
		fuzz_check_secret(cfg->account_key, data, size, err->msg);
		fuzz_check_secret(cfg->sas_token, data, size, err->msg);
	}
	bm_config_release(cfg);
}

/* malloc()ed copy of data with a NUL appended; the caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
