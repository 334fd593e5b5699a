/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/tree.c: building, checking and (de)serializing a layer's entries.
 *
 * Encoding, version 1 (every integer a canonical LEB128 varint unless noted):
 *
 *     "BRTT" 0x01, entry count, then per entry, in path order:
 *       path: length of the prefix shared with the previous path, suffix length, suffix bytes
 *       type, flags, mode, uid, gid, zigzag(mtime_ns), zigzag(atime_ns)
 *       CHR/BLK: rdev;  SYMLINK/HARDLINK: link length, link bytes;
 *       REG: 32 digest bytes (raw), size, nchunks
 *       xattr count, per xattr: name length, name bytes, value length, value bytes
 *
 * Decoding refuses overlong varints and shared prefixes shorter than the longest, so a valid tree
 * has exactly one encoding and therefore one digest, and encode(decode(x)) == x for every x that decodes. Every count read from the input is
 * capped by what the remaining input could hold, so hostile bytes cannot make us allocate more than
 * a small multiple of their length (paths aside: prefix sharing lets a short entry name a long
 * path, bounded by the 4 KiB path limit).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/tree.h"

#define TREE_MAGIC	     "BRTT"
#define TREE_VERSION	     1
#define TREE_PATH_MAX	     4096 /* paths are shorter than this */
#define TREE_NAME_MAX	     255
#define TREE_XATTR_NAME_MAX  255
#define TREE_XATTR_VALUE_MAX 65535
/* Smallest possible encoded entry: ten one-byte varints. */
#define TREE_MIN_ENTRY_BYTES 10

struct store_tree {
	store_entry *entries;
	size_t n, cap;
	bool finished;
};

int store_tree_new(store_tree **ret)
{
	store_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*ret = t;
	return 0;
}

void store_entry_done(store_entry *e)
{
	free(e->path);
	free(e->link);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		free(e->xattrs[i].name);
		free(e->xattrs[i].value);
	}
	free(e->xattrs);
	*e = (store_entry){};
}

store_tree *store_tree_free(store_tree *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		store_entry_done(&t->entries[i]);
	free(t->entries);
	free(t);
	return NULL;
}

