/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/store/tree-util.h: building layer trees in the store's unit tests (tree, index,
 * image, gc). Every helper asserts success, so a test reads as the tree it builds.
 */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "store/tree.h"
#include "tests/unit/unit.h"

static inline store_entry tu_entry(const char *path, store_entry_type type, uint32_t mode)
{
	store_entry e = {
		.type = (uint8_t)type, .mode = mode, .mtime_ns = 1000000000, .atime_ns = 1000000000
	};

	e.path = strdup(path);
	assert_non_null(e.path);
	return e;
}

static inline void tu_add(store_tree *t, store_entry *e)
{
	berth_error err = BERTH_ERROR_INIT;

	assert_int_equal(store_tree_add(t, e, &err), 0);
}

static inline void tu_dir(store_tree *t, const char *path, uint32_t mode, uint8_t flags)
{
	store_entry e = tu_entry(path, STORE_ENTRY_DIR, mode);

	e.flags = flags;
	tu_add(t, &e);
}

/* A regular file with a made-up content reference (digest of its path), for merge tests. */
static inline void tu_reg(store_tree *t, const char *path, uint64_t size)
{
	store_entry e = tu_entry(path, STORE_ENTRY_REG, 0644);

	store_digest_buf(path, strlen(path), &e.content.digest);
	e.content.size = size;
	e.content.nchunks = size > 0 ? 1 : 0;
	tu_add(t, &e);
}

static inline void tu_reg_ref(store_tree *t, const char *path, const store_file_ref *f)
{
	store_entry e = tu_entry(path, STORE_ENTRY_REG, 0644);

	e.content = *f;
	tu_add(t, &e);
}

static inline void tu_link(store_tree *t, const char *path, store_entry_type type,
			   const char *target)
{
	store_entry e = tu_entry(path, type, type == STORE_ENTRY_SYMLINK ? 0777 : 0644);

	e.link = strdup(target);
	assert_non_null(e.link);
	tu_add(t, &e);
}

static inline void tu_whiteout(store_tree *t, const char *path)
{
	store_entry e = tu_entry(path, STORE_ENTRY_WHITEOUT, 0);

	tu_add(t, &e);
}

/* Adds an xattr to the last entry added before store_tree_finish() sorts: use on fresh entries. */
static inline void tu_xattr(store_entry *e, const char *name, const void *value, size_t len)
{
	e->xattrs = realloc(e->xattrs, (e->n_xattrs + 1) * sizeof(store_xattr));
	assert_non_null(e->xattrs);
	e->xattrs[e->n_xattrs].name = strdup(name);
	e->xattrs[e->n_xattrs].value = len ? malloc(len) : NULL;
	if (len)
		memcpy(e->xattrs[e->n_xattrs].value, value, len);
	e->xattrs[e->n_xattrs].len = len;
	e->n_xattrs++;
}

static inline store_tree *tu_new(void)
{
	store_tree *t = NULL;

	assert_int_equal(store_tree_new(&t), 0);
	return t;
}

static inline void tu_finish(store_tree *t)
{
	berth_error err = BERTH_ERROR_INIT;
	int r = store_tree_finish(t, &err);

	if (r < 0)
		fail_msg("store_tree_finish: %s", berth_error_message(&err, r));
}
