/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of fetch/unpack.c (and of the rules in fetch/tarlayer.c it applies). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "fetch/tarlayer.h"
#include "tests/unit/fetch/fetch-test.h"

typedef enum {
	COMP_NONE,
	COMP_GZIP,
	COMP_ZSTD
} comp;

static void compress_as(comp c, const buf *tar, buf *out)
{
	if (c == COMP_GZIP)
		gzip_buf(tar->data, tar->len, out);
	else if (c == COMP_ZSTD)
		zstd_buf(tar->data, tar->len, out);
	else {
		buf_reset(out);
		assert_int_equal(buf_append(out, tar->data, tar->len), 0);
	}
}

/* Unpacks blob (tar compressed as c), checks digests and sizes, repacks: must give tar back. */
static void check_roundtrip(tstore *t, const buf *tar, comp c, fetch_unpack_result *ret)
{
	_cleanup_(buf_done) buf blob = BUF_INIT, back = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res;
	int r;

	compress_as(c, tar, &blob);
	r = unpack_mem(t->s, blob.data, blob.len, NULL, &res, &err);
	if (r < 0)
		fail_msg("unpack (compression %d): %s", c, berth_error_message(&err, r));
	assert_digest_of(tar->data, tar->len, &res.layer.diff_id);
	assert_digest_of(blob.data, blob.len, &res.blob_digest);
	assert_int_equal(res.blob_size, blob.len);
	assert_int_equal(res.layer.tar_size, tar->len);
	assert_true(res.layer.has_split);
	r = pack_mem(t->s, &res.layer, &back, &err);
	if (r < 0)
		fail_msg("pack: %s", berth_error_message(&err, r));
	assert_int_equal(back.len, tar->len);
	assert_memory_equal(back.data, tar->data, tar->len);
	if (ret)
		*ret = res;
}

static void roundtrip_format(const char *fmt)
{
	_cleanup_(buf_done) buf tar = BUF_INIT;
	fetch_unpack_result a, b;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "full", fmt, &tar);
	check_roundtrip(&t, &tar, COMP_NONE, &a);
	check_roundtrip(&t, &tar, COMP_GZIP, &b);
	/* The same tar in another wrapper is the same layer: same tree, same split. */
	assert_true(store_digest_eq(&a.layer.tree, &b.layer.tree));
	assert_true(store_digest_eq(&a.layer.split, &b.layer.split));
	check_roundtrip(&t, &tar, COMP_ZSTD, &b);
	assert_true(store_digest_eq(&a.layer.tree, &b.layer.tree));
	tstore_close(&t);
}

static void test_fetch_unpack__roundtrip_pax(void **state)
{
	roundtrip_format("pax");
}

static void test_fetch_unpack__roundtrip_gnu(void **state)
{
	roundtrip_format("gnu");
}

static void test_fetch_unpack__roundtrip_ustar(void **state)
{
	roundtrip_format("ustar");
}

static const store_entry *find(const store_tree *t, const char *path)
{
	const store_entry *e = store_tree_find(t, path);

	if (!e)
		fail_msg("no entry '%s' in the tree", path);
	return e;
}

static void load_tree(tstore *t, const store_digest *d, store_tree **ret)
{
	berth_error err = BERTH_ERROR_INIT;
	int r = store_tree_load(t->s, d, ret, &err);

	if (r < 0)
		fail_msg("tree load: %s", berth_error_message(&err, r));
}

static void assert_content_size(tstore *t, const store_entry *e, uint64_t size)
{
	_cleanup_(buf_done) buf b = BUF_INIT;

	assert_int_equal(e->type, STORE_ENTRY_REG);
	assert_int_equal(e->content.size, size);
	assert_int_equal(store_file_read(t->s, &e->content, sink_to_buf, &b), 0);
	assert_int_equal(b.len, size);
}

