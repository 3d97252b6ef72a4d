/*
 * test-url: percent-encoding of every byte, the names the integration list
 * names (unicode, %, #, ?, +, &, quotes, spaces, $(), a leading '-', 1,024
 * characters), decoding and its round trip, and bm_blob_url.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bm_url.h"

static int unreserved(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* Every byte 1..255, alone: kept or %XX with uppercase hex. */
static void test_every_byte(void **state)
{
	char in[2] = {0, 0}, want[4];
	char *path, *comp, *dec;
	int c;

	(void)state;
	for (c = 1; c < 256; c++) {
		in[0] = (char)c;
		path = bm_url_encode_path(in);
		comp = bm_url_encode_component(in);
		assert_non_null(path);
		assert_non_null(comp);
		if (c == '.') {
			/* "." alone is a dot segment in a path. */
			assert_string_equal(path, "%2E");
			assert_string_equal(comp, in);
		} else if (unreserved(c)) {
			assert_string_equal(path, in);
			assert_string_equal(comp, in);
		} else {
			snprintf(want, sizeof(want), "%%%02X", c);
			assert_string_equal(comp, want);
			assert_string_equal(path, c == '/' ? "/" : want);
		}
		dec = bm_url_decode(comp);
		assert_non_null(dec);
		assert_string_equal(dec, in);
		free(dec);
		free(path);
		free(comp);
	}
}

struct pair {
	const char *in, *path, *comp;
};

static void test_names(void **state)
{
	static const struct pair cases[] = {
	    {"a b", "a%20b", "a%20b"},
	    {"dir/sub/file.txt", "dir/sub/file.txt", "dir%2Fsub%2Ffile.txt"},
	    {"100%", "100%25", "100%25"},
	    {"a#b?c", "a%23b%3Fc", "a%23b%3Fc"},
	    {"a+b&c=d", "a%2Bb%26c%3Dd", "a%2Bb%26c%3Dd"},
	    {"it's \"q\"", "it%27s%20%22q%22", "it%27s%20%22q%22"},
	    {"$(rm -rf /)", "%24%28rm%20-rf%20/%29", "%24%28rm%20-rf%20%2F%29"},
	    {"-leading", "-leading", "-leading"},
	    {"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	     "%C3%A9t%C3%A9%20%E2%82%AC%20%F0%9F%98%80",
	     "%C3%A9t%C3%A9%20%E2%82%AC%20%F0%9F%98%80"},
	    {"new\nline\ttab", "new%0Aline%09tab", "new%0Aline%09tab"},
	    {"back\\slash", "back%5Cslash", "back%5Cslash"},
	    {"~_.-", "~_.-", "~_.-"},
	    /* Dot segments would be removed by libcurl: encoded in paths. */
	    {"a/../b", "a/%2E%2E/b", "a%2F..%2Fb"},
	    {"./x/.", "%2E/x/%2E", ".%2Fx%2F."},
	    {"..", "%2E%2E", ".."},
	    {"a/.../b/.c/d./..e", "a/.../b/.c/d./..e",
	     "a%2F...%2Fb%2F.c%2Fd.%2F..e"},
	    {"", "", ""},
	};
	size_t i;
	char *p, *c;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = bm_url_encode_path(cases[i].in);
		c = bm_url_encode_component(cases[i].in);
		assert_string_equal(p, cases[i].path);
		assert_string_equal(c, cases[i].comp);
		free(p);
		free(c);
	}
}

/* A 1,024-character name of every printable ASCII character round-trips. */
static void test_long_name_round_trip(void **state)
{
	char name[1025], *enc, *dec;
	size_t i;

	(void)state;
	for (i = 0; i < 1024; i++)
		name[i] = (char)(' ' + i % 95);
	name[1024] = '\0';
	enc = bm_url_encode_path(name);
	assert_non_null(enc);
	assert_null(strpbrk(enc, " #?&+\"'"));
	dec = bm_url_decode(enc);
	assert_non_null(dec);
	assert_int_equal(strlen(dec), 1024);
	assert_string_equal(dec, name);
	free(dec);
	free(enc);

	enc = bm_url_encode_component(name);
	dec = bm_url_decode(enc);
	assert_string_equal(dec, name);
	free(dec);
	free(enc);
}

/* NULL: decoding must fail (a broken escape, or a NUL byte). */
static void test_decode(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"a%2fb%2Fc+d%20e", "a/b/c+d e"},
	    {"", ""},
	    {"%", NULL},
	    {"%4", NULL},
	    {"abc%zz", NULL},
	    {"%G0", NULL},
	    {"%00", NULL},
	};
	size_t i;
	char *d;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = bm_url_decode(cases[i].in);
		if (cases[i].want)
			assert_string_equal(d, cases[i].want);
		else
			assert_null(d);
		free(d);
	}
}

static void test_blob_url(void **state)
{
	static const struct {
		const char *endpoint, *container, *name, *query, *want;
	} cases[] = {
	    {"https://acct.blob.core.windows.net", "data-in", "dir/a b#1.txt",
	     NULL,
	     "https://acct.blob.core.windows.net/data-in/dir/a%20b%231.txt"},
	    {"http://127.0.0.1:10000/devstoreaccount1/", "data-in", NULL,
	     "restype=container&comp=list",
	     "http://127.0.0.1:10000/devstoreaccount1/"
	     "data-in?restype=container&comp=list"},
	    {"http://h/acct", "$root", "x?y", "comp=block",
	     "http://h/acct/$root/x%3Fy?comp=block"},
	    {"http://h/acct", NULL, NULL, "comp=list",
	     "http://h/acct/?comp=list"},
	    {"http://h/acct", "c", "", "", "http://h/acct/c"},
	};
	size_t i;
	char *u;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		u = bm_blob_url(cases[i].endpoint, cases[i].container,
				cases[i].name, cases[i].query);
		assert_string_equal(u, cases[i].want);
		free(u);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_byte),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_long_name_round_trip),
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_blob_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
