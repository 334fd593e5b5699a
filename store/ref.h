/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/ref.h: references "name:tag" -> image ID.
 *
 * The store does not interpret names: callers pass them normalized (fetch/reference.h turns
 * "base" into "docker.io/library/base:latest"). A name is printable ASCII without spaces, < 512
 * bytes, containing a ':' that separates the tag.
 *
 * All refs live in one file, ROOT/store/refs, "name sha256:<hex>" per line, sorted by name.
 * Writers serialize on flock(refs.lock) and replace the file atomically (util/fileio.h), so a
 * reader, which takes no lock, sees either the old or the new set. Refs are always written last:
 * after the image they name is complete.
 */
#pragma once

#include <stddef.h>

#include "store/digest.h"
#include "store/store.h"

typedef struct store_ref {
	char *name;
	store_digest id;
} store_ref;

bool store_ref_name_valid(const char *name);
/* Points name at id, replacing what it pointed at. */
int store_ref_set(store *s, const char *name, const store_digest *id);
/* -ENOENT if absent. */
int store_ref_get(store *s, const char *name, store_digest *ret);
/* -ENOENT if absent. */
int store_ref_remove(store *s, const char *name);
/* All refs, sorted by name; free with store_ref_list_free(). */
int store_ref_list(store *s, store_ref **ret, size_t *ret_n);
void store_ref_list_free(store_ref *refs, size_t n);
