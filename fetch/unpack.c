/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/unpack.c: a layer tar stream -> tree, contents and split in the store (libarchive).
 *
 * Two libarchive readers in a chain:
 *
 *   fd --raw_read--> stage 1 (decompression filters + "raw" format) --tar_read--> stage 2 (tar)
 *
 * raw_read() hashes and counts the bytes of the fd (blob digest, progress). tar_read() pulls the
 * decompressed stream out of stage 1 block by block, hashes it (DiffID) and hands each block to the
 * tar reader, so every uncompressed byte passes through our hands exactly once, in order. Stage 1
 * takes gzip, zstd, bzip2 and xz, each built into libarchive: archive_read_support_filter_all()
 * would also accept formats that libarchive decodes by running an external program (lrzip, lzop,
 * grzip), and a daemon must not fork whatever a downloaded blob's magic number asks for.
 *
 * Splitting the tar into skeleton and content rests on how libarchive's tar reader consumes its
 * input (checked by experiment on ustar, GNU and pax archives, including GNU sparse 0.0/0.1/1.0
 * and old-GNU 'S' entries; the unit tests keep checking it): archive_filter_bytes(a, 0) counts the
 * bytes the reader has consumed, and it consumes lazily. Right after archive_read_next_header()
 * it stands at the first byte of the entry's data (all header blocks, PAX/GNU records and sparse
 * maps consumed, nothing of the data); right after archive_read_data_block() it stands at the first
 * byte of the block just returned. So each data block's place in the stream is known, and every
 * byte not inside one is skeleton. We keep the bytes handed to stage 2 but not yet classified (a
 * few header blocks, never content: content is classified while its block is still current), and
 * classify them when the next data block or header tells us where they belong.
 *
 * Consistency checks guard the assumption: a header must end on a 512-byte boundary past what was
 * classified, the 512 bytes before a (non-sparse) entry's data must be a ustar header with a valid
 * checksum, a data block that points into our current block must sit where its position says, and
 * at the end the split must describe exactly as many bytes as the stream had. If any check fails,
 * the layer is still ingested but without a split (has_split = false): fetch/pack.c then writes a
 * canonical tar, whose DiffID differs, and the caller learns that from has_split.
 *
 * The header check also enforces "unknown entry type": libarchive reads an unknown typeflag as a
 * regular file (as POSIX asks), so the typeflag byte is read from the header block itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "fetch/locale-pin.h"
#include "fetch/split.h"
#include "fetch/tarlayer.h"
#include "fetch/unpack.h"
#include "store/tree.h"
#include "util/macro.h"

#define RAW_BLOCK	     (1u << 20)
#define TAR_BLOCK	     512
/* Past this much skeleton in memory, give up the split rather than grow without bound. */
#define SPLIT_MEMORY_DEFAULT ((size_t)256 << 20)

static const uint8_t zeros64k[65536];

typedef struct unpack {
	store *s;
	const fetch_unpack_opts *opts;
	berth_error *reterr;
	int fd;
	int error; /* first error seen inside a libarchive callback, already in reterr */

	uint8_t *raw;
	uint64_t raw_bytes;
	store_hasher *raw_hash; /* NULL once the input is known to be an uncompressed tar */

	struct archive *a1, *a2;
	store_hasher *tar_hash;
	/* The block stage 2 is reading: stream bytes [cur_start, cur_end) at cur. */
	const uint8_t *cur;
	uint64_t cur_start, cur_end;
	/* Stream bytes before `done` are classified; kept holds [done, cur_start) if done < cur_start. */
	uint64_t done;
	buf kept;
	bool track; /* false once a consistency check failed: no split, no header checks */
	size_t max_split_memory;

	fetch_split_builder *split; /* NULL: no split for this layer */
	fetch_tarlayer *layer;
	store_file_writer *w;
	fetch_tar_xattr *xattrs;
	size_t xattrs_cap;
	uint64_t content_bytes;
} unpack;

