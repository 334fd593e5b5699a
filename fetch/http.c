/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/http.c: the HTTP client of fetch/http.h over libcurl's easy interface.
 *
 * One request = attempts (retries, resumptions) x hops (redirects) x one curl transfer each. The
 * curl handle is reset before every transfer (curl_easy_reset keeps the connection cache, so
 * keep-alive works across requests) and carries no state from one transfer to the next: what
 * persists lives in fetch_http_response (bytes delivered so far) and in the attempt loop.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetch/http.h"
#include "util/log.h"
#include "util/macro.h"

#define REDIRECTS_MAX	 10
#define ERROR_BODY_MAX	 (64u * 1024)
#define DEFAULT_MAX_BODY (8u * 1024 * 1024)
#define HEADERS_MAX	 256

struct fetch_http {
	CURL *curl;
	fetch_http_opts opts;
	char *user_agent;
	unsigned seed; /* backoff jitter */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static unsigned env_unsigned(const char *name, unsigned def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtoul(v, &end, 10);
	return errno || *end || n > 1000000 ? def : (unsigned)n;
}

void fetch_http_opts_default(fetch_http_opts *opts)
{
	*opts = (fetch_http_opts){
		.retries = env_unsigned("BERTH_HTTP_RETRIES", 4),
		.backoff_ms = env_unsigned("BERTH_HTTP_BACKOFF_MS", 250),
		.max_backoff_ms = 30000,
		.connect_timeout_ms = 30000,
		.stall_timeout_s = 60,
	};
}

int fetch_http_new(const fetch_http_opts *opts, fetch_http **ret)
{
	_cleanup_free_ fetch_http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -EIO;
	if (opts)
		h->opts = *opts;
	else
		fetch_http_opts_default(&h->opts);
	if (asprintf(&h->user_agent, "%s",
		     h->opts.user_agent ? h->opts.user_agent : "berth/" BERTH_VERSION) < 0)
		return -ENOMEM;
	h->opts.user_agent = h->user_agent;
	h->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)h;
	if (!(h->curl = curl_easy_init())) {
		free(h->user_agent);
		return -ENOMEM;
	}
	*ret = TAKE_PTR(h);
	return 0;
}

fetch_http *fetch_http_free(fetch_http *h)
{
	if (!h)
		return NULL;
	curl_easy_cleanup(h->curl);
	free(h->user_agent);
	free(h);
	return NULL;
}

/* ---- Responses ---- */

static void headers_free(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

void fetch_http_response_done(fetch_http_response *r)
{
	if (!r)
		return;
	buf_done(&r->body);
	headers_free(r->headers);
	free(r->url);
	*r = (fetch_http_response){};
}

const char *fetch_http_response_header_nth(const fetch_http_response *r, const char *name, size_t n)
{
	size_t len = strlen(name);

	for (size_t i = 0; r->headers && r->headers[i]; i++) {
		const char *h = r->headers[i];
		if (strncasecmp(h, name, len) != 0 || h[len] != ':')
			continue;
		if (n-- > 0)
			continue;
		h += len + 1;
		while (*h == ' ' || *h == '\t')
			h++;
		return h;
	}
	return NULL;
}

/* ---- One transfer ---- */

typedef enum body_mode {
	BODY_UNDECIDED,
	BODY_SINK,    /* 2xx with a sink */
	BODY_KEEP,    /* 2xx without a sink: into resp->body, up to max_body */
	BODY_ERROR,   /* other statuses: into resp->body, up to ERROR_BODY_MAX */
	BODY_DISCARD, /* redirects */
} body_mode;

typedef struct xfer {
	fetch_http *h;
	const fetch_http_request *req;
	fetch_http_response *resp;
	char **headers;
	size_t n_headers;
	uint64_t want_start; /* the offset of the next byte the sink expects */
	uint64_t skip;	     /* bytes of this body to drop (a 200 answer to a Range request) */
	body_mode mode;
	int error; /* set by callbacks: why the transfer was aborted */
	char error_msg[256];
	uint64_t up_pos; /* upload position within the request body */
} xfer;

static void xfer_headers_reset(xfer *x)
{
	headers_free(x->headers);
	x->headers = NULL;
	x->n_headers = 0;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
	xfer *x = userdata;
	size_t n = size * nitems, len = n;
	char **v;

	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len >= 5 && strneq(data, "HTTP/", 5)) {
		/* A new response (after 100 Continue, or a redirect): its headers only. */
		xfer_headers_reset(x);
		return n;
	}
	if (len == 0 || x->n_headers >= HEADERS_MAX)
		return n;
	v = realloc(x->headers, (x->n_headers + 2) * sizeof(char *));
	if (!v)
		return 0;
	x->headers = v;
	if (!(v[x->n_headers] = strndup(data, len)))
		return 0;
	v[++x->n_headers] = NULL;
	return n;
}

