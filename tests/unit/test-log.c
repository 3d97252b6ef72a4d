/*
 * test-log: redaction of registered secrets, sig= values, Authorization
 * headers and SharedKey credentials; that log lines and error messages go
 * through it; level parsing and filtering; one line per event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bm_error.h"
#include "bm_log.h"

#define KEY                                                                    \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"      \
	"K1SZFPTOtr/KBHBeksoGMGw=="

static void redact_eq(const char *in, const char *want)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", in);
	bm_redact(buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_registered_secret(void **state)
{
	(void)state;
	bm_redact_register(KEY);
	bm_redact_register(KEY); /* twice is harmless */
	bm_redact_register("");
	bm_redact_register(NULL);
	redact_eq("key=" KEY " end", "key=REDACTED end");
	redact_eq(KEY KEY, "REDACTEDREDACTED");
	redact_eq("nothing secret here", "nothing secret here");
	redact_eq("", "");
}

static void test_sig(void **state)
{
	(void)state;
	redact_eq("GET http://h/a/c/b?sv=2021-08-06&sig=abc%2Bdef%3D&se=x",
		  "GET http://h/a/c/b?sv=2021-08-06&sig=REDACTED&se=x");
	redact_eq("?SIG=abc def", "?SIG=REDACTED def");
	redact_eq("sig=abc", "sig=REDACTED");
	redact_eq("no sig= parameter", "no sig= parameter");
	redact_eq("'http://h/?sig=a'", "'http://h/?sig=REDACTED'");
	/* Inside a URL-encoded URL (a copy source in a query). */
	redact_eq("src=http%3A%2F%2Fh%2Fb%3Fsv%3D1%26sig%3Dabc%2B%26x",
		  "src=http%3A%2F%2Fh%2Fb%3Fsv%3D1%26sig%3DREDACTED%26x");
	/* Not a sig parameter: a word that ends in "sig". */
	redact_eq("rsig=1 designs=2", "rsig=1 designs=2");
}

static void test_authorization(void **state)
{
	(void)state;
	redact_eq("> Authorization: SharedKey acct:abc+/def=",
		  "> Authorization: REDACTED");
	redact_eq("authorization:Bearer xyz\nnext line",
		  "authorization: REDACTED\nnext line");
	redact_eq("header SharedKey devstoreaccount1:u7ltTGGuwYZ+kj3O= tail",
		  "header SharedKey devstoreaccount1:REDACTED tail");
	redact_eq("SharedKeyLite a:b", "SharedKeyLite a:REDACTED");
	redact_eq("x-ms-copy-source-authorization: Bearer eyJ0",
		  "x-ms-copy-source-authorization: REDACTED");
	redact_eq("Proxy-Authorization: Basic dXNlcjpwdw==",
		  "Proxy-Authorization: REDACTED");
	redact_eq("SharedKey is a scheme", "SharedKey is a scheme");
}

/* Entra ID: bearer tokens, JWTs anywhere, the OAuth form's secrets. */
static void test_entra_tokens(void **state)
{
	(void)state;
	redact_eq("sent Bearer eyJ0eXAi.eyJhdWQi.c2ln to x",
		  "sent Bearer REDACTED to x");
	redact_eq("Bearer abc.def-ghi, next", "Bearer REDACTED, next");
	redact_eq("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig_-x done",
		  "token REDACTED done");
	redact_eq("{\"access_token\":\"eyJ0.eyJ1.c2\"}",
		  "{\"access_token\":\"REDACTED\"}");
	redact_eq(
	    "grant_type=client_credentials&client_secret=s3cr%2Bt&scope=x",
	    "grant_type=client_credentials&client_secret=REDACTED&scope=x");
	redact_eq("client_assertion=eyJ0.eyJ1.c2&client_id=c",
		  "client_assertion=REDACTED&client_id=c");
	/* Not tokens: one dot, a word that merely starts so. */
	redact_eq("eyJ0.only one dot", "eyJ0.only one dot");
	redact_eq("the bearer  of news", "the bearer  of news");
}

/* Redaction never writes past cap, even when it lengthens the text. */
static void test_capacity(void **state)
{
	char buf[12];

	(void)state;
	bm_redact_register("xy");
	snprintf(buf, sizeof(buf), "xyxyxyxyxy");
	bm_redact(buf, sizeof(buf));
	assert_string_equal(buf, "REDACTEDRED");
	assert_null(strstr(buf, "xy"));
}

