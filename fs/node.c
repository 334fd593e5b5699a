/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fs/node.c: operations on one node: readlink, open, xattrs (fs/fs-private.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fs-private.h"
#include "util/macro.h"

int fs_upper_reopen(int opath_fd, int flags)
{
	char p[FS_PROC_PATH_MAX];
	int fd;

	fs_proc_path(p, opath_fd, NULL);
	fd = open(p, (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW)) | O_CLOEXEC);
	return fd < 0 ? negative_errno() : fd;
}

int fs_node_readlink(fs *f, fs_node *n, char *out, size_t size)
{
	fs_node_state s;
	store_inode in;
	ssize_t len;
	int r;

	fs_node_get_state(n, &s);
	if (s.has_upper) {
		_cleanup_close_ int fd = -EBADF;

		r = fs_node_upper_fd(f, &s, &fd);
		if (r < 0)
			return r;
		len = readlinkat(fd, "", out, size);
		if (len < 0)
			return negative_errno();
		if ((size_t)len >= size)
			return -ENAMETOOLONG;
		out[len] = '\0';
		return 0;
	}
	r = store_index_stat(f->idx, s.lower, &in);
	if (r < 0)
		return r;
	if (!S_ISLNK(in.mode))
		return -EINVAL;
	if (in.link_len >= size)
		return -ENAMETOOLONG;
	memcpy(out, in.link, in.link_len);
	out[in.link_len] = '\0';
	return 0;
}

static int lower_open(fs *f, store_ino ino)
{
	store_inode in;
	int r = store_index_stat(f->idx, ino, &in);

	if (r < 0)
		return r;
	if (!S_ISREG(in.mode))
		return -EINVAL;
	return fs_lower_open(f->cache, &in.content);
}

static bool open_writes(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

int fs_node_open(fs *f, fs_node *n, int flags, bool *ret_lower)
{
	fs_node_state s;
	int fd, r;

	fs_node_get_state(n, &s);
	if (open_writes(flags) && (!s.has_upper || s.metacopy)) {
		/* O_TRUNC: the data is about to go, copy none of it. */
		r = fs_copy_up(f, n, (flags & O_TRUNC) ? FS_COPY_UP_EMPTY : FS_COPY_UP_DATA);
		if (r < 0)
			return r;
		fs_node_get_state(n, &s);
	}
	if (s.has_upper && !s.metacopy) {
		_cleanup_close_ int path = -EBADF;

		r = fs_node_upper_fd(f, &s, &path);
		if (r < 0)
			return r;
		fd = fs_upper_reopen(path, flags);
		if (fd >= 0)
			*ret_lower = false;
		return fd;
	}
	fd = lower_open(f, s.lower);
	if (fd >= 0)
		*ret_lower = true;
	return fd;
}

bool fs_xattr_private(const char *name)
{
	return strneq(name, FS_XATTR_PRIVATE_OVERLAY, strlen(FS_XATTR_PRIVATE_OVERLAY)) ||
	       strneq(name, FS_XATTR_PRIVATE_BERTH, strlen(FS_XATTR_PRIVATE_BERTH));
}

ssize_t fs_node_getxattr(fs *f, fs_node *n, const char *name, void *value, size_t size)
{
	fs_node_state s;
	const void *v;
	size_t len;
	int r;

	if (fs_xattr_private(name))
		return -ENODATA;
	fs_node_get_state(n, &s);
	if (s.has_upper) {
		_cleanup_close_ int fd = -EBADF;

		r = fs_node_upper_fd(f, &s, &fd);
		if (r < 0)
			return r;
		return fs_upper_getxattr(fd, NULL, name, value, size);
	}
	r = store_index_getxattr(f->idx, s.lower, name, &v, &len);
	if (r < 0)
		return r;
	if (size == 0)
		return (ssize_t)len;
	if (len > size)
		return -ERANGE;
	memcpy(value, v, len);
	return (ssize_t)len;
}

/* Removes the private names from a NUL-separated list in place; returns the new length. */
static size_t filter_list(char *list, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		size_t l = strnlen(list + i, len - i) + 1;

		if (!fs_xattr_private(list + i)) {
			memmove(list + o, list + i, l);
			o += l;
		}
		i += l;
	}
	return o;
}

static ssize_t upper_listxattr(int fd, char *list, size_t size)
{
	char p[FS_PROC_PATH_MAX];
	_cleanup_free_ char *all = NULL;
	ssize_t len;

	fs_proc_path(p, fd, NULL);
	/* The private names count in the kernel's size: read all, filter, then fit. */
	for (;;) {
		len = listxattr(p, NULL, 0);
		if (len < 0)
			return negative_errno();
		free(all);
		all = malloc((size_t)len + 1);
		if (!all)
			return -ENOMEM;
		len = listxattr(p, all, (size_t)len);
		if (len >= 0)
			break;
		if (errno != ERANGE)
			return negative_errno();
	}
	len = (ssize_t)filter_list(all, (size_t)len);
	if (size == 0)
		return len;
	if ((size_t)len > size)
		return -ERANGE;
	memcpy(list, all, (size_t)len);
	return len;
}

static ssize_t lower_listxattr(fs *f, store_ino ino, char *list, size_t size)
{
	size_t len = 0;
	const char *name;
	const void *v;
	size_t vlen;

	for (uint32_t i = 0; store_index_xattr(f->idx, ino, i, &name, &v, &vlen) >= 0; i++) {
		size_t l = strlen(name) + 1;

		if (fs_xattr_private(name))
			continue;
		if (size && len + l > size)
			return -ERANGE;
		if (size)
			memcpy(list + len, name, l);
		len += l;
	}
	return (ssize_t)len;
}

ssize_t fs_node_listxattr(fs *f, fs_node *n, char *list, size_t size)
{
	fs_node_state s;

	fs_node_get_state(n, &s);
	if (s.has_upper) {
		_cleanup_close_ int fd = -EBADF;
		int r = fs_node_upper_fd(f, &s, &fd);

		if (r < 0)
			return r;
		return upper_listxattr(fd, list, size);
	}
	return lower_listxattr(f, s.lower, list, size);
}
