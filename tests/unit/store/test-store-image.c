/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of store/image.c: image records, prefixes, removal; and the index as the store keeps it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/image.h"
#include "store/index.h"
#include "tests/unit/store/store-util.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

static void two_layers(store *s, store_layer l[2])
{
	store_tree *a = tu_new(), *b = tu_new();
	store_file_ref f1 = ts_file(s, 1000, 1), f2 = ts_file(s, 300000, 2);

	tu_dir(a, "etc", 0755, 0);
	tu_reg_ref(a, "etc/one", &f1);
	tu_reg_ref(a, "big", &f2);
	tu_link(a, "big2", STORE_ENTRY_HARDLINK, "big");
	tu_whiteout(b, "etc/one");
	tu_reg_ref(b, "etc/two", &f1);
	l[0] = ts_layer(s, a);
	l[1] = ts_layer(s, b);
}

static void test_store_image__create_load(void **state)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	_cleanup_(buf_done) buf cfg = BUF_INIT, rec = BUF_INIT;
	const char *config = "{\"architecture\":\"amd64\"}";
	store_layer l[2];
	store_digest id, want, id2;
	uint64_t size;
	tstore t;

	ts_open(&t);
	two_layers(t.s, l);
	l[1].has_split = false;
	id = ts_image(t.s, config, l, 2);
	store_digest_buf(config, strlen(config), &want);
	assert_memory_equal(&id, &want, sizeof(id)); /* the ID is the config's digest */
	assert_int_equal(store_image_exists(t.s, &id), 1);
	assert_int_equal(store_image_load(t.s, &id, &img), 0);
	assert_memory_equal(&img->id, &id, sizeof(id));
	assert_int_equal(img->config_size, strlen(config));
	assert_int_equal(img->n_layers, 2);
	for (int i = 0; i < 2; i++) {
		assert_memory_equal(&img->layers[i].tree, &l[i].tree, sizeof(store_digest));
		assert_memory_equal(&img->layers[i].diff_id, &l[i].diff_id, sizeof(store_digest));
		assert_false(img->layers[i].has_split);
		assert_int_equal(img->layers[i].tar_size, l[i].tar_size);
	}
	assert_int_equal(store_image_config(t.s, img, &cfg), 0);
	assert_string_equal(cfg.data, config);
	/* Regular-file bytes, a hard-linked file counted once. */
	assert_int_equal(store_image_content_size(t.s, &id, &size), 0);
	assert_int_equal(size, 301000);
	/* The record is text, in the documented form. */
	_cleanup_free_ char *path = NULL;
	char hex[STORE_DIGEST_HEX_LEN + 1];
	store_digest_hex(&id, hex);
	assert_true(asprintf(&path, "images/%s", hex) > 0);
	assert_int_equal(read_file(store_dir_fd(t.s), path, 1 << 20, &rec), 0);
	assert_true(strncmp(rec.data, "berth-image 1\nconfig sha256:", 28) == 0);
	assert_non_null(strstr(rec.data, " - "));
	/* Creating it again succeeds and changes nothing. */
	id2 = ts_image(t.s, config, l, 2);
	assert_memory_equal(&id, &id2, sizeof(id));
	ts_close(&t);
}

static void test_store_image__missing_tree(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	store_layer l = {};
	store_digest id;
	tstore t;

	ts_open(&t);
	memset(l.tree.b, 0x11, sizeof(l.tree.b));
	assert_int_equal(store_write_begin(t.s), 0);
	assert_int_equal(store_image_create(t.s, "{}", 2, &l, 1, &id, &err), -ENOENT);
	store_write_end(t.s);
	assert_non_null(strstr(err.msg, "tree"));
	store_digest_buf("{}", 2, &id);
	assert_int_equal(store_image_exists(t.s, &id), 0);
	/* A split that is named but absent is refused too. */
	l = ts_layer(t.s, tu_new());
	l.has_split = true;
	memset(l.split.b, 0x22, sizeof(l.split.b));
	err = (berth_error)BERTH_ERROR_INIT;
	assert_int_equal(store_write_begin(t.s), 0);
	assert_int_equal(store_image_create(t.s, "{}", 2, &l, 1, &id, &err), -ENOENT);
	store_write_end(t.s);
	assert_non_null(strstr(err.msg, "split"));
	ts_close(&t);
}

/* Two configs whose IDs share their first four hex digits (found by hashing, cheaply). */
static void colliding_configs(char a[64], char b[64])
{
	static store_digest seen[70000];
	store_digest d;

	for (unsigned i = 0; i < ELEMENTSOF(seen); i++) {
		snprintf(a, 64, "{\"n\":%u}", i);
		store_digest_buf(a, strlen(a), &d);
		for (unsigned j = 0; j < i; j++)
			if (seen[j].b[0] == d.b[0] && seen[j].b[1] == d.b[1]) {
				snprintf(b, 64, "{\"n\":%u}", j);
				return;
			}
		seen[i] = d;
	}
	fail();
}

