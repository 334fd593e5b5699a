/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fs/inode.c: lookup counts, refs, identity by number, parent chains freed by forget. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/inode.h"
#include "tests/unit/unit.h"

static fs_table *table_with_root(void)
{
	fs_node_init root = { .ino = STORE_INO_ROOT, .type = S_IFDIR, .lower = 1, .upper = -EBADF };
	fs_table *t;

	assert_int_equal(fs_table_new(&t), 0);
	assert_int_equal(fs_table_set_root(t, &root), 0);
	return t;
}

static fs_node *add(fs_table *t, uint64_t ino, uint32_t type, fs_node *parent, const char *name)
{
	fs_node_init init = { .ino = ino, .type = type, .lower = ino, .upper = -EBADF };
	fs_node *n = fs_table_lookup_add(t, &init, parent, name);

	assert_non_null(n);
	return n;
}

static void test_fs_inode__same_number_same_node(void **state)
{
	fs_table *t = table_with_root();
	fs_node *root = fs_table_root(t);
	fs_node *a = add(t, 10, S_IFREG, root, "a");
	fs_node *b = add(t, 10, S_IFREG, root, "b");

	assert_ptr_equal(a, b); /* hard links: one node */
	assert_int_equal(a->nlookup, 2);
	assert_int_equal(fs_table_count(t), 2);
	fs_table_forget(t, a, 1);
	assert_int_equal(fs_table_count(t), 2);
	fs_table_forget(t, a, 1);
	assert_int_equal(fs_table_count(t), 1);
	assert_null(fs_table_find(t, 10));
	fs_table_free(t);
}

static void test_fs_inode__forget_frees_parent_chain(void **state)
{
	fs_table *t = table_with_root();
	fs_node *d1 = add(t, 2, S_IFDIR, fs_table_root(t), "d1");
	fs_node *d2 = add(t, 3, S_IFDIR, d1, "d2");
	fs_node *f = add(t, 4, S_IFREG, d2, "f");

	assert_int_equal(fs_table_count(t), 4);
	/* The kernel forgets parents before children sometimes: the child's ref keeps them. */
	fs_table_forget(t, d1, 1);
	fs_table_forget(t, d2, 1);
	assert_int_equal(fs_table_count(t), 4);
	fs_table_forget(t, f, 1);
	assert_int_equal(fs_table_count(t), 1);
	fs_table_free(t);
}

static void test_fs_inode__find_takes_a_ref(void **state)
{
	fs_table *t = table_with_root();
	fs_node *n = add(t, 7, S_IFREG, fs_table_root(t), "x");
	fs_node *m = fs_table_find(t, 7);

	assert_ptr_equal(n, m);
	fs_table_forget(t, n, 1);
	assert_int_equal(fs_table_count(t), 2); /* still held by find's ref */
	fs_node_unref(t, m);
	assert_int_equal(fs_table_count(t), 1);
	fs_table_free(t);
}

static void test_fs_inode__move_and_unlinked(void **state)
{
	fs_table *t = table_with_root();
	fs_node *d = add(t, 2, S_IFDIR, fs_table_root(t), "d");
	fs_node *f = add(t, 3, S_IFREG, fs_table_root(t), "f");
	fs_node *p;
	char *name;

	assert_int_equal(fs_node_move(t, f, d, "g"), 0);
	assert_int_equal(fs_node_get_parent(t, f, &p, &name), 0);
	assert_ptr_equal(p, d);
	assert_string_equal(name, "g");
	free(name);
	fs_node_unref(t, p);
	/* Unlinked under its name, a lookup by another name adopts that one. */
	fs_node_unlinked(f, d, "g");
	assert_true(f->unlinked);
	assert_ptr_equal(add(t, 3, S_IFREG, fs_table_root(t), "other"), f);
	assert_false(f->unlinked);
	assert_string_equal(f->name, "other");
	fs_table_forget(t, f, 2);
	fs_table_forget(t, d, 1);
	assert_int_equal(fs_table_count(t), 1);
	fs_table_free(t);
}

static void test_fs_inode__many_nodes(void **state)
{
	fs_table *t = table_with_root();
	static fs_node *nodes[20000];

	for (uint64_t i = 0; i < 20000; i++)
		nodes[i] = add(t, 100 + i * 7919, S_IFREG, fs_table_root(t), "n");
	assert_int_equal(fs_table_count(t), 20001);
	for (uint64_t i = 0; i < 20000; i += 3) {
		fs_node *m = fs_table_find(t, 100 + i * 7919);

		assert_ptr_equal(m, nodes[i]);
		fs_node_unref(t, m);
	}
	for (uint64_t i = 0; i < 20000; i++)
		fs_table_forget(t, nodes[i], 1);
	assert_int_equal(fs_table_count(t), 1);
	fs_table_free(t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fs_inode__same_number_same_node),
	cmocka_unit_test(test_fs_inode__forget_frees_parent_chain),
	cmocka_unit_test(test_fs_inode__find_takes_a_ref),
	cmocka_unit_test(test_fs_inode__move_and_unlinked),
	cmocka_unit_test(test_fs_inode__many_nodes),
};
UNIT_EXPORT(fs, inode, tests);
