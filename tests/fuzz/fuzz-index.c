/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz-index.c: store_index_open_mem() on arbitrary bytes, then every read the
 * filesystem can make: stat every inode, readdir every directory and look every name up again,
 * read every xattr and get it by name. Open checks everything once, so none of this may crash,
 * loop or read out of bounds (ASan), and every inode number handed out must stat.
 *
 * Random bytes almost never carry a right checksum, which would keep the fuzzer at the first
 * check; so each input is tried twice: as it is, and with its checksum rewritten (the header
 * layout is in store/index-format.h), which lets mutations reach every check behind it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "store/index-format.h"
#include "store/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_dir(const store_index *idx, store_ino ino)
{
	uint64_t n = 0;
	store_dirent d;
	store_ino found, parent;

	if (store_index_dir_size(idx, ino, &n) < 0 || store_index_parent(idx, ino, &parent) < 0)
		abort();
	for (uint64_t i = 0; i < n; i++) {
		if (store_index_readdir(idx, ino, i, &d) < 0)
			abort();
		/*
		 * In an index we wrote, lookup finds this very entry. Open does not prove that the
		 * hash table indexes every entry (only that every probe stays in bounds and ends),
		 * so with tampered bytes lookup may miss, but never answer out of range.
		 */
		store_inode st;
		int r = store_index_lookup(idx, ino, d.name, d.name_len, &found);
		if (r < 0 ? r != -ENOENT : store_index_stat(idx, found, &st) < 0)
			abort();
	}
	if (store_index_readdir(idx, ino, n, &d) != -ENOENT)
		abort();
}

static void walk_xattrs(const store_index *idx, const store_inode *st)
{
	const char *name;
	const void *value, *v2;
	size_t len, l2;

	for (uint32_t i = 0; i < st->n_xattrs; i++) {
		if (store_index_xattr(idx, st->ino, i, &name, &value, &len) < 0)
			abort();
		if (store_index_getxattr(idx, st->ino, name, &v2, &l2) < 0)
			abort();
		if (len > 0)
			(void)((volatile const uint8_t *)value)[len - 1];
		if (l2 > 0)
			(void)((volatile const uint8_t *)v2)[l2 - 1];
	}
}

static void walk(const store_index *idx)
{
	uint64_t n = store_index_inode_count(idx);
	store_inode st;
	store_ino ino;

	for (store_ino i = 1; i <= n; i++) {
		if (store_index_stat(idx, i, &st) < 0)
			abort();
		if (S_ISLNK(st.mode) && st.link_len > 0)
			(void)((volatile const char *)st.link)[st.link_len - 1];
		if (S_ISDIR(st.mode))
			walk_dir(idx, i);
		walk_xattrs(idx, &st);
	}
	if (store_index_stat(idx, n + 1, &st) != -ENOENT)
		abort();
	(void)store_index_lookup_path(idx, "usr/bin/sh", &ino);
	(void)store_index_lookup_path(idx, "a//b/", &ino);
}

static void try_open(const uint8_t *data, size_t size)
{
	store_index *idx = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int r = store_index_open_mem(data, size, &idx, &err);

	if (r < 0) {
		if (r != -EBADMSG && r != -ENOMEM)
			abort();
		return;
	}
	walk(idx);
	store_index_free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees a read one byte past the end. */
	uint8_t *copy = malloc(size ? size : 1);
	uint64_t sum;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	try_open(copy, size);
	if (size >= sizeof(idx_header)) {
		sum = XXH3_64bits(copy + sizeof(idx_header), size - sizeof(idx_header));
		memcpy(copy + offsetof(idx_header, checksum), &sum, sizeof(sum));
		try_open(copy, size);
	}
	free(copy);
	return 0;
}