bool store_path_is_normalized(const char *path)
{
	size_t len, comp = 0;

	if (!path)
		return false;
	len = strlen(path);
	if (len == 0)
		return true;
	if (len >= TREE_PATH_MAX || path[0] == '/' || path[len - 1] == '/')
		return false;
	for (const char *p = path;; p++) {
		if (*p != '/' && *p != '\0') {
			comp++;
			continue;
		}
		const char *c = p - comp;
		if (comp == 0 || comp > TREE_NAME_MAX)
			return false;
		if ((comp == 1 && c[0] == '.') || (comp == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (*p == '\0')
			return true;
		comp = 0;
	}
}

static int tree_reserve(store_tree *t, size_t extra)
{
	size_t cap;
	store_entry *n;

	if (t->n + extra <= t->cap)
		return 0;
	cap = MAX(t->cap * 2, t->n + extra);
	cap = MAX(cap, (size_t)16);
	if (cap > SIZE_MAX / sizeof(store_entry))
		return -ENOMEM;
	n = realloc(t->entries, cap * sizeof(store_entry));
	if (!n)
		return -ENOMEM;
	t->entries = n;
	t->cap = cap;
	return 0;
}

int store_tree_add(store_tree *t, store_entry *e, berth_error *reterr)
{
	int r;

	if (!store_path_is_normalized(e->path))
		return berth_error_set(reterr, -EINVAL, "path '%s' is not normalized",
				       e->path ? e->path : "(null)");
	r = tree_reserve(t, 1);
	if (r < 0)
		return r;
	t->entries[t->n++] = *e;
	*e = (store_entry){};
	t->finished = false;
	return 0;
}

/* ---- Invariants, shared by finish (code -EINVAL) and decode (code -EBADMSG) ---- */

static bool type_has_link(uint8_t type)
{
	return type == STORE_ENTRY_SYMLINK || type == STORE_ENTRY_HARDLINK;
}

static bool type_has_rdev(uint8_t type)
{
	return type == STORE_ENTRY_CHR || type == STORE_ENTRY_BLK;
}

static int check_xattrs(const store_entry *e, int code, berth_error *reterr)
{
	for (size_t i = 0; i < e->n_xattrs; i++) {
		const store_xattr *x = &e->xattrs[i];
		size_t nl = x->name ? strlen(x->name) : 0;

		if (nl == 0 || nl > TREE_XATTR_NAME_MAX)
			return berth_error_set(reterr, code,
					       "'%s': xattr name empty or longer than %d bytes",
					       e->path, TREE_XATTR_NAME_MAX);
		if (x->len > TREE_XATTR_VALUE_MAX || (x->len > 0 && !x->value))
			return berth_error_set(reterr, code, "'%s': xattr '%s' value too large",
					       e->path, x->name);
		if (i > 0 && strcmp(e->xattrs[i - 1].name, x->name) >= 0)
			return berth_error_set(reterr, code,
					       "'%s': xattrs not sorted or duplicated at '%s'",
					       e->path, x->name);
	}
	return 0;
}

static int check_link(const store_entry *e, int code, berth_error *reterr)
{
	size_t len;

	if (!type_has_link(e->type)) {
		if (e->link)
			return berth_error_set(reterr, code,
					       "'%s': link target on an entry that is no link",
					       e->path);
		return 0;
	}
	len = e->link ? strlen(e->link) : 0;
	if (len == 0 || len >= TREE_PATH_MAX)
		return berth_error_set(reterr, code, "'%s': link target empty or too long",
				       e->path);
	if (e->type == STORE_ENTRY_HARDLINK && !store_path_is_normalized(e->link))
		return berth_error_set(reterr, code, "'%s': hard link target '%s' not normalized",
				       e->path, e->link);
	return 0;
}

static int check_entry(const store_entry *e, int code, berth_error *reterr)
{
	int r;

	if (e->type < STORE_ENTRY_REG || e->type >= _STORE_ENTRY_TYPE_MAX)
		return berth_error_set(reterr, code, "'%s': unknown entry type %u", e->path,
				       e->type);
	if (e->flags & ~STORE_ENTRY_OPAQUE)
		return berth_error_set(reterr, code, "'%s': unknown flags 0x%x", e->path, e->flags);
	if ((e->flags & STORE_ENTRY_OPAQUE) && e->type != STORE_ENTRY_DIR)
		return berth_error_set(reterr, code, "'%s': opaque flag on a non-directory",
				       e->path);
	if (e->mode > 07777)
		return berth_error_set(reterr, code, "'%s': mode 0%o has more than permission bits",
				       e->path, e->mode);
	if (e->path[0] == '\0' && e->type != STORE_ENTRY_DIR)
		return berth_error_set(reterr, code, "the root entry is not a directory");
	if (e->type == STORE_ENTRY_REG) {
		const store_file_ref *c = &e->content;
		if ((c->nchunks == 0) != (c->size == 0) || c->nchunks > c->size)
			return berth_error_set(reterr, code,
					       "'%s': %u chunks cannot hold %llu bytes", e->path,
					       c->nchunks, (unsigned long long)c->size);
	}
	r = check_link(e, code, reterr);
	if (r < 0)
		return r;
	return check_xattrs(e, code, reterr);
}

/* The parent path of p is p[0, len): 0 for top-level entries (parent is the root ""). */
static size_t parent_len(const char *p)
{
	const char *slash = strrchr(p, '/');

	return slash ? (size_t)(slash - p) : 0;
}

static const store_entry *tree_find_n(const store_tree *t, const char *path, size_t len)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = t->entries[mid].path;
		int c = strncmp(m, path, len);
		if (c == 0)
			c = m[len] == '\0' ? 0 : 1;
		if (c == 0)
			return &t->entries[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const store_entry *store_tree_find(const store_tree *t, const char *path)
{
	return tree_find_n(t, path, strlen(path));
}

/* Order, uniqueness, parents and hard-link targets: invariants between entries. */
static int check_relations(const store_tree *t, int code, berth_error *reterr)
{
	/* The parent checked last: runs of siblings are common, a binary search each is not free. */
	const char *checked = NULL;
	size_t checked_len = 0;

	for (size_t i = 0; i < t->n; i++) {
		const store_entry *e = &t->entries[i];

		if (i > 0 && strcmp(t->entries[i - 1].path, e->path) >= 0) {
			bool dup = streq(t->entries[i - 1].path, e->path);
			return berth_error_set(reterr, dup && code == -EINVAL ? -EEXIST : code,
					       "'%s': %s", e->path,
					       dup ? "duplicate path" : "entries out of order");
		}
		size_t pl = parent_len(e->path);
		if (e->path[0] != '\0' &&
		    !(checked && pl == checked_len && memcmp(checked, e->path, pl) == 0)) {
			const store_entry *p = tree_find_n(t, e->path, pl);
			if (p && p->type != STORE_ENTRY_DIR)
				return berth_error_set(reterr, code,
						       "'%s': parent '%.*s' is not a directory",
						       e->path, (int)pl, e->path);
			checked = e->path;
			checked_len = pl;
		}
		if (e->type == STORE_ENTRY_HARDLINK) {
			const store_entry *target = store_tree_find(t, e->link);
			if (!target || target->type != STORE_ENTRY_REG)
				return berth_error_set(
					reterr, code,
					"'%s': hard link target '%s' is not a regular file of this layer",
					e->path, e->link);
		}
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const store_entry *)a)->path, ((const store_entry *)b)->path);
}

/* Fields that do not apply to an entry's type are not encoded: clear them so that the tree in
 * memory is the tree its encoding describes. */
static void entry_normalize(store_entry *e)
{
	if (!type_has_rdev(e->type))
		e->rdev = 0;
	if (e->type != STORE_ENTRY_REG)
		e->content = (store_file_ref){};
}

int store_tree_finish(store_tree *t, berth_error *reterr)
{
	int r;

	if (t->n > 1)
		qsort(t->entries, t->n, sizeof(store_entry), entry_cmp);
	for (size_t i = 0; i < t->n; i++) {
		r = check_entry(&t->entries[i], -EINVAL, reterr);
		if (r < 0)
			return r;
		entry_normalize(&t->entries[i]);
	}
	r = check_relations(t, -EINVAL, reterr);
	if (r < 0)
		return r;
	t->finished = true;
	return 0;
}

size_t store_tree_count(const store_tree *t)
{
	return t->n;
}

const store_entry *store_tree_entry(const store_tree *t, size_t i)
{
	assert(i < t->n);
	return &t->entries[i];
}

/* ---- Encoding ---- */

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int put_bytes(buf *out, const void *data, size_t len)
{
	int r = buf_append_varint(out, len);

	if (r < 0)
		return r;
	return buf_append(out, data, len);
}

static int encode_path(buf *out, const char *prev, const char *path)
{
	size_t shared = 0;
	int r;

	while (prev[shared] && prev[shared] == path[shared])
		shared++;
	r = buf_append_varint(out, shared);
	if (r < 0)
		return r;
	return put_bytes(out, path + shared, strlen(path + shared));
}

static int encode_typed(buf *out, const store_entry *e)
{
	int r = 0;

	if (type_has_rdev(e->type))
		r = buf_append_varint(out, e->rdev);
	else if (type_has_link(e->type))
		r = put_bytes(out, e->link, strlen(e->link));
	else if (e->type == STORE_ENTRY_REG) {
		r = buf_append(out, e->content.digest.b, STORE_DIGEST_LEN);
		if (r >= 0)
			r = buf_append_varint(out, e->content.size);
		if (r >= 0)
			r = buf_append_varint(out, e->content.nchunks);
	}
	return r;
}

static int encode_entry(buf *out, const char *prev, const store_entry *e)
{
	const uint64_t fixed[] = {
		e->type, e->flags, e->mode, e->uid, e->gid, zigzag(e->mtime_ns), zigzag(e->atime_ns)
	};
	int r = encode_path(out, prev, e->path);

	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed); i++)
		r = buf_append_varint(out, fixed[i]);
	if (r >= 0)
		r = encode_typed(out, e);
	if (r >= 0)
		r = buf_append_varint(out, e->n_xattrs);
	for (size_t i = 0; r >= 0 && i < e->n_xattrs; i++) {
		const store_xattr *x = &e->xattrs[i];
		r = put_bytes(out, x->name, strlen(x->name));
		if (r >= 0)
			r = put_bytes(out, x->value, x->len);
	}
	return r;
}

