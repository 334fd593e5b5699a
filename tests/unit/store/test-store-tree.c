/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of store/tree.c: building, checking, encoding and decoding layer trees. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "store/tree.h"
#include "tests/unit/store/tree-util.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

/* A tree with every entry type, xattrs, hard links, a whiteout and an opaque directory. */
static store_tree *full_tree(void)
{
	store_tree *t = tu_new();
	store_entry e;

	tu_dir(t, "", 0755, 0);
	tu_dir(t, "etc", 0755, STORE_ENTRY_OPAQUE);
	e = tu_entry("etc/passwd", STORE_ENTRY_REG, 0644);
	e.uid = 4000000000u;
	e.gid = 7;
	e.mtime_ns = -1234567890123;
	e.atime_ns = INT64_MAX;
	e.content = (store_file_ref){ .size = 300000, .nchunks = 3 };
	memset(e.content.digest.b, 0xab, STORE_DIGEST_LEN);
	tu_xattr(&e, "security.capability", "\x01\x00\x00\x02", 4);
	tu_xattr(&e, "user.empty", NULL, 0);
	tu_add(t, &e);
	tu_link(t, "etc/passwd-", STORE_ENTRY_HARDLINK, "etc/passwd");
	tu_link(t, "etc/localtime", STORE_ENTRY_SYMLINK, "/usr/share/zoneinfo/UTC");
	tu_reg(t, "etc/empty", 0);
	e = tu_entry("dev/null", STORE_ENTRY_CHR, 0666);
	e.rdev = makedev(1, 3);
	tu_add(t, &e);
	e = tu_entry("dev/sda", STORE_ENTRY_BLK, 0660);
	e.rdev = makedev(8, 0);
	tu_add(t, &e);
	tu_add(t, (e = tu_entry("run/fifo", STORE_ENTRY_FIFO, 0600), &e));
	tu_add(t, (e = tu_entry("run/sock", STORE_ENTRY_SOCK, 0755), &e));
	tu_whiteout(t, "var/cache");
	tu_dir(t, "tmp", 01777, 0);
	e = tu_entry("usr/bin/sudo", STORE_ENTRY_REG, 04755);
	e.content = (store_file_ref){ .size = 1, .nchunks = 1 };
	tu_add(t, &e);
	tu_finish(t);
	return t;
}

static void assert_entry_equal(const store_entry *a, const store_entry *b)
{
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_true(a->mtime_ns == b->mtime_ns);
	assert_true(a->atime_ns == b->atime_ns);
	assert_int_equal(a->rdev, b->rdev);
	assert_true((a->link == NULL) == (b->link == NULL));
	if (a->link)
		assert_string_equal(a->link, b->link);
	assert_memory_equal(&a->content.digest, &b->content.digest, STORE_DIGEST_LEN);
	assert_int_equal(a->content.size, b->content.size);
	assert_int_equal(a->content.nchunks, b->content.nchunks);
	assert_int_equal(a->n_xattrs, b->n_xattrs);
	for (size_t i = 0; i < a->n_xattrs; i++) {
		assert_string_equal(a->xattrs[i].name, b->xattrs[i].name);
		assert_int_equal(a->xattrs[i].len, b->xattrs[i].len);
		if (a->xattrs[i].len)
			assert_memory_equal(a->xattrs[i].value, b->xattrs[i].value,
					    a->xattrs[i].len);
	}
}

