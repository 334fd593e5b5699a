/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/store-params.c: the figures behind the store's chunk sizes and zstd level.
 *
 *     store-params [--max-bytes N] [--sample N] [--writer|--writer-only] [--writer-level N] DIR...
 *
 * Loads the regular files under DIR... into memory (hard links once, one file system, at most
 * --max-bytes, default 4 GiB), then for each chunk-size triple:
 *   - chunks every file, alone and then with SHA-256 of every chunk (and of every multi-chunk
 *     file as a whole, as the file writer does): MB/s of thread CPU time;
 *   - deduplicates chunks across all files: object count (chunks + FILE lists), unique bytes;
 *   - compresses every unique chunk at the default level (raw when zstd saves < 1/16, as the
 *     store does): MB/s, stored bytes, and bytes on disk if each object were its own file on a
 *     file system with 4 KiB blocks (16-byte header + payload, rounded up);
 *   - compresses a sample (chunks whose digest's first byte < 256/--sample, default 16) at
 *     levels -1, 1, 2, 3, 6, 9, 19: ratio, compression and decompression MB/s.
 * With --writer, also pushes up to 1 GiB of the files through store_file_writer into a fresh
 * store under $TMPDIR (default /var/tmp) at the default chunk sizes and zstd level (or
 * --writer-level), twice (new, then all duplicates), and reports MB/s of wall and CPU time; the
 * store is removed afterwards. --writer-only skips the parameter tables.
 *
 * MB = 10^6 bytes. Output is Markdown, for docs/PERFORMANCE.md. Never part of `meson test`.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/chunker.h"
#include "store/compress.h"
#include "store/digest.h"
#include "store/store.h"
#include "util/fileio.h"
#include "util/macro.h"

typedef struct file {
	uint64_t off; /* in the arena */
	uint64_t len;
} file;

typedef struct chunk {
	store_digest d;
	uint64_t off;
	uint32_t len;
} chunk;

typedef struct corpus {
	uint8_t *arena;
	uint64_t bytes, max_bytes;
	file *files;
	size_t nfiles, cap;
	/* (dev, ino) of files with several links, to load each once */
	struct {
		dev_t dev;
		ino_t ino;
	} * links;
	size_t nlinks, linkcap;
} corpus;

typedef struct result {
	double cut_mbs, hash_mbs, comp_mbs;
	size_t nchunks, uchunks, nlists, ulists, ufiles;
	uint64_t ubytes, ufile_bytes, stored, disk4k, list_bytes;
} result;

static const store_chunker_params triples[] = {
	{ 8 * 1024, 32 * 1024, 128 * 1024 },
	{ 16 * 1024, 64 * 1024, 256 * 1024 },
	{ 32 * 1024, 128 * 1024, 512 * 1024 },
	{ 64 * 1024, 256 * 1024, 1024 * 1024 },
};
static const int levels[] = { -1, 1, 2, 3, 6, 9, 19 };

static corpus *walk_corpus;

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double wall_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double mbs(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / secs / 1e6 : 0;
}

/* ---- Loading ---- */

static bool seen_link(corpus *c, const struct stat *st)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
			return true;
	if (c->nlinks == c->linkcap) {
		c->linkcap = c->linkcap ? c->linkcap * 2 : 1024;
		c->links = realloc(c->links, c->linkcap * sizeof(*c->links));
		if (!c->links)
			abort();
	}
	c->links[c->nlinks].dev = st->st_dev;
	c->links[c->nlinks++].ino = st->st_ino;
	return false;
}

static int load_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	corpus *c = walk_corpus;
	_cleanup_close_ int fd = -EBADF;

	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (c->bytes + (uint64_t)st->st_size > c->max_bytes)
		return 1; /* full: stop the walk */
	if (st->st_nlink > 1 && seen_link(c, st))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0; /* unreadable: skip */
	if (c->nfiles == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4096;
		c->files = realloc(c->files, c->cap * sizeof(*c->files));
		if (!c->files)
			abort();
	}
	if (st->st_size > 0 && fd_read_exact(fd, c->arena + c->bytes, (size_t)st->st_size) < 0)
		return 0; /* changed under us: skip */
	c->files[c->nfiles++] = (file){ c->bytes, (uint64_t)st->st_size };
	c->bytes += (uint64_t)st->st_size;
	return 0;
}

