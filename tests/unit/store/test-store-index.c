/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of store/index.c and store/index-build.c: merging layers, the index file, lookups. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <xxhash.h>

#include "store/index-format.h"
#include "store/index.h"
#include "store/tree.h"
#include "tests/unit/store/tree-util.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

/* An index built from layers, bottom first; the layers are freed. */
typedef struct built {
	buf bytes;
	store_index *idx;
} built;

static void built_done(built *b)
{
	store_index_free(b->idx);
	buf_done(&b->bytes);
}

static void build_bytes(store_tree **layers, size_t n, buf *out)
{
	berth_error err = BERTH_ERROR_INIT;
	int r = store_index_build_mem((const store_tree *const *)layers, n, out, &err);

	if (r < 0)
		fail_msg("build: %s", berth_error_message(&err, r));
}

static void build(built *b, store_tree **layers, size_t n)
{
	berth_error err = BERTH_ERROR_INIT;
	int r;

	*b = (built){ BUF_INIT, NULL };
	for (size_t i = 0; i < n; i++)
		tu_finish(layers[i]);
	build_bytes(layers, n, &b->bytes);
	for (size_t i = 0; i < n; i++)
		store_tree_free(layers[i]);
	r = store_index_open_mem(b->bytes.data, b->bytes.len, &b->idx, &err);
	if (r < 0)
		fail_msg("open: %s", berth_error_message(&err, r));
}

static store_ino ino_of(const store_index *idx, const char *path)
{
	store_ino ino = 0;
	int r = store_index_lookup_path(idx, path, &ino);

	if (r < 0)
		fail_msg("lookup '%s': %s", path, strerror(-r));
	return ino;
}

static store_inode stat_of(const store_index *idx, const char *path)
{
	store_inode st;

	assert_int_equal(store_index_stat(idx, ino_of(idx, path), &st), 0);
	return st;
}

static void assert_absent(const store_index *idx, const char *path)
{
	store_ino ino;
	int r = store_index_lookup_path(idx, path, &ino);

	if (r != -ENOENT)
		fail_msg("'%s' should be absent, lookup returned %d", path, r);
}

/* The names of a directory, in readdir order, joined with ','. */
static void listing(const store_index *idx, const char *dir, char *out, size_t outlen)
{
	store_ino ino = ino_of(idx, dir);
	uint64_t n;
	store_dirent d;
	size_t len = 0;

	assert_int_equal(store_index_dir_size(idx, ino, &n), 0);
	out[0] = '\0';
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(store_index_readdir(idx, ino, i, &d), 0);
		len += (size_t)snprintf(out + len, outlen - len, "%s%.*s", i ? "," : "",
					(int)d.name_len, d.name);
		/* readdir's mode and ino are the child's */
		store_ino child;
		store_inode st;
		assert_int_equal(store_index_lookup(idx, ino, d.name, d.name_len, &child), 0);
		assert_int_equal(child, d.ino);
		assert_int_equal(store_index_stat(idx, child, &st), 0);
		assert_int_equal(st.mode, d.mode);
	}
	assert_int_equal(store_index_readdir(idx, ino, n, &d), -ENOENT);
}

#define assert_listing(idx, dir, expect)           \
	do {                                       \
		char _l[4096];                     \
		listing(idx, dir, _l, sizeof(_l)); \
		assert_string_equal(_l, expect);   \
	} while (0)

