/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fs/inode.c: the sharded inode table (fs/inode.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/inode.h"
#include "util/macro.h"

#define SHARDS 64

typedef struct shard {
	pthread_mutex_t lock;
	fs_node **buckets; /* lock */
	size_t nbuckets;   /* lock; a power of two */
	size_t count;	   /* lock */
} shard;

struct fs_table {
	shard shards[SHARDS];
	fs_node *root;
};

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finalizer: index inos are dense, upper ones share high bits. */
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static shard *shard_of(fs_table *t, uint64_t ino)
{
	return &t->shards[mix(ino) % SHARDS];
}

static size_t bucket_of(const shard *s, uint64_t ino)
{
	return (mix(ino) / SHARDS) & (s->nbuckets - 1);
}

int fs_table_new(fs_table **ret)
{
	fs_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < SHARDS; i++)
		pthread_mutex_init(&t->shards[i].lock, NULL);
	*ret = t;
	return 0;
}

/* Directories keep their O_PATH fd (lookups use it as a dirfd); other types a file handle, so
 * that the fds held stay few. A file system without handles keeps the fd. */
static void node_take_upper(fs_node *n, int fd)
{
	struct file_handle *fh;
	int mount_id;

	if (fd < 0 || S_ISDIR(n->type)) {
		n->upper = fd;
		return;
	}
	fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	if (fh) {
		fh->handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) == 0) {
			n->upper_fh = fh;
			safe_close(fd);
			return;
		}
		free(fh);
	}
	n->upper = fd;
}

static fs_node *node_new(const fs_node_init *init)
{
	fs_node tmpl = { .ino = init->ino, .type = init->type };
	fs_node *n = malloc(sizeof(*n));

	if (!n)
		return NULL;
	memcpy(n, &tmpl, sizeof(*n));
	pthread_mutex_init(&n->lock, NULL);
	n->lower = init->lower;
	n->upper = -EBADF;
	node_take_upper(n, init->upper);
	n->opaque = init->opaque;
	n->metacopy = init->metacopy;
	return n;
}

static void node_destroy(fs_node *n)
{
	safe_close(n->upper);
	free(n->upper_fh);
	pthread_mutex_destroy(&n->lock);
	free(n->name);
	free(n);
}

fs_table *fs_table_free(fs_table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < SHARDS; i++) {
		shard *s = &t->shards[i];

		for (size_t b = 0; b < s->nbuckets; b++)
			for (fs_node *n = s->buckets[b], *next; n; n = next) {
				next = n->hnext;
				node_destroy(n);
			}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	if (t->root)
		node_destroy(t->root);
	free(t);
	return NULL;
}

fs_node *fs_table_root(fs_table *t)
{
	return t->root;
}

int fs_table_set_root(fs_table *t, const fs_node_init *init)
{
	t->root = node_new(init);
	if (!t->root)
		return -ENOMEM;
	t->root->nlookup = 1;
	return 0;
}

static fs_node *shard_find(shard *s, uint64_t ino)
{
	if (s->nbuckets == 0)
		return NULL;
	for (fs_node *n = s->buckets[bucket_of(s, ino)]; n; n = n->hnext)
		if (n->ino == ino)
			return n;
	return NULL;
}

static int shard_grow(shard *s)
{
	size_t nb = s->nbuckets ? s->nbuckets * 2 : 16;
	fs_node **b = calloc(nb, sizeof(*b));
	size_t old = s->nbuckets;
	fs_node **oldb = s->buckets;

	if (!b)
		return -ENOMEM;
	s->buckets = b;
	s->nbuckets = nb;
	for (size_t i = 0; i < old; i++)
		for (fs_node *n = oldb[i], *next; n; n = next) {
			size_t k = bucket_of(s, n->ino);

			next = n->hnext;
			n->hnext = b[k];
			b[k] = n;
		}
	free(oldb);
	return 0;
}

static int shard_insert(shard *s, fs_node *n)
{
	size_t k;

	if (s->count >= s->nbuckets && shard_grow(s) < 0)
		return -ENOMEM;
	k = bucket_of(s, n->ino);
	n->hnext = s->buckets[k];
	s->buckets[k] = n;
	s->count++;
	return 0;
}

static void shard_remove(shard *s, fs_node *n)
{
	fs_node **p = &s->buckets[bucket_of(s, n->ino)];

	if (n->detached)
		return;

	while (*p != n)
		p = &(*p)->hnext;
	*p = n->hnext;
	s->count--;
}