static void unpack_done(unpack *u)
{
	if (u->a2)
		archive_read_free(u->a2);
	if (u->a1)
		archive_read_free(u->a1);
	free(u->raw);
	store_hasher_free(u->raw_hash);
	store_hasher_free(u->tar_hash);
	buf_done(&u->kept);
	fetch_split_builder_free(u->split);
	fetch_tarlayer_free(u->layer);
	store_file_writer_free(u->w);
	free(u->xattrs);
}

/* The split cannot be trusted any more: the layer goes on without one. */
static void lose_track(unpack *u)
{
	u->track = false;
	u->split = fetch_split_builder_free(u->split);
}

/* ---- Stage 1: raw bytes from the fd ---- */

static ssize_t raw_read(struct archive *a, void *userdata, const void **ret)
{
	unpack *u = userdata;
	ssize_t n;

	do
		n = read(u->fd, u->raw, RAW_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (!u->error)
			u->error = berth_error_set(u->reterr, negative_errno(),
						   "reading the layer stream failed: %m");
		archive_set_error(a, errno, "read error");
		return -1;
	}
	if (u->raw_hash)
		store_hasher_update(u->raw_hash, u->raw, (size_t)n);
	u->raw_bytes += (uint64_t)n;
	if (u->opts->progress && n > 0)
		u->opts->progress(u->opts->userdata, u->raw_bytes);
	*ret = u->raw;
	return n;
}

/* An error of reader a, as an errno with detail (an error from a callback wins). */
static int archive_failure(unpack *u, struct archive *a, const char *what)
{
	const char *msg = archive_error_string(a);

	if (u->error)
		return u->error;
	if (archive_errno(a) == ENOMEM)
		return -ENOMEM;
	if (a == u->a1)
		return berth_error_set(u->reterr, -EBADMSG, "%s: %s", what,
				       msg ? msg : "unexpected end of data");
	return berth_error_set(u->reterr, -EBADMSG, "%s at byte %llu of the tar: %s", what,
			       (unsigned long long)u->cur_end, msg ? msg : "unknown error");
}

/* ---- Classification of the uncompressed stream ---- */

/*
 * Before the current block is replaced: keep its bytes that are not classified yet. Normally a
 * few header blocks; but the data of entries the tree does not take (AUFS bookkeeping, a
 * directory with a body) is skeleton too, and past the split's memory limit it is given up.
 */
static int keep_tail(unpack *u)
{
	uint64_t from = MAX(u->done, u->cur_start);
	int r;

	if (!u->cur || from >= u->cur_end)
		return 0;
	r = buf_append(&u->kept, u->cur + (from - u->cur_start), (size_t)(u->cur_end - from));
	if (r < 0)
		return r;
	if (u->kept.len > u->max_split_memory) {
		lose_track(u);
		buf_reset(&u->kept);
		u->done = u->cur_end;
	}
	return 0;
}

/* 1 and a new current block, 0 at the end of the stream, < 0 on error. */
static int next_block(unpack *u)
{
	const void *b;
	size_t n = 0;
	la_int64_t off;
	int r;

	r = keep_tail(u);
	if (r < 0)
		return r;
	u->cur = NULL;
	u->cur_start = u->cur_end;
	while (n == 0) {
		r = archive_read_data_block(u->a1, &b, &n, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN || off < 0 || (uint64_t)off != u->cur_end)
			return archive_failure(u, u->a1, "corrupt compressed stream");
	}
	store_hasher_update(u->tar_hash, b, n);
	u->cur = b;
	u->cur_end += n;
	return 1;
}

static ssize_t tar_read(struct archive *a, void *userdata, const void **ret)
{
	unpack *u = userdata;
	int r = next_block(u);

	if (r < 0) {
		if (!u->error)
			u->error = r;
		archive_set_error(a, -r, "reading the decompressed stream failed");
		return -1;
	}
	*ret = u->cur;
	return r == 0 ? 0 : (ssize_t)(u->cur_end - u->cur_start);
}

typedef int (*visit_fn)(unpack *u, const uint8_t *p, size_t n, void *userdata);

