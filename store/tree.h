/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/tree.h: a layer's entries, with their full metadata; the STORE_TREE object.
 *
 * A layer is what one tar (or one commit) says about a file system: every entry's type, mode,
 * owner, times in ns, size, xattrs (security.capability included), symlink target, device number,
 * hard links (an entry of type HARDLINK naming the path of its target in the same layer), and the
 * union markers: WHITEOUT entries (this path is deleted from the layers below) and directories
 * flagged OPAQUE (hide everything below them in lower layers).
 *
 * Invariants of a store_tree (checked by store_tree_finish() and by decode):
 * - Paths are relative and normalized: components separated by single '/', none empty, "." or
 *   "..", no leading or trailing '/', no NUL, each component <= 255 bytes and the path < 4096
 *   bytes. The root directory is the path "" (optional; its metadata applies to "/").
 * - Entries are sorted by strcmp() of their paths and unique. Every entry's parent directory is
 *   either present in this tree as a DIR or absent (then it comes from a lower layer, or is
 *   implied with mode 0755 root:root when the image index is built).
 * - A HARDLINK's target (link) is the path of a REG entry of the same tree (tar allows a link
 *   only to an entry stored earlier in the stream; the tree, being sorted, does not care).
 * - Only REG entries have content; xattrs are sorted by name and unique.
 * The encoding is deterministic, so equal trees have equal digests.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

typedef enum store_entry_type {
	STORE_ENTRY_REG = 1,
	STORE_ENTRY_DIR,
	STORE_ENTRY_SYMLINK,
	STORE_ENTRY_HARDLINK,
	STORE_ENTRY_CHR,
	STORE_ENTRY_BLK,
	STORE_ENTRY_FIFO,
	STORE_ENTRY_SOCK,
	STORE_ENTRY_WHITEOUT,
	_STORE_ENTRY_TYPE_MAX,
} store_entry_type;

#define STORE_ENTRY_OPAQUE 0x1u /* DIR only: lower layers' contents of this directory are hidden */

typedef struct store_xattr {
	char *name;
	uint8_t *value;
	size_t len;
} store_xattr;

typedef struct store_entry {
	char *path;
	uint8_t type;  /* store_entry_type */
	uint8_t flags; /* STORE_ENTRY_OPAQUE */
	uint32_t mode; /* permission bits only: 07777 */
	uint32_t uid, gid;
	int64_t mtime_ns, atime_ns;
	uint64_t rdev;		/* CHR/BLK: makedev(major, minor) */
	char *link;		/* SYMLINK: target; HARDLINK: path of the target entry */
	store_file_ref content; /* REG: content (size is the file size) */
	size_t n_xattrs;
	store_xattr *xattrs;
} store_entry;

typedef struct store_tree store_tree;

int store_tree_new(store_tree **ret);
store_tree *store_tree_free(store_tree *t);
static inline void store_tree_freep(store_tree **t)
{
	store_tree_free(*t);
}
/* Frees what an entry owns (path, link, xattrs) and zeroes it. */
void store_entry_done(store_entry *e);

/*
 * Moves *e into the tree (e is zeroed; the tree owns its strings now). Order does not matter;
 * store_tree_finish() sorts. -EINVAL (with detail) if the path is not normalized.
 */
int store_tree_add(store_tree *t, store_entry *e, berth_error *reterr);
/*
 * Sorts and checks every invariant; -EEXIST for a duplicate path, -EINVAL otherwise (reterr names
 * the path and the rule). Fields that do not apply to an entry's type (rdev, content) are cleared,
 * since the encoding does not carry them; a link target on an entry that is no link is refused.
 */
int store_tree_finish(store_tree *t, berth_error *reterr);
/* Looks up a path in a finished tree (binary search). NULL if absent. */
const store_entry *store_tree_find(const store_tree *t, const char *path);

size_t store_tree_count(const store_tree *t);
const store_entry *store_tree_entry(const store_tree *t, size_t i);

/* Deterministic binary encoding of a finished tree. */
int store_tree_encode(const store_tree *t, buf *out);
/* Decodes and checks everything (this parses untrusted bytes: fuzzed). */
int store_tree_decode(const void *data, size_t len, store_tree **ret, berth_error *reterr);

/* encode + store_object_put(STORE_TREE); load = get + decode. */
int store_tree_put(store *s, const store_tree *t, store_digest *ret);
int store_tree_load(store *s, const store_digest *d, store_tree **ret, berth_error *reterr);

/* Validates one path (see invariants); "" is valid. */
bool store_path_is_normalized(const char *path);