static int corpus_load(corpus *c, char **dirs, int ndirs)
{
	/* Virtual memory only: pages are touched as files are read. */
	c->arena = malloc(c->max_bytes);
	if (!c->arena)
		return -ENOMEM;
	walk_corpus = c;
	for (int i = 0; i < ndirs; i++)
		if (nftw(dirs[i], load_one, 64, FTW_PHYS | FTW_MOUNT) < 0)
			return negative_errno();
	return 0;
}

/* ---- Chunking, dedup, compression ---- */

static int digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(store_digest));
}

/*
 * Chunks and hashes every file. lists gets one entry per multi-chunk file (its whole digest and
 * its FILE object's size), whole[i] the digest of file i.
 */
static chunk *chunk_all(const corpus *c, const store_chunker_params *p, size_t *ret_n, chunk *lists,
			size_t *ret_nlists, store_digest *whole, result *res)
{
	size_t cap = c->bytes / p->min + c->nfiles + 1, n = 0, nl = 0;
	chunk *ch = malloc(cap * sizeof(*ch));
	double t = cpu_now();

	if (!ch)
		abort();
	for (size_t i = 0; i < c->nfiles; i++) {
		const uint8_t *d = c->arena + c->files[i].off;
		size_t len = c->files[i].len, off = 0, first = n;

		while (off < len) {
			size_t k = store_chunker_cut(p, d + off, len - off, true);
			store_digest_buf(d + off, k, &ch[n].d);
			ch[n].off = c->files[i].off + off;
			ch[n++].len = (uint32_t)k;
			off += k;
		}
		if (n - first > 1) {
			store_digest_buf(d, len, &lists[nl].d);
			lists[nl].len = (uint32_t)(1 + (n - first) * (STORE_DIGEST_LEN + 3) + 8);
			whole[i] = lists[nl++].d;
		} else if (n - first == 1)
			whole[i] = ch[first].d;
		else
			store_digest_buf("", 0, &whole[i]);
	}
	res->hash_mbs = mbs(c->bytes, cpu_now() - t);
	*ret_n = n;
	*ret_nlists = nl;
	return ch;
}

/* The chunker alone (no hashing), over every file. */
static double cut_only(const corpus *c, const store_chunker_params *p)
{
	double t = cpu_now();
	size_t n = 0;

	for (size_t i = 0; i < c->nfiles; i++) {
		const uint8_t *d = c->arena + c->files[i].off;
		for (size_t off = 0, len = c->files[i].len; off < len; n++)
			off += store_chunker_cut(p, d + off, len - off, true);
	}
	if (n == SIZE_MAX)
		abort(); /* keeps the loop from being optimised away */
	return mbs(c->bytes, cpu_now() - t);
}

/*
 * The chunker on one large buffer of pseudo-random bytes (no small files to skip): the figure for
 * its throughput target. The first `min` bytes of every chunk are skipped, not hashed.
 */
static void print_chunker_raw(void)
{
	size_t len = 256u << 20, n = 0;
	uint8_t *d = malloc(len);
	uint64_t x = 1;
	double t;

	if (!d)
		abort();
	for (size_t i = 0; i < len; i++) {
		x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
		d[i] = (uint8_t)(x >> 56);
	}
	t = cpu_now();
	for (size_t off = 0; off < len; n++)
		off += store_chunker_cut(&triples[1], d + off, len - off, true);
	t = cpu_now() - t;
	printf("Chunker alone, 256 MiB of pseudo-random bytes, %u/%u/%u KiB: %.0f MB/s (CPU), %zu "
	       "chunks, mean %.0f bytes.\n\n",
	       triples[1].min / 1024, triples[1].avg / 1024, triples[1].max / 1024, mbs(len, t), n,
	       (double)len / (double)n);
	free(d);
}

