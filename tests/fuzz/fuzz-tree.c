/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz-tree.c: store_tree_decode() on arbitrary bytes.
 *
 * Whatever decodes must be a canonical encoding: encoding the decoded tree gives back exactly the
 * input bytes (so one tree has one digest), and that encoding decodes again to the same encoding.
 * Whatever does not decode must fail cleanly, with -EBADMSG and a message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/tree.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(store_tree_freep) store_tree *t = NULL, *u = NULL;
	_cleanup_(buf_done) buf a = BUF_INIT, b = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	int r;

	r = store_tree_decode(data, size, &t, &err);
	if (r < 0) {
		if (r != -EBADMSG && r != -ENOMEM)
			abort();
		if (r == -EBADMSG && (err.code != r || !err.msg[0]))
			abort();
		return 0;
	}
	if (store_tree_encode(t, &a) < 0)
		abort();
	if (a.len != size || memcmp(a.data, data, size) != 0)
		abort(); /* not canonical */
	if (store_tree_decode(a.data, a.len, &u, NULL) < 0 || store_tree_encode(u, &b) < 0)
		abort();
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	/* Every entry can be found again by its path. */
	for (size_t i = 0; i < store_tree_count(t); i++)
		if (store_tree_find(t, store_tree_entry(t, i)->path) != store_tree_entry(t, i))
			abort();
	return 0;
}