static void test_store_index__single_layer(void **state)
{
	store_tree *l = tu_new();
	_cleanup_(built_done) built b = {};
	store_entry e;
	store_inode st;
	const char *name;
	const void *value;
	size_t len;
	store_ino ino, parent;

	tu_dir(l, "", 0711, 0);
	tu_dir(l, "bin", 0755, 0);
	tu_reg(l, "bin/sh", 100);
	tu_link(l, "bin/ls", STORE_ENTRY_SYMLINK, "sh");
	e = tu_entry("dev/null", STORE_ENTRY_CHR, 0666);
	e.rdev = makedev(1, 3);
	tu_add(l, &e);
	e = tu_entry("etc", STORE_ENTRY_DIR, 0700);
	e.uid = 5;
	e.gid = 6;
	e.mtime_ns = -5;
	tu_add(l, &e);
	e = tu_entry("etc/f", STORE_ENTRY_REG, 0600);
	e.content = (store_file_ref){ .size = 1000, .nchunks = 2 };
	memset(e.content.digest.b, 7, STORE_DIGEST_LEN);
	tu_xattr(&e, "security.capability", "cap", 3);
	tu_xattr(&e, "user.x", "", 0);
	tu_add(l, &e);
	tu_add(l, (e = tu_entry("fifo", STORE_ENTRY_FIFO, 0644), &e));
	build(&b, &l, 1);

	assert_int_equal(store_index_inode_count(b.idx), 9);
	assert_int_equal(store_index_content_bytes(b.idx), 1100);
	assert_int_equal(ino_of(b.idx, ""), STORE_INO_ROOT);
	st = stat_of(b.idx, "");
	assert_int_equal(st.mode, S_IFDIR | 0711);
	assert_int_equal(st.nlink, 5); /* ., .., bin, dev, etc */
	assert_listing(b.idx, "", "bin,dev,etc,fifo");
	assert_listing(b.idx, "bin", "ls,sh");
	st = stat_of(b.idx, "dev"); /* implied */
	assert_int_equal(st.mode, S_IFDIR | 0755);
	assert_int_equal(st.uid, 0);
	assert_true(st.mtime_ns == 0);
	st = stat_of(b.idx, "dev/null");
	assert_int_equal(st.mode, S_IFCHR | 0666);
	assert_int_equal(st.rdev, makedev(1, 3));
	st = stat_of(b.idx, "etc");
	assert_int_equal(st.mode, S_IFDIR | 0700);
	assert_int_equal(st.uid, 5);
	assert_int_equal(st.gid, 6);
	assert_true(st.mtime_ns == -5);
	assert_int_equal(st.nlink, 2);
	st = stat_of(b.idx, "bin/ls");
	assert_int_equal(st.mode, S_IFLNK | 0777);
	assert_int_equal(st.link_len, 2);
	assert_memory_equal(st.link, "sh", 2);
	assert_int_equal(st.size, 2);
	st = stat_of(b.idx, "etc/f");
	assert_int_equal(st.mode, S_IFREG | 0600);
	assert_int_equal(st.size, 1000);
	assert_int_equal(st.content.nchunks, 2);
	assert_int_equal(st.content.digest.b[31], 7);
	assert_int_equal(st.nlink, 1);
	assert_int_equal(st.n_xattrs, 2);
	ino = st.ino;
	assert_int_equal(store_index_xattr(b.idx, ino, 0, &name, &value, &len), 0);
	assert_string_equal(name, "security.capability");
	assert_int_equal(len, 3);
	assert_memory_equal(value, "cap", 3);
	assert_int_equal(store_index_xattr(b.idx, ino, 1, &name, &value, &len), 0);
	assert_string_equal(name, "user.x");
	assert_int_equal(len, 0);
	assert_int_equal(store_index_xattr(b.idx, ino, 2, &name, &value, &len), -ENOENT);
	assert_int_equal(store_index_getxattr(b.idx, ino, "user.x", &value, &len), 0);
	assert_int_equal(store_index_getxattr(b.idx, ino, "user.y", &value, &len), -ENODATA);
	assert_int_equal(store_index_getxattr(b.idx, ino, "user.", &value, &len), -ENODATA);
	/* Errors. */
	assert_int_equal(store_index_lookup(b.idx, ino, "x", 1, &parent), -ENOTDIR);
	assert_int_equal(store_index_lookup(b.idx, 1, "bi", 2, &parent), -ENOENT);
	assert_int_equal(store_index_lookup(b.idx, 1, "", 0, &parent), -ENOENT);
	assert_int_equal(store_index_lookup(b.idx, 1, ".", 1, &parent), -ENOENT);
	assert_int_equal(store_index_lookup(b.idx, 0, "bin", 3, &parent), -ENOENT);
	assert_int_equal(store_index_lookup(b.idx, 10, "bin", 3, &parent), -ENOENT);
	assert_int_equal(store_index_stat(b.idx, 0, &st), -ENOENT);
	assert_int_equal(store_index_stat(b.idx, 10, &st), -ENOENT);
	assert_int_equal(store_index_parent(b.idx, ino, &parent), -ENOTDIR);
	assert_int_equal(store_index_parent(b.idx, 1, &parent), 0);
	assert_int_equal(parent, 1);
	assert_int_equal(store_index_parent(b.idx, ino_of(b.idx, "dev"), &parent), 0);
	assert_int_equal(parent, 1);
	assert_int_equal(store_index_lookup_path(b.idx, "etc/f/x", &parent), -ENOTDIR);
	assert_absent(b.idx, "nothing");
	assert_absent(b.idx, "bin/sh2");
}

static void test_store_index__whiteouts(void **state)
{
	store_tree *l[3] = { tu_new(), tu_new(), tu_new() };
	_cleanup_(built_done) built b = {};

	tu_dir(l[0], "a", 0755, 0);
	tu_reg(l[0], "a/x", 1);
	tu_reg(l[0], "a/y", 1);
	tu_reg(l[0], "b", 1);
	tu_dir(l[0], "c", 0700, 0);
	tu_dir(l[0], "c/d", 0755, 0);
	tu_reg(l[0], "c/d/e", 1);
	tu_whiteout(l[1], "a/x");
	tu_whiteout(l[1], "c");
	tu_whiteout(l[1], "never/was"); /* a whiteout of nothing is harmless */
	tu_reg(l[2], "c/new", 1);
	build(&b, l, 3);

	assert_absent(b.idx, "a/x");
	assert_listing(b.idx, "a", "y");
	assert_listing(b.idx, "", "a,b,c");
	assert_absent(b.idx, "c/d");
	assert_absent(b.idx, "c/d/e");
	assert_listing(b.idx, "c", "new");
	assert_int_equal(stat_of(b.idx, "c").mode, S_IFDIR | 0755); /* implied again, not 0700 */
	assert_absent(b.idx, "never");
	assert_int_equal(store_index_inode_count(b.idx), 6);
}

