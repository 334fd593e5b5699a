/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of fetch/pack.c and of the STORE_SPLIT encoding (fetch/split.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/split.h"
#include "tests/unit/fetch/fetch-test.h"

static void unpack_ok(tstore *t, const buf *data, fetch_unpack_result *res)
{
	berth_error err = BERTH_ERROR_INIT;
	int r = unpack_mem(t->s, data->data, data->len, NULL, res, &err);

	if (r < 0)
		fail_msg("unpack: %s", berth_error_message(&err, r));
}

static void layer_from_tree_ok(tstore *t, const store_digest *tree, store_layer *ret)
{
	berth_error err = BERTH_ERROR_INIT;
	int r = fetch_layer_from_tree(t->s, tree, ret, &err);

	if (r < 0)
		fail_msg("layer from tree: %s", berth_error_message(&err, r));
}

/*
 * The canonical tar of a tree: the same bytes every time, its digest is the DiffID that
 * fetch_layer_from_tree() computes, and unpacking it gives the same tree back.
 */
static void check_canonical(const char *recipe, const char *fmt)
{
	_cleanup_(buf_done) buf tar = BUF_INIT, c1 = BUF_INIT, c2 = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result orig, again;
	store_layer l1, l2;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, recipe, fmt, &tar);
	unpack_ok(&t, &tar, &orig);
	layer_from_tree_ok(&t, &orig.layer.tree, &l1);
	layer_from_tree_ok(&t, &orig.layer.tree, &l2);
	assert_false(l1.has_split);
	assert_true(store_digest_eq(&l1.tree, &orig.layer.tree));
	assert_true(store_digest_eq(&l1.diff_id, &l2.diff_id));
	assert_int_equal(pack_mem(t.s, &l1, &c1, &err), 0);
	assert_int_equal(pack_mem(t.s, &l2, &c2, &err), 0);
	assert_int_equal(c1.len, c2.len);
	assert_memory_equal(c1.data, c2.data, c1.len);
	assert_int_equal(c1.len, l1.tar_size);
	assert_digest_of(c1.data, c1.len, &l1.diff_id);
	/* Not the original bytes (python's tarfile writes other headers), but the same tree. */
	assert_false(store_digest_eq(&l1.diff_id, &orig.layer.diff_id));
	unpack_ok(&t, &c1, &again);
	if (!store_digest_eq(&again.layer.tree, &orig.layer.tree))
		fail_msg("canonical tar of '%s/%s' unpacks to another tree", recipe, fmt);
	assert_true(store_digest_eq(&again.layer.diff_id, &l1.diff_id));
	tstore_close(&t);
}

static void test_fetch_pack__canonical_full_pax(void **state)
{
	check_canonical("full", "pax");
}

static void test_fetch_pack__canonical_full_gnu(void **state)
{
	check_canonical("full", "gnu");
}

static void test_fetch_pack__canonical_whiteouts(void **state)
{
	check_canonical("whiteouts", "pax");
}

static void test_fetch_pack__canonical_sparse(void **state)
{
	check_canonical("sparse", "1.0");
}

static void test_fetch_pack__canonical_names(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT, c = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res;
	store_layer l;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "whiteouts", "pax", &tar);
	unpack_ok(&t, &tar, &res);
	layer_from_tree_ok(&t, &res.layer.tree, &l);
	assert_int_equal(pack_mem(t.s, &l, &c, &err), 0);
	/* ustar name fields: the root, a directory, the OCI whiteout forms. */
	assert_string_equal(c.data, "./");
	assert_non_null(memmem(c.data, c.len, "a/\0", 3));
	assert_non_null(memmem(c.data, c.len, "a/.wh.gone\0", 11));
	assert_non_null(memmem(c.data, c.len, "a/.wh..wh..opq\0", 15));
	assert_non_null(memmem(c.data, c.len, "b/.wh..wh..opq\0", 15));
	assert_non_null(memmem(c.data, c.len, ".wh.top\0", 8));
	assert_null(memmem(c.data, c.len, "plnk", 4));
	/* No record padding past the end-of-archive blocks. */
	assert_int_equal(c.len % 512, 0);
	assert_true(c.len >= 1024);
	tstore_close(&t);
}

