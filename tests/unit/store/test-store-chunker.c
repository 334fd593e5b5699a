/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of store/chunker.c: bounds, determinism, locality of edits, size distribution, format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/chunker.h"
#include "store/digest.h"
#include "tests/unit/unit.h"

static const store_chunker_params defp = { 16 * 1024, 64 * 1024, 256 * 1024 };

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint8_t *random_buf(size_t len, uint64_t seed)
{
	uint8_t *b = malloc(len + 8);

	assert_non_null(b);
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = splitmix64(&seed);
		memcpy(b + i, &v, 8);
	}
	return b;
}

/* Cuts all of data the way a streaming caller does: at most `window` bytes visible at once. */
static size_t cut_all(const store_chunker_params *p, const uint8_t *data, size_t len, size_t window,
		      size_t *lens, size_t cap)
{
	size_t n = 0, off = 0;

	while (off < len) {
		size_t avail = len - off, c;
		bool eof = avail <= window;
		c = store_chunker_cut(p, data + off, eof ? avail : window, eof);
		assert_true(c > 0);
		assert_true(n < cap);
		lens[n++] = c;
		off += c;
	}
	return n;
}

static void test_store_chunker__params_check(void **state)
{
	const store_chunker_params bad[] = {
		{ 0, 64, 256 },
		{ 128, 64, 256 },
		{ 16, 64, 32 },
		{ 16, 96, 256 },
		{ 16 * 1024, 64 * 1024, 8 * 1024 * 1024 },
	};

	assert_int_equal(store_chunker_params_check(&defp), 0);
	assert_int_equal(store_chunker_params_check(&(store_chunker_params){ 64, 64, 64 }), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(store_chunker_params_check(&bad[i]), -EINVAL);
}

static void test_store_chunker__short_input(void **state)
{
	static uint8_t zero[300 * 1024];

	assert_int_equal(store_chunker_cut(&defp, zero, 0, true), 0);
	assert_int_equal(store_chunker_cut(&defp, zero, 0, false), 0);
	assert_int_equal(store_chunker_cut(&defp, zero, 5, true), 5);
	assert_int_equal(store_chunker_cut(&defp, zero, 5, false), 0);
	/* Zeros never match a mask: no cut before max, and a forced cut at max. */
	assert_int_equal(store_chunker_cut(&defp, zero, 200 * 1024, false), 0);
	assert_int_equal(store_chunker_cut(&defp, zero, 200 * 1024, true), 200 * 1024);
	assert_int_equal(store_chunker_cut(&defp, zero, 256 * 1024, false), 256 * 1024);
	assert_int_equal(store_chunker_cut(&defp, zero, sizeof(zero), false), 256 * 1024);
}

static void test_store_chunker__bounds_and_determinism(void **state)
{
	const store_chunker_params ps[] = { defp, { 64, 256, 1024 }, { 2048, 8192, 8192 } };
	size_t len = 8u << 20, *a = calloc(len / 64 + 1, sizeof(size_t)),
	       *b = calloc(len / 64 + 1, sizeof(size_t));
	uint8_t *data = random_buf(len, 1);

	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		const store_chunker_params *p = &ps[k];
		size_t na = cut_all(p, data, len, p->max, a, len / 64 + 1);
		size_t nb = cut_all(p, data, len, len, b, len / 64 + 1);
		size_t sum = 0;

		/* Same cuts whether the chunker sees max bytes or the whole buffer. */
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na * sizeof(size_t));
		for (size_t i = 0; i < na; i++) {
			if (i + 1 < na)
				assert_true(a[i] >= p->min);
			assert_true(a[i] <= p->max);
			sum += a[i];
		}
		assert_int_equal(sum, len);
	}
	free(a);
	free(b);
	free(data);
}

static void test_store_chunker__mean_near_avg(void **state)
{
	size_t len = 32u << 20, cap = len / defp.min + 1, *lens = calloc(cap, sizeof(size_t)), n;
	uint8_t *data = random_buf(len, 2);
	double mean;

	n = cut_all(&defp, data, len, defp.max, lens, cap);
	mean = (double)len / (double)n;
	print_message("# chunker: %zu chunks, mean %.0f bytes (avg %u)\n", n, mean, defp.avg);
	assert_true(mean >= defp.avg * 0.75 && mean <= defp.avg * 1.25);
	free(lens);
	free(data);
}

static int digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(store_digest));
}

static store_digest *chunk_digests(const uint8_t *data, size_t len, size_t *ret_n)
{
	size_t cap = len / defp.min + 2, *lens = calloc(cap, sizeof(size_t)), n, off = 0;
	store_digest *d;

	n = cut_all(&defp, data, len, defp.max, lens, cap);
	d = calloc(n, sizeof(*d));
	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		store_digest_buf(data + off, lens[i], &d[i]);
		off += lens[i];
	}
	free(lens);
	qsort(d, n, sizeof(*d), digest_cmp);
	*ret_n = n;
	return d;
}

static void test_store_chunker__insert_at_start(void **state)
{
	size_t len = 8u << 20, na, nb, same = 0;
	uint8_t *a = random_buf(len, 3), *b = malloc(len + 100);
	store_digest *da, *db;

	assert_non_null(b);
	memset(b, 'x', 100);
	memcpy(b + 100, a, len);
	da = chunk_digests(a, len, &na);
	db = chunk_digests(b, len + 100, &nb);
	for (size_t i = 0; i < nb; i++)
		same += bsearch(&db[i], da, na, sizeof(*da), digest_cmp) != NULL;
	print_message("# chunker: %zu of %zu chunks unchanged after inserting 100 bytes\n", same,
		      nb);
	assert_true(same * 10 >= nb * 9);
	free(da);
	free(db);
	free(a);
	free(b);
}

/*
 * Boundaries are part of the store format ("fastcdc-v1"): if this test fails, the gear table,
 * the masks or the cut rule changed, and every existing store would stop deduplicating against
 * new imports. Do not update the numbers; restore the algorithm (or introduce a new format).
 */
static void test_store_chunker__format_fastcdc_v1(void **state)
{
	static const size_t want[] = {
		106624, 74356, 91838, 70259, 70097, 56325, 93642, 81022, 97297,	 51605,
		90475,	65427, 65537, 60027, 67471, 73702, 87088, 77254, 101564, 106437,
		86796,	19368, 74980, 69458, 65671, 19387, 68005, 67417, 19901,	 18122,
	};
	size_t len = 2u << 20, lens[64], n;
	uint8_t *data = random_buf(len, 42);

	n = cut_all(&defp, data, len, defp.max, lens, 64);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	assert_memory_equal(lens, want, sizeof(want));
	free(data);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_store_chunker__params_check),
	cmocka_unit_test(test_store_chunker__short_input),
	cmocka_unit_test(test_store_chunker__bounds_and_determinism),
	cmocka_unit_test(test_store_chunker__mean_near_avg),
	cmocka_unit_test(test_store_chunker__insert_at_start),
	cmocka_unit_test(test_store_chunker__format_fastcdc_v1),
};
UNIT_EXPORT(store, chunker, tests);
