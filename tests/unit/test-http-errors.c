/*
 * test-http-errors: how an HTTP outcome becomes an error category and a
 * one-line message: status + x-ms-error-code, the XML <Code>/<Message>
 * body, the Batch JSON body; transport failures name host:port; the
 * counters' one-line format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bm_http.h"

static void test_status_table(void **state)
{
	static const struct {
		long status;
		const char *code;
		enum bm_errc want;
	} cases[] = {
	    {200, NULL, BM_OK},
	    {201, NULL, BM_OK},
	    {206, NULL, BM_OK},
	    {400, "InvalidQueryParameterValue", BM_ERR_INVALID},
	    {400, "InvalidAuthenticationInfo", BM_ERR_AUTH},
	    {401, NULL, BM_ERR_AUTH},
	    {403, "AuthenticationFailed", BM_ERR_AUTH},
	    {403, "AuthorizationFailure", BM_ERR_AUTH},
	    {403, NULL, BM_ERR_AUTH},
	    {403, "AuthorizationPermissionMismatch", BM_ERR_PERMISSION},
	    {403, "AuthorizationResourceTypeMismatch", BM_ERR_PERMISSION},
	    {403, "InsufficientAccountPermissions", BM_ERR_PERMISSION},
	    {404, "ContainerNotFound", BM_ERR_NO_CONTAINER},
	    {404, "BlobNotFound", BM_ERR_NOT_FOUND},
	    {404, NULL, BM_ERR_NOT_FOUND},
	    {404, "JobNotFound", BM_ERR_NOT_FOUND},
	    {408, NULL, BM_ERR_TIMEOUT},
	    {409, "BlobAlreadyExists", BM_ERR_EXISTS},
	    {409, "ContainerAlreadyExists", BM_ERR_EXISTS},
	    {409, "TaskExists", BM_ERR_EXISTS},
	    {409, "ContainerBeingDeleted", BM_ERR_CONFLICT},
	    {409, NULL, BM_ERR_CONFLICT},
	    {412, "ConditionNotMet", BM_ERR_PRECONDITION},
	    {412, NULL, BM_ERR_PRECONDITION},
	    {413, "RequestBodyTooLarge", BM_ERR_TOO_LARGE},
	    {416, "InvalidRange", BM_ERR_RANGE},
	    {429, NULL, BM_ERR_THROTTLED},
	    {503, "ServerBusy", BM_ERR_THROTTLED},
	    {500, "InternalError", BM_ERR_SERVER},
	    {502, NULL, BM_ERR_SERVER},
	    {504, NULL, BM_ERR_SERVER},
	    {501, NULL, BM_ERR_SERVER},
	    {301, NULL, BM_ERR_HTTP},
	    {418, NULL, BM_ERR_HTTP},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum bm_errc got =
		    bm_http_status_errc(cases[i].status, cases[i].code);

		if (got != cases[i].want)
			fail_msg("status %ld code %s: got %d, want %d",
				 cases[i].status,
				 cases[i].code ? cases[i].code : "(none)",
				 (int)got, (int)cases[i].want);
	}
}

static void set_error(long status, const char *hdr_code, const char *body,
		      struct bm_error *err)
{
	struct bm_http_header hdr = {"x-ms-error-code", hdr_code};
	struct bm_http_response r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.body = (char *)body;
	r.body_len = body ? strlen(body) : 0;
	if (hdr_code) {
		r.headers = &hdr;
		r.nheaders = 1;
	}
	bm_error_clear(err);
	bm_http_set_status_error(&r, err);
}

static void test_xml_error_body(void **state)
{
	struct bm_error err;

	set_error(403, "AuthenticationFailed",
		  "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		  "<Error><Code>AuthenticationFailed</Code><Message>Server "
		  "failed to authenticate the request. Make sure the value "
		  "of Authorization header is formed correctly.\n"
		  "RequestId:0c4b\nTime:2015-06-26T23:39:12Z</Message>"
		  "<AuthenticationErrorDetail>The MAC signature found in the "
		  "HTTP request 'c2VjcmV0' is not the same</"
		  "AuthenticationErrorDetail></Error>",
		  &err);
	assert_int_equal(err.code, BM_ERR_AUTH);
	assert_int_equal(err.http_status, 403);
	assert_string_equal(err.azure_code, "AuthenticationFailed");
	assert_string_equal(err.msg,
			    "authentication failed (403 AuthenticationFailed: "
			    "Server failed to authenticate the request. Make "
			    "sure the value of Authorization header is formed "
			    "correctly.)");
	/* The signature detail never reaches the message. */
	assert_null(strstr(err.msg, "c2VjcmV0"));
}

