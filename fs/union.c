/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/union.c: the union's view of a name and a node: upper/ first (whiteouts hide, opaque
 * directories stop the descent), then the index; and the attributes the union shows.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "fs/fs-private.h"
#include "util/macro.h"

void fs_proc_path(char *out, int fd, const char *name)
{
	if (name && name[0])
		snprintf(out, FS_PROC_PATH_MAX, "/proc/self/fd/%d/%s", fd, name);
	else
		snprintf(out, FS_PROC_PATH_MAX, "/proc/self/fd/%d", fd);
}

ssize_t fs_upper_getxattr(int fd, const char *name, const char *xname, void *value, size_t size)
{
	char p[FS_PROC_PATH_MAX];
	ssize_t r;

	fs_proc_path(p, fd, name);
	/* With a name, the last component is the entry itself: do not follow it if a symlink.
	 * Without one, the proc magic link lands on the O_PATH file, symlink or not. */
	r = name && name[0] ? lgetxattr(p, xname, value, size) : getxattr(p, xname, value, size);
	return r < 0 ? negative_errno() : r;
}

/* trusted.berth.ino: decimal text. 0 when absent. */
static int read_ino_xattr(int dirfd, const char *name, uint64_t *ret)
{
	char v[32];
	ssize_t r = fs_upper_getxattr(dirfd, name, FS_XATTR_INO, v, sizeof(v) - 1);
	char *end;

	if (r == -ENODATA || r == -ENOTSUP) {
		*ret = 0;
		return 0;
	}
	if (r < 0)
		return (int)r;
	v[r] = '\0';
	errno = 0;
	*ret = strtoull(v, &end, 10);
	if (errno || end == v || *end)
		return -EBADMSG;
	return 0;
}

static bool has_xattr_yes(int dirfd, const char *name, const char *xname)
{
	char v[4];
	ssize_t r = fs_upper_getxattr(dirfd, name, xname, v, sizeof(v));

	return r == 1 && v[0] == 'y';
}

static bool has_xattr(int dirfd, const char *name, const char *xname)
{
	return fs_upper_getxattr(dirfd, name, xname, NULL, 0) >= 0;
}

/* An upper directory without trusted.berth.ino (made by another tool): find its lower the way
 * overlayfs does, by redirect or by name. */
static store_ino legacy_lower_dir(fs *f, const fs_node_state *ps, int dirfd, const char *name)
{
	char redirect[4096];
	store_inode in;
	store_ino ino;
	ssize_t r;

	r = fs_upper_getxattr(dirfd, name, FS_XATTR_REDIRECT, redirect, sizeof(redirect) - 1);
	if (r > 0 && redirect[0] == '/') {
		redirect[r] = '\0';
		if (store_index_lookup_path(f->idx, redirect + 1, &ino) < 0)
			return 0;
	} else if (!ps->lower || ps->opaque ||
		   store_index_lookup(f->idx, ps->lower, name, strlen(name), &ino) < 0)
		return 0;
	if (store_index_stat(f->idx, ino, &in) < 0 || !S_ISDIR(in.mode))
		return 0;
	return ino;
}

