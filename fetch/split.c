/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/split.c: building and reading STORE_SPLIT objects (the encoding is in fetch/split.h).
 *
 * The builder keeps its records encoded as they come, with the caller's file ordinals in CONTENT
 * records, because the tree's order (and so the final index of each file) is known only when the
 * whole tar has been read; encode() rewrites them in one pass.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/split.h"
#include "util/macro.h"

#define SPLIT_MAGIC	"BRTSPLIT"
#define SPLIT_MAGIC_LEN 8
#define SPLIT_VERSION	1
/* Zero runs at least this long become ZEROS records; shorter ones stay in the literal. */
#define SPLIT_ZERO_RUN	64

struct fetch_split_builder {
	buf rec;	/* encoded records; CONTENT records carry the caller's ordinals */
	buf lit;	/* literal bytes not yet emitted */
	uint64_t zeros; /* zero bytes seen after `lit`, not yet emitted */
	bool content_pending;
	uint64_t c_ord, c_off, c_len;
	uint64_t n_records;
	uint64_t tar_size;
};

int fetch_split_builder_new(fetch_split_builder **ret)
{
	fetch_split_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	*ret = b;
	return 0;
}

fetch_split_builder *fetch_split_builder_free(fetch_split_builder *b)
{
	if (!b)
		return NULL;
	buf_done(&b->rec);
	buf_done(&b->lit);
	free(b);
	return NULL;
}

static int emit_tag_len(fetch_split_builder *b, int tag, uint64_t len)
{
	int r = buf_append_byte(&b->rec, (uint8_t)tag);

	if (r >= 0)
		r = buf_append_varint(&b->rec, len);
	if (r >= 0)
		b->n_records++;
	return r;
}

static int flush_literal(fetch_split_builder *b)
{
	int r;

	if (b->lit.len == 0)
		return 0;
	r = emit_tag_len(b, FETCH_SPLIT_LITERAL, b->lit.len);
	if (r >= 0)
		r = buf_append(&b->rec, b->lit.data, b->lit.len);
	buf_reset(&b->lit);
	return r;
}

/* Ends the pending zero run: a ZEROS record if it is long, else plain literal bytes. */
static int flush_zeros(fetch_split_builder *b)
{
	static const uint8_t zero[SPLIT_ZERO_RUN];
	uint64_t n = b->zeros;
	int r;

	b->zeros = 0;
	if (n == 0)
		return 0;
	if (n < SPLIT_ZERO_RUN)
		return buf_append(&b->lit, zero, n);
	r = flush_literal(b);
	if (r < 0)
		return r;
	return emit_tag_len(b, FETCH_SPLIT_ZEROS, n);
}

static int flush_content(fetch_split_builder *b)
{
	int r;

	if (!b->content_pending)
		return 0;
	b->content_pending = false;
	r = buf_append_byte(&b->rec, FETCH_SPLIT_CONTENT);
	if (r >= 0)
		r = buf_append_varint(&b->rec, b->c_ord);
	if (r >= 0)
		r = buf_append_varint(&b->rec, b->c_off);
	if (r >= 0)
		r = buf_append_varint(&b->rec, b->c_len);
	if (r >= 0)
		b->n_records++;
	return r;
}

static int flush_all(fetch_split_builder *b)
{
	int r = flush_content(b);

	if (r >= 0)
		r = flush_zeros(b);
	if (r >= 0)
		r = flush_literal(b);
	return r;
}

int fetch_split_builder_bytes(fetch_split_builder *b, const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + len;
	int r;

	if (len == 0)
		return 0;
	r = flush_content(b);
	if (r < 0)
		return r;
	b->tar_size += len;
	while (p < end) {
		const uint8_t *q = p;

		while (q < end && *q == 0)
			q++;
		b->zeros += (uint64_t)(q - p);
		if (q == end)
			break;
		r = flush_zeros(b);
		if (r < 0)
			return r;
		p = q;
		while (q < end && *q != 0)
			q++;
		r = buf_append(&b->lit, p, (size_t)(q - p));
		if (r < 0)
			return r;
		p = q;
	}
	return 0;
}

int fetch_split_builder_content(fetch_split_builder *b, uint64_t ordinal, uint64_t offset,
				uint64_t len)
{
	int r;

	if (len == 0)
		return 0;
	b->tar_size += len;
	if (b->content_pending && b->c_ord == ordinal && b->c_off + b->c_len == offset) {
		b->c_len += len;
		return 0;
	}
	r = flush_all(b);
	if (r < 0)
		return r;
	b->content_pending = true;
	b->c_ord = ordinal;
	b->c_off = offset;
	b->c_len = len;
	return 0;
}

uint64_t fetch_split_builder_tar_size(const fetch_split_builder *b)
{
	return b->tar_size;
}

size_t fetch_split_builder_memory(const fetch_split_builder *b)
{
	return b->rec.cap + b->lit.cap;
}

static int encode_header(buf *out, const store_digest *tree, const store_digest *diff_id,
			 uint64_t tar_size, uint64_t n_records)
{
	int r = buf_append(out, SPLIT_MAGIC, SPLIT_MAGIC_LEN);

	if (r >= 0)
		r = buf_append_varint(out, SPLIT_VERSION);
	if (r >= 0)
		r = buf_append(out, tree->b, STORE_DIGEST_LEN);
	if (r >= 0)
		r = buf_append(out, diff_id->b, STORE_DIGEST_LEN);
	if (r >= 0)
		r = buf_append_varint(out, tar_size);
	if (r >= 0)
		r = buf_append_varint(out, n_records);
	return r;
}

