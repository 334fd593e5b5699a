/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/chunker.h: content-defined chunking (FastCDC with normalized chunking).
 *
 * File contents are cut where a rolling gear fingerprint of the last bytes matches a mask, so an
 * insertion early in a file moves only nearby cut points and later chunks dedup against the old
 * version. Normalized chunking uses a stricter mask below `avg` and a looser one above it, which
 * narrows the size distribution around avg. The gear table is derived from XXH3 with a fixed seed
 * (inside the trust boundary: it only decides boundaries, never identities) and must never change:
 * chunk boundaries are part of the store's format ("fastcdc-v1" in the store config).
 *
 * Invariants: min <= avg <= max, avg a power of two, max <= STORE_CHUNK_MAX_LIMIT. A cut is never
 * shorter than min unless the input ends, and never longer than max.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_CHUNK_MAX_LIMIT (4u * 1024 * 1024)

typedef struct store_chunker_params {
	uint32_t min;
	uint32_t avg;
	uint32_t max;
} store_chunker_params;

/* Validates params: -EINVAL if the invariants above do not hold. */
int store_chunker_params_check(const store_chunker_params *p);

/*
 * Returns the length of the chunk that starts at data[0].
 * - If a cut point lies within data[0, len), returns its length (min <= n <= max).
 * - If len >= max, returns max.
 * - Otherwise, if at_eof, returns len (the final, possibly short chunk; 0 only when len == 0).
 * - Otherwise returns 0: the caller must supply more bytes (up to max) and call again.
 * Deterministic: the result depends only on p and the bytes data[0, result) (plus, for a forced
 * cut, on len).
 */
size_t store_chunker_cut(const store_chunker_params *p, const uint8_t *data, size_t len,
			 bool at_eof);