static void test_store_index__opaque(void **state)
{
	store_tree *l[3] = { tu_new(), tu_new(), tu_new() };
	_cleanup_(built_done) built b = {};

	tu_dir(l[0], "o", 0755, 0);
	tu_reg(l[0], "o/a", 1);
	tu_dir(l[0], "o/sub", 0755, 0);
	tu_reg(l[0], "o/sub/b", 1);
	tu_reg(l[0], "keep", 1);
	tu_dir(l[1], "o", 0700, STORE_ENTRY_OPAQUE);
	tu_reg(l[1], "o/new", 1);
	tu_reg(l[1], "o2", 1);
	/* An opaque root hides every lower layer. */
	tu_dir(l[2], "", 0750, STORE_ENTRY_OPAQUE);
	tu_reg(l[2], "top", 1);
	build(&b, l, 2);
	assert_listing(b.idx, "o", "new");
	assert_int_equal(stat_of(b.idx, "o").mode, S_IFDIR | 0700);
	assert_absent(b.idx, "o/sub/b");
	assert_listing(b.idx, "", "keep,o,o2");
	built_done(&b);

	l[0] = tu_new();
	tu_reg(l[0], "lower", 1);
	build(&b, (store_tree *[]){ l[0], l[2] }, 2);
	assert_listing(b.idx, "", "top");
	assert_int_equal(stat_of(b.idx, "").mode, S_IFDIR | 0750);
}

static void test_store_index__replace(void **state)
{
	store_tree *l[2] = { tu_new(), tu_new() };
	_cleanup_(built_done) built b = {};
	store_entry e;

	tu_dir(l[0], "d", 0755, 0);
	tu_reg(l[0], "d/x", 1);
	tu_dir(l[0], "d/sub", 0755, 0);
	tu_reg(l[0], "d/sub/y", 1);
	tu_reg(l[0], "f", 1);
	tu_reg(l[0], "f2", 1);
	tu_dir(l[0], "keep", 0755, 0);
	tu_reg(l[0], "keep/child", 1);
	tu_reg(l[1], "d", 7);	    /* dir -> file: descendants go */
	tu_dir(l[1], "f", 0700, 0); /* file -> dir */
	tu_reg(l[1], "f/y", 1);
	tu_reg(l[1], "f2/z", 1);		     /* file in the way of an implied parent */
	e = tu_entry("keep", STORE_ENTRY_DIR, 0711); /* dir over dir: metadata, children stay */
	e.uid = 42;
	tu_add(l[1], &e);
	build(&b, l, 2);

	assert_int_equal(stat_of(b.idx, "d").mode, S_IFREG | 0644);
	assert_int_equal(stat_of(b.idx, "d").size, 7);
	assert_int_equal(store_index_lookup_path(b.idx, "d/x", &(store_ino){ 0 }), -ENOTDIR);
	assert_int_equal(store_index_lookup(b.idx, ino_of(b.idx, "d"), "x", 1, &(store_ino){ 0 }),
			 -ENOTDIR);
	assert_int_equal(stat_of(b.idx, "f").mode, S_IFDIR | 0700);
	assert_listing(b.idx, "f", "y");
	assert_int_equal(stat_of(b.idx, "f2").mode, S_IFDIR | 0755);
	assert_listing(b.idx, "f2", "z");
	assert_int_equal(stat_of(b.idx, "keep").mode, S_IFDIR | 0711);
	assert_int_equal(stat_of(b.idx, "keep").uid, 42);
	assert_listing(b.idx, "keep", "child");
	assert_int_equal(stat_of(b.idx, "").nlink, 5); /* f, f2, keep */
	assert_int_equal(store_index_inode_count(b.idx), 8);
}