static const store_xattr *find_xattr(const store_entry *e, const char *name)
{
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (streq(e->xattrs[i].name, name))
			return &e->xattrs[i];
	fail_msg("no xattr '%s' on '%s'", name, e->path);
	return NULL;
}

static void test_fetch_unpack__tree_metadata(void **state)
{
	static const uint8_t cap[] = {
		1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
	};
	_cleanup_(buf_done) buf tar = BUF_INIT;
	_cleanup_(store_tree_freep) store_tree *tree = NULL;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res;
	const store_entry *e;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "full", "pax", &tar);
	assert_int_equal(unpack_mem(t.s, tar.data, tar.len, NULL, &res, &err), 0);
	load_tree(&t, &res.layer.tree, &tree);
	/* Every tar entry is one tree entry ("./" is the root ""). */
	assert_int_equal(store_tree_count(tree), 24);
	assert_int_equal(res.entries, 24);
	e = find(tree, "");
	assert_int_equal(e->type, STORE_ENTRY_DIR);
	assert_int_equal(e->mode, 0755);
	e = find(tree, "bin/sh");
	assert_content_size(&t, e, 1048577);
	assert_int_equal(e->mode, 0755);
	assert_int_equal(e->mtime_ns, INT64_C(1700000000) * 1000000000);
	assert_int_equal(e->atime_ns, e->mtime_ns); /* no atime in the tar: mtime */
	assert_int_equal(find(tree, "bin/su")->mode, 04755);
	e = find(tree, "etc");
	assert_int_equal(e->uid, 1000);
	assert_int_equal(e->gid, 1001);
	assert_content_size(&t, find(tree, "etc/f0"), 0);
	assert_int_equal(find(tree, "etc/f0")->content.nchunks, 0);
	assert_content_size(&t, find(tree, "etc/f1"), 1);
	assert_content_size(&t, find(tree, "etc/f511"), 511);
	assert_content_size(&t, find(tree, "etc/f512"), 512);
	assert_content_size(&t, find(tree, "etc/f513"), 513);
	assert_int_equal(find(tree, "etc/f513")->mode, 0640);
	e = find(tree, "etc/hard");
	assert_int_equal(e->type, STORE_ENTRY_HARDLINK);
	assert_string_equal(e->link, "etc/f513");
	e = find(tree, "etc/link");
	assert_int_equal(e->type, STORE_ENTRY_SYMLINK);
	assert_string_equal(e->link, "../bin/sh");
	e = find(tree, "dev/null");
	assert_int_equal(e->type, STORE_ENTRY_CHR);
	assert_int_equal(e->rdev, makedev(1, 3));
	assert_int_equal(e->mode, 0666);
	e = find(tree, "dev/sda");
	assert_int_equal(e->type, STORE_ENTRY_BLK);
	assert_int_equal(e->rdev, makedev(8, 0));
	assert_int_equal(find(tree, "dev/fifo")->type, STORE_ENTRY_FIFO);
	assert_int_equal(find(tree, "tmp")->mode, 01777);
	assert_int_equal(find(tree, "etc/longlink")->type, STORE_ENTRY_SYMLINK);
	assert_int_equal(strlen(find(tree, "etc/longlink")->link), 150);
	e = find(tree, "bin/ping");
	assert_int_equal(e->n_xattrs, 3);
	assert_int_equal(find_xattr(e, "security.capability")->len, sizeof(cap));
	assert_memory_equal(find_xattr(e, "security.capability")->value, cap, sizeof(cap));
	assert_int_equal(find_xattr(e, "user.empty")->len, 0);
	assert_int_equal(find_xattr(e, "trusted.overlay.x")->len, 1);
	assert_int_equal(find(tree, "etc/ns")->mtime_ns, INT64_C(1700000000123456789));
	e = find(tree, "etc/bigid");
	assert_int_equal(e->uid, 3000000000u);
	assert_int_equal(e->gid, 70000);
	find(tree, "etc/\xc3\xa9t\xc3\xa9"); /* the UTF-8 bytes of the PAX path, as they are */
	assert_content_size(&t,
			    find(tree, "etc/bin\xff"
				       "ary"),
			    12); /* hdrcharset=BINARY */
	tstore_close(&t);
}