static void test_code_from_body_only(void **state)
{
	struct bm_error err;

	set_error(404, NULL,
		  "<?xml version=\"1.0\"?><Error><Code>ContainerNotFound"
		  "</Code><Message>The specified container does not exist."
		  "</Message></Error>",
		  &err);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	assert_string_equal(err.azure_code, "ContainerNotFound");
	assert_string_equal(err.msg, "container not found (404 "
				     "ContainerNotFound: The specified "
				     "container does not exist.)");
}

static void test_header_code_wins(void **state)
{
	struct bm_error err;

	set_error(403, "AuthorizationPermissionMismatch",
		  "<Error><Code>Other</Code><Message>This request is not "
		  "authorized to perform this operation using this "
		  "permission &amp; that.</Message></Error>",
		  &err);
	assert_int_equal(err.code, BM_ERR_PERMISSION);
	assert_string_equal(err.azure_code, "AuthorizationPermissionMismatch");
	assert_non_null(strstr(err.msg, "permission & that.)"));
}

/* HEAD responses have no body: the header alone names the error. */
static void test_no_body(void **state)
{
	struct bm_error err;

	set_error(404, "BlobNotFound", NULL, &err);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);
	assert_string_equal(err.msg, "not found (404 BlobNotFound)");
	set_error(412, NULL, NULL, &err);
	assert_int_equal(err.code, BM_ERR_PRECONDITION);
	assert_string_equal(err.msg, "blob changed (412)");
	assert_string_equal(err.azure_code, "");
}

static void test_batch_json_body(void **state)
{
	struct bm_error err;

	set_error(409, NULL,
		  "{\r\n  \"odata.metadata\":\"https://a.b/$metadata#"
		  "Microsoft.Azure.Batch.Protocol.Entities.Container.errors"
		  "/@Element\",\"code\":\"JobExists\",\"message\":{\r\n"
		  "    \"lang\":\"en-US\",\"value\":\"The specified job "
		  "already \\\"exists\\\".\\nRequestId:1\\nTime:x\"\r\n"
		  "  }\r\n}",
		  &err);
	assert_int_equal(err.code, BM_ERR_EXISTS);
	assert_string_equal(err.azure_code, "JobExists");
	assert_string_equal(err.msg, "already exists (409 JobExists: The "
				     "specified job already \"exists\".)");
	set_error(403, NULL,
		  "{\"odata.error\":{\"code\":\"Forbidden\",\"message\":"
		  "\"Server failed.\"}}",
		  &err);
	assert_int_equal(err.code, BM_ERR_PERMISSION);
	assert_string_equal(
	    err.msg, "permission denied (403 Forbidden: Server failed.)");
}

/* Hostile bodies: the code becomes one word, the message one line. */
static void test_hostile_body(void **state)
{
	struct bm_error err;

	set_error(500, NULL,
		  "<Error><Code>Evil Code\nWith\"Stuff</Code><Message>a\tb"
		  "</Message></Error>",
		  &err);
	assert_int_equal(err.code, BM_ERR_SERVER);
	assert_string_equal(err.azure_code, "Evil");
	assert_null(strchr(err.msg, '\n'));
	assert_null(strchr(err.msg, '\t'));
	set_error(502, NULL, "<Error><Code>Unterminated", &err);
	assert_string_equal(err.msg, "server error (502)");
	set_error(503, NULL, "<html>busy</html>", &err);
	assert_int_equal(err.code, BM_ERR_THROTTLED);
}