static void test_store_index__hard_links(void **state)
{
	store_tree *l[3] = { tu_new(), tu_new(), tu_new() };
	_cleanup_(built_done) built b = {};
	store_inode a, bb, c, x, y;
	store_entry e;

	e = tu_entry("a", STORE_ENTRY_REG, 0750);
	e.uid = 7;
	e.content = (store_file_ref){ .size = 10, .nchunks = 1 };
	tu_xattr(&e, "user.k", "v", 1);
	tu_add(l[0], &e);
	tu_link(l[0], "b", STORE_ENTRY_HARDLINK, "a");
	tu_link(l[0], "d/c", STORE_ENTRY_HARDLINK, "a");
	tu_reg(l[0], "x", 3);
	tu_link(l[0], "y", STORE_ENTRY_HARDLINK, "x");
	build(&b, l, 1);
	a = stat_of(b.idx, "a");
	bb = stat_of(b.idx, "b");
	c = stat_of(b.idx, "d/c");
	assert_int_equal(a.ino, bb.ino);
	assert_int_equal(a.ino, c.ino);
	assert_int_equal(a.nlink, 3);
	assert_int_equal(c.mode, S_IFREG | 0750);
	assert_int_equal(c.uid, 7);
	assert_int_equal(c.size, 10);
	assert_int_equal(c.n_xattrs, 1);
	x = stat_of(b.idx, "x");
	y = stat_of(b.idx, "y");
	assert_int_equal(x.ino, y.ino);
	assert_int_not_equal(x.ino, a.ino);
	assert_int_equal(x.nlink, 2);
	/* Counted once. */
	assert_int_equal(store_index_content_bytes(b.idx), 13);
	/* inodes: root, a (= b = d/c), d, x (= y) */
	assert_int_equal(store_index_inode_count(b.idx), 4);
	assert_int_equal(a.ino, 2);
	built_done(&b);

	/* An upper layer replaces "b": it leaves the group; whiting out "a" leaves "d/c" alone. */
	l[0] = tu_new();
	tu_reg(l[0], "a", 10);
	tu_link(l[0], "b", STORE_ENTRY_HARDLINK, "a");
	tu_link(l[0], "d/c", STORE_ENTRY_HARDLINK, "a");
	tu_reg(l[1], "b", 20);
	tu_whiteout(l[2], "a");
	build(&b, l, 2);
	a = stat_of(b.idx, "a");
	bb = stat_of(b.idx, "b");
	c = stat_of(b.idx, "d/c");
	assert_int_equal(a.ino, c.ino);
	assert_int_not_equal(a.ino, bb.ino);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(bb.nlink, 1);
	assert_int_equal(bb.size, 20);
	assert_int_equal(store_index_content_bytes(b.idx), 30);
	built_done(&b);

	l[0] = tu_new();
	l[1] = tu_new();
	tu_reg(l[0], "a", 10);
	tu_link(l[0], "b", STORE_ENTRY_HARDLINK, "a");
	tu_link(l[0], "d/c", STORE_ENTRY_HARDLINK, "a");
	tu_reg(l[1], "b", 20);
	build(&b, (store_tree *[]){ l[0], l[1], l[2] }, 3);
	assert_absent(b.idx, "a");
	c = stat_of(b.idx, "d/c");
	assert_int_equal(c.nlink, 1);
	assert_int_equal(c.size, 10);
	/* The group's inode is numbered at its first surviving name. */
	assert_int_equal(stat_of(b.idx, "b").ino, 2);
	assert_int_equal(stat_of(b.idx, "d").ino, 3);
	assert_int_equal(c.ino, 4);
}

static void test_store_index__twenty_layers(void **state)
{
	store_tree *l[20];
	_cleanup_(built_done) built b = {};
	char p[64];

	for (int i = 0; i < 20; i++) {
		l[i] = tu_new();
		snprintf(p, sizeof(p), "l%02d/file", i);
		tu_reg(l[i], p, (uint64_t)i + 1);
		snprintf(p, sizeof(p), "common/f%02d", i);
		tu_reg(l[i], p, 1);
		if (i > 0) {
			snprintf(p, sizeof(p), "l%02d", i - 1);
			tu_whiteout(l[i], p);
		}
		if (i >= 2) {
			snprintf(p, sizeof(p), "common/f%02d", i - 2);
			tu_whiteout(l[i], p);
		}
		if (i % 5 == 0) {
			tu_dir(l[i], "shared", 0700 + (uint32_t)i, STORE_ENTRY_OPAQUE);
			snprintf(p, sizeof(p), "shared/s%02d", i);
			tu_reg(l[i], p, 1);
		} else {
			snprintf(p, sizeof(p), "shared/t%02d", i);
			tu_reg(l[i], p, 1);
		}
	}
	build(&b, l, 20);
	assert_listing(b.idx, "", "common,l19,shared");
	assert_listing(b.idx, "common", "f18,f19");
	assert_listing(b.idx, "shared", "s15,t16,t17,t18,t19");
	assert_int_equal(stat_of(b.idx, "shared").mode, S_IFDIR | (0700 + 15));
	assert_int_equal(stat_of(b.idx, "l19/file").size, 20);
	for (int i = 0; i < 19; i++) {
		snprintf(p, sizeof(p), "l%02d/file", i);
		assert_absent(b.idx, p);
	}
	/* root, common + 2, l19 + 1, shared + 5 */
	assert_int_equal(store_index_inode_count(b.idx), 12);
}

static void test_store_index__inode_order(void **state)
{
	store_tree *l = tu_new();
	_cleanup_(built_done) built b = {};
	static const char *order[] = { "", "B", "a", "a/b", "a/c", "a/c/d", "a.", "ab", "z" };

	/* Added in a scrambled order; numbered depth-first in name (byte) order. */
	tu_reg(l, "z", 1);
	tu_reg(l, "a/c/d", 1);
	tu_reg(l, "ab", 1);
	tu_reg(l, "a.", 1);
	tu_reg(l, "a/b", 1);
	tu_reg(l, "B", 1);
	build(&b, &l, 1);
	for (size_t i = 0; i < ELEMENTSOF(order); i++)
		if (ino_of(b.idx, order[i]) != i + 1)
			fail_msg("'%s' has ino %llu, want %zu", order[i],
				 (unsigned long long)ino_of(b.idx, order[i]), i + 1);
	assert_listing(b.idx, "", "B,a,a.,ab,z");
}

