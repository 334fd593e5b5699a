/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/tarlayer.c: tar entries -> a store_tree, under the layer rules of fetch/tarlayer.h.
 *
 * Every path the layer mentions is in one hash table: an entry's path (value: its index), a
 * directory implied by a deeper path (IMPLIED), or an opaque marker (MARKER). Two facts make the
 * parent rule cheap in both orders: every IMPLIED or DIR path has all its ancestors IMPLIED or DIR
 * (they were walked when it went in), so a new path walks up only until the first ancestor already
 * known; and a non-directory may not take a path that is IMPLIED, which catches "a/b" before "a"
 * the symlink. The table is keyed by XXH3 with a random seed: paths come from whoever built the
 * tar, and a fixed hash would let them collide every path into one bucket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <xxhash.h>

#include "fetch/tarlayer.h"
#include "util/macro.h"

#define LAYER_PATH_MAX	       4096
#define LAYER_NAME_MAX	       255
#define LAYER_XATTR_NAME_MAX   255
#define LAYER_XATTR_VALUE_MAX  65535
#define LAYER_DEFAULT_MAX_SIZE (UINT64_C(1) << 40)

#define WH_PREFIX      ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE      ".wh..wh..opq"

enum {
	MAP_IMPLIED = -1, /* a directory named only as the parent of other paths */
	MAP_MARKER = -2,  /* an opaque marker (a non-directory, for the rules) */
};

typedef struct map_slot {
	char *key; /* NULL: empty */
	int64_t value;
} map_slot;

typedef struct opaque_dir {
	char *path;
	int64_t mtime_ns, atime_ns;
} opaque_dir;

struct fetch_tarlayer {
	uint64_t max_size;
	store_entry *entries;
	size_t n, cap;
	map_slot *slots;
	size_t n_slots, n_used; /* n_slots: a power of two */
	uint64_t seed;
	opaque_dir *opaque;
	size_t n_opaque;
};

/* ---- The path table ---- */

static uint64_t map_hash(const fetch_tarlayer *l, const char *key)
{
	return XXH3_64bits_withSeed(key, strlen(key), l->seed);
}

static map_slot *map_find(const fetch_tarlayer *l, const char *key)
{
	size_t mask = l->n_slots - 1;

	for (size_t i = map_hash(l, key) & mask;; i = (i + 1) & mask) {
		map_slot *s = &l->slots[i];
		if (!s->key || streq(s->key, key))
			return s;
	}
}

static int map_grow(fetch_tarlayer *l)
{
	size_t n = l->n_slots ? l->n_slots * 2 : 1024;
	map_slot *old = l->slots;
	size_t n_old = l->n_slots;

	l->slots = calloc(n, sizeof(map_slot));
	if (!l->slots) {
		l->slots = old;
		return -ENOMEM;
	}
	l->n_slots = n;
	for (size_t i = 0; i < n_old; i++)
		if (old[i].key)
			*map_find(l, old[i].key) = old[i];
	free(old);
	return 0;
}

/* The slot for key, growing the table first if needed; NULL on ENOMEM. */
static map_slot *map_slot_for_insert(fetch_tarlayer *l, const char *key)
{
	if ((l->n_used + 1) * 10 > l->n_slots * 7 && map_grow(l) < 0)
		return NULL;
	return map_find(l, key);
}

static int map_put(fetch_tarlayer *l, const char *key, int64_t value)
{
	map_slot *s = map_slot_for_insert(l, key);

	if (!s)
		return -ENOMEM;
	if (!s->key) {
		s->key = strdup(key);
		if (!s->key)
			return -ENOMEM;
		l->n_used++;
	}
	s->value = value;
	return 0;
}

/* true and *ret if present. */
static bool map_get(const fetch_tarlayer *l, const char *key, int64_t *ret)
{
	const map_slot *s;

	if (l->n_slots == 0)
		return false;
	s = map_find(l, key);
	if (!s->key)
		return false;
	*ret = s->value;
	return true;
}

/* ---- Lifecycle ---- */

