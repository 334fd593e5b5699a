/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/fetch/fetch-test.h: helpers shared by the unpack and pack tests: a scratch store,
 * layer tars made by mktar.py (python3's tarfile, GNU tar for sparse files) and by
 * tests/integration/data/mkhostile.py, compression, and unpacking from memory.
 *
 * Paths to the scripts are found from __FILE__, which meson passes relative to the build
 * directory, the directory `meson test` runs the tests in.
 */
#pragma once

#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "fetch/pack.h"
#include "fetch/unpack.h"
#include "store/store.h"
#include "store/tree.h"
#include "tests/unit/unit.h"
#include "util/buf.h"
#include "util/fileio.h"

typedef struct tstore {
	char *dir;
	store *s;
} tstore;

static inline void tstore_open(tstore *t)
{
	berth_error err = BERTH_ERROR_INIT;

	t->dir = unit_tmpdir();
	assert_int_equal(store_open(t->dir, STORE_OPEN_CREATE, &t->s, &err), 0);
	assert_int_equal(store_write_begin(t->s), 0);
}

static inline void tstore_close(tstore *t)
{
	store_write_end(t->s);
	store_free(t->s);
	unit_tmpdir_remove(t->dir);
}

/* A path next to this header (e.g. "mktar.py") or relative to it. */
static inline char *test_source_path(const char *rel)
{
	char *file = strdup(__FILE__), *p = NULL;

	assert_non_null(file);
	assert_true(asprintf(&p, "%s/%s", dirname(file), rel) > 0);
	free(file);
	return p;
}

static inline const char *test_python(void)
{
	/* The distribution's interpreter: a pyenv shim on PATH costs a second per start. */
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

/* Runs argv, its stdout into out (if non-NULL); returns the exit status. */
static inline int test_run(char *const argv[], buf *out)
{
	int p[2], status;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	if (out)
		assert_true(fd_read_all(p[0], out, SIZE_MAX) >= 0);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* mktar.py RECIPE FORMAT -> the tar's bytes in out. */
static inline void make_tar(const char *dir, const char *recipe, const char *fmt, buf *out)
{
	char *script = test_source_path("mktar.py"), *path = path_join(dir, "made.tar");
	char *argv[] = { (char *)test_python(), script, (char *)recipe, (char *)fmt, path, NULL };

	assert_int_equal(test_run(argv, NULL), 0);
	buf_reset(out);
	assert_int_equal(read_file(AT_FDCWD, path, SIZE_MAX, out), 0);
	unlink(path);
	free(script);
	free(path);
}

static inline void gzip_buf(const void *in, size_t len, buf *out)
{
	z_stream z = {};
	int zr;

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	buf_reset(out);
	assert_int_equal(buf_reserve(out, deflateBound(&z, len) + 64), 0);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out->data;
	z.avail_out = (uInt)(out->cap - 1);
	zr = deflate(&z, Z_FINISH);
	assert_int_equal(zr, Z_STREAM_END);
	out->len = z.total_out;
	deflateEnd(&z);
}

static inline void gunzip_buf(const void *in, size_t len, buf *out)
{
	z_stream z = {};
	uint8_t tmp[65536];
	int zr;

	assert_int_equal(inflateInit2(&z, 31), Z_OK);
	buf_reset(out);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof(tmp);
		zr = inflate(&z, Z_NO_FLUSH);
		assert_true(zr == Z_OK || zr == Z_STREAM_END);
		assert_int_equal(buf_append(out, tmp, sizeof(tmp) - z.avail_out), 0);
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
}

static inline void zstd_buf(const void *in, size_t len, buf *out)
{
	size_t n;

	buf_reset(out);
	assert_int_equal(buf_reserve(out, ZSTD_compressBound(len)), 0);
	n = ZSTD_compress(out->data, out->cap, in, len, 3);
	assert_false(ZSTD_isError(n));
	out->len = n;
}

static inline void unzstd_buf(const void *in, size_t len, buf *out)
{
	unsigned long long n = ZSTD_getFrameContentSize(in, len);
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint8_t tmp[65536];
	ZSTD_inBuffer ib = { in, len, 0 };

	(void)n;
	buf_reset(out);
	while (ib.pos < ib.size) {
		ZSTD_outBuffer ob = { tmp, sizeof(tmp), 0 };
		size_t k = ZSTD_decompressStream(d, &ob, &ib);
		assert_false(ZSTD_isError(k));
		assert_int_equal(buf_append(out, tmp, ob.pos), 0);
	}
	ZSTD_freeDCtx(d);
}

/* An fd positioned at the start of a copy of data (memfd: no file system involved). */
static inline int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fd_write_all(fd, data, len), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static inline int unpack_mem(store *s, const void *data, size_t len, const fetch_unpack_opts *opts,
			     fetch_unpack_result *res, berth_error *err)
{
	int fd = memfd_with(data, len);
	int r = fetch_unpack_fd(s, fd, opts, res, err);

	close(fd);
	return r;
}

static inline int sink_to_buf(void *userdata, const void *data, size_t len)
{
	return buf_append(userdata, data, len);
}

static inline int pack_mem(store *s, const store_layer *l, buf *out, berth_error *err)
{
	buf_reset(out);
	return fetch_pack_layer(s, l, sink_to_buf, out, err);
}

static inline int count_cb(store *s, const store_digest *d, void *userdata)
{
	(*(size_t *)userdata)++;
	return 0;
}

static inline size_t count_objects(store *s, store_kind k)
{
	size_t n = 0;

	assert_int_equal(store_object_foreach(s, k, count_cb, &n), 0);
	return n;
}

static inline void assert_digest_of(const void *data, size_t len, const store_digest *d)
{
	store_digest got;

	store_digest_buf(data, len, &got);
	assert_true(store_digest_eq(&got, d));
}
