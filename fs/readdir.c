/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/readdir.c: the merged directory: upper entries (whiteouts hidden), then the index's
 * entries that upper/ neither replaces nor whites out, unless the directory is opaque.
 *
 * The listing is a snapshot taken when a reader starts at offset 0, so offsets are indexes into
 * it and stay stable while the reader deletes what it has read (rm -rf). d_ino is computed the
 * way lookup computes st_ino (fs_resolve), so they agree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs/fs-private.h"
#include "util/macro.h"

typedef struct dir_builder {
	fs_dir d;
	size_t cap;
	char **hidden; /* upper names (entries and whiteouts): the lower ones of these do not show */
	size_t n_hidden, cap_hidden;
} dir_builder;

static int add_entry(dir_builder *b, const char *name, size_t len, uint64_t ino, uint32_t type)
{
	char *nm;

	if (b->d.n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		fs_dirent *e = reallocarray(b->d.entries, nc, sizeof(*e));

		if (!e)
			return -ENOMEM;
		b->d.entries = e;
		b->cap = nc;
	}
	nm = strndup(name, len);
	if (!nm)
		return -ENOMEM;
	b->d.entries[b->d.n++] = (fs_dirent){ .name = nm, .ino = ino, .type = type };
	return 0;
}

static int add_hidden(dir_builder *b, const char *name)
{
	char *nm;

	if (b->n_hidden == b->cap_hidden) {
		size_t nc = b->cap_hidden ? b->cap_hidden * 2 : 16;
		char **h = reallocarray(b->hidden, nc, sizeof(*h));

		if (!h)
			return -ENOMEM;
		b->hidden = h;
		b->cap_hidden = nc;
	}
	nm = strdup(name);
	if (!nm)
		return -ENOMEM;
	b->hidden[b->n_hidden++] = nm;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_hidden(const dir_builder *b, const char *name, size_t len)
{
	char key[256];
	const char *k = key;

	if (len >= sizeof(key) || b->n_hidden == 0)
		return false;
	memcpy(key, name, len);
	key[len] = '\0';
	return bsearch(&k, b->hidden, b->n_hidden, sizeof(char *), cmp_str) != NULL;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int read_upper(fs *f, fs_node *dir, int upper, dir_builder *b)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	int fd, r;

	fd = openat(upper, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return -ENOMEM;
	}
	while ((errno = 0, de = readdir(d))) {
		fs_child c;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		r = add_hidden(b, de->d_name);
		if (r < 0)
			return r;
		r = fs_resolve(f, dir, de->d_name, false, &c);
		if (r == -ENOENT)
			continue; /* a whiteout, or gone since readdir */
		if (r < 0)
			return r;
		r = add_entry(b, de->d_name, strlen(de->d_name), c.ino, c.type);
		if (r < 0)
			return r;
	}
	if (errno)
		return negative_errno();
	if (b->n_hidden)
		qsort(b->hidden, b->n_hidden, sizeof(char *), cmp_str);
	return 0;
}

static int read_lower(fs *f, store_ino lower, dir_builder *b)
{
	store_dirent de;
	int r;

	for (uint64_t pos = 0;; pos++) {
		r = store_index_readdir(f->idx, lower, pos, &de);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		if (is_hidden(b, de.name, de.name_len))
			continue;
		r = add_entry(b, de.name, de.name_len, de.ino, de.mode & S_IFMT);
		if (r < 0)
			return r;
	}
}

static uint64_t parent_ino(fs *f, fs_node *dir)
{
	fs_node *p;
	char *name;
	uint64_t ino;

	if (fs_node_get_parent(f->table, dir, &p, &name) < 0)
		return dir->ino;
	ino = p->ino;
	free(name);
	fs_node_unref(f->table, p);
	return ino;
}

int fs_dir_read(fs *f, fs_node *dir, fs_dir *ret)
{
	dir_builder b = {};
	fs_node_state s;
	int r;

	fs_node_get_state(dir, &s);
	r = add_entry(&b, ".", 1, dir->ino, S_IFDIR);
	if (r >= 0)
		r = add_entry(&b, "..", 2, parent_ino(f, dir), S_IFDIR);
	if (r >= 0 && s.upper >= 0)
		r = read_upper(f, dir, s.upper, &b);
	if (r >= 0 && s.lower && !s.opaque)
		r = read_lower(f, s.lower, &b);
	for (size_t i = 0; i < b.n_hidden; i++)
		free(b.hidden[i]);
	free(b.hidden);
	if (r < 0) {
		fs_dir_done(&b.d);
		return r;
	}
	*ret = b.d;
	return 0;
}

void fs_dir_done(fs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->entries[i].name);
	free(d->entries);
	*d = (fs_dir){};
}

int fs_dir_is_empty(fs *f, fs_node *dir)
{
	fs_dir d;
	int r = fs_dir_read(f, dir, &d);

	if (r < 0)
		return r;
	r = d.n <= 2;
	fs_dir_done(&d);
	return r;
}
