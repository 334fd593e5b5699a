/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/pgzip.c: parallel gzip. See fetch/pgzip.h.
 *
 * Blocks live in a ring of slots, block number k in slot k % n. The caller's thread fills the
 * slot of the next block, queues it, and writes finished blocks out in order; workers take queued
 * slots. A slot is reused only after its block was written, so the ring bounds memory (about
 * 2 MiB a slot) and makes a fast producer wait for slow workers, and the writer for both.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "fetch/pgzip.h"
#include "util/fileio.h"
#include "util/macro.h"

#define BLOCK	    (1u << 20)
#define DICT	    32768u
#define MAX_THREADS 32u

typedef enum slot_state {
	SLOT_FREE,
	SLOT_QUEUED,
	SLOT_BUSY,
	SLOT_DONE,
} slot_state;

typedef struct slot {
	slot_state state;
	uint64_t seq;
	bool last;
	uint8_t *in; /* BLOCK bytes */
	size_t in_len;
	uint8_t dict[DICT]; /* the input just before this block */
	size_t dict_len;
	uint8_t *out;
	size_t out_len, out_cap;
	uLong crc;
	int error;
} slot;

struct fetch_pgzip {
	int fd;
	int level;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a slot was queued, or stop */
	pthread_cond_t done; /* a slot is done */
	slot *slots;
	size_t n_slots;
	uint64_t next_seq;   /* the block being filled */
	uint64_t next_write; /* the next block to write out */
	pthread_t threads[MAX_THREADS];
	unsigned n_threads;
	bool stop;
	bool filling;	    /* the slot of next_seq is taken by the caller */
	uint8_t tail[DICT]; /* the last input bytes seen, for the next block's dictionary */
	size_t tail_len;
	uLong crc;
	uint64_t in_total;
	store_hasher *hasher;
	uint64_t out_total;
	int error;
};

static int deflate_block(z_stream *z, slot *s)
{
	int zr;

	if (deflateReset(z) != Z_OK)
		return -EIO;
	if (s->dict_len && deflateSetDictionary(z, s->dict, (uInt)s->dict_len) != Z_OK)
		return -EIO;
	z->next_in = s->in;
	z->avail_in = (uInt)s->in_len;
	z->next_out = s->out;
	z->avail_out = (uInt)s->out_cap;
	/* A sync flush ends on a byte boundary without ending the stream: blocks concatenate. */
	zr = deflate(z, s->last ? Z_FINISH : Z_SYNC_FLUSH);
	if (s->last ? zr != Z_STREAM_END : (zr != Z_OK || z->avail_in || !z->avail_out))
		return -EIO;
	s->out_len = s->out_cap - z->avail_out;
	s->crc = crc32(0, s->in, (uInt)s->in_len);
	return 0;
}

static slot *take_queued(fetch_pgzip *g)
{
	slot *best = NULL;

	for (size_t i = 0; i < g->n_slots; i++)
		if (g->slots[i].state == SLOT_QUEUED && (!best || g->slots[i].seq < best->seq))
			best = &g->slots[i];
	return best;
}

static void *worker(void *userdata)
{
	fetch_pgzip *g = userdata;
	z_stream z = {};
	bool ok = deflateInit2(&z, g->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		slot *s = NULL;
		while (!g->stop && !(s = take_queued(g)))
			pthread_cond_wait(&g->work, &g->lock);
		if (g->stop)
			break;
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&g->lock);
		s->error = ok ? deflate_block(&z, s) : -ENOMEM;
		pthread_mutex_lock(&g->lock);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&g->done);
	}
	pthread_mutex_unlock(&g->lock);
	if (ok)
		deflateEnd(&z);
	return NULL;
}

static int emit(fetch_pgzip *g, const void *data, size_t len)
{
	int r = fd_write_all(g->fd, data, len);

	if (r < 0)
		return r;
	store_hasher_update(g->hasher, data, len);
	g->out_total += len;
	return 0;
}

/* Writes out the next block in order, waiting for it if `wait`. 1 if one was written. */
static int write_next(fetch_pgzip *g, bool wait)
{
	slot *s = &g->slots[g->next_write % g->n_slots];
	int r;

	pthread_mutex_lock(&g->lock);
	while (wait && g->next_write < g->next_seq && s->state != SLOT_DONE)
		pthread_cond_wait(&g->done, &g->lock);
	r = g->next_write < g->next_seq && s->state == SLOT_DONE;
	pthread_mutex_unlock(&g->lock);
	if (!r)
		return 0;
	if (s->error < 0)
		return s->error;
	if ((r = emit(g, s->out, s->out_len)) < 0)
		return r;
	g->crc = crc32_combine(g->crc, s->crc, (z_off_t)s->in_len);
	pthread_mutex_lock(&g->lock);
	s->state = SLOT_FREE;
	g->next_write++;
	pthread_mutex_unlock(&g->lock);
	return 1;
}

static bool is_free(fetch_pgzip *g, const slot *s)
{
	bool f;

	pthread_mutex_lock(&g->lock);
	f = s->state == SLOT_FREE;
	pthread_mutex_unlock(&g->lock);
	return f;
}

