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

/* 0 if [data, data+len) is a well-formed FILE object content, -EBADMSG otherwise. */
int store_file_list_check(const void *data, size_t len);
