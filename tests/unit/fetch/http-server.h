/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/fetch/http-server.h: a scripted HTTP/1.1 server on 127.0.0.1 for the http and auth
 * tests. A thread accepts connections, reads one request from each (headers and a
 * Content-Length body), records it, and hands it to the test's handler, which writes whatever
 * bytes it likes (good answers, cut ones, wrong ones) before the connection is closed.
 */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "util/buf.h"
#include "util/fileio.h"

#define TSRV_MAX_REQUESTS 64

typedef struct tsrv_request {
	char method[16];
	char path[1024];
	char authorization[512];
	char range[128];
	size_t body_len;
	char *body;
} tsrv_request;

typedef struct tsrv tsrv;
/* Writes the answer to fd; n is the request's number (0 first). */
typedef void (*tsrv_handler)(tsrv *s, const tsrv_request *req, unsigned n, int fd);

struct tsrv {
	int listen_fd;
	int port;
	char base[64]; /* "http://127.0.0.1:PORT" */
	pthread_t thread;
	tsrv_handler handler;
	void *userdata;
	pthread_mutex_t lock;
	tsrv_request requests[TSRV_MAX_REQUESTS];
	unsigned n_requests;
	atomic_int stop;
};

static inline void tsrv_header(const char *hdrs, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *l = hdrs; l && *l;) {
		const char *eol = strstr(l, "\r\n");
		if (!eol)
			break;
		if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
			const char *v = l + n + 1;
			while (*v == ' ')
				v++;
			snprintf(out, len, "%.*s", (int)(eol - v), v);
			return;
		}
		l = eol + 2;
	}
}

static inline int tsrv_read_request(int fd, tsrv_request *req)
{
	char hdr[16384];
	size_t n = 0;
	char *end = NULL, cl[32];

	memset(req, 0, sizeof(*req));
	while (!end && n < sizeof(hdr) - 1) {
		ssize_t k = read(fd, hdr + n, sizeof(hdr) - 1 - n);
		if (k <= 0)
			return -1;
		n += (size_t)k;
		hdr[n] = '\0';
		end = strstr(hdr, "\r\n\r\n");
	}
	if (!end)
		return -1;
	sscanf(hdr, "%15s %1023s", req->method, req->path);
	tsrv_header(strstr(hdr, "\r\n") + 2, "Authorization", req->authorization,
		    sizeof(req->authorization));
	tsrv_header(strstr(hdr, "\r\n") + 2, "Range", req->range, sizeof(req->range));
	tsrv_header(strstr(hdr, "\r\n") + 2, "Content-Length", cl, sizeof(cl));
	req->body_len = (size_t)strtoull(cl, NULL, 10);
	req->body = calloc(1, req->body_len + 1);
	size_t have = n - (size_t)(end + 4 - hdr);
	if (have > req->body_len)
		have = req->body_len;
	memcpy(req->body, end + 4, have);
	while (have < req->body_len) {
		ssize_t k = read(fd, req->body + have, req->body_len - have);
		if (k <= 0)
			return -1;
		have += (size_t)k;
	}
	return 0;
}

static inline void *tsrv_main(void *userdata)
{
	tsrv *s = userdata;

	while (!s->stop) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		tsrv_request req;
		unsigned n;
		if (fd < 0)
			continue;
		if (s->stop) {
			close(fd);
			break;
		}
		if (tsrv_read_request(fd, &req) == 0) {
			pthread_mutex_lock(&s->lock);
			n = s->n_requests;
			if (n < TSRV_MAX_REQUESTS)
				s->requests[s->n_requests++] = req;
			else
				free(req.body);
			pthread_mutex_unlock(&s->lock);
			s->handler(s, &s->requests[n < TSRV_MAX_REQUESTS ? n : 0], n, fd);
		}
		shutdown(fd, SHUT_RDWR);
		close(fd);
	}
	return NULL;
}

static inline void tsrv_start(tsrv *s, tsrv_handler h, void *userdata)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->handler = h;
	s->userdata = userdata;
	pthread_mutex_init(&s->lock, NULL);
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->listen_fd >= 0);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->listen_fd, 16), 0);
	assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, tsrv_main, s), 0);
}

static inline void tsrv_stop(tsrv *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)s->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	s->stop = 1;
	/* Wake accept() up with one last connection. */
	if (fd >= 0) {
		(void)connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
	}
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	for (unsigned i = 0; i < s->n_requests; i++)
		free(s->requests[i].body);
	pthread_mutex_destroy(&s->lock);
}

static inline void tsrv_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tsrv_printf(int fd, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	(void)fd_write_all(fd, s, (size_t)n);
	free(s);
}

/* A complete answer with a body. */
static inline void tsrv_reply(int fd, int status, const char *extra_headers, const void *body,
			      size_t len)
{
	tsrv_printf(fd, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
		    status, len, extra_headers ? extra_headers : "");
	(void)fd_write_all(fd, body, len);
}
