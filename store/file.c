/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/file.c: file contents as chunk lists.
 *
 * A file is cut into content-defined chunks (store/chunker.h), each stored as a CHUNK object.
 * A file of one chunk needs nothing else: its digest is the chunk's. A file of two or more chunks
 * gets a FILE object, named by the SHA-256 of the whole content, whose content is:
 *
 *     varint   nchunks (>= 2)
 *     nchunks times:
 *         32 bytes  the chunk's SHA-256
 *         varint    the chunk's size (1 .. STORE_CHUNK_MAX_LIMIT)
 *     8 bytes  XXH3_64bits (seed 0) of all the bytes above, little-endian
 *
 * (varints are unsigned LEB128, util/buf.h.) Because the object is named by the content it
 * describes and not by its own bytes, store_object_get() cannot rehash it; the trailing checksum
 * lets it catch a damaged list anyway (accidental damage only: a forged list is caught by
 * store_file_read(), which checks the whole content's digest at the end).
 *
 * The writer keeps copies to a minimum: when its buffer is empty it cuts chunks straight out of
 * the caller's memory, and it copies only the bytes of a chunk that straddles two writes.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "store/file-private.h"
#include "store/store.h"
#include "util/macro.h"

#define FILE_ENTRY_MIN (STORE_DIGEST_LEN + 1)
#define FILE_TRAILER   8

struct store_file_writer {
	store *s;
	store_chunker_params p;
	store_hasher *whole; /* the whole content, fed chunk by chunk */
	uint8_t *pending;    /* bytes not yet cut, < p.max between calls; p.max allocated */
	size_t npending;
	buf list; /* FILE entries so far (digest, varint size) */
	uint64_t size;
	uint32_t nchunks;
};

int store_file_writer_new(store *s, store_file_writer **ret)
{
	_cleanup_(store_file_writer_freep) store_file_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->s = s;
	w->p = *store_chunker_params_get(s);
	r = store_hasher_new(&w->whole);
	if (r < 0)
		return r;
	w->pending = malloc(w->p.max);
	if (!w->pending)
		return -ENOMEM;
	*ret = TAKE_PTR(w);
	return 0;
}

store_file_writer *store_file_writer_free(store_file_writer *w)
{
	if (!w)
		return NULL;
	store_hasher_free(w->whole);
	free(w->pending);
	buf_done(&w->list);
	free(w);
	return NULL;
}

void store_file_writer_reset(store_file_writer *w)
{
	store_digest discard;

	store_hasher_final(w->whole, &discard); /* final() re-arms it */
	w->npending = 0;
	buf_reset(&w->list);
	w->size = 0;
	w->nchunks = 0;
}

static int emit_chunk(store_file_writer *w, const uint8_t *p, size_t n)
{
	store_digest d;
	int r;

	assert(n > 0 && n <= w->p.max);
	store_hasher_update(w->whole, p, n);
	/*
	 * The first chunk's digest is the whole hash so far: one SHA-256 pass instead of two, which
	 * is all of the hashing for the many files that are a single chunk.
	 */
	if (w->nchunks == 0)
		store_hasher_peek(w->whole, &d);
	else
		store_digest_buf(p, n, &d);
	r = store_object_put_hashed(w->s, STORE_CHUNK, p, n, &d);
	if (r < 0)
		return r;
	r = buf_append(&w->list, d.b, sizeof(d.b));
	if (r >= 0)
		r = buf_append_varint(&w->list, n);
	if (r < 0)
		return r;
	w->size += n;
	w->nchunks++;
	return 0;
}

/* Cuts whole chunks straight out of the caller's memory; returns how many bytes it consumed. */
static int cut_direct(store_file_writer *w, const uint8_t *data, size_t len, size_t *ret_used)
{
	size_t used = 0;
	int r;

	while (len - used >= w->p.max) {
		size_t n = store_chunker_cut(&w->p, data + used, len - used, false);
		r = emit_chunk(w, data + used, n);
		if (r < 0)
			return r;
		used += n;
	}
	*ret_used = used;
	return 0;
}

/*
 * Tops the pending bytes up to p.max from data and cuts one chunk. Returns how many bytes of
 * data are consumed for good: if the chunk swallowed all the old pending bytes, the rest of what
 * was copied is dropped again and will be read from data (so pending becomes empty and the
 * direct path resumes); otherwise the leftover stays pending.
 */
static int cut_pending(store_file_writer *w, const uint8_t *data, size_t len, size_t *ret_used)
{
	size_t old = w->npending, take = MIN(len, (size_t)w->p.max - old), n;
	int r;

	memcpy(w->pending + old, data, take);
	if (old + take < w->p.max) {
		w->npending = old + take;
		*ret_used = take;
		return 0;
	}
	n = store_chunker_cut(&w->p, w->pending, w->p.max, false);
	r = emit_chunk(w, w->pending, n);
	if (r < 0)
		return r;
	if (n >= old) {
		w->npending = 0;
		*ret_used = n - old;
	} else {
		memmove(w->pending, w->pending + n, w->p.max - n);
		w->npending = w->p.max - n;
		*ret_used = take;
	}
	return 0;
}

int store_file_writer_write(store_file_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t used;
	int r;

	while (len > 0) {
		if (w->npending == 0) {
			r = cut_direct(w, p, len, &used);
			if (r < 0)
				return r;
			p += used;
			len -= used;
			if (len == 0)
				break;
		}
		r = cut_pending(w, p, len, &used);
		if (r < 0)
			return r;
		p += used;
		len -= used;
	}
	return 0;
}

static int flush_pending(store_file_writer *w)
{
	while (w->npending > 0) {
		size_t n = store_chunker_cut(&w->p, w->pending, w->npending, true);
		int r = emit_chunk(w, w->pending, n);
		if (r < 0)
			return r;
		memmove(w->pending, w->pending + n, w->npending - n);
		w->npending -= n;
	}
	return 0;
}

static int put_file_object(store_file_writer *w, const store_digest *whole)
{
	_cleanup_(buf_done) buf obj = BUF_INIT;
	uint64_t sum;
	uint8_t le[FILE_TRAILER];
	int r;

	r = buf_append_varint(&obj, w->nchunks);
	if (r >= 0)
		r = buf_append(&obj, w->list.data, w->list.len);
	if (r < 0)
		return r;
	sum = XXH3_64bits(obj.data, obj.len);
	for (unsigned i = 0; i < FILE_TRAILER; i++)
		le[i] = (uint8_t)(sum >> (8 * i));
	r = buf_append(&obj, le, sizeof(le));
	if (r < 0)
		return r;
	return store_object_put_hashed(w->s, STORE_FILE, obj.data, obj.len, whole);
}

int store_file_writer_finish(store_file_writer *w, store_file_ref *ret)
{
	store_file_ref f = {};
	int r;

	r = flush_pending(w);
	if (r < 0)
		return r;
	store_hasher_final(w->whole, &f.digest);
	f.size = w->size;
	f.nchunks = w->nchunks;
	if (w->nchunks > 1) {
		r = put_file_object(w, &f.digest);
		if (r < 0)
			return r;
	}
	w->size = 0;
	w->nchunks = 0;
	buf_reset(&w->list);
	if (ret)
		*ret = f;
	return 0;
}

/* ---- Reading ---- */

/* Parses a FILE object; entries may be NULL (check only). Returns the count, or -EBADMSG. */
static int list_parse(const uint8_t *p, size_t len, store_chunk_ref *entries, size_t cap,
		      size_t *ret_n, uint64_t *ret_size)
{
	const uint8_t *end;
	uint64_t n, size, off = 0, sum = 0;

	if (len < 1 + FILE_TRAILER)
		return -EBADMSG;
	end = p + len - FILE_TRAILER;
	for (unsigned i = 0; i < FILE_TRAILER; i++)
		sum |= (uint64_t)end[i] << (8 * i);
	if (XXH3_64bits(p, len - FILE_TRAILER) != sum)
		return -EBADMSG;
	if (varint_decode(&p, end, &n) < 0 || n < 2 || n > (uint64_t)(end - p) / FILE_ENTRY_MIN)
		return -EBADMSG;
	for (uint64_t i = 0; i < n; i++) {
		if (end - p < STORE_DIGEST_LEN)
			return -EBADMSG;
		if (entries && i < cap)
			memcpy(entries[i].digest.b, p, STORE_DIGEST_LEN);
		p += STORE_DIGEST_LEN;
		if (varint_decode(&p, end, &size) < 0 || size == 0 || size > STORE_CHUNK_MAX_LIMIT)
			return -EBADMSG;
		if (entries && i < cap) {
			entries[i].offset = off;
			entries[i].size = (uint32_t)size;
		}
		off += size;
	}
	if (p != end)
		return -EBADMSG;
	*ret_n = n;
	*ret_size = off;
	return 0;
}

int store_file_list_check(const void *data, size_t len)
{
	size_t n;
	uint64_t size;

	return list_parse(data, len, NULL, 0, &n, &size);
}

int store_file_list_ref(const store_digest *name, const void *data, size_t len, store_file_ref *ret)
{
	size_t n;
	uint64_t size;
	int r = list_parse(data, len, NULL, 0, &n, &size);

	if (r < 0)
		return r;
	if (n > UINT32_MAX)
		return -EBADMSG;
	*ret = (store_file_ref){ *name, size, (uint32_t)n };
	return 0;
}

int store_file_chunks(store *s, const store_file_ref *f, store_chunk_ref **ret, size_t *ret_n)
{
	_cleanup_(buf_done) buf obj = BUF_INIT;
	_cleanup_free_ store_chunk_ref *c = NULL;
	uint64_t size;
	size_t n;
	int r;

	if (f->nchunks <= 1) {
		if (f->nchunks == 0 ? f->size != 0
				    : f->size == 0 || f->size > STORE_CHUNK_MAX_LIMIT)
			return -EBADMSG;
		if (f->nchunks == 1) {
			c = malloc(sizeof(*c));
			if (!c)
				return -ENOMEM;
			*c = (store_chunk_ref){ f->digest, 0, (uint32_t)f->size };
		}
		*ret = TAKE_PTR(c);
		*ret_n = f->nchunks;
		return 0;
	}
	r = store_object_get(s, STORE_FILE, &f->digest, &obj);
	if (r < 0)
		return r;
	/* Count first, so a lying nchunks in a tree entry cannot make us allocate much. */
	r = list_parse((const uint8_t *)obj.data, obj.len, NULL, 0, &n, &size);
	if (r < 0)
		return r;
	if (n != f->nchunks || size != f->size)
		return -EBADMSG;
	c = calloc(n, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = list_parse((const uint8_t *)obj.data, obj.len, c, n, &n, &size);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	*ret_n = n;
	return 0;
}

static int read_chunks(store *s, const store_chunk_ref *c, size_t n, store_hasher *h,
		       int (*sink)(void *userdata, const void *data, size_t len), void *userdata)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	int r;

	for (size_t i = 0; i < n; i++) {
		buf_reset(&b);
		r = store_object_get(s, STORE_CHUNK, &c[i].digest, &b);
		if (r < 0)
			return r;
		if (b.len != c[i].size)
			return -EBADMSG;
		if (h)
			store_hasher_update(h, b.data, b.len);
		r = sink(userdata, b.data, b.len);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_file_read(store *s, const store_file_ref *f,
		    int (*sink)(void *userdata, const void *data, size_t len), void *userdata)
{
	_cleanup_(store_hasher_freep) store_hasher *h = NULL;
	_cleanup_free_ store_chunk_ref *c = NULL;
	store_digest got;
	size_t n;
	int r;

	r = store_file_chunks(s, f, &c, &n);
	if (r < 0)
		return r;
	/* One chunk: store_object_get() already checked it against f->digest, its own name. */
	if (n != 1) {
		r = store_hasher_new(&h);
		if (r < 0)
			return r;
	}
	r = read_chunks(s, c, n, h, sink, userdata);
	if (r < 0)
		return r;
	if (h) {
		store_hasher_final(h, &got);
		if (!store_digest_eq(&got, &f->digest))
			return -EBADMSG;
	}
	return 0;
}