static void read_fd_all(int fd, buf *out)
{
	buf_reset(out);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(fd_read_all(fd, out, SIZE_MAX), 0);
}

static void check_pack_fd(tstore *t, const fetch_unpack_result *res, const buf *tar,
			  fetch_compression c)
{
	_cleanup_(buf_done) buf blob = BUF_INIT, blob2 = BUF_INIT, plain = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	store_digest bd, did;
	uint64_t bsize;
	fetch_unpack_result back;
	int fd;

	for (int round = 0; round < 2; round++) {
		fd = memfd_with("", 0);
		assert_int_equal(
			fetch_pack_layer_fd(t->s, &res->layer, c, fd, &bd, &bsize, &did, &err), 0);
		read_fd_all(fd, round ? &blob2 : &blob);
		close(fd);
	}
	/* Deterministic: the same layer always gives the same blob. */
	assert_int_equal(blob.len, blob2.len);
	assert_memory_equal(blob.data, blob2.data, blob.len);
	assert_int_equal(bsize, blob.len);
	assert_digest_of(blob.data, blob.len, &bd);
	assert_true(store_digest_eq(&did, &res->layer.diff_id));
	if (c == FETCH_COMPRESSION_GZIP) {
		/* gzip header: magic, deflate, no flags (no name), mtime 0. */
		assert_memory_equal(blob.data, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
		gunzip_buf(blob.data, blob.len, &plain);
	} else if (c == FETCH_COMPRESSION_ZSTD) {
		assert_memory_equal(blob.data, "\x28\xb5\x2f\xfd", 4);
		unzstd_buf(blob.data, blob.len, &plain);
	} else
		assert_int_equal(buf_append(&plain, blob.data, blob.len), 0);
	assert_int_equal(plain.len, tar->len);
	assert_memory_equal(plain.data, tar->data, tar->len);
	/* And the blob unpacks to the same layer. */
	unpack_ok(t, &blob, &back);
	assert_true(store_digest_eq(&back.layer.tree, &res->layer.tree));
	assert_true(store_digest_eq(&back.blob_digest, &bd));
}

static void test_fetch_pack__to_fd(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT;
	fetch_unpack_result res;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "full", "pax", &tar);
	unpack_ok(&t, &tar, &res);
	check_pack_fd(&t, &res, &tar, FETCH_COMPRESSION_NONE);
	check_pack_fd(&t, &res, &tar, FETCH_COMPRESSION_GZIP);
	check_pack_fd(&t, &res, &tar, FETCH_COMPRESSION_ZSTD);
	tstore_close(&t);
}

static void test_fetch_pack__damaged_layer(void **state)
{
	_cleanup_(buf_done) buf tar = BUF_INIT, out = BUF_INIT, other = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res, res2;
	store_layer l;
	tstore t;

	tstore_open(&t);
	make_tar(t.dir, "whiteouts", "gnu", &tar);
	unpack_ok(&t, &tar, &res);
	/* A DiffID the split does not rebuild. */
	l = res.layer;
	l.diff_id.b[0] ^= 1;
	assert_int_equal(pack_mem(t.s, &l, &out, &err), -EBADMSG);
	/* A split of another layer. */
	make_tar(t.dir, "whiteouts", "ustar", &other);
	unpack_ok(&t, &other, &res2);
	l = res.layer;
	l.split = res2.layer.split;
	err = (berth_error)BERTH_ERROR_INIT;
	assert_int_equal(pack_mem(t.s, &l, &out, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "split"));
	/* A split that is not in the store. */
	l = res.layer;
	l.split.b[5] ^= 0x40;
	assert_int_equal(pack_mem(t.s, &l, &out, &err), -ENOENT);
	tstore_close(&t);
}

