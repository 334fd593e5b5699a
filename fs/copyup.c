/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/copyup.c: copy-up: giving a lower entry an upper one before it changes.
 *
 * The copy is assembled under work/ (same file system as upper/) and renamed into place, so a
 * crash leaves either no upper entry (the lower one still shows) or a complete one; work/ is
 * emptied at the next mount. Order matters: owner before mode (chown clears set-id bits), owner
 * before xattrs (chown clears security.capability), times last (every other change bumps them).
 * File data is made durable before the rename, as overlayfs does, so a crash after a copy-up
 * never leaves an empty file under the real name.
 *
 * Metadata-only copy-up (overlayfs "metacopy"): a regular file whose data has not changed gets an
 * upper file with the right size (sparse: ftruncate), all metadata, trusted.overlay.metacopy
 * and trusted.berth.ino (its lower inode, where its data still is). The first data write copies
 * the data into that file in place and only then removes the metacopy mark: a crash before that
 * leaves the mark, and the data is read from lower again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fs-private.h"
#include "util/macro.h"

void fs_work_name(fs *f, char *out)
{
	snprintf(out, 32, "#%" PRIx64, (uint64_t)atomic_fetch_add(&f->tmp_seq, 1));
}

int fs_upper_setxattr_at(int dirfd, const char *name, const char *xname, const void *v, size_t len)
{
	char p[FS_PROC_PATH_MAX];

	fs_proc_path(p, dirfd, name);
	return lsetxattr(p, xname, v, len, 0) < 0 ? negative_errno() : 0;
}

int fs_set_ino_xattr(int dirfd, const char *name, uint64_t ino)
{
	char v[32];

	snprintf(v, sizeof(v), "%" PRIu64, ino);
	return fs_upper_setxattr_at(dirfd, name, FS_XATTR_INO, v, strlen(v));
}

/* Copies [0, len) from src to dst, in the kernel where it can. */
static int copy_data(int src, int dst, uint64_t len)
{
	loff_t in = 0, out = 0;

	while ((uint64_t)in < len) {
		ssize_t n = copy_file_range(src, &in, dst, &out, len - (uint64_t)in, 0);

		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
			off_t o = in;

			if (lseek(dst, out, SEEK_SET) < 0)
				return negative_errno();
			n = sendfile(dst, src, &o, len - (uint64_t)in);
			if (n > 0) {
				in += n;
				out += n;
				continue;
			}
		}
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EIO; /* the cache file is shorter than the index says */
		(void)0;
	}
	return 0;
}

static int lower_data_fd(fs *f, const store_inode *in)
{
	return fs_lower_open(f->cache, &in->content);
}