static void test_store_image__resolve_prefix(void **state)
{
	char ca[64], cb[64], hex[STORE_DIGEST_HEX_LEN + 1], p[80];
	store_digest a, b, got;
	tstore t;

	ts_open(&t);
	colliding_configs(ca, cb);
	a = ts_image(t.s, ca, NULL, 0);
	b = ts_image(t.s, cb, NULL, 0);
	store_digest_hex(&a, hex);
	/* Ambiguous at 4 digits; unique once they differ. */
	snprintf(p, sizeof(p), "%.4s", hex);
	assert_int_equal(store_image_resolve_prefix(t.s, p, &got), -ENOTUNIQ);
	size_t n = 4;
	char hb[STORE_DIGEST_HEX_LEN + 1];
	store_digest_hex(&b, hb);
	while (hex[n - 1] == hb[n - 1])
		n++;
	snprintf(p, sizeof(p), "%.*s", (int)n, hex);
	assert_int_equal(store_image_resolve_prefix(t.s, p, &got), 0);
	assert_memory_equal(&got, &a, sizeof(a));
	snprintf(p, sizeof(p), "sha256:%s", hex);
	assert_int_equal(store_image_resolve_prefix(t.s, p, &got), 0);
	for (char *c = p + 7; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
	assert_int_equal(store_image_resolve_prefix(t.s, p, &got), 0);
	assert_memory_equal(&got, &a, sizeof(a));
	/* Missing (both IDs start with hex[0..4]), too short, not hex. */
	snprintf(p, sizeof(p), "%c%.5s", hex[0] == '0' ? '1' : '0', hex + 1);
	assert_int_equal(store_image_resolve_prefix(t.s, p, &got), -ENOENT);
	assert_int_equal(store_image_resolve_prefix(t.s, "abc", &got), -EINVAL);
	assert_int_equal(store_image_resolve_prefix(t.s, "ghij", &got), -EINVAL);
	assert_int_equal(store_image_resolve_prefix(t.s, "", &got), -EINVAL);
	ts_close(&t);
}

static int count_cb(store *s, const store_digest *id, void *userdata)
{
	store_digest *last = userdata;

	assert_true(memcmp(last, id, sizeof(*id)) < 0); /* sorted */
	*last = *id;
	last[1].b[0]++;
	return 0;
}

static void test_store_image__remove_and_list(void **state)
{
	store_digest ids[3], got, last[2] = {};
	char hex[STORE_DIGEST_HEX_LEN + 1], path[80];
	struct stat st;
	tstore t;

	ts_open(&t);
	ids[0] = ts_image(t.s, "{\"a\":1}", NULL, 0);
	ids[1] = ts_image(t.s, "{\"a\":2}", NULL, 0);
	ids[2] = ts_image(t.s, "{\"a\":3}", NULL, 0);
	assert_int_equal(store_image_foreach(t.s, count_cb, last), 0);
	assert_int_equal(last[1].b[0], 3);
	store_digest_hex(&ids[1], hex);
	snprintf(path, sizeof(path), "index/%s", hex);
	assert_int_equal(fstatat(store_dir_fd(t.s), path, &st, 0), 0);
	assert_int_equal(store_image_remove(t.s, &ids[1]), 0);
	assert_int_equal(store_image_exists(t.s, &ids[1]), 0);
	assert_int_equal(fstatat(store_dir_fd(t.s), path, &st, 0), -1); /* its index went too */
	assert_int_equal(store_image_remove(t.s, &ids[1]), -ENOENT);
	assert_int_equal(store_image_resolve_prefix(t.s, hex, &got), -ENOENT);
	memset(last, 0, sizeof(last));
	assert_int_equal(store_image_foreach(t.s, count_cb, last), 0);
	assert_int_equal(last[1].b[0], 2);
	ts_close(&t);
}

static void test_store_image__bad_record(void **state)
{
	static const char *bad[] = {
		"",
		"berth-image 2\nconfig sha256:@ 2\n",
		"berth-image 1\nconfig sha256:@ 2",    /* no final newline */
		"berth-image 1\nconfig sha256:@ 02\n", /* leading zero */
		"berth-image 1\nconfig sha256:@ 2 x\n",
		"berth-image 1\nconfig @ 2\n", /* bare hex */
		"berth-image 1\nconfig sha256:@ 2\nlayer x\n",
		"berth-image 1\nconfig sha256:@ 2\n\n",
	};
	_cleanup_(store_image_freep) store_image *img = NULL;
	char hex[STORE_DIGEST_HEX_LEN + 1], path[80], text[512];
	store_digest id;
	tstore t;

	ts_open(&t);
	id = ts_image(t.s, "{}", NULL, 0);
	store_digest_hex(&id, hex);
	snprintf(path, sizeof(path), "images/%s", hex);
	assert_int_equal(store_image_load(t.s, &id, &img), 0);
	assert_int_equal(img->n_layers, 0);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		store_image *x = NULL;
		const char *at = strchr(bad[i], '@');
		if (at)
			snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - bad[i]), bad[i], hex,
				 at + 1);
		else
			snprintf(text, sizeof(text), "%s", bad[i]);
		assert_int_equal(
			write_file_atomic(store_dir_fd(t.s), path, text, strlen(text), 0644), 0);
		if (store_image_load(t.s, &id, &x) != -EBADMSG)
			fail_msg("record %zu was accepted", i);
	}
	/* A well-formed record under another image's name. */
	snprintf(text, sizeof(text), "berth-image 1\nconfig sha256:%064d 2\n", 0);
	assert_int_equal(write_file_atomic(store_dir_fd(t.s), path, text, strlen(text), 0644), 0);
	assert_int_equal(store_image_load(t.s, &id, &img), -EBADMSG);
	ts_close(&t);
}

