/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/pack.h: a layer in the store -> a tar stream (for save and push).
 *
 * With a STORE_SPLIT (a layer that came in as a tar) the original uncompressed tar is reproduced
 * byte for byte, so its SHA-256 equals the layer's DiffID (checked as it is written: -EBADMSG if
 * the store's bytes do not rebuild it). Without one (a layer built by commit, or one whose split
 * was given up, see fetch/unpack.h), a canonical PAX tar is generated: entries in tree order, hard
 * links last, whiteouts as ".wh.NAME", opaque directories followed by ".wh..wh..opq", xattrs as
 * SCHILY.xattr (and LIBARCHIVE.xattr) records, no atime/ctime/user names; the same tree always
 * gives the same bytes, and unpacking them gives the same tree (atimes aside: they come back equal
 * to mtimes). Socket entries are not written (tar has no type for them).
 *
 * Compressed output is deterministic too: gzip level 6 with mtime 0 and no name in its header,
 * zstd level 3.
 */
#pragma once

#include <stdint.h>

#include "store/image.h"
#include "store/store.h"
#include "util/error.h"

typedef enum fetch_compression {
	FETCH_COMPRESSION_NONE,
	FETCH_COMPRESSION_GZIP,
	FETCH_COMPRESSION_ZSTD,
} fetch_compression;

typedef int (*fetch_sink_fn)(void *userdata, const void *data, size_t len);

/* Writes the uncompressed tar of a layer to sink. */
int fetch_pack_layer(store *s, const store_layer *layer, fetch_sink_fn sink, void *userdata,
		     berth_error *reterr);
/*
 * Writes the layer, compressed, to fd, and returns the compressed blob's digest and size and the
 * uncompressed tar's digest (the DiffID it really has).
 */
int fetch_pack_layer_fd(store *s, const store_layer *layer, fetch_compression c, int fd,
			store_digest *ret_blob, uint64_t *ret_blob_size, store_digest *ret_diff_id,
			berth_error *reterr);
/* Builds a layer (tree + canonical tar identity) from a finished tree: computes the DiffID and
 * size of its canonical tar. Used by commit and import of directories. */
int fetch_layer_from_tree(store *s, const store_digest *tree, store_layer *ret,
			  berth_error *reterr);
