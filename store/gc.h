/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/gc.h: garbage collection and consistency checking.
 *
 * gc: the roots are every image record and every pin. It takes the store lock exclusive (so no
 * write session is in progress), marks everything reachable from the roots (config blobs, trees,
 * splits, files, chunks, indexes), then deletes every other object, every index without an image,
 * everything in tmp/, and the temp files that crashed writers left in images/, index/ and pins/.
 * A pin whose image record is gone keeps that image's index and the file contents it names.
 *
 * fsck: rehashes every object (FILE objects by reassembling their content), moves corrupt ones to
 * quarantine/, and checks that everything reachable from the roots and refs is present. Each
 * problem is reported through the callback, in words for a person.
 */
#pragma once

#include <stdint.h>

#include "store/store.h"

typedef struct store_gc_stats {
	uint64_t objects_kept;
	uint64_t objects_removed;
	uint64_t bytes_removed; /* on disk */
	uint64_t tmp_removed;
} store_gc_stats;

int store_gc(store *s, store_gc_stats *ret);

typedef struct store_fsck_stats {
	uint64_t objects_checked;
	uint64_t corrupt;     /* rehash failed: quarantined */
	uint64_t missing;     /* referenced but absent */
	uint64_t bad_records; /* unreadable image records, refs to absent images */
} store_fsck_stats;

/* Returns 0 if the store is clean, -EUCLEAN if anything was wrong, other -errno on failure. */
int store_fsck(store *s, void (*report)(void *userdata, const char *problem), void *userdata,
	       store_fsck_stats *ret);
