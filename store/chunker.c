/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/chunker.c: FastCDC ("FastCDC: a Fast and Efficient Content-Defined Chunking Approach for
 * Data Deduplication", Xia et al., USENIX ATC 2016) with normalized chunking at level 2.
 *
 * The fingerprint is the gear hash fp = (fp << 1) + gear[byte]. Bit k of fp depends only on the
 * last k + 1 bytes, so the masks test high bits (a window of up to 64 bytes), spread out so that
 * the window is wide rather than the one-bits bunched on a few recent bytes.
 *
 * Format "fastcdc-v1" (recorded in the store config; changing any of this changes every chunk
 * boundary, so it must never change; a new scheme needs a new name):
 * - gear[i] = XXH3_64bits_withSeed(&(uint8_t){i}, 1, CHUNKER_GEAR_SEED) for i in 0..255.
 * - With avg = 2^b: mask_s has b + 2 one-bits, mask_l has max(b - 2, 1); n one-bits sit at bit
 *   positions 63 - floor(i * 48 / n), i = 0..n-1 (spread over the top 48 bits).
 * - The first `min` bytes of a chunk are skipped without hashing (cut-point skipping); fp starts
 *   at 0 at offset min. For each offset i >= min, after hashing data[i]: if (fp & mask) == 0 the
 *   chunk ends after data[i] (length i + 1), where mask is mask_s while i < avg and mask_l after.
 *   A chunk that reaches max bytes is cut there.
 * The phase switch depends on the offset only, never on how many bytes the caller supplied, so
 * cut points are a function of the content alone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <xxhash.h>

#include "store/chunker.h"
#include "util/macro.h"

/* "berthcdc" in ASCII. Part of the format: never change. */
#define CHUNKER_GEAR_SEED UINT64_C(0x6265727468636463)
#define CHUNKER_MASK_SPAN 48

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

static void gear_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint8_t b = (uint8_t)i;
		gear[i] = XXH3_64bits_withSeed(&b, 1, CHUNKER_GEAR_SEED);
	}
}

static uint64_t mask_spread(unsigned nbits)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < nbits; i++)
		m |= UINT64_C(1) << (63 - i * CHUNKER_MASK_SPAN / nbits);
	return m;
}

static unsigned log2_u32(uint32_t v)
{
	return 31u - (unsigned)__builtin_clz(v);
}

int store_chunker_params_check(const store_chunker_params *p)
{
	if (!p || p->min == 0 || p->min > p->avg || p->avg > p->max)
		return -EINVAL;
	if ((p->avg & (p->avg - 1)) != 0 || p->max > STORE_CHUNK_MAX_LIMIT)
		return -EINVAL;
	return 0;
}

/* Scans [from, to) with one mask; returns the cut length or 0 if none. */
static inline size_t scan(const uint8_t *data, size_t from, size_t to, uint64_t mask, uint64_t *fp)
{
	uint64_t h = *fp;

	for (size_t i = from; i < to; i++) {
		h = (h << 1) + gear[data[i]];
		if (_unlikely_(!(h & mask)))
			return i + 1;
	}
	*fp = h;
	return 0;
}

size_t store_chunker_cut(const store_chunker_params *p, const uint8_t *data, size_t len,
			 bool at_eof)
{
	unsigned b = log2_u32(p->avg);
	uint64_t mask_s = mask_spread(b + 2), mask_l = mask_spread(b >= 3 ? b - 2 : 1);
	size_t end = MIN(len, (size_t)p->max), n;
	uint64_t fp = 0;

	pthread_once(&gear_once, gear_init);
	if (end > p->min) {
		n = scan(data, p->min, MIN(end, (size_t)p->avg), mask_s, &fp);
		if (n)
			return n;
		if (end > p->avg) {
			n = scan(data, p->avg, end, mask_l, &fp);
			if (n)
				return n;
		}
	}
	if (len >= p->max)
		return p->max;
	return at_eof ? len : 0;
}
