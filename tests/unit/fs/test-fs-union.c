/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/union.c, readdir.c, copyup.c, write.c without FUSE: resolving names through upper/ and the
 * index, the merged directory, copy-up (data, metadata only), whiteouts, opaque directories and
 * the rename of a lower directory, checked in the union and in the upper directory's format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fs-private.h"
#include "tests/unit/fs/layers.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

typedef struct fixture {
	char *dir;
	store *s;
	fs *f;
	int upper; /* O_DIRECTORY fd of upper/ */
	store_digest image;
} fixture;

static void put(const char *dir, const char *path, const char *content)
{
	char *p = path_join(dir, path);

	assert_int_equal(write_file_atomic(AT_FDCWD, p, content, strlen(content), 0644), 0);
	free(p);
}

static void mk(const char *dir, const char *path)
{
	char *p = path_join(dir, path);

	assert_int_equal(mkdir_p(AT_FDCWD, p, 0755), 0);
	free(p);
}

/* l1: d/{a,b}, o/x, big (100 kB); l2: whiteout d/b, o opaque with y, d/c */
static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));
	berth_error err = BERTH_ERROR_INIT;
	char *l1, *l2, *p, *big;
	fs_options o = {};

	fx->dir = unit_tmpdir();
	l1 = path_join(fx->dir, "l1");
	l2 = path_join(fx->dir, "l2");
	mk(l1, "d");
	mk(l1, "o");
	put(l1, "d/a", "alpha\n");
	put(l1, "d/b", "beta\n");
	put(l1, "o/x", "x\n");
	put(l1, "d/h1", "linked\n");
	{
		char *a = path_join(l1, "d/h1"), *b = path_join(l1, "o/h2");
		char *c = path_join(l1, "h3");

		assert_int_equal(link(a, b), 0);
		assert_int_equal(link(a, c), 0);
		free(a);
		free(b);
		free(c);
	}
	big = malloc(100000);
	memset(big, 'z', 99999);
	big[99999] = '\0';
	put(l1, "big", big);
	free(big);
	mk(l2, "d");
	mk(l2, "o");
	put(l2, "d/c", "gamma\n");
	put(l2, "o/y", "y\n");
	p = path_join(l2, "d/b");
	assert_int_equal(mknod(p, S_IFCHR | 0, makedev(0, 0)), 0);
	free(p);
	p = path_join(l2, "o");
	assert_int_equal(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	free(p);

	p = path_join(fx->dir, "root");
	assert_int_equal(store_open(p, STORE_OPEN_CREATE, &fx->s, &err), 0);
	free(p);
	const char *dirs[] = { l1, l2 };
	assert_int_equal(fs_test_image_from_dirs(fx->s, dirs, 2, NULL, &o.image, &err), 0);
	o.upper = p = path_join(fx->dir, "upper");
	o.work = path_join(fx->dir, "work");
	assert_int_equal(fs_new(fx->s, &o, &fx->f, &err), 0);
	fx->image = o.image;
	fx->upper = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fx->upper >= 0);
	free(p);
	free((char *)o.work);
	free(l1);
	free(l2);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;

	close(fx->upper);
	fs_free(fx->f);
	store_free(fx->s);
	unit_tmpdir_remove(fx->dir);
	free(fx);
	return 0;
}

static fs_node *root(fixture *fx)
{
	return fs_table_root(fx->f->table);
}

/* The node of a name (a lookup, as the kernel would make). */
static fs_node *node(fixture *fx, fs_node *parent, const char *name)
{
	fs_child c;
	fs_node_init init;

	assert_int_equal(fs_resolve(fx->f, parent, name, true, &c), 0);
	init = (fs_node_init){ .ino = c.ino,
			       .type = c.type,
			       .lower = c.lower,
			       .upper = c.upper,
			       .opaque = c.opaque,
			       .metacopy = c.metacopy };
	fs_node *n = fs_table_lookup_add(fx->f->table, &init, parent, name);
	assert_non_null(n);
	return n;
}

static char *read_node(fixture *fx, fs_node *n)
{
	static char b[200000];
	bool lower;
	int fd = fs_node_open(fx->f, n, O_RDONLY, &lower);
	ssize_t len;

	assert_true(fd >= 0);
	len = pread(fd, b, sizeof(b) - 1, 0);
	assert_true(len >= 0);
	b[len] = '\0';
	close(fd);
	return b;
}

static char *names(fixture *fx, fs_node *dir)
{
	static char out[4096];
	fs_dir d;

	out[0] = '\0';
	assert_int_equal(fs_dir_read(fx->f, dir, &d), 0);
	for (size_t i = 0; i < d.n; i++) {
		fs_child c;

		strcat(out, d.entries[i].name);
		strcat(out, " ");
		/* d_ino agrees with what a lookup gives */
		if (i >= 2) {
			assert_int_equal(fs_resolve(fx->f, dir, d.entries[i].name, false, &c), 0);
			assert_int_equal(c.ino, d.entries[i].ino);
		}
	}
	fs_dir_done(&d);
	return out;
}

