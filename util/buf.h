/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/buf.h: a growable byte buffer (after git's strbuf).
 *
 * Invariants: `data` is NULL only while cap == 0; when data != NULL, data[len] == '\0' (one byte
 * past the content is always reserved), so a buf holding text is a C string. `len <= cap - 1`.
 * A buf on the stack is initialised with BUF_INIT or buf_init() and released with buf_done();
 * _cleanup_(buf_done) does that automatically.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;
} buf;

#define BUF_INIT           \
	{                  \
		NULL, 0, 0 \
	}

void buf_init(buf *b);
void buf_done(buf *b);
/* Makes room for `extra` more bytes (plus the terminating NUL). -ENOMEM on failure. */
int buf_reserve(buf *b, size_t extra);
int buf_append(buf *b, const void *data, size_t len);
int buf_append_str(buf *b, const char *s);
int buf_append_byte(buf *b, uint8_t c);
int buf_printf(buf *b, const char *fmt, ...) _printf_(2, 3);
int buf_vprintf(buf *b, const char *fmt, va_list ap) _printf_(2, 0);
/* Unsigned LEB128 varint (7 bits per byte, little-endian groups). */
int buf_append_varint(buf *b, uint64_t v);
void buf_reset(buf *b);
/* Returns the data (NUL-terminated, or NULL if empty and never grown); the buf is left empty. */
char *buf_steal(buf *b);

/* Decodes a varint from [*p, end): advances *p; -EBADMSG if truncated or longer than 10 bytes. */
int varint_decode(const uint8_t **p, const uint8_t *end, uint64_t *ret);