/* Calls fn on the stream bytes [from, to), from >= done, to <= cur_end, from kept and cur. */
static int visit(unpack *u, uint64_t from, uint64_t to, visit_fn fn, void *userdata)
{
	uint64_t kept_end = u->done + u->kept.len;
	int r;

	if (from < kept_end) {
		uint64_t e = MIN(to, kept_end);
		r = fn(u, (const uint8_t *)u->kept.data + (from - u->done), (size_t)(e - from),
		       userdata);
		if (r < 0)
			return r;
		from = e;
	}
	if (from < to)
		return fn(u, u->cur + (from - u->cur_start), (size_t)(to - from), userdata);
	return 0;
}

static void consume_to(unpack *u, uint64_t to)
{
	uint64_t drop = to - u->done;

	if (drop >= u->kept.len)
		buf_reset(&u->kept);
	else {
		memmove(u->kept.data, u->kept.data + drop, u->kept.len - drop);
		u->kept.len -= drop;
	}
	u->done = to;
}

static int to_split(unpack *u, const uint8_t *p, size_t n, void *userdata)
{
	int r;

	if (!u->split)
		return 0;
	r = fetch_split_builder_bytes(u->split, p, n);
	if (r < 0)
		return r;
	if (fetch_split_builder_memory(u->split) > u->max_split_memory)
		lose_track(u);
	return 0;
}

/* Stream bytes [done, end) are skeleton. */
static int skeleton_to(unpack *u, uint64_t end)
{
	int r = visit(u, u->done, end, to_split, NULL);

	if (r < 0)
		return r;
	consume_to(u, end);
	return 0;
}

static int copy_out(unpack *u, const uint8_t *p, size_t n, void *userdata)
{
	uint8_t **out = userdata;

	memcpy(*out, p, n);
	*out += n;
	return 0;
}

/* Stream bytes [pos, pos+n) are bytes [offset, offset+n) of the file `ordinal`, at data. */
static int classify_content(unpack *u, uint64_t pos, size_t n, uint64_t ordinal, uint64_t offset,
			    const void *data)
{
	const uint8_t *d = data;
	int r;

	if (pos < u->done || pos + n > u->cur_end ||
	    (u->cur && d >= u->cur && d < u->cur + (u->cur_end - u->cur_start) &&
	     (uint64_t)(d - u->cur) != pos - u->cur_start)) {
		uint64_t end = MIN(pos + n, u->cur_end);
		lose_track(u);
		consume_to(u, MAX(u->done, end));
		return 0;
	}
	r = skeleton_to(u, pos);
	if (r < 0)
		return r;
	if (u->split) {
		r = fetch_split_builder_content(u->split, ordinal, offset, n);
		if (r < 0)
			return r;
	}
	consume_to(u, pos + n);
	return 0;
}

/* ---- Headers ---- */

static uint64_t octal_field(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (p[i] - '0');
	return v;
}

static bool ustar_checksum_ok(const uint8_t *h)
{
	uint64_t want = octal_field(h + 148, 8);
	int64_t us = 0, sg = 0;

	for (size_t i = 0; i < TAR_BLOCK; i++) {
		uint8_t c = (i >= 148 && i < 156) ? ' ' : h[i];
		us += c;
		sg += (int8_t)c;
	}
	return (int64_t)want == us || (int64_t)want == sg;
}

static bool typeflag_known(uint8_t t)
{
	return t == '\0' || (t >= '0' && t <= '7') || t == 'S';
}

/*
 * After a header: its blocks end where the data starts. Checks the layout, reads the entry's own
 * header block, classifies everything before the data as skeleton.
 */
static int classify_header(unpack *u, struct archive_entry *e, const char *name)
{
	uint64_t ds = (uint64_t)archive_filter_bytes(u->a2, 0);
	uint8_t hdr[TAR_BLOCK], *p = hdr;
	int r;

	if (!u->track)
		return 0;
	if (ds % TAR_BLOCK || ds < u->done + TAR_BLOCK || ds > u->cur_end) {
		lose_track(u);
		return 0;
	}
	/* A sparse entry's data may follow a sparse map, not its header: nothing to check there. */
	if (archive_entry_sparse_count(e) == 0) {
		r = visit(u, ds - TAR_BLOCK, ds, copy_out, &p);
		if (r < 0)
			return r;
		if (!ustar_checksum_ok(hdr)) {
			lose_track(u);
			return 0;
		}
		if (!typeflag_known(hdr[156]))
			return berth_error_set(
				u->reterr, -EINVAL,
				"entry '%s': unknown entry type (tar typeflag 0x%02x)", name,
				hdr[156]);
	}
	return skeleton_to(u, ds);
}

