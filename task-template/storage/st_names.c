/*
 * st_names: the rules that map blob names to local paths and back, for
 * put -r / get -r and cp-style destinations. Pure functions, no I/O, so
 * the unit tests pin every rule down.
 *
 * A blob name is any UTF-8 string of 1 to 1,024 characters; a local path
 * component is any bytes but '/' and NUL, at most NAME_MAX bytes, never
 * "." or "..". Names that hold spaces, quotes, "$()" or newlines are fine
 * both ways. What does not map is refused by name, never altered: a blob
 * "a/../b" is not written to "b", a file whose name is not UTF-8 is not
 * uploaded under a mangled name.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

long st_utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;

	while (*p) {
		int more;
		unsigned cp;

		if (*p < 0x80) {
			p++;
			n++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			more = 1;
			cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			more = 2;
			cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			more = 3;
			cp = *p & 0x07;
		} else {
			return -1;
		}
		p++;
		for (; more > 0; more--, p++) {
			if ((*p & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (*p & 0x3f);
		}
		/* Overlong forms, surrogates and beyond U+10FFFF are not
		 * UTF-8 either. */
		if (cp < 0x80 || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp > 0x10ffff)
			return -1;
		n++;
	}
	return n;
}

const char *st_local_problem(const char *rel)
{
	const char *p = rel;

	if (!*rel)
		return "it names the folder itself";
	for (;;) {
		size_t len = strcspn(p, "/");

		if (len == 0)
			return "it holds an empty path component ('//' or a "
			       "leading '/')";
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return "it holds a '.' or '..' path component";
		if (len > NAME_MAX)
			return "a path component is longer than a local file "
			       "name can be (255 bytes)";
		if (!p[len])
			return NULL;
		p += len + 1;
		if (!*p)
			return NULL; /* "dir/": a folder */
	}
}

const char *st_blob_problem(const char *prefix, const char *rel)
{
	long a = st_utf8_chars(prefix), b = st_utf8_chars(rel);

	if (b < 0)
		return "its name is not UTF-8, which blob names must be";
	if (a < 0)
		return "the prefix is not UTF-8";
	if (a + b > ST_BLOB_NAME_MAX)
		return "the blob name would be longer than 1,024 characters";
	return NULL;
}

char *st_folder_prefix(const char *prefix)
{
	size_t n = strlen(prefix);
	char *out = malloc(n + 2);

	if (!out)
		return NULL;
	memcpy(out, prefix, n);
	if (n && prefix[n - 1] != '/')
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

const char *st_basename(const char *name)
{
	const char *slash = strrchr(name, '/');

	return slash ? slash + 1 : name;
}
