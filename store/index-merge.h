/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/index-merge.h: the merged view of an image's layers, as index-build.c computes it and
 * index-write.c writes it out. Private to store/.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/tree.h"
#include "util/buf.h"

#define IDX_NONE  UINT32_MAX
#define NODES_MAX (UINT32_MAX - 1)

typedef struct mnode {
	const char *path; /* borrowed; path_len bytes, not necessarily NUL-terminated there */
	uint64_t hash;
	const store_entry *e; /* NULL: an implied directory (0755 root:root, mtime 0) */
	uint32_t path_len;
	uint32_t name_off; /* where the last component starts */
	uint32_t parent;
	uint32_t first_child, next_sibling;
	uint32_t group;	     /* hard-link group, or IDX_NONE */
	uint32_t ino;	     /* assigned at the end */
	uint32_t kids_first; /* DIR, at the end: run in merger.kids */
	uint32_t kids_count;
	uint8_t type; /* store_entry_type, HARDLINK resolved to REG */
	bool alive;
} mnode;

typedef struct merger {
	mnode *nodes;
	size_t n, cap;
	uint32_t *table; /* node index or IDX_NONE; power-of-two size */
	size_t table_size;
	uint32_t *stack; /* scratch for kills and the final walk */
	size_t stack_n, stack_cap;
	uint32_t n_groups;
	uint32_t last_parent; /* parent_of()'s last answer, or IDX_NONE */
	/* Results of the final walk. */
	uint32_t *kids; /* sorted alive children of every directory, runs in ino order */
	size_t n_kids;
	uint32_t *ino_node; /* node of each ino (first name of a hard-link group) */
	uint32_t n_inodes;
	uint32_t *group_ino, *group_nlink;
} merger;

void index_merger_done(merger *m);

/* Writes the merged view as an index file's bytes: into out (replacing its content) ... */
int index_write_mem(const merger *m, buf *out);
/* ... or into (dirfd, path), with write_file_atomic()'s temp-fsync-rename-fsync semantics. */
int index_write_file(int dirfd, const char *path, const merger *m);
