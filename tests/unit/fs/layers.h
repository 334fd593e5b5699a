/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/fs/layers.h: images for fs/ tests, made from directories in the kernel overlayfs
 * lower-dir format (a 0/0 character device is a whiteout, trusted.overlay.opaque="y" makes a
 * directory opaque), so the same directories are the layers of berth's image and the lower dirs
 * of the kernel overlayfs oracle. Independent of fetch/ (tar import is tested there).
 */
#pragma once

#include <stddef.h>

#include "store/store.h"
#include "util/error.h"

/* One layer from a directory: its tree digest. Inside a write session. */
int fs_test_layer_from_dir(store *s, const char *dir, store_digest *ret, berth_error *reterr);
/* An image from directories, bottom layer first; ref `name` (may be NULL) points at it. */
int fs_test_image_from_dirs(store *s, const char *const *dirs, size_t n, const char *name,
			    store_digest *ret, berth_error *reterr);
