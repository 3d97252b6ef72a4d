/*
 * Unit tests of libtasktemplate's streaming iterator and --skip-existing
 * (against the in-memory blob client), and the memory bound of generating
 * tasks for 100,000 blobs.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "tasktemplate.h"
#include "tt-test-util.h"

/* ------------------------------------------------------------------ */
/* Iterator and --skip-existing (in-memory client)                     */
/* ------------------------------------------------------------------ */

/* After the last tt_iter_next: the stream ended without an error after
 * `want` tasks; *st gets the iterator's counts. */
static void expect_drained(struct tt_iter *it, const struct bm_error *err,
			   size_t n, size_t want, struct tt_iter_stats *st)
{
	assert_int_equal(err->code, BM_OK);
	assert_int_equal(n, want);
	tt_iter_stats(it, st);
}

static void put_blob(struct bm_blob_client *c, const char *container,
		     const char *name, bool dir_marker)
{
	static const struct bm_metadata folder = {"hdi_isfolder", "true"};
	struct bm_put_opts po = {0};
	struct bm_body body = {.buf = "x", .fd = -1, .len = 1};
	struct bm_error err;

	if (dir_marker) {
		po.metadata = &folder;
		po.nmetadata = 1;
		body.len = 0;
	}
	bm_error_clear(&err);
	assert_int_equal(
	    c->ops->put(c, container, name, &body, &po, NULL, &err), 0);
}

/* How many tasks the iterator yields over spec, with no error. */
static size_t count_tasks(struct bm_blob_client *c, const struct tt_spec *spec)
{
	const struct task *t;
	struct tt_iter *it;
	struct bm_error err;
	size_t n = 0;

	bm_error_clear(&err);
	assert_int_equal(tt_iter_open(c, spec, NULL, 0, &it, &err), 0);
	while (tt_iter_next(it, &t, &err) == 1)
		n++;
	assert_int_equal(err.code, BM_OK);
	tt_iter_free(it);
	return n;
}

struct skips {
	size_t n;
	char blob[8][1100];
	char reason[8][200];
};

static void record_skip(const struct task_skip *sk, void *ud)
{
	struct skips *k = ud;

	assert_int_equal(sk->kind, TASK_SKIP_INVALID);
	assert_null(sk->output_name);
	assert_true(k->n < 8);
	snprintf(k->blob[k->n], sizeof(k->blob[0]), "%s", sk->blob);
	snprintf(k->reason[k->n], sizeof(k->reason[0]), "%s", sk->reason);
	k->n++;
}

/* Issue 13: a blob that cannot become a task is skipped with its reason;
 * the others before and after it still become their tasks. */
static void test_iterator_skips_impossible_blobs(void **state)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	char long_name[1020];
	struct skips k = {0};
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_iter *it;
	struct tt_iter_stats st;
	const struct task *t;
	struct bm_error err;
	size_t n = 0;

	/* 1,019 characters: "{name}-result.txt" passes 1,024 bytes */
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	long_name[0] = 'b';
	for (n = 200; n < 1000; n += 200)
		long_name[n] = '/';
	n = 0;
	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "data-in", &err), 0);
	put_blob(c, "data-in", "a.txt", false);
	put_blob(c, "data-in", long_name, false);
	put_blob(c, "data-in", "c/../../etc/passwd", false);
	put_blob(c, "data-in", "d.txt", false);
	opts_make(&o, "app {in} {out}", NULL, NULL);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_iter_open(c, spec, NULL, 2, &it, &err), 0);
	tt_iter_on_skip(it, record_skip, &k);
	while (tt_iter_next(it, &t, &err) == 1) {
		assert_string_equal(t->blob, n ? "d.txt" : "a.txt");
		n++;
	}
	assert_int_equal(err.code, BM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.blob[0], long_name);
	assert_string_equal(k.reason[0],
			    "its output name is 1030 bytes (a blob "
			    "name is 1 to 1,024)");
	assert_string_equal(k.blob[1], "c/../../etc/passwd");
	assert_non_null(strstr(k.reason[1], "'..' path component"));
	tt_iter_stats(it, &st);
	assert_int_equal(st.selected, 4);
	assert_int_equal(st.invalid, 2);
	tt_iter_free(it);
	tt_spec_free(spec);
	tt_options_release(&o);

	/* without {in}, the input name need not be a path: only the output
	 * name's rule applies ("x-{index}" is always fine) */
	opts_make(&o, "app {name} {out}", "x-{index}", NULL);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(count_tasks(c, spec), 4);
	tt_spec_free(spec);
	tt_options_release(&o);
	bm_blob_client_free(c);
}

