/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/index-build.c: merges an image's layers and writes its index (format: index-format.h).
 *
 * The merged view is a set of nodes, one per path ever seen, found through a hash table keyed by
 * XXH3 of the path. A node is alive or dead: whiteouts and opaque directories kill subtrees
 * instead of freeing them, and a later layer may revive a dead node. A node is linked into its
 * parent's child list once, when it is created, and stays there; since a path's parent is always
 * the same node, a revived node is already where it belongs, and the dead ones are skipped when
 * the children are finally sorted. Invariant: an alive node's parent is alive, so a dead node has
 * no alive descendants and a kill never needs to descend into dead subtrees.
 *
 * Entries' strings are borrowed from the layer trees, which must outlive the build.
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
#include "store/index.h"
#include "store/tree.h"
#include "util/fileio.h"

#define NONE	  UINT32_MAX
#define NODES_MAX (UINT32_MAX - 1)

typedef struct mnode {
	const char *path; /* borrowed; path_len bytes, not necessarily NUL-terminated there */
	uint64_t hash;
	const store_entry *e; /* NULL: an implied directory (0755 root:root, mtime 0) */
	uint32_t path_len;
	uint32_t name_off; /* where the last component starts */
	uint32_t parent;
	uint32_t first_child, next_sibling;
	uint32_t group;	     /* hard-link group, or NONE */
	uint32_t ino;	     /* assigned at the end */
	uint32_t kids_first; /* DIR, at the end: run in merger.kids */
	uint32_t kids_count;
	uint8_t type; /* store_entry_type, HARDLINK resolved to REG */
	bool alive;
} mnode;

typedef struct merger {
	mnode *nodes;
	size_t n, cap;
	uint32_t *table; /* node index or NONE; power-of-two size */
	size_t table_size;
	uint32_t *stack; /* scratch for kills and the final walk */
	size_t stack_n, stack_cap;
	uint32_t n_groups;
	uint32_t last_parent; /* parent_of()'s last answer, or NONE */
	/* Results of the final walk. */
	uint32_t *kids; /* sorted alive children of every directory, runs in ino order */
	size_t n_kids;
	uint32_t *ino_node; /* node of each ino (first name of a hard-link group) */
	uint32_t n_inodes;
	uint32_t *group_ino, *group_nlink;
} merger;

static void merger_done(merger *m)
{
	free(m->nodes);
	free(m->table);
	free(m->stack);
	free(m->kids);
	free(m->ino_node);
	free(m->group_ino);
	free(m->group_nlink);
}

static uint64_t path_hash(const char *path, size_t len)
{
	return XXH3_64bits(path, len);
}

/* ---- The path -> node table ---- */

static int table_grow(merger *m, size_t min_size)
{
	size_t size = m->table_size ? m->table_size * 2 : 1024;
	uint32_t *t;

	while (size < min_size)
		size *= 2;
	t = malloc(size * sizeof(uint32_t));

	if (!t)
		return -ENOMEM;
	memset(t, 0xff, size * sizeof(uint32_t));
	for (size_t i = 0; i < m->n; i++) {
		size_t pos = m->nodes[i].hash & (size - 1);
		while (t[pos] != NONE)
			pos = (pos + 1) & (size - 1);
		t[pos] = (uint32_t)i;
	}
	free(m->table);
	m->table = t;
	m->table_size = size;
	return 0;
}

static uint32_t table_find(const merger *m, const char *path, size_t len, uint64_t hash)
{
	for (size_t pos = hash & (m->table_size - 1);; pos = (pos + 1) & (m->table_size - 1)) {
		uint32_t i = m->table[pos];
		if (i == NONE)
			return NONE;
		const mnode *n = &m->nodes[i];
		if (n->hash == hash && n->path_len == len && memcmp(n->path, path, len) == 0)
			return i;
	}
}