static int resolve_upper(fs *f, const fs_node_state *ps, const char *name, const struct stat *st,
			 bool want_fd, fs_child *ret)
{
	fs_child c = { .type = st->st_mode & S_IFMT, .upper = -EBADF };
	uint64_t bino = 0;
	int r;

	r = read_ino_xattr(ps->upper, name, &bino);
	if (r < 0)
		return r;
	if (S_ISDIR(st->st_mode))
		c.opaque = has_xattr_yes(ps->upper, name, FS_XATTR_OPAQUE);
	if (bino) {
		c.ino = bino;
		if (S_ISDIR(st->st_mode) && !c.opaque)
			c.lower = bino;
		else if (S_ISREG(st->st_mode) && has_xattr(ps->upper, name, FS_XATTR_METACOPY)) {
			c.metacopy = true;
			c.lower = bino;
		}
	} else if (S_ISDIR(st->st_mode) && !c.opaque) {
		c.lower = legacy_lower_dir(f, ps, ps->upper, name);
	}
	if (!c.ino)
		c.ino = c.lower ? c.lower : FS_INO_UPPER_BIT | (uint64_t)st->st_ino;
	if (want_fd) {
		c.upper = openat(ps->upper, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (c.upper < 0)
			return negative_errno();
	}
	*ret = c;
	return 0;
}

int fs_resolve(fs *f, fs_node *parent, const char *name, bool want_fd, fs_child *ret)
{
	fs_node_state ps;
	store_inode in;
	store_ino ino;
	int r;

	fs_node_get_state(parent, &ps);
	if (ps.upper >= 0) {
		struct stat st;

		if (fstatat(ps.upper, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
				return -ENOENT; /* whiteout */
			return resolve_upper(f, &ps, name, &st, want_fd, ret);
		}
		if (errno != ENOENT)
			return negative_errno();
	}
	if (!ps.lower || ps.opaque)
		return -ENOENT;
	r = store_index_lookup(f->idx, ps.lower, name, strlen(name), &ino);
	if (r < 0)
		return r == -ENOTDIR ? -ENOENT : r;
	r = store_index_stat(f->idx, ino, &in);
	if (r < 0)
		return r;
	*ret = (fs_child){ .ino = ino, .type = in.mode & S_IFMT, .lower = ino, .upper = -EBADF };
	return 0;
}

bool fs_lower_has(fs *f, fs_node *parent, const char *name)
{
	fs_node_state ps;
	store_ino ino;

	fs_node_get_state(parent, &ps);
	return ps.lower && !ps.opaque &&
	       store_index_lookup(f->idx, ps.lower, name, strlen(name), &ino) >= 0;
}

static void ns_to_timespec(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	if (ts->tv_nsec < 0) {
		ts->tv_sec--;
		ts->tv_nsec += 1000000000;
	}
}

static int lower_stat(fs *f, store_ino ino, struct stat *st)
{
	store_inode in;
	int r = store_index_stat(f->idx, ino, &in);

	if (r < 0)
		return r;
	*st = (struct stat){
		.st_ino = ino,
		.st_mode = in.mode,
		.st_nlink = in.nlink,
		.st_uid = in.uid,
		.st_gid = in.gid,
		.st_rdev = in.rdev,
		.st_size = (off_t)in.size,
		.st_blksize = 4096,
		.st_blocks = (blkcnt_t)((in.size + 511) / 512),
	};
	if (S_ISLNK(in.mode))
		st->st_size = in.link_len;
	ns_to_timespec(in.atime_ns, &st->st_atim);
	ns_to_timespec(in.mtime_ns, &st->st_mtim);
	st->st_ctim = st->st_mtim;
	return 0;
}

static int upper_stat(int fd, uint64_t ino, bool merged_dir, bool metacopy, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return negative_errno();
	st->st_ino = ino;
	/* overlayfs does not count a merged directory's subdirectories: find(1) must not trust
	 * nlink to skip them. */
	if (merged_dir)
		st->st_nlink = 1;
	if (metacopy)
		st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

int fs_node_upper_fd(fs *f, const fs_node_state *s, int *ret)
{
	int fd;

	if (s->upper >= 0)
		fd = fcntl(s->upper, F_DUPFD_CLOEXEC, 3);
	else if (s->upper_fh)
		fd = open_by_handle_at(f->upper_fd, (struct file_handle *)s->upper_fh,
				       O_PATH | O_CLOEXEC);
	else
		return -ENOENT;
	if (fd < 0)
		return negative_errno();
	*ret = fd;
	return 0;
}

int fs_node_stat(fs *f, fs_node *n, struct stat *ret)
{
	fs_node_state s;

	fs_node_get_state(n, &s);
	if (s.upper >= 0)
		return upper_stat(s.upper, n->ino, S_ISDIR(n->type) && s.lower && !s.opaque,
				  s.metacopy, ret);
	if (s.has_upper) {
		_cleanup_close_ int fd = -EBADF;
		int r = fs_node_upper_fd(f, &s, &fd);

		if (r < 0)
			return r;
		return upper_stat(fd, n->ino, false, s.metacopy, ret);
	}
	if (!s.lower)
		return -ESTALE;
	return lower_stat(f, s.lower, ret);
}

int fs_child_stat(fs *f, const fs_child *c, struct stat *ret)
{
	if (c->upper >= 0)
		return upper_stat(c->upper, c->ino, S_ISDIR(c->type) && c->lower && !c->opaque,
				  c->metacopy, ret);
	return lower_stat(f, c->lower, ret);
}