static void test_iterator_filters_and_pages(void **state)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	static const char *const names[] = {
	    "a.jpg",	 "b.txt",	 "dir",	  "dir/c.jpg",
	    "dir/d.jpg", "dir/skip.jpg", "e.jpg", "z/other.jpg",
	};
	static const char *const want[] = {"a.jpg", "dir/c.jpg", "dir/d.jpg",
					   "e.jpg"};
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_iter *it;
	struct tt_iter_stats st;
	const struct task *t;
	struct bm_error err;
	size_t i, n = 0;

	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "data-in", &err), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		put_blob(c, "data-in", names[i], !strcmp(names[i], "dir"));
	opts_make(&o, "app {in} {index}", NULL, NULL);
	assert_int_equal(tt_options_set(&o, TT_OPT_INCLUDE, "*.jpg", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_EXCLUDE, "*skip*", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_EXCLUDE, "z/*", &err), 0);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_iter_open(c, spec, NULL, 2, &it, &err), 0);
	while (tt_iter_next(it, &t, &err) == 1) {
		char idx[8];

		assert_true(n < 4);
		assert_string_equal(t->blob, want[n]);
		assert_int_equal(t->index, n);
		snprintf(idx, sizeof(idx), " %zu'", n);
		assert_non_null(strstr(t->command_line, idx));
		n++;
	}
	expect_drained(it, &err, n, 4, &st);
	assert_int_equal(st.listed, 8);
	assert_int_equal(st.selected, 4);
	assert_int_equal(st.pages, 4); /* 8 entries, 2 a page */
	assert_true(st.page_peak <= 2);
	tt_iter_free(it);

	/* --prefix */
	tt_spec_free(spec);
	assert_int_equal(tt_options_set(&o, TT_OPT_PREFIX, "dir/", &err), 0);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(count_tasks(c, spec), 2);
	tt_spec_free(spec);
	tt_options_release(&o);

	/* a missing input container is a clear error */
	opts_make(&o, "app", NULL, NULL);
	free(o.input);
	o.input = strdup("nope");
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_iter_open(c, spec, NULL, 0, &it, &err), 0);
	assert_int_equal(tt_iter_next(it, &t, &err), -1);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	assert_non_null(strstr(err.msg, "cannot list input container 'nope'"));
	tt_iter_free(it);
	tt_spec_free(spec);
	tt_options_release(&o);
	bm_blob_client_free(c);
}

static void test_skip_existing(void **state)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	struct tt_options o;
	struct tt_spec *spec;
	struct task_existing *ex;
	struct tt_iter *it;
	struct tt_iter_stats st;
	const struct task *t;
	struct bm_http_stats hs0, hs1;
	struct bm_error err;
	size_t n = 0;

	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "data-in", &err), 0);
	put_blob(c, "data-in", "one", false);
	put_blob(c, "data-in", "two", false);
	put_blob(c, "data-in", "three", false);

	/* no output container yet: nothing exists */
	assert_int_equal(task_existing_load(c, "data-out", &ex, &err), 0);
	assert_false(task_existing_covers(ex, "one-result.txt", 0));
	task_existing_free(ex);

	assert_int_equal(c->ops->create_container(c, "data-out", &err), 0);
	put_blob(c, "data-out", "two-result.txt", false);
	c->ops->get_stats(c, &hs0);
	assert_int_equal(task_existing_load(c, "data-out", &ex, &err), 0);
	c->ops->get_stats(c, &hs1);
	/* one listing, not one request per blob */
	assert_int_equal(hs1.requests[BM_OP_LIST] - hs0.requests[BM_OP_LIST],
			 1);
	assert_true(task_existing_covers(ex, "two-result.txt", 0));
	/* an output older than its input does not count */
	assert_false(
	    task_existing_covers(ex, "two-result.txt", time(NULL) + 3600));

	opts_make(&o, "app {name}", NULL, NULL);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_iter_open(c, spec, ex, 0, &it, &err), 0);
	while (tt_iter_next(it, &t, &err) == 1) {
		assert_string_not_equal(t->blob, "two");
		n++;
	}
	assert_int_equal(n, 2);
	tt_iter_stats(it, &st);
	assert_int_equal(st.selected, 3);
	assert_int_equal(st.skipped, 1);
	tt_iter_free(it);
	task_existing_free(ex);
	tt_spec_free(spec);
	tt_options_release(&o);
	bm_blob_client_free(c);
}