static int chunk_cmp(const void *a, const void *b)
{
	return digest_cmp(&((const chunk *)a)->d, &((const chunk *)b)->d);
}

/* Sorts by digest and drops duplicates; returns the unique count. */
static size_t chunk_unique(chunk *ch, size_t n)
{
	size_t u = 0;

	qsort(ch, n, sizeof(*ch), chunk_cmp);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || !store_digest_eq(&ch[u - 1].d, &ch[i].d))
			ch[u++] = ch[i];
	return u;
}

static uint64_t disk_4k(uint64_t object_file_size)
{
	return (object_file_size + 4095) / 4096 * 4096;
}

/* Stored payload size of one object, with the store's raw-vs-zstd rule. */
static uint64_t stored_size(const uint8_t *p, size_t len, int level, buf *z)
{
	buf_reset(z);
	if (store_compress(p, len, level, z) < 0)
		abort();
	return z->len <= len - len / 16 ? z->len : len;
}

static void compress_all(const corpus *c, const chunk *u, size_t n, result *res)
{
	_cleanup_(buf_done) buf z = BUF_INIT;
	double t = cpu_now();

	for (size_t i = 0; i < n; i++) {
		uint64_t s =
			stored_size(c->arena + u[i].off, u[i].len, STORE_DEFAULT_ZSTD_LEVEL, &z);
		res->stored += s;
		res->disk4k += disk_4k(16 + s);
		res->ubytes += u[i].len;
	}
	res->comp_mbs = mbs(res->ubytes, cpu_now() - t);
}

typedef struct level_result {
	uint64_t in, out;
	double mbs, dmbs; /* compression MB/s of input, decompression MB/s of output */
} level_result;

/* Decompresses what stored_size() left in z (if zstd won), for the read-side figure. */
static double time_decompress(const buf *z, size_t len, buf *out)
{
	double t;

	buf_reset(out);
	t = cpu_now();
	if (store_decompress(z->data, z->len, len, out) < 0)
		abort();
	return cpu_now() - t;
}

/* Levels on a sample of the unique chunks (a digest prefix: uniform, deterministic). */
static void level_sweep(const corpus *c, const chunk *u, size_t n, unsigned sample,
			level_result out[static ELEMENTSOF(levels)])
{
	_cleanup_(buf_done) buf z = BUF_INIT, plain = BUF_INIT;

	for (size_t l = 0; l < ELEMENTSOF(levels); l++) {
		level_result r = {};
		double tc = 0, td = 0, t;
		uint64_t dbytes = 0;

		for (size_t i = 0; i < n; i++) {
			uint64_t s;
			if (u[i].d.b[0] >= 256 / sample)
				continue;
			t = cpu_now();
			s = stored_size(c->arena + u[i].off, u[i].len, levels[l], &z);
			tc += cpu_now() - t;
			r.in += u[i].len;
			r.out += s;
			if (s < u[i].len) {
				td += time_decompress(&z, u[i].len, &plain);
				dbytes += u[i].len;
			}
		}
		r.mbs = mbs(r.in, tc);
		r.dmbs = mbs(dbytes, td);
		out[l] = r;
	}
}

static void run_triple(const corpus *c, const store_chunker_params *p, unsigned sample,
		       chunk *lists, store_digest *whole, result *res,
		       level_result lv[static ELEMENTSOF(levels)])
{
	chunk *ch;

	*res = (result){};
	res->cut_mbs = cut_only(c, p);
	ch = chunk_all(c, p, &res->nchunks, lists, &res->nlists, whole, res);
	res->uchunks = chunk_unique(ch, res->nchunks);
	res->ulists = chunk_unique(lists, res->nlists);
	compress_all(c, ch, res->uchunks, res);
	/* FILE lists are ~35 random bytes per chunk (sizes ~3-byte varints): stored raw. */
	for (size_t i = 0; i < res->ulists; i++) {
		res->list_bytes += lists[i].len;
		res->disk4k += disk_4k(16 + lists[i].len);
	}
	level_sweep(c, ch, res->uchunks, sample, lv);
	free(ch);
}