/* Runs fn with stderr captured; returns what it printed (caller frees). */
static char *capture_stderr(void (*fn)(void))
{
	char tmpl[] = "/tmp/test-log.XXXXXX", *out;
	int fd = mkstemp(tmpl), saved = dup(2);
	long len;
	FILE *f;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	out = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(out, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(tmpl);
	return out;
}

static void log_some(void)
{
	bm_log_init("tlog", BM_LOG_INFO, false);
	bm_info("using key %s and url http://h/c?sig=secret&x=1", KEY);
	bm_debug("debug is filtered out");
	bm_err("name with a\nnewline");
	bm_warn("Authorization: SharedKey a:b");
}

static void test_log_lines(void **state)
{
	char *out;

	(void)state;
	bm_redact_register(KEY);
	out = capture_stderr(log_some);
	assert_string_equal(out, "tlog: info: using key REDACTED and url "
				 "http://h/c?sig=REDACTED&x=1\n"
				 "tlog: error: name with a\\nnewline\n"
				 "tlog: warning: Authorization: REDACTED\n");
	free(out);
	bm_log_init("tlog", BM_LOG_WARNING, false);
}

static void test_levels(void **state)
{
	enum bm_log_level l;

	(void)state;
	assert_int_equal(bm_log_level_parse("LOG_DEBUG", &l), 0);
	assert_int_equal(l, BM_LOG_DEBUG);
	assert_int_equal(bm_log_level_parse("LOG_OFF", &l), 0);
	assert_int_equal(l, BM_LOG_OFF);
	assert_int_equal(bm_log_level_parse("LOG_WARNING", &l), 0);
	assert_int_equal(l, BM_LOG_WARNING);
	assert_int_equal(bm_log_level_parse("log_debug", &l), -1);
	assert_int_equal(bm_log_level_parse("LOG_DEBUGX", &l), -1);
	assert_int_equal(bm_log_level_parse("DEBUG", &l), -1);
	assert_int_equal(bm_log_level_parse("", &l), -1);
	assert_int_equal(bm_log_level_parse(NULL, &l), -1);

	bm_log_init("t", BM_LOG_ERR, false);
	assert_true(bm_log_enabled(BM_LOG_CRIT));
	assert_true(bm_log_enabled(BM_LOG_ERR));
	assert_false(bm_log_enabled(BM_LOG_WARNING));
	bm_log_init("t", BM_LOG_OFF, false);
	assert_false(bm_log_enabled(BM_LOG_CRIT));
	assert_false(bm_log_enabled(BM_LOG_OFF));
	bm_log_init("t", BM_LOG_WARNING, false);
}

/* bm_error messages are redacted and cut to one line too. */
static void test_error_redacted(void **state)
{
	struct bm_error err = {0};

	(void)state;
	bm_redact_register(KEY);
	bm_error_set(&err, BM_ERR_AUTH,
		     "request to 'http://h/c?sig=abc' "
		     "failed with key %s\nsecond",
		     KEY);
	assert_string_equal(err.msg, "request to 'http://h/c?sig=REDACTED' "
				     "failed with key REDACTED\\nsecond");
	bm_error_prefix(&err, "cannot list 'c' (Authorization: x)");
	assert_null(strstr(err.msg, "sig=abc"));
}

/* Control bytes in names: a blob name holding ESC[2J (clear screen) and
 * a newline comes out of an error message and a log line as one line of
 * printable text, every byte still told apart. */
static void log_hostile_name(void)
{
	bm_log_init("tlog", BM_LOG_INFO, false);
	bm_err("cannot upload '%s'", "a\x1b[2Jb\nc\r\t\x7f\x01");
}

static void test_control_bytes_escaped(void **state)
{
	struct bm_error err = {0};
	char small[8], *out;

	(void)state;
	bm_error_set(&err, BM_ERR_NOT_FOUND, "cannot get 'c/%s'",
		     "x\x1b[2Jy\nz");
	assert_string_equal(err.msg, "cannot get 'c/x\\x1b[2Jy\\nz'");
	bm_error_prefix(&err, "local copy of '%s'", "\x1b]0;title\x07");
	assert_string_equal(err.msg, "local copy of '\\x1b]0;title\\x07': "
				     "cannot get 'c/x\\x1b[2Jy\\nz'");
	out = capture_stderr(log_hostile_name);
	assert_string_equal(out, "tlog: error: cannot upload "
				 "'a\\x1b[2Jb\\nc\\r\\t\\x7f\\x01'\n");
	free(out);
	bm_log_init("tlog", BM_LOG_WARNING, false);
	/* UTF-8 and backslashes pass as they are; an escape is never cut. */
	snprintf(small, sizeof(small), "%s", "\xc3\xa9\\\x1b");
	bm_escape_controls(small, sizeof(small));
	assert_string_equal(small, "\xc3\xa9\\\\x1b");
	snprintf(small, sizeof(small), "%s", "abcd\x1b");
	bm_escape_controls(small, sizeof(small));
	assert_string_equal(small, "abcd");
}

/* Threads log while another registers secrets: every line arrives whole
 * (no interleaving), once, redacted. */
static void *log_thread(void *arg)
{
	long id = (long)arg;
	int i;

	for (i = 0; i < 500; i++)
		bm_info("thread %ld line %d secret-%d", id, i, i % 7);
	return NULL;
}

static void *register_thread(void *arg)
{
	char s[32];
	int i;

	(void)arg;
	for (i = 0; i < 7; i++) {
		snprintf(s, sizeof(s), "secret-%d", i);
		bm_redact_register(s);
	}
	return NULL;
}

static void log_threads(void)
{
	pthread_t t[5];
	long i;

	bm_log_init("t", BM_LOG_INFO, false);
	for (i = 0; i < 4; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, log_thread, (void *)i), 0);
	assert_int_equal(pthread_create(&t[4], NULL, register_thread, NULL), 0);
	for (i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	bm_log_init("t", BM_LOG_WARNING, false);
}

static void test_threads(void **state)
{
	char *out = capture_stderr(log_threads), *line, *save = NULL;
	int lines = 0, id, n, seen[4][500] = {{0}};
	char tail[32];

	(void)state;
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(sscanf(line, "t: info: thread %d line %d %31s",
					&id, &n, tail),
				 3);
		assert_true(id >= 0 && id < 4 && n >= 0 && n < 500);
		seen[id][n]++;
		/* Registered after the line was formatted, or before. */
		assert_true(strncmp(tail, "secret-", 7) == 0 ||
			    strcmp(tail, "REDACTED") == 0);
		lines++;
	}
	assert_int_equal(lines, 2000);
	for (id = 0; id < 4; id++)
		for (n = 0; n < 500; n++)
			assert_int_equal(seen[id][n], 1);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registered_secret),
	    cmocka_unit_test(test_sig),
	    cmocka_unit_test(test_authorization),
	    cmocka_unit_test(test_entra_tokens),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_log_lines),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_error_redacted),
	    cmocka_unit_test(test_control_bytes_escaped),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