static store_tree *sample_layer(bool reverse)
{
	static const char *files[] = { "usr/bin/a", "usr/lib/x.so", "etc/hosts", "a", "usr/bin/b" };
	store_tree *t = tu_new();

	for (size_t i = 0; i < ELEMENTSOF(files); i++)
		tu_reg(t, files[reverse ? ELEMENTSOF(files) - 1 - i : i], 3);
	tu_link(t, "usr/bin/c", STORE_ENTRY_HARDLINK, "usr/bin/a");
	tu_dir(t, "etc", 0700, 0);
	return t;
}

static void test_store_index__stable(void **state)
{
	_cleanup_(buf_done) buf a = BUF_INIT, c = BUF_INIT;
	store_tree *l[2] = { sample_layer(false), tu_new() },
		   *m[2] = { sample_layer(true), tu_new() };

	tu_whiteout(l[1], "usr/lib");
	tu_reg(l[1], "new", 5);
	tu_reg(m[1], "new", 5);
	tu_whiteout(m[1], "usr/lib");
	for (int i = 0; i < 2; i++) {
		tu_finish(l[i]);
		tu_finish(m[i]);
	}
	build_bytes(l, 2, &a);
	build_bytes(m, 2, &c);
	assert_int_equal(a.len, c.len);
	assert_memory_equal(a.data, c.data, a.len);
	build_bytes(l, 2, &c);
	assert_int_equal(a.len, c.len);
	assert_memory_equal(a.data, c.data, a.len);
	for (int i = 0; i < 2; i++) {
		store_tree_free(l[i]);
		store_tree_free(m[i]);
	}
}

/* Rewrites the checksum after tampering, to reach the checks behind it. */
static void fix_checksum(buf *b)
{
	uint64_t sum = XXH3_64bits(b->data + sizeof(idx_header), b->len - sizeof(idx_header));

	memcpy(b->data + offsetof(idx_header, checksum), &sum, 8);
}

static int open_bytes(const buf *b)
{
	_cleanup_(store_index_freep) store_index *idx = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int r = store_index_open_mem(b->data, b->len, &idx, &err);

	assert_true(r == 0 || (r == err.code && err.msg[0]));
	return r;
}

static void test_store_index__corrupt(void **state)
{
	_cleanup_(buf_done) buf a = BUF_INIT, c = BUF_INIT;
	store_tree *l[1] = { sample_layer(false) };
	idx_header h;
	idx_dirent d;
	uint32_t bad32;

	tu_finish(l[0]);
	build_bytes(l, 1, &a);
	store_tree_free(l[0]);
	assert_int_equal(open_bytes(&a), 0);
	memcpy(&h, a.data, sizeof(h));
	/* Any flipped byte, in the header or after it. */
	for (size_t i = 0; i < a.len; i += (i < sizeof(idx_header) ? 1 : 7)) {
		buf_reset(&c);
		buf_append(&c, a.data, a.len);
		c.data[i] ^= 0x20;
		if (open_bytes(&c) != -EBADMSG)
			fail_msg("flipped byte %zu was not detected", i);
	}
	/* Truncated, and extended. */
	for (size_t n = 0; n < a.len; n += 13) {
		buf_reset(&c);
		buf_append(&c, a.data, n);
		assert_int_equal(open_bytes(&c), -EBADMSG);
	}
	buf_reset(&c);
	buf_append(&c, a.data, a.len);
	buf_append_byte(&c, 0);
	assert_int_equal(open_bytes(&c), -EBADMSG);
	/* With a valid checksum: a dirent naming an inode out of range. */
	buf_reset(&c);
	buf_append(&c, a.data, a.len);
	memcpy(&d, c.data + h.dirents_off, sizeof(d));
	d.ino = h.n_inodes + 1;
	memcpy(c.data + h.dirents_off, &d, sizeof(d));
	fix_checksum(&c);
	assert_int_equal(open_bytes(&c), -EBADMSG);
	/* A symlink-sized string past the end, a directory run past the end. */
	buf_reset(&c);
	buf_append(&c, a.data, a.len);
	bad32 = UINT32_MAX;
	memcpy(c.data + h.inodes_off + offsetof(idx_inode, aux), &bad32, 4); /* root's dirents */
	fix_checksum(&c);
	assert_int_equal(open_bytes(&c), -EBADMSG);
	/* A full hash table (no empty slot): probes would never end. */
	buf_reset(&c);
	buf_append(&c, a.data, a.len);
	for (uint64_t i = 0; i < h.hash_size / 8; i++) {
		uint64_t slot = IDX_SLOT_MAKE(0, (uint64_t)0);
		memcpy(c.data + h.hash_off + i * 8, &slot, 8);
	}
	fix_checksum(&c);
	assert_int_equal(open_bytes(&c), -EBADMSG);
	/* And the untouched bytes still open after all that. */
	fix_checksum(&a);
	assert_int_equal(open_bytes(&a), 0);
}