/* The slot for the block being filled: free once its previous block is written. */
static int current(fetch_pgzip *g, slot **ret)
{
	slot *s = &g->slots[g->next_seq % g->n_slots];
	int r;

	if (!g->filling) {
		while (!is_free(g, s))
			if ((r = write_next(g, true)) < 0)
				return r;
		s->in_len = 0;
		s->seq = g->next_seq;
		g->filling = true;
	}
	*ret = s;
	return 0;
}

static int submit(fetch_pgzip *g, slot *s, bool last)
{
	size_t keep = MIN(s->in_len, (size_t)DICT);

	memcpy(s->dict, g->tail, g->tail_len);
	s->dict_len = g->tail_len;
	/* The next block's dictionary: the last 32 KiB of input (blocks are >= 32 KiB but the last). */
	if (keep == DICT) {
		memcpy(g->tail, s->in + s->in_len - DICT, DICT);
		g->tail_len = DICT;
	}
	s->last = last;
	g->in_total += s->in_len;
	pthread_mutex_lock(&g->lock);
	s->state = SLOT_QUEUED;
	g->next_seq++;
	g->filling = false;
	pthread_cond_signal(&g->work);
	pthread_mutex_unlock(&g->lock);
	/* Write what is ready without waiting, so output keeps pace. */
	for (int r; (r = write_next(g, false)) != 0;)
		if (r < 0)
			return r;
	return 0;
}

int fetch_pgzip_write(void *userdata, const void *data, size_t len)
{
	fetch_pgzip *g = userdata;
	const uint8_t *p = data;
	int r;

	if (g->error < 0)
		return g->error;
	while (len > 0) {
		slot *s;
		size_t n;
		if ((r = current(g, &s)) < 0)
			return g->error = r;
		n = MIN(len, (size_t)BLOCK - s->in_len);
		memcpy(s->in + s->in_len, p, n);
		s->in_len += n;
		p += n;
		len -= n;
		if (s->in_len == BLOCK && (r = submit(g, s, false)) < 0)
			return g->error = r;
	}
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int fetch_pgzip_finish(fetch_pgzip *g, store_digest *ret_digest, uint64_t *ret_size)
{
	uint8_t trailer[8];
	slot *s;
	int r;

	if (g->error < 0)
		return g->error;
	if ((r = current(g, &s)) < 0 || (r = submit(g, s, true)) < 0)
		return g->error = r;
	while (g->next_write < g->next_seq)
		if ((r = write_next(g, true)) < 0)
			return g->error = r;
	put_le32(trailer, (uint32_t)g->crc);
	put_le32(trailer + 4, (uint32_t)g->in_total); /* ISIZE: the length mod 2^32 */
	if ((r = emit(g, trailer, sizeof(trailer))) < 0)
		return g->error = r;
	store_hasher_final(g->hasher, ret_digest);
	*ret_size = g->out_total;
	g->error = -EALREADY;
	return 0;
}

static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)MIN(n, (long)MAX_THREADS);
}

static int slots_new(fetch_pgzip *g)
{
	uLong bound = deflateBound(NULL, BLOCK) + 64;

	g->n_slots = 2 * (size_t)g->n_threads + 2;
	if (!(g->slots = calloc(g->n_slots, sizeof(slot))))
		return -ENOMEM;
	for (size_t i = 0; i < g->n_slots; i++) {
		g->slots[i].in = malloc(BLOCK);
		g->slots[i].out = malloc(bound);
		g->slots[i].out_cap = bound;
		if (!g->slots[i].in || !g->slots[i].out)
			return -ENOMEM;
	}
	return 0;
}

int fetch_pgzip_new(int fd, int level, unsigned threads, fetch_pgzip **ret)
{
	/* gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS unix */
	static const uint8_t header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	fetch_pgzip *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->fd = fd;
	g->level = level;
	g->crc = crc32(0, NULL, 0);
	g->n_threads = threads ? MIN(threads, MAX_THREADS) : default_threads();
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->work, NULL);
	pthread_cond_init(&g->done, NULL);
	if ((r = store_hasher_new(&g->hasher)) < 0 || (r = slots_new(g)) < 0 ||
	    (r = emit(g, header, sizeof(header))) < 0) {
		g->n_threads = 0;
		fetch_pgzip_free(g);
		return r;
	}
	for (unsigned i = 0; i < g->n_threads; i++)
		if ((r = -pthread_create(&g->threads[i], NULL, worker, g)) < 0) {
			g->n_threads = i;
			fetch_pgzip_free(g);
			return r;
		}
	*ret = g;
	return 0;
}

fetch_pgzip *fetch_pgzip_free(fetch_pgzip *g)
{
	if (!g)
		return NULL;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_broadcast(&g->work);
	pthread_mutex_unlock(&g->lock);
	for (unsigned i = 0; i < g->n_threads; i++)
		pthread_join(g->threads[i], NULL);
	for (size_t i = 0; g->slots && i < g->n_slots; i++) {
		free(g->slots[i].in);
		free(g->slots[i].out);
	}
	free(g->slots);
	store_hasher_free(g->hasher);
	pthread_cond_destroy(&g->work);
	pthread_cond_destroy(&g->done);
	pthread_mutex_destroy(&g->lock);
	free(g);
	return NULL;
}