int store_tree_encode(const store_tree *t, buf *out)
{
	const char *prev = "";
	int r;

	if (!t->finished)
		return -EINVAL;
	r = buf_append(out, TREE_MAGIC "\x01", 5);
	if (r >= 0)
		r = buf_append_varint(out, t->n);
	for (size_t i = 0; r >= 0 && i < t->n; i++) {
		r = encode_entry(out, prev, &t->entries[i]);
		prev = t->entries[i].path;
	}
	return r;
}

/* ---- Decoding ---- */

typedef struct decoder {
	const uint8_t *p, *end;
	size_t index; /* entry being decoded, for messages */
	berth_error *err;
} decoder;

static int dec_fail(decoder *d, const char *what)
{
	return berth_error_set(d->err, -EBADMSG, "tree entry %zu: %s", d->index, what);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >>= 7)
		n++;
	return n;
}

static int dec_varint(decoder *d, uint64_t *ret)
{
	const uint8_t *start = d->p;
	uint64_t v;

	if (varint_decode(&d->p, d->end, &v) < 0)
		return dec_fail(d, "truncated or invalid varint");
	if ((size_t)(d->p - start) != varint_len(v))
		return dec_fail(d, "overlong varint");
	*ret = v;
	return 0;
}

static int dec_u32(decoder *d, uint32_t *ret)
{
	uint64_t v;
	int r = dec_varint(d, &v);

	if (r < 0)
		return r;
	if (v > UINT32_MAX)
		return dec_fail(d, "value out of range");
	*ret = (uint32_t)v;
	return 0;
}