/* ---- Entries ---- */

static uint8_t entry_type(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return STORE_ENTRY_HARDLINK;
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return STORE_ENTRY_REG;
	case AE_IFDIR:
		return STORE_ENTRY_DIR;
	case AE_IFLNK:
		return STORE_ENTRY_SYMLINK;
	case AE_IFCHR:
		return STORE_ENTRY_CHR;
	case AE_IFBLK:
		return STORE_ENTRY_BLK;
	case AE_IFIFO:
		return STORE_ENTRY_FIFO;
	case AE_IFSOCK:
		return STORE_ENTRY_SOCK;
	default:
		return 0;
	}
}

static int collect_xattrs(unpack *u, struct archive_entry *e, size_t *ret_n)
{
	int n = archive_entry_xattr_reset(e);
	const char *name;
	const void *value;
	size_t len, i = 0;

	if (n > 0 && (size_t)n > u->xattrs_cap) {
		fetch_tar_xattr *x = reallocarray(u->xattrs, (size_t)n, sizeof(*x));
		if (!x)
			return -ENOMEM;
		u->xattrs = x;
		u->xattrs_cap = (size_t)n;
	}
	while (i < u->xattrs_cap && archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK)
		u->xattrs[i++] = (fetch_tar_xattr){ name, value, len };
	*ret_n = i;
	return 0;
}

static int to_tar_entry(unpack *u, struct archive_entry *e, fetch_tar_entry *te)
{
	uint8_t type = entry_type(e);
	int r;

	*te = (fetch_tar_entry){
		.path = archive_entry_pathname(e),
		.type = type,
		.link = type == STORE_ENTRY_HARDLINK ? archive_entry_hardlink(e)
						     : archive_entry_symlink(e),
		.mode = (uint32_t)archive_entry_perm(e),
		.uid = archive_entry_uid(e),
		.gid = archive_entry_gid(e),
		.mtime_sec = archive_entry_mtime_is_set(e) ? archive_entry_mtime(e) : 0,
		.mtime_nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0,
		.has_atime = archive_entry_atime_is_set(e),
		.atime_sec = archive_entry_atime(e),
		.atime_nsec = archive_entry_atime_nsec(e),
		.rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e)),
		.size = archive_entry_size(e),
	};
	r = collect_xattrs(u, e, &te->n_xattrs);
	te->xattrs = u->xattrs;
	return r;
}

static int write_zeros(store_file_writer *w, uint64_t n)
{
	while (n > 0) {
		size_t k = (size_t)MIN(n, (uint64_t)sizeof(zeros64k));
		int r = store_file_writer_write(w, zeros64k, k);
		if (r < 0)
			return r;
		n -= k;
	}
	return 0;
}

/* Streams a regular file's data (holes of sparse files as zeros) into the store. */
static int read_content(unpack *u, uint64_t ordinal, uint64_t size, const char *name)
{
	store_file_ref ref;
	uint64_t written = 0;
	const void *b;
	size_t n;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(u->a2, &b, &n, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) {
			char what[300];
			snprintf(what, sizeof(what), "entry '%s': corrupt tar stream in its data",
				 name);
			return archive_failure(u, u->a2, what);
		}
		if (n == 0)
			continue;
		if (off < 0 || (uint64_t)off < written || (uint64_t)off > size ||
		    n > size - (uint64_t)off)
			return berth_error_set(
				u->reterr, -EBADMSG,
				"entry '%s': sparse map out of order or beyond the file's size",
				name);
		r = classify_content(u, (uint64_t)archive_filter_bytes(u->a2, 0), n, ordinal,
				     (uint64_t)off, b);
		if (r >= 0)
			r = write_zeros(u->w, (uint64_t)off - written);
		if (r >= 0)
			r = store_file_writer_write(u->w, b, n);
		if (r < 0)
			return r;
		written = (uint64_t)off + n;
	}
	r = write_zeros(u->w, size - written);
	if (r >= 0)
		r = store_file_writer_finish(u->w, &ref);
	if (r < 0)
		return berth_error_set(u->reterr, r, "entry '%s': storing its content failed: %s",
				       name, strerror(-r));
	fetch_tarlayer_set_content(u->layer, ordinal, &ref);
	u->content_bytes += size;
	return 0;
}

