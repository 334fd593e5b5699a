/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/split.h: the STORE_SPLIT object, which lets fetch/pack.c rebuild a layer's original tar
 * byte for byte from the layer's tree and the store's file contents.
 *
 * A tar is cut into two kinds of bytes: the content of regular files (already in the store, named
 * by the tree's entries) and everything else, the "skeleton": headers, PAX and GNU records, sparse
 * maps, padding, the end-of-archive blocks and any trailing zeros. The split keeps the skeleton and
 * says where each piece of content goes. Encoding, version 1 (varints are unsigned LEB128):
 *
 *     "BRTSPLIT"          8 bytes
 *     version             varint, 1
 *     tree                32 bytes: the STORE_TREE the CONTENT records index
 *     diff_id             32 bytes: SHA-256 of the tar the records rebuild
 *     tar_size            varint: the sum of the records' lengths
 *     n_records           varint
 *     n_records times one of:
 *         0x01 LITERAL    varint len (>= 1), len bytes of skeleton
 *         0x02 ZEROS      varint len (>= 1): len zero bytes of skeleton
 *         0x03 CONTENT    varint entry, varint offset, varint len (>= 1): bytes
 *                         [offset, offset+len) of the content of the tree's entry number `entry`
 *                         (index in the tree's sorted order; a REG entry)
 *
 * Concatenating the records in order gives the tar exactly. A regular file is normally one
 * CONTENT record covering all of it; a sparse file has one per stored data region, in the order
 * the tar stores them (its holes are not in the tar, and the store keeps them as zeros). Runs of
 * 64 or more zeros in the skeleton (padding, empty header fields) become ZEROS records, which keeps
 * the builder's memory near the size of the meaningful header bytes; the object itself is
 * zstd-compressed by the store.
 *
 * The split names its tree and the tree names the contents, so gc keeps a split's contents alive
 * through the tree that every image record lists beside the split.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store/digest.h"
#include "util/buf.h"

enum {
	FETCH_SPLIT_LITERAL = 1,
	FETCH_SPLIT_ZEROS = 2,
	FETCH_SPLIT_CONTENT = 3,
};

/* ---- Building, while a tar streams by ---- */

typedef struct fetch_split_builder fetch_split_builder;

int fetch_split_builder_new(fetch_split_builder **ret);
fetch_split_builder *fetch_split_builder_free(fetch_split_builder *b);
static inline void fetch_split_builder_freep(fetch_split_builder **b)
{
	fetch_split_builder_free(*b);
}
/* Appends skeleton bytes. */
int fetch_split_builder_bytes(fetch_split_builder *b, const void *data, size_t len);
/*
 * Appends a content reference: bytes [offset, offset+len) of the file the caller numbers
 * `ordinal` (its own numbering; fetch_split_builder_encode() maps it to a tree index). A reference
 * that continues the previous one (same file, next offset) extends it.
 */
int fetch_split_builder_content(fetch_split_builder *b, uint64_t ordinal, uint64_t offset,
				uint64_t len);
/* Tar bytes described so far, and the builder's memory footprint. */
uint64_t fetch_split_builder_tar_size(const fetch_split_builder *b);
size_t fetch_split_builder_memory(const fetch_split_builder *b);
/*
 * Writes the split object to out. map[ordinal] is the tree index of the file the caller called
 * `ordinal`; an ordinal >= n_map gives -EINVAL.
 */
int fetch_split_builder_encode(fetch_split_builder *b, const store_digest *tree,
			       const store_digest *diff_id, const uint32_t *map, size_t n_map,
			       buf *out);

/* ---- Reading (the object is read back from the store: every field is checked) ---- */

typedef struct fetch_split_record {
	int kind;	     /* FETCH_SPLIT_* */
	const uint8_t *data; /* LITERAL: the bytes (borrowed from the object) */
	uint64_t len;
	uint64_t entry, offset; /* CONTENT */
} fetch_split_record;

typedef struct fetch_split_reader {
	store_digest tree, diff_id;
	uint64_t tar_size;
	uint64_t n_records;
	/* private */
	const uint8_t *p, *end;
	uint64_t left;
} fetch_split_reader;

/*
 * Parses the header and checks every record (kinds, lengths, bounds, the lengths' sum against
 * tar_size) before the first is returned. -EBADMSG if anything is off.
 */
int fetch_split_reader_init(fetch_split_reader *r, const void *data, size_t len);
/* 1 and the next record, or 0 at the end. */
int fetch_split_reader_next(fetch_split_reader *r, fetch_split_record *ret);
