/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/tarlayer.h: the rules that turn a layer tar's entries, one by one in stream order, into a
 * store_tree, refusing hostile input (fetch/unpack.c feeds it; it knows nothing of libarchive, so
 * it can be tested entry by entry).
 *
 * What it enforces, with the entry and the rule named in the error:
 * - paths: "./" prefixes, "." components, doubled and trailing '/' are normalized away ("." is
 *   the root ""); an absolute path (leading '/', which is NOT stripped as GNU tar would), a ".."
 *   component, an empty path, a component over 255 bytes or a path of 4096 bytes or more is
 *   refused (-EINVAL);
 * - a path seen twice is refused (-EEXIST), although GNU tar would let the later entry replace
 *   the earlier: a layer that says two things about one path is ambiguous (which one did the
 *   image author test?), and the stores of other engines disagree on which wins;
 * - a path below a symlink, a whiteout or any other non-directory of the same layer is refused,
 *   in either order (the non-directory first, or entries below it first) (-EINVAL);
 * - a hard link must name an earlier regular file of this layer (a link to a link is resolved to
 *   the file): not itself, a directory, a symlink, or a path not seen yet (-EINVAL);
 * - sizes over the limit are refused (-EFBIG), an entry whose type is unknown (-EINVAL);
 * - OCI whiteouts: ".wh.NAME" -> a WHITEOUT entry NAME (NAME "", "." or ".." is refused);
 *   ".wh..wh..opq" -> the OPAQUE flag on its directory, whose DIR entry is created (0755
 *   root:root, the marker's times) if the tar has none, whether it comes before or after;
 *   other ".wh..wh." names are AUFS bookkeeping: skipped at the top level, refused below it;
 *   a ".wh." name used as a directory is refused.
 * - ids above 2^32-1 are refused; times are clamped to what int64 nanoseconds hold.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/tree.h"
#include "util/error.h"

typedef struct fetch_tar_xattr {
	const char *name;
	const void *value;
	size_t len;
} fetch_tar_xattr;

/* One tar entry as the reader saw it (all borrowed). */
typedef struct fetch_tar_entry {
	const char *path; /* as stored */
	uint8_t type;	  /* store_entry_type; 0 if the tar's type is unknown */
	const char *link; /* SYMLINK target, or HARDLINK target path as stored */
	uint32_t mode;	  /* permission bits are taken, the rest ignored */
	int64_t uid, gid;
	int64_t mtime_sec, mtime_nsec;
	bool has_atime;
	int64_t atime_sec, atime_nsec;
	uint64_t rdev;
	int64_t size; /* bytes of data the entry carries in the tar */
	size_t n_xattrs;
	const fetch_tar_xattr *xattrs;
} fetch_tar_entry;

typedef enum fetch_tarlayer_action {
	FETCH_TARLAYER_SKIP,	/* no content for the tree: leave the data in the tar */
	FETCH_TARLAYER_CONTENT, /* stream the data to the store, then call set_content() */
} fetch_tarlayer_action;

typedef struct fetch_tarlayer fetch_tarlayer;

/* max_entry_size: refuse entries larger than this (0: 1 TiB). */
int fetch_tarlayer_new(uint64_t max_entry_size, fetch_tarlayer **ret);
fetch_tarlayer *fetch_tarlayer_free(fetch_tarlayer *l);
static inline void fetch_tarlayer_freep(fetch_tarlayer **l)
{
	fetch_tarlayer_free(*l);
}

/*
 * Checks one entry against the rules and records it. Returns a fetch_tarlayer_action (>= 0) or a
 * negative errno with reterr naming the entry and the rule. For CONTENT, *ret_ordinal is the
 * number to pass to set_content() and to the split builder.
 */
int fetch_tarlayer_add(fetch_tarlayer *l, const fetch_tar_entry *e, uint64_t *ret_ordinal,
		       berth_error *reterr);
void fetch_tarlayer_set_content(fetch_tarlayer *l, uint64_t ordinal, const store_file_ref *ref);
/* Entries recorded so far (skipped ones not counted). */
uint64_t fetch_tarlayer_count(const fetch_tarlayer *l);

/*
 * Builds the tree (the layer's entries move into it). *ret_map (malloc()ed, *ret_n entries) maps
 * each ordinal to the entry's index in the finished tree.
 */
int fetch_tarlayer_finish(fetch_tarlayer *l, store_tree **ret_tree, uint32_t **ret_map,
			  size_t *ret_n, berth_error *reterr);

/*
 * Normalizes a tar path (see the rules above) into *ret (malloc()ed); the error names the path
 * and the rule. Exposed for tests.
 */
int fetch_tar_path_normalize(const char *path, char **ret, berth_error *reterr);