static int nodes_reserve(merger *m, size_t cap)
{
	mnode *nn;

	cap = MAX(cap, (size_t)1024);
	if (cap <= m->cap)
		return 0;
	nn = realloc(m->nodes, cap * sizeof(mnode));
	if (!nn)
		return -ENOMEM;
	m->nodes = nn;
	m->cap = cap;
	return 0;
}

/* Creates a dead node for a path that has none, linked under parent. */
static int node_new(merger *m, const char *path, size_t len, uint64_t hash, uint32_t parent,
		    uint32_t *ret)
{
	const char *slash;
	uint32_t idx;
	int r;

	if (m->n >= NODES_MAX)
		return -EFBIG;
	if ((m->n + 1) * 2 > m->table_size && (r = table_grow(m, 0)) < 0)
		return r;
	if (m->n == m->cap && (r = nodes_reserve(m, m->cap * 2)) < 0)
		return r;
	idx = (uint32_t)m->n++;
	slash = memrchr(path, '/', len);
	m->nodes[idx] = (mnode){
		.path = path,
		.hash = hash,
		.path_len = (uint32_t)len,
		.name_off = slash ? (uint32_t)(slash - path + 1) : 0,
		.parent = parent,
		.first_child = NONE,
		.next_sibling = NONE,
		.group = NONE,
	};
	if (parent != NONE) {
		m->nodes[idx].next_sibling = m->nodes[parent].first_child;
		m->nodes[parent].first_child = idx;
	}
	size_t pos = hash & (m->table_size - 1);
	while (m->table[pos] != NONE)
		pos = (pos + 1) & (m->table_size - 1);
	m->table[pos] = idx;
	*ret = idx;
	return 0;
}

/* ---- Killing subtrees ---- */

static int stack_push(merger *m, uint32_t v)
{
	if (m->stack_n == m->stack_cap) {
		size_t cap = m->stack_cap ? m->stack_cap * 2 : 256;
		uint32_t *s = realloc(m->stack, cap * sizeof(uint32_t));
		if (!s)
			return -ENOMEM;
		m->stack = s;
		m->stack_cap = cap;
	}
	m->stack[m->stack_n++] = v;
	return 0;
}

static int push_alive_children(merger *m, uint32_t idx)
{
	for (uint32_t c = m->nodes[idx].first_child; c != NONE; c = m->nodes[c].next_sibling)
		if (m->nodes[c].alive) {
			int r = stack_push(m, c);
			if (r < 0)
				return r;
		}
	return 0;
}

/* Kills every alive descendant of idx (idx itself stays as it is). */
static int kill_children(merger *m, uint32_t idx)
{
	int r;

	m->stack_n = 0;
	r = push_alive_children(m, idx);
	while (r >= 0 && m->stack_n > 0) {
		uint32_t c = m->stack[--m->stack_n];
		m->nodes[c].alive = false;
		r = push_alive_children(m, c);
	}
	return r;
}

static int kill_node(merger *m, uint32_t idx)
{
	m->nodes[idx].alive = false;
	return kill_children(m, idx);
}

/* ---- Applying a layer ---- */

static size_t parent_len(const char *path, size_t len)
{
	const char *slash = memrchr(path, '/', len);

	return slash ? (size_t)(slash - path) : 0;
}

static void node_set(mnode *n, const store_entry *e, uint8_t type, uint32_t group)
{
	n->e = e;
	n->type = type;
	n->group = group;
	n->alive = true;
}

/* The alive directory node of path[0, len), creating implied directories as needed. */
static int ensure_dir(merger *m, const char *path, size_t len, uint32_t *ret)
{
	uint64_t hash = path_hash(path, len);
	uint32_t idx = table_find(m, path, len, hash), parent;
	int r;

	if (idx != NONE && m->nodes[idx].alive && m->nodes[idx].type == STORE_ENTRY_DIR) {
		*ret = idx;
		return 0;
	}
	/* len > 0 here: the root is always an alive directory. */
	r = ensure_dir(m, path, parent_len(path, len), &parent);
	if (r < 0)
		return r;
	if (idx == NONE)
		r = node_new(m, path, len, hash, parent, &idx);
	else if (m->nodes[idx].alive)
		r = kill_node(m, idx); /* a non-directory: a lower layer's file in the way */
	if (r < 0)
		return r;
	node_set(&m->nodes[idx], NULL, STORE_ENTRY_DIR, NONE);
	*ret = idx;
	return 0;
}