static void test_fetch_unpack__long_names(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT;
	_cleanup_(store_tree_freep) store_tree *tree = NULL, *tree2 = NULL;
	_cleanup_free_ char *gnu = NULL, *ustar = NULL;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res;
	tstore t;

	assert_true(asprintf(&gnu, "deep/%0150d/%0200d", 0, 0) > 0);
	memset(gnu + 5, 'x', 150);
	memset(gnu + 156, 'y', 200);
	tstore_open(&t);
	make_tar(t.dir, "full", "gnu", &tar);
	assert_int_equal(unpack_mem(t.s, tar.data, tar.len, NULL, &res, &err), 0);
	load_tree(&t, &res.layer.tree, &tree);
	assert_content_size(&t, find(tree, gnu), 10);
	assert_content_size(&t,
			    find(tree, "etc/bin\xff"
				       "ary"),
			    12);
	make_tar(t.dir, "full", "ustar", &tar);
	assert_int_equal(unpack_mem(t.s, tar.data, tar.len, NULL, &res, &err), 0);
	load_tree(&t, &res.layer.tree, &tree2);
	assert_true(asprintf(&ustar, "%0100d/%090d", 0, 0) > 0);
	memset(ustar, 'p', 100);
	memset(ustar + 101, 'n', 90);
	assert_content_size(&t, find(tree2, ustar), 16);
	assert_content_size(&t,
			    find(tree2, "etc/bin\xff"
					"ary"),
			    12);
	tstore_close(&t);
}

static void test_fetch_unpack__whiteouts(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT;
	_cleanup_(store_tree_freep) store_tree *tree = NULL;
	fetch_unpack_result res;
	const store_entry *e;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "whiteouts", "pax", &tar);
	check_roundtrip(&t, &tar, COMP_NONE, &res);
	load_tree(&t, &res.layer.tree, &tree);
	/* "", a, a/gone, b, c, c/kept, top: the markers and the AUFS directory are not entries. */
	assert_int_equal(store_tree_count(tree), 7);
	e = find(tree, "a");
	assert_int_equal(e->type, STORE_ENTRY_DIR);
	assert_int_equal(e->flags, STORE_ENTRY_OPAQUE);
	assert_int_equal(e->mode, 0750);
	assert_int_equal(e->uid, 5);
	assert_int_equal(find(tree, "a/gone")->type, STORE_ENTRY_WHITEOUT);
	/* b: only the marker says it exists: an implied directory, opaque. */
	e = find(tree, "b");
	assert_int_equal(e->type, STORE_ENTRY_DIR);
	assert_int_equal(e->flags, STORE_ENTRY_OPAQUE);
	assert_int_equal(e->mode, 0755);
	assert_int_equal(e->uid, 0);
	assert_int_equal(e->mtime_ns, INT64_C(1700000007) * 1000000000);
	/* c: the marker came before the directory's own entry. */
	e = find(tree, "c");
	assert_int_equal(e->flags, STORE_ENTRY_OPAQUE);
	assert_int_equal(e->mode, 0700);
	assert_int_equal(find(tree, "c/kept")->type, STORE_ENTRY_REG);
	e = find(tree, "top");
	assert_int_equal(e->type, STORE_ENTRY_WHITEOUT);
	assert_int_equal(e->mode, 0600);
	assert_int_equal(find(tree, "")->flags, 0);
	assert_null(store_tree_find(tree, ".wh..wh.plnk"));
	assert_null(store_tree_find(tree, ".wh..wh.plnk/123.456"));
	tstore_close(&t);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void check_sparse(const char *fmt)
{
	_cleanup_(buf_done) buf tar = BUF_INIT, s1 = BUF_INIT;
	_cleanup_(store_tree_freep) store_tree *tree = NULL;
	fetch_unpack_result res;
	const uint8_t *p;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "sparse", fmt, &tar);
	/* Holes are not in the tar: it is much smaller than the files. */
	assert_true(tar.len < 200 * 1024);
	check_roundtrip(&t, &tar, COMP_NONE, &res);
	check_roundtrip(&t, &tar, COMP_GZIP, NULL);
	load_tree(&t, &res.layer.tree, &tree);
	assert_int_equal(store_file_read(t.s, &find(tree, "s1")->content, sink_to_buf, &s1), 0);
	assert_int_equal(s1.len, 3 * 1024 * 1024);
	p = (const uint8_t *)s1.data;
	assert_true(all_zero(p, 1048576));
	assert_memory_equal(p + 1048576, "hello", 5);
	assert_false(all_zero(p + 1048581, 70000));
	assert_true(all_zero(p + 1048581 + 70000, 2000000 - 1048581 - 70000));
	assert_memory_equal(p + 2000000, "world", 5);
	assert_true(all_zero(p + 2000005, s1.len - 2000005));
	assert_int_equal(find(tree, "s2")->content.size, 100 * 1024 + 4);
	assert_int_equal(res.content_bytes, 3 * 1024 * 1024 + 100 * 1024 + 4);
	tstore_close(&t);
}