/* libarchive warns, and keeps the bytes as they were, when a name is not valid in the locale's
 * character set: names are bytes to us, so that warning is fine; any other is not. */
static bool warning_is_harmless(struct archive *a)
{
	const char *msg = archive_error_string(a);

	return msg && strstr(msg, "can't be converted");
}

static int read_entries(unpack *u)
{
	struct archive_entry *e;
	fetch_tar_entry te;
	char name[256];
	uint64_t ordinal;
	int r;

	for (;;) {
		r = archive_read_next_header(u->a2, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && !(r == ARCHIVE_WARN && warning_is_harmless(u->a2)))
			return archive_failure(u, u->a2, "corrupt tar stream");
		r = to_tar_entry(u, e, &te);
		if (r < 0)
			return r;
		snprintf(name, sizeof(name), "%s", te.path ? te.path : "");
		for (char *c = name; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		r = classify_header(u, e, name);
		if (r < 0)
			return r;
		r = fetch_tarlayer_add(u->layer, &te, &ordinal, u->reterr);
		if (r < 0)
			return r;
		if (r == FETCH_TARLAYER_CONTENT) {
			r = read_content(u, ordinal, (uint64_t)te.size, name);
			if (r < 0)
				return r;
		}
	}
}

/* ---- The end of the stream ---- */

static int check_zeros(unpack *u, const uint8_t *p, size_t n, void *userdata)
{
	uint64_t *pos = userdata;

	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return berth_error_set(
				u->reterr, -EBADMSG,
				"trailing data after the end of the tar at byte %llu is not zeros",
				(unsigned long long)(*pos + i));
	*pos += n;
	return 0;
}

/* After the tar's end: the rest of the stream must be zeros; it is skeleton too. */
static int drain(unpack *u)
{
	uint64_t end = (uint64_t)archive_filter_bytes(u->a2, 0), pos;
	int r;

	if (end < u->done || end > u->cur_end) {
		lose_track(u);
		end = u->done;
	}
	/* libarchive consumes the second end-of-archive block without looking at it. */
	pos = MAX(u->done, end >= TAR_BLOCK ? end - TAR_BLOCK : 0);
	r = visit(u, pos, end, check_zeros, &pos);
	if (r >= 0)
		r = skeleton_to(u, end);
	for (;;) {
		pos = u->done;
		if (r >= 0)
			r = visit(u, u->done, u->cur_end, check_zeros, &pos);
		if (r >= 0)
			r = skeleton_to(u, u->cur_end);
		if (r >= 0)
			r = next_block(u);
		if (r <= 0)
			return r;
	}
}

/* Reads what the decompressor left in the fd, so the blob digest covers the whole blob. */
static int drain_raw(unpack *u)
{
	const void *b;
	ssize_t n;

	do
		n = raw_read(u->a1, u, &b);
	while (n > 0);
	return n < 0 ? u->error : 0;
}

/* ---- Setup and result ---- */

static int open_stages(unpack *u)
{
	struct archive_entry *e;
	int r;

	u->a1 = archive_read_new();
	u->a2 = archive_read_new();
	if (!u->a1 || !u->a2)
		return -ENOMEM;
	/* Only filters built into libarchive (see the top of the file). */
	if (archive_read_support_filter_gzip(u->a1) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(u->a1) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(u->a1) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(u->a1) != ARCHIVE_OK ||
	    archive_read_support_format_raw(u->a1) != ARCHIVE_OK ||
	    archive_read_support_format_tar(u->a2) != ARCHIVE_OK)
		return berth_error_set(u->reterr, -EOPNOTSUPP,
				       "libarchive lacks built-in gzip, zstd, bzip2 or xz support");
	r = archive_read_open(u->a1, u, NULL, raw_read, NULL);
	if (r == ARCHIVE_OK)
		r = archive_read_next_header(u->a1, &e);
	if (u->raw_bytes == 0 && !u->error)
		return berth_error_set(u->reterr, -EBADMSG, "empty layer stream");
	if (r != ARCHIVE_OK)
		return archive_failure(u, u->a1, "corrupt compressed stream");
	/* Uncompressed: the blob is the tar, one hash is enough. */
	if (archive_filter_code(u->a1, 0) == ARCHIVE_FILTER_NONE)
		u->raw_hash = store_hasher_free(u->raw_hash);
	if (archive_read_open(u->a2, u, NULL, tar_read, NULL) != ARCHIVE_OK)
		return archive_failure(u, u->a2, "not a tar stream");
	return 0;
}

static int check_digest(unpack *u, const store_digest *want, const store_digest *got,
			const char *what)
{
	char a[STORE_DIGEST_STR_LEN], b[STORE_DIGEST_STR_LEN];

	if (!want || store_digest_eq(want, got))
		return 0;
	store_digest_str(want, a);
	store_digest_str(got, b);
	return berth_error_set(u->reterr, -EBADMSG, "layer %s mismatch: expected %s, got %s", what,
			       a, b);
}

static int put_split(unpack *u, fetch_unpack_result *res, const uint32_t *map, size_t n_map)
{
	_cleanup_(buf_done) buf out = BUF_INIT;
	int r;

	if (!u->split || fetch_split_builder_tar_size(u->split) != u->cur_end)
		return 0;
	r = fetch_split_builder_encode(u->split, &res->layer.tree, &res->layer.diff_id, map, n_map,
				       &out);
	if (r < 0)
		return r;
	r = store_object_put(u->s, STORE_SPLIT, out.data, out.len, &res->layer.split);
	if (r == -EFBIG)
		return 0; /* over the object size cap: keep the layer, pack it canonically later */
	if (r < 0)
		return r;
	res->layer.has_split = true;
	return 0;
}

static int finish(unpack *u, fetch_unpack_result *res)
{
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	_cleanup_free_ uint32_t *map = NULL;
	size_t n_map;
	int r;

	*res = (fetch_unpack_result){};
	store_hasher_final(u->tar_hash, &res->layer.diff_id);
	if (u->raw_hash)
		store_hasher_final(u->raw_hash, &res->blob_digest);
	else
		res->blob_digest = res->layer.diff_id;
	res->blob_size = u->raw_bytes;
	res->layer.tar_size = u->cur_end;
	res->content_bytes = u->content_bytes;
	res->entries = fetch_tarlayer_count(u->layer);
	r = check_digest(u, u->opts->expect_diff_id, &res->layer.diff_id, "DiffID");
	if (r >= 0)
		r = check_digest(u, u->opts->expect_blob_digest, &res->blob_digest, "blob digest");
	if (r >= 0)
		r = fetch_tarlayer_finish(u->layer, &t, &map, &n_map, u->reterr);
	if (r >= 0)
		r = store_tree_put(u->s, t, &res->layer.tree);
	if (r >= 0)
		r = put_split(u, res, map, n_map);
	return r;
}

int fetch_unpack_fd(store *s, int fd, const fetch_unpack_opts *opts, fetch_unpack_result *ret,
		    berth_error *reterr)
{
	static const fetch_unpack_opts no_opts = {};
	_cleanup_(locale_pin_undo) _unused_ locale_pin pin = locale_pin_utf8();
	_cleanup_(unpack_done) unpack u = {
		.s = s,
		.opts = opts ? opts : &no_opts,
		.reterr = reterr,
		.fd = fd,
		.track = true,
	};
	fetch_unpack_result res;
	int r;

	u.max_split_memory = u.opts->max_split_memory ? u.opts->max_split_memory
						      : SPLIT_MEMORY_DEFAULT;
	u.raw = malloc(RAW_BLOCK);
	if (!u.raw)
		return -ENOMEM;
	r = store_hasher_new(&u.raw_hash);
	if (r >= 0)
		r = store_hasher_new(&u.tar_hash);
	if (r >= 0)
		r = fetch_split_builder_new(&u.split);
	if (r >= 0)
		r = fetch_tarlayer_new(u.opts->max_entry_size, &u.layer);
	if (r >= 0)
		r = store_file_writer_new(s, &u.w);
	if (r >= 0)
		r = open_stages(&u);
	if (r >= 0)
		r = read_entries(&u);
	if (r >= 0)
		r = drain(&u);
	if (r >= 0)
		r = drain_raw(&u);
	if (r >= 0)
		r = finish(&u, &res);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}

/*
 * ---- fetch_tar_read_files(): a tar of plain files, for `berth load` ----
 *
 * Separate from the layer reader above: an OCI image-layout or `docker save` archive is only a
 * container of blobs, so it gets a plain libarchive reader with the same built-in filters, and
 * hands each member to the caller, which decides where (if anywhere) its bytes go.
 */

#define MEMBER_BLOCK (1u << 20)

static uint8_t member_type(struct archive_entry *e)
{
	if (archive_entry_hardlink(e))
		return STORE_ENTRY_HARDLINK;
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return STORE_ENTRY_REG;
	case AE_IFDIR:
		return STORE_ENTRY_DIR;
	case AE_IFLNK:
		return STORE_ENTRY_SYMLINK;
	default:
		return 0;
	}
}