static void test_first_error_wins(void **state)
{
	struct bm_http_response r;
	struct bm_error err;

	memset(&r, 0, sizeof(r));
	r.status = 500;
	bm_error_clear(&err);
	bm_error_set(&err, BM_ERR_IO, "earlier");
	bm_http_set_status_error(&r, &err);
	assert_int_equal(err.code, BM_ERR_IO);
	assert_string_equal(err.msg, "earlier");
}

static void test_stats_format(void **state)
{
	struct bm_http_stats s;
	char buf[512];
	int n;

	memset(&s, 0, sizeof(s));
	s.requests[BM_OP_LIST] = 3;
	s.requests[BM_OP_GET] = 2;
	s.requests[BM_OP_BATCH] = 1;
	s.retries = 4;
	s.bytes_sent = 10;
	s.bytes_received = 123456789012ull;
	s.connects = 2;
	n = bm_http_stats_format(&s, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "requests=6 list=3 get=2 head=0 put=0 "
				 "put_block=0 put_block_list=0 delete=0 "
				 "copy=0 container=0 batch=1 other=0 "
				 "retries=4 sent=10 received=123456789012 "
				 "connects=2");
	/* Truncation is safe and reports the full length, like snprintf. */
	assert_int_equal(bm_http_stats_format(&s, buf, 8), n);
	assert_string_equal(buf, "request");
	assert_string_equal(bm_op_name(BM_OP_PUT_BLOCK_LIST), "put_block_list");
}

/* Port 1 on loopback is closed: the error names host:port and the cause,
 * and the request was retried per the policy (fast here). */
static void test_closed_port(void **state)
{
	struct bm_http_options o;
	struct bm_http_request req;
	struct bm_http_response resp;
	struct bm_http_stats st;
	struct bm_error err;
	struct bm_http *h;

	bm_http_options_default(&o);
	o.retry.max_retries = 2;
	o.retry.base_delay_ms = 1;
	o.retry.max_delay_ms = 2;
	bm_error_clear(&err);
	h = bm_http_new(&o, &err);
	assert_non_null(h);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.op = BM_OP_HEAD;
	req.url = "http://127.0.0.1:1/devstoreaccount1/c?restype=container";
	req.idempotent = true;
	assert_int_equal(bm_http_perform(h, &req, &resp, &err), -1);
	assert_int_equal(err.code, BM_ERR_NETWORK);
	assert_string_equal(err.msg, "cannot connect to '127.0.0.1:1': "
				     "connection refused");
	assert_int_equal(resp.attempts, 3);
	bm_http_get_stats(h, &st);
	assert_int_equal(st.requests[BM_OP_HEAD], 3);
	assert_int_equal(st.retries, 2);
	bm_http_response_release(&resp);
	/* Not idempotent: one attempt only. */
	bm_http_reset_stats(h);
	req.idempotent = false;
	bm_error_clear(&err);
	assert_int_equal(bm_http_perform(h, &req, NULL, &err), -1);
	bm_http_get_stats(h, &st);
	assert_int_equal(st.requests[BM_OP_HEAD], 1);
	assert_int_equal(st.retries, 0);
	bm_http_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_table),
	    cmocka_unit_test(test_xml_error_body),
	    cmocka_unit_test(test_code_from_body_only),
	    cmocka_unit_test(test_header_code_wins),
	    cmocka_unit_test(test_no_body),
	    cmocka_unit_test(test_batch_json_body),
	    cmocka_unit_test(test_hostile_body),
	    cmocka_unit_test(test_first_error_wins),
	    cmocka_unit_test(test_stats_format),
	    cmocka_unit_test(test_closed_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
