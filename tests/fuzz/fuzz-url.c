/*
 * fuzz-url: the percent-encoder and decoder (bm_url) on arbitrary bytes.
 * Checks: encoded text holds only unreserved characters, '%XX' escapes
 * (and '/' in paths); decoding an encoding gives the input back byte for
 * byte; decoding arbitrary text never grows it; a blob URL is built for
 * any name.
 */
#include <ctype.h>

#include "bm_url.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int url_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Aborts unless every byte of enc is allowed (slash_ok: '/' too). */
static void url_check_encoded(const char *enc, int slash_ok)
{
	for (const unsigned char *p = (const unsigned char *)enc; *p; p++) {
		if (url_unreserved(*p) || (slash_ok && *p == '/'))
			continue;
		if (*p != '%' || !isxdigit(p[1]) || !isxdigit(p[2]))
			abort();
		p += 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size); /* stops at the first NUL */
	char *path = bm_url_encode_path(s);
	char *comp = bm_url_encode_component(s);
	char *back, *dec, *url;

	if (!path || !comp)
		abort();
	url_check_encoded(path, 1);
	url_check_encoded(comp, 0);
	back = bm_url_decode(path);
	if (!back || strcmp(back, s) != 0)
		abort();
	free(back);
	back = bm_url_decode(comp);
	if (!back || strcmp(back, s) != 0)
		abort();
	free(back);
	dec = bm_url_decode(s);
	if (dec && strlen(dec) > strlen(s))
		abort();
	free(dec);
	url = bm_blob_url("http://127.0.0.1:10000/devstoreaccount1", "cont", s,
			  "comp=list");
	if (!url)
		abort();
	if (*s && !strstr(url, path))
		abort();
	free(url);
	free(path);
	free(comp);
	free(s);
	return 0;
}
