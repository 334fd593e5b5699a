/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/index-write.c: writes a merged view (index-merge.h) as an index file (index-format.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "store/index-format.h"
#include "store/index-merge.h"
#include "store/index.h"
#include "util/fileio.h"

/* ---- Writing: the sections stream out in file order ---- */

#define STAGE_SIZE (1u << 20)

/*
 * Where the bytes go: a buf (store_index_build_mem()) or a file through a small staging buffer.
 * Streaming the fixed-size sections instead of building the whole file in memory first keeps a
 * build of a million entries from touching ~140 MB of fresh memory, which costs more than the
 * merge itself (page faults).
 */
typedef struct sink {
	buf *out; /* or */
	int fd;
	buf stage;
	XXH3_state_t *xxh; /* of every byte after the header */
} sink;

static int sink_flush(sink *k)
{
	int r;

	if (k->out || k->stage.len == 0)
		return 0;
	r = fd_write_all(k->fd, k->stage.data, k->stage.len);
	buf_reset(&k->stage);
	return r;
}

static int sink_write(sink *k, const void *data, size_t len)
{
	int r;

	if (XXH3_64bits_update(k->xxh, data, len) != XXH_OK)
		return -EINVAL;
	if (k->out)
		return buf_append(k->out, data, len);
	if (k->stage.len + len > STAGE_SIZE && (r = sink_flush(k)) < 0)
		return r;
	if (len >= STAGE_SIZE)
		return fd_write_all(k->fd, data, len);
	return buf_append(&k->stage, data, len);
}

/* The header goes first, as zeros (not hashed); sink_finish() writes it for real. */
static int sink_start(sink *k)
{
	static const uint8_t zero[sizeof(idx_header)];

	if (!(k->xxh = XXH3_createState()) || XXH3_64bits_reset(k->xxh) != XXH_OK)
		return -ENOMEM;
	if (k->out) {
		buf_reset(k->out);
		return buf_append(k->out, zero, sizeof(zero));
	}
	return buf_append(&k->stage, zero, sizeof(zero));
}

static int sink_finish(sink *k, idx_header *h)
{
	int r;

	h->checksum = XXH3_64bits_digest(k->xxh);
	if (k->out) {
		memcpy(k->out->data, h, sizeof(*h));
		return 0;
	}
	r = sink_flush(k);
	if (r >= 0 && pwrite(k->fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h))
		r = -EIO;
	return r;
}

static void sink_done(sink *k)
{
	buf_done(&k->stage);
	XXH3_freeState(k->xxh);
}

typedef struct writer {
	const merger *m;
	sink *k;
	idx_header h;
	buf strings;
	buf xattrs;	/* idx_xattr records: their section follows the dirents */
	uint64_t *hash; /* the hash table: its section follows the xattrs */
} writer;

static void writer_done(writer *w)
{
	buf_done(&w->strings);
	buf_done(&w->xattrs);
	free(w->hash);
}

static uint32_t type_ifmt(uint8_t type)
{
	switch (type) {
	case STORE_ENTRY_REG:
		return S_IFREG;
	case STORE_ENTRY_DIR:
		return S_IFDIR;
	case STORE_ENTRY_SYMLINK:
		return S_IFLNK;
	case STORE_ENTRY_CHR:
		return S_IFCHR;
	case STORE_ENTRY_BLK:
		return S_IFBLK;
	case STORE_ENTRY_FIFO:
		return S_IFIFO;
	default:
		return S_IFSOCK;
	}
}

static uint32_t node_mode(const mnode *n)
{
	return type_ifmt(n->type) | (n->e ? n->e->mode : 0755);
}

static int add_string(writer *w, const void *data, size_t len, bool nul, uint64_t *ret_off)
{
	int r;

	*ret_off = w->strings.len;
	r = buf_append(&w->strings, data, len);
	if (r >= 0 && nul)
		r = buf_append_byte(&w->strings, 0);
	return r;
}

static int write_xattrs(writer *w, const store_entry *e, idx_inode *ino)
{
	int r;

	ino->xattr_first = w->xattrs.len / sizeof(idx_xattr);
	ino->n_xattrs = (uint32_t)e->n_xattrs;
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const store_xattr *x = &e->xattrs[i];
		idx_xattr rec = { .name_len = (uint32_t)strlen(x->name),
				  .value_len = (uint32_t)x->len };
		r = add_string(w, x->name, rec.name_len, true, &rec.name_off);
		if (r >= 0)
			r = add_string(w, x->value, x->len, false, &rec.value_off);
		if (r >= 0)
			r = buf_append(&w->xattrs, &rec, sizeof(rec));
		if (r < 0)
			return r;
	}
	return 0;
}