static void test_fetch_unpack__sparse(void **state)
{
	check_sparse("gnu");
	check_sparse("0.0");
	check_sparse("0.1");
	check_sparse("1.0");
}

static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_fetch_unpack__hostile(void **state)
{
	_cleanup_(buf_done) buf list = BUF_INIT;
	_cleanup_free_ char *script = test_source_path("../../integration/data/mkhostile.py");
	size_t n_cases = 0, fds;
	char *line, *save = NULL;
	tstore t;

	tstore_open(&t);
	/* The store opens its directories lazily: after one unpack, the fds it keeps are open. */
	fds = count_fds();
	{
		char *argv[] = { (char *)test_python(), script, t.dir, NULL };
		assert_int_equal(test_run(argv, &list), 0);
	}
	for (line = strtok_r(list.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		_cleanup_(buf_done) buf tar = BUF_INIT;
		_cleanup_free_ char *path = NULL;
		berth_error err = BERTH_ERROR_INIT;
		fetch_unpack_result res;
		char *rule = strchr(line, '\t');
		size_t trees = count_objects(t.s, STORE_TREE),
		       splits = count_objects(t.s, STORE_SPLIT);
		int r;

		assert_non_null(rule);
		*rule++ = '\0';
		assert_true(asprintf(&path, "%s/%s.tar", t.dir, line) > 0);
		assert_int_equal(read_file(AT_FDCWD, path, SIZE_MAX, &tar), 0);
		r = unpack_mem(t.s, tar.data ? tar.data : "", tar.len, NULL, &res, &err);
		if (r >= 0)
			fail_msg("hostile case '%s' was accepted", line);
		if (!strstr(err.msg, rule))
			fail_msg("case '%s': error '%s' does not say '%s'", line, err.msg, rule);
		assert_int_equal(err.code, r);
		assert_true(r == -EINVAL || r == -EEXIST || r == -EFBIG || r == -EBADMSG);
		assert_int_equal(count_objects(t.s, STORE_TREE), trees);
		assert_int_equal(count_objects(t.s, STORE_SPLIT), splits);
		n_cases++;
	}
	assert_true(n_cases >= 30);
	assert_int_equal(count_fds(), fds);
	tstore_close(&t);
}

static void test_fetch_unpack__digest_mismatch(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT, gz = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	store_digest zero = {}, diff_id, blob;
	fetch_unpack_opts opts = { .expect_diff_id = &zero };
	fetch_unpack_result res;
	char want[STORE_DIGEST_STR_LEN];
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "whiteouts", "gnu", &tar);
	gzip_buf(tar.data, tar.len, &gz);
	store_digest_buf(tar.data, tar.len, &diff_id);
	store_digest_buf(gz.data, gz.len, &blob);
	assert_int_equal(unpack_mem(t.s, gz.data, gz.len, &opts, &res, &err), -EBADMSG);
	store_digest_str(&diff_id, want);
	assert_non_null(strstr(err.msg, "layer DiffID mismatch: expected sha256:0000"));
	assert_non_null(strstr(err.msg, want));
	assert_int_equal(count_objects(t.s, STORE_TREE), 0);

	opts = (fetch_unpack_opts){ .expect_diff_id = &diff_id, .expect_blob_digest = &zero };
	err = (berth_error)BERTH_ERROR_INIT;
	assert_int_equal(unpack_mem(t.s, gz.data, gz.len, &opts, &res, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "blob digest mismatch"));
	assert_int_equal(count_objects(t.s, STORE_TREE), 0);

	opts.expect_blob_digest = &blob;
	assert_int_equal(unpack_mem(t.s, gz.data, gz.len, &opts, &res, &err), 0);
	assert_int_equal(count_objects(t.s, STORE_TREE), 1);
	assert_int_equal(count_objects(t.s, STORE_SPLIT), 1);
	tstore_close(&t);
}

