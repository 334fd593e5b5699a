/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of fetch/http.c against a scripted server (http-server.h): bodies, error bodies, retries
 * and Retry-After, resumption with Range (206, and a 200 that ignores it), redirects that must
 * not carry Authorization to another origin, uploads from memory and from an fd, limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fetch/http.h"
#include "tests/unit/fetch/http-server.h"
#include "tests/unit/unit.h"
#include "util/buf.h"

#define BLOB_LEN 200000

static char blob[BLOB_LEN];

static void fill_blob(void)
{
	for (size_t i = 0; i < BLOB_LEN; i++)
		blob[i] = (char)('a' + (i * 7 + i / 251) % 26);
}

static fetch_http *client(unsigned retries)
{
	fetch_http_opts o;
	fetch_http *h = NULL;

	fetch_http_opts_default(&o);
	o.retries = retries;
	o.backoff_ms = 10;
	o.max_backoff_ms = 3000;
	assert_int_equal(fetch_http_new(&o, &h), 0);
	return h;
}

static char *url(const tsrv *s, const char *path)
{
	char *u = NULL;

	assert_true(asprintf(&u, "%s%s", s->base, path) > 0);
	return u;
}

static int sink_buf(void *userdata, const void *data, size_t len)
{
	return buf_append(userdata, data, len);
}

/* ---- Plain answers ---- */

static void h_plain(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	if (streq(req->path, "/ok"))
		tsrv_reply(fd, 200, "X-Thing: a\r\nx-thing: b\r\nContent-Type: text/plain\r\n",
			   "hello", 5);
	else
		tsrv_reply(fd, 404, NULL, "{\"errors\":[]}", 13);
}

static void test_fetch_http__get_body_and_headers(void **state)
{
	fetch_http_response resp;
	fetch_http *h = client(0);
	tsrv s;
	char *u;

	tsrv_start(&s, h_plain, NULL);
	u = url(&s, "/ok");
	fetch_http_request req = { .url = u };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body.len, 5);
	assert_string_equal(resp.body.data, "hello");
	assert_string_equal(fetch_http_response_header(&resp, "content-type"), "text/plain");
	assert_string_equal(fetch_http_response_header_nth(&resp, "X-Thing", 0), "a");
	assert_string_equal(fetch_http_response_header_nth(&resp, "X-Thing", 1), "b");
	assert_null(fetch_http_response_header_nth(&resp, "X-Thing", 2));
	assert_int_equal(resp.attempts, 1);
	fetch_http_response_done(&resp);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

static void test_fetch_http__error_body_not_to_sink(void **state)
{
	_cleanup_(buf_done) buf got = BUF_INIT;
	fetch_http_response resp;
	fetch_http *h = client(0);
	tsrv s;
	char *u;

	tsrv_start(&s, h_plain, NULL);
	u = url(&s, "/missing");
	fetch_http_request req = { .url = u, .sink = sink_buf, .userdata = &got };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	assert_int_equal(resp.status, 404);
	assert_int_equal(got.len, 0);
	assert_string_equal(resp.body.data, "{\"errors\":[]}");
	fetch_http_response_done(&resp);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

static void h_big(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	tsrv_reply(fd, 200, NULL, blob, BLOB_LEN);
}

static void test_fetch_http__max_body(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_http_response resp;
	fetch_http *h = client(2);
	tsrv s;
	char *u;

	tsrv_start(&s, h_big, NULL);
	u = url(&s, "/big");
	fetch_http_request req = { .url = u, .max_body = 1000 };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "over 1000 bytes"));
	assert_int_equal(s.n_requests, 1); /* not retried */
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

/* ---- Retries ---- */

static void h_flaky(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	int fails = *(int *)s->userdata;

	if ((int)n < fails)
		tsrv_reply(fd, n % 2 ? 503 : 429, "Retry-After: 0\r\n", "busy", 4);
	else
		tsrv_reply(fd, 200, NULL, "done", 4);
}

