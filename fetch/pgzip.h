/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/pgzip.h: gzip on several threads, for push, where compressing a layer with one thread is
 * the slowest step by far (zlib level 6 runs at about 25 MB/s here).
 *
 * The input is cut into 1 MiB blocks; each is deflated on its own by a worker thread, primed with
 * the 32 KiB of input before it (so matches reach back across the cut as in one stream) and ended
 * with a sync flush (byte-aligned, not final); the last block ends the stream. The blocks are
 * written in order, between one gzip header (mtime 0, no name) and one trailer (the CRC-32s of the
 * blocks combined): a single gzip member that any gunzip reads. This is pigz's method.
 *
 * Deterministic: the blocks are cut by input offset, not by thread, so the same input gives the
 * same bytes whatever the number of threads, and a layer pushed twice (from any berth host) has
 * the same digest, which is what lets a registry's HEAD skip it. The bytes differ from a
 * one-thread gzip of the same input (fetch/pack.h's), which is fine: both are valid blobs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store/digest.h"

typedef struct fetch_pgzip fetch_pgzip;

/* Compressed output goes to fd (written in order, by the caller's thread). threads 0: the CPUs. */
int fetch_pgzip_new(int fd, int level, unsigned threads, fetch_pgzip **ret);
/* Feeds input (a fetch_sink_fn: userdata is the fetch_pgzip). */
int fetch_pgzip_write(void *userdata, const void *data, size_t len);
/* Ends the stream; the SHA-256 and size of all compressed bytes written. */
int fetch_pgzip_finish(fetch_pgzip *z, store_digest *ret_digest, uint64_t *ret_size);
/* Stops the workers and frees (an unfinished stream is abandoned). */
fetch_pgzip *fetch_pgzip_free(fetch_pgzip *z);
static inline void fetch_pgzip_freep(fetch_pgzip **z)
{
	fetch_pgzip_free(*z);
}
