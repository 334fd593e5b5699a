/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/index.h: the flattened image index, the file fs/ serves (DESIGN.md decision 3).
 *
 * Built once per image, when the image is created: the image's layers are merged bottom to top
 * (whiteouts delete, opaque directories hide what is below, later entries replace earlier ones, a
 * hard link shares its target's inode), and the result is written as one immutable file,
 * index/<image id hex>, that readers mmap() read-only and share between every mount of the image.
 *
 * Inode numbers: 1 is the root; the others are assigned in depth-first, name-sorted order of the
 * merged tree; all names of a hard-linked file share one inode whose nlink counts them. They are a
 * pure function of the image's content, so they are stable across remounts and hosts.
 *
 * File format (all integers little-endian; version 1):
 *   header: magic "BRTHIDX1", u32 version, u32 header size, u64 inode count, u64 dirent count,
 *           u64 total regular-file bytes, section offsets and sizes, u64 XXH3-64 checksum of every
 *           byte after the header. A file whose magic, version, bounds or checksum is wrong is
 *           refused with -EBADMSG (and rebuilt by store_index_open()).
 *   inodes: fixed-size records indexed by ino - 1.
 *   dirents: per directory a contiguous run sorted by name (readdir order, stable offsets).
 *   hash table: open addressing on XXH3(parent ino, name) -> dirent, for O(1) lookup whatever
 *           the layer count. XXH3 is fine here: the index is derived locally from verified objects.
 *   strings: names, symlink targets, xattr names and values.
 *
 * Invariants: read-only once written; every offset inside bounds (checked at open, so lookups need
 * no checks); "." and ".." are not stored; no whiteout survives into the index.
 * Lookups allocate nothing, take no lock, and may run from many threads at once.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/image.h"
#include "store/store.h"
#include "store/tree.h"
#include "util/buf.h"
#include "util/error.h"

typedef uint64_t store_ino;
#define STORE_INO_ROOT ((store_ino)1)

typedef struct store_index store_index;

/* A decoded view of one inode. Pointers borrow from the mapped index. */
typedef struct store_inode {
	store_ino ino;
	uint32_t mode; /* S_IFMT | permission bits */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t size; /* REG: content size; LNK: target length; DIR: 4096; others 0 */
	uint64_t rdev;
	int64_t mtime_ns, atime_ns;
	store_file_ref content; /* regular files */
	const char *link;	/* symlink target, not NUL-terminated */
	uint32_t link_len;
	uint32_t n_xattrs;
} store_inode;

typedef struct store_dirent {
	const char *name; /* not NUL-terminated */
	uint32_t name_len;
	store_ino ino;
	uint32_t mode; /* S_IFMT | permission bits of the child */
} store_dirent;

/* Merges the image's layers and writes index/<id hex> atomically. */
int store_index_build(store *s, const store_image *img, berth_error *reterr);
/*
 * The merge alone: finished trees, bottom layer first, into the bytes of an index file, which
 * replace out's content (store_index_build() writes these; tests and the fuzz corpus use them
 * directly). The trees' strings are borrowed during the call only.
 */
int store_index_build_mem(const store_tree *const *layers, size_t n_layers, buf *out,
			  berth_error *reterr);
/* Maps the image's index, rebuilding it if it is missing or fails its checks. */
int store_index_open(store *s, const store_digest *image_id, store_index **ret,
		     berth_error *reterr);
/* Maps an index file directly (tests, fuzzing): checks everything, never rebuilds. */
int store_index_open_fd(int fd, store_index **ret, berth_error *reterr);
/* Same checks on an in-memory copy (fuzz target). The memory must outlive the index. */
int store_index_open_mem(const void *data, size_t len, store_index **ret, berth_error *reterr);
store_index *store_index_free(store_index *idx);
static inline void store_index_freep(store_index **i)
{
	store_index_free(*i);
}

uint64_t store_index_inode_count(const store_index *idx);
uint64_t store_index_content_bytes(const store_index *idx);

/* -ENOENT if absent; -ENOTDIR if parent is not a directory. No allocation. */
int store_index_lookup(const store_index *idx, store_ino parent, const char *name, size_t name_len,
		       store_ino *ret);
/* Resolves "a/b/c" ("" = root) without following symlinks. */
int store_index_lookup_path(const store_index *idx, const char *path, store_ino *ret);
/* -ENOENT for an ino out of range. */
int store_index_stat(const store_index *idx, store_ino ino, store_inode *ret);
/* Number of children of a directory (not counting "." and ".."); -ENOTDIR. */
int store_index_dir_size(const store_index *idx, store_ino dir, uint64_t *ret);
/* The pos'th child (0-based, name order). -ENOENT past the end. */
int store_index_readdir(const store_index *idx, store_ino dir, uint64_t pos, store_dirent *ret);
/* Parent directory of a directory (root's parent is root). -ENOTDIR for non-directories, whose
 * parent is not unique once hard links exist. */
int store_index_parent(const store_index *idx, store_ino dir, store_ino *ret);

/* The i'th xattr of an inode; name NUL-terminated, value borrowed. -ENOENT past the end. */
int store_index_xattr(const store_index *idx, store_ino ino, uint32_t i, const char **ret_name,
		      const void **ret_value, size_t *ret_len);
/* The value of a named xattr; -ENODATA if the inode has none of that name. */
int store_index_getxattr(const store_index *idx, store_ino ino, const char *name,
			 const void **ret_value, size_t *ret_len);
