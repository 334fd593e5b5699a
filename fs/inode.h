/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/inode.h: the inode table: one node per file the kernel knows (has looked up and not yet
 * forgotten), keyed by the number stat shows (fs/fs.h, "Inode numbers").
 *
 * The FUSE node id of a node is its address (the root's is FUSE_ROOT_ID), as in libfuse's
 * passthrough_ll, so an operation finds its node without a table lookup; the table is consulted
 * only by lookups, to hand the kernel the node it already knows for a number (hard links, copy-up
 * keep the number). The table is sharded by number, each shard with its own mutex: there is no
 * global lock.
 *
 * Lifetime: a node lives while nlookup (the kernel's references: one per reply_entry/create,
 * dropped by forget) or refs (ours: each child node holds its parent, each open handle its node,
 * each operation that must outlive a concurrent forget) is non-zero.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/index.h"

/* Numbers of entries created in upper/: (1 << 62) | upper st_ino (fs/fs.h). */
#define FS_INO_UPPER_BIT (UINT64_C(1) << 62)

typedef struct fs_node fs_node;
struct fs_node {
	const uint64_t ino;  /* st_ino; the table key; immutable */
	const uint32_t type; /* S_IFMT bits; immutable */

	fs_node *hnext;	  /* shard lock */
	bool detached;	  /* shard lock; out of the table: its number now names another entry */
	uint64_t nlookup; /* shard lock */
	uint64_t refs;	  /* shard lock */

	pthread_mutex_t lock; /* protects the fields below */
	fs_node *parent; /* lock; one name the node was reached by (a ref is held), NULL: root */
	char *name;	 /* lock; its name in parent (NULL for the root) */
	store_ino lower; /* lock; index inode whose data/entries show through, 0: none */
	int upper;	 /* lock; directory: O_PATH fd of the upper entry, -EBADF: none; set once */
	/* lock; other types: a file handle of the upper entry, NULL: none; set once. Not an fd:
	 * the kernel may cache any number of inodes, fds are limited (fs_node_upper_fd()). */
	struct file_handle *upper_fh;
	bool opaque;   /* lock; directory: lower entries are hidden */
	bool metacopy; /* lock; regular file in upper whose data is still the lower one */
	bool unlinked; /* lock; removed from the union (kept while the kernel holds it) */
};

typedef struct fs_table fs_table;

/* The fields a new node starts with; `upper` (an O_PATH fd of the upper entry, any type) is
 * handed over to the node on insert: a directory keeps it, others keep a file handle. */
typedef struct fs_node_init {
	uint64_t ino;
	uint32_t type;
	store_ino lower;
	int upper;
	bool opaque;
	bool metacopy;
} fs_node_init;

int fs_table_new(fs_table **ret);
/* Frees every node left (at unmount the kernel does not forget everything). */
fs_table *fs_table_free(fs_table *t);

/* The root node, nlookup 1 forever. Created by fs_table_set_root(). */
fs_node *fs_table_root(fs_table *t);
int fs_table_set_root(fs_table *t, const fs_node_init *init);

/*
 * Finds the node numbered init->ino, or inserts a new one from init with parent/name, and adds
 * one lookup. An existing node keeps its state (its own upper fd: init->upper is closed);
 * its parent/name are updated to the new ones when it had none or was unlinked. init->upper
 * is consumed in every case. NULL on ENOMEM.
 */
fs_node *fs_table_lookup_add(fs_table *t, const fs_node_init *init, fs_node *parent,
			     const char *name);
/* The node numbered ino with a ref the caller drops, or NULL if the kernel does not know it. */
fs_node *fs_table_find(fs_table *t, uint64_t ino);
/* Marks n unlinked if its recorded name is (parent, name): a later lookup by another name of
 * the same inode (a hard link) adopts that name. */
void fs_node_unlinked(fs_node *n, fs_node *parent, const char *name);
/* Drops n lookups (forget); frees the node when nothing holds it any more. */
void fs_table_forget(fs_table *t, fs_node *n, uint64_t nlookup);
/* Adds one lookup to a node the caller holds (readdirplus of a known node, link). */
void fs_table_lookup_more(fs_table *t, fs_node *n);

/* Internal references. */
void fs_node_ref(fs_table *t, fs_node *n);
void fs_node_unref(fs_table *t, fs_node *n);

/* Number of live nodes (tests: forget works). */
uint64_t fs_table_count(fs_table *t);

/* Snapshot of the fields under n->lock. `upper` is borrowed: valid while the node lives. */
typedef struct fs_node_state {
	store_ino lower;
	bool has_upper;
	int upper;			    /* directories */
	const struct file_handle *upper_fh; /* other types */
	bool opaque;
	bool metacopy;
	bool unlinked;
} fs_node_state;
void fs_node_get_state(fs_node *n, fs_node_state *ret);

/* Sets the upper entry (copy-up) from an O_PATH fd, consumed; a no-op if it has one. */
void fs_node_set_upper(fs_node *n, int fd, bool metacopy);
/* Moves the node to a new parent/name (rename). Takes a ref on new_parent, drops the old one. */
int fs_node_move(fs_table *t, fs_node *n, fs_node *new_parent, const char *new_name);
/* Returns parent (with a ref the caller drops) and a copy of the name; -ENOENT for the root. */
int fs_node_get_parent(fs_table *t, fs_node *n, fs_node **ret_parent, char **ret_name);
