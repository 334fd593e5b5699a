/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/unpack.h: a layer tar stream -> a layer in the store (libarchive; archive.h lives only in
 * fetch/unpack.c and fetch/pack.c).
 *
 * Input: an uncompressed, gzip or zstd (also bzip2, xz) tar stream from an fd (file, pipe,
 * socket). One pass: the stream is decompressed, its uncompressed bytes hashed for the DiffID (and
 * its raw bytes for the blob digest), each entry's content chunked and put into the store as it is
 * read, and the tar's skeleton (every byte that is not file content: headers, PAX records, sparse
 * maps, padding, the end-of-archive blocks and any zeros after them) kept as a STORE_SPLIT object
 * (fetch/split.h) so that fetch/pack.h can reproduce the original tar byte for byte, which keeps
 * DiffIDs and image IDs identical across load/save and pull/push, as Docker does. If the reader's
 * view of the stream does not line up with the bytes (a consistency check, see unpack.c), or the
 * skeleton grows past opts->max_split_memory, the layer is still ingested but has_split is false:
 * a later pack writes a canonical tar, whose DiffID differs from this one.
 *
 * OCI whiteouts become tree markers: ".wh.NAME" -> a WHITEOUT entry NAME, ".wh..wh..opq" -> the
 * OPAQUE flag on its directory (fetch/tarlayer.h has the details).
 *
 * Hostile input is refused with an error that names the entry and the rule (reterr), and the store
 * is left without a tree or split (the chunks already put are unreachable; gc collects them):
 *   absolute paths (a leading '/' is not stripped), ".." components, a path that goes through a
 *   symlink or a non-directory of the same layer, a hard link whose target is not an earlier
 *   regular file of the layer, duplicate paths (refused although GNU tar would let the later
 *   entry replace the earlier one: which of the two did the image's author mean?), names or paths
 *   over the limits of store/tree.h, sizes over opts->max_entry_size, unknown entry types,
 *   whiteouts of "", "." or "..", a truncated or corrupt stream, and anything but zeros after the
 *   end-of-archive blocks. Codes: -EINVAL (a rule), -EEXIST (duplicate), -EFBIG (size), -EBADMSG
 *   (corrupt stream, digest mismatch).
 * Nothing is ever written outside the store.
 */
#pragma once

#include <stdint.h>

#include "store/image.h"
#include "store/store.h"
#include "util/error.h"

typedef struct fetch_unpack_opts {
	/* Refuse entries larger than this (0: 1 TiB). */
	uint64_t max_entry_size;
	/* If non-NULL, the uncompressed stream must hash to this (OCI DiffID); else -EBADMSG. */
	const store_digest *expect_diff_id;
	/* If non-NULL, the raw (possibly compressed) input must hash to this (OCI blob digest). */
	const store_digest *expect_blob_digest;
	/* Called now and then with raw input bytes consumed so far; may be NULL. */
	void (*progress)(void *userdata, uint64_t raw_bytes);
	void *userdata;
	/* Give up the split (has_split = false) past this much skeleton in memory (0: 256 MiB). */
	size_t max_split_memory;
} fetch_unpack_opts;

typedef struct fetch_unpack_result {
	store_layer layer;	  /* tree, diff_id, split, tar_size */
	store_digest blob_digest; /* SHA-256 of the raw input bytes */
	uint64_t blob_size;
	uint64_t entries;
	uint64_t content_bytes; /* regular-file bytes */
} fetch_unpack_result;

/* Must be called inside a store write session. */
int fetch_unpack_fd(store *s, int fd, const fetch_unpack_opts *opts, fetch_unpack_result *ret,
		    berth_error *reterr);

/*
 * ---- Reading a tar of plain files (an OCI image-layout or `docker save` archive) ----
 *
 * fetch_tar_read_files() reads a tar stream (uncompressed, gzip, zstd, bzip2 or xz) and hands
 * each member to ops->member(). For a regular file that returns 1, its content follows through
 * ops->data() (holes of sparse members as zeros), then ops->member_end(); 0 skips the member;
 * < 0 stops the read with that error. It writes nothing anywhere: the caller decides where bytes
 * go, and must treat paths and link targets as untrusted (they are exactly as stored).
 */
typedef struct fetch_tar_member {
	const char *path;
	uint8_t type;	  /* STORE_ENTRY_REG, _DIR, _SYMLINK, _HARDLINK (store/tree.h); 0: other */
	const char *link; /* SYMLINK target or HARDLINK target path, else NULL */
	uint64_t size;	  /* REG: content bytes */
} fetch_tar_member;

typedef struct fetch_tar_files_ops {
	int (*member)(void *userdata, const fetch_tar_member *m);
	int (*data)(void *userdata, const void *p, size_t n);
	int (*member_end)(void *userdata);		      /* may be NULL */
	void (*progress)(void *userdata, uint64_t raw_bytes); /* may be NULL */
} fetch_tar_files_ops;

int fetch_tar_read_files(int fd, const fetch_tar_files_ops *ops, void *userdata,
			 berth_error *reterr);
