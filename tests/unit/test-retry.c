/*
 * test-retry: the retry policy. Which outcomes are retried, the backoff's
 * bounds and jitter, the Retry-After floor, the attempt and time budgets,
 * and Retry-After parsing (seconds and HTTP dates).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bm_retry.h"

static void test_defaults(void **state)
{
	struct bm_retry_policy p;

	bm_retry_policy_default(&p);
	assert_int_equal(p.max_retries, 5);
	assert_int_equal(p.base_delay_ms, 200);
	assert_int_equal(p.max_delay_ms, 30000);
	assert_int_equal(p.total_budget_ms, 120000);
}

static void test_retryable(void **state)
{
	static const long yes[] = {408, 429, 500, 502, 503, 504};
	static const long no[] = {200, 201, 206, 304, 400, 401, 403,
				  404, 409, 412, 413, 416, 501, 505};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(bm_retry_retryable(BM_TRANSPORT_OK, yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(bm_retry_retryable(BM_TRANSPORT_OK, no[i]));
	assert_true(bm_retry_retryable(BM_TRANSPORT_CONNECT, 0));
	assert_true(bm_retry_retryable(BM_TRANSPORT_RESET, 0));
	assert_true(bm_retry_retryable(BM_TRANSPORT_TIMEOUT, 0));
	assert_false(bm_retry_retryable(BM_TRANSPORT_TLS, 0));
	assert_false(bm_retry_retryable(BM_TRANSPORT_ABORTED, 0));
	/* A transport failure is judged as such whatever status came. */
	assert_true(bm_retry_retryable(BM_TRANSPORT_RESET, 200));
	assert_false(bm_retry_retryable(BM_TRANSPORT_ABORTED, 503));
}

static void test_backoff_bounds(void **state)
{
	struct bm_retry_policy p = {10, 100, 1000, 1000000};
	unsigned seed = 42;
	long ceiling, d;
	int attempt, k;

	for (attempt = 1; attempt <= 10; attempt++) {
		ceiling = 100L << (attempt - 1);
		if (ceiling > 1000)
			ceiling = 1000;
		for (k = 0; k < 200; k++) {
			d = bm_retry_delay_ms(&p, attempt, -1, 0, &seed);
			assert_in_range(d, 0, ceiling);
		}
	}
}

/* Full jitter spreads delays over the whole [0, ceiling] range. */
static void test_jitter_spreads(void **state)
{
	struct bm_retry_policy p = {5, 1000, 30000, 1000000};
	unsigned seed = 7;
	long lo = 1000000, hi = -1, d;
	int k;

	for (k = 0; k < 1000; k++) {
		d = bm_retry_delay_ms(&p, 1, -1, 0, &seed);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 100);
	assert_true(hi > 900);
}

static void test_seed_reproducible(void **state)
{
	struct bm_retry_policy p = {5, 200, 30000, 1000000};
	unsigned a = 1234, b = 1234, c = 999;
	long da[5], db[5], dc[5];
	int i, differ = 0;

	for (i = 0; i < 5; i++) {
		da[i] = bm_retry_delay_ms(&p, i + 1, -1, 0, &a);
		db[i] = bm_retry_delay_ms(&p, i + 1, -1, 0, &b);
		dc[i] = bm_retry_delay_ms(&p, i + 1, -1, 0, &c);
		assert_int_equal(da[i], db[i]);
		differ += da[i] != dc[i];
	}
	assert_true(differ > 0);
	/* A zero seed is valid too (xorshift's fixed point is avoided). */
	a = 0;
	assert_in_range(bm_retry_delay_ms(&p, 3, -1, 0, &a), 0, 800);
	assert_int_not_equal(a, 0);
}

static void test_max_retries(void **state)
{
	struct bm_retry_policy p = {3, 10, 100, 1000000};
	unsigned seed = 1;

	assert_true(bm_retry_delay_ms(&p, 3, -1, 0, &seed) >= 0);
	assert_int_equal(bm_retry_delay_ms(&p, 4, -1, 0, &seed), -1);
	assert_int_equal(bm_retry_delay_ms(&p, 0, -1, 0, &seed), -1);
	p.max_retries = 0;
	assert_int_equal(bm_retry_delay_ms(&p, 1, -1, 0, &seed), -1);
}

static void test_retry_after_floor(void **state)
{
	struct bm_retry_policy p = {5, 10, 100, 1000000};
	unsigned seed = 3;

	/* Above the cap: the service's word wins over max_delay_ms. */
	assert_int_equal(bm_retry_delay_ms(&p, 1, 5000, 0, &seed), 5000);
	/* Below the jittered delay: it is a floor, not a replacement. */
	assert_in_range(bm_retry_delay_ms(&p, 1, 0, 0, &seed), 0, 10);
}

static void test_total_budget(void **state)
{
	struct bm_retry_policy p = {5, 1000, 1000, 10000};
	unsigned seed = 5;

	assert_true(bm_retry_delay_ms(&p, 1, -1, 8000, &seed) >= 0);
	/* Any delay at all would pass the budget. */
	assert_int_equal(bm_retry_delay_ms(&p, 1, -1, 10001, &seed), -1);
	/* Retry-After of 5 s with 6 s used of 10 s: give up now rather
	 * than wait and then fail anyway. */
	assert_int_equal(bm_retry_delay_ms(&p, 1, 5000, 6000, &seed), -1);
	assert_int_equal(bm_retry_delay_ms(&p, 1, 4000, 6000, &seed), 4000);
}

static void test_retry_after_parse(void **state)
{
	const long now = 1435361952; /* Fri, 26 Jun 2015 23:39:12 GMT */

	assert_int_equal(bm_retry_after_ms("0", now), 0);
	assert_int_equal(bm_retry_after_ms("5", now), 5000);
	assert_int_equal(bm_retry_after_ms(" 12 ", now), 12000);
	assert_int_equal(
	    bm_retry_after_ms("Fri, 26 Jun 2015 23:39:42 GMT", now), 30000);
	/* A date in the past means now. */
	assert_int_equal(
	    bm_retry_after_ms("Fri, 26 Jun 2015 23:00:00 GMT", now), 0);
	assert_int_equal(bm_retry_after_ms(NULL, now), -1);
	assert_int_equal(bm_retry_after_ms("", now), -1);
	assert_int_equal(bm_retry_after_ms("soon", now), -1);
	assert_int_equal(bm_retry_after_ms("-3", now), -1);
	assert_int_equal(bm_retry_after_ms("5s", now), -1);
	assert_int_equal(bm_retry_after_ms("1.5", now), -1);
	assert_int_equal(bm_retry_after_ms("99999999999999999999", now), -1);
	assert_int_equal(
	    bm_retry_after_ms("Fri, 26 Jun 2015 99:39:42 GMT", now), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_retryable),
	    cmocka_unit_test(test_backoff_bounds),
	    cmocka_unit_test(test_jitter_spreads),
	    cmocka_unit_test(test_seed_reproducible),
	    cmocka_unit_test(test_max_retries),
	    cmocka_unit_test(test_retry_after_floor),
	    cmocka_unit_test(test_total_budget),
	    cmocka_unit_test(test_retry_after_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
