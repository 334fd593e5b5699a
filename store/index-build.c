/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/index-build.c: merges an image's layers into the view index-write.c writes out.
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

#include "store/index-merge.h"

void index_merger_done(merger *m)
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
		while (t[pos] != IDX_NONE)
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
		if (i == IDX_NONE)
			return IDX_NONE;
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
		.first_child = IDX_NONE,
		.next_sibling = IDX_NONE,
		.group = IDX_NONE,
	};
	if (parent != IDX_NONE) {
		m->nodes[idx].next_sibling = m->nodes[parent].first_child;
		m->nodes[parent].first_child = idx;
	}
	size_t pos = hash & (m->table_size - 1);
	while (m->table[pos] != IDX_NONE)
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
	for (uint32_t c = m->nodes[idx].first_child; c != IDX_NONE; c = m->nodes[c].next_sibling)
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

	if (idx != IDX_NONE && m->nodes[idx].alive && m->nodes[idx].type == STORE_ENTRY_DIR) {
		*ret = idx;
		return 0;
	}
	/* len > 0 here: the root is always an alive directory. */
	r = ensure_dir(m, path, parent_len(path, len), &parent);
	if (r < 0)
		return r;
	if (idx == IDX_NONE)
		r = node_new(m, path, len, hash, parent, &idx);
	else if (m->nodes[idx].alive)
		r = kill_node(m, idx); /* a non-directory: a lower layer's file in the way */
	if (r < 0)
		return r;
	node_set(&m->nodes[idx], NULL, STORE_ENTRY_DIR, IDX_NONE);
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
	const mnode *last = m->last_parent != IDX_NONE ? &m->nodes[m->last_parent] : NULL;
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
		if (idx == IDX_NONE || !m->nodes[idx].alive)
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
		node_set(&m->nodes[0], e, STORE_ENTRY_DIR, IDX_NONE);
		return 0;
	}
	r = parent_of(m, e->path, parent_len(e->path, len), &parent);
	if (r < 0)
		return r;
	hash = path_hash(e->path, len);
	idx = table_find(m, e->path, len, hash);
	if (idx == IDX_NONE)
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
 * the HARDLINK entries join it. groups[i] is entry i's group or IDX_NONE; *ret is NULL if the layer
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
		if (groups[ti] == IDX_NONE) {
			if (m->n_groups == IDX_NONE) {
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
		r = apply_entry(m, e, inode_of, groups ? groups[i] : IDX_NONE);
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

	*m = (merger){ .last_parent = IDX_NONE };
	for (size_t i = 0; i < n_layers; i++)
		most = MAX(most, store_tree_count(layers[i]));
	most = MIN(most + most / 8 + 1, (size_t)NODES_MAX);
	r = nodes_reserve(m, most);
	if (r >= 0)
		r = table_grow(m, 2 * most);
	if (r >= 0)
		r = node_new(m, "", 0, path_hash("", 0), IDX_NONE, &root);
	if (r < 0)
		return r;
	node_set(&m->nodes[root], NULL, STORE_ENTRY_DIR, IDX_NONE);
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
	for (uint32_t c = d->first_child; c != IDX_NONE; c = m->nodes[c].next_sibling)
		if (m->nodes[c].alive)
			m->kids[m->n_kids++] = c;
	d->kids_count = (uint32_t)(m->n_kids - d->kids_first);
	qsort_r(m->kids + d->kids_first, d->kids_count, sizeof(uint32_t), name_cmp, m->nodes);
}

static void visit(merger *m, uint32_t idx)
{
	mnode *n = &m->nodes[idx];

	if (n->group != IDX_NONE && m->group_ino[n->group]) {
		n->ino = m->group_ino[n->group];
		m->group_nlink[n->group]++;
		return;
	}
	n->ino = ++m->n_inodes;
	m->ino_node[n->ino - 1] = idx;
	if (n->group != IDX_NONE) {
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
	_cleanup_(index_merger_done) merger m = {};
	int r;

	r = merge(&m, layers, n_layers);
	if (r >= 0)
		r = index_write_mem(&m, out);
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

static int build_from(store *s, store_tree **trees, size_t n, const char *path, berth_error *reterr)
{
	_cleanup_(index_merger_done) merger m = {};
	int r = merge(&m, (const store_tree *const *)trees, n);

	if (r < 0)
		return berth_error_set(reterr, r, "Failed to merge %zu layers into an index: %s", n,
				       strerror(-r));
	if (mkdirat(store_dir_fd(s), "index", 0755) < 0 && errno != EEXIST)
		return berth_error_set(reterr, negative_errno(),
				       "Failed to create index directory");
	r = index_write_file(store_dir_fd(s), path, &m);
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