static int member_content(struct archive *a, const fetch_tar_files_ops *ops, void *userdata,
			  uint8_t *block, const char *path, berth_error *reterr)
{
	for (;;) {
		la_ssize_t n = archive_read_data(a, block, MEMBER_BLOCK);
		int r;
		if (n == 0)
			return ops->member_end ? ops->member_end(userdata) : 0;
		if (n < 0)
			return berth_error_set(reterr, -EBADMSG, "archive member '%s': %s", path,
					       archive_error_string(a) ?: "unreadable");
		if ((r = ops->data(userdata, block, (size_t)n)) < 0)
			return r;
		if (ops->progress)
			ops->progress(userdata, (uint64_t)archive_filter_bytes(a, -1));
	}
}

static int read_members(struct archive *a, const fetch_tar_files_ops *ops, void *userdata,
			uint8_t *block, berth_error *reterr)
{
	struct archive_entry *e;
	int k, r;

	while ((k = archive_read_next_header(a, &e)) == ARCHIVE_OK || k == ARCHIVE_WARN) {
		uint8_t type = member_type(e);
		const char *path = archive_entry_pathname(e);
		fetch_tar_member m = {
			.path = path ? path : "",
			.type = type,
			.link = type == STORE_ENTRY_HARDLINK ? archive_entry_hardlink(e)
							     : archive_entry_symlink(e),
			.size = archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0,
		};
		r = ops->member(userdata, &m);
		if (r < 0)
			return r;
		if (r > 0 && type == STORE_ENTRY_REG &&
		    (r = member_content(a, ops, userdata, block, m.path, reterr)) < 0)
			return r;
	}
	if (k != ARCHIVE_EOF)
		return berth_error_set(reterr, -EBADMSG, "not a readable tar archive: %s",
				       archive_error_string(a) ?: "unknown error");
	return 0;
}

int fetch_tar_read_files(int fd, const fetch_tar_files_ops *ops, void *userdata,
			 berth_error *reterr)
{
	_cleanup_free_ uint8_t *block = malloc(MEMBER_BLOCK);
	struct archive *a = archive_read_new();
	int r;

	if (!a || !block) {
		archive_read_free(a);
		return -ENOMEM;
	}
	/* The same built-in filters as the layer reader, for the same reason. */
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
	    archive_read_support_filter_bzip2(a) != ARCHIVE_OK ||
	    archive_read_support_filter_xz(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK)
		r = berth_error_set(reterr, -EOPNOTSUPP,
				    "libarchive lacks built-in gzip, zstd, bzip2 or xz support");
	else if (archive_read_open_fd(a, fd, MEMBER_BLOCK) != ARCHIVE_OK)
		r = berth_error_set(reterr, -EBADMSG, "not a readable tar archive: %s",
				    archive_error_string(a) ?: "unknown error");
	else
		r = read_members(a, ops, userdata, block, reterr);
	archive_read_free(a);
	return r;
}