static uint32_t dir_nlink(const merger *m, const mnode *n)
{
	uint32_t sub = 0;

	for (uint32_t k = 0; k < n->kids_count; k++)
		sub += m->nodes[m->kids[n->kids_first + k]].type == STORE_ENTRY_DIR;
	return 2 + sub;
}

static int fill_typed(writer *w, const mnode *n, idx_inode *rec)
{
	const merger *m = w->m;
	const store_entry *e = n->e;

	switch (n->type) {
	case STORE_ENTRY_DIR:
		rec->size = IDX_DIR_SIZE;
		rec->nlink = dir_nlink(m, n);
		rec->aux = n->kids_count;
		rec->u.dir.dirent_first = n->kids_first;
		rec->u.dir.parent = n == &m->nodes[0] ? STORE_INO_ROOT : m->nodes[n->parent].ino;
		return 0;
	case STORE_ENTRY_REG:
		rec->size = e->content.size;
		rec->aux = e->content.nchunks;
		memcpy(rec->u.digest, e->content.digest.b, STORE_DIGEST_LEN);
		w->h.content_bytes += e->content.size;
		return 0;
	case STORE_ENTRY_SYMLINK:
		rec->size = rec->aux = (uint32_t)strlen(e->link);
		return add_string(w, e->link, rec->aux, false, &rec->u.link_off);
	case STORE_ENTRY_CHR:
	case STORE_ENTRY_BLK:
		rec->u.rdev = e->rdev;
		return 0;
	default:
		return 0;
	}
}

static int write_inode(writer *w, const mnode *n)
{
	const store_entry *e = n->e;
	idx_inode rec = { .mode = node_mode(n), .nlink = 1 };
	int r;

	if (n->group != IDX_NONE)
		rec.nlink = w->m->group_nlink[n->group];
	if (e) {
		rec.uid = e->uid;
		rec.gid = e->gid;
		rec.mtime_ns = e->mtime_ns;
		rec.atime_ns = e->atime_ns;
		r = write_xattrs(w, e, &rec);
		if (r < 0)
			return r;
	}
	r = fill_typed(w, n, &rec);
	if (r < 0)
		return r;
	return sink_write(w->k, &rec, sizeof(rec));
}

static int write_dirent(writer *w, const mnode *child)
{
	idx_dirent d = { .ino = child->ino,
			 .name_len = child->path_len - child->name_off,
			 .mode = node_mode(child) };
	int r = add_string(w, child->path + child->name_off, d.name_len, false, &d.name_off);

	if (r < 0)
		return r;
	return sink_write(w->k, &d, sizeof(d));
}

static void hash_insert(writer *w, uint64_t dirent, uint64_t parent_ino, const mnode *child)
{
	uint64_t mask = w->h.hash_size / 8 - 1;
	uint64_t h = XXH3_64bits_withSeed(child->path + child->name_off,
					  child->path_len - child->name_off, parent_ino);
	uint64_t pos = h & mask;

	while (!IDX_SLOT_EMPTY(w->hash[pos]))
		pos = (pos + 1) & mask;
	w->hash[pos] = IDX_SLOT_MAKE(dirent, h);
}