static void test_store_tree__round_trip(void **state)
{
	_cleanup_(store_tree_freep) store_tree *t = full_tree(), *u = NULL;
	_cleanup_(buf_done) buf a = BUF_INIT, b = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;

	assert_int_equal(store_tree_count(t), 13);
	assert_int_equal(store_tree_encode(t, &a), 0);
	assert_memory_equal(a.data, "BRTT\x01", 5);
	assert_int_equal(store_tree_decode(a.data, a.len, &u, &err), 0);
	assert_int_equal(store_tree_count(u), store_tree_count(t));
	for (size_t i = 0; i < store_tree_count(t); i++)
		assert_entry_equal(store_tree_entry(t, i), store_tree_entry(u, i));
	assert_int_equal(store_tree_encode(u, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
}

static void test_store_tree__sorted_and_find(void **state)
{
	_cleanup_(store_tree_freep) store_tree *t = full_tree();
	const store_entry *e;

	for (size_t i = 1; i < store_tree_count(t); i++)
		assert_true(strcmp(store_tree_entry(t, i - 1)->path, store_tree_entry(t, i)->path) <
			    0);
	e = store_tree_find(t, "etc/passwd-");
	assert_non_null(e);
	assert_int_equal(e->type, STORE_ENTRY_HARDLINK);
	assert_non_null(store_tree_find(t, ""));
	assert_null(store_tree_find(t, "etc/pass"));
	assert_null(store_tree_find(t, "zzz"));
	assert_null(store_tree_find(t, "dev")); /* implied parents are not entries */
}

static void test_store_tree__deterministic(void **state)
{
	_cleanup_(store_tree_freep) store_tree *t = tu_new(), *u = tu_new();
	_cleanup_(buf_done) buf a = BUF_INIT, b = BUF_INIT;
	const char *paths[] = { "b", "a/c", "a", "a.c", "a/b" };

	/* Same entries, added in opposite orders: same bytes. */
	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		tu_dir(t, paths[i], 0755, 0);
		tu_dir(u, paths[ELEMENTSOF(paths) - 1 - i], 0755, 0);
	}
	tu_finish(t);
	tu_finish(u);
	assert_int_equal(store_tree_encode(t, &a), 0);
	assert_int_equal(store_tree_encode(u, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
}

static void test_store_tree__finish_errors(void **state)
{
	static const struct {
		const char *rule;
		int err;
	} cases[] = {
		{ "duplicate", -EEXIST },   { "opaque-file", -EINVAL }, { "mode", -EINVAL },
		{ "dangling", -EINVAL },    { "parent", -EINVAL },	{ "chunks", -EINVAL },
		{ "xattr-order", -EINVAL }, { "root-file", -EINVAL },	{ "link-on-dir", -EINVAL },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_(store_tree_freep) store_tree *t = tu_new();
		berth_error err = BERTH_ERROR_INIT;
		const char *rule = cases[i].rule;
		store_entry e;

		tu_reg(t, "a/file", 5);
		if (streq(rule, "duplicate"))
			tu_reg(t, "a/file", 5);
		else if (streq(rule, "opaque-file")) {
			e = tu_entry("b", STORE_ENTRY_REG, 0644);
			e.flags = STORE_ENTRY_OPAQUE;
			tu_add(t, &e);
		} else if (streq(rule, "mode"))
			tu_dir(t, "b", 010755, 0);
		else if (streq(rule, "dangling"))
			tu_link(t, "b", STORE_ENTRY_HARDLINK, "a/nothing");
		else if (streq(rule, "parent"))
			tu_reg(t, "a/file/under", 1);
		else if (streq(rule, "chunks"))
			tu_add(t,
			       (e = tu_entry("b", STORE_ENTRY_REG, 0644), e.content.size = 7, &e));
		else if (streq(rule, "xattr-order")) {
			e = tu_entry("b", STORE_ENTRY_DIR, 0755);
			tu_xattr(&e, "user.b", "1", 1);
			tu_xattr(&e, "user.a", "1", 1);
			tu_add(t, &e);
		} else if (streq(rule, "root-file"))
			tu_add(t, (e = tu_entry("", STORE_ENTRY_REG, 0644), &e));
		else if (streq(rule, "link-on-dir")) {
			e = tu_entry("b", STORE_ENTRY_DIR, 0755);
			e.link = strdup("x");
			tu_add(t, &e);
		}
		int r = store_tree_finish(t, &err);
		if (r != cases[i].err)
			fail_msg("case %s: got %d, want %d (%s)", rule, r, cases[i].err, err.msg);
		assert_int_not_equal(err.msg[0], '\0');
		if (streq(rule, "duplicate"))
			assert_non_null(strstr(err.msg, "'a/file'"));
	}
}

static void test_store_tree__normalized(void **state)
{
	static const char *good[] = { "", "a", "a/b", "a.b/.c", "..a/b..", "a/...", "x y/\x01" };
	static const char *bad[] = {
		"/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "a/.", "./a"
	};
	char long_name[300], long_path[5000];
	_cleanup_(store_tree_freep) store_tree *t = tu_new();
	berth_error err = BERTH_ERROR_INIT;
	store_entry e;

	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		assert_true(store_path_is_normalized(good[i]));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_false(store_path_is_normalized(bad[i]));
	memset(long_name, 'n', 255);
	long_name[255] = '\0';
	assert_true(store_path_is_normalized(long_name));
	strcpy(long_name + 255, "n");
	assert_false(store_path_is_normalized(long_name));
	for (size_t i = 0; i < 4096; i++)
		long_path[i] = i % 100 == 99 ? '/' : 'p';
	long_path[4096] = '\0';
	assert_false(store_path_is_normalized(long_path)); /* 4096 bytes */
	long_path[4095] = '\0';
	assert_true(store_path_is_normalized(long_path)); /* 4095 bytes */
	e = tu_entry("a//b", STORE_ENTRY_DIR, 0755);
	assert_int_equal(store_tree_add(t, &e, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "a//b"));
	store_entry_done(&e);
}

/* ---- Decoding hostile bytes: a raw encoder that does not check anything ---- */

typedef struct raw {
	const char *path;
	uint64_t type, flags, mode;
	const char *link;
	uint64_t size, nchunks;
	size_t n_x;
	const char *xname[2];
	size_t xlen[2];
	size_t shared_plus1; /* 0: the longest shared prefix (canonical); else forced to this - 1 */
} raw;

static void raw_bytes(buf *b, const void *p, size_t n)
{
	assert_int_equal(buf_append_varint(b, n), 0);
	assert_int_equal(buf_append(b, p, n), 0);
}

static void raw_entry(buf *b, const char *prev, const raw *e)
{
	size_t shared = 0;
	static const uint8_t zero[65536];

	while (prev[shared] && prev[shared] == e->path[shared])
		shared++;
	if (e->shared_plus1)
		shared = e->shared_plus1 - 1;
	buf_append_varint(b, shared);
	raw_bytes(b, e->path + shared, strlen(e->path + shared));
	buf_append_varint(b, e->type);
	buf_append_varint(b, e->flags);
	buf_append_varint(b, e->mode);
	buf_append(b, "\x00\x00\x02\x02", 4); /* uid, gid, mtime, atime */
	if (e->type == STORE_ENTRY_SYMLINK || e->type == STORE_ENTRY_HARDLINK)
		raw_bytes(b, e->link, strlen(e->link));
	else if (e->type == STORE_ENTRY_CHR || e->type == STORE_ENTRY_BLK)
		buf_append_varint(b, 259);
	else if (e->type == STORE_ENTRY_REG) {
		buf_append(b, zero, STORE_DIGEST_LEN);
		buf_append_varint(b, e->size);
		buf_append_varint(b, e->nchunks);
	}
	buf_append_varint(b, e->n_x);
	for (size_t i = 0; i < e->n_x; i++) {
		raw_bytes(b, e->xname[i], strlen(e->xname[i]));
		raw_bytes(b, zero, e->xlen[i]);
	}
}

static void raw_tree(buf *b, const raw *e, size_t n)
{
	buf_reset(b);
	buf_append(b, "BRTT\x01", 5);
	buf_append_varint(b, n);
	for (size_t i = 0; i < n; i++)
		raw_entry(b, i ? e[i - 1].path : "", &e[i]);
}

static int decode(const buf *b)
{
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int r = store_tree_decode(b->data, b->len, &t, &err);

	assert_true(r == 0 || err.code == r);
	assert_true((r == 0) == (t != NULL));
	return r;
}

#define D(p)                                                     \
	{                                                        \
		.path = p, .type = STORE_ENTRY_DIR, .mode = 0755 \
	}
#define F(p)                                                                              \
	{                                                                                 \
		.path = p, .type = STORE_ENTRY_REG, .mode = 0644, .size = 1, .nchunks = 1 \
	}

static void test_store_tree__decode_rejects(void **state)
{
	static const struct {
		const char *rule;
		raw e[3];
		size_t n;
	} cases[] = {
		{ "valid",
		  { D("a"), F("a/b"), { .path = "c", .type = STORE_ENTRY_HARDLINK, .link = "a/b" } },
		  3 },
		{ "unnormalized", { D("a"), F("a//b") }, 2 },
		{ "dot", { D("a"), F("a/.") }, 2 },
		{ "absolute", { F("/a") }, 1 },
		{ "order", { F("b"), F("a") }, 2 },
		{ "duplicate", { F("a"), F("a") }, 2 },
		{ "parent-not-dir", { F("a"), F("a/b") }, 2 },
		{ "type-zero", { { .path = "a", .type = 0 } }, 1 },
		{ "type-max", { { .path = "a", .type = _STORE_ENTRY_TYPE_MAX } }, 1 },
		{ "flags", { { .path = "a", .type = STORE_ENTRY_DIR, .flags = 2 } }, 1 },
		{ "opaque-file", { { .path = "a", .type = STORE_ENTRY_REG, .flags = 1 } }, 1 },
		{ "mode", { { .path = "a", .type = STORE_ENTRY_DIR, .mode = 010000 } }, 1 },
		{ "chunks-no-size", { { .path = "a", .type = STORE_ENTRY_REG, .nchunks = 1 } }, 1 },
		{ "size-no-chunks", { { .path = "a", .type = STORE_ENTRY_REG, .size = 5 } }, 1 },
		{ "chunks-over-size",
		  { { .path = "a", .type = STORE_ENTRY_REG, .size = 2, .nchunks = 3 } },
		  1 },
		{ "hardlink-missing",
		  { F("a"), { .path = "b", .type = STORE_ENTRY_HARDLINK, .link = "c" } },
		  2 },
		{ "hardlink-to-dir",
		  { D("a"), { .path = "b", .type = STORE_ENTRY_HARDLINK, .link = "a" } },
		  2 },
		{ "hardlink-to-link",
		  { { .path = "a", .type = STORE_ENTRY_SYMLINK, .link = "x" },
		    { .path = "b", .type = STORE_ENTRY_HARDLINK, .link = "a" } },
		  2 },
		{ "symlink-empty", { { .path = "a", .type = STORE_ENTRY_SYMLINK, .link = "" } }, 1 },
		{ "xattr-order",
		  { { .path = "a",
		      .type = STORE_ENTRY_DIR,
		      .n_x = 2,
		      .xname = { "user.b", "user.a" } } },
		  1 },
		{ "xattr-dup",
		  { { .path = "a",
		      .type = STORE_ENTRY_DIR,
		      .n_x = 2,
		      .xname = { "user.a", "user.a" } } },
		  1 },
		{ "xattr-empty-name",
		  { { .path = "a",
		      .type = STORE_ENTRY_DIR,
		      .n_x = 1,
		      .xname = { "" },
		      .xlen = { 1 } } },
		  1 },
		{ "xattr-value-64k",
		  { { .path = "a",
		      .type = STORE_ENTRY_DIR,
		      .n_x = 1,
		      .xname = { "user.a" },
		      .xlen = { 65536 } } },
		  1 },
		{ "root-not-dir", { { .path = "", .type = STORE_ENTRY_REG } }, 1 },
	};
	_cleanup_(buf_done) buf b = BUF_INIT;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		raw_tree(&b, cases[i].e, cases[i].n);
		int r = decode(&b);
		if ((i == 0) != (r == 0))
			fail_msg("case %s: decode returned %d", cases[i].rule, r);
		assert_true(r == 0 || r == -EBADMSG);
	}
}

static void test_store_tree__decode_limits(void **state)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	char name[300];
	raw e[1] = { F("") };

	memset(name, 'x', 256);
	name[256] = '\0';
	e[0].path = name; /* a 256-byte component */
	raw_tree(&b, e, 1);
	assert_int_equal(decode(&b), -EBADMSG);
	name[255] = '\0';
	raw_tree(&b, e, 1);
	assert_int_equal(decode(&b), 0);
	/* An xattr name of 256 bytes; then 255 bytes is fine. */
	e[0] = (raw){ .path = "a", .type = STORE_ENTRY_DIR, .n_x = 1, .xname = { name } };
	name[255] = 'x';
	raw_tree(&b, e, 1);
	assert_int_equal(decode(&b), -EBADMSG);
	name[255] = '\0';
	raw_tree(&b, e, 1);
	assert_int_equal(decode(&b), 0);
}

static void test_store_tree__decode_framing(void **state)
{
	_cleanup_(store_tree_freep) store_tree *t = full_tree();
	_cleanup_(buf_done) buf a = BUF_INIT, b = BUF_INIT;

	assert_int_equal(store_tree_encode(t, &a), 0);
	/* Every proper prefix is refused. */
	for (size_t n = 0; n < a.len; n++) {
		buf_reset(&b);
		buf_append(&b, a.data, n);
		assert_int_equal(decode(&b), -EBADMSG);
	}
	/* A trailing byte. */
	buf_reset(&b);
	buf_append(&b, a.data, a.len);
	buf_append_byte(&b, 0);
	assert_int_equal(decode(&b), -EBADMSG);
	/* Bad magic, bad version. */
	buf_reset(&b);
	buf_append(&b, a.data, a.len);
	b.data[0] = 'X';
	assert_int_equal(decode(&b), -EBADMSG);
	b.data[0] = 'B';
	b.data[4] = 2;
	assert_int_equal(decode(&b), -EBADMSG);
	/* An overlong varint for the count (0x8d 0x00 instead of 0x0d). */
	buf_reset(&b);
	buf_append(&b, a.data, 5);
	assert_int_equal((uint8_t)a.data[5], 13);
	buf_append(&b, "\x8d\x00", 2);
	buf_append(&b, a.data + 6, a.len - 6);
	assert_int_equal(decode(&b), -EBADMSG);
	/* A count larger than the input could hold. */
	buf_reset(&b);
	buf_append(&b, "BRTT\x01\xff\xff\xff\xff\x0f", 10);
	assert_int_equal(decode(&b), -EBADMSG);
	/* Empty tree. */
	buf_reset(&b);
	buf_append(&b, "BRTT\x01\x00", 6);
	assert_int_equal(decode(&b), 0);
}

static void test_store_tree__decode_nul_and_prefix(void **state)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	raw e[2] = { D("ab"), F("ab/c") };

	/* NUL inside a path suffix. */
	buf_append(&b,
		   "BRTT\x01\x01\x00\x03"
		   "a\0b"
		   "\x02\x00\x00\x00\x00\x02\x02\x00",
		   19);
	assert_int_equal(decode(&b), -EBADMSG);
	b.data[9] = 'x'; /* "axb": fine */
	assert_int_equal(decode(&b), 0);
	/* The same path with a shared prefix shorter than the longest: not canonical. */
	raw_tree(&b, e, 2);
	assert_int_equal(decode(&b), 0);
	e[1].shared_plus1 = 1 + 1;
	raw_tree(&b, e, 2);
	assert_int_equal(decode(&b), -EBADMSG);
	e[1].shared_plus1 = 0 + 1;
	raw_tree(&b, e, 2);
	assert_int_equal(decode(&b), -EBADMSG);
	e[1].shared_plus1 = 3 + 1; /* longer than the previous path */
	raw_tree(&b, e, 2);
	assert_int_equal(decode(&b), -EBADMSG);
}

