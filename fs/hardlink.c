/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/hardlink.c: hard links of the image across copy-up.
 *
 * All names of a hard-linked lower file are one node (one st_ino). When one name is copied up,
 * its other names must follow, or after a remount two different files would claim one inode
 * number. So the copy-up links every other name, found by a walk of the index (rare: hard-linked
 * files are few, and only their first copy-up pays), into upper/ as hard links of the copy.
 * A name the union no longer shows as that lower file (whited out, replaced, under a renamed or
 * opaque directory) is left alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs-private.h"
#include "util/macro.h"

/* The absolute path of a lower directory, for trusted.overlay.redirect. */
int fs_lower_dir_path(fs *f, store_ino ino, char *out, size_t size)
{
	char tmp[4096];
	size_t len = 0;

	tmp[0] = '\0';
	while (ino != STORE_INO_ROOT) {
		store_ino parent;
		store_dirent de;
		bool found = false;
		int r = store_index_parent(f->idx, ino, &parent);

		if (r < 0)
			return r;
		for (uint64_t i = 0; store_index_readdir(f->idx, parent, i, &de) >= 0; i++)
			if (de.ino == ino) {
				found = true;
				break;
			}
		if (!found || len + de.name_len + 1 >= sizeof(tmp))
			return -ENAMETOOLONG;
		memmove(tmp + de.name_len + 1, tmp, len + 1);
		tmp[0] = '/';
		memcpy(tmp + 1, de.name, de.name_len);
		len += de.name_len + 1;
		ino = parent;
	}
	if (len + 1 > size)
		return -ENAMETOOLONG;
	memcpy(out, len ? tmp : "/", len ? len + 1 : 2);
	return 0;
}

typedef struct link_name {
	store_ino dir;
	char *name;
} link_name;

typedef struct link_scan {
	store_ino ino;
	link_name *names;
	size_t n, cap;
} link_scan;

static int scan(fs *f, store_ino dir, link_scan *ls)
{
	store_dirent de;
	int r;

	for (uint64_t i = 0; store_index_readdir(f->idx, dir, i, &de) >= 0; i++) {
		if (S_ISDIR(de.mode)) {
			r = scan(f, de.ino, ls);
			if (r < 0)
				return r;
			continue;
		}
		if (de.ino != ls->ino)
			continue;
		if (ls->n == ls->cap) {
			size_t nc = ls->cap ? ls->cap * 2 : 4;
			link_name *p = reallocarray(ls->names, nc, sizeof(*p));

			if (!p)
				return -ENOMEM;
			ls->names = p;
			ls->cap = nc;
		}
		ls->names[ls->n].dir = dir;
		ls->names[ls->n].name = strndup(de.name, de.name_len);
		if (!ls->names[ls->n].name)
			return -ENOMEM;
		ls->n++;
	}
	return 0;
}

/* The union's node for an absolute lower path, if the union still shows that lower directory
 * there; a lookup the caller forgets. NULL otherwise. */
static fs_node *union_dir(fs *f, const char *path, store_ino want)
{
	_cleanup_free_ char *p = strdup(path);
	fs_node *n = fs_table_root(f->table);
	char *save = NULL;

	if (!p)
		return NULL;
	fs_table_lookup_more(f->table, n);
	for (char *c = strtok_r(p, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		fs_node_init init;
		fs_child ch;
		fs_node *next = NULL;

		if (fs_resolve(f, n, c, true, &ch) >= 0) {
			init = (fs_node_init){ .ino = ch.ino,
					       .type = ch.type,
					       .lower = ch.lower,
					       .upper = ch.upper,
					       .opaque = ch.opaque };
			next = S_ISDIR(ch.type) ? fs_table_lookup_add(f->table, &init, n, c) : NULL;
			if (!S_ISDIR(ch.type))
				safe_close(ch.upper);
		}
		fs_table_forget(f->table, n, 1);
		if (!next)
			return NULL;
		n = next;
	}
	{
		fs_node_state s;

		fs_node_get_state(n, &s);
		if (s.lower == want && !s.opaque)
			return n;
	}
	fs_table_forget(f->table, n, 1);
	return NULL;
}

static int link_one(fs *f, store_ino ino, const link_name *ln, int upper)
{
	char path[4096], src[FS_PROC_PATH_MAX];
	fs_node_state ps;
	fs_node *dir;
	fs_child c;
	int r;

	r = fs_lower_dir_path(f, ln->dir, path, sizeof(path));
	if (r < 0)
		return r;
	dir = union_dir(f, path, ln->dir);
	if (!dir)
		return 0;
	r = fs_resolve(f, dir, ln->name, true, &c);
	if (r >= 0 && c.upper >= 0)
		c.upper = safe_close(c.upper); /* in upper already: linked, or replaced */
	else if (r >= 0)
		c.upper = 0;
	if (r < 0 || c.upper < 0 || c.ino != ino || c.lower != ino) {
		/* gone, or no longer the lower file: nothing to keep linked */
		fs_table_forget(f->table, dir, 1);
		return 0;
	}
	r = fs_copy_up_locked(f, dir, FS_COPY_UP_META);
	if (r >= 0) {
		fs_node_get_state(dir, &ps);
		fs_proc_path(src, upper, NULL);
		if (linkat(AT_FDCWD, src, ps.upper, ln->name, AT_SYMLINK_FOLLOW) < 0)
			r = negative_errno();
	}
	fs_table_forget(f->table, dir, 1);
	return r;
}

int fs_copy_up_hardlinks(fs *f, fs_node *n, store_ino ino, int upper)
{
	link_scan ls = { .ino = ino };
	int r;

	r = scan(f, STORE_INO_ROOT, &ls);
	/* The name just copied up resolves to upper now, so link_one skips it. */
	for (size_t i = 0; r >= 0 && i < ls.n; i++)
		r = link_one(f, ino, &ls.names[i], upper);
	for (size_t i = 0; i < ls.n; i++)
		free(ls.names[i].name);
	free(ls.names);
	return r;
}