/*
 * ensure_dir() for the parent of an entry, remembering the last answer: a layer's entries come
 * in path order, so siblings follow each other, and nothing between two siblings can remove their
 * parent (only entries under it lie between them). Still checked alive, to be safe.
 */
static int parent_of(merger *m, const char *path, size_t len, uint32_t *ret)
{
	const mnode *last = m->last_parent != NONE ? &m->nodes[m->last_parent] : NULL;
	int r;

	if (last && last->alive && last->type == STORE_ENTRY_DIR && last->path_len == len &&
	    memcmp(last->path, path, len) == 0) {
		*ret = m->last_parent;
		return 0;
	}
	r = ensure_dir(m, path, len, ret);
	if (r >= 0)
		m->last_parent = *ret;
	return r;
}

static int apply_removals(merger *m, const store_tree *t)
{
	size_t n = store_tree_count(t);
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		const store_entry *e = store_tree_entry(t, i);
		bool whiteout = e->type == STORE_ENTRY_WHITEOUT;
		if (!whiteout && !(e->flags & STORE_ENTRY_OPAQUE))
			continue;
		size_t len = strlen(e->path);
		uint32_t idx = table_find(m, e->path, len, path_hash(e->path, len));
		if (idx == NONE || !m->nodes[idx].alive)
			continue;
		if (whiteout)
			r = kill_node(m, idx);
		else if (m->nodes[idx].type == STORE_ENTRY_DIR)
			r = kill_children(m, idx);
	}
	return r;
}

static int apply_entry(merger *m, const store_entry *e, const store_entry *inode_of, uint32_t group)
{
	size_t len = strlen(e->path);
	uint8_t type = e->type == STORE_ENTRY_HARDLINK ? STORE_ENTRY_REG : e->type;
	uint32_t parent, idx;
	uint64_t hash;
	int r;

	if (len == 0) { /* the root: metadata only, children stay */
		node_set(&m->nodes[0], e, STORE_ENTRY_DIR, NONE);
		return 0;
	}
	r = parent_of(m, e->path, parent_len(e->path, len), &parent);
	if (r < 0)
		return r;
	hash = path_hash(e->path, len);
	idx = table_find(m, e->path, len, hash);
	if (idx == NONE)
		r = node_new(m, e->path, len, hash, parent, &idx);
	else if (m->nodes[idx].alive && type != STORE_ENTRY_DIR)
		r = kill_children(m, idx); /* a directory replaced by a non-directory */
	if (r < 0)
		return r;
	node_set(&m->nodes[idx], inode_of, type, group);
	return 0;
}

/*
 * Hard links of one layer: every REG entry that is the target of a HARDLINK gets a new group, and
 * the HARDLINK entries join it. groups[i] is entry i's group or NONE; *ret is NULL if the layer
 * has no hard links.
 */
static int layer_groups(merger *m, const store_tree *t, uint32_t **ret)
{
	size_t n = store_tree_count(t);
	uint32_t *groups = NULL;

	for (size_t i = 0; i < n; i++) {
		const store_entry *e = store_tree_entry(t, i);
		if (e->type != STORE_ENTRY_HARDLINK)
			continue;
		if (!groups) {
			groups = malloc(n * sizeof(uint32_t));
			if (!groups)
				return -ENOMEM;
			memset(groups, 0xff, n * sizeof(uint32_t));
		}
		size_t ti = (size_t)(store_tree_find(t, e->link) - store_tree_entry(t, 0));
		if (groups[ti] == NONE) {
			if (m->n_groups == NONE) {
				free(groups);
				return -EFBIG;
			}
			groups[ti] = m->n_groups++;
		}
		groups[i] = groups[ti];
	}
	*ret = groups;
	return 0;
}

