/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/ops.c: the FUSE glue, and the only file that includes fuse_lowlevel.h (STYLE.md): the op
 * table, translating requests into fs/ calls and their results into replies, mount options and
 * the session loop.
 *
 * Node ids are node addresses (fs/inode.h). Every fuse_reply_entry/fuse_reply_create follows a
 * fs_table_lookup_add() (one lookup), and a reply that fails is undone with a forget, so the
 * kernel's count and ours agree.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fs-private.h"
#include "util/log.h"
#include "util/macro.h"

/* The image is immutable and every change to upper/ goes through this process, which tells the
 * kernel in its replies: the kernel may cache names and attributes for as long as it likes. */
static const double TIMEOUT = 86400.0;

static fs *FS(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static fs_node *N(fs *f, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? fs_table_root(f->table) : (fs_node *)(uintptr_t)ino;
}

static fuse_ino_t node_id(fs *f, fs_node *n)
{
	return n == fs_table_root(f->table) ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

/* ---- handles ---- */

/* An open file. `fd` reads the lower content (cache) until the node is copied up, then the
 * handle moves to the upper file on its next use, as overlayfs's stacked file ops do. */
typedef struct fs_file {
	pthread_mutex_t lock;
	int fd;	    /* lock */
	bool lower; /* lock: fd is the lower content */
	int flags;  /* open flags */
} fs_file;

static fs_file *file_new(int fd, bool lower, int flags)
{
	fs_file *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->fd = fd;
	h->lower = lower;
	h->flags = flags;
	return h;
}

static void file_free(fs_file *h)
{
	safe_close(h->fd);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static fs_file *FH(struct fuse_file_info *fi)
{
	return (fs_file *)(uintptr_t)fi->fh;
}

static int file_fd_switch(fs *f, const fs_node_state *s, fs_file *h)
{
	int path, fd, r;

	r = fs_node_upper_fd(f, s, &path);
	if (r < 0)
		return r;
	fd = fs_upper_reopen(path, h->flags & ~(O_CREAT | O_EXCL | O_TRUNC));
	safe_close(path);
	if (fd < 0)
		return fd;
	/* A concurrent read may still use the old fd: dup3 swaps the file behind the same
	 * number atomically, and that read keeps its reference to the old file. */
	r = dup3(fd, h->fd, O_CLOEXEC) < 0 ? negative_errno() : 0;
	safe_close(fd);
	if (r >= 0)
		h->lower = false;
	return r;
}

/* The fd to do I/O on now (see fs_file). Borrowed while the handle lives. */
static int file_fd(fs *f, fs_node *n, fs_file *h, int *ret)
{
	fs_node_state s;
	int r = 0;

	pthread_mutex_lock(&h->lock);
	if (h->lower) {
		fs_node_get_state(n, &s);
		if (s.has_upper && !s.metacopy)
			r = file_fd_switch(f, &s, h);
	}
	*ret = h->fd;
	pthread_mutex_unlock(&h->lock);
	return r;
}

typedef struct fs_dirh {
	pthread_mutex_t lock;
	fs_dir d;    /* lock */
	bool loaded; /* lock */
} fs_dirh;

/* ---- replies ---- */

static void reply_err(fuse_req_t req, int r)
{
	fuse_reply_err(req, r < 0 ? -r : r);
}

/* Adds the lookup for child c of parent (consuming c.upper) and fills e. */
static int make_entry(fs *f, fs_node *parent, const char *name, fs_child *c,
		      struct fuse_entry_param *e, fs_node **ret)
{
	fs_node_init init = {
		.ino = c->ino,
		.type = c->type,
		.lower = c->lower,
		.upper = TAKE_FD(c->upper),
		.opaque = c->opaque,
		.metacopy = c->metacopy,
	};
	fs_node *n;
	int r;

	n = fs_table_lookup_add(f->table, &init, parent, name);
	if (!n)
		return -ENOMEM;
	r = fs_node_stat(f, n, &e->attr);
	if (r < 0) {
		fs_table_forget(f->table, n, 1);
		return r;
	}
	e->ino = node_id(f, n);
	e->generation = 0;
	e->attr_timeout = TIMEOUT;
	e->entry_timeout = TIMEOUT;
	*ret = n;
	return 0;
}

static void reply_entry(fuse_req_t req, fs *f, fs_node *parent, const char *name, fs_child *c)
{
	struct fuse_entry_param e = {};
	fs_node *n;
	int r = make_entry(f, parent, name, c, &e, &n);

	if (r < 0)
		return reply_err(req, r);
	if (fuse_reply_entry(req, &e) < 0)
		fs_table_forget(f->table, n, 1);
}

/* ---- name space reads ---- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs *f = FS(req);
	fs_child c;
	int r = fs_resolve(f, N(f, parent), name, true, &c);

	if (r == -ENOENT) {
		/* A negative entry: the kernel caches the miss (ld.so probes many paths). */
		struct fuse_entry_param e = { .entry_timeout = TIMEOUT };

		fuse_reply_entry(req, &e);
		return;
	}
	if (r < 0)
		return reply_err(req, r);
	reply_entry(req, f, N(f, parent), name, &c);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs *f = FS(req);

	fs_table_forget(f->table, N(f, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	fs *f = FS(req);

	for (size_t i = 0; i < count; i++)
		fs_table_forget(f->table, N(f, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs *f = FS(req);
	fs_node *n = N(f, ino);
	struct stat st;
	int r;

	/* fstat of an open file, which may be unlinked already: its own fd knows it. */
	if (fi && S_ISREG(n->type) && !FH(fi)->lower) {
		int fd;

		r = file_fd(f, n, FH(fi), &fd);
		if (r >= 0 && fstat(fd, &st) < 0)
			r = negative_errno();
		st.st_ino = n->ino;
	} else
		r = fs_node_stat(f, n, &st);
	if (r < 0)
		return reply_err(req, r);
	fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	fs *f = FS(req);
	char target[PATH_MAX + 1];
	int r = fs_node_readlink(f, N(f, ino), target, sizeof(target));

	if (r < 0)
		return reply_err(req, r);
	fuse_reply_readlink(req, target);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	fs *f = FS(req);
	struct statvfs sv;

	if (fstatvfs(f->upper_fd, &sv) < 0)
		return reply_err(req, negative_errno());
	fuse_reply_statfs(req, &sv);
}

/* ---- directories ---- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_dirh *d = calloc(1, sizeof(*d));

	if (!d)
		return reply_err(req, -ENOMEM);
	pthread_mutex_init(&d->lock, NULL);
	fi->fh = (uintptr_t)d;
	/* The kernel drops a directory's cached listing itself when it changes it through this
	 * mount (the only way it changes): let it keep listings. */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) < 0) {
		pthread_mutex_destroy(&d->lock);
		free(d);
	}
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_dirh *d = (fs_dirh *)(uintptr_t)fi->fh;

	fs_dir_done(&d->d);
	pthread_mutex_destroy(&d->lock);
	free(d);
	fuse_reply_err(req, 0);
}

/* One readdirplus entry: a lookup for everything but "." and "..". Returns the bytes used or
 * 0 if it does not fit (the lookup is undone). */
static size_t add_plus(fuse_req_t req, fs *f, fs_node *dir, const fs_dirent *de, char *p,
		       size_t rem, off_t next, int *reterr)
{
	struct fuse_entry_param e = {};
	fs_node *n = NULL;
	fs_child c;
	size_t sz;
	int r;

	if (streq(de->name, ".") || streq(de->name, "..")) {
		e.attr.st_ino = de->ino;
		e.attr.st_mode = de->type;
		return fuse_add_direntry_plus(req, p, rem, de->name, &e, next);
	}
	r = fs_resolve(f, dir, de->name, true, &c);
	if (r == -ENOENT)
		return SIZE_MAX; /* gone since the snapshot: skip */
	if (r >= 0)
		r = make_entry(f, dir, de->name, &c, &e, &n);
	if (r < 0) {
		*reterr = r;
		return 0;
	}
	sz = fuse_add_direntry_plus(req, p, rem, de->name, &e, next);
	if (sz > rem)
		fs_table_forget(f->table, n, 1);
	return sz;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	fs *f = FS(req);
	fs_dirh *d = (fs_dirh *)(uintptr_t)fi->fh;
	_cleanup_free_ char *out = malloc(size);
	size_t pos = 0;
	int r = 0;

	if (!out)
		return reply_err(req, -ENOMEM);
	pthread_mutex_lock(&d->lock);
	if (off == 0 || !d->loaded) {
		/* Offset 0 is opendir or rewinddir: a fresh snapshot. */
		fs_dir_done(&d->d);
		d->loaded = false;
		r = fs_dir_read(f, N(f, ino), &d->d);
		d->loaded = r >= 0;
	}
	for (size_t i = (size_t)off; r >= 0 && i < d->d.n; i++) {
		const fs_dirent *de = &d->d.entries[i];
		size_t sz;

		if (plus) {
			sz = add_plus(req, f, N(f, ino), de, out + pos, size - pos, (off_t)i + 1,
				      &r);
			if (sz == SIZE_MAX)
				continue;
		} else {
			struct stat st = { .st_ino = de->ino, .st_mode = de->type };

			sz = fuse_add_direntry(req, out + pos, size - pos, de->name, &st,
					       (off_t)i + 1);
		}
		if (r < 0 || sz > size - pos || sz == 0)
			break;
		pos += sz;
	}
	pthread_mutex_unlock(&d->lock);
	/* An error after some entries: return those, the next call reports it. */
	if (r < 0 && pos == 0)
		return reply_err(req, r);
	fuse_reply_buf(req, out, pos);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

/* ---- files ---- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs *f = FS(req);
	fs_file *h;
	bool lower;
	int fd;

	fd = fs_node_open(f, N(f, ino), fi->flags, &lower);
	if (fd < 0)
		return reply_err(req, fd);
	h = file_new(fd, lower, fi->flags);
	if (!h) {
		safe_close(fd);
		return reply_err(req, -ENOMEM);
	}
	fi->fh = (uintptr_t)h;
	/* Lower data never changes, and upper data changes only through this mount, whose
	 * writes update the page cache: no reason to drop it at open. */
	fi->keep_cache = 1;
	/* Writes reach the upper file before they are acknowledged: close(2) has nothing left
	 * to report, so spare it the FLUSH round trip. */
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) < 0)
		file_free(h);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	file_free(FH(fi));
	fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	fs *f = FS(req);
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
	int fd, r;

	r = file_fd(f, N(f, ino), FH(fi), &fd);
	if (r < 0)
		return reply_err(req, r);
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = fd;
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

/* ---- xattrs ---- */

static void reply_xattr(fuse_req_t req, size_t size, const void *value, ssize_t len)
{
	if (len < 0)
		return reply_err(req, (int)len);
	if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if ((size_t)len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, (size_t)len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	fs *f = FS(req);
	_cleanup_free_ char *v = size ? malloc(size) : NULL;
	ssize_t r;

	if (size && !v)
		return reply_err(req, -ENOMEM);
	r = fs_node_getxattr(f, N(f, ino), name, v, size);
	if (size == 0 || r < 0)
		return reply_xattr(req, size, NULL, r);
	fuse_reply_buf(req, v, (size_t)r);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	fs *f = FS(req);
	_cleanup_free_ char *v = size ? malloc(size) : NULL;
	ssize_t r;

	if (size && !v)
		return reply_err(req, -ENOMEM);
	r = fs_node_listxattr(f, N(f, ino), v, size);
	if (size == 0 || r < 0)
		return reply_xattr(req, size, NULL, r);
	fuse_reply_buf(req, v, (size_t)r);
}

/* ---- changes ---- */

static fs_creds creds(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	return (fs_creds){ .uid = ctx->uid, .gid = ctx->gid };
}

static void do_create_node(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			   dev_t rdev, const char *link)
{
	fs *f = FS(req);
	fs_creds cr = creds(req);
	fs_child c;
	int r = fs_create(f, N(f, parent), name, mode, rdev, link, 0, &cr, &c, NULL);

	if (r < 0)
		return reply_err(req, r);
	reply_entry(req, f, N(f, parent), name, &c);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	do_create_node(req, parent, name, mode, rdev, NULL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	do_create_node(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	do_create_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	fs *f = FS(req);
	fs_creds cr = creds(req);
	struct fuse_entry_param e = {};
	fs_child c;
	fs_node *n;
	fs_file *h;
	int fd = -EBADF, r;

	r = fs_create(f, N(f, parent), name, S_IFREG | (mode & 07777), 0, NULL, fi->flags, &cr, &c,
		      &fd);
	if (r < 0)
		return reply_err(req, r);
	r = make_entry(f, N(f, parent), name, &c, &e, &n);
	h = r >= 0 ? file_new(fd, false, fi->flags) : NULL;
	if (!h) {
		safe_close(fd);
		if (r >= 0)
			fs_table_forget(f->table, n, 1);
		return reply_err(req, r < 0 ? r : -ENOMEM);
	}
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (fuse_reply_create(req, &e, fi) < 0) {
		file_free(h);
		fs_table_forget(f->table, n, 1);
	}
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fs *f = FS(req);
	fs_child c;
	int r = fs_link(f, N(f, ino), N(f, newparent), newname, &c);

	if (r < 0)
		return reply_err(req, r);
	reply_entry(req, f, N(f, newparent), newname, &c);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs *f = FS(req);

	reply_err(req, fs_remove(f, N(f, parent), name, false));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs *f = FS(req);

	reply_err(req, fs_remove(f, N(f, parent), name, true));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fs *f = FS(req);

	reply_err(req, fs_rename(f, N(f, parent), name, N(f, newparent), newname, flags));
}

static unsigned setattr_valid(int to_set)
{
	static const struct {
		int fuse;
		unsigned fs;
	} map[] = {
		{ FUSE_SET_ATTR_MODE, FS_SET_MODE },
		{ FUSE_SET_ATTR_UID, FS_SET_UID },
		{ FUSE_SET_ATTR_GID, FS_SET_GID },
		{ FUSE_SET_ATTR_SIZE, FS_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, FS_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, FS_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, FS_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, FS_SET_MTIME_NOW },
	};
	unsigned v = 0;

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (to_set & map[i].fuse)
			v |= map[i].fs;
	return v;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	fs *f = FS(req);
	fs_node *n = N(f, ino);
	struct stat st;
	int fd = -EBADF, r = 0;

	if (fi && (to_set & FUSE_SET_ATTR_SIZE))
		r = file_fd(f, n, FH(fi), &fd);
	if (r >= 0 && fi && FH(fi)->lower)
		fd = -EBADF; /* not writable: truncate through the upper file */
	if (r >= 0)
		r = fs_setattr(f, n, attr, setattr_valid(to_set), fd);
	if (r >= 0)
		r = fs_node_stat(f, n, &st);
	if (r < 0)
		return reply_err(req, r);
	fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fs *f = FS(req);

	reply_err(req, fs_setxattr(f, N(f, ino), name, value, size, flags));
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fs *f = FS(req);

	reply_err(req, fs_removexattr(f, N(f, ino), name));
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	fs *f = FS(req);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t n;
	int fd, r;

	r = file_fd(f, N(f, ino), FH(fi), &fd);
	if (r < 0)
		return reply_err(req, r);
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		return reply_err(req, (int)n);
	fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fs *f = FS(req);
	int fd, r = file_fd(f, N(f, ino), FH(fi), &fd);

	if (r >= 0 && (datasync ? fdatasync(fd) : fsync(fd)) < 0)
		r = negative_errno();
	reply_err(req, r);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fs *f = FS(req);
	fs_node_state s;
	int fd, r = 0;

	fs_node_get_state(N(f, ino), &s);
	if (s.upper >= 0) {
		fd = fs_upper_reopen(s.upper, O_RDONLY | O_DIRECTORY);
		r = fd;
		if (fd >= 0) {
			r = fsync(fd) < 0 ? negative_errno() : 0;
			safe_close(fd);
		}
	}
	reply_err(req, r);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	fs *f = FS(req);
	int fd, r = file_fd(f, N(f, ino), FH(fi), &fd);

	if (r >= 0 && fallocate(fd, mode, off, len) < 0)
		r = negative_errno();
	reply_err(req, r);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	fs *f = FS(req);
	int in, out, r;
	ssize_t n;

	r = file_fd(f, N(f, ino_in), FH(fi_in), &in);
	if (r >= 0)
		r = file_fd(f, N(f, ino_out), FH(fi_out), &out);
	if (r < 0)
		return reply_err(req, r);
	n = copy_file_range(in, &off_in, out, &off_out, len, (unsigned)flags);
	if (n < 0)
		return reply_err(req, negative_errno());
	fuse_reply_write(req, (size_t)n);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	fs *f = FS(req);
	int fd, r = file_fd(f, N(f, ino), FH(fi), &fd);
	off_t res;

	if (r < 0)
		return reply_err(req, r);
	res = lseek(fd, off, whence);
	if (res < 0)
		return reply_err(req, negative_errno());
	fuse_reply_lseek(req, res);
}

/* ---- session ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	unsigned want = FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_READDIRPLUS |
			FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_PARALLEL_DIROPS |
			FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_ASYNC_READ;

	conn->want |= conn->capable & want;
	/* Never let libfuse turn on what we do not handle. Locks stay in the kernel: every
	 * access to the union goes through this one mount, so its local locks are exact. */
	conn->want &= ~(conn->capable & (FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_HANDLE_KILLPRIV |
					 FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS));
	/* Data changes only through this mount: no need for the kernel to revalidate a file's
	 * attributes at every open to see whether someone else changed it. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.statfs = op_statfs,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.create = op_create,
	.link = op_link,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.setattr = op_setattr,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
	.write_buf = op_write_buf,
	.flush = op_flush,
	.fsync = op_fsync,
	.fsyncdir = op_fsyncdir,
	.fallocate = op_fallocate,
	.copy_file_range = op_copy_file_range,
	.lseek = op_lseek,
};

/*
 * The table holds an O_PATH fd per upper node the kernel knows, so the server needs as many fds
 * as the kernel caches upper inodes (an untar of 100k files): raise the limit to the system's
 * per-process maximum (root may raise the hard limit), or at least to the hard limit.
 */
static void raise_nofile(void)
{
	_cleanup_fclose_ FILE *fp = fopen("/proc/sys/fs/nr_open", "re");
	unsigned long nr_open = 0;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (fp && fscanf(fp, "%lu", &nr_open) == 1 && nr_open > rl.rlim_max) {
		struct rlimit want = { nr_open, nr_open };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int session_new(fs *f, struct fuse_session **ret)
{
	char *argv[] = { "berth", "-o",
			 "allow_other,default_permissions,suid,dev,fsname=berth,subtype=berth",
			 f->debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(f->debug ? 4 : 3, argv);
	struct fuse_session *se;

	se = fuse_session_new(&args, &ops, sizeof(ops), f);
	fuse_opt_free_args(&args);
	if (!se)
		return -EINVAL;
	*ret = se;
	return 0;
}

int fs_serve(fs *f, const char *mountpoint, int ready_fd, berth_error *reterr)
{
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	int r;

	raise_nofile();
	umask(0); /* the kernel applies the caller's umask; modes reach us final */
	f->mountpoint = strdup(mountpoint);
	if (!f->mountpoint)
		return -ENOMEM;
	r = session_new(f, &se);
	if (r < 0)
		return berth_error_set(reterr, r, "cannot create the FUSE session");
	if (fuse_session_mount(se, mountpoint) != 0) {
		fuse_session_destroy(se);
		return berth_error_set(reterr, -EIO, "cannot mount on '%s'", mountpoint);
	}
	__atomic_store_n(&f->session, se, __ATOMIC_SEQ_CST);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "1", 1);
		safe_close(ready_fd);
	}
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		r = -ENOMEM;
	else {
		fuse_loop_cfg_set_clone_fd(cfg, 1);
		fuse_loop_cfg_set_max_threads(cfg, f->threads ? f->threads : 16);
		fuse_loop_cfg_set_idle_threads(cfg, 4);
		if (!f->stop_requested)
			r = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	__atomic_store_n(&f->session, NULL, __ATOMIC_SEQ_CST);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	if (r < 0)
		return berth_error_set(reterr, r, "serving '%s' failed", mountpoint);
	return 0;
}

void fs_stop(fs *f)
{
	struct fuse_session *se = __atomic_load_n(&f->session, __ATOMIC_SEQ_CST);

	f->stop_requested = 1;
	if (!se)
		return;
	fuse_session_exit(se);
	/* Worker threads sleep in read(/dev/fuse): unmounting ends the connection, which
	 * wakes them with ENODEV. umount2 is a system call, safe in a signal handler. */
	if (f->mountpoint)
		umount2(f->mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW);
}