static void test_fs_union__resolve_layers(void **state)
{
	fixture *fx = *state;
	fs_node *d = node(fx, root(fx), "d"), *o = node(fx, root(fx), "o");
	fs_child c;

	assert_string_equal(read_node(fx, node(fx, d, "a")), "alpha\n");
	assert_string_equal(read_node(fx, node(fx, d, "c")), "gamma\n");
	assert_int_equal(fs_resolve(fx->f, d, "b", false, &c), -ENOENT); /* whiteout */
	assert_int_equal(fs_resolve(fx->f, o, "x", false, &c), -ENOENT); /* opaque */
	assert_int_equal(fs_resolve(fx->f, d, "zz", false, &c), -ENOENT);
	assert_string_equal(names(fx, d), ". .. a c h1 ");
	assert_string_equal(names(fx, o), ". .. y ");
}

static void test_fs_union__hardlinks_stay_one_inode(void **state)
{
	fixture *fx = *state;
	fs_node *d = node(fx, root(fx), "d"), *h1 = node(fx, d, "h1");
	struct stat st1, st2;
	bool lower;
	int fd;

	/* three names in l1: d/h1, h3, and o/h2, which l2's opaque o hides: the index counts
	 * the names the image shows */
	assert_int_equal(fs_node_stat(fx->f, h1, &st1), 0);
	assert_int_equal(st1.st_nlink, 2);
	fd = fs_node_open(fx->f, h1, O_WRONLY | O_APPEND, &lower);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "more\n", 5), 5);
	close(fd);
	/* the visible name follows the copy-up; the hidden one (opaque dir) is left alone */
	assert_int_equal(fstatat(fx->upper, "d/h1", &st1, 0), 0);
	assert_int_equal(fstatat(fx->upper, "h3", &st2, 0), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_nlink, 2);
	assert_string_equal(read_node(fx, h1), "linked\nmore\n");
	assert_string_equal(read_node(fx, node(fx, root(fx), "h3")), "linked\nmore\n");
	assert_ptr_equal(node(fx, root(fx), "h3"), h1);
}

static void test_fs_union__hardlink_copy_up_links_names(void **state)
{
	fixture *fx = *state;
	fs_node *d = node(fx, root(fx), "d"), *a = node(fx, d, "a");
	fs_creds cr = { 0, 0 };
	struct stat st1, st2;
	fs_child c;
	bool lower;
	int fd;

	(void)cr;
	/* a second lower name for d/a does not exist; make one in upper and check link(2) */
	assert_int_equal(fs_link(fx->f, a, root(fx), "a2", &c), 0);
	close(c.upper);
	assert_int_equal(c.ino, a->ino);
	fd = fs_node_open(fx->f, a, O_WRONLY | O_TRUNC, &lower);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "new\n", 4), 4);
	close(fd);
	assert_int_equal(fstatat(fx->upper, "d/a", &st1, 0), 0);
	assert_int_equal(fstatat(fx->upper, "a2", &st2, 0), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_nlink, 2);
	assert_string_equal(read_node(fx, node(fx, root(fx), "a2")), "new\n");
}