static const char *xfer_header(xfer *x, const char *name)
{
	fetch_http_response tmp = { .headers = x->headers };

	return fetch_http_response_header(&tmp, name);
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static int abort_xfer(xfer *x, int code, const char *fmt, ...) _printf_(3, 4);
static int abort_xfer(xfer *x, int code, const char *fmt, ...)
{
	va_list ap;

	x->error = code;
	va_start(ap, fmt);
	vsnprintf(x->error_msg, sizeof(x->error_msg), fmt, ap);
	va_end(ap);
	return code;
}

/* A 206 must start where the sink stands; "bytes A-B/C". */
static int check_content_range(xfer *x)
{
	const char *cr = xfer_header(x, "Content-Range");
	unsigned long long a;

	if (!cr || sscanf(cr, "bytes %llu-", &a) != 1)
		return abort_xfer(x, -EBADMSG, "206 answer without a Content-Range");
	if (a != x->want_start)
		return abort_xfer(x, -EBADMSG, "asked for bytes from %llu, got '%s'",
				  (unsigned long long)x->want_start, cr);
	return 0;
}

static int decide_mode(xfer *x)
{
	long status = 0;

	curl_easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (is_redirect(status) && xfer_header(x, "Location")) {
		x->mode = BODY_DISCARD;
		return 0;
	}
	if (status < 200 || status > 299) {
		x->mode = BODY_ERROR;
		return 0;
	}
	if (x->want_start > 0) {
		if (status == 206 && check_content_range(x) < 0)
			return x->error;
		if (status == 200)
			x->skip = x->want_start; /* the server ignored Range: drop what we have */
	} else if (status == 206)
		return abort_xfer(x, -EBADMSG, "206 answer to a request without Range");
	x->mode = x->req->sink ? BODY_SINK : BODY_KEEP;
	return 0;
}

static int deliver(xfer *x, const char *data, size_t n)
{
	const fetch_http_request *req = x->req;
	size_t max = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
	int r;

	if (x->skip > 0) {
		size_t k = (size_t)MIN((uint64_t)n, x->skip);
		x->skip -= k;
		data += k;
		n -= k;
	}
	if (n == 0)
		return 0;
	switch (x->mode) {
	case BODY_SINK:
		if ((r = req->sink(req->userdata, data, n)) < 0)
			return abort_xfer(x, r, "%s", "");
		x->resp->delivered += n;
		return 0;
	case BODY_KEEP:
		if (x->resp->body.len + n > max)
			return abort_xfer(x, -EFBIG, "the body is over %zu bytes", max);
		x->resp->delivered += n;
		return buf_append(&x->resp->body, data, n);
	case BODY_ERROR:
		if (x->resp->body.len + n > ERROR_BODY_MAX)
			n = ERROR_BODY_MAX - x->resp->body.len;
		return buf_append(&x->resp->body, data, n);
	default:
		return 0;
	}
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	xfer *x = userdata;
	size_t n = size * nmemb;

	if (x->mode == BODY_UNDECIDED && decide_mode(x) < 0)
		return 0;
	if (deliver(x, data, n) < 0) {
		if (!x->error)
			abort_xfer(x, -ENOMEM, "out of memory");
		return 0;
	}
	return n;
}

static size_t on_read(char *out, size_t size, size_t nitems, void *userdata)
{
	xfer *x = userdata;
	const fetch_http_request *req = x->req;
	size_t want = size * nitems;
	uint64_t left = req->body_len - x->up_pos;
	ssize_t n;

	if (want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	if (!req->body_is_fd) {
		memcpy(out, (const char *)req->body + x->up_pos, want);
		n = (ssize_t)want;
	} else {
		do
			n = pread(req->body_fd, out, want, (off_t)(req->body_offset + x->up_pos));
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			abort_xfer(x, n < 0 ? negative_errno() : -EIO, "cannot read the body: %s",
				   n < 0 ? strerror(errno) : "early end of file");
			return CURL_READFUNC_ABORT;
		}
	}
	x->up_pos += (uint64_t)n;
	if (req->upload_progress)
		req->upload_progress(req->userdata, x->up_pos);
	return (size_t)n;
}

static int on_seek(void *userdata, curl_off_t offset, int origin)
{
	xfer *x = userdata;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->up_pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static int add_header(struct curl_slist **l, const char *fmt, ...) _printf_(2, 3);
static int add_header(struct curl_slist **l, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	struct curl_slist *n;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0 || !(n = curl_slist_append(*l, s)))
		return -ENOMEM;
	*l = n;
	return 0;
}

static void slist_freep(struct curl_slist **l)
{
	curl_slist_free_all(*l);
}

static int build_headers(const fetch_http_request *req, bool send_auth, bool has_body,
			 uint64_t want_start, struct curl_slist **ret)
{
	struct curl_slist *l = NULL;
	int r = 0;

	for (size_t i = 0; req->headers && req->headers[i] && r >= 0; i++)
		r = add_header(&l, "%s", req->headers[i]);
	if (r >= 0 && send_auth)
		r = add_header(&l, "Authorization: %s", req->authorization);
	if (r >= 0 && want_start > 0)
		r = add_header(&l, "Range: bytes=%llu-", (unsigned long long)want_start);
	/* No 100-continue round trip before uploads: registries answer errors after the body. */
	if (r >= 0 && has_body)
		r = add_header(&l, "Expect:");
	if (r < 0) {
		curl_slist_free_all(l);
		return r;
	}
	*ret = l;
	return 0;
}

static void set_method(CURL *c, const char *method, bool has_body, uint64_t len)
{
	if (streq(method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (streq(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(has_body ? len : 0));
		if (!has_body)
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	} else if (streq(method, "PUT") || (has_body && !streq(method, "GET"))) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(has_body ? len : 0));
		if (!streq(method, "PUT"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else if (!streq(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

static void set_options(fetch_http *h, xfer *x, const char *url, const char *method, bool has_body,
			struct curl_slist *headers)
{
	CURL *c = h->curl;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, h->opts.user_agent);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->opts.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)h->opts.stall_timeout_s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, x);
	curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (x->req->tls_no_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	set_method(c, method, has_body, x->req->body_len);
}

/* CURLcode -> negative errno, and whether another attempt may help. */
static int map_curl_error(CURLcode cc, bool *ret_transient)
{
	*ret_transient = false;
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		*ret_transient = true;
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		*ret_transient = true;
		return -ETIMEDOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		*ret_transient = true;
		return -ECONNRESET;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

typedef struct outcome {
	int error;	/* < 0: the transfer failed */
	bool transient; /* another attempt may help */
	bool cc_refused;
	char why[320];
} outcome;

/*
 * One transfer of method to url. On an answer: 0, resp->status/headers/url set. On failure:
 * < 0 with o->why. resp->delivered grows with what the sink got, answer or not.
 */
static int transfer(fetch_http *h, const fetch_http_request *req, const char *url,
		    const char *method, bool has_body, bool send_auth, fetch_http_response *resp,
		    outcome *o)
{
	_cleanup_(slist_freep) struct curl_slist *headers = NULL;
	xfer x = { .h = h, .req = req, .resp = resp };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	int r;

	x.want_start = req->range_start + resp->delivered;
	if ((r = build_headers(req, send_auth, has_body, x.want_start, &headers)) < 0)
		return r;
	set_options(h, &x, url, method, has_body, headers);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf);
	buf_reset(&resp->body);
	cc = curl_easy_perform(h->curl);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
	if (cc != CURLE_OK) {
		xfer_headers_reset(&x);
		if (x.error < 0) {
			/* Our callback stopped it; a sink's error speaks for itself. */
			o->error = x.error;
			snprintf(o->why, sizeof(o->why), "%s", x.error_msg);
			return x.error;
		}
		o->error = map_curl_error(cc, &o->transient);
		o->cc_refused = cc == CURLE_COULDNT_CONNECT;
		snprintf(o->why, sizeof(o->why), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return o->error;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	headers_free(resp->headers);
	resp->headers = x.headers ? x.headers : calloc(1, sizeof(char *));
	if (!resp->headers)
		return -ENOMEM;
	free(resp->url);
	if (!(resp->url = strdup(url)))
		return -ENOMEM;
	log_debug("http: %s %s -> %ld", method, url, resp->status);
	return 0;
}

char *fetch_http_origin(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *ret = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    asprintf(&ret, "%s://%s:%s", scheme, host, port) >= 0)
		for (char *p = ret; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

char *fetch_http_resolve(const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *s = NULL, *ret = NULL;

	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
		ret = strdup(s);
	curl_free(s);
	curl_url_cleanup(u);
	return ret;
}

char *fetch_http_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *ret;

	if (!e)
		return NULL;
	ret = strdup(e);
	curl_free(e);
	return ret;
}

static bool same_origin(const char *url, const char *origin)
{
	_cleanup_free_ char *o = fetch_http_origin(url);

	return o && origin && streq(o, origin);
}

/* One attempt: a transfer, and the transfers its redirects lead to. */
static int attempt(fetch_http *h, const fetch_http_request *req, fetch_http_response *resp,
		   outcome *o)
{
	_cleanup_free_ char *origin = fetch_http_origin(req->url), *url = strdup(req->url);
	const char *method = req->method ? req->method : "GET";
	bool has_body = req->body_len > 0 || req->body;
	int r;

	if (!url)
		return -ENOMEM;
	for (unsigned hops = 0;; hops++) {
		bool send_auth = req->authorization && same_origin(url, origin);
		const char *loc;
		char *next;
		if ((r = transfer(h, req, url, method, has_body, send_auth, resp, o)) < 0)
			return r;
		loc = fetch_http_response_header(resp, "Location");
		if (!is_redirect(resp->status) || !loc)
			return 0;
		if (hops >= REDIRECTS_MAX) {
			snprintf(o->why, sizeof(o->why), "more than %d redirects", REDIRECTS_MAX);
			return o->error = -ELOOP;
		}
		if (!(next = fetch_http_resolve(url, loc))) {
			snprintf(o->why, sizeof(o->why), "bad redirect to '%.200s'", loc);
			return o->error = -EBADMSG;
		}
		free(url);
		url = next;
		/* 303, and 301/302 after a POST, turn into a GET, as browsers and curl do. */
		if (resp->status == 303 || (resp->status <= 302 && streq(method, "POST"))) {
			method = "GET";
			has_body = false;
		}
	}
}

static bool idempotent(const fetch_http_request *req)
{
	return !req->method || streq(req->method, "GET") || streq(req->method, "HEAD");
}

static bool status_retryable(const fetch_http_request *req, long status)
{
	if (status == 429 || status == 503)
		return true;
	return idempotent(req) && (status == 500 || status == 502 || status == 504);
}

/* Retry-After: delay-seconds or an HTTP date; -1 if absent or unreadable. */
static long retry_after_ms(const fetch_http_response *resp)
{
	const char *v = fetch_http_response_header(resp, "Retry-After");
	char *end;
	long s;
	time_t t;

	if (!v)
		return -1;
	errno = 0;
	s = strtol(v, &end, 10);
	if (!errno && end != v && *end == '\0' && s >= 0)
		return s > 86400 ? 86400000L : s * 1000;
	t = curl_getdate(v, NULL);
	if (t < 0)
		return -1;
	return t <= time(NULL) ? 0 : (long)(t - time(NULL)) * 1000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long backoff_ms(fetch_http *h, unsigned attempt, long retry_after)
{
	long ms;

	if (retry_after >= 0)
		ms = retry_after;
	else {
		ms = (long)h->opts.backoff_ms << MIN(attempt - 1, 16u);
		/* up to +25% so that parallel workers do not retry in lockstep */
		ms += ms > 4 ? (long)(rand_r(&h->seed) % (unsigned)(ms / 4)) : 0;
	}
	return MIN(ms, (long)h->opts.max_backoff_ms);
}

static int fail(const fetch_http_request *req, const outcome *o, unsigned attempts,
		berth_error *reterr)
{
	if (!o->why[0]) /* a sink's error: its own detail is set already */
		return berth_error_set(reterr, o->error, "%s %s: %s",
				       req->method ? req->method : "GET", req->url,
				       strerror(-o->error));
	if (attempts > 1)
		return berth_error_set(reterr, o->error, "%s %s: %s (after %u attempts)",
				       req->method ? req->method : "GET", req->url, o->why,
				       attempts);
	return berth_error_set(reterr, o->error, "%s %s: %s", req->method ? req->method : "GET",
			       req->url, o->why);
}

int fetch_http_request_do(fetch_http *h, const fetch_http_request *req, fetch_http_response *ret,
			  berth_error *reterr)
{
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	unsigned failures = 0, max = req->no_retry ? 0 : h->opts.retries;

	for (;;) {
		outcome o = {};
		uint64_t before = resp.delivered;
		bool again;
		char why[64];
		long wait = -1;
		int r;

		resp.attempts++;
		r = attempt(h, req, &resp, &o);
		if (r < 0 && !o.error)
			return r; /* ENOMEM and the like */
		if (resp.delivered > before)
			failures = 0; /* progress: a cut connection is not a failing server */
		if (r < 0) {
			again = o.transient && (idempotent(req) || o.cc_refused) &&
				(resp.delivered == 0 || req->resume);
			snprintf(why, sizeof(why), "%s", strerror(-r));
		} else {
			again = status_retryable(req, resp.status) &&
				(resp.delivered == 0 || req->resume);
			wait = retry_after_ms(&resp);
			snprintf(why, sizeof(why), "HTTP %ld", resp.status);
		}
		if (!again || failures >= max) {
			if (r < 0)
				return fail(req, &o, resp.attempts, reterr);
			*ret = resp;
			resp = (fetch_http_response){};
			return 0;
		}
		failures++;
		if (r < 0 && resp.delivered > 0)
			resp.resumed++;
		if (req->on_retry)
			req->on_retry(req->userdata, failures, why);
		log_debug("http: %s %s: %s, retrying (%u/%u)", req->method ? req->method : "GET",
			  req->url, why, failures, max);
		if (!(r < 0 && resp.delivered > before))
			sleep_ms(backoff_ms(h, failures, wait));
	}
}
