/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/pack.c: a layer in the store -> its tar (libarchive writes the canonical form).
 *
 * Two ways, both deterministic:
 * - replay: the layer came in as a tar and has a STORE_SPLIT (fetch/split.h): skeleton bytes and
 *   file contents are concatenated back into the original tar, and its SHA-256 is checked against
 *   the DiffID at the end (the bytes have gone to the sink by then, so the caller must discard
 *   them on error; an error is what a damaged store deserves);
 * - canonical: a PAX tar written by libarchive's pax writer: ustar headers, with PAX records only
 *   where ustar cannot say it (long or non-ASCII names, big numbers, xattrs, sub-second mtimes;
 *   the "restricted" variant would drop sub-second mtimes). Names under a pinned locale
 *   (fetch/locale-pin.h).
 *   Entries in tree order, so parents come before children; names relative without "./" (the
 *   root is "./"), directories with a trailing '/'; hard links after every other entry, since a
 *   tar reader needs a link's target before the link and tree order does not promise that;
 *   whiteouts as empty regular files ".wh.NAME", opaque directories followed by an empty
 *   ".wh..wh..opq" (the OCI forms); no uname/gname, atime or ctime, so the bytes depend on the
 *   tree alone. Socket entries are left out: tar has no type for them (Docker drops them too).
 *   Unpacking a canonical tar gives the same tree back, except that atimes come back equal to
 *   mtimes.
 *
 * Compression for push and save: gzip (zlib, level 6, header with mtime 0 and no name, so the
 * same tar always gives the same blob) or zstd (level 3, one thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>
#include <zstd.h>

#include "fetch/locale-pin.h"
#include "fetch/pack.h"
#include "fetch/split.h"
#include "store/tree.h"
#include "util/fileio.h"
#include "util/macro.h"

#define TAR_RECORD 10240
#define WH_PREFIX  ".wh."
#define WH_OPAQUE  ".wh..wh..opq"

static const uint8_t zeros64k[65536];

/* Where tar bytes go: the caller's sink, hashed and counted on the way. */
typedef struct tar_out {
	fetch_sink_fn sink;
	void *userdata;
	store_hasher *hash;
	uint64_t size;
} tar_out;

static int out_write(void *userdata, const void *data, size_t len)
{
	tar_out *o = userdata;

	store_hasher_update(o->hash, data, len);
	o->size += len;
	return o->sink(o->userdata, data, len);
}

/* ---- Replay of a split ---- */

/* The chunk list of the file last read by range, and its last chunk. */
typedef struct range_reader {
	uint64_t entry;
	store_chunk_ref *chunks;
	size_t n, cur;
	buf data; /* content of chunks[cur], if cur < n */
} range_reader;

static void range_reader_done(range_reader *rr)
{
	free(rr->chunks);
	buf_done(&rr->data);
}

static int range_chunk(store *s, range_reader *rr, size_t i)
{
	int r;

	if (rr->cur == i)
		return 0;
	rr->cur = rr->n;
	buf_reset(&rr->data);
	r = store_object_get(s, STORE_CHUNK, &rr->chunks[i].digest, &rr->data);
	if (r < 0)
		return r;
	if (rr->data.len != rr->chunks[i].size)
		return -EBADMSG;
	rr->cur = i;
	return 0;
}

/* Writes bytes [off, off+len) of entry idx's content: sparse files are split in such pieces. */
static int write_range(store *s, range_reader *rr, uint64_t idx, const store_entry *e, uint64_t off,
		       uint64_t len, tar_out *o)
{
	size_t i = 0;
	int r;

	if (!rr->chunks || rr->entry != idx) {
		free(rr->chunks);
		rr->chunks = NULL;
		r = store_file_chunks(s, &e->content, &rr->chunks, &rr->n);
		if (r < 0)
			return r;
		rr->entry = idx;
		rr->cur = rr->n;
	}
	while (len > 0) {
		while (i < rr->n && rr->chunks[i].offset + rr->chunks[i].size <= off)
			i++;
		if (i >= rr->n || rr->chunks[i].offset > off)
			return -EBADMSG;
		r = range_chunk(s, rr, i);
		if (r < 0)
			return r;
		uint64_t in = off - rr->chunks[i].offset;
		uint64_t k = MIN(len, rr->chunks[i].size - in);
		r = out_write(o, rr->data.data + in, (size_t)k);
		if (r < 0)
			return r;
		off += k;
		len -= k;
	}
	return 0;
}

static int write_zero_run(tar_out *o, uint64_t n)
{
	while (n > 0) {
		size_t k = (size_t)MIN(n, (uint64_t)sizeof(zeros64k));
		int r = out_write(o, zeros64k, k);
		if (r < 0)
			return r;
		n -= k;
	}
	return 0;
}

static int replay_record(store *s, const store_tree *t, range_reader *rr,
			 const fetch_split_record *rec, tar_out *o)
{
	const store_entry *e;

	switch (rec->kind) {
	case FETCH_SPLIT_LITERAL:
		return out_write(o, rec->data, (size_t)rec->len);
	case FETCH_SPLIT_ZEROS:
		return write_zero_run(o, rec->len);
	default:
		if (rec->entry >= store_tree_count(t))
			return -EBADMSG;
		e = store_tree_entry(t, (size_t)rec->entry);
		if (e->type != STORE_ENTRY_REG || rec->offset + rec->len > e->content.size)
			return -EBADMSG;
		if (rec->offset == 0 && rec->len == e->content.size)
			return store_file_read(s, &e->content, out_write, o);
		return write_range(s, rr, rec->entry, e, rec->offset, rec->len, o);
	}
}

static int replay(store *s, const store_layer *layer, tar_out *o, berth_error *reterr)
{
	_cleanup_(buf_done) buf obj = BUF_INIT;
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	_cleanup_(range_reader_done) range_reader rr = {};
	fetch_split_reader rd;
	fetch_split_record rec;
	int r;

	r = store_object_get(s, STORE_SPLIT, &layer->split, &obj);
	if (r < 0)
		return berth_error_set(reterr, r, "reading the layer's split object failed: %s",
				       strerror(-r));
	if (fetch_split_reader_init(&rd, obj.data, obj.len) < 0 ||
	    !store_digest_eq(&rd.tree, &layer->tree) ||
	    !store_digest_eq(&rd.diff_id, &layer->diff_id) || rd.tar_size != layer->tar_size)
		return berth_error_set(
			reterr, -EBADMSG,
			"the layer's split object is damaged or belongs to another layer");
	r = store_tree_load(s, &layer->tree, &t, reterr);
	if (r < 0)
		return r;
	while ((r = fetch_split_reader_next(&rd, &rec)) > 0) {
		r = replay_record(s, t, &rr, &rec, o);
		if (r < 0)
			return berth_error_set(reterr, r, "rebuilding the layer's tar failed: %s",
					       strerror(-r));
	}
	return r;
}

/* ---- Canonical tar ---- */

typedef struct canon {
	store *s;
	struct archive *a;
	struct archive_entry *e;
	tar_out *o;
	int error; /* from the sink, through libarchive */
	berth_error *reterr;
} canon;

static la_ssize_t canon_write_cb(struct archive *a, void *userdata, const void *data, size_t len)
{
	canon *c = userdata;
	int r = out_write(c->o, data, len);

	if (r < 0) {
		if (!c->error)
			c->error = r;
		archive_set_error(a, -r, "writing the tar failed");
		return -1;
	}
	return (la_ssize_t)len;
}

static int canon_failure(canon *c, const char *path)
{
	const char *msg = archive_error_string(c->a);

	if (c->error)
		return c->error;
	return berth_error_set(c->reterr, -EIO, "writing tar entry '%s' failed: %s", path,
			       msg ? msg : "unknown error");
}

static int data_sink(void *userdata, const void *data, size_t len)
{
	canon *c = userdata;
	la_ssize_t n = archive_write_data(c->a, data, len);

	if (n < 0 || (size_t)n != len)
		return c->error ? c->error : -EIO;
	return 0;
}

/* The tar name of an entry: "./" for the root, "dir/" for directories, ".wh." for whiteouts. */
static char *tar_name(const store_entry *se)
{
	const char *slash = strrchr(se->path, '/');
	char *n = NULL;
	int k;

	if (se->path[0] == '\0')
		return strdup("./");
	if (se->type == STORE_ENTRY_DIR)
		k = asprintf(&n, "%s/", se->path);
	else if (se->type == STORE_ENTRY_WHITEOUT)
		k = asprintf(&n, "%.*s" WH_PREFIX "%s", slash ? (int)(slash - se->path + 1) : 0,
			     se->path, slash ? slash + 1 : se->path);
	else
		return strdup(se->path);
	return k < 0 ? NULL : n;
}

static mode_t tar_filetype(uint8_t type)
{
	switch (type) {
	case STORE_ENTRY_DIR:
		return AE_IFDIR;
	case STORE_ENTRY_SYMLINK:
		return AE_IFLNK;
	case STORE_ENTRY_CHR:
		return AE_IFCHR;
	case STORE_ENTRY_BLK:
		return AE_IFBLK;
	case STORE_ENTRY_FIFO:
		return AE_IFIFO;
	default: /* REG, HARDLINK, WHITEOUT */
		return AE_IFREG;
	}
}

static void set_times(struct archive_entry *e, int64_t ns)
{
	int64_t sec = ns / 1000000000, nsec = ns % 1000000000;

	if (nsec < 0) {
		sec--;
		nsec += 1000000000;
	}
	archive_entry_set_mtime(e, sec, nsec);
}

static void fill_entry(struct archive_entry *e, const store_entry *se)
{
	archive_entry_set_mode(e, tar_filetype(se->type) | (se->mode & 07777));
	archive_entry_set_uid(e, se->uid);
	archive_entry_set_gid(e, se->gid);
	set_times(e, se->mtime_ns);
	archive_entry_set_size(e, se->type == STORE_ENTRY_REG ? (la_int64_t)se->content.size : 0);
	if (se->type == STORE_ENTRY_SYMLINK)
		archive_entry_copy_symlink(e, se->link);
	else if (se->type == STORE_ENTRY_HARDLINK)
		archive_entry_copy_hardlink(e, se->link);
	else if (se->type == STORE_ENTRY_CHR || se->type == STORE_ENTRY_BLK) {
		archive_entry_set_rdevmajor(e, major(se->rdev));
		archive_entry_set_rdevminor(e, minor(se->rdev));
	}
	for (size_t i = 0; i < se->n_xattrs; i++)
		archive_entry_xattr_add_entry(e, se->xattrs[i].name, se->xattrs[i].value,
					      se->xattrs[i].len);
}

static int write_header(canon *c, const char *name)
{
	archive_entry_copy_pathname(c->e, name);
	/* WARN: a name that is not valid in the locale's charset, written as binary. */
	if (archive_write_header(c->a, c->e) < ARCHIVE_WARN)
		return canon_failure(c, name);
	return 0;
}

static int write_opaque_marker(canon *c, const store_entry *dir)
{
	_cleanup_free_ char *name = NULL;

	if (asprintf(&name, "%s%s" WH_OPAQUE, dir->path, dir->path[0] ? "/" : "") < 0)
		return -ENOMEM;
	archive_entry_clear(c->e);
	archive_entry_set_mode(c->e, AE_IFREG | 0644);
	set_times(c->e, dir->mtime_ns);
	archive_entry_set_size(c->e, 0);
	return write_header(c, name);
}

static int write_entry(canon *c, const store_entry *se)
{
	_cleanup_free_ char *name = tar_name(se);
	int r;

	if (!name)
		return -ENOMEM;
	archive_entry_clear(c->e);
	fill_entry(c->e, se);
	r = write_header(c, name);
	if (r < 0)
		return r;
	if (se->type == STORE_ENTRY_REG && se->content.size > 0) {
		r = store_file_read(c->s, &se->content, data_sink, c);
		if (r < 0)
			return berth_error_set(c->reterr, r,
					       "writing the content of '%s' failed: %s", se->path,
					       strerror(-r));
	}
	if (se->flags & STORE_ENTRY_OPAQUE)
		return write_opaque_marker(c, se);
	return 0;
}

static int write_entries(canon *c, const store_tree *t)
{
	size_t n = store_tree_count(t);
	int r;

	/* Two passes: every hard link after every possible target. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			const store_entry *se = store_tree_entry(t, i);
			if (se->type == STORE_ENTRY_SOCK ||
			    (se->type == STORE_ENTRY_HARDLINK) != (pass == 1))
				continue;
			r = write_entry(c, se);
			if (r < 0)
				return r;
		}
	return 0;
}

static void archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static void archive_entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}

static int canonical(store *s, const store_tree *t, tar_out *o, berth_error *reterr)
{
	_cleanup_(locale_pin_undo) _unused_ locale_pin pin = locale_pin_utf8();
	_cleanup_(archive_write_freep) struct archive *a = archive_write_new();
	_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
	canon c = { .s = s, .a = a, .e = e, .o = o, .reterr = reterr };
	int r;

	if (!a || !e)
		return -ENOMEM;
	if (archive_write_set_format_pax(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, TAR_RECORD) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, &c, NULL, canon_write_cb, NULL) != ARCHIVE_OK)
		return canon_failure(&c, "");
	r = write_entries(&c, t);
	if (r < 0) {
		/* Or free() would close the archive, writing its end to the sink after an error. */
		archive_write_fail(a);
		return r;
	}
	/* close() writes the end-of-archive blocks and flushes; free() after it writes nothing. */
	if (archive_write_close(a) != ARCHIVE_OK)
		return canon_failure(&c, "(end of archive)");
	return 0;
}