/* Whole-file dedup only (what a store without chunking would keep), for comparison. */
static uint64_t whole_file_unique_bytes(const corpus *c, store_digest *whole, size_t *ret_n)
{
	struct fd_ {
		store_digest d;
		uint64_t len;
	} *v = malloc(c->nfiles * sizeof(*v));
	uint64_t bytes = 0;
	size_t u = 0;

	if (!v)
		abort();
	for (size_t i = 0; i < c->nfiles; i++)
		v[i] = (struct fd_){ whole[i], c->files[i].len };
	qsort(v, c->nfiles, sizeof(*v), digest_cmp);
	for (size_t i = 0; i < c->nfiles; i++)
		if (i == 0 || !store_digest_eq(&v[i - 1].d, &v[i].d)) {
			bytes += v[i].len;
			u++;
		}
	free(v);
	*ret_n = u;
	return bytes;
}

/* ---- Reports ---- */

static void print_corpus(const corpus *c)
{
	size_t small = 0, one = 0;
	uint64_t small_bytes = 0;

	for (size_t i = 0; i < c->nfiles; i++) {
		if (c->files[i].len < 4096) {
			small++;
			small_bytes += c->files[i].len;
		}
		if (c->files[i].len <= STORE_DEFAULT_CHUNK_MIN)
			one++;
	}
	printf("Corpus: %zu files, %.1f MB; %zu files (%.1f%%) under 4 KiB holding %.2f%% of the "
	       "bytes; %zu files (%.1f%%) no larger than 16 KiB.\n\n",
	       c->nfiles, (double)c->bytes / 1e6, small, 100.0 * (double)small / (double)c->nfiles,
	       100.0 * (double)small_bytes / (double)c->bytes, one,
	       100.0 * (double)one / (double)c->nfiles);
}

static void print_triples(const corpus *c, const result *res, uint64_t wf_bytes, size_t wf_n)
{
	printf("Whole-file dedup only: %zu unique files, %.1f MB.\n\n", wf_n,
	       (double)wf_bytes / 1e6);
	printf("| min/avg/max KiB | chunk MB/s | chunk+SHA-256 MB/s | objects (chunks + lists) | "
	       "mean chunk | unique MB | zstd-%d MB/s | stored MB | on disk, 4 KiB blocks, MB | "
	       "disk/stored |\n",
	       STORE_DEFAULT_ZSTD_LEVEL);
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t t = 0; t < ELEMENTSOF(triples); t++) {
		const result *r = &res[t];
		uint64_t stored = r->stored + r->list_bytes;
		printf("| %u/%u/%u | %.0f | %.0f | %zu (%zu + %zu) | %.0f | %.1f | %.0f | %.1f | %.1f | "
		       "%.2f |\n",
		       triples[t].min / 1024, triples[t].avg / 1024, triples[t].max / 1024,
		       r->cut_mbs, r->hash_mbs, r->uchunks + r->ulists, r->uchunks, r->ulists,
		       (double)r->ubytes / (double)(r->uchunks ? r->uchunks : 1),
		       (double)r->ubytes / 1e6, r->comp_mbs, (double)stored / 1e6,
		       (double)r->disk4k / 1e6, (double)r->disk4k / (double)(stored ? stored : 1));
	}
	printf("\n");
}

static void print_levels(const level_result lv[][ELEMENTSOF(levels)], unsigned sample)
{
	printf("zstd levels on a sample (1/%u of the unique chunks): stored/raw ratio, compression "
	       "MB/s, decompression MB/s (CPU time).\n\n| min/avg/max KiB |",
	       sample);
	for (size_t l = 0; l < ELEMENTSOF(levels); l++)
		printf(" level %d |", levels[l]);
	printf("\n|---|");
	for (size_t l = 0; l < ELEMENTSOF(levels); l++)
		printf("---|");
	printf("\n");
	for (size_t t = 0; t < ELEMENTSOF(triples); t++) {
		printf("| %u/%u/%u |", triples[t].min / 1024, triples[t].avg / 1024,
		       triples[t].max / 1024);
		for (size_t l = 0; l < ELEMENTSOF(levels); l++)
			printf(" %.3f, %.0f, %.0f |",
			       (double)lv[t][l].out / (double)(lv[t][l].in ? lv[t][l].in : 1),
			       lv[t][l].mbs, lv[t][l].dmbs);
		printf("\n");
	}
	printf("\n");
}

