/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"

void buf_init(buf *b)
{
	*b = (buf)BUF_INIT;
}

void buf_done(buf *b)
{
	free(b->data);
	buf_init(b);
}

void buf_reset(buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_reserve(buf *b, size_t extra)
{
	size_t need, cap;
	char *n;

	if (extra > SIZE_MAX - b->len - 1)
		return -ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	n = realloc(b->data, cap);
	if (!n)
		return -ENOMEM;
	b->data = n;
	b->cap = cap;
	/* The invariant of buf.h: data[len] is NUL as soon as data exists, even for len 0. */
	b->data[b->len] = '\0';
	return 0;
}

int buf_append(buf *b, const void *data, size_t len)
{
	int r = buf_reserve(b, len);

	if (r < 0)
		return r;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_byte(buf *b, uint8_t c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, r;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int buf_append_varint(buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = v & 0x7f;
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return buf_append(b, tmp, n);
}

char *buf_steal(buf *b)
{
	char *d = b->data;

	buf_init(b);
	return d;
}

int varint_decode(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	const uint8_t *q = *p;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (q >= end)
			return -EBADMSG;
		uint8_t c = *q++;
		if (shift == 63 && (c & 0x7e))
			return -EBADMSG; /* would overflow 64 bits */
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*p = q;
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}