/* ---- Entry points ---- */

static int pack_to(store *s, const store_layer *layer, fetch_sink_fn sink, void *userdata,
		   store_digest *ret_diff_id, uint64_t *ret_size, berth_error *reterr)
{
	_cleanup_(store_hasher_freep) store_hasher *h = NULL;
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	tar_out o = { sink, userdata, NULL, 0 };
	store_digest got;
	int r;

	r = store_hasher_new(&h);
	if (r < 0)
		return r;
	o.hash = h;
	if (layer->has_split)
		r = replay(s, layer, &o, reterr);
	else {
		r = store_tree_load(s, &layer->tree, &t, reterr);
		if (r >= 0)
			r = canonical(s, t, &o, reterr);
	}
	if (r < 0)
		return r;
	store_hasher_final(h, &got);
	if (layer->has_split &&
	    (!store_digest_eq(&got, &layer->diff_id) || o.size != layer->tar_size))
		return berth_error_set(reterr, -EBADMSG,
				       "the rebuilt tar does not match the layer's DiffID");
	if (ret_diff_id)
		*ret_diff_id = got;
	if (ret_size)
		*ret_size = o.size;
	return 0;
}

int fetch_pack_layer(store *s, const store_layer *layer, fetch_sink_fn sink, void *userdata,
		     berth_error *reterr)
{
	return pack_to(s, layer, sink, userdata, NULL, NULL, reterr);
}

