/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/http.h: a small HTTP client for registries, over libcurl (fetch/http.c is the only file
 * of fetch/ that includes curl/curl.h; nothing here exposes a CURL handle).
 *
 * A fetch_http is one connection cache (a curl easy handle, reused with keep-alive) and is used by
 * one thread at a time: threads that download in parallel each have their own.
 *
 * What a request does beyond one round trip, and why:
 * - Redirects are followed here, not by curl, so that the rule is ours and visible: the
 *   Authorization value is sent to the request's origin only (scheme, host and port), never to
 *   the host a redirect leads to (a registry's blob storage, a CDN). At most 10 redirects.
 * - Transient failures are retried with exponential backoff: transport errors (refused, reset,
 *   timed out, cut short) and the answers 429, 500, 502, 503 and 504; a Retry-After header
 *   (seconds or an HTTP date) replaces the backoff, capped at opts.max_backoff_ms. Methods other
 *   than GET and HEAD are retried only when the server cannot have acted on them (429, 503, or
 *   a refused connection). When retries are exhausted on an HTTP status, the request returns 0
 *   with that response: the status is the caller's to judge.
 * - A 2xx body goes to req->sink as it arrives. If the transfer is cut short after some of it
 *   was delivered and req->resume is set, the request is repeated with "Range: bytes=N-" from
 *   the first undelivered byte: a 206 must start there (Content-Range), a 200 (a server that
 *   ignores Range) is read again from the start with the bytes already delivered skipped. The
 *   sink thus sees each byte exactly once, in order, whatever happened on the wire.
 * - Bodies of other answers (errors) are kept in response->body (at most 64 KiB) for messages.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

typedef struct fetch_http fetch_http;

typedef struct fetch_http_opts {
	unsigned retries;	     /* attempts after the first; default 4 */
	unsigned backoff_ms;	     /* first wait, doubled each time; default 250 */
	unsigned max_backoff_ms;     /* cap of a wait, Retry-After included; default 30000 */
	unsigned connect_timeout_ms; /* default 30000 */
	unsigned stall_timeout_s;    /* a transfer moving no byte this long fails; default 60 */
	const char *user_agent;	     /* default "berth/VERSION" */
} fetch_http_opts;

/* Fills opts with the defaults, overridden by $BERTH_HTTP_RETRIES and $BERTH_HTTP_BACKOFF_MS. */
void fetch_http_opts_default(fetch_http_opts *opts);

/* opts NULL: the defaults. -ENOMEM, or -EIO if libcurl cannot be initialised. */
int fetch_http_new(const fetch_http_opts *opts, fetch_http **ret);
fetch_http *fetch_http_free(fetch_http *h);
static inline void fetch_http_freep(fetch_http **h)
{
	fetch_http_free(*h);
}

typedef int (*fetch_http_sink_fn)(void *userdata, const void *data, size_t len);

typedef struct fetch_http_request {
	const char *method; /* NULL: GET. HEAD, POST, PUT, PATCH, DELETE */
	const char *url;
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *authorization;  /* Authorization value for the URL's origin, or NULL */
	bool tls_no_verify;	    /* accept any certificate (insecure registries) */
	/* Request body: [body, body+body_len), or body_len bytes of body_fd from body_offset. */
	const void *body;
	bool body_is_fd;
	int body_fd;
	uint64_t body_offset;
	uint64_t body_len;
	/* 2xx response body: to sink if non-NULL, else into response->body (at most max_body). */
	fetch_http_sink_fn sink;
	void *userdata;
	size_t max_body;      /* 0: 8 MiB */
	uint64_t range_start; /* > 0: ask for the body from this offset (the sink sees it from there) */
	bool resume;	      /* GET: resume a transfer cut short, see above */
	bool no_retry;	      /* one attempt only (probes) */
	/* Told how many body bytes curl has taken so far, as an upload goes; may be NULL. */
	void (*upload_progress)(void *userdata, uint64_t sent);
	/* Told before each wait to retry (attempt counts from 1); may be NULL. */
	void (*on_retry)(void *userdata, unsigned attempt, const char *why);
} fetch_http_request;

typedef struct fetch_http_response {
	long status;
	buf body;
	char **headers;	    /* "Name: value" lines of the final response, NULL-terminated */
	char *url;	    /* the URL that answered (after redirects) */
	uint64_t delivered; /* body bytes given to the sink */
	unsigned attempts;  /* requests made, retries and resumptions included */
	unsigned resumed;   /* of which Range resumptions */
} fetch_http_response;

void fetch_http_response_done(fetch_http_response *r);
/* The value (trimmed) of the n-th header called name (case-insensitive), or NULL. */
const char *fetch_http_response_header_nth(const fetch_http_response *r, const char *name,
					   size_t n);
static inline const char *fetch_http_response_header(const fetch_http_response *r, const char *name)
{
	return fetch_http_response_header_nth(r, name, 0);
}

/*
 * Makes the request. 0 with *ret filled when the server answered (any status); -errno when it
 * could not be reached or the transfer failed past all retries (-ECONNREFUSED, -ETIMEDOUT,
 * -ECONNRESET, -EHOSTUNREACH, -EPROTO for TLS, -EFBIG past max_body), or the sink's own error.
 * reterr names the method, URL and cause. *ret is written only on success.
 */
int fetch_http_request_do(fetch_http *h, const fetch_http_request *req, fetch_http_response *ret,
			  berth_error *reterr);

/* "https://host:port" of a URL (scheme, host and port, lowercased), or NULL (ENOMEM/invalid). */
char *fetch_http_origin(const char *url);
/* Resolves a (possibly relative) reference against base, as a browser would. NULL on error. */
char *fetch_http_resolve(const char *base, const char *ref);
/* Percent-encodes s for a URL query value. NULL on ENOMEM. */
char *fetch_http_escape(const char *s);