static void test_store_index__open_fd(void **state)
{
	_cleanup_(buf_done) buf a = BUF_INIT;
	_cleanup_(store_index_freep) store_index *idx = NULL;
	store_tree *l[1] = { sample_layer(false) };
	char *dir = unit_tmpdir();
	_cleanup_free_ char *path = path_join(dir, "idx");
	int fd;

	tu_finish(l[0]);
	build_bytes(l, 1, &a);
	store_tree_free(l[0]);
	assert_int_equal(write_file_atomic(AT_FDCWD, path, a.data, a.len, 0644), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(store_index_open_fd(fd, &idx, NULL), 0);
	close(fd); /* the mapping outlives the fd */
	assert_int_equal(stat_of(idx, "usr/bin/c").nlink, 2);
	assert_listing(idx, "usr/bin", "a,b,c");
	idx = store_index_free(idx);
	a.data[a.len - 1] ^= 1;
	assert_int_equal(write_file_atomic(AT_FDCWD, path, a.data, a.len, 0644), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(store_index_open_fd(fd, &idx, NULL), -EBADMSG);
	close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(store_index_open_fd(fd, &idx, NULL), -EBADMSG);
	close(fd);
	unit_tmpdir_remove(dir);
}

/* CPU time of this process: what the work costs, whatever else the machine is running. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

/*
 * D directories of F files each, then every name looked up. BERTH_INDEX_DIRS/FILES scale it up
 * (1000 x 1000 for the measurement in the report); the default keeps the suite quick.
 */
static void test_store_index__large(void **state)
{
	unsigned nd = env_uint("BERTH_INDEX_DIRS", 100), nf = env_uint("BERTH_INDEX_FILES", 200);
	_cleanup_(buf_done) buf a = BUF_INIT;
	_cleanup_(store_index_freep) store_index *idx = NULL;
	store_tree *l[2] = { tu_new(), tu_new() };
	double t0, t1, t2, t3;
	char p[64];

	for (unsigned d = 0; d < nd; d++)
		for (unsigned f = 0; f < nf; f++) {
			snprintf(p, sizeof(p), "dir%04u/file%05u", d, f);
			tu_reg(l[0], p, 1);
		}
	/* The second layer replaces every tenth file, deletes every hundredth directory. */
	for (unsigned d = 0; d < nd; d++) {
		snprintf(p, sizeof(p), "dir%04u", d);
		if (d % 100 == 99)
			tu_whiteout(l[1], p);
		for (unsigned f = 0; d % 100 != 99 && f < nf; f += 10) {
			snprintf(p, sizeof(p), "dir%04u/file%05u", d, f);
			tu_reg(l[1], p, 2);
		}
	}
	tu_finish(l[0]);
	tu_finish(l[1]);
	t0 = now();
	build_bytes(l, 2, &a);
	t1 = now();
	assert_int_equal(store_index_open_mem(a.data, a.len, &idx, NULL), 0);
	t2 = now();
	uint64_t bytes = 0, found = 0;
	for (unsigned d = 0; d < nd; d++) {
		store_ino dino, fino;
		snprintf(p, sizeof(p), "dir%04u", d);
		int r = store_index_lookup(idx, 1, p, strlen(p), &dino);
		assert_int_equal(r, d % 100 == 99 ? -ENOENT : 0);
		for (unsigned f = 0; r == 0 && f < nf; f++) {
			store_inode st;
			snprintf(p, sizeof(p), "file%05u", f);
			assert_int_equal(store_index_lookup(idx, dino, p, strlen(p), &fino), 0);
			assert_int_equal(store_index_stat(idx, fino, &st), 0);
			bytes += st.size;
			found++;
		}
	}
	t3 = now();
	uint64_t live_dirs = nd - nd / 100;
	assert_int_equal(found, live_dirs * nf);
	assert_int_equal(bytes, live_dirs * (nf + (nf + 9) / 10));
	assert_int_equal(store_index_content_bytes(idx), bytes);
	print_message("# index of %u entries (%.1f MB), CPU time: merge+write %.3f s, open %.4f s, "
		      "%llu lookups+stats %.3f s (%.0f ns each)\n",
		      nd * nf, (double)a.len / 1e6, t1 - t0, t2 - t1, (unsigned long long)found,
		      t3 - t2, (t3 - t2) / (double)found * 1e9);
	store_tree_free(l[0]);
	store_tree_free(l[1]);
}

/* ---- Random layer stacks against a plain model of the merge rules ---- */

typedef struct ment {
	char path[16];
	uint8_t type; /* DIR, REG or SYMLINK once merged */
	uint32_t mode, uid;
	uint64_t size;
	int group; /* hard-link group, -1 if none */
} ment;

typedef struct model {
	ment v[256];
	int n;
} model;

static uint64_t rnd_state;

static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

static int model_find(const model *m, const char *path)
{
	for (int i = 0; i < m->n; i++)
		if (streq(m->v[i].path, path))
			return i;
	return -1;
}

static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return n == 0 ? path[0] != '\0' : strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Removes what lies under dir, and dir itself if self. */
static void model_remove(model *m, const char *dir, bool self)
{
	int k = 0;

	for (int i = 0; i < m->n; i++)
		if (!is_under(m->v[i].path, dir) && !(self && streq(m->v[i].path, dir)))
			m->v[k++] = m->v[i];
	m->n = k;
}

static ment *model_set(model *m, const char *path)
{
	int i = model_find(m, path);

	if (i < 0) {
		assert_true(m->n < (int)ELEMENTSOF(m->v));
		i = m->n++;
	}
	m->v[i] = (ment){ .group = -1 };
	snprintf(m->v[i].path, sizeof(m->v[i].path), "%s", path);
	return &m->v[i];
}

static void model_ensure_dir(model *m, const char *path)
{
	char parent[16];
	const char *slash = strrchr(path, '/');
	int i = model_find(m, path);

	if (path[0] == '\0' || (i >= 0 && m->v[i].type == STORE_ENTRY_DIR))
		return;
	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - path) : 0, path);
	model_ensure_dir(m, parent);
	ment *d = model_set(m, path);
	d->type = STORE_ENTRY_DIR;
	d->mode = 0755;
}

