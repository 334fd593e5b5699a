/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/fileio.h: fd and path helpers, all openat-style (dirfd, path) and O_CLOEXEC.
 *
 * The crash-safety rule of berth lives here: a file that must survive a crash is written with
 * write_file_atomic(), which writes a temp file in the same directory, fsyncs it, renames it into
 * place and fsyncs the directory. A reader therefore sees the old content or the new, never a
 * half-written file, and after the call returns the new content is durable.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

/* Writes all of [data, data+len), retrying on EINTR and short writes. */
int fd_write_all(int fd, const void *data, size_t len);
/* Reads until EOF or `max` bytes (SIZE_MAX for no limit), appending to b. -EFBIG past max. */
int fd_read_all(int fd, buf *b, size_t max);
/* Reads exactly len bytes; -EIO on early EOF. */
int fd_read_exact(int fd, void *data, size_t len);
/* fsyncs the directory that holds (dirfd, path) or dirfd itself if path is NULL. */
int fsync_dir(int dirfd, const char *path);

/* Reads a whole file (dirfd-relative) into b, refusing files larger than max. */
int read_file(int dirfd, const char *path, size_t max, buf *b);
/*
 * Atomically replaces (dirfd, path) with data: temp file "path.tmp.XXXXXX" in the same directory,
 * fsync, rename, fsync of the directory. On failure the temp file is removed and the old content
 * is untouched.
 */
int write_file_atomic(int dirfd, const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p relative to dirfd; existing directories are fine. */
int mkdir_p(int dirfd, const char *path, mode_t mode);
/* rm -rf relative to dirfd; never crosses into other file systems. Missing path is not an error. */
int rm_rf(int dirfd, const char *path);

/* Lowercase hex; out must hold 2*len+1 bytes. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly 2*len hex characters; -EINVAL on anything else. */
int hex_decode(const char *in, uint8_t *out, size_t len);

/* Joins two path parts with exactly one '/'. NULL on ENOMEM. */
char *path_join(const char *a, const char *b);
/* Human-readable size in decimal units as Docker prints them ("5.24MB"). out >= 16 bytes. */
void format_size(uint64_t bytes, char *out, size_t outlen);