static int null_sink(void *userdata, const void *data, size_t len)
{
	return 0;
}

int fetch_layer_from_tree(store *s, const store_digest *tree, store_layer *ret, berth_error *reterr)
{
	store_layer l = { .tree = *tree };
	int r;

	r = pack_to(s, &l, null_sink, NULL, &l.diff_id, &l.tar_size, reterr);
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

/* ---- Compression to an fd ---- */

#define COMPRESS_OUT (256u * 1024)

typedef struct compressor {
	fetch_compression c;
	int fd;
	z_stream z;
	bool z_init;
	ZSTD_CCtx *zc;
	store_hasher *blob;
	uint64_t blob_size;
	uint8_t *out;
} compressor;

static int emit(compressor *k, size_t n)
{
	if (n == 0)
		return 0;
	store_hasher_update(k->blob, k->out, n);
	k->blob_size += n;
	return fd_write_all(k->fd, k->out, n);
}

static int gzip_step(compressor *k, const void *data, size_t len, int flush)
{
	int zr, r;

	k->z.next_in = (Bytef *)data;
	k->z.avail_in = (uInt)len;
	do {
		k->z.next_out = k->out;
		k->z.avail_out = COMPRESS_OUT;
		zr = deflate(&k->z, flush);
		if (zr == Z_STREAM_ERROR)
			return -EIO;
		r = emit(k, COMPRESS_OUT - k->z.avail_out);
		if (r < 0)
			return r;
	} while (k->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

static int zstd_step(compressor *k, const void *data, size_t len, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { data, len, 0 };
	size_t left;
	int r;

	do {
		ZSTD_outBuffer out = { k->out, COMPRESS_OUT, 0 };
		left = ZSTD_compressStream2(k->zc, &out, &in, mode);
		if (ZSTD_isError(left))
			return -EIO;
		r = emit(k, out.pos);
		if (r < 0)
			return r;
	} while (mode == ZSTD_e_end ? left > 0 : in.pos < in.size);
	return 0;
}

static int compress_sink(void *userdata, const void *data, size_t len)
{
	compressor *k = userdata;

	switch (k->c) {
	case FETCH_COMPRESSION_GZIP:
		/* zlib takes at most 4 GiB at a time; the tar writer never hands that much. */
		return gzip_step(k, data, len, Z_NO_FLUSH);
	case FETCH_COMPRESSION_ZSTD:
		return zstd_step(k, data, len, ZSTD_e_continue);
	default:
		store_hasher_update(k->blob, data, len);
		k->blob_size += len;
		return fd_write_all(k->fd, data, len);
	}
}

static int compressor_init(compressor *k)
{
	int r = store_hasher_new(&k->blob);

	if (r < 0)
		return r;
	k->out = malloc(COMPRESS_OUT);
	if (!k->out)
		return -ENOMEM;
	if (k->c == FETCH_COMPRESSION_GZIP) {
		/* windowBits 15 + 16: a gzip wrapper, whose header zlib writes with mtime 0, no name. */
		if (deflateInit2(&k->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return -ENOMEM;
		k->z_init = true;
	} else if (k->c == FETCH_COMPRESSION_ZSTD) {
		k->zc = ZSTD_createCCtx();
		if (!k->zc ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(k->zc, ZSTD_c_compressionLevel, 3)))
			return -ENOMEM;
	}
	return 0;
}

static int compressor_end(compressor *k)
{
	if (k->c == FETCH_COMPRESSION_GZIP)
		return gzip_step(k, NULL, 0, Z_FINISH);
	if (k->c == FETCH_COMPRESSION_ZSTD)
		return zstd_step(k, NULL, 0, ZSTD_e_end);
	return 0;
}

static void compressor_done(compressor *k)
{
	if (k->z_init)
		deflateEnd(&k->z);
	ZSTD_freeCCtx(k->zc);
	store_hasher_free(k->blob);
	free(k->out);
}

int fetch_pack_layer_fd(store *s, const store_layer *layer, fetch_compression c, int fd,
			store_digest *ret_blob, uint64_t *ret_blob_size, store_digest *ret_diff_id,
			berth_error *reterr)
{
	_cleanup_(compressor_done) compressor k = { .c = c, .fd = fd };
	store_digest diff_id;
	int r;

	r = compressor_init(&k);
	if (r >= 0)
		r = pack_to(s, layer, compress_sink, &k, &diff_id, NULL, reterr);
	if (r >= 0)
		r = compressor_end(&k);
	if (r < 0)
		return berth_error_set(reterr, r, "writing the layer failed: %s", strerror(-r));
	if (ret_blob)
		store_hasher_final(k.blob, ret_blob);
	if (ret_blob_size)
		*ret_blob_size = k.blob_size;
	if (ret_diff_id)
		*ret_diff_id = diff_id;
	return 0;
}