static void model_apply(model *m, const store_tree *t, int layer, uint32_t *root_mode)
{
	size_t n = store_tree_count(t);

	for (size_t i = 0; i < n; i++) {
		const store_entry *e = store_tree_entry(t, i);
		if (e->type == STORE_ENTRY_WHITEOUT)
			model_remove(m, e->path, true);
		else if (e->flags & STORE_ENTRY_OPAQUE) {
			int d = model_find(m, e->path);
			if (e->path[0] == '\0' || (d >= 0 && m->v[d].type == STORE_ENTRY_DIR))
				model_remove(m, e->path, false);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const store_entry *e = store_tree_entry(t, i), *inode = e;
		char parent[16];
		const char *slash = strrchr(e->path, '/');
		if (e->type == STORE_ENTRY_WHITEOUT)
			continue;
		if (e->path[0] == '\0') {
			*root_mode = e->mode;
			continue;
		}
		snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - e->path) : 0,
			 e->path);
		model_ensure_dir(m, parent);
		if (e->type != STORE_ENTRY_DIR)
			model_remove(m, e->path, false);
		if (e->type == STORE_ENTRY_HARDLINK)
			inode = store_tree_find(t, e->link);
		/* A DIR over a DIR keeps what is under it: model_set() touches one path only. */
		ment *x = model_set(m, e->path);
		x->type = inode->type;
		x->mode = inode->mode;
		x->uid = inode->uid;
		x->size = inode->type == STORE_ENTRY_REG ? inode->content.size : 0;
		if (inode != e)
			x->group = layer * 1000 + (int)(inode - store_tree_entry(t, 0));
		for (size_t j = 0; e->type == STORE_ENTRY_REG && j < n; j++) {
			const store_entry *o = store_tree_entry(t, j);
			if (o->type == STORE_ENTRY_HARDLINK && streq(o->link, e->path))
				x->group = layer * 1000 + (int)i;
		}
	}
}

static const char *const names[] = { "a", "b", "c" };

static store_tree *random_layer(int layer)
{
	store_tree *t = tu_new();
	char paths[12][16], regs[12][16];
	int n = 0, nregs = 0;
	uint8_t types[12];

	for (int k = (int)rnd(10) + 1; k > 0; k--) {
		char p[16] = "";
		for (unsigned d = rnd(3) + 1; d > 0; d--)
			snprintf(p + strlen(p), sizeof(p) - strlen(p), "%s%s", p[0] ? "/" : "",
				 names[rnd(3)]);
		bool dup = false;
		for (int i = 0; i < n; i++)
			dup |= streq(paths[i], p);
		if (!dup)
			snprintf(paths[n++], 16, "%s", p);
	}
	qsort(paths, (size_t)n, 16, (int (*)(const void *, const void *))strcmp);
	for (int i = 0; i < n; i++) {
		static const uint8_t pick[] = { STORE_ENTRY_DIR,     STORE_ENTRY_DIR,
						STORE_ENTRY_REG,     STORE_ENTRY_REG,
						STORE_ENTRY_SYMLINK, STORE_ENTRY_WHITEOUT,
						STORE_ENTRY_HARDLINK };
		/* Invariant: a parent in the same layer is a directory; else leave the entry out. */
		char *slash = strrchr(paths[i], '/');
		int parent = -1;
		for (int j = 0; slash && j < i; j++)
			if (strlen(paths[j]) == (size_t)(slash - paths[i]) &&
			    strncmp(paths[j], paths[i], (size_t)(slash - paths[i])) == 0)
				parent = j;
		types[i] = pick[rnd(ELEMENTSOF(pick))];
		if (parent >= 0 && types[parent] != STORE_ENTRY_DIR)
			types[i] = 0;
		if (types[i] == STORE_ENTRY_REG)
			snprintf(regs[nregs++], 16, "%s", paths[i]);
	}
	for (int i = 0; i < n; i++) {
		store_entry e;
		uint8_t type = types[i];
		if (type == 0)
			continue;
		if (type == STORE_ENTRY_HARDLINK && nregs == 0)
			type = STORE_ENTRY_REG;
		e = tu_entry(paths[i], type, 0600 + rnd(0100));
		e.uid = (uint32_t)(layer * 100 + i + 1);
		if (type == STORE_ENTRY_DIR && rnd(4) == 0)
			e.flags = STORE_ENTRY_OPAQUE;
		if (type == STORE_ENTRY_REG) {
			e.content.size = rnd(5);
			e.content.nchunks = e.content.size > 0;
		}
		if (type == STORE_ENTRY_SYMLINK)
			e.link = strdup("x");
		if (type == STORE_ENTRY_HARDLINK)
			e.link = strdup(regs[rnd((unsigned)nregs)]);
		tu_add(t, &e);
	}
	if (rnd(8) == 0)
		tu_dir(t, "", 0700 + rnd(0100), rnd(2) ? STORE_ENTRY_OPAQUE : 0);
	tu_finish(t);
	return t;
}

