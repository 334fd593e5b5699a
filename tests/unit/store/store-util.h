/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/store/store-util.h: a scratch store with real contents, for the image, index, gc and
 * fsck tests. Every helper asserts success.
 */
#pragma once

#include <fcntl.h>
#include <string.h>

#include "store/image.h"
#include "store/store.h"
#include "store/tree.h"
#include "tests/unit/store/tree-util.h"
#include "tests/unit/unit.h"

typedef struct tstore {
	char *root;
	store *s;
} tstore;

static inline void ts_open(tstore *t)
{
	berth_error err = BERTH_ERROR_INIT;
	int r;

	t->root = unit_tmpdir();
	r = store_open(t->root, STORE_OPEN_CREATE, &t->s, &err);
	if (r < 0)
		fail_msg("store_open: %s", berth_error_message(&err, r));
}

static inline void ts_close(tstore *t)
{
	t->s = store_free(t->s);
	unit_tmpdir_remove(t->root);
	t->root = NULL;
}

/* Deterministic pseudo-random bytes (xorshift), so chunks differ between seeds. */
static inline void ts_random(void *p, size_t n, uint64_t seed)
{
	uint8_t *b = p;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)(x >> 32);
	}
}

/* Puts content of `len` pseudo-random bytes from `seed` (inside its own write session). */
static inline store_file_ref ts_file(store *s, size_t len, uint64_t seed)
{
	_cleanup_(store_file_writer_freep) store_file_writer *w = NULL;
	uint8_t *data = malloc(len ? len : 1);
	store_file_ref f;

	assert_non_null(data);
	ts_random(data, len, seed);
	assert_int_equal(store_write_begin(s), 0);
	assert_int_equal(store_file_writer_new(s, &w), 0);
	assert_int_equal(store_file_writer_write(w, data, len), 0);
	assert_int_equal(store_file_writer_finish(w, &f), 0);
	store_write_end(s);
	free(data);
	return f;
}

/* Finishes and puts a tree; a layer with a made-up DiffID (the tree's digest) and no split. */
static inline store_layer ts_layer(store *s, store_tree *t)
{
	store_layer l = {};

	tu_finish(t);
	assert_int_equal(store_write_begin(s), 0);
	assert_int_equal(store_tree_put(s, t, &l.tree), 0);
	store_write_end(s);
	l.diff_id = l.tree;
	l.tar_size = 512 * (store_tree_count(t) + 2);
	store_tree_free(t);
	return l;
}

static inline store_digest ts_image(store *s, const char *config, const store_layer *layers,
				    size_t n)
{
	berth_error err = BERTH_ERROR_INIT;
	store_digest id;
	int r;

	assert_int_equal(store_write_begin(s), 0);
	r = store_image_create(s, config, strlen(config), layers, n, &id, &err);
	store_write_end(s);
	if (r < 0)
		fail_msg("store_image_create: %s", berth_error_message(&err, r));
	return id;
}

/* The path of an object file under the store ("objects/<kind>/<2 hex>/<62 hex>"). */
static inline void ts_object_path(store_kind kind, const store_digest *d, char *out, size_t len)
{
	char hex[STORE_DIGEST_HEX_LEN + 1];

	store_digest_hex(d, hex);
	snprintf(out, len, "objects/%s/%.2s/%s", store_kind_name(kind), hex, hex + 2);
}