/* A length-prefixed byte string of at most max bytes, without NUL bytes. */
static int dec_string(decoder *d, size_t max, const uint8_t **ret, size_t *ret_len)
{
	uint64_t len;
	int r = dec_varint(d, &len);

	if (r < 0)
		return r;
	if (len > max)
		return dec_fail(d, "string too long");
	if (len > (uint64_t)(d->end - d->p))
		return dec_fail(d, "string runs past the end");
	if (memchr(d->p, '\0', len))
		return dec_fail(d, "NUL byte in a string");
	*ret = d->p;
	*ret_len = len;
	d->p += len;
	return 0;
}

static char *strndup_bytes(const uint8_t *p, size_t len)
{
	return strndup((const char *)p, len);
}

static int dec_path(decoder *d, const char *prev, char **ret)
{
	uint64_t shared;
	const uint8_t *suffix;
	size_t slen, plen = strlen(prev);
	char *path;
	int r = dec_varint(d, &shared);

	if (r < 0)
		return r;
	if (shared > plen)
		return dec_fail(d, "shared path prefix longer than the previous path");
	r = dec_string(d, TREE_PATH_MAX, &suffix, &slen);
	if (r < 0)
		return r;
	if (shared + slen >= TREE_PATH_MAX)
		return dec_fail(d, "path too long");
	path = malloc(shared + slen + 1);
	if (!path)
		return -ENOMEM;
	memcpy(path, prev, shared);
	memcpy(path + shared, suffix, slen);
	path[shared + slen] = '\0';
	/* Only the longest shared prefix is canonical (one tree, one encoding). */
	if (slen > 0 && shared < plen && prev[shared] == path[shared]) {
		free(path);
		return dec_fail(d, "shared path prefix not the longest");
	}
	*ret = path;
	return 0;
}

static int dec_fixed(decoder *d, store_entry *e)
{
	uint64_t type, flags, mt, at;
	int r;

	if ((r = dec_varint(d, &type)) < 0 || (r = dec_varint(d, &flags)) < 0 ||
	    (r = dec_u32(d, &e->mode)) < 0 || (r = dec_u32(d, &e->uid)) < 0 ||
	    (r = dec_u32(d, &e->gid)) < 0 || (r = dec_varint(d, &mt)) < 0 ||
	    (r = dec_varint(d, &at)) < 0)
		return r;
	if (type >= _STORE_ENTRY_TYPE_MAX || flags > 0xff)
		return dec_fail(d, "type or flags out of range");
	e->type = (uint8_t)type;
	e->flags = (uint8_t)flags;
	e->mtime_ns = unzigzag(mt);
	e->atime_ns = unzigzag(at);
	return 0;
}

static int dec_content(decoder *d, store_file_ref *c)
{
	int r;

	if ((size_t)(d->end - d->p) < STORE_DIGEST_LEN)
		return dec_fail(d, "truncated content digest");
	memcpy(c->digest.b, d->p, STORE_DIGEST_LEN);
	d->p += STORE_DIGEST_LEN;
	r = dec_varint(d, &c->size);
	if (r >= 0)
		r = dec_u32(d, &c->nchunks);
	return r;
}

static int dec_typed(decoder *d, store_entry *e)
{
	const uint8_t *s;
	size_t len;
	int r = 0;

	if (type_has_rdev(e->type))
		r = dec_varint(d, &e->rdev);
	else if (type_has_link(e->type)) {
		r = dec_string(d, TREE_PATH_MAX, &s, &len);
		if (r >= 0 && !(e->link = strndup_bytes(s, len)))
			r = -ENOMEM;
	} else if (e->type == STORE_ENTRY_REG)
		r = dec_content(d, &e->content);
	return r;
}