/* Inodes in ino order, then every directory's run of dirents in the same order. */
static int write_records(writer *w)
{
	const merger *m = w->m;
	int r;

	for (uint32_t ino = 1; ino <= m->n_inodes; ino++) {
		r = write_inode(w, &m->nodes[m->ino_node[ino - 1]]);
		if (r < 0)
			return r;
	}
	for (uint32_t ino = 1; ino <= m->n_inodes; ino++) {
		const mnode *n = &m->nodes[m->ino_node[ino - 1]];
		for (uint32_t k = 0; n->type == STORE_ENTRY_DIR && k < n->kids_count; k++) {
			uint64_t di = (uint64_t)n->kids_first + k;
			const mnode *c = &m->nodes[m->kids[di]];
			r = write_dirent(w, c);
			if (r < 0)
				return r;
			hash_insert(w, di, ino, c);
		}
	}
	return 0;
}

static uint64_t count_xattrs(const merger *m)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < m->n_inodes; i++) {
		const store_entry *e = m->nodes[m->ino_node[i]].e;
		n += e ? e->n_xattrs : 0;
	}
	return n;
}

static void layout(writer *w)
{
	const merger *m = w->m;
	idx_header *h = &w->h;
	uint64_t slots = 16;

	while (slots < 2 * (uint64_t)m->n_kids)
		slots *= 2;
	memcpy(h->magic, IDX_MAGIC, 8);
	h->version = IDX_VERSION;
	h->header_size = sizeof(idx_header);
	h->n_inodes = m->n_inodes;
	h->n_dirents = m->n_kids;
	h->inodes_off = sizeof(idx_header);
	h->inodes_size = (uint64_t)m->n_inodes * sizeof(idx_inode);
	h->dirents_off = h->inodes_off + h->inodes_size;
	h->dirents_size = (uint64_t)m->n_kids * sizeof(idx_dirent);
	h->xattrs_off = h->dirents_off + h->dirents_size;
	h->xattrs_size = count_xattrs(m) * sizeof(idx_xattr);
	h->hash_off = h->xattrs_off + h->xattrs_size;
	h->hash_size = slots * 8;
	h->strings_off = h->hash_off + h->hash_size;
}

static int write_index(const merger *m, sink *k)
{
	_cleanup_(writer_done) writer w = { .m = m, .k = k };
	int r;

	layout(&w);
	w.hash = calloc(w.h.hash_size / 8, sizeof(uint64_t));
	if (!w.hash)
		return -ENOMEM;
	r = sink_start(k);
	if (r >= 0)
		r = write_records(&w);
	/* Pad so that a later section (a future version) would start aligned. */
	while (r >= 0 && w.strings.len % 8)
		r = buf_append_byte(&w.strings, 0);
	if (r >= 0)
		r = sink_write(k, w.xattrs.data, w.xattrs.len);
	if (r >= 0)
		r = sink_write(k, w.hash, w.h.hash_size);
	if (r >= 0)
		r = sink_write(k, w.strings.data, w.strings.len);
	if (r < 0)
		return r;
	w.h.strings_size = w.strings.len;
	return sink_finish(k, &w.h);
}

int index_write_mem(const merger *m, buf *out)
{
	sink k = { .out = out, .fd = -EBADF };
	int r = write_index(m, &k);

	sink_done(&k);
	return r;
}

/* A new temp file "<path>.tmp.XXXXXX" in the same directory (write_file_atomic()'s names). */
static int tmp_create(int dirfd, const char *path, char *tmp, size_t tmplen)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int tries = 0; tries < 100; tries++) {
		int n = snprintf(tmp, tmplen, "%s.tmp.", path), fd;
		for (int i = 0; i < 6; i++)
			tmp[n + i] = letters[(unsigned)random() % (sizeof(letters) - 1)];
		tmp[n + 6] = '\0';
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? negative_errno() : fd;
	}
	return -EEXIST;
}

/* write_file_atomic() semantics, with the index streamed into the temp file. */
int index_write_file(int dirfd, const char *path, const merger *m)
{
	char tmp[6 + STORE_DIGEST_HEX_LEN + 16];
	_cleanup_close_ int fd = tmp_create(dirfd, path, tmp, sizeof(tmp));
	sink k = { .fd = fd };
	int r;

	if (fd < 0)
		return fd;
	r = write_index(m, &k);
	sink_done(&k);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && renameat(dirfd, tmp, dirfd, path) < 0)
		r = negative_errno();
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return fsync_dir(dirfd, path);
}
