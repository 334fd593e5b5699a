/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/lower.h: the read path of lower file data, behind one interface (DESIGN.md decision 10).
 *
 * A lower regular file's bytes are served from the content cache, CACHE/<content hex>: plain
 * bytes, named by the SHA-256 of the content, so one copy serves every image and container that
 * has the file. The first open fills it from the store's chunks (verified by store_file_read())
 * into a temp file that is renamed into place: a cache file under its real name is always
 * complete. Later opens are one openat(). Today a cache file is whole; filling chunk by chunk
 * into a sparse file, eviction and FUSE passthrough fit behind the same calls.
 */
#pragma once

#include "store/store.h"

typedef struct fs_lower_cache fs_lower_cache;

/* Opens (creating it) the cache directory. */
int fs_lower_cache_new(store *s, const char *dir, fs_lower_cache **ret);
fs_lower_cache *fs_lower_cache_free(fs_lower_cache *c);

/* A read-only O_CLOEXEC fd holding exactly the file's content. Fills the cache on a miss. */
int fs_lower_open(fs_lower_cache *c, const store_file_ref *f);
