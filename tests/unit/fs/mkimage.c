/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/fs/mkimage.c: `fs-mkimage ROOT NAME LAYERDIR...` makes an image from overlay-format
 * directories (layers.h), bottom first, names it NAME and prints its ID. For the integration
 * tests of fs/, which compare berth with kernel overlayfs over the same directories.
 */
#include <stdio.h>

#include "store/store.h"
#include "tests/unit/fs/layers.h"

int main(int argc, char **argv)
{
	berth_error err = BERTH_ERROR_INIT;
	char id[STORE_DIGEST_STR_LEN];
	store_digest d;
	store *s;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: fs-mkimage ROOT NAME [LAYERDIR...]\n");
		return 2;
	}
	r = store_open(argv[1], STORE_OPEN_CREATE, &s, &err);
	if (r >= 0)
		r = fs_test_image_from_dirs(s, (const char *const *)argv + 3, (size_t)argc - 3,
					    argv[2], &d, &err);
	if (r < 0) {
		fprintf(stderr, "fs-mkimage: %s\n", berth_error_message(&err, r));
		return 1;
	}
	store_digest_str(&d, id);
	printf("%s\n", id);
	store_free(s);
	return 0;
}