static void test_fs_union__metacopy_then_data(void **state)
{
	fixture *fx = *state;
	fs_node *big = node(fx, root(fx), "big");
	struct stat attr = { .st_mode = 0600 }, st;
	char v[8];
	int fd;
	bool lower;

	assert_int_equal(fs_setattr(fx->f, big, &attr, FS_SET_MODE, -EBADF), 0);
	/* metadata only: a sparse file marked metacopy, its number recorded */
	assert_int_equal(fstatat(fx->upper, "big", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 99999);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(fs_upper_getxattr(fx->upper, "big", FS_XATTR_METACOPY, v, sizeof(v)), 0);
	assert_int_equal(fs_upper_getxattr(fx->upper, "big", FS_XATTR_INO, v, sizeof(v)) > 0, 1);
	/* still reads the lower data */
	assert_int_equal(strlen(read_node(fx, big)), 99999);
	assert_int_equal(fs_node_stat(fx->f, big, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* a write open copies the data and drops the mark */
	fd = fs_node_open(fx->f, big, O_WRONLY | O_APPEND, &lower);
	assert_true(fd >= 0);
	assert_false(lower);
	assert_int_equal(write(fd, "!", 1), 1);
	close(fd);
	assert_int_equal(fs_upper_getxattr(fx->upper, "big", FS_XATTR_METACOPY, v, sizeof(v)),
			 -ENODATA);
	assert_int_equal(strlen(read_node(fx, big)), 100000);
}

static void test_fs_union__remove_leaves_whiteout(void **state)
{
	fixture *fx = *state;
	fs_node *d = node(fx, root(fx), "d");
	fs_creds cr = { 0, 0 };
	struct stat st;
	fs_child c;

	node(fx, d, "a");
	assert_int_equal(fs_remove(fx->f, d, "a", false), 0);
	assert_int_equal(fstatat(fx->upper, "d/a", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	assert_int_equal(fs_resolve(fx->f, d, "a", false, &c), -ENOENT);
	assert_string_equal(names(fx, d), ". .. c h1 ");
	/* a directory made over a whiteout is opaque */
	assert_int_equal(fs_create(fx->f, d, "a", S_IFDIR | 0755, 0, NULL, 0, &cr, &c, NULL), 0);
	assert_true(c.opaque);
	close(c.upper);
	/* rmdir of a lower directory with content: refused; empty: whiteout */
	assert_int_equal(fs_remove(fx->f, root(fx), "d", true), -ENOTEMPTY);
	node(fx, d, "c");
	assert_int_equal(fs_remove(fx->f, d, "c", false), 0);
	node(fx, d, "h1");
	assert_int_equal(fs_remove(fx->f, d, "h1", false), 0);
	assert_int_equal(fs_remove(fx->f, d, "a", true), 0);
	assert_int_equal(fs_remove(fx->f, root(fx), "d", true), 0);
	assert_int_equal(fs_resolve(fx->f, root(fx), "d", false, &c), -ENOENT);
}

static void test_fs_union__rename_lower_dir(void **state)
{
	fixture *fx = *state;
	fs_node *d = node(fx, root(fx), "d");
	uint64_t ino = d->ino;
	char v[64];
	fs_child c;
	ssize_t len;

	assert_int_equal(fs_rename(fx->f, root(fx), "d", root(fx), "e", 0), 0);
	assert_int_equal(fs_resolve(fx->f, root(fx), "d", false, &c), -ENOENT);
	assert_int_equal(fs_resolve(fx->f, root(fx), "e", false, &c), 0);
	assert_int_equal(c.ino, ino); /* st_ino survives copy-up and rename */
	len = fs_upper_getxattr(fx->upper, "e", FS_XATTR_REDIRECT, v, sizeof(v));
	assert_int_equal(len, 2);
	assert_memory_equal(v, "/d", 2);
	assert_string_equal(names(fx, d), ". .. a c h1 ");
	assert_string_equal(read_node(fx, node(fx, d, "a")), "alpha\n");
	/* RENAME_NOREPLACE over an existing name */
	assert_int_equal(fs_rename(fx->f, root(fx), "e", root(fx), "o", RENAME_NOREPLACE), -EEXIST);
	/* RENAME_EXCHANGE swaps */
	node(fx, root(fx), "o");
	assert_int_equal(fs_rename(fx->f, root(fx), "e", root(fx), "o", RENAME_EXCHANGE), 0);
	assert_int_equal(fs_resolve(fx->f, root(fx), "o", false, &c), 0);
	assert_int_equal(c.ino, ino);
}

static void test_fs_union__work_emptied_at_start(void **state)
{
	fixture *fx = *state;
	char *w = path_join(fx->dir, "work/#leftover");
	berth_error err = BERTH_ERROR_INIT;
	fs_options o = {};
	struct stat st;
	fs *f2;

	assert_int_equal(write_file_atomic(AT_FDCWD, w, "half", 4, 0600), 0);
	/* a second fs on the same dirs (not served): opening it cleans work/ */
	o.image = fx->image;
	o.upper = path_join(fx->dir, "upper");
	o.work = path_join(fx->dir, "work");
	assert_int_equal(fs_new(fx->s, &o, &f2, &err), 0);
	assert_int_equal(stat(w, &st), -1);
	fs_free(f2);
	free((char *)o.upper);
	free((char *)o.work);
	free(w);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_fs_union__resolve_layers, setup, teardown),
	cmocka_unit_test_setup_teardown(test_fs_union__metacopy_then_data, setup, teardown),
	cmocka_unit_test_setup_teardown(test_fs_union__hardlinks_stay_one_inode, setup, teardown),
	cmocka_unit_test_setup_teardown(test_fs_union__hardlink_copy_up_links_names, setup,
					teardown),
	cmocka_unit_test_setup_teardown(test_fs_union__remove_leaves_whiteout, setup, teardown),
	cmocka_unit_test_setup_teardown(test_fs_union__rename_lower_dir, setup, teardown),
	cmocka_unit_test_setup_teardown(test_fs_union__work_emptied_at_start, setup, teardown),
};
UNIT_EXPORT(fs, union, tests);
