/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of fetch/pgzip.c: what it writes is one gzip member that zlib inflates back to the input
 * (sizes around the 1 MiB block boundary, empty input, compressible and random data), the same
 * bytes whatever the number of threads, with the digest and size it reports.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fetch/pgzip.h"
#include "tests/unit/fetch/fetch-test.h"
#include "tests/unit/unit.h"

#define MiB (1u << 20)

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	/* Half text-like (compressible, with repeats reaching across block cuts), half noise. */
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (i / 4096) % 2 ? (uint8_t)(seed >> 16) : (uint8_t)("berth pgzip "[i % 12]);
	}
}

static void pgz(const uint8_t *in, size_t len, unsigned threads, size_t step, buf *out,
		store_digest *d, uint64_t *size)
{
	int fd = memfd_create("gz", MFD_CLOEXEC);
	fetch_pgzip *z = NULL;

	assert_true(fd >= 0);
	assert_int_equal(fetch_pgzip_new(fd, 6, threads, &z), 0);
	for (size_t off = 0; off < len; off += step)
		assert_int_equal(fetch_pgzip_write(z, in + off, MIN(step, len - off)), 0);
	assert_int_equal(fetch_pgzip_finish(z, d, size), 0);
	assert_int_equal(fetch_pgzip_write(z, "x", 1), -EALREADY);
	fetch_pgzip_free(z);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	buf_reset(out);
	assert_int_equal(fd_read_all(fd, out, SIZE_MAX), 0);
	close(fd);
}

static void test_fetch_pgzip__roundtrip(void **state)
{
	static const size_t sizes[] = { 0, 1, 32767, MiB - 1, MiB, MiB + 1, 3 * MiB + MiB / 2 };
	size_t max = 3 * MiB + MiB / 2;
	uint8_t *in = malloc(max);
	_cleanup_(buf_done) buf a = BUF_INIT, b = BUF_INIT, plain = BUF_INIT;

	fill(in, max, 7);
	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		store_digest da, db;
		uint64_t sa, sb;
		pgz(in, sizes[i], 1, 65536, &a, &da, &sa);
		pgz(in, sizes[i], 4, 100000, &b, &db, &sb);
		assert_int_equal(sa, a.len);
		assert_digest_of(a.data, a.len, &da);
		/* Deterministic whatever the threads and the write sizes. */
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		assert_true(store_digest_eq(&da, &db));
		gunzip_buf(a.data, a.len, &plain);
		assert_int_equal(plain.len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(plain.data, in, sizes[i]);
	}
	free(in);
}

static void test_fetch_pgzip__compresses(void **state)
{
	size_t n = 4 * MiB;
	uint8_t *in = calloc(1, n);
	_cleanup_(buf_done) buf out = BUF_INIT;
	store_digest d;
	uint64_t size;

	/* Zeros across four blocks: the dictionary and the cuts must not cost much. */
	pgz(in, n, 2, MiB, &out, &d, &size);
	assert_true(size < 16 * 1024);
	free(in);
}

static void test_fetch_pgzip__write_error(void **state)
{
	int p[2];
	fetch_pgzip *z = NULL;
	uint8_t *in = malloc(3 * MiB);
	store_digest d;
	uint64_t size;
	int r;

	fill(in, 3 * MiB, 3);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[0]); /* writes fail with EPIPE (SIGPIPE is ignored by the test below) */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(fetch_pgzip_new(p[1], 6, 2, &z), -EPIPE);
	assert_null(z);
	close(p[1]);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fetch_pgzip_new(p[1], 6, 2, &z), 0);
	close(p[0]);
	r = fetch_pgzip_write(z, in, 3 * MiB);
	if (r == 0)
		r = fetch_pgzip_finish(z, &d, &size);
	assert_int_equal(r, -EPIPE);
	assert_int_equal(fetch_pgzip_write(z, in, 1), -EPIPE); /* the error sticks */
	fetch_pgzip_free(z);
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);
	free(in);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fetch_pgzip__roundtrip),
	cmocka_unit_test(test_fetch_pgzip__compresses),
	cmocka_unit_test(test_fetch_pgzip__write_error),
};

UNIT_EXPORT(fetch, pgzip, tests);