/* The new entry under work/, and for regular files and directories an fd on it. */
static int create_in_work(fs *f, const store_inode *in, fs_copy_up_mode mode, const char *tmp,
			  int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF, src = -EBADF;
	int r;

	*ret_fd = -EBADF;
	switch (in->mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(f->work_fd, tmp, 0700) < 0)
			return negative_errno();
		fd = openat(f->work_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		break;
	case S_IFREG:
		fd = openat(f->work_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return negative_errno();
		if (mode == FS_COPY_UP_META) {
			if (ftruncate(fd, (off_t)in->size) < 0)
				return negative_errno();
			if (fsetxattr(fd, FS_XATTR_METACOPY, "", 0, 0) < 0)
				return negative_errno();
		} else if (mode == FS_COPY_UP_DATA && in->size > 0) {
			src = lower_data_fd(f, in);
			if (src < 0)
				return src;
			r = copy_data(src, fd, in->size);
			if (r < 0)
				return r;
			if (fdatasync(fd) < 0)
				return negative_errno();
		}
		break;
	case S_IFLNK: {
		_cleanup_free_ char *target = strndup(in->link, in->link_len);

		if (!target)
			return -ENOMEM;
		if (symlinkat(target, f->work_fd, tmp) < 0)
			return negative_errno();
		return 0;
	}
	default:
		if (mknodat(f->work_fd, tmp, (in->mode & S_IFMT) | 0600, in->rdev) < 0)
			return negative_errno();
		return 0;
	}
	if (fd < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int copy_xattrs(fs *f, store_ino ino, const char *tmp)
{
	const char *name;
	const void *v;
	size_t len;
	int r;

	for (uint32_t i = 0; store_index_xattr(f->idx, ino, i, &name, &v, &len) >= 0; i++) {
		r = fs_upper_setxattr_at(f->work_fd, tmp, name, v, len);
		if (r < 0)
			return r;
	}
	return 0;
}

static int copy_meta(fs *f, store_ino ino, const store_inode *in, const char *tmp)
{
	struct timespec ts[2] = {
		{ in->atime_ns / 1000000000, in->atime_ns % 1000000000 },
		{ in->mtime_ns / 1000000000, in->mtime_ns % 1000000000 },
	};
	int r;

	if (fchownat(f->work_fd, tmp, in->uid, in->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return negative_errno();
	if (!S_ISLNK(in->mode) && fchmodat(f->work_fd, tmp, in->mode & 07777, 0) < 0)
		return negative_errno();
	r = copy_xattrs(f, ino, tmp);
	if (r < 0)
		return r;
	r = fs_set_ino_xattr(f->work_fd, tmp, ino);
	if (r < 0)
		return r;
	if (utimensat(f->work_fd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return negative_errno();
	return 0;
}

static void remove_work(fs *f, const char *tmp, bool dir)
{
	unlinkat(f->work_fd, tmp, dir ? AT_REMOVEDIR : 0);
}

static int copy_up_new(fs *f, fs_node *n, const fs_node_state *s, fs_copy_up_mode mode)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -EBADF;
	fs_node_state ps;
	fs_node *parent;
	store_inode in;
	char tmp[32];
	int r;

	r = store_index_stat(f->idx, s->lower, &in);
	if (r < 0)
		return r;
	r = fs_node_get_parent(f->table, n, &parent, &name);
	if (r < 0)
		return r == -ENOENT ? -EIO : r; /* the root always has its upper */
	r = fs_copy_up_locked(f, parent, FS_COPY_UP_META);
	fs_node_get_state(parent, &ps);
	fs_node_unref(f->table, parent);
	if (r < 0)
		return r;
	fs_work_name(f, tmp);
	r = create_in_work(f, &in, mode, tmp, &fd);
	if (r >= 0)
		r = copy_meta(f, s->lower, &in, tmp);
	if (r >= 0 && renameat2(f->work_fd, tmp, ps.upper, name, RENAME_NOREPLACE) < 0)
		r = negative_errno();
	if (r < 0) {
		remove_work(f, tmp, S_ISDIR(in.mode));
		return r;
	}
	r = openat(ps.upper, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (r < 0)
		return negative_errno();
	fs_node_set_upper(n, r, S_ISREG(in.mode) && mode == FS_COPY_UP_META);
	if (S_ISREG(in.mode) && in.nlink > 1) {
		fs_node_state ns;

		_cleanup_close_ int ufd = -EBADF;

		fs_node_get_state(n, &ns);
		r = fs_node_upper_fd(f, &ns, &ufd);
		if (r < 0)
			return r;
		return fs_copy_up_hardlinks(f, n, s->lower, ufd);
	}
	return 0;
}

/* Turns a metacopy file into a full one: data in place first, the mark removed last. */
static int complete_data(fs *f, fs_node *n, const fs_node_state *s, bool empty)
{
	_cleanup_close_ int dst = -EBADF, src = -EBADF, path = -EBADF;
	store_inode in;
	int r;

	r = store_index_stat(f->idx, s->lower, &in);
	if (r < 0)
		return r;
	r = fs_node_upper_fd(f, s, &path);
	if (r < 0)
		return r;
	dst = fs_upper_reopen(path, O_WRONLY);
	if (dst < 0)
		return dst;
	if (empty) {
		if (ftruncate(dst, 0) < 0)
			return negative_errno();
	} else if (in.size > 0) {
		src = lower_data_fd(f, &in);
		if (src < 0)
			return src;
		r = copy_data(src, dst, in.size);
		if (r < 0)
			return r;
		if (fdatasync(dst) < 0)
			return negative_errno();
	}
	if (fremovexattr(dst, FS_XATTR_METACOPY) < 0 && errno != ENODATA)
		return negative_errno();
	fs_node_set_upper(n, -EBADF, false);
	return 0;
}

int fs_copy_up_locked(fs *f, fs_node *n, fs_copy_up_mode mode)
{
	fs_node_state s;

	fs_node_get_state(n, &s);
	if (s.has_upper) {
		if (s.metacopy && mode != FS_COPY_UP_META)
			return complete_data(f, n, &s, mode == FS_COPY_UP_EMPTY);
		return 0;
	}
	if (!s.lower)
		return -ESTALE;
	return copy_up_new(f, n, &s, mode);
}

int fs_copy_up(fs *f, fs_node *n, fs_copy_up_mode mode)
{
	int r;

	pthread_mutex_lock(&f->write_lock);
	r = fs_copy_up_locked(f, n, mode);
	pthread_mutex_unlock(&f->write_lock);
	return r;
}