static void test_store_tree__put_load(void **state)
{
	char *root = unit_tmpdir();
	_cleanup_(store_freep) store *s = NULL;
	_cleanup_(store_tree_freep) store_tree *t = full_tree(), *u = NULL;
	store_digest d, d2;

	assert_int_equal(store_open(root, STORE_OPEN_CREATE, &s, NULL), 0);
	assert_int_equal(store_write_begin(s), 0);
	assert_int_equal(store_tree_put(s, t, &d), 0);
	assert_int_equal(store_tree_put(s, t, &d2), 0);
	store_write_end(s);
	assert_memory_equal(&d, &d2, sizeof(d));
	assert_int_equal(store_tree_load(s, &d, &u, NULL), 0);
	assert_int_equal(store_tree_count(u), store_tree_count(t));
	for (size_t i = 0; i < store_tree_count(t); i++)
		assert_entry_equal(store_tree_entry(t, i), store_tree_entry(u, i));
	memset(d.b, 0, sizeof(d.b));
	store_tree_free(u);
	u = NULL;
	assert_int_equal(store_tree_load(s, &d, &u, NULL), -ENOENT);
	s = store_free(s);
	unit_tmpdir_remove(root);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_store_tree__round_trip),
	cmocka_unit_test(test_store_tree__sorted_and_find),
	cmocka_unit_test(test_store_tree__deterministic),
	cmocka_unit_test(test_store_tree__finish_errors),
	cmocka_unit_test(test_store_tree__normalized),
	cmocka_unit_test(test_store_tree__decode_rejects),
	cmocka_unit_test(test_store_tree__decode_limits),
	cmocka_unit_test(test_store_tree__decode_framing),
	cmocka_unit_test(test_store_tree__decode_nul_and_prefix),
	cmocka_unit_test(test_store_tree__put_load),
};
UNIT_EXPORT(store, tree, tests);
