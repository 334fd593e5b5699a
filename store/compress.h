/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/compress.h: zstd compression of store objects.
 *
 * Each object is one independent zstd frame, so that any object can be read alone and a chunk's
 * frame can be copied verbatim into a zstd layer (concatenated frames are one valid zstd stream).
 * Compression contexts are cached per thread, so these functions are thread-safe and cheap to call
 * for every chunk.
 */
#pragma once

#include <stddef.h>

#include "util/buf.h"

/* Appends one zstd frame holding [in, in+len) at `level` to out (which it grows). */
int store_compress(const void *in, size_t len, int level, buf *out);
/*
 * Appends the decompressed content of the frame [in, in+len) to out. The content must be exactly
 * `expected` bytes: -EBADMSG for a corrupt frame or a size mismatch (a store object's header
 * records its size, so a lying frame cannot make us allocate more than that).
 */
int store_decompress(const void *in, size_t len, size_t expected, buf *out);
/* Largest frame store_compress() can produce for len bytes (a sanity bound for readers). */
size_t store_compress_bound(size_t len);