static void set_parent_locked(fs_table *t, fs_node *n, fs_node *parent, char *name)
{
	if (parent)
		fs_node_ref(t, parent);
	n->parent = parent;
	free(n->name);
	n->name = name;
}

/* Adopts a new name for an existing node that has none worth keeping. */
static void maybe_rename_existing(fs_table *t, fs_node *n, fs_node *parent, const char *name)
{
	fs_node *old = NULL;
	char *nm;

	pthread_mutex_lock(&n->lock);
	if (n->parent && !n->unlinked) {
		pthread_mutex_unlock(&n->lock);
		return;
	}
	nm = strdup(name);
	if (nm) {
		old = n->parent;
		set_parent_locked(t, n, parent, nm);
		n->unlinked = false;
	}
	pthread_mutex_unlock(&n->lock);
	if (old)
		fs_node_unref(t, old);
}

/* The upper file's handle, to tell a reused inode number from the file that had it. */
static struct file_handle *upper_handle(const fs_node_init *init)
{
	struct file_handle *fh;
	int mount_id;

	if (init->upper < 0 || S_ISDIR(init->type))
		return NULL;
	fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	if (!fh)
		return NULL;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(init->upper, "", fh, &mount_id, AT_EMPTY_PATH) < 0) {
		free(fh);
		return NULL;
	}
	return fh;
}

/*
 * Whether node n, found under init's number, is a different file: upper/ numbers come from the
 * upper file system, which reuses the number of a deleted file at once (tar unlinks and
 * re-creates). The kernel may still hold the old node; the new file needs a node of its own.
 * Called with the shard lock held; upper_fh is set once, so reading it needs no node lock.
 */
static bool node_is_other_file(fs_node *n, const fs_node_init *init, const struct file_handle *fh)
{
	const struct file_handle *old = __atomic_load_n(&n->upper_fh, __ATOMIC_ACQUIRE);

	if (n->type != init->type)
		return true;
	if (!fh || !old)
		return false;
	return old->handle_type != fh->handle_type || old->handle_bytes != fh->handle_bytes ||
	       memcmp(old->f_handle, fh->f_handle, fh->handle_bytes) != 0;
}

fs_node *fs_table_lookup_add(fs_table *t, const fs_node_init *init, fs_node *parent,
			     const char *name)
{
	_cleanup_free_ struct file_handle *fh = NULL;
	shard *s;
	fs_node *n;
	char *nm;

	if (init->ino == STORE_INO_ROOT && t->root) {
		safe_close(init->upper);
		fs_table_lookup_more(t, t->root);
		return t->root;
	}
	/* Taken before the shard lock: two shard locks are never held at once. */
	if (parent)
		fs_node_ref(t, parent);
	fh = upper_handle(init);
	s = shard_of(t, init->ino);
	pthread_mutex_lock(&s->lock);
	n = shard_find(s, init->ino);
	if (n && node_is_other_file(n, init, fh)) {
		/* The old node lives on for the kernel's references (ids are node addresses). */
		shard_remove(s, n);
		n->detached = true;
		n = NULL;
	}
	if (n) {
		n->nlookup++;
		n->refs++; /* held across maybe_rename_existing, outside the shard lock */
		pthread_mutex_unlock(&s->lock);
		safe_close(init->upper);
		maybe_rename_existing(t, n, parent, name);
		fs_node_unref(t, n);
		if (parent)
			fs_node_unref(t, parent);
		return n;
	}
	nm = strdup(name);
	n = nm ? node_new(init) : NULL;
	if (!n || shard_insert(s, n) < 0) {
		pthread_mutex_unlock(&s->lock);
		safe_close(init->upper);
		free(n);
		free(nm);
		if (parent)
			fs_node_unref(t, parent);
		return NULL;
	}
	n->nlookup = 1;
	n->parent = parent; /* the ref taken above */
	n->name = nm;
	pthread_mutex_unlock(&s->lock);
	return n;
}