static int apply_layer(merger *m, const store_tree *t)
{
	_cleanup_free_ uint32_t *groups = NULL;
	size_t n = store_tree_count(t);
	int r;

	r = apply_removals(m, t);
	if (r >= 0)
		r = layer_groups(m, t, &groups);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		const store_entry *e = store_tree_entry(t, i), *inode_of = e;
		if (e->type == STORE_ENTRY_WHITEOUT)
			continue;
		if (e->type == STORE_ENTRY_HARDLINK)
			inode_of = store_tree_find(t, e->link);
		r = apply_entry(m, e, inode_of, groups ? groups[i] : NONE);
	}
	return r;
}

/* Sized for the largest layer up front: most paths of an image are in its largest layer, and
 * growing a table of millions of entries costs more than the merge itself. */
static int merger_init(merger *m, const store_tree *const *layers, size_t n_layers)
{
	size_t most = 0;
	uint32_t root;
	int r;

	*m = (merger){ .last_parent = NONE };
	for (size_t i = 0; i < n_layers; i++)
		most = MAX(most, store_tree_count(layers[i]));
	most = MIN(most + most / 8 + 1, (size_t)NODES_MAX);
	r = nodes_reserve(m, most);
	if (r >= 0)
		r = table_grow(m, 2 * most);
	if (r >= 0)
		r = node_new(m, "", 0, path_hash("", 0), NONE, &root);
	if (r < 0)
		return r;
	node_set(&m->nodes[root], NULL, STORE_ENTRY_DIR, NONE);
	return 0;
}

/* ---- Inode numbers: depth-first, name order ---- */

static int name_cmp(const void *a, const void *b, void *userdata)
{
	const mnode *nodes = userdata;
	const mnode *x = &nodes[*(const uint32_t *)a], *y = &nodes[*(const uint32_t *)b];
	uint32_t xl = x->path_len - x->name_off, yl = y->path_len - y->name_off;
	int c = memcmp(x->path + x->name_off, y->path + y->name_off, MIN(xl, yl));

	return c ? c : (xl > yl) - (xl < yl);
}

/* Collects idx's alive children, sorted by name, as the next run of m->kids. */
static void collect_kids(merger *m, uint32_t idx)
{
	mnode *d = &m->nodes[idx];

	d->kids_first = (uint32_t)m->n_kids;
	for (uint32_t c = d->first_child; c != NONE; c = m->nodes[c].next_sibling)
		if (m->nodes[c].alive)
			m->kids[m->n_kids++] = c;
	d->kids_count = (uint32_t)(m->n_kids - d->kids_first);
	qsort_r(m->kids + d->kids_first, d->kids_count, sizeof(uint32_t), name_cmp, m->nodes);
}

static void visit(merger *m, uint32_t idx)
{
	mnode *n = &m->nodes[idx];

	if (n->group != NONE && m->group_ino[n->group]) {
		n->ino = m->group_ino[n->group];
		m->group_nlink[n->group]++;
		return;
	}
	n->ino = ++m->n_inodes;
	m->ino_node[n->ino - 1] = idx;
	if (n->group != NONE) {
		m->group_ino[n->group] = n->ino;
		m->group_nlink[n->group] = 1;
	}
}