static void test_fetch_unpack__from_pipe(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT, zs = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res;
	int p[2], status;
	pid_t pid;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "big", "pax", &tar);
	zstd_buf(tar.data, tar.len, &zs);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(fd_write_all(p[1], zs.data, zs.len) < 0);
	}
	close(p[1]);
	assert_int_equal(fetch_unpack_fd(t.s, p[0], NULL, &res, &err), 0);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_digest_of(tar.data, tar.len, &res.layer.diff_id);
	assert_digest_of(zs.data, zs.len, &res.blob_digest);
	assert_int_equal(res.content_bytes, 3 * 3 * 1024 * 1024 + 3);
	tstore_close(&t);
}

static void test_fetch_unpack__trailing_zeros(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "whiteouts", "ustar", &tar);
	/* Zeros past the end-of-archive blocks belong to the DiffID and come back on pack. */
	assert_int_equal(buf_append(&tar, (char[3000]){}, 3000), 0);
	check_roundtrip(&t, &tar, COMP_GZIP, &res);
	/* A non-zero byte after the end is refused. */
	tar.data[tar.len - 1] = 1;
	assert_int_equal(unpack_mem(t.s, tar.data, tar.len, NULL, &res, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "is not zeros"));
	tstore_close(&t);
}

static void progress_cb(void *userdata, uint64_t raw)
{
	uint64_t *max = userdata;

	assert_true(raw >= *max);
	*max = raw;
}

static void test_fetch_unpack__progress_and_limits(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT, gz = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	uint64_t seen = 0;
	fetch_unpack_opts opts = { .progress = progress_cb, .userdata = &seen };
	fetch_unpack_result res;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "full", "gnu", &tar);
	gzip_buf(tar.data, tar.len, &gz);
	assert_int_equal(unpack_mem(t.s, gz.data, gz.len, &opts, &res, &err), 0);
	assert_int_equal(seen, gz.len);
	opts = (fetch_unpack_opts){ .max_entry_size = 1048576 };
	assert_int_equal(unpack_mem(t.s, gz.data, gz.len, &opts, &res, &err), -EFBIG);
	assert_string_equal(err.msg,
			    "entry 'bin/sh': size 1048577 exceeds the limit of 1048576 bytes");
	tstore_close(&t);
}