static void test_fetch_http__retries_then_succeeds(void **state)
{
	fetch_http_response resp;
	fetch_http *h = client(4);
	int fails = 3;
	tsrv s;
	char *u;

	tsrv_start(&s, h_flaky, &fails);
	u = url(&s, "/x");
	fetch_http_request req = { .url = u };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 4);
	assert_string_equal(resp.body.data, "done");
	fetch_http_response_done(&resp);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

static void test_fetch_http__retries_exhausted(void **state)
{
	fetch_http_response resp;
	fetch_http *h = client(2);
	int fails = 100;
	tsrv s;
	char *u;

	tsrv_start(&s, h_flaky, &fails);
	u = url(&s, "/x");
	fetch_http_request req = { .url = u };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	assert_int_equal(resp.status, 429); /* the last answer is the caller's to judge */
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(s.n_requests, 3);
	fetch_http_response_done(&resp);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

static void h_retry_after(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	if (n == 0)
		tsrv_reply(fd, 429, "Retry-After: 1\r\n", "", 0);
	else
		tsrv_reply(fd, 200, NULL, "ok", 2);
}

static void test_fetch_http__retry_after_honoured(void **state)
{
	fetch_http_response resp;
	fetch_http *h = client(3);
	struct timespec a, b;
	tsrv s;
	char *u;

	tsrv_start(&s, h_retry_after, NULL);
	u = url(&s, "/x");
	fetch_http_request req = { .url = u };
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(resp.status, 200);
	/* backoff_ms is 10: only Retry-After explains a wait of a second. */
	assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 >= 950);
	fetch_http_response_done(&resp);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

static void h_500(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	tsrv_reply(fd, 500, NULL, "no", 2);
}

static void test_fetch_http__put_not_retried_on_500(void **state)
{
	fetch_http_response resp;
	fetch_http *h = client(3);
	tsrv s;
	char *u;

	tsrv_start(&s, h_500, NULL);
	u = url(&s, "/x");
	fetch_http_request req = { .method = "PUT", .url = u, .body = "abc", .body_len = 3 };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	assert_int_equal(resp.status, 500);
	assert_int_equal(s.n_requests, 1);
	fetch_http_response_done(&resp);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

static void test_fetch_http__connection_refused(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_http_response resp;
	fetch_http *h = client(1);
	tsrv s;
	char *u;

	/* A port that was just free: start and stop a server on it. */
	tsrv_start(&s, h_500, NULL);
	tsrv_stop(&s);
	u = url(&s, "/x");
	fetch_http_request req = { .url = u };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, &err), -ECONNREFUSED);
	assert_non_null(strstr(err.msg, "after 2 attempts"));
	assert_non_null(strstr(err.msg, u));
	free(u);
	fetch_http_free(h);
}

/* ---- Resumption ---- */

typedef enum cut_mode {
	CUT_206,
	CUT_200,
	CUT_BAD_RANGE,
	CUT_ALWAYS
} cut_mode;

static void h_cut(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	cut_mode m = *(cut_mode *)s->userdata;
	unsigned long long from = 0;

	if (req->range[0])
		assert_int_equal(sscanf(req->range, "bytes=%llu-", &from), 1);
	if (n == 0 || m == CUT_ALWAYS) {
		/* Promise everything, send a part, hang up. */
		size_t part = m == CUT_ALWAYS ? 30000 : 70000;
		if (from + part > BLOB_LEN)
			part = BLOB_LEN - from;
		char cr[128] = "";
		if (from)
			snprintf(cr, sizeof(cr), "Content-Range: bytes %llu-%d/%d\r\n", from,
				 BLOB_LEN - 1, BLOB_LEN);
		tsrv_printf(fd, "HTTP/1.1 %d X\r\nContent-Length: %llu\r\n%s\r\n", from ? 206 : 200,
			    (unsigned long long)(BLOB_LEN - from), cr);
		(void)fd_write_all(fd, blob + from, part);
		return;
	}
	if (m == CUT_200) {
		tsrv_reply(fd, 200, NULL, blob, BLOB_LEN);
		return;
	}
	char cr[128];
	snprintf(cr, sizeof(cr), "Content-Range: bytes %llu-%d/%d\r\n",
		 m == CUT_BAD_RANGE ? from + 1 : from, BLOB_LEN - 1, BLOB_LEN);
	tsrv_printf(fd, "HTTP/1.1 206 X\r\nContent-Length: %llu\r\n%s\r\n",
		    (unsigned long long)(BLOB_LEN - from), cr);
	(void)fd_write_all(fd, blob + from, BLOB_LEN - from);
}