int fetch_tarlayer_new(uint64_t max_entry_size, fetch_tarlayer **ret)
{
	_cleanup_(fetch_tarlayer_freep) fetch_tarlayer *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->max_size = max_entry_size ? max_entry_size : LAYER_DEFAULT_MAX_SIZE;
	if (getrandom(&l->seed, sizeof(l->seed), 0) != sizeof(l->seed))
		l->seed = (uint64_t)(uintptr_t)l ^ 0x9e3779b97f4a7c15u;
	if (map_grow(l) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(l);
	return 0;
}

fetch_tarlayer *fetch_tarlayer_free(fetch_tarlayer *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		store_entry_done(&l->entries[i]);
	free(l->entries);
	for (size_t i = 0; i < l->n_slots; i++)
		free(l->slots[i].key);
	free(l->slots);
	for (size_t i = 0; i < l->n_opaque; i++)
		free(l->opaque[i].path);
	free(l->opaque);
	free(l);
	return NULL;
}

uint64_t fetch_tarlayer_count(const fetch_tarlayer *l)
{
	return l->n;
}

/* ---- Paths ---- */

/* A path as it may appear in a message: printable, bounded. */
static const char *printable(const char *s, char *out, size_t outlen)
{
	size_t i = 0;

	for (; s[i] && i + 4 < outlen; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

#define PRINTABLE(s) printable((s), (char[256]){}, 256)

/* Normalizes into *ret, or returns -EINVAL with *ret_rule set. */
static int normalize(const char *in, char **ret, const char **ret_rule)
{
	_cleanup_free_ char *out = NULL;
	size_t n = 0, len = strlen(in);

	if (len == 0)
		return *ret_rule = "empty path", -EINVAL;
	if (in[0] == '/')
		return *ret_rule = "absolute path (a leading '/' is not stripped)", -EINVAL;
	out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	for (const char *p = in; *p;) {
		size_t c = strcspn(p, "/");

		if (c == 2 && p[0] == '.' && p[1] == '.')
			return *ret_rule = "path escapes the layer ('..' component)", -EINVAL;
		if (c > LAYER_NAME_MAX)
			return *ret_rule = "path component longer than 255 bytes", -EINVAL;
		if (c > 0 && !(c == 1 && p[0] == '.')) {
			if (n > 0)
				out[n++] = '/';
			memcpy(out + n, p, c);
			n += c;
		}
		p += c;
		while (*p == '/')
			p++;
	}
	if (n >= LAYER_PATH_MAX)
		return *ret_rule = "path of 4096 bytes or more", -EINVAL;
	out[n] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

int fetch_tar_path_normalize(const char *path, char **ret, berth_error *reterr)
{
	const char *rule = NULL;
	int r = normalize(path, ret, &rule);

	if (r == -EINVAL)
		return berth_error_set(reterr, r, "entry '%s': %s", PRINTABLE(path), rule);
	return r;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* A copy of the parent of path ("" for top-level paths). */
static char *parent_dup(const char *path)
{
	const char *b = base_name(path);

	return strndup(path, b == path ? 0 : (size_t)(b - path - 1));
}

/* ---- Rules ---- */

typedef struct add_ctx {
	fetch_tarlayer *l;
	const fetch_tar_entry *te;
	const char *name; /* printable original path, for messages */
	berth_error *reterr;
} add_ctx;

static int refuse(const add_ctx *c, int code, const char *rule)
{
	return berth_error_set(c->reterr, code, "entry '%s': %s", c->name, rule);
}

/* Every ancestor of path must be a directory (or implied one); records the new ones as IMPLIED. */
static int check_parents(add_ctx *c, const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	char *slash;
	int64_t v;
	int r;

	if (!p)
		return -ENOMEM;
	while ((slash = strrchr(p, '/'))) {
		*slash = '\0';
		if (map_get(c->l, p, &v)) {
			if (v == MAP_IMPLIED ||
			    (v >= 0 && c->l->entries[v].type == STORE_ENTRY_DIR))
				return 0;
			if (v >= 0 && c->l->entries[v].type == STORE_ENTRY_SYMLINK)
				return berth_error_set(
					c->reterr, -EINVAL,
					"entry '%s': parent '%s' is a symlink of this layer",
					c->name, PRINTABLE(p));
			return berth_error_set(
				c->reterr, -EINVAL,
				"entry '%s': parent '%s' is not a directory in this layer", c->name,
				PRINTABLE(p));
		}
		r = map_put(c->l, p, MAP_IMPLIED);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The path must be new, and a non-directory must not take a path that has entries below it. */
static int check_new_path(add_ctx *c, const char *path, uint8_t type)
{
	int64_t v;

	if (!map_get(c->l, path, &v))
		return 0;
	if (v != MAP_IMPLIED)
		return refuse(
			c, -EEXIST,
			"duplicate path (GNU tar would let the later entry replace the earlier; a layer may say only one thing about a path)");
	if (type != STORE_ENTRY_DIR)
		return refuse(c, -EINVAL,
			      "not a directory, but earlier entries of the layer are below it");
	return 0;
}

static int check_components(add_ctx *c, const char *path)
{
	/* A ".wh." name anywhere but last would put entries below a whiteout. */
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		if (p[n] == '/' && strneq(p, WH_PREFIX, strlen(WH_PREFIX)))
			return refuse(c, -EINVAL, "whiteout name used as a directory");
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* Resolves a hard link's target to the path of an earlier regular file. */
static int resolve_hardlink(add_ctx *c, const char *path, char **ret)
{
	_cleanup_free_ char *t = NULL;
	const char *rule = NULL;
	const store_entry *target;
	int64_t v;
	int r;

	if (!c->te->link || !c->te->link[0])
		return refuse(c, -EINVAL, "hard link without a target");
	if (c->te->size > 0)
		return refuse(c, -EINVAL, "hard link entry carries data");
	r = normalize(c->te->link, &t, &rule);
	if (r == -EINVAL)
		return berth_error_set(c->reterr, r, "entry '%s': hard link target '%s': %s",
				       c->name, PRINTABLE(c->te->link), rule);
	if (r < 0)
		return r;
	if (streq(t, path))
		return refuse(c, -EINVAL, "hard link to itself");
	if (!map_get(c->l, t, &v) || v < 0)
		return berth_error_set(
			c->reterr, -EINVAL,
			"entry '%s': hard link to '%s', which is not an earlier regular file of the layer",
			c->name, PRINTABLE(t));
	target = &c->l->entries[v];
	switch (target->type) {
	case STORE_ENTRY_REG:
		break;
	case STORE_ENTRY_HARDLINK:
		free(t);
		t = strdup(target->link);
		if (!t)
			return -ENOMEM;
		break;
	case STORE_ENTRY_DIR:
		return refuse(c, -EINVAL, "hard link to a directory");
	case STORE_ENTRY_SYMLINK:
		return refuse(c, -EINVAL, "hard link to a symlink");
	default:
		return refuse(c, -EINVAL, "hard link to something that is not a regular file");
	}
	*ret = TAKE_PTR(t);
	return 0;
}

static int64_t clamp_ns(int64_t sec, int64_t nsec)
{
	int64_t ns;

	if (__builtin_mul_overflow(sec, INT64_C(1000000000), &ns) ||
	    __builtin_add_overflow(ns, nsec, &ns))
		return sec < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

static int xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const store_xattr *)a)->name, ((const store_xattr *)b)->name);
}

static int copy_xattrs(add_ctx *c, store_entry *e)
{
	const fetch_tar_entry *te = c->te;
	size_t n = 0;

	if (te->n_xattrs == 0)
		return 0;
	e->xattrs = calloc(te->n_xattrs, sizeof(store_xattr));
	if (!e->xattrs)
		return -ENOMEM;
	for (size_t i = 0; i < te->n_xattrs; i++) {
		const fetch_tar_xattr *x = &te->xattrs[i];
		size_t nl = x->name ? strlen(x->name) : 0;
		store_xattr *d = &e->xattrs[e->n_xattrs];

		if (nl == 0 || nl > LAYER_XATTR_NAME_MAX)
			return refuse(c, -EINVAL, "xattr name empty or longer than 255 bytes");
		if (x->len > LAYER_XATTR_VALUE_MAX)
			return refuse(c, -EINVAL, "xattr value larger than 65535 bytes");
		d->name = strdup(x->name);
		d->value = malloc(x->len ? x->len : 1);
		if (!d->name || !d->value) {
			free(d->name);
			free(d->value);
			*d = (store_xattr){};
			return -ENOMEM;
		}
		if (x->len)
			memcpy(d->value, x->value, x->len);
		d->len = x->len;
		e->n_xattrs++;
	}
	qsort(e->xattrs, e->n_xattrs, sizeof(store_xattr), xattr_cmp);
	/* libarchive reports an xattr twice when a tar has both its SCHILY and LIBARCHIVE forms. */
	for (size_t i = 0; i < e->n_xattrs; i++) {
		store_xattr *x = &e->xattrs[i];
		if (n > 0 && streq(e->xattrs[n - 1].name, x->name)) {
			store_xattr *prev = &e->xattrs[n - 1];
			bool same = prev->len == x->len &&
				    memcmp(prev->value, x->value, x->len) == 0;
			free(x->name);
			free(x->value);
			if (!same)
				return refuse(c, -EINVAL,
					      "xattr given twice with different values");
			continue;
		}
		e->xattrs[n++] = *x;
	}
	e->n_xattrs = n;
	return 0;
}

static int fill_entry(add_ctx *c, store_entry *e, char *path, uint8_t type)
{
	const fetch_tar_entry *te = c->te;

	e->path = path;
	e->type = type;
	e->mode = te->mode & 07777;
	if (te->uid < 0 || te->uid > UINT32_MAX || te->gid < 0 || te->gid > UINT32_MAX)
		return refuse(c, -EINVAL, "uid or gid out of range");
	e->uid = (uint32_t)te->uid;
	e->gid = (uint32_t)te->gid;
	e->mtime_ns = clamp_ns(te->mtime_sec, te->mtime_nsec);
	e->atime_ns = te->has_atime ? clamp_ns(te->atime_sec, te->atime_nsec) : e->mtime_ns;
	if (type == STORE_ENTRY_CHR || type == STORE_ENTRY_BLK)
		e->rdev = te->rdev;
	if (type == STORE_ENTRY_SYMLINK) {
		if (!te->link || !te->link[0])
			return refuse(c, -EINVAL, "symlink without a target");
		if (strlen(te->link) >= LAYER_PATH_MAX)
			return refuse(c, -EINVAL, "symlink target of 4096 bytes or more");
		e->link = strdup(te->link);
		if (!e->link)
			return -ENOMEM;
	}
	return copy_xattrs(c, e);
}

/* Moves a filled entry into the layer under its path. */
static int append_entry(fetch_tarlayer *l, store_entry *e, uint64_t *ret_index)
{
	int r;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		store_entry *n = reallocarray(l->entries, cap, sizeof(store_entry));
		if (!n)
			return -ENOMEM;
		l->entries = n;
		l->cap = cap;
	}
	r = map_put(l, e->path, (int64_t)l->n);
	if (r < 0)
		return r;
	l->entries[l->n] = *e;
	*e = (store_entry){};
	*ret_index = l->n++;
	return 0;
}

static int add_opaque_marker(add_ctx *c, const char *path)
{
	fetch_tarlayer *l = c->l;
	_cleanup_free_ char *dir = parent_dup(path);
	opaque_dir *n;
	int r;

	if (!dir)
		return -ENOMEM;
	r = check_new_path(c, path, 0);
	if (r < 0)
		return r;
	r = check_parents(c, path);
	if (r < 0)
		return r;
	r = map_put(l, path, MAP_MARKER);
	if (r < 0)
		return r;
	n = reallocarray(l->opaque, l->n_opaque + 1, sizeof(opaque_dir));
	if (!n)
		return -ENOMEM;
	l->opaque = n;
	n[l->n_opaque++] = (opaque_dir){
		TAKE_PTR(dir),
		clamp_ns(c->te->mtime_sec, c->te->mtime_nsec),
		c->te->has_atime ? clamp_ns(c->te->atime_sec, c->te->atime_nsec)
				 : clamp_ns(c->te->mtime_sec, c->te->mtime_nsec),
	};
	return FETCH_TARLAYER_SKIP;
}

/* ".wh.NAME" -> the path "dir/NAME" of a WHITEOUT entry, in *ret_path. */
static int whiteout_target(add_ctx *c, const char *path, char **ret_path)
{
	const char *base = base_name(path);
	const char *name = base + strlen(WH_PREFIX);
	size_t dirlen = (size_t)(base - path);
	char *t;

	if (has_prefix(base, WH_META_PREFIX))
		return refuse(c, -EINVAL,
			      "unknown whiteout kind (AUFS metadata below the top level)");
	if (!name[0] || streq(name, ".") || streq(name, ".."))
		return refuse(c, -EINVAL, "whiteout of '.', '..' or of an empty name");
	t = malloc(dirlen + strlen(name) + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t, path, dirlen);
	strcpy(t + dirlen, name);
	*ret_path = t;
	return 0;
}

static int add_entry(add_ctx *c, char *path, uint8_t type, uint64_t *ret_ordinal)
{
	_cleanup_(store_entry_done) store_entry e = {};
	_cleanup_free_ char *p = path;
	uint64_t idx;
	int r;

	if (path[0] == '\0' && type != STORE_ENTRY_DIR)
		return refuse(c, -EINVAL, "the layer's root is not a directory");
	r = check_new_path(c, path, type);
	if (r >= 0)
		r = check_parents(c, path);
	if (r >= 0 && type == STORE_ENTRY_HARDLINK)
		r = resolve_hardlink(c, path, &e.link);
	if (r < 0)
		return r;
	r = fill_entry(c, &e, TAKE_PTR(p), type);
	if (r < 0)
		return r;
	r = append_entry(c->l, &e, &idx);
	if (r < 0)
		return r;
	*ret_ordinal = idx;
	return type == STORE_ENTRY_REG ? FETCH_TARLAYER_CONTENT : FETCH_TARLAYER_SKIP;
}

int fetch_tarlayer_add(fetch_tarlayer *l, const fetch_tar_entry *te, uint64_t *ret_ordinal,
		       berth_error *reterr)
{
	add_ctx c = { l, te, PRINTABLE(te->path ? te->path : ""), reterr };
	_cleanup_free_ char *path = NULL;
	char *target = NULL;
	uint64_t ordinal = 0;
	int r;

	if (te->size < 0 || (uint64_t)te->size > l->max_size)
		return berth_error_set(reterr, -EFBIG,
				       "entry '%s': size %lld exceeds the limit of %llu bytes",
				       c.name, (long long)te->size,
				       (unsigned long long)l->max_size);
	r = fetch_tar_path_normalize(te->path ? te->path : "", &path, reterr);
	if (r < 0)
		return r;
	if (te->type == 0 || te->type >= STORE_ENTRY_WHITEOUT)
		return refuse(&c, -EINVAL, "unknown entry type");
	/* AUFS bookkeeping (".wh..wh.plnk" and the like) at the top: not part of the image. */
	if (has_prefix(path, WH_META_PREFIX) && !streq(path, WH_OPAQUE))
		return FETCH_TARLAYER_SKIP;
	r = check_components(&c, path);
	if (r < 0)
		return r;
	if (streq(base_name(path), WH_OPAQUE))
		return add_opaque_marker(&c, path);
	if (has_prefix(base_name(path), WH_PREFIX)) {
		r = whiteout_target(&c, path, &target);
		if (r < 0)
			return r;
		return add_entry(&c, target, STORE_ENTRY_WHITEOUT, &ordinal);
	}
	r = add_entry(&c, TAKE_PTR(path), te->type, &ordinal);
	if (r == FETCH_TARLAYER_CONTENT)
		*ret_ordinal = ordinal;
	return r;
}

void fetch_tarlayer_set_content(fetch_tarlayer *l, uint64_t ordinal, const store_file_ref *ref)
{
	if (ordinal < l->n && l->entries[ordinal].type == STORE_ENTRY_REG)
		l->entries[ordinal].content = *ref;
}

/* ---- Finish ---- */

static int apply_opaque(fetch_tarlayer *l)
{
	for (size_t i = 0; i < l->n_opaque; i++) {
		opaque_dir *o = &l->opaque[i];
		store_entry e = {};
		uint64_t idx;
		int64_t v;
		int r;

		if (map_get(l, o->path, &v) && v >= 0) {
			/* check_parents() let only directories be parents. */
			l->entries[v].flags |= STORE_ENTRY_OPAQUE;
			continue;
		}
		e = (store_entry){ .path = TAKE_PTR(o->path),
				   .type = STORE_ENTRY_DIR,
				   .flags = STORE_ENTRY_OPAQUE,
				   .mode = 0755,
				   .mtime_ns = o->mtime_ns,
				   .atime_ns = o->atime_ns };
		r = append_entry(l, &e, &idx);
		if (r < 0) {
			store_entry_done(&e);
			return r;
		}
	}
	return 0;
}

static int index_cmp(const void *a, const void *b, void *userdata)
{
	const store_entry *base = userdata;

	return strcmp(base[*(const uint32_t *)a].path, base[*(const uint32_t *)b].path);
}

int fetch_tarlayer_finish(fetch_tarlayer *l, store_tree **ret_tree, uint32_t **ret_map,
			  size_t *ret_n, berth_error *reterr)
{
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	_cleanup_free_ uint32_t *order = NULL, *map = NULL;
	int r;

	r = apply_opaque(l);
	if (r < 0)
		return r;
	if (l->n > UINT32_MAX)
		return berth_error_set(reterr, -EFBIG, "layer has too many entries");
	order = malloc((l->n + 1) * sizeof(uint32_t));
	map = malloc((l->n + 1) * sizeof(uint32_t));
	if (!order || !map)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		order[i] = (uint32_t)i;
	/* The tree sorts by strcmp() too, so entry order[k] will be the tree's entry k. */
	qsort_r(order, l->n, sizeof(uint32_t), index_cmp, l->entries);
	r = store_tree_new(&t);
	if (r < 0)
		return r;
	for (size_t k = 0; k < l->n; k++) {
		map[order[k]] = (uint32_t)k;
		r = store_tree_add(t, &l->entries[order[k]], reterr);
		if (r < 0)
			return r;
	}
	r = store_tree_finish(t, reterr);
	if (r < 0)
		return r;
	*ret_n = l->n;
	l->n = 0;
	*ret_tree = TAKE_PTR(t);
	*ret_map = TAKE_PTR(map);
	return 0;
}
