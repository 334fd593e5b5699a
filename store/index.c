/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/index.c: opening, checking and reading an image index (format: index-format.h).
 *
 * Everything a lookup will trust is checked once, at open: the checksum, the sections' layout,
 * every record's offsets, lengths and inode numbers, that directory runs tile the dirent section,
 * and that the hash table has an empty slot (so every probe ends). After that, lookups read the
 * mapping without checks, allocate nothing and take no lock. Records are read with memcpy() into
 * locals, which compiles to plain loads and keeps us correct for memory that is not 8-aligned
 * (store_index_open_mem()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "store/index-format.h"
#include "store/index.h"
#include "util/fileio.h"

struct store_index {
	const uint8_t *base;
	size_t len;
	void *map; /* non-NULL if we mmap()ed base */
	idx_header h;
	const uint8_t *inodes, *dirents, *xattrs, *hash, *strings;
	uint64_t n_xattrs;
	uint64_t hash_mask;
};

store_index *store_index_free(store_index *idx)
{
	if (!idx)
		return NULL;
	if (idx->map)
		munmap(idx->map, idx->len);
	free(idx);
	return NULL;
}

static void get_inode(const store_index *idx, store_ino ino, idx_inode *ret)
{
	memcpy(ret, idx->inodes + (ino - 1) * sizeof(idx_inode), sizeof(*ret));
}

static void get_dirent(const store_index *idx, uint64_t i, idx_dirent *ret)
{
	memcpy(ret, idx->dirents + i * sizeof(idx_dirent), sizeof(*ret));
}

static void get_xattr(const store_index *idx, uint64_t i, idx_xattr *ret)
{
	memcpy(ret, idx->xattrs + i * sizeof(idx_xattr), sizeof(*ret));
}

static uint64_t get_slot(const store_index *idx, uint64_t i)
{
	uint64_t v;

	memcpy(&v, idx->hash + i * 8, 8);
	return v;
}

/* ---- Checks at open ---- */

static bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int bad(berth_error *reterr, const char *what)
{
	return berth_error_set(reterr, -EBADMSG, "Damaged image index: %s", what);
}

/* Sections follow each other in a fixed order without gaps: *pos is where this one must start. */
static int check_section(const store_index *idx, uint64_t *pos, uint64_t off, uint64_t size,
			 uint64_t count, uint64_t rec, berth_error *reterr)
{
	if (off != *pos || off % 8 || !in_bounds(off, size, idx->len))
		return bad(reterr, "section out of place");
	*pos = off + size;
	if (rec && (count > size / rec || count * rec != size))
		return bad(reterr, "section size does not match its count");
	return 0;
}

static int check_header(store_index *idx, berth_error *reterr)
{
	idx_header *h = &idx->h;
	int r;

	if (idx->len < sizeof(idx_header))
		return bad(reterr, "shorter than its header");
	memcpy(h, idx->base, sizeof(*h));
	if (memcmp(h->magic, IDX_MAGIC, 8) != 0)
		return bad(reterr, "bad magic");
	if (h->version != IDX_VERSION || h->header_size != sizeof(idx_header))
		return bad(reterr, "unsupported version");
	if (XXH3_64bits(idx->base + sizeof(idx_header), idx->len - sizeof(idx_header)) !=
	    h->checksum)
		return bad(reterr, "checksum mismatch");
	if (h->n_inodes < 1 || h->n_inodes > UINT32_MAX || h->n_dirents >= UINT32_MAX)
		return bad(reterr, "inode or dirent count out of range");
	uint64_t pos = sizeof(idx_header);
	if ((r = check_section(idx, &pos, h->inodes_off, h->inodes_size, h->n_inodes,
			       sizeof(idx_inode), reterr)) < 0 ||
	    (r = check_section(idx, &pos, h->dirents_off, h->dirents_size, h->n_dirents,
			       sizeof(idx_dirent), reterr)) < 0 ||
	    (r = check_section(idx, &pos, h->xattrs_off, h->xattrs_size,
			       h->xattrs_size / sizeof(idx_xattr), sizeof(idx_xattr), reterr)) <
		    0 ||
	    (r = check_section(idx, &pos, h->hash_off, h->hash_size, h->hash_size / 8, 8, reterr)) <
		    0 ||
	    (r = check_section(idx, &pos, h->strings_off, h->strings_size, 0, 0, reterr)) < 0)
		return r;
	if (pos != idx->len)
		return bad(reterr, "bytes after the last section");
	uint64_t slots = h->hash_size / 8;
	if (slots == 0 || (slots & (slots - 1)) || slots / 2 < h->n_dirents)
		return bad(reterr, "hash table size");
	idx->inodes = idx->base + h->inodes_off;
	idx->dirents = idx->base + h->dirents_off;
	idx->xattrs = idx->base + h->xattrs_off;
	idx->hash = idx->base + h->hash_off;
	idx->strings = idx->base + h->strings_off;
	idx->n_xattrs = h->xattrs_size / sizeof(idx_xattr);
	idx->hash_mask = slots - 1;
	return 0;
}

static bool mode_valid(uint32_t mode)
{
	if (mode & ~(uint32_t)(S_IFMT | 07777))
		return false;
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

/* next_dirent: where this directory's run must start (runs tile the dirent section). */
static int check_inode(const store_index *idx, store_ino ino, uint64_t *next_dirent,
		       uint64_t *content, berth_error *reterr)
{
	idx_inode n;

	get_inode(idx, ino, &n);
	if (!mode_valid(n.mode))
		return bad(reterr, "inode type");
	if (S_ISREG(n.mode) && __builtin_add_overflow(*content, n.size, content))
		return bad(reterr, "content size overflows");
	if (!in_bounds(n.xattr_first, n.n_xattrs, idx->n_xattrs))
		return bad(reterr, "inode xattrs out of bounds");
	if (S_ISLNK(n.mode) && !in_bounds(n.u.link_off, n.aux, idx->h.strings_size))
		return bad(reterr, "symlink target out of bounds");
	if (!S_ISDIR(n.mode))
		return ino == STORE_INO_ROOT ? bad(reterr, "root is not a directory") : 0;
	if (n.u.dir.dirent_first != *next_dirent ||
	    !in_bounds(n.u.dir.dirent_first, n.aux, idx->h.n_dirents))
		return bad(reterr, "directory entries out of place");
	if (n.u.dir.parent < 1 || n.u.dir.parent > idx->h.n_inodes ||
	    (ino == STORE_INO_ROOT && n.u.dir.parent != STORE_INO_ROOT))
		return bad(reterr, "directory parent out of range");
	*next_dirent += n.aux;
	return 0;
}

static bool name_valid(const char *name, uint32_t len)
{
	if (len == 0 || len > IDX_NAME_MAX || memchr(name, '/', len) || memchr(name, '\0', len))
		return false;
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

static int name_order(const char *a, uint32_t al, const char *b, uint32_t bl)
{
	int c = memcmp(a, b, MIN(al, bl));

	return c ? c : (al > bl) - (al < bl);
}

/* One directory's run: names valid and strictly ordered, children consistent. */
static int check_run(const store_index *idx, store_ino dir, berth_error *reterr)
{
	idx_inode n, child;
	idx_dirent d, prev = {};

	get_inode(idx, dir, &n);
	for (uint64_t i = n.u.dir.dirent_first; i < n.u.dir.dirent_first + n.aux; i++) {
		get_dirent(idx, i, &d);
		if (!in_bounds(d.name_off, d.name_len, idx->h.strings_size) ||
		    !name_valid((const char *)idx->strings + d.name_off, d.name_len))
			return bad(reterr, "directory entry name");
		if (i > n.u.dir.dirent_first &&
		    name_order((const char *)idx->strings + prev.name_off, prev.name_len,
			       (const char *)idx->strings + d.name_off, d.name_len) >= 0)
			return bad(reterr, "directory entries not sorted");
		if (d.ino <= STORE_INO_ROOT || d.ino > idx->h.n_inodes)
			return bad(reterr, "directory entry inode out of range");
		get_inode(idx, d.ino, &child);
		if (child.mode != d.mode || (S_ISDIR(child.mode) && child.u.dir.parent != dir))
			return bad(reterr, "directory entry does not match its inode");
		prev = d;
	}
	return 0;
}

static int check_xattr_records(const store_index *idx, berth_error *reterr)
{
	idx_xattr x;

	for (uint64_t i = 0; i < idx->n_xattrs; i++) {
		get_xattr(idx, i, &x);
		/* The name must be NUL-terminated inside the section: we hand it out as a C string. */
		if (x.name_len == 0 ||
		    !in_bounds(x.name_off, (uint64_t)x.name_len + 1, idx->h.strings_size) ||
		    idx->strings[x.name_off + x.name_len] != '\0' ||
		    memchr(idx->strings + x.name_off, '\0', x.name_len) ||
		    !in_bounds(x.value_off, x.value_len, idx->h.strings_size))
			return bad(reterr, "xattr out of bounds");
	}
	return 0;
}

static int check_hash(const store_index *idx, berth_error *reterr)
{
	bool empty = false;

	for (uint64_t i = 0; i <= idx->hash_mask; i++) {
		uint64_t slot = get_slot(idx, i);
		if (IDX_SLOT_EMPTY(slot))
			empty = true;
		else if (IDX_SLOT_DIRENT(slot) >= idx->h.n_dirents)
			return bad(reterr, "hash slot out of range");
	}
	return empty ? 0 : bad(reterr, "hash table full");
}

static int check_records(const store_index *idx, berth_error *reterr)
{
	uint64_t next_dirent = 0, content = 0;
	int r;

	for (store_ino ino = 1; ino <= idx->h.n_inodes; ino++) {
		r = check_inode(idx, ino, &next_dirent, &content, reterr);
		if (r < 0)
			return r;
	}
	if (next_dirent != idx->h.n_dirents)
		return bad(reterr, "directory entries not all owned");
	/* The one header field that no section size implies (the checksum covers only sections). */
	if (content != idx->h.content_bytes)
		return bad(reterr, "content size does not match the inodes");
	for (store_ino ino = 1; ino <= idx->h.n_inodes; ino++) {
		idx_inode n;
		get_inode(idx, ino, &n);
		if (S_ISDIR(n.mode) && (r = check_run(idx, ino, reterr)) < 0)
			return r;
	}
	r = check_xattr_records(idx, reterr);
	if (r < 0)
		return r;
	return check_hash(idx, reterr);
}

static int index_check(store_index *idx, berth_error *reterr)
{
	int r = check_header(idx, reterr);

	if (r < 0)
		return r;
	return check_records(idx, reterr);
}

/* ---- Opening ---- */

int store_index_open_mem(const void *data, size_t len, store_index **ret, berth_error *reterr)
{
	_cleanup_(store_index_freep) store_index *idx = calloc(1, sizeof(*idx));
	int r;

	if (!idx)
		return -ENOMEM;
	idx->base = data;
	idx->len = len;
	r = index_check(idx, reterr);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(idx);
	return 0;
}

int store_index_open_fd(int fd, store_index **ret, berth_error *reterr)
{
	_cleanup_(store_index_freep) store_index *idx = calloc(1, sizeof(*idx));
	struct stat st;
	int r;

	if (!idx)
		return -ENOMEM;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof(idx_header))
		return bad(reterr, "not a regular file or too short");
	if ((uint64_t)st.st_size > SIZE_MAX)
		return -EFBIG;
	idx->len = (size_t)st.st_size;
	/* MAP_POPULATE: the checksum reads every page anyway; faulting them in bulk is cheaper. */
	idx->map = mmap(NULL, idx->len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (idx->map == MAP_FAILED) {
		idx->map = NULL;
		return negative_errno();
	}
	idx->base = idx->map;
	r = index_check(idx, reterr);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(idx);
	return 0;
}

static int index_open_file(store *s, const char *path, store_index **ret, berth_error *reterr)
{
	_cleanup_close_ int fd = openat(store_dir_fd(s), path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return negative_errno();
	return store_index_open_fd(fd, ret, reterr);
}

static int index_rebuild(store *s, const store_digest *image_id, berth_error *reterr)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	int r;

	r = store_image_load(s, image_id, &img);
	if (r < 0) {
		char id[STORE_DIGEST_STR_LEN];
		store_digest_str(image_id, id);
		return berth_error_set(reterr, r, "Failed to load image '%s': %s", id,
				       strerror(-r));
	}
	/* A write session: gc must not clean tmp/ or index/ under a build in progress. */
	r = store_write_begin(s);
	if (r < 0)
		return r;
	r = store_index_build(s, img, reterr);
	store_write_end(s);
	return r;
}

int store_index_open(store *s, const store_digest *image_id, store_index **ret, berth_error *reterr)
{
	char path[6 + STORE_DIGEST_HEX_LEN + 1] = "index/";
	int r;

	store_digest_hex(image_id, path + 6);
	r = index_open_file(s, path, ret, NULL);
	if (r >= 0)
		return r;
	if (r != -ENOENT && r != -EBADMSG)
		return berth_error_set(reterr, r, "Failed to open '%s': %s", path, strerror(-r));
	r = index_rebuild(s, image_id, reterr);
	if (r < 0)
		return r;
	return index_open_file(s, path, ret, reterr);
}

/* ---- Reading ---- */

uint64_t store_index_inode_count(const store_index *idx)
{
	return idx->h.n_inodes;
}

uint64_t store_index_content_bytes(const store_index *idx)
{
	return idx->h.content_bytes;
}

static bool ino_valid(const store_index *idx, store_ino ino)
{
	return ino >= 1 && ino <= idx->h.n_inodes;
}

/* The inode of a directory, or -ENOENT / -ENOTDIR. */
static int get_dir(const store_index *idx, store_ino ino, idx_inode *ret)
{
	if (!ino_valid(idx, ino))
		return -ENOENT;
	get_inode(idx, ino, ret);
	return S_ISDIR(ret->mode) ? 0 : -ENOTDIR;
}

int store_index_lookup(const store_index *idx, store_ino parent, const char *name, size_t name_len,
		       store_ino *ret)
{
	idx_inode dir;
	idx_dirent d;
	uint64_t h;
	int r = get_dir(idx, parent, &dir);

	if (r < 0)
		return r;
	if (name_len == 0 || name_len > IDX_NAME_MAX)
		return -ENOENT;
	h = XXH3_64bits_withSeed(name, name_len, parent);
	for (uint64_t pos = h & idx->hash_mask;; pos = (pos + 1) & idx->hash_mask) {
		uint64_t slot = get_slot(idx, pos), di;
		if (IDX_SLOT_EMPTY(slot))
			return -ENOENT;
		di = IDX_SLOT_DIRENT(slot);
		if (IDX_SLOT_TAG(slot) != (uint32_t)(h >> 32) || di < dir.u.dir.dirent_first ||
		    di - dir.u.dir.dirent_first >= dir.aux)
			continue;
		get_dirent(idx, di, &d);
		if (d.name_len == name_len &&
		    memcmp(idx->strings + d.name_off, name, name_len) == 0) {
			*ret = d.ino;
			return 0;
		}
	}
}

int store_index_lookup_path(const store_index *idx, const char *path, store_ino *ret)
{
	store_ino cur = STORE_INO_ROOT;

	while (*path) {
		size_t n = strcspn(path, "/");
		if (n > 0) {
			int r = store_index_lookup(idx, cur, path, n, &cur);
			if (r < 0)
				return r;
		}
		path += n;
		if (*path == '/')
			path++;
	}
	*ret = cur;
	return 0;
}

int store_index_stat(const store_index *idx, store_ino ino, store_inode *ret)
{
	idx_inode n;
	store_inode st;

	if (!ino_valid(idx, ino))
		return -ENOENT;
	get_inode(idx, ino, &n);
	st = (store_inode){ .ino = ino,
			    .mode = n.mode,
			    .nlink = n.nlink,
			    .uid = n.uid,
			    .gid = n.gid,
			    .size = n.size,
			    .mtime_ns = n.mtime_ns,
			    .atime_ns = n.atime_ns,
			    .n_xattrs = n.n_xattrs };
	if (S_ISREG(n.mode)) {
		memcpy(st.content.digest.b, n.u.digest, STORE_DIGEST_LEN);
		st.content.size = n.size;
		st.content.nchunks = n.aux;
	} else if (S_ISLNK(n.mode)) {
		st.link = (const char *)idx->strings + n.u.link_off;
		st.link_len = n.aux;
	} else if (S_ISCHR(n.mode) || S_ISBLK(n.mode))
		st.rdev = n.u.rdev;
	*ret = st;
	return 0;
}

int store_index_dir_size(const store_index *idx, store_ino dir, uint64_t *ret)
{
	idx_inode n;
	int r = get_dir(idx, dir, &n);

	if (r < 0)
		return r;
	*ret = n.aux;
	return 0;
}

int store_index_readdir(const store_index *idx, store_ino dir, uint64_t pos, store_dirent *ret)
{
	idx_inode n;
	idx_dirent d;
	int r = get_dir(idx, dir, &n);

	if (r < 0)
		return r;
	if (pos >= n.aux)
		return -ENOENT;
	get_dirent(idx, n.u.dir.dirent_first + pos, &d);
	*ret = (store_dirent){ .name = (const char *)idx->strings + d.name_off,
			       .name_len = d.name_len,
			       .ino = d.ino,
			       .mode = d.mode };
	return 0;
}

int store_index_parent(const store_index *idx, store_ino dir, store_ino *ret)
{
	idx_inode n;
	int r = get_dir(idx, dir, &n);

	if (r < 0)
		return r;
	*ret = n.u.dir.parent;
	return 0;
}

int store_index_xattr(const store_index *idx, store_ino ino, uint32_t i, const char **ret_name,
		      const void **ret_value, size_t *ret_len)
{
	idx_inode n;
	idx_xattr x;

	if (!ino_valid(idx, ino))
		return -ENOENT;
	get_inode(idx, ino, &n);
	if (i >= n.n_xattrs)
		return -ENOENT;
	get_xattr(idx, n.xattr_first + i, &x);
	*ret_name = (const char *)idx->strings + x.name_off;
	*ret_value = idx->strings + x.value_off;
	*ret_len = x.value_len;
	return 0;
}

int store_index_getxattr(const store_index *idx, store_ino ino, const char *name,
			 const void **ret_value, size_t *ret_len)
{
	idx_inode n;
	idx_xattr x;
	size_t len = strlen(name);

	if (!ino_valid(idx, ino))
		return -ENOENT;
	get_inode(idx, ino, &n);
	for (uint32_t i = 0; i < n.n_xattrs; i++) {
		get_xattr(idx, n.xattr_first + i, &x);
		if (x.name_len == len && memcmp(idx->strings + x.name_off, name, len) == 0) {
			*ret_value = idx->strings + x.value_off;
			*ret_len = x.value_len;
			return 0;
		}
	}
	return -ENODATA;
}