static int resume_run(cut_mode m, unsigned retries, buf *got, fetch_http_response *resp, tsrv *s,
		      berth_error *err)
{
	fetch_http *h = client(retries);
	char *u;
	int r;

	tsrv_start(s, h_cut, &m);
	u = url(s, "/blob");
	fetch_http_request req = { .url = u, .sink = sink_buf, .userdata = got, .resume = true };
	r = fetch_http_request_do(h, &req, resp, err);
	free(u);
	tsrv_stop(s);
	fetch_http_free(h);
	return r;
}

static void test_fetch_http__resume_206(void **state)
{
	_cleanup_(buf_done) buf got = BUF_INIT;
	fetch_http_response resp;
	tsrv s;

	assert_int_equal(resume_run(CUT_206, 3, &got, &resp, &s, NULL), 0);
	assert_int_equal(resp.status, 206);
	assert_int_equal(resp.resumed, 1);
	assert_int_equal(got.len, BLOB_LEN);
	assert_memory_equal(got.data, blob, BLOB_LEN);
	assert_int_equal(resp.delivered, BLOB_LEN);
	assert_string_equal(s.requests[0].range, "");
	assert_string_equal(s.requests[1].range, "bytes=70000-");
	fetch_http_response_done(&resp);
}

static void test_fetch_http__resume_answered_200(void **state)
{
	_cleanup_(buf_done) buf got = BUF_INIT;
	fetch_http_response resp;
	tsrv s;

	assert_int_equal(resume_run(CUT_200, 3, &got, &resp, &s, NULL), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(got.len, BLOB_LEN); /* the bytes already delivered were skipped */
	assert_memory_equal(got.data, blob, BLOB_LEN);
	fetch_http_response_done(&resp);
}

static void test_fetch_http__resume_wrong_range(void **state)
{
	_cleanup_(buf_done) buf got = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_http_response resp;
	tsrv s;

	assert_int_equal(resume_run(CUT_BAD_RANGE, 3, &got, &resp, &s, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "asked for bytes from 70000"));
	assert_int_equal(got.len, 70000); /* nothing misplaced was delivered */
}

static void test_fetch_http__resume_keeps_going_while_progressing(void **state)
{
	_cleanup_(buf_done) buf got = BUF_INIT;
	fetch_http_response resp;
	tsrv s;

	/* 30000 bytes per connection: 7 cuts, more than the 2 retries, but each one progresses. */
	assert_int_equal(resume_run(CUT_ALWAYS, 2, &got, &resp, &s, NULL), 0);
	assert_int_equal(got.len, BLOB_LEN);
	assert_memory_equal(got.data, blob, BLOB_LEN);
	assert_true(resp.resumed >= 6);
	fetch_http_response_done(&resp);
}

static void test_fetch_http__no_resume_without_flag(void **state)
{
	_cleanup_(buf_done) buf got = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_http_response resp;
	fetch_http *h = client(3);
	cut_mode m = CUT_206;
	tsrv s;
	char *u;

	tsrv_start(&s, h_cut, &m);
	u = url(&s, "/blob");
	fetch_http_request req = { .url = u, .sink = sink_buf, .userdata = &got };
	/* The sink has bytes it cannot take back: no retry, an error. */
	assert_int_equal(fetch_http_request_do(h, &req, &resp, &err), -ECONNRESET);
	assert_int_equal(s.n_requests, 1);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

static int sink_fail(void *userdata, const void *data, size_t len)
{
	return -ENOSPC;
}

static void test_fetch_http__sink_error(void **state)
{
	fetch_http_response resp;
	fetch_http *h = client(3);
	tsrv s;
	char *u;

	tsrv_start(&s, h_big, NULL);
	u = url(&s, "/big");
	fetch_http_request req = { .url = u, .sink = sink_fail, .resume = true };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), -ENOSPC);
	assert_int_equal(s.n_requests, 1);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

/* ---- Redirects ---- */

static void h_target(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	tsrv_reply(fd, 200, NULL, "target", 6);
}

static void h_redirect(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	const tsrv *other = s->userdata;
	char loc[160];

	if (streq(req->path, "/away"))
		snprintf(loc, sizeof(loc), "Location: %s/there\r\n", other->base);
	else if (streq(req->path, "/near"))
		snprintf(loc, sizeof(loc), "Location: /here?x=1\r\n");
	else {
		tsrv_reply(fd, 200, NULL, "here", 4);
		return;
	}
	tsrv_reply(fd, 307, loc, "", 0);
}

static void test_fetch_http__redirect_drops_authorization(void **state)
{
	fetch_http_response resp;
	fetch_http *h = client(0);
	tsrv a, b;
	char *u;

	tsrv_start(&b, h_target, NULL);
	tsrv_start(&a, h_redirect, &b);
	u = url(&a, "/away");
	fetch_http_request req = { .url = u, .authorization = "Bearer secret" };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "target");
	assert_string_equal(a.requests[0].authorization, "Bearer secret");
	assert_int_equal(b.n_requests, 1);
	assert_string_equal(b.requests[0].authorization, ""); /* another port: another origin */
	assert_non_null(strstr(resp.url, "/there"));
	fetch_http_response_done(&resp);
	free(u);

	u = url(&a, "/near");
	req.url = u;
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	assert_string_equal(resp.body.data, "here");
	assert_string_equal(a.requests[2].path, "/here?x=1");
	assert_string_equal(a.requests[2].authorization, "Bearer secret"); /* same origin */
	fetch_http_response_done(&resp);
	free(u);
	tsrv_stop(&a);
	tsrv_stop(&b);
	fetch_http_free(h);
}