/* ---- The file writer, end to end into a real store ---- */

typedef struct timing {
	double wall, cpu;
} timing;

static void timing_add(timing *t, const timing *since)
{
	t->wall += wall_now() - since->wall;
	t->cpu += cpu_now() - since->cpu;
}

/*
 * Feeds the files to the writer in 1 MiB pieces staged in a buffer of their own, as a tar reader
 * hands them over (so the data arrives warm in cache, as it does from libarchive). Only the
 * writer's calls are timed.
 */
static int writer_pass(store *s, const corpus *c, size_t nfiles, uint8_t *stage, timing *ret)
{
	_cleanup_(store_file_writer_freep) store_file_writer *w = NULL;
	timing t = {}, since;
	int r;

	r = store_file_writer_new(s, &w);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nfiles; i++) {
		const uint8_t *d = c->arena + c->files[i].off;
		for (uint64_t off = 0; off < c->files[i].len; off += 1u << 20) {
			size_t n = MIN(c->files[i].len - off, 1u << 20);
			memcpy(stage, d + off, n);
			since = (timing){ wall_now(), cpu_now() };
			r = store_file_writer_write(w, stage, n);
			timing_add(&t, &since);
			if (r < 0)
				return r;
		}
		since = (timing){ wall_now(), cpu_now() };
		r = store_file_writer_finish(w, NULL);
		timing_add(&t, &since);
		if (r < 0)
			return r;
	}
	*ret = t;
	return 0;
}

static uint64_t disk_usage_total;

static int disk_usage_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_F)
		disk_usage_total += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* A store whose config asks for `level` (the store reads an existing config as it is). */
static int writer_store_open(const char *root, int level, store **ret)
{
	_cleanup_free_ char *dir = path_join(root, "store");
	_cleanup_(buf_done) buf cfg = BUF_INIT;
	int r;

	if (!dir)
		return -ENOMEM;
	r = mkdir_p(AT_FDCWD, dir, 0755);
	if (r >= 0)
		r = buf_printf(
			&cfg,
			"format 1\nchunker fastcdc-v1\nchunk_min %u\nchunk_avg %u\nchunk_max %u\n"
			"zstd_level %d\n",
			STORE_DEFAULT_CHUNK_MIN, STORE_DEFAULT_CHUNK_AVG, STORE_DEFAULT_CHUNK_MAX,
			level);
	if (r >= 0) {
		_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = fd < 0 ? -errno : write_file_atomic(fd, "config", cfg.data, cfg.len, 0644);
	}
	if (r < 0)
		return r;
	return store_open(root, STORE_OPEN_CREATE, ret, NULL);
}