static void test_fetch_pack__split_codec(void **state)
{
	_cleanup_(fetch_split_builder_freep) fetch_split_builder *b = NULL;
	_cleanup_(buf_done) buf enc = BUF_INIT, back = BUF_INIT;
	static const uint32_t map[] = { 7, 3 };
	uint8_t skel[700] = { 'h', 'd', 'r' };
	store_digest tree = { { 1 } }, diff = { { 2 } };
	fetch_split_reader rd;
	fetch_split_record rec;
	int kinds[16], n = 0;

	skel[699] = 'x';
	assert_int_equal(fetch_split_builder_new(&b), 0);
	assert_int_equal(fetch_split_builder_bytes(b, skel, 400), 0);
	assert_int_equal(fetch_split_builder_bytes(b, skel + 400, 300), 0);
	assert_int_equal(fetch_split_builder_content(b, 1, 0, 100), 0);
	assert_int_equal(fetch_split_builder_content(b, 1, 100, 50), 0); /* merges */
	assert_int_equal(fetch_split_builder_content(b, 0, 0, 10), 0);
	assert_int_equal(fetch_split_builder_bytes(b, skel, 10), 0);
	assert_int_equal(fetch_split_builder_tar_size(b), 700 + 150 + 10 + 10);
	assert_int_equal(fetch_split_builder_encode(b, &tree, &diff, map, 2, &enc), 0);

	assert_int_equal(fetch_split_reader_init(&rd, enc.data, enc.len), 0);
	assert_true(store_digest_eq(&rd.tree, &tree));
	assert_true(store_digest_eq(&rd.diff_id, &diff));
	assert_int_equal(rd.tar_size, 870);
	while (fetch_split_reader_next(&rd, &rec) > 0) {
		kinds[n++] = rec.kind;
		if (rec.kind == FETCH_SPLIT_LITERAL)
			assert_int_equal(buf_append(&back, rec.data, rec.len), 0);
		else if (rec.kind == FETCH_SPLIT_ZEROS)
			assert_int_equal(buf_append(&back, (char[1024]){}, rec.len), 0);
		else
			assert_true((rec.entry == 3 && rec.offset == 0 && rec.len == 150) ||
				    (rec.entry == 7 && rec.offset == 0 && rec.len == 10));
	}
	/* "hdr", 696 zeros, "x" | content 1 | content 0 | "hdr" + 7 zeros */
	assert_int_equal(n, 6);
	assert_int_equal(kinds[0], FETCH_SPLIT_LITERAL);
	assert_int_equal(kinds[1], FETCH_SPLIT_ZEROS);
	assert_int_equal(kinds[2], FETCH_SPLIT_LITERAL);
	assert_int_equal(kinds[3], FETCH_SPLIT_CONTENT);
	assert_int_equal(kinds[4], FETCH_SPLIT_CONTENT);
	assert_int_equal(kinds[5], FETCH_SPLIT_LITERAL);
	assert_int_equal(back.len, 710);
	assert_memory_equal(back.data, skel, 700);

	/* Every truncation, and a changed size, is refused before any record is returned. */
	for (size_t i = 0; i < enc.len; i++)
		assert_int_equal(fetch_split_reader_init(&rd, enc.data, i), -EBADMSG);
	enc.data[8 + 1 + 64] ^= 1; /* tar_size varint */
	assert_int_equal(fetch_split_reader_init(&rd, enc.data, enc.len), -EBADMSG);
	/* An ordinal outside the map cannot be encoded. */
	buf_reset(&enc);
	assert_int_equal(fetch_split_builder_encode(b, &tree, &diff, map, 1, &enc), -EINVAL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fetch_pack__canonical_full_pax),
	cmocka_unit_test(test_fetch_pack__canonical_full_gnu),
	cmocka_unit_test(test_fetch_pack__canonical_whiteouts),
	cmocka_unit_test(test_fetch_pack__canonical_sparse),
	cmocka_unit_test(test_fetch_pack__canonical_names),
	cmocka_unit_test(test_fetch_pack__to_fd),
	cmocka_unit_test(test_fetch_pack__damaged_layer),
	cmocka_unit_test(test_fetch_pack__split_codec),
};
UNIT_EXPORT(fetch, pack, tests);