static void h_loop(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	tsrv_reply(fd, 302, "Location: /again\r\n", "", 0);
}

static void test_fetch_http__redirect_loop(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_http_response resp;
	fetch_http *h = client(0);
	tsrv s;
	char *u;

	tsrv_start(&s, h_loop, NULL);
	u = url(&s, "/x");
	fetch_http_request req = { .url = u };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, &err), -ELOOP);
	assert_int_equal(s.n_requests, 11);
	free(u);
	tsrv_stop(&s);
	fetch_http_free(h);
}

/* ---- Uploads ---- */

static void h_echo_len(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	char b[64];
	int len = snprintf(b, sizeof(b), "%s %zu %c%c", req->method, req->body_len,
			   req->body_len ? req->body[0] : '-',
			   req->body_len ? req->body[req->body_len - 1] : '-');

	tsrv_reply(fd, 201, NULL, b, (size_t)len);
}

static void test_fetch_http__uploads(void **state)
{
	fetch_http_response resp;
	fetch_http *h = client(0);
	int fd = memfd_create("body", MFD_CLOEXEC);
	tsrv s;
	char *u;

	assert_true(fd >= 0);
	assert_int_equal(fd_write_all(fd, blob, BLOB_LEN), 0);
	tsrv_start(&s, h_echo_len, NULL);
	u = url(&s, "/up");
	fetch_http_request req = { .method = "PATCH",
				   .url = u,
				   .body_is_fd = true,
				   .body_fd = fd,
				   .body_offset = 1000,
				   .body_len = 5000 };
	assert_int_equal(fetch_http_request_do(h, &req, &resp, NULL), 0);
	assert_int_equal(resp.status, 201);
	char want[64];
	snprintf(want, sizeof(want), "PATCH 5000 %c%c", blob[1000], blob[5999]);
	assert_string_equal(resp.body.data, want);
	assert_memory_equal(s.requests[0].body, blob + 1000, 5000);
	fetch_http_response_done(&resp);

	fetch_http_request post = { .method = "POST", .url = u };
	assert_int_equal(fetch_http_request_do(h, &post, &resp, NULL), 0);
	assert_string_equal(resp.body.data, "POST 0 --");
	fetch_http_response_done(&resp);

	fetch_http_request put = { .method = "PUT", .url = u, .body = "manifest", .body_len = 8 };
	assert_int_equal(fetch_http_request_do(h, &put, &resp, NULL), 0);
	assert_string_equal(resp.body.data, "PUT 8 mt");
	fetch_http_response_done(&resp);

	fetch_http_request head = { .method = "HEAD", .url = u };
	assert_int_equal(fetch_http_request_do(h, &head, &resp, NULL), 0);
	assert_int_equal(resp.status, 201);
	assert_int_equal(resp.body.len, 0);
	fetch_http_response_done(&resp);
	free(u);
	tsrv_stop(&s);
	close(fd);
	fetch_http_free(h);
}