/* Past max_split_memory the layer comes in without a split, and packs to its canonical tar. */
static void check_split_given_up(tstore *t, const char *recipe, size_t limit, size_t n,
				 const char *file)
{
	_cleanup_(buf_done) buf tar = BUF_INIT, back = BUF_INIT;
	_cleanup_(store_tree_freep) store_tree *tree = NULL;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_opts opts = { .max_split_memory = limit };
	fetch_unpack_result res, again;
	store_layer canonical;

	make_tar(t->dir, recipe, "pax", &tar);
	assert_int_equal(unpack_mem(t->s, tar.data, tar.len, &opts, &res, &err), 0);
	assert_false(res.layer.has_split);
	assert_digest_of(tar.data, tar.len, &res.layer.diff_id);
	assert_int_equal(res.layer.tar_size, tar.len);
	load_tree(t, &res.layer.tree, &tree);
	assert_int_equal(store_tree_count(tree), n);
	assert_int_equal(find(tree, file)->type, STORE_ENTRY_REG);
	assert_int_equal(pack_mem(t->s, &res.layer, &back, &err), 0);
	assert_true(back.len != tar.len || memcmp(back.data, tar.data, tar.len) != 0);
	assert_int_equal(fetch_layer_from_tree(t->s, &res.layer.tree, &canonical, &err), 0);
	assert_digest_of(back.data, back.len, &canonical.diff_id);
	/* The same layer with room for the split has one, and the same tree. */
	assert_int_equal(unpack_mem(t->s, tar.data, tar.len, NULL, &again, &err), 0);
	assert_true(again.layer.has_split);
	assert_true(store_digest_eq(&again.layer.tree, &res.layer.tree));
}

static void test_fetch_unpack__split_given_up(void **state)
{
	tstore t;

	tstore_open(&t);
	/* The skeleton outgrows the limit in the builder... */
	check_split_given_up(&t, "whiteouts", 1, 7, "c/kept");
	/* ...or as the body of a whiteout, held back before it can be classified. */
	check_split_given_up(&t, "whiteout-body", 64 * 1024, 2, "after");
	tstore_close(&t);
}

static void test_fetch_unpack__normalize(void **state)
{
	static const char *const ok[][2] = {
		{ "./", "" },	     { ".", "" },
		{ "./a/b/", "a/b" }, { "a//b/./c", "a/b/c" },
		{ "...", "..." },    { "a/..b", "a/..b" },
	};
	static const char *const bad[] = { "", "/", "/a", "..", "a/..", "a/../b", "./../a" };
	berth_error err = BERTH_ERROR_INIT;
	char *out;

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		assert_int_equal(fetch_tar_path_normalize(ok[i][0], &out, &err), 0);
		assert_string_equal(out, ok[i][1]);
		free(out);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		out = NULL;
		assert_int_equal(fetch_tar_path_normalize(bad[i], &out, &err), -EINVAL);
		assert_null(out);
	}
	err = (berth_error)BERTH_ERROR_INIT;
	fetch_tar_path_normalize("../../etc/passwd", &out, &err);
	assert_string_equal(err.msg,
			    "entry '../../etc/passwd': path escapes the layer ('..' component)");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fetch_unpack__roundtrip_pax),
	cmocka_unit_test(test_fetch_unpack__roundtrip_gnu),
	cmocka_unit_test(test_fetch_unpack__roundtrip_ustar),
	cmocka_unit_test(test_fetch_unpack__tree_metadata),
	cmocka_unit_test(test_fetch_unpack__long_names),
	cmocka_unit_test(test_fetch_unpack__whiteouts),
	cmocka_unit_test(test_fetch_unpack__sparse),
	cmocka_unit_test(test_fetch_unpack__hostile),
	cmocka_unit_test(test_fetch_unpack__digest_mismatch),
	cmocka_unit_test(test_fetch_unpack__from_pipe),
	cmocka_unit_test(test_fetch_unpack__trailing_zeros),
	cmocka_unit_test(test_fetch_unpack__progress_and_limits),
	cmocka_unit_test(test_fetch_unpack__split_given_up),
	cmocka_unit_test(test_fetch_unpack__normalize),
};
UNIT_EXPORT(fetch, unpack, tests);
