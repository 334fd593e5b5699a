/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/file-private.h: what store.c needs to know about file.c's FILE object format.
 *
 * A FILE object is named by the digest of the whole file content, not of its own bytes, so
 * store_object_get() cannot verify it by rehashing; it calls this instead, which checks the
 * object's structure and its embedded checksum (format in file.c).
 */
#pragma once

#include <stddef.h>

#include "store/store.h"

/* 0 if [data, data+len) is a well-formed FILE object content, -EBADMSG otherwise. */
int store_file_list_check(const void *data, size_t len);
/*
 * The file reference a FILE object describes (name, total size, chunk count), so that fsck can
 * reassemble a FILE object that no tree names. -EBADMSG if it is not well-formed.
 */
int store_file_list_ref(const store_digest *name, const void *data, size_t len,
			store_file_ref *ret);