static int writer_bench(const corpus *c, int level)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *root = NULL, *objects = NULL;
	_cleanup_(store_freep) store *s = NULL;
	_cleanup_free_ uint8_t *stage = malloc(1u << 20);
	size_t nfiles = 0;
	uint64_t total = 0;
	int r;

	if (!stage)
		return -ENOMEM;

	for (; nfiles < c->nfiles && total < (1ull << 30); nfiles++)
		total += c->files[nfiles].len;
	if (asprintf(&root, "%s/berth-store-params-XXXXXX", tmp && *tmp ? tmp : "/var/tmp") < 0 ||
	    !mkdtemp(root))
		return -errno;
	r = writer_store_open(root, level, &s);
	if (r >= 0)
		r = store_write_begin(s);
	printf("File writer (store_file_writer, %u/%u/%u KiB, zstd-%d, 1 MiB writes), %zu files, "
	       "%.1f MB, store in %s:\n\n| pass | wall MB/s | CPU MB/s |\n|---|---|---|\n",
	       STORE_DEFAULT_CHUNK_MIN / 1024, STORE_DEFAULT_CHUNK_AVG / 1024,
	       STORE_DEFAULT_CHUNK_MAX / 1024, level, nfiles, (double)total / 1e6, root);
	for (int pass = 0; r >= 0 && pass < 2; pass++) {
		timing t;
		r = writer_pass(s, c, nfiles, stage, &t);
		if (r >= 0)
			printf("| %s | %.0f | %.0f |\n",
			       pass ? "again (all duplicates)" : "new store", mbs(total, t.wall),
			       mbs(total, t.cpu));
	}
	if (r >= 0) {
		double w = wall_now();
		r = store_sync(s);
		printf("\nstore_sync(): %.2f s. ", wall_now() - w);
		store_write_end(s);
	}
	objects = path_join(root, "store/objects");
	if (r >= 0 && objects && nftw(objects, disk_usage_cb, 64, FTW_PHYS) == 0)
		printf("Objects on disk (st_blocks): %.1f MB.\n\n", (double)disk_usage_total / 1e6);
	rm_rf(AT_FDCWD, root);
	return r;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"Usage: store-params [--max-bytes N] [--sample N] [--writer|--writer-only]\n"
		"                    [--writer-level N] DIR...\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-bytes", required_argument, NULL, 'm' },
		{ "sample", required_argument, NULL, 's' },
		{ "writer", no_argument, NULL, 'w' },
		{ "writer-only", no_argument, NULL, 'W' },
		{ "writer-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	corpus c = { .max_bytes = 4ull << 30 };
	result res[ELEMENTSOF(triples)];
	level_result lv[ELEMENTSOF(triples)][ELEMENTSOF(levels)];
	chunk *lists;
	store_digest *whole;
	unsigned sample = 16;
	bool writer = false, params = true;
	int writer_level = STORE_DEFAULT_ZSTD_LEVEL;
	uint64_t wf_bytes;
	size_t wf_n;
	int o, r;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (o == 'm')
			c.max_bytes = strtoull(optarg, NULL, 0);
		else if (o == 'l')
			writer_level = atoi(optarg);
		else if (o == 's')
			sample = (unsigned)strtoul(optarg, NULL, 0);
		else if (o == 'w' || o == 'W') {
			writer = true;
			params = o == 'w';
		} else {
			usage();
			return o == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc || sample == 0 || sample > 32) {
		usage();
		return 2;
	}
	r = corpus_load(&c, argv + optind, argc - optind);
	if (r < 0 || c.nfiles == 0) {
		fprintf(stderr, "store-params: failed to load files: %s\n",
			strerror(r < 0 ? -r : ENOENT));
		return 1;
	}
	print_corpus(&c);
	print_chunker_raw();
	lists = malloc(c.nfiles * sizeof(*lists));
	whole = malloc(c.nfiles * sizeof(*whole));
	if (!lists || !whole)
		return 1;
	if (params) {
		/* Warm-up (page tables, CPU frequency), so that the first triple is not penalised. */
		free(chunk_all(&c, &triples[1], &wf_n, lists, &wf_n, whole, &res[0]));
		for (size_t t = 0; t < ELEMENTSOF(triples); t++) {
			run_triple(&c, &triples[t], sample, lists, whole, &res[t], lv[t]);
			fprintf(stderr, "store-params: %u/%u/%u KiB done\n", triples[t].min / 1024,
				triples[t].avg / 1024, triples[t].max / 1024);
		}
		wf_bytes = whole_file_unique_bytes(&c, whole, &wf_n);
		print_triples(&c, res, wf_bytes, wf_n);
		print_levels(lv, sample);
	}
	if (writer) {
		r = writer_bench(&c, writer_level);
		if (r < 0) {
			fprintf(stderr, "store-params: writer benchmark failed: %s\n",
				strerror(-r));
			return 1;
		}
	}
	free(lists);
	free(whole);
	free(c.files);
	free(c.links);
	free(c.arena);
	return 0;
}
