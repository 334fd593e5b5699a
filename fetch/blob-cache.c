/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fetch/blob-cache.c: ROOT/blob-sources. See fetch/blob-cache.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/blob-cache.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/macro.h"

#define FILE_NAME "blob-sources"
#define FILE_MAX  (4u << 20)
#define READ_MAX  (8u << 20)
#define FIELD_MAX 512

static bool field_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < FIELD_MAX && !strpbrk(s, " \t\r\n");
}

int fetch_blob_cache_add(const char *root, const fetch_blob_source *src)
{
	_cleanup_free_ char *path = path_join(root, FILE_NAME);
	_cleanup_(buf_done) buf line = BUF_INIT;
	_cleanup_close_ int fd = -EBADF;
	char d[STORE_DIGEST_STR_LEN], b[STORE_DIGEST_STR_LEN];
	struct stat st;

	if (!path)
		return -ENOMEM;
	if (!field_ok(src->media_type) || !field_ok(src->host) || !field_ok(src->repository))
		return -EINVAL;
	store_digest_str(&src->diff_id, d);
	store_digest_str(&src->blob, b);
	if (buf_printf(&line, "%s %s %llu %s %s %s\n", d, b, (unsigned long long)src->size,
		       src->media_type, src->host, src->repository) < 0)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	/* Start over rather than grow without bound; what is lost is only time. */
	if (fstat(fd, &st) == 0 && st.st_size > (off_t)FILE_MAX && ftruncate(fd, 0) < 0)
		return negative_errno();
	return fd_write_all(fd, line.data, line.len);
}

void fetch_blob_sources_free(fetch_blob_source *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].media_type);
		free(v[i].host);
		free(v[i].repository);
	}
	free(v);
}

static int parse_line(char *line, fetch_blob_source *ret)
{
	char *f[6], *save = NULL;
	unsigned long long size;
	char *end;
	size_t n = 0;

	for (char *w = strtok_r(line, " ", &save); w && n < 6; w = strtok_r(NULL, " ", &save))
		f[n++] = w;
	if (n != 6 || store_digest_parse(f[0], &ret->diff_id) < 0 ||
	    store_digest_parse(f[1], &ret->blob) < 0)
		return -EBADMSG;
	errno = 0;
	size = strtoull(f[2], &end, 10);
	if (errno || *end)
		return -EBADMSG;
	ret->size = size;
	ret->media_type = f[3];
	ret->host = f[4];
	ret->repository = f[5];
	return 0;
}

static bool seen(const fetch_blob_source *v, size_t n, const fetch_blob_source *s)
{
	for (size_t i = 0; i < n; i++)
		if (store_digest_eq(&v[i].blob, &s->blob) && streq(v[i].repository, s->repository))
			return true;
	return false;
}

static int append(fetch_blob_source **v, size_t *n, const fetch_blob_source *s)
{
	fetch_blob_source *nv = realloc(*v, (*n + 1) * sizeof(**v)), *e;

	if (!nv)
		return -ENOMEM;
	*v = nv;
	e = &nv[(*n)++];
	*e = *s;
	e->media_type = strdup(s->media_type);
	e->host = strdup(s->host);
	e->repository = strdup(s->repository);
	return e->media_type && e->host && e->repository ? 0 : -ENOMEM;
}

int fetch_blob_cache_find(const char *root, const store_digest *diff_id, const char *host,
			  fetch_blob_source **ret, size_t *ret_n)
{
	_cleanup_free_ char *path = path_join(root, FILE_NAME);
	_cleanup_(buf_done) buf b = BUF_INIT;
	fetch_blob_source *v = NULL;
	size_t n = 0;
	char *p;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_file(AT_FDCWD, path, READ_MAX, &b);
	if (r < 0 && r != -ENOENT)
		return r;
	/* Newest first: walk the lines from the end. */
	for (p = b.data ? b.data + b.len : NULL; p && p > b.data;) {
		fetch_blob_source s;
		char *start;
		if (p[-1] == '\n')
			*--p = '\0';
		start = p;
		while (start > b.data && start[-1] != '\n')
			start--;
		p = start;
		if (parse_line(start, &s) < 0 || !store_digest_eq(&s.diff_id, diff_id) ||
		    !streq(s.host, host) || seen(v, n, &s))
			continue;
		if ((r = append(&v, &n, &s)) < 0) {
			fetch_blob_sources_free(v, n);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