static int dec_xattr(decoder *d, store_xattr *x)
{
	const uint8_t *s;
	uint64_t len;
	size_t nlen;
	int r = dec_string(d, TREE_XATTR_NAME_MAX, &s, &nlen);

	if (r < 0)
		return r;
	if (!(x->name = strndup_bytes(s, nlen)))
		return -ENOMEM;
	r = dec_varint(d, &len);
	if (r < 0)
		return r;
	if (len > TREE_XATTR_VALUE_MAX || len > (uint64_t)(d->end - d->p))
		return dec_fail(d, "xattr value too long or truncated");
	if (len > 0) {
		if (!(x->value = malloc(len)))
			return -ENOMEM;
		memcpy(x->value, d->p, len);
	}
	x->len = len;
	d->p += len;
	return 0;
}

static int dec_xattrs(decoder *d, store_entry *e)
{
	uint64_t n;
	int r = dec_varint(d, &n);

	if (r < 0)
		return r;
	if (n == 0)
		return 0;
	/* Each xattr takes at least three bytes: caps the allocation by the input. */
	if (n > (uint64_t)(d->end - d->p) / 3)
		return dec_fail(d, "more xattrs than the input can hold");
	e->xattrs = calloc(n, sizeof(store_xattr));
	if (!e->xattrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		e->n_xattrs = i + 1; /* so that store_entry_done frees what was decoded */
		r = dec_xattr(d, &e->xattrs[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int dec_entry(decoder *d, const char *prev, store_entry *e)
{
	int r = dec_path(d, prev, &e->path);

	if (r >= 0)
		r = dec_fixed(d, e);
	if (r >= 0)
		r = dec_typed(d, e);
	if (r >= 0)
		r = dec_xattrs(d, e);
	if (r >= 0 && !store_path_is_normalized(e->path))
		r = dec_fail(d, "path not normalized");
	if (r >= 0)
		r = check_entry(e, -EBADMSG, d->err);
	return r;
}

static int dec_header(decoder *d, uint64_t *ret_count)
{
	int r;

	if ((size_t)(d->end - d->p) < 5 || memcmp(d->p, TREE_MAGIC, 4) != 0)
		return berth_error_set(d->err, -EBADMSG, "not a tree (bad magic)");
	if (d->p[4] != TREE_VERSION)
		return berth_error_set(d->err, -EBADMSG, "tree version %u not supported", d->p[4]);
	d->p += 5;
	r = dec_varint(d, ret_count);
	if (r < 0)
		return r;
	if (*ret_count > (uint64_t)(d->end - d->p) / TREE_MIN_ENTRY_BYTES)
		return berth_error_set(d->err, -EBADMSG,
				       "entry count larger than the input can hold");
	return 0;
}

int store_tree_decode(const void *data, size_t len, store_tree **ret, berth_error *reterr)
{
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	decoder d = { .p = data, .end = (const uint8_t *)data + len, .err = reterr };
	uint64_t count;
	int r;

	r = dec_header(&d, &count);
	if (r < 0)
		return r;
	r = store_tree_new(&t);
	if (r < 0)
		return r;
	r = tree_reserve(t, count);
	if (r < 0)
		return r;
	for (size_t i = 0; i < count; i++) {
		d.index = i;
		t->n = i + 1; /* the tree frees partially decoded entries */
		t->entries[i] = (store_entry){};
		r = dec_entry(&d, i > 0 ? t->entries[i - 1].path : "", &t->entries[i]);
		if (r < 0)
			return r;
	}
	if (d.p != d.end)
		return berth_error_set(reterr, -EBADMSG, "trailing bytes after the last entry");
	r = check_relations(t, -EBADMSG, reterr);
	if (r < 0)
		return r;
	t->finished = true;
	*ret = TAKE_PTR(t);
	return 0;
}

/* ---- In the store ---- */

int store_tree_put(store *s, const store_tree *t, store_digest *ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	int r = store_tree_encode(t, &b);

	if (r < 0)
		return r;
	return store_object_put(s, STORE_TREE, b.data, b.len, ret);
}

int store_tree_load(store *s, const store_digest *d, store_tree **ret, berth_error *reterr)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	int r = store_object_get(s, STORE_TREE, d, &b);

	if (r < 0) {
		char hex[STORE_DIGEST_STR_LEN];
		store_digest_str(d, hex);
		return berth_error_set(reterr, r, "cannot read tree %s", hex);
	}
	return store_tree_decode(b.data, b.len, ret, reterr);
}