/* ---- URL helpers ---- */

static void test_fetch_http__url_helpers(void **state)
{
	char *s;

	s = fetch_http_origin("HTTPS://Registry.Example:443/v2/x?y");
	assert_string_equal(s, "https://registry.example:443");
	free(s);
	s = fetch_http_origin("http://127.0.0.1/v2/");
	assert_string_equal(s, "http://127.0.0.1:80");
	free(s);
	assert_null(fetch_http_origin("not a url"));
	s = fetch_http_resolve("http://h:1/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u?_state=x");
	assert_string_equal(s, "http://h:1/v2/a/blobs/uploads/u?_state=x");
	free(s);
	s = fetch_http_resolve("http://h:1/v2/a/", "https://other/b");
	assert_string_equal(s, "https://other/b");
	free(s);
	s = fetch_http_escape("repository:a/b:pull,push");
	assert_string_equal(s, "repository%3Aa%2Fb%3Apull%2Cpush");
	free(s);
}

static int setup(void **state)
{
	fill_blob();
	return 0;
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup(test_fetch_http__get_body_and_headers, setup),
	cmocka_unit_test_setup(test_fetch_http__error_body_not_to_sink, setup),
	cmocka_unit_test_setup(test_fetch_http__max_body, setup),
	cmocka_unit_test_setup(test_fetch_http__retries_then_succeeds, setup),
	cmocka_unit_test_setup(test_fetch_http__retries_exhausted, setup),
	cmocka_unit_test_setup(test_fetch_http__retry_after_honoured, setup),
	cmocka_unit_test_setup(test_fetch_http__put_not_retried_on_500, setup),
	cmocka_unit_test_setup(test_fetch_http__connection_refused, setup),
	cmocka_unit_test_setup(test_fetch_http__resume_206, setup),
	cmocka_unit_test_setup(test_fetch_http__resume_answered_200, setup),
	cmocka_unit_test_setup(test_fetch_http__resume_wrong_range, setup),
	cmocka_unit_test_setup(test_fetch_http__resume_keeps_going_while_progressing, setup),
	cmocka_unit_test_setup(test_fetch_http__no_resume_without_flag, setup),
	cmocka_unit_test_setup(test_fetch_http__sink_error, setup),
	cmocka_unit_test_setup(test_fetch_http__redirect_drops_authorization, setup),
	cmocka_unit_test_setup(test_fetch_http__redirect_loop, setup),
	cmocka_unit_test_setup(test_fetch_http__uploads, setup),
	cmocka_unit_test_setup(test_fetch_http__url_helpers, setup),
};

UNIT_EXPORT(fetch, http, tests);
