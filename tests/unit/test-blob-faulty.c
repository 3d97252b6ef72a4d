/*
 * test-blob-faulty: the fault-injecting client over the in-memory one.
 * Rate 0 changes nothing, rate 1 fails every call with a retryable-looking
 * category and no effect on the store (but a conditional write, whose
 * response may be lost after it took effect), a seed gives the same
 * failures every time, and about `rate` of the calls fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bm_blob.h"

static int discard(const void *data, size_t len, void *ud)
{
	return 0;
}

static int count_entry(const struct bm_blob_entry *e, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

static struct bm_blob_client *faulty_over_memory(unsigned seed, double rate)
{
	struct bm_blob_client *mem = bm_blob_client_new_memory(), *f;
	struct bm_error err;

	assert_non_null(mem);
	bm_error_clear(&err);
	assert_int_equal(mem->ops->create_container(mem, "data", &err), 0);
	f = bm_blob_client_new_faulty(mem, seed, rate);
	assert_non_null(f);
	return f;
}

static void test_rate_zero_delegates(void **state)
{
	struct bm_blob_client *c = faulty_over_memory(1, 0.0);
	struct bm_body body = {"abc", 0, 0, 3};
	struct bm_blob_info info;
	struct bm_list_opts lo;
	struct bm_error err;
	int n = 0, i;

	bm_error_clear(&err);
	for (i = 0; i < 50; i++)
		assert_int_equal(
		    c->ops->put(c, "data", "x", &body, NULL, NULL, &err), 0);
	assert_int_equal(c->ops->head(c, "data", "x", &info, &err), 0);
	assert_int_equal(info.size, 3);
	memset(&lo, 0, sizeof(lo));
	assert_int_equal(
	    bm_blob_list_all(c, "data", &lo, count_entry, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c->ops->copy(c, "data", "x", "y", &err), 0);
	assert_int_equal(c->ops->remove(c, "data", "x", &err), 0);
	assert_int_equal(
	    c->ops->get(c, "data", "y", NULL, discard, NULL, NULL, &err), 0);
	assert_int_equal(c->ops->check_container(c, "data", &err), 0);
	bm_blob_client_free(c);
}

static void test_rate_one_fails_without_effect(void **state)
{
	struct bm_blob_client *c = faulty_over_memory(2, 1.0);
	struct bm_body body = {"abc", 0, 0, 3};
	struct bm_http_stats st;
	struct bm_error err;
	char *marker = (char *)"untouched";
	struct bm_list_opts lo;
	int i;

	for (i = 0; i < 30; i++) {
		bm_error_clear(&err);
		assert_int_equal(
		    c->ops->put(c, "data", "x", &body, NULL, NULL, &err), -1);
		assert_true(err.code == BM_ERR_SERVER ||
			    err.code == BM_ERR_NETWORK ||
			    err.code == BM_ERR_TIMEOUT);
		assert_non_null(strstr(err.msg, "injected fault in put"));
	}
	bm_error_clear(&err);
	memset(&lo, 0, sizeof(lo));
	assert_int_equal(
	    c->ops->list_page(c, "data", &lo, count_entry, &i, &marker, &err),
	    -1);
	assert_null(marker);
	/* Nothing reached the store: the inner client saw no call. */
	c->ops->get_stats(c, &st);
	assert_int_equal(st.requests[BM_OP_PUT], 0);
	assert_int_equal(st.requests[BM_OP_LIST], 0);
	bm_blob_client_free(c);
}

/* Which calls fail depends on the seed only; about `rate` of them do. */
static void test_seeded_rate(void **state)
{
	struct bm_blob_client *a = faulty_over_memory(42, 0.3);
	struct bm_blob_client *b = faulty_over_memory(42, 0.3);
	struct bm_blob_client *c = faulty_over_memory(43, 0.3);
	struct bm_blob_info info;
	struct bm_error err;
	int i, fa = 0, differ = 0;

	for (i = 0; i < 1000; i++) {
		int ra, rb, rc;

		bm_error_clear(&err);
		ra = a->ops->check_container(a, "data", &err);
		bm_error_clear(&err);
		rb = b->ops->check_container(b, "data", &err);
		bm_error_clear(&err);
		rc = c->ops->check_container(c, "data", &err);
		assert_int_equal(ra, rb);
		fa += ra < 0;
		differ += ra != rc;
	}
	assert_in_range(fa, 230, 370);
	assert_true(differ > 0);
	/* A call that is not injected returns the inner client's result. */
	for (i = 0; i < 20; i++) {
		bm_error_clear(&err);
		if (a->ops->head(a, "data", "absent", &info, &err) < 0 &&
		    err.code == BM_ERR_NOT_FOUND)
			break;
	}
	assert_true(i < 20);
	bm_blob_client_free(a);
	bm_blob_client_free(b);
	bm_blob_client_free(c);
}

/* Conditional writes, which bm_http does not retry: a reset or timeout
 * sometimes comes after the write took effect, as on the network. */
static void test_conditional_write_lost_response(void **state)
{
	struct bm_blob_client *c = faulty_over_memory(3, 1.0);
	struct bm_body body = {"abc", 0, 0, 3};
	struct bm_put_opts po = {0};
	struct bm_http_stats st;
	struct bm_error err;
	int i, lost = 0;

	(void)state;
	po.if_none_match_any = true;
	for (i = 0; i < 60; i++) {
		bm_error_clear(&err);
		assert_int_equal(
		    c->ops->put(c, "data", "x", &body, &po, NULL, &err), -1);
		assert_non_null(strstr(err.msg, "injected fault in put"));
	}
	c->ops->get_stats(c, &st);
	lost = (int)st.requests[BM_OP_PUT];
	/* Only resets and timeouts (2 in 3), one in two of them. */
	assert_in_range(lost, 8, 32);
	bm_blob_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_zero_delegates),
	    cmocka_unit_test(test_rate_one_fails_without_effect),
	    cmocka_unit_test(test_seeded_rate),
	    cmocka_unit_test(test_conditional_write_lost_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
