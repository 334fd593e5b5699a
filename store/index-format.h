/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/index-format.h: the on-disk records of the image index (store/index.h), shared by the
 * builder (index-build.c) and the reader (index.c). Private to store/.
 *
 * Layout, version 1 (little-endian; every section offset a multiple of 8):
 *
 *     header (128 bytes) | inodes | dirents | xattrs | hash | strings
 *
 * in this order, without gaps, to the end of the file (open checks that exactly).
 *
 * - inodes: idx_inode[n_inodes], ino i at index i - 1; ino 1 is the root directory.
 * - dirents: idx_dirent[n_dirents]; directory runs are laid out back to back in ino order (the
 *   run of a directory starts where the previous directory's ended), each sorted by name
 *   (memcmp over the shorter length, then the shorter first). The tiling is checked at open,
 *   which bounds the work of every walk by the file's size.
 * - xattrs: idx_xattr[]; an inode's xattrs are a contiguous run sorted by name.
 * - hash: u64 slots, a power of two >= 2 * n_dirents (so at least half are empty and a probe
 *   always ends). A slot is 0 (empty) or (dirent index + 1) | (hash >> 32) << 32, where hash is
 *   XXH3_64bits_withSeed(name, name_len, parent ino); linear probing.
 * - strings: names, symlink targets, xattr names (each followed by a NUL) and values.
 */
#pragma once

#include <assert.h>
#include <endian.h>
#include <stdint.h>

#if __BYTE_ORDER != __LITTLE_ENDIAN
#error "the index is read by mapping its little-endian records directly"
#endif

#define IDX_MAGIC    "BRTHIDX1"
#define IDX_VERSION  1
#define IDX_NAME_MAX 255
#define IDX_DIR_SIZE 4096 /* st_size reported for directories */

typedef struct idx_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t n_inodes;
	uint64_t n_dirents;
	uint64_t content_bytes;
	uint64_t inodes_off, inodes_size;
	uint64_t dirents_off, dirents_size;
	uint64_t xattrs_off, xattrs_size;
	uint64_t hash_off, hash_size;
	uint64_t strings_off, strings_size;
	uint64_t checksum; /* XXH3_64bits of bytes [header_size, file size) */
} idx_header;

typedef struct idx_inode {
	uint32_t mode; /* S_IFMT | permission bits */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t size;
	int64_t mtime_ns, atime_ns;
	uint32_t n_xattrs;
	uint32_t aux; /* REG: nchunks; DIR: number of dirents; LNK: target length */
	uint64_t xattr_first;
	union {
		uint8_t digest[32]; /* REG */
		struct {
			uint64_t dirent_first;
			uint64_t parent;
		} dir;		   /* DIR */
		uint64_t link_off; /* LNK: in strings */
		uint64_t rdev;	   /* CHR, BLK */
	} u;
} idx_inode;

typedef struct idx_dirent {
	uint64_t name_off;
	uint64_t ino;
	uint32_t name_len;
	uint32_t mode; /* the child's inode mode */
} idx_dirent;

typedef struct idx_xattr {
	uint64_t name_off; /* NUL-terminated in strings */
	uint64_t value_off;
	uint32_t name_len;
	uint32_t value_len;
} idx_xattr;

static_assert(sizeof(idx_header) == 128, "index header size");
static_assert(sizeof(idx_inode) == 88, "index inode size");
static_assert(sizeof(idx_inode) % 8 == 0, "inode records stay 8-byte aligned");
static_assert(sizeof(idx_dirent) == 24, "index dirent size");
static_assert(sizeof(idx_xattr) == 24, "index xattr size");

#define IDX_SLOT_EMPTY(slot)	    ((uint32_t)(slot) == 0)
#define IDX_SLOT_DIRENT(slot)	    ((uint64_t)(uint32_t)(slot)-1)
#define IDX_SLOT_TAG(slot)	    ((uint32_t)((slot) >> 32))
#define IDX_SLOT_MAKE(dirent, hash) (((uint64_t)(dirent) + 1) | ((uint64_t)(hash) >> 32) << 32)
