/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/fs/layers.c: images from overlay-format directories (layers.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/image.h"
#include "store/ref.h"
#include "store/tree.h"
#include "tests/unit/fs/layers.h"
#include "util/buf.h"
#include "util/fileio.h"

typedef struct walker {
	store *s;
	store_tree *t;
	store_file_writer *w;
	/* (dev, ino) -> first path, for hard links */
	struct {
		dev_t dev;
		ino_t ino;
		char *path;
	} * links;
	size_t n_links;
	berth_error *reterr;
} walker;

static int read_xattrs(const char *full, store_entry *e)
{
	char list[8192];
	ssize_t len = llistxattr(full, list, sizeof(list));

	if (len < 0)
		return errno == ENOTSUP ? 0 : negative_errno();
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1) {
		const char *name = list + i;
		uint8_t v[4096];
		ssize_t vl;

		if (strncmp(name, "trusted.overlay.", 16) == 0)
			continue;
		vl = lgetxattr(full, name, v, sizeof(v));
		if (vl < 0)
			return negative_errno();
		e->xattrs = reallocarray(e->xattrs, e->n_xattrs + 1, sizeof(*e->xattrs));
		e->xattrs[e->n_xattrs].name = strdup(name);
		e->xattrs[e->n_xattrs].value = malloc((size_t)vl + 1);
		memcpy(e->xattrs[e->n_xattrs].value, v, (size_t)vl);
		e->xattrs[e->n_xattrs].len = (size_t)vl;
		e->n_xattrs++;
	}
	return 0;
}

static int read_content(walker *wk, const char *full, store_entry *e)
{
	_cleanup_close_ int fd = open(full, O_RDONLY | O_CLOEXEC);
	char b[65536];
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	while ((n = read(fd, b, sizeof(b))) > 0) {
		int r = store_file_writer_write(wk->w, b, (size_t)n);
		if (r < 0)
			return r;
	}
	if (n < 0)
		return negative_errno();
	return store_file_writer_finish(wk->w, &e->content);
}

static const char *hardlink_of(walker *wk, const struct stat *st, const char *path)
{
	for (size_t i = 0; i < wk->n_links; i++)
		if (wk->links[i].dev == st->st_dev && wk->links[i].ino == st->st_ino)
			return wk->links[i].path;
	wk->links = reallocarray(wk->links, wk->n_links + 1, sizeof(*wk->links));
	wk->links[wk->n_links].dev = st->st_dev;
	wk->links[wk->n_links].ino = st->st_ino;
	wk->links[wk->n_links].path = strdup(path);
	wk->n_links++;
	return NULL;
}

static int add_one(walker *wk, const char *full, const char *path, const struct stat *st)
{
	store_entry e = {
		.path = strdup(path),
		.mode = st->st_mode & 07777,
		.uid = st->st_uid,
		.gid = st->st_gid,
		.mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
		.atime_ns = (int64_t)st->st_atim.tv_sec * 1000000000 + st->st_atim.tv_nsec,
	};
	char v[4];
	const char *target;
	int r = 0;

	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		e.type = STORE_ENTRY_DIR;
		if (lgetxattr(full, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y')
			e.flags = STORE_ENTRY_OPAQUE;
		break;
	case S_IFREG:
		if (st->st_nlink > 1 && (target = hardlink_of(wk, st, path))) {
			e.type = STORE_ENTRY_HARDLINK;
			e.link = strdup(target);
			break;
		}
		e.type = STORE_ENTRY_REG;
		r = read_content(wk, full, &e);
		break;
	case S_IFLNK: {
		char t[4096];
		ssize_t n = readlink(full, t, sizeof(t) - 1);

		if (n < 0)
			return negative_errno();
		t[n] = '\0';
		e.type = STORE_ENTRY_SYMLINK;
		e.link = strdup(t);
		break;
	}
	case S_IFCHR:
		e.type = st->st_rdev == makedev(0, 0) ? STORE_ENTRY_WHITEOUT : STORE_ENTRY_CHR;
		e.rdev = st->st_rdev;
		break;
	case S_IFBLK:
		e.type = STORE_ENTRY_BLK;
		e.rdev = st->st_rdev;
		break;
	case S_IFIFO:
		e.type = STORE_ENTRY_FIFO;
		break;
	default:
		e.type = STORE_ENTRY_SOCK;
		break;
	}
	if (r >= 0 && e.type != STORE_ENTRY_WHITEOUT && e.type != STORE_ENTRY_HARDLINK)
		r = read_xattrs(full, &e);
	if (r >= 0)
		r = store_tree_add(wk->t, &e, wk->reterr);
	store_entry_done(&e);
	return r;
}

static int walk(walker *wk, const char *root, const char *rel)
{
	_cleanup_free_ char *dir = rel[0] ? path_join(root, rel) : strdup(root);
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return negative_errno();
	while (r >= 0 && (de = readdir(d))) {
		_cleanup_free_ char *full = NULL, *path = NULL;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		full = path_join(dir, de->d_name);
		path = rel[0] ? path_join(rel, de->d_name) : strdup(de->d_name);
		if (lstat(full, &st) < 0) {
			r = negative_errno();
			break;
		}
		r = add_one(wk, full, path, &st);
		if (r >= 0 && S_ISDIR(st.st_mode))
			r = walk(wk, root, path);
	}
	closedir(d);
	return r;
}

int fs_test_layer_from_dir(store *s, const char *dir, store_digest *ret, berth_error *reterr)
{
	walker wk = { .s = s, .reterr = reterr };
	struct stat st;
	int r;

	r = store_tree_new(&wk.t);
	if (r >= 0)
		r = store_file_writer_new(s, &wk.w);
	if (r >= 0 && lstat(dir, &st) < 0)
		r = negative_errno();
	if (r >= 0)
		r = add_one(&wk, dir, "", &st);
	if (r >= 0)
		r = walk(&wk, dir, "");
	if (r >= 0)
		r = store_tree_finish(wk.t, reterr);
	if (r >= 0)
		r = store_tree_put(s, wk.t, ret);
	for (size_t i = 0; i < wk.n_links; i++)
		free(wk.links[i].path);
	free(wk.links);
	store_file_writer_free(wk.w);
	store_tree_free(wk.t);
	return r;
}

int fs_test_image_from_dirs(store *s, const char *const *dirs, size_t n, const char *name,
			    store_digest *ret, berth_error *reterr)
{
	_cleanup_(buf_done) buf config = BUF_INIT;
	store_layer *layers = calloc(n ? n : 1, sizeof(*layers));
	store_digest id;
	int r;

	if (!layers)
		return -ENOMEM;
	r = store_write_begin(s);
	if (r < 0) {
		free(layers);
		return r;
	}
	buf_append_str(&config, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
				"{\"type\":\"layers\",\"diff_ids\":[");
	for (size_t i = 0; r >= 0 && i < n; i++) {
		char hex[STORE_DIGEST_STR_LEN];

		r = fs_test_layer_from_dir(s, dirs[i], &layers[i].tree, reterr);
		/* No tar here: the tree digest stands in for the DiffID, so that equal layers
		 * give equal image IDs. */
		layers[i].diff_id = layers[i].tree;
		store_digest_str(&layers[i].tree, hex);
		buf_printf(&config, "%s\"%s\"", i ? "," : "", hex);
	}
	buf_append_str(&config, "]}}");
	if (r >= 0)
		r = store_image_create(s, config.data, config.len, layers, n, &id, reterr);
	if (r >= 0 && name)
		r = store_ref_set(s, name, &id);
	store_write_end(s);
	free(layers);
	if (r >= 0)
		*ret = id;
	return r;
}
