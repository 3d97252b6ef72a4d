/*
 * test-http-retry: bm_http_perform's retry loop against a scripted HTTP
 * server on a loopback port (a thread in this process, one response per
 * connection). What is retried and what is not, Retry-After and the time
 * budget, request bodies re-sent whole on every attempt, a fresh signature
 * per attempt, streamed GETs never repeated after a byte reached the sink,
 * header names lowercased, oversized bodies refused, stalls timed out.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "bm_http.h"

#define MAX_STEPS 8

/* One scripted exchange: the raw response, and for a stall how many
 * seconds to wait after sending it before closing. */
struct step {
	const char *response;
	size_t response_len; /* 0: strlen(response) */
	int stall_s;
};

struct server {
	int fd;
	int port;
	pthread_t thread;
	struct step steps[MAX_STEPS];
	int nsteps;
	/* What the server saw, per connection (= per attempt). */
	int served;
	char requests[MAX_STEPS][4096];
	size_t body_len[MAX_STEPS];
	char body[MAX_STEPS][256];
};

/* Reads one request: head, then Content-Length bytes of body. */
static void read_request(int c, struct server *s, int i)
{
	char *req = s->requests[i], *end, *cl;
	size_t len = 0, want = 0, have;
	ssize_t n;

	while (len + 1 < sizeof(s->requests[i])) {
		n = read(c, req + len, sizeof(s->requests[i]) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(req, "\r\ncontent-length:");
		want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		have = len - (size_t)(end + 4 - req);
		if (have >= want)
			break;
	}
	end = strstr(req, "\r\n\r\n");
	if (end) {
		have = len - (size_t)(end + 4 - req);
		s->body_len[i] = have;
		memcpy(s->body[i], end + 4,
		       have < sizeof(s->body[i]) ? have : sizeof(s->body[i]));
		end[2] = '\0';
	}
}

static void *serve(void *arg)
{
	struct server *s = arg;
	int i;

	for (i = 0; i < s->nsteps; i++) {
		const struct step *st = &s->steps[i];
		size_t len =
		    st->response_len ? st->response_len : strlen(st->response);
		int c = accept(s->fd, NULL, NULL);

		if (c < 0)
			break;
		read_request(c, s, i);
		if (write(c, st->response, len) < 0)
			len = 0;
		if (st->stall_s)
			sleep((unsigned)st->stall_s);
		close(c);
		__atomic_store_n(&s->served, i + 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void server_start(struct server *s)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

/* Closing the listener ends an accept() still waiting for a request
 * that the client rightly never sent. */
static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->thread, NULL);
}

/* One request against one scripted server: set r->s.steps, call
 * run_start, adjust r->req, run_perform, check, run_end. */
struct run {
	struct server s;
	struct bm_http *h;
	struct bm_http_request req;
	struct bm_http_response resp;
	struct bm_error err;
	char url[128];
};

static void run_start(struct run *r, const char *method, int retries,
		      long budget_ms)
{
	struct bm_http_options o;

	bm_http_options_default(&o);
	o.retry.max_retries = retries;
	o.retry.base_delay_ms = 1;
	o.retry.max_delay_ms = 5;
	o.retry.total_budget_ms = budget_ms;
	o.low_speed_time_s = 1;
	bm_error_clear(&r->err);
	r->h = bm_http_new(&o, &r->err);
	assert_non_null(r->h);
	server_start(&r->s);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/acct/c/blob",
		 r->s.port);
	memset(&r->req, 0, sizeof(r->req));
	r->req.method = method;
	r->req.op = BM_OP_GET;
	r->req.url = r->url;
	r->req.idempotent = true;
}

static int run_perform(struct run *r)
{
	bm_error_clear(&r->err);
	return bm_http_perform(r->h, &r->req, &r->resp, &r->err);
}

static void run_end(struct run *r)
{
	bm_http_response_release(&r->resp);
	server_stop(&r->s);
	bm_http_free(r->h);
}

#define OK_200                                                                 \
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Ms-Thing: V\r\n\r\nhello"
#define BUSY_503                                                               \
	"HTTP/1.1 503 Server Busy\r\nRetry-After: 0\r\nx-ms-error-code: "      \
	"ServerBusy\r\nContent-Length: 0\r\n\r\n"
#define ERR_500                                                                \
	"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 62\r\n\r\n"     \
	"<?xml version=\"1.0\"?><Error><Code>InternalError</Code></Error>"

static void test_503_then_200(void **state)
{
	struct run r = {
	    .s = {.steps = {{BUSY_503, 0, 0}, {OK_200, 0, 0}}, .nsteps = 2}};
	struct bm_http_stats st;

	run_start(&r, "GET", 3, 10000);
	assert_int_equal(run_perform(&r), 0);
	assert_int_equal(r.resp.status, 200);
	assert_int_equal(r.resp.attempts, 2);
	assert_string_equal(r.resp.body, "hello");
	assert_int_equal(r.resp.body_len, 5);
	/* Header names are lowercased, values kept. */
	assert_string_equal(bm_http_response_header(&r.resp, "x-ms-thing"),
			    "V");
	assert_null(bm_http_response_header(&r.resp, "X-Ms-Thing"));
	bm_http_get_stats(r.h, &st);
	assert_int_equal(st.requests[BM_OP_GET], 2);
	assert_int_equal(st.retries, 1);
	run_end(&r);
}

/* Retries run out: the last status decides the category. */
static void test_500_until_budget(void **state)
{
	struct run r = {
	    .s = {.steps = {{ERR_500, 0, 0}, {ERR_500, 0, 0}, {ERR_500, 0, 0}},
		  .nsteps = 3}};

	run_start(&r, "GET", 2, 10000);
	assert_int_equal(run_perform(&r), -1);
	assert_int_equal(r.resp.attempts, 3);
	assert_int_equal(r.err.code, BM_ERR_SERVER);
	assert_int_equal(r.err.http_status, 500);
	assert_string_equal(r.err.azure_code, "InternalError");
	assert_string_equal(r.err.msg, "server error (500 InternalError)");
	run_end(&r);
}

static void test_not_idempotent_not_retried(void **state)
{
	struct run r = {
	    .s = {.steps = {{BUSY_503, 0, 0}, {OK_200, 0, 0}}, .nsteps = 2}};

	run_start(&r, "PUT", 3, 10000);
	r.req.idempotent = false;
	assert_int_equal(run_perform(&r), -1);
	assert_int_equal(r.resp.attempts, 1);
	assert_int_equal(r.err.code, BM_ERR_THROTTLED);
	assert_string_equal(r.err.azure_code, "ServerBusy");
	/* PUT always carries a Content-Length, 0 included. */
	assert_non_null(
	    strcasestr(r.s.requests[0], "\r\ncontent-length: 0\r\n"));
	assert_null(strcasestr(r.s.requests[0], "expect:"));
	run_end(&r);
}

static void test_404_not_retried(void **state)
{
	struct run r = {
	    .s = {.steps = {{"HTTP/1.1 404 Not Found\r\nx-ms-error-code: "
			     "BlobNotFound\r\nContent-Length: 0\r\n\r\n",
			     0, 0},
			    {OK_200, 0, 0}},
		  .nsteps = 2}};

	run_start(&r, "HEAD", 3, 10000);
	assert_int_equal(run_perform(&r), -1);
	assert_int_equal(r.resp.attempts, 1);
	assert_int_equal(r.err.code, BM_ERR_NOT_FOUND);
	assert_string_equal(r.err.msg, "not found (404 BlobNotFound)");
	run_end(&r);
}

#define MD5_400                                                                \
	"HTTP/1.1 400 Bad Request\r\nx-ms-error-code: Md5Mismatch\r\n"         \
	"Content-Length: 0\r\n\r\n"

/* A body the service refused as damaged on the way (its Content-MD5 did
 * not match) is sent again, even by a conditional, non-idempotent
 * request: the service stored nothing. Any other 400 is final. */
static void test_damaged_body_resent(void **state)
{
	struct run r = {
	    .s = {.steps = {{MD5_400, 0, 0}, {OK_200, 0, 0}}, .nsteps = 2}};
	struct run bad = {
	    .s = {.steps = {{"HTTP/1.1 400 Bad Request\r\nx-ms-error-code: "
			     "InvalidHeaderValue\r\nContent-Length: 0\r\n\r\n",
			     0, 0},
			    {OK_200, 0, 0}},
		  .nsteps = 2}};
	struct bm_body body = {.buf = "hello", .len = 5};

	run_start(&r, "PUT", 3, 10000);
	r.req.idempotent = false;
	r.req.body = &body;
	assert_int_equal(run_perform(&r), 0);
	assert_int_equal(r.resp.attempts, 2);
	assert_string_equal(r.s.body[1], "hello");
	run_end(&r);

	run_start(&bad, "PUT", 3, 10000);
	bad.req.body = &body;
	assert_int_equal(run_perform(&bad), -1);
	assert_int_equal(bad.resp.attempts, 1);
	assert_int_equal(bad.err.http_status, 400);
	run_end(&bad);
}

/* A Retry-After that does not fit in what is left of the budget ends the
 * request at once instead of sleeping and failing anyway. */
static void test_retry_after_past_budget(void **state)
{
	struct run r = {
	    .s = {.steps = {{"HTTP/1.1 429 Too Many Requests\r\n"
			     "Retry-After: 30\r\nContent-Length: 0\r\n\r\n",
			     0, 0}},
		  .nsteps = 1}};

	run_start(&r, "GET", 3, 2000);
	assert_int_equal(run_perform(&r), -1);
	assert_int_equal(r.resp.attempts, 1);
	assert_int_equal(r.err.code, BM_ERR_THROTTLED);
	run_end(&r);
}

struct collect {
	char data[64];
	size_t len;
};

static int collect_sink(const void *data, size_t len, void *ud)
{
	struct collect *c = ud;

	if (c->len + len > sizeof(c->data))
		return 1;
	memcpy(c->data + c->len, data, len);
	c->len += len;
	return 0;
}

/* Bytes reached the sink, then the connection broke: no retry here (the
 * blob layer resumes with a range), so no byte is delivered twice. */
static void test_sink_not_repeated(void **state)
{
	struct run r = {
	    .s = {.steps = {{"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n"
			     "0123456789",
			     0, 0},
			    {OK_200, 0, 0}},
		  .nsteps = 2}};
	struct collect got = {{0}, 0};

	run_start(&r, "GET", 3, 10000);
	r.req.sink = collect_sink;
	r.req.sink_ud = &got;
	assert_int_equal(run_perform(&r), -1);
	assert_int_equal(r.resp.attempts, 1);
	assert_int_equal(r.err.code, BM_ERR_NETWORK);
	assert_int_equal(got.len, 10);
	assert_memory_equal(got.data, "0123456789", 10);
	/* The headers of the cut response are kept (the ETag to resume). */
	assert_string_equal(bm_http_response_header(&r.resp, "content-length"),
			    "20");
	run_end(&r);
}

/* An error body never reaches the sink, and the retry (nothing was
 * delivered) then streams the good body. */
static void test_sink_error_body_collected(void **state)
{
	struct run r = {
	    .s = {.steps = {{ERR_500, 0, 0}, {OK_200, 0, 0}}, .nsteps = 2}};
	struct collect got = {{0}, 0};

	run_start(&r, "GET", 3, 10000);
	r.req.sink = collect_sink;
	r.req.sink_ud = &got;
	assert_int_equal(run_perform(&r), 0);
	assert_int_equal(r.resp.attempts, 2);
	assert_int_equal(got.len, 5);
	assert_memory_equal(got.data, "hello", 5);
	assert_null(r.resp.body);
	run_end(&r);
}

/* A temporary file holding `data`, already unlinked. */
static int temp_file(const char *data, size_t len)
{
	char path[] = "/tmp/test-http-retry.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

/* A body from a file is sent whole on every attempt, and each attempt is
 * signed afresh (the Retry-After of 1 s moves x-ms-date on). */
static void test_body_resent_and_resigned(void **state)
{
	static const unsigned char key[] = "not a real key, just bytes";
	struct run r = {
	    .s = {.steps = {{"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\n"
			     "Content-Length: 0\r\n\r\n",
			     0, 0},
			    {"HTTP/1.1 201 Created\r\nContent-Length: "
			     "0\r\n\r\n",
			     0, 0}},
		  .nsteps = 2}};
	struct bm_auth auth = {BM_SCHEME_BLOB_KEY, "acct", key,
			       sizeof(key) - 1,	   NULL,   NULL};
	struct bm_body body = {NULL, temp_file("xxxxBODY-BYTESyyyy", 18), 4,
			       10};
	char *d0, *d1;

	run_start(&r, "PUT", 3, 10000);
	r.req.op = BM_OP_PUT;
	r.req.body = &body;
	r.req.auth = &auth;
	assert_int_equal(run_perform(&r), 0);
	assert_int_equal(r.resp.status, 201);
	assert_int_equal(r.s.body_len[0], 10);
	assert_int_equal(r.s.body_len[1], 10);
	assert_memory_equal(r.s.body[0], "BODY-BYTES", 10);
	assert_memory_equal(r.s.body[1], "BODY-BYTES", 10);
	d0 = strcasestr(r.s.requests[0], "x-ms-date:");
	d1 = strcasestr(r.s.requests[1], "x-ms-date:");
	assert_non_null(d0);
	assert_non_null(d1);
	assert_true(strncmp(d0, d1, 40) != 0);
	assert_non_null(
	    strstr(r.s.requests[1], "Authorization: SharedKey acct:"));
	run_end(&r);
	close(body.fd);
}

/* A file that is shorter than the body it should hold: a local I/O
 * error, not a network one, and not retried. */
static void test_short_file(void **state)
{
	struct run r = {.s = {.steps = {{OK_200, 0, 0}}, .nsteps = 1}};
	struct bm_body body = {NULL, temp_file("short", 5), 0, 100};

	run_start(&r, "PUT", 3, 10000);
	r.req.body = &body;
	assert_int_equal(run_perform(&r), -1);
	assert_int_equal(r.err.code, BM_ERR_IO);
	assert_int_equal(r.resp.attempts, 1);
	run_end(&r);
	close(body.fd);
}

/* The server sends a head and then nothing: the low-speed limit (1 s
 * here) ends the attempt; with no retries left it is a timeout. */
static void test_stall_times_out(void **state)
{
	struct run r = {.s = {.steps = {{"HTTP/1.1 200 OK\r\nContent-Length: "
					 "10\r\n\r\n12",
					 0, 4}},
			      .nsteps = 1}};
	char want[64];

	run_start(&r, "GET", 0, 10000);
	assert_int_equal(run_perform(&r), -1);
	assert_int_equal(r.err.code, BM_ERR_TIMEOUT);
	snprintf(want, sizeof(want), "no response from '127.0.0.1:%d'",
		 r.s.port);
	assert_non_null(strstr(r.err.msg, want));
	run_end(&r);
}

/* Collected bodies stop at 8 MiB: a response claiming more is refused. */
static void test_body_too_large(void **state)
{
	size_t head_len, total = (9u << 20);
	char *big = malloc(total + 128);
	struct run r = {.s = {.nsteps = 1}};

	assert_non_null(big);
	head_len = (size_t)sprintf(
	    big, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", total);
	memset(big + head_len, 'x', total);
	r.s.steps[0].response = big;
	r.s.steps[0].response_len = head_len + total;
	run_start(&r, "GET", 3, 10000);
	assert_int_equal(run_perform(&r), -1);
	assert_int_equal(r.err.code, BM_ERR_PROTOCOL);
	assert_string_equal(r.err.msg, "response body larger than 8 MiB");
	run_end(&r);
	free(big);
}

int main(void)
{
	/* The server writes to clients that hung up on purpose. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_503_then_200),
	    cmocka_unit_test(test_500_until_budget),
	    cmocka_unit_test(test_not_idempotent_not_retried),
	    cmocka_unit_test(test_404_not_retried),
	    cmocka_unit_test(test_damaged_body_resent),
	    cmocka_unit_test(test_retry_after_past_budget),
	    cmocka_unit_test(test_sink_not_repeated),
	    cmocka_unit_test(test_sink_error_body_collected),
	    cmocka_unit_test(test_body_resent_and_resigned),
	    cmocka_unit_test(test_short_file),
	    cmocka_unit_test(test_stall_times_out),
	    cmocka_unit_test(test_body_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
