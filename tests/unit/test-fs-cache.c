/*
 * test-fs-cache: the attribute/negative/listing cache of blobmill-fuse:
 * expiry at the given times, negative entries, listings and their edits,
 * forgetting subtrees, and the sweep of expired nodes as the table grows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bmfs.h"
#include "bmfs_cache.h"

static void test_expiry(void **state)
{
	struct bmfs_cache *c = bmfs_cache_new();
	struct bmfs_attr a = {.kind = BMFS_FILE, .size = 42}, out;

	(void)state;
	assert_int_equal(bmfs_cache_put(c, "a/b", &a, 10.0), 0);
	assert_int_equal(bmfs_cache_get(c, "a/b", 9.9, &out), 1);
	assert_int_equal(out.kind, BMFS_FILE);
	assert_int_equal(out.size, 42);
	assert_null(out.blob);
	assert_int_equal(bmfs_cache_get(c, "a/b", 10.0, &out), 0);
	assert_int_equal(bmfs_cache_get(c, "a", 1.0, &out), 0);
	bmfs_cache_free(c);
}

static void test_negative_and_blob_copy(void **state)
{
	struct bmfs_cache *c = bmfs_cache_new();
	struct bmfs_attr a = {.kind = BMFS_ABSENT}, out;
	char blob[] = "x";

	(void)state;
	assert_int_equal(bmfs_cache_put(c, "gone", &a, 5.0), 0);
	assert_int_equal(bmfs_cache_get(c, "gone", 1.0, &out), 1);
	assert_int_equal(out.kind, BMFS_ABSENT);
	a.kind = BMFS_FILE;
	a.blob = blob;
	assert_int_equal(bmfs_cache_put(c, "x" BMFS_SHADOW_SUFFIX, &a, 5.0), 0);
	blob[0] = 'y'; /* the cache keeps its own copy */
	assert_int_equal(bmfs_cache_get(c, "x" BMFS_SHADOW_SUFFIX, 1.0, &out),
			 1);
	assert_string_equal(out.blob, "x");
	bmfs_cache_forget(c, "gone");
	assert_int_equal(bmfs_cache_get(c, "gone", 1.0, &out), 0);
	bmfs_cache_free(c);
}

struct seen {
	char names[8][32];
	int n;
};

static int collect(void *ud, const char *child, enum bmfs_kind kind,
		   uint64_t size, time_t mtime)
{
	struct seen *s = ud;

	(void)kind;
	(void)size;
	(void)mtime;
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", child);
	return 0;
}

static void test_listing(void **state)
{
	struct bmfs_cache *c = bmfs_cache_new();
	struct bmfs_listing *l = bmfs_listing_new();
	struct seen s = {0};
	bool present;

	(void)state;
	assert_false(bmfs_cache_listing_has(c, "d", "f", 0.0, &present));
	assert_int_equal(bmfs_listing_add(l, "f", BMFS_FILE, 3, 0), 0);
	assert_int_equal(bmfs_listing_add(l, "sub", BMFS_DIR, 0, 0), 0);
	bmfs_cache_set_listing(c, "d", l, 10.0);
	assert_true(bmfs_cache_listing_has(c, "d", "f", 1.0, &present));
	assert_true(present);
	assert_true(bmfs_cache_listing_has(c, "d", "nope", 1.0, &present));
	assert_false(present);
	/* Expired: no answer at all, not a negative one. */
	assert_false(bmfs_cache_listing_has(c, "d", "nope", 10.0, &present));

	assert_int_equal(bmfs_cache_listing_add(c, "d", "new", BMFS_FILE), 0);
	bmfs_cache_listing_remove(c, "d", "f");
	assert_int_equal(bmfs_cache_listing_each(c, "d", 1.0, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "new");
	assert_string_equal(s.names[1], "sub");
	assert_int_equal(bmfs_cache_listing_each(c, "d", 11.0, collect, &s),
			 -1);
	bmfs_cache_listing_drop(c, "d");
	assert_false(bmfs_cache_listing_has(c, "d", "sub", 1.0, &present));
	/* Adding to a directory without a listing creates none. */
	assert_int_equal(bmfs_cache_listing_add(c, "e", "x", BMFS_FILE), 0);
	assert_false(bmfs_cache_listing_has(c, "e", "x", 1.0, &present));
	bmfs_cache_free(c);
}

static void test_forget_prefix(void **state)
{
	struct bmfs_cache *c = bmfs_cache_new();
	struct bmfs_attr a = {.kind = BMFS_FILE}, out;

	(void)state;
	assert_int_equal(bmfs_cache_put(c, "d/a", &a, 9.0), 0);
	assert_int_equal(bmfs_cache_put(c, "d/b/c", &a, 9.0), 0);
	assert_int_equal(bmfs_cache_put(c, "e", &a, 9.0), 0);
	bmfs_cache_forget_prefix(c, "d/");
	assert_int_equal(bmfs_cache_get(c, "d/a", 1.0, &out), 0);
	assert_int_equal(bmfs_cache_get(c, "d/b/c", 1.0, &out), 0);
	assert_int_equal(bmfs_cache_get(c, "e", 1.0, &out), 1);
	bmfs_cache_free(c);
}

static void test_grow_and_sweep(void **state)
{
	struct bmfs_cache *c = bmfs_cache_new();
	struct bmfs_attr a = {.kind = BMFS_FILE}, out;
	char name[32];
	int i;

	(void)state;
	/* 5000 entries that expire at 1.0, seen at time 2.0 ... */
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "old%d", i);
		assert_int_equal(bmfs_cache_put(c, name, &a, 1.0), 0);
	}
	assert_int_equal(bmfs_cache_get(c, "old1", 2.0, &out), 0);
	/* ... are swept while 5000 live ones go in. */
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		assert_int_equal(bmfs_cache_put(c, name, &a, 100.0), 0);
	}
	assert_true(bmfs_cache_count(c) < 10000);
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "new%d", i);
		assert_int_equal(bmfs_cache_get(c, name, 3.0, &out), 1);
	}
	bmfs_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_negative_and_blob_copy),
	    cmocka_unit_test(test_listing),
	    cmocka_unit_test(test_forget_prefix),
	    cmocka_unit_test(test_grow_and_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