static void test_store_image__index_rebuilt(void **state)
{
	_cleanup_(store_index_freep) store_index *idx = NULL;
	char hex[STORE_DIGEST_HEX_LEN + 1], path[80];
	_cleanup_(buf_done) buf b = BUF_INIT;
	store_layer l[2];
	store_digest id;
	store_ino ino;
	store_inode st;
	tstore t;

	ts_open(&t);
	two_layers(t.s, l);
	id = ts_image(t.s, "{\"x\":1}", l, 2);
	store_digest_hex(&id, hex);
	snprintf(path, sizeof(path), "index/%s", hex);
	assert_int_equal(store_index_open(t.s, &id, &idx, NULL), 0);
	assert_int_equal(store_index_lookup_path(idx, "etc/two", &ino), 0);
	assert_int_equal(store_index_lookup_path(idx, "etc/one", &ino), -ENOENT);
	assert_int_equal(store_index_lookup_path(idx, "big2", &ino), 0);
	assert_int_equal(store_index_stat(idx, ino, &st), 0);
	assert_int_equal(st.nlink, 2);
	assert_true(st.content.nchunks > 1);
	idx = store_index_free(idx);
	/* The file streamed to disk holds the same bytes as a build in memory. */
	{
		_cleanup_(buf_done) buf disk = BUF_INIT, mem = BUF_INIT;
		store_tree *trees[2];
		for (int i = 0; i < 2; i++)
			assert_int_equal(store_tree_load(t.s, &l[i].tree, &trees[i], NULL), 0);
		assert_int_equal(
			store_index_build_mem((const store_tree *const *)trees, 2, &mem, NULL), 0);
		assert_int_equal(read_file(store_dir_fd(t.s), path, 1 << 30, &disk), 0);
		assert_int_equal(disk.len, mem.len);
		assert_memory_equal(disk.data, mem.data, mem.len);
		for (int i = 0; i < 2; i++)
			store_tree_free(trees[i]);
	}
	/* Missing: rebuilt. */
	assert_int_equal(unlinkat(store_dir_fd(t.s), path, 0), 0);
	assert_int_equal(store_index_open(t.s, &id, &idx, NULL), 0);
	idx = store_index_free(idx);
	/* Damaged: rebuilt, and the file on disk is whole again. */
	assert_int_equal(read_file(store_dir_fd(t.s), path, 1 << 30, &b), 0);
	b.data[b.len - 1] ^= 0xff;
	assert_int_equal(write_file_atomic(store_dir_fd(t.s), path, b.data, b.len, 0644), 0);
	assert_int_equal(store_index_open(t.s, &id, &idx, NULL), 0);
	assert_int_equal(store_index_lookup_path(idx, "etc/two", &ino), 0);
	idx = store_index_free(idx);
	int fd = openat(store_dir_fd(t.s), path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(store_index_open_fd(fd, &idx, NULL), 0);
	close(fd);
	idx = store_index_free(idx);
	/* No image: nothing to rebuild from. */
	assert_int_equal(store_image_remove(t.s, &id), 0);
	assert_int_equal(store_index_open(t.s, &id, &idx, NULL), -ENOENT);
	ts_close(&t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_store_image__create_load),
	cmocka_unit_test(test_store_image__missing_tree),
	cmocka_unit_test(test_store_image__resolve_prefix),
	cmocka_unit_test(test_store_image__remove_and_list),
	cmocka_unit_test(test_store_image__bad_record),
	cmocka_unit_test(test_store_image__index_rebuilt),
};
UNIT_EXPORT(store, image, tests);