static int assign_inos(merger *m)
{
	size_t alive = 0;
	int r;

	for (size_t i = 0; i < m->n; i++)
		alive += m->nodes[i].alive;
	m->kids = malloc(alive * sizeof(uint32_t));
	m->ino_node = malloc(alive * sizeof(uint32_t));
	m->group_ino = calloc(m->n_groups + 1, sizeof(uint32_t));
	m->group_nlink = calloc(m->n_groups + 1, sizeof(uint32_t));
	if (!m->kids || !m->ino_node || !m->group_ino || !m->group_nlink)
		return -ENOMEM;
	m->stack_n = 0;
	r = stack_push(m, 0);
	while (r >= 0 && m->stack_n > 0) {
		uint32_t idx = m->stack[--m->stack_n];
		visit(m, idx);
		if (m->nodes[idx].type != STORE_ENTRY_DIR)
			continue;
		collect_kids(m, idx);
		/* Reverse, so that the first name is popped (and numbered) first. */
		for (uint32_t k = m->nodes[idx].kids_count; r >= 0 && k > 0; k--)
			r = stack_push(m, m->kids[m->nodes[idx].kids_first + k - 1]);
	}
	return r;
}

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

	if (n->group != NONE)
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

static int merge(merger *m, const store_tree *const *layers, size_t n_layers)
{
	int r = merger_init(m, layers, n_layers);

	for (size_t i = 0; r >= 0 && i < n_layers; i++)
		r = apply_layer(m, layers[i]);
	if (r >= 0)
		r = assign_inos(m);
	return r;
}

int store_index_build_mem(const store_tree *const *layers, size_t n_layers, buf *out,
			  berth_error *reterr)
{
	_cleanup_(merger_done) merger m = {};
	sink k = { .out = out, .fd = -EBADF };
	int r;

	r = merge(&m, layers, n_layers);
	if (r >= 0)
		r = write_index(&m, &k);
	sink_done(&k);
	if (r < 0)
		return berth_error_set(reterr, r, "Failed to merge %zu layers into an index: %s",
				       n_layers, strerror(-r));
	return 0;
}

/* ---- In the store ---- */

static void trees_free(store_tree **trees, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_tree_free(trees[i]);
	free(trees);
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
static int write_index_file(store *s, const merger *m, const char *path)
{
	char tmp[6 + STORE_DIGEST_HEX_LEN + 16];
	_cleanup_close_ int fd = tmp_create(store_dir_fd(s), path, tmp, sizeof(tmp));
	sink k = { .fd = fd };
	int r;

	if (fd < 0)
		return fd;
	r = write_index(m, &k);
	sink_done(&k);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && renameat(store_dir_fd(s), tmp, store_dir_fd(s), path) < 0)
		r = negative_errno();
	if (r < 0) {
		unlinkat(store_dir_fd(s), tmp, 0);
		return r;
	}
	return fsync_dir(store_dir_fd(s), path);
}

static int build_from(store *s, store_tree **trees, size_t n, const char *path, berth_error *reterr)
{
	_cleanup_(merger_done) merger m = {};
	int r = merge(&m, (const store_tree *const *)trees, n);

	if (r < 0)
		return berth_error_set(reterr, r, "Failed to merge %zu layers into an index: %s", n,
				       strerror(-r));
	if (mkdirat(store_dir_fd(s), "index", 0755) < 0 && errno != EEXIST)
		return berth_error_set(reterr, negative_errno(),
				       "Failed to create index directory");
	r = write_index_file(s, &m, path);
	if (r < 0)
		return berth_error_set(reterr, r, "Failed to write '%s': %s", path, strerror(-r));
	return 0;
}

int store_index_build(store *s, const store_image *img, berth_error *reterr)
{
	store_tree **trees = calloc(MAX(img->n_layers, (size_t)1), sizeof(store_tree *));
	char path[6 + STORE_DIGEST_HEX_LEN + 1] = "index/";
	int r = 0;

	if (!trees)
		return -ENOMEM;
	store_digest_hex(&img->id, path + 6);
	for (size_t i = 0; r >= 0 && i < img->n_layers; i++)
		r = store_tree_load(s, &img->layers[i].tree, &trees[i], reterr);
	if (r >= 0)
		r = build_from(s, trees, img->n_layers, path, reterr);
	trees_free(trees, img->n_layers);
	return r;
}