/* Compares the index below dir with the model; returns the number of entries seen. */
static int compare_dir(const store_index *idx, const model *m, store_ino dir, const char *path)
{
	uint64_t n;
	int seen = 0;

	assert_int_equal(store_index_dir_size(idx, dir, &n), 0);
	for (uint64_t i = 0; i < n; i++) {
		store_dirent d;
		store_inode st;
		char p[32];
		assert_int_equal(store_index_readdir(idx, dir, i, &d), 0);
		snprintf(p, sizeof(p), "%s%s%.*s", path, path[0] ? "/" : "", (int)d.name_len,
			 d.name);
		int k = model_find(m, p);
		if (k < 0)
			fail_msg("'%s' is in the index, not in the model", p);
		const ment *x = &m->v[k];
		assert_int_equal(store_index_stat(idx, d.ino, &st), 0);
		static const uint32_t fmt[] = { [STORE_ENTRY_REG] = S_IFREG,
						[STORE_ENTRY_DIR] = S_IFDIR,
						[STORE_ENTRY_SYMLINK] = S_IFLNK };
		if (st.mode != (fmt[x->type] | x->mode) || st.uid != x->uid)
			fail_msg("'%s': mode 0%o uid %u, model 0%o uid %u", p, st.mode, st.uid,
				 fmt[x->type] | x->mode, x->uid);
		if (x->type == STORE_ENTRY_REG) {
			uint32_t links = 0;
			for (int j = 0; j < m->n; j++)
				links += x->group >= 0 ? m->v[j].group == x->group : j == k;
			assert_int_equal(st.size, x->size);
			if (st.nlink != links)
				fail_msg("'%s': nlink %u, model %u", p, st.nlink, links);
		}
		seen++;
		if (S_ISDIR(st.mode))
			seen += compare_dir(idx, m, d.ino, p);
	}
	return seen;
}

/* Same hard-link group <=> same inode. */
static void compare_links(const store_index *idx, const model *m)
{
	for (int i = 0; i < m->n; i++)
		for (int j = i + 1; j < m->n; j++) {
			const ment *a = &m->v[i], *b = &m->v[j];
			if (a->type != STORE_ENTRY_REG || b->type != STORE_ENTRY_REG)
				continue;
			bool same = a->group >= 0 && a->group == b->group;
			if ((ino_of(idx, a->path) == ino_of(idx, b->path)) != same)
				fail_msg("'%s' and '%s' should%s share an inode", a->path, b->path,
					 same ? "" : " not");
		}
}

static void test_store_index__random_against_model(void **state)
{
	for (unsigned round = 0; round < 400; round++) {
		_cleanup_(built_done) built b = {};
		store_tree *l[6];
		model m = { .n = 0 };
		uint32_t root_mode = 0755;
		int n = (int)(round % 6) + 1;

		rnd_state = 0x9e3779b97f4a7c15ull * (round + 1);
		for (int i = 0; i < n; i++) {
			l[i] = random_layer(i);
			model_apply(&m, l[i], i, &root_mode);
		}
		build(&b, l, (size_t)n);
		assert_int_equal(stat_of(b.idx, "").mode, S_IFDIR | root_mode);
		int seen = compare_dir(b.idx, &m, STORE_INO_ROOT, "");
		if (seen != m.n)
			fail_msg("round %u: index has %d entries, model %d", round, seen, m.n);
		compare_links(b.idx, &m);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_store_index__single_layer),
	cmocka_unit_test(test_store_index__whiteouts),
	cmocka_unit_test(test_store_index__opaque),
	cmocka_unit_test(test_store_index__replace),
	cmocka_unit_test(test_store_index__hard_links),
	cmocka_unit_test(test_store_index__twenty_layers),
	cmocka_unit_test(test_store_index__inode_order),
	cmocka_unit_test(test_store_index__stable),
	cmocka_unit_test(test_store_index__corrupt),
	cmocka_unit_test(test_store_index__open_fd),
	cmocka_unit_test(test_store_index__random_against_model),
	cmocka_unit_test(test_store_index__large),
};
UNIT_EXPORT(store, index, tests);