fs_node *fs_table_find(fs_table *t, uint64_t ino)
{
	shard *s;
	fs_node *n;

	if (ino == STORE_INO_ROOT)
		return t->root;
	s = shard_of(t, ino);
	pthread_mutex_lock(&s->lock);
	n = shard_find(s, ino);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void fs_node_unlinked(fs_node *n, fs_node *parent, const char *name)
{
	pthread_mutex_lock(&n->lock);
	if (n->parent == parent && n->name && streq(n->name, name))
		n->unlinked = true;
	pthread_mutex_unlock(&n->lock);
}

void fs_table_lookup_more(fs_table *t, fs_node *n)
{
	shard *s;

	if (n == t->root)
		return; /* the root is never forgotten */
	s = shard_of(t, n->ino);
	pthread_mutex_lock(&s->lock);
	n->nlookup++;
	pthread_mutex_unlock(&s->lock);
}

/* Frees n and walks up the parent chain, whose refs n held. */
static void release_chain(fs_table *t, fs_node *n)
{
	while (n) {
		fs_node *parent = n->parent;
		shard *s;

		node_destroy(n);
		if (!parent || parent == t->root)
			return;
		s = shard_of(t, parent->ino);
		pthread_mutex_lock(&s->lock);
		parent->refs--;
		if (parent->refs || parent->nlookup) {
			pthread_mutex_unlock(&s->lock);
			return;
		}
		shard_remove(s, parent);
		pthread_mutex_unlock(&s->lock);
		n = parent;
	}
}

static void drop(fs_table *t, fs_node *n, uint64_t nlookup, uint64_t refs)
{
	shard *s;

	if (n == t->root)
		return;
	s = shard_of(t, n->ino);
	pthread_mutex_lock(&s->lock);
	n->nlookup -= MIN(nlookup, n->nlookup);
	n->refs -= MIN(refs, n->refs);
	if (n->nlookup || n->refs) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	shard_remove(s, n);
	pthread_mutex_unlock(&s->lock);
	/* Unreachable now: no lookup can find it and nothing holds it, so its fields are ours. */
	release_chain(t, n);
}

void fs_table_forget(fs_table *t, fs_node *n, uint64_t nlookup)
{
	drop(t, n, nlookup, 0);
}

void fs_node_ref(fs_table *t, fs_node *n)
{
	shard *s;

	if (n == t->root)
		return;
	s = shard_of(t, n->ino);
	pthread_mutex_lock(&s->lock);
	n->refs++;
	pthread_mutex_unlock(&s->lock);
}

void fs_node_unref(fs_table *t, fs_node *n)
{
	drop(t, n, 0, 1);
}

uint64_t fs_table_count(fs_table *t)
{
	uint64_t c = t->root ? 1 : 0;

	for (size_t i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&t->shards[i].lock);
		c += t->shards[i].count;
		pthread_mutex_unlock(&t->shards[i].lock);
	}
	return c;
}

void fs_node_get_state(fs_node *n, fs_node_state *ret)
{
	pthread_mutex_lock(&n->lock);
	*ret = (fs_node_state){
		.lower = n->lower,
		.has_upper = n->upper >= 0 || n->upper_fh,
		.upper = n->upper,
		.upper_fh = n->upper_fh,
		.opaque = n->opaque,
		.metacopy = n->metacopy,
		.unlinked = n->unlinked,
	};
	pthread_mutex_unlock(&n->lock);
}

void fs_node_set_upper(fs_node *n, int fd, bool metacopy)
{
	pthread_mutex_lock(&n->lock);
	if (n->upper >= 0 || n->upper_fh)
		safe_close(fd);
	else
		node_take_upper(n, fd);
	n->metacopy = metacopy;
	pthread_mutex_unlock(&n->lock);
}

int fs_node_move(fs_table *t, fs_node *n, fs_node *new_parent, const char *new_name)
{
	char *nm = strdup(new_name);
	fs_node *old;

	if (!nm)
		return -ENOMEM;
	pthread_mutex_lock(&n->lock);
	old = n->parent;
	set_parent_locked(t, n, new_parent, nm);
	pthread_mutex_unlock(&n->lock);
	if (old)
		fs_node_unref(t, old);
	return 0;
}

int fs_node_get_parent(fs_table *t, fs_node *n, fs_node **ret_parent, char **ret_name)
{
	fs_node *p;
	char *nm;

	pthread_mutex_lock(&n->lock);
	p = n->parent;
	if (!p) {
		pthread_mutex_unlock(&n->lock);
		return -ENOENT;
	}
	nm = strdup(n->name);
	if (!nm) {
		pthread_mutex_unlock(&n->lock);
		return -ENOMEM;
	}
	fs_node_ref(t, p);
	pthread_mutex_unlock(&n->lock);
	*ret_parent = p;
	*ret_name = nm;
	return 0;
}
