/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of store/compress.c: round trips, corrupt frames, frames that lie about their size. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/compress.h"
#include "tests/unit/unit.h"

static void fill_text(uint8_t *p, size_t len)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog 0123456789 ";

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)words[(i * 7 + i / 97) % (sizeof(words) - 1)];
}

static void fill_random(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 24);
	}
}

static void round_trip(const uint8_t *in, size_t len, int level)
{
	buf z = BUF_INIT, out = BUF_INIT;

	assert_int_equal(store_compress(in, len, level, &z), 0);
	assert_true(z.len > 0 && z.len <= store_compress_bound(len));
	/* Appends: existing content stays in front. */
	assert_int_equal(buf_append(&out, "head", 4), 0);
	assert_int_equal(store_decompress(z.data, z.len, len, &out), 0);
	assert_int_equal(out.len, len + 4);
	assert_memory_equal(out.data, "head", 4);
	if (len)
		assert_memory_equal(out.data + 4, in, len);
	buf_done(&z);
	buf_done(&out);
}

static void test_store_compress__round_trip(void **state)
{
	size_t len = 1u << 20;
	uint8_t *t = malloc(len), *r = malloc(len);
	buf z = BUF_INIT;

	fill_text(t, len);
	fill_random(r, len, 7);
	for (int level = 1; level <= 19; level += 6) {
		round_trip(t, len, level);
		round_trip(r, len, level);
	}
	round_trip(t, 0, 3);
	round_trip(t, 1, 3);
	/* Text compresses, random bytes do not (much). */
	assert_int_equal(store_compress(t, len, 3, &z), 0);
	assert_true(z.len < len / 10);
	buf_reset(&z);
	assert_int_equal(store_compress(r, len, 3, &z), 0);
	assert_true(z.len > len - len / 100);
	buf_done(&z);
	free(t);
	free(r);
}

static void expect_bad(const void *frame, size_t len, size_t expected)
{
	buf out = BUF_INIT;

	assert_int_equal(buf_append(&out, "keep", 4), 0);
	assert_int_equal(store_decompress(frame, len, expected, &out), -EBADMSG);
	assert_int_equal(out.len, 4); /* nothing appended on failure */
	assert_memory_equal(out.data, "keep", 4);
	buf_done(&out);
}

static void test_store_compress__corrupt_frame(void **state)
{
	size_t len = 200000;
	uint8_t *t = malloc(len), garbage[512];
	buf z = BUF_INIT, two = BUF_INIT;

	fill_text(t, len);
	assert_int_equal(store_compress(t, len, 3, &z), 0);
	expect_bad(z.data, z.len - 1, len); /* truncated */
	expect_bad(z.data, z.len / 2, len);
	expect_bad(z.data, 3, len);
	expect_bad(z.data, 0, len);

	assert_int_equal(buf_append(&two, z.data, z.len), 0);
	assert_int_equal(buf_append(&two, "x", 1), 0);
	expect_bad(two.data, two.len, len); /* trailing garbage */
	buf_reset(&two);
	assert_int_equal(buf_append(&two, z.data, z.len), 0);
	assert_int_equal(buf_append(&two, z.data, z.len), 0);
	expect_bad(two.data, two.len, len); /* two frames: not one object */

	z.data[0] ^= 0x01; /* magic */
	expect_bad(z.data, z.len, len);
	z.data[0] ^= 0x01;

	fill_random(garbage, sizeof(garbage), 3);
	expect_bad(garbage, sizeof(garbage), 100);
	buf_done(&z);
	buf_done(&two);
	free(t);
}

/* Rewrites the Frame_Content_Size field of a zstd frame (RFC 8878, 3.1.1.1) in place. */
static void frame_set_content_size(uint8_t *f, uint64_t size)
{
	static const unsigned did_len[] = { 0, 1, 2, 4 };
	uint8_t fhd = f[4];
	unsigned fcs_flag = fhd >> 6, single = (fhd >> 5) & 1;
	size_t off = 5 + (single ? 0 : 1) + did_len[fhd & 3];
	unsigned fcs_len = fcs_flag == 0 ? (single ? 1 : 0) : 1u << fcs_flag;

	assert_true(fcs_len > 0);
	if (fcs_len == 2)
		size -= 256;
	for (unsigned i = 0; i < fcs_len; i++)
		f[off + i] = (uint8_t)(size >> (8 * i));
}

static void test_store_compress__size_lie(void **state)
{
	size_t len = 100000;
	uint8_t *t = malloc(len);
	buf z = BUF_INIT;

	fill_text(t, len);
	assert_int_equal(store_compress(t, len, 3, &z), 0);
	/* An honest frame, but the caller expects another size. */
	expect_bad(z.data, z.len, len - 1);
	expect_bad(z.data, z.len, len + 1);
	expect_bad(z.data, z.len, 0);
	/* A frame that declares less than it holds: must fail, not overflow or grow. */
	frame_set_content_size((uint8_t *)z.data, len - 1000);
	expect_bad(z.data, z.len, len - 1000);
	/* ...or more than it holds. */
	frame_set_content_size((uint8_t *)z.data, len + 1000);
	expect_bad(z.data, z.len, len + 1000);
	frame_set_content_size((uint8_t *)z.data, len);
	round_trip(t, len, 3);
	buf_done(&z);
	free(t);
}

static void *thread_round_trips(void *arg)
{
	size_t len = 300000;
	uint8_t *t = malloc(len);
	buf z = BUF_INIT, out = BUF_INIT;
	intptr_t ok = 1;

	fill_random(t, len / 2, (uint32_t)(uintptr_t)arg);
	fill_text(t + len / 2, len / 2);
	for (int i = 0; i < 20; i++) {
		buf_reset(&z);
		buf_reset(&out);
		if (store_compress(t, len, 1 + i % 5, &z) < 0 ||
		    store_decompress(z.data, z.len, len, &out) < 0 || memcmp(out.data, t, len) != 0)
			ok = 0;
	}
	buf_done(&z);
	buf_done(&out);
	free(t);
	return (void *)ok;
}

static void test_store_compress__threads(void **state)
{
	pthread_t th[4];
	void *ok;

	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_round_trips, (void *)(i + 1)),
				 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &ok), 0);
		assert_true(ok == (void *)1);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_store_compress__round_trip),
	cmocka_unit_test(test_store_compress__corrupt_frame),
	cmocka_unit_test(test_store_compress__size_lie),
	cmocka_unit_test(test_store_compress__threads),
};
UNIT_EXPORT(store, compress, tests);