/* Copies one record from [*p, end) to out, mapping a CONTENT ordinal through map. */
static int encode_record(const uint8_t **p, const uint8_t *end, const uint32_t *map, size_t n_map,
			 buf *out)
{
	uint64_t a, off, len;
	uint8_t tag = *(*p)++;
	int r;

	r = varint_decode(p, end, &a);
	if (r < 0)
		return r;
	if (tag != FETCH_SPLIT_CONTENT) {
		r = buf_append_byte(out, tag);
		if (r >= 0)
			r = buf_append_varint(out, a);
		if (r >= 0 && tag == FETCH_SPLIT_LITERAL) {
			r = buf_append(out, *p, a);
			*p += a;
		}
		return r;
	}
	if (a >= n_map)
		return -EINVAL;
	r = varint_decode(p, end, &off);
	if (r >= 0)
		r = varint_decode(p, end, &len);
	if (r >= 0)
		r = buf_append_byte(out, tag);
	if (r >= 0)
		r = buf_append_varint(out, map[a]);
	if (r >= 0)
		r = buf_append_varint(out, off);
	if (r >= 0)
		r = buf_append_varint(out, len);
	return r;
}

int fetch_split_builder_encode(fetch_split_builder *b, const store_digest *tree,
			       const store_digest *diff_id, const uint32_t *map, size_t n_map,
			       buf *out)
{
	const uint8_t *p, *end;
	int r;

	r = flush_all(b);
	if (r < 0)
		return r;
	r = encode_header(out, tree, diff_id, b->tar_size, b->n_records);
	if (r < 0)
		return r;
	r = buf_reserve(out, b->rec.len);
	if (r < 0)
		return r;
	p = (const uint8_t *)b->rec.data;
	end = p + b->rec.len;
	while (p < end) {
		r = encode_record(&p, end, map, n_map, out);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- Reader ---- */

static int read_record(const uint8_t **p, const uint8_t *end, fetch_split_record *rec)
{
	int r;

	*rec = (fetch_split_record){};
	if (*p >= end)
		return -EBADMSG;
	rec->kind = *(*p)++;
	switch (rec->kind) {
	case FETCH_SPLIT_LITERAL:
		r = varint_decode(p, end, &rec->len);
		if (r < 0)
			return r;
		if ((uint64_t)(end - *p) < rec->len)
			return -EBADMSG;
		rec->data = *p;
		*p += rec->len;
		break;
	case FETCH_SPLIT_ZEROS:
		r = varint_decode(p, end, &rec->len);
		if (r < 0)
			return r;
		break;
	case FETCH_SPLIT_CONTENT:
		r = varint_decode(p, end, &rec->entry);
		if (r >= 0)
			r = varint_decode(p, end, &rec->offset);
		if (r >= 0)
			r = varint_decode(p, end, &rec->len);
		if (r < 0)
			return r;
		if (rec->offset + rec->len < rec->offset)
			return -EBADMSG;
		break;
	default:
		return -EBADMSG;
	}
	return rec->len == 0 ? -EBADMSG : 0;
}

static int read_header(fetch_split_reader *r, const uint8_t **p, const uint8_t *end)
{
	uint64_t version;
	int k;

	if ((size_t)(end - *p) < SPLIT_MAGIC_LEN || memcmp(*p, SPLIT_MAGIC, SPLIT_MAGIC_LEN) != 0)
		return -EBADMSG;
	*p += SPLIT_MAGIC_LEN;
	k = varint_decode(p, end, &version);
	if (k < 0)
		return k;
	if (version != SPLIT_VERSION || (size_t)(end - *p) < 2 * STORE_DIGEST_LEN)
		return -EBADMSG;
	memcpy(r->tree.b, *p, STORE_DIGEST_LEN);
	memcpy(r->diff_id.b, *p + STORE_DIGEST_LEN, STORE_DIGEST_LEN);
	*p += 2 * STORE_DIGEST_LEN;
	k = varint_decode(p, end, &r->tar_size);
	if (k >= 0)
		k = varint_decode(p, end, &r->n_records);
	return k;
}

int fetch_split_reader_init(fetch_split_reader *r, const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + len;
	fetch_split_record rec;
	uint64_t total = 0;
	int k;

	*r = (fetch_split_reader){};
	k = read_header(r, &p, end);
	if (k < 0)
		return -EBADMSG;
	r->p = p;
	r->end = end;
	r->left = r->n_records;
	/* Check everything first: a damaged split must not produce half a tar. */
	for (uint64_t i = 0; i < r->n_records; i++) {
		k = read_record(&p, end, &rec);
		if (k < 0)
			return -EBADMSG;
		if (total + rec.len < total)
			return -EBADMSG;
		total += rec.len;
	}
	if (p != end || total != r->tar_size)
		return -EBADMSG;
	return 0;
}

int fetch_split_reader_next(fetch_split_reader *r, fetch_split_record *ret)
{
	int k;

	if (r->left == 0)
		return 0;
	k = read_record(&r->p, r->end, ret);
	if (k < 0)
		return k;
	r->left--;
	return 1;
}