/* ------------------------------------------------------------------ */
/* Streaming: 100,000 blobs                                            */
/* ------------------------------------------------------------------ */

/*
 * A client whose container holds `total` blobs named blob-NNNNNNN that
 * exist only as a counter: every List page is generated on demand, so the
 * memory measured below is the iterator's, not the fake service's.
 */
struct gen_client {
	struct bm_blob_client base;
	unsigned long total;
	unsigned long pages;
};

static int gen_list_page(struct bm_blob_client *c, const char *container,
			 const struct bm_list_opts *o, bm_list_cb cb, void *ud,
			 char **next_marker, struct bm_error *err)
{
	struct gen_client *g = (struct gen_client *)c;
	unsigned long start = o->marker ? strtoul(o->marker, NULL, 10) : 0;
	unsigned long max =
	    o->max_results > 0 ? (unsigned long)o->max_results : 5000;
	unsigned long i;
	char name[32];
	struct bm_blob_entry e = {
	    .name = name, .size = 10, .etag = "", .content_type = ""};

	g->pages++;
	for (i = start; i < g->total && i < start + max; i++) {
		snprintf(name, sizeof(name), "blob-%07lu", i);
		if (cb(&e, ud)) {
			bm_error_set(err, BM_ERR_ABORTED, "stopped");
			return -1;
		}
	}
	*next_marker = NULL;
	if (i < g->total)
		assert_true(asprintf(next_marker, "%lu", i) > 0);
	return 0;
}

static void gen_free(struct bm_blob_client *c)
{
}

static const struct bm_blob_ops gen_ops = {
    .list_page = gen_list_page,
    .free = gen_free,
};

static void test_streaming_100k(void **state)
{
	struct gen_client g = {.base = {.ops = &gen_ops}, .total = 100000};
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_iter *it;
	struct tt_iter_stats st;
	const struct task *t;
	struct bm_error err;
	size_t base, peak = 0, n = 0, bytes = 0;

	opts_make(&o, "python app.py {in} {out}", NULL, NULL);
	bm_error_clear(&err);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	base = mallinfo2().uordblks;
	assert_int_equal(tt_iter_open(&g.base, spec, NULL, 0, &it, &err), 0);
	while (tt_iter_next(it, &t, &err) == 1) {
		size_t used = mallinfo2().uordblks;

		/* every 100th to JSON: enough to see the path holds nothing,
		 * cheap enough under valgrind */
		if (n % 100 == 0) {
			json_t *j = task_to_json(t);

			assert_non_null(j);
			json_decref(j);
		}
		bytes += strlen(t->command_line);
		if (used > base && used - base > peak)
			peak = used - base;
		n++;
	}
	expect_drained(it, &err, n, 100000, &st);
	assert_int_equal(st.pages, 20);
	assert_int_equal(g.pages, 20);
	/* one page of names at a time, never the listing */
	assert_true(st.page_peak <= 5000);
	/* Holding every task would take more than their command lines
	 * alone (> 7 MB here); one page of names takes well under 1 MB.
	 * (Under ASan mallinfo2 reports nothing; page_peak still holds.) */
	assert_true(bytes > 7000000);
	print_message("streaming: 100000 tasks, %zu bytes of command lines, "
		      "peak heap growth %zu bytes, page peak %zu\n",
		      bytes, peak, st.page_peak);
	assert_true(peak < 2 * 1024 * 1024);
	tt_iter_free(it);
	tt_spec_free(spec);
	tt_options_release(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_iterator_filters_and_pages),
	    cmocka_unit_test(test_iterator_skips_impossible_blobs),
	    cmocka_unit_test(test_skip_existing),
	    cmocka_unit_test(test_streaming_100k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
