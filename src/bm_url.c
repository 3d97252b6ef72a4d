/*
 * bm_url: percent-encoding of blob names and query values, and blob URLs
 * (see bm_url.h). Byte-oriented: a name is encoded as its UTF-8 bytes, so
 * any name round-trips whatever characters it holds. No normalisation
 * (Azure compares names byte for byte, and so do we).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_url.h"

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/*
 * Whether the '.' at p belongs to a path segment that is "." or ".."
 * (start is the beginning of the whole path). Such segments are encoded:
 * libcurl and proxies remove dot segments from a URL, which would send
 * "a/../b" to blob "b".
 */
static bool in_dot_segment(const char *start, const char *p)
{
	const char *seg = p, *end = p;

	while (seg > start && seg[-1] != '/')
		seg--;
	while (*end && *end != '/')
		end++;
	return (end - seg == 1 && seg[0] == '.') ||
	       (end - seg == 2 && seg[0] == '.' && seg[1] == '.');
}

/* keep: reserved characters left as they are ("/" in paths). */
static bool keep_byte(const char *s, const unsigned char *p, const char *keep)
{
	if (*p == '.' && strchr(keep, '/'))
		return !in_dot_segment(s, (const char *)p);
	return is_unreserved(*p) || strchr(keep, *p);
}

static char *encode(const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	size_t n = 0;
	char *out, *q;

	for (p = (const unsigned char *)s; *p; p++)
		n += keep_byte(s, p, keep) ? 1 : 3;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	for (p = (const unsigned char *)s, q = out; *p; p++) {
		if (keep_byte(s, p, keep)) {
			*q++ = (char)*p;
		} else {
			*q++ = '%';
			*q++ = hex[*p >> 4];
			*q++ = hex[*p & 15];
		}
	}
	*q = '\0';
	return out;
}

char *bm_url_encode_path(const char *name)
{
	return encode(name, "/");
}

char *bm_url_encode_component(const char *value)
{
	return encode(value, "");
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "%00" is refused too: the result is a C string and a NUL would cut it. */
char *bm_url_decode(const char *s)
{
	char *out = malloc(strlen(s) + 1), *q = out;
	int hi, lo;

	if (!out)
		return NULL;
	while (*s) {
		if (*s != '%') {
			*q++ = *s++;
			continue;
		}
		hi = hex_val(s[1]);
		lo = hi < 0 ? -1 : hex_val(s[2]);
		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*q++ = (char)(hi << 4 | lo);
		s += 3;
	}
	*q = '\0';
	return out;
}

/* Without a container, the account-level URL ENDPOINT/ (List Containers). */
char *bm_blob_url(const char *endpoint, const char *container, const char *name,
		  const char *query)
{
	char *enc_container = NULL, *enc_name = NULL, *url = NULL;
	size_t elen = strlen(endpoint);

	while (elen > 0 && endpoint[elen - 1] == '/')
		elen--;
	if (container) {
		/* '$' stays: "$root", "$logs" and "$web" are sent as is. */
		enc_container = encode(container, "$");
		if (!enc_container)
			goto out;
	}
	if (name && *name) {
		enc_name = bm_url_encode_path(name);
		if (!enc_name)
			goto out;
	}
	if (asprintf(&url, "%.*s/%s%s%s%s%s", (int)elen, endpoint,
		     enc_container ? enc_container : "", enc_name ? "/" : "",
		     enc_name ? enc_name : "", query && *query ? "?" : "",
		     query ? query : "") < 0)
		url = NULL;
out:
	free(enc_container);
	free(enc_name);
	return url;
}
