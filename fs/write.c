/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/write.c: changes to the union: creating and removing names, rename, attributes, xattrs.
 *
 * Everything here runs under f->write_lock. The kernel already serializes name-space changes per
 * directory (and renames across directories); the lock adds the copy-ups, which touch the
 * ancestors of the node they start from, and keeps whiteout/opaque bookkeeping simple. Readers
 * (lookup, getattr, read, readdir) never take it.
 *
 * Whiteouts are 0/0 character devices, as overlayfs makes them. Where an entry replaces another
 * (a whiteout, an upper directory full of whiteouts), it is assembled in work/ and swapped in with
 * rename (RENAME_EXCHANGE for directories), so a crash shows the old or the new entry, never a gap
 * through which the lower one would reappear.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fs-private.h"
#include "util/fileio.h"
#include "util/macro.h"

static void lock(fs *f)
{
	pthread_mutex_lock(&f->write_lock);
}

static void unlock(fs *f)
{
	pthread_mutex_unlock(&f->write_lock);
}

/* The parent's upper fd, copying the parent up first. Borrowed: lives as long as the node. */
static int parent_upper(fs *f, fs_node *parent, int *ret)
{
	fs_node_state s;
	int r = fs_copy_up_locked(f, parent, FS_COPY_UP_META);

	if (r < 0)
		return r;
	fs_node_get_state(parent, &s);
	*ret = s.upper;
	return 0;
}

/* An owned O_PATH fd of n's upper entry (it has one: copied up). */
static int upper_fd_of(fs *f, fs_node *n, int *ret)
{
	fs_node_state s;

	fs_node_get_state(n, &s);
	return fs_node_upper_fd(f, &s, ret);
}

static bool is_whiteout(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(0, 0);
}

static int make_whiteout(int dirfd, const char *name)
{
	return mknodat(dirfd, name, S_IFCHR | 0000, makedev(0, 0)) < 0 ? negative_errno() : 0;
}

/* ---- create ---- */

typedef struct create_args {
	mode_t mode;
	dev_t rdev;
	const char *link;
	int flags;
	uid_t uid;
	gid_t gid;
	bool opaque;
} create_args;

static int make_entry_at(int dirfd, const char *name, const create_args *a, int *ret_fd)
{
	mode_t perm = a->mode & 07777;
	int fd = -EBADF;

	switch (a->mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(dirfd, name, perm) < 0)
			return negative_errno();
		break;
	case S_IFLNK:
		if (symlinkat(a->link, dirfd, name) < 0)
			return negative_errno();
		break;
	case S_IFREG:
		if (ret_fd) {
			fd = openat(dirfd, name,
				    (a->flags & ~(O_NOFOLLOW | O_TRUNC)) | O_CREAT | O_EXCL |
					    O_CLOEXEC,
				    perm);
			if (fd < 0)
				return negative_errno();
			break;
		}
		/* fallthrough */
	default:
		if (mknodat(dirfd, name, a->mode, a->rdev) < 0)
			return negative_errno();
		break;
	}
	/* Owner first: chown clears set-id bits, so the mode goes on after it. */
	if (fchownat(dirfd, name, a->uid, a->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (!S_ISLNK(a->mode) && (perm & 07000) && fchmodat(dirfd, name, perm, 0) < 0) ||
	    (a->opaque && fs_upper_setxattr_at(dirfd, name, FS_XATTR_OPAQUE, "y", 1) < 0)) {
		int r = negative_errno();

		safe_close(fd);
		unlinkat(dirfd, name, S_ISDIR(a->mode) ? AT_REMOVEDIR : 0);
		return r;
	}
	if (ret_fd)
		*ret_fd = fd;
	return 0;
}

/* Replaces a whiteout: build in work/, swap in. */
static int create_over_whiteout(fs *f, int dirfd, const char *name, const create_args *a,
				int *ret_fd)
{
	char tmp[32];
	int r;

	fs_work_name(f, tmp);
	r = make_entry_at(f->work_fd, tmp, a, ret_fd);
	if (r < 0)
		return r;
	if (S_ISDIR(a->mode)) {
		if (renameat2(f->work_fd, tmp, dirfd, name, RENAME_EXCHANGE) < 0) {
			r = negative_errno();
			unlinkat(f->work_fd, tmp, AT_REMOVEDIR);
			return r;
		}
		unlinkat(f->work_fd, tmp, 0); /* the whiteout, now in work/ */
		return 0;
	}
	if (renameat(f->work_fd, tmp, dirfd, name) < 0) {
		r = negative_errno();
		unlinkat(f->work_fd, tmp, 0);
		if (ret_fd)
			*ret_fd = safe_close(*ret_fd);
		return r;
	}
	return 0;
}

int fs_create(fs *f, fs_node *parent, const char *name, mode_t mode, dev_t rdev, const char *link,
	      int flags, const fs_creds *cr, fs_child *ret, int *ret_fd)
{
	create_args a = { .mode = mode,
			  .rdev = rdev,
			  .link = link,
			  .flags = flags,
			  .uid = cr->uid,
			  .gid = cr->gid };
	struct stat pst;
	int dirfd, r;

	lock(f);
	r = parent_upper(f, parent, &dirfd);
	if (r < 0)
		goto out;
	if (fstatat(dirfd, "", &pst, AT_EMPTY_PATH) < 0) {
		r = negative_errno();
		goto out;
	}
	/* The host file system would apply a set-group-ID parent; our chown must agree. */
	if (pst.st_mode & S_ISGID) {
		a.gid = pst.st_gid;
		if (S_ISDIR(mode))
			a.mode |= S_ISGID;
	}
	if (is_whiteout(dirfd, name)) {
		a.opaque = S_ISDIR(mode);
		r = create_over_whiteout(f, dirfd, name, &a, ret_fd);
	} else
		r = make_entry_at(dirfd, name, &a, ret_fd);
	if (r >= 0) {
		r = fs_resolve(f, parent, name, true, ret);
		if (r < 0 && ret_fd)
			*ret_fd = safe_close(*ret_fd);
	}
out:
	unlock(f);
	return r;
}

/* ---- link ---- */

int fs_link(fs *f, fs_node *n, fs_node *newparent, const char *newname, fs_child *ret)
{
	char src[FS_PROC_PATH_MAX], tmp[32];
	_cleanup_close_ int fd = -EBADF;
	int dirfd, r;

	lock(f);
	r = fs_copy_up_locked(f, n, FS_COPY_UP_DATA);
	if (r >= 0)
		r = parent_upper(f, newparent, &dirfd);
	if (r >= 0)
		r = upper_fd_of(f, n, &fd);
	if (r < 0)
		goto out;
	fs_proc_path(src, fd, NULL);
	if (is_whiteout(dirfd, newname)) {
		fs_work_name(f, tmp);
		if (linkat(AT_FDCWD, src, f->work_fd, tmp, AT_SYMLINK_FOLLOW) < 0 ||
		    renameat(f->work_fd, tmp, dirfd, newname) < 0) {
			r = negative_errno();
			unlinkat(f->work_fd, tmp, 0);
			goto out;
		}
	} else if (linkat(AT_FDCWD, src, dirfd, newname, AT_SYMLINK_FOLLOW) < 0) {
		r = negative_errno();
		goto out;
	}
	r = fs_resolve(f, newparent, newname, true, ret);
out:
	unlock(f);
	return r;
}

/* ---- remove ---- */

/* A node for a resolved child: the kernel's if it knows one, else a temporary one. The caller
 * releases it with put_node(). c->upper is consumed. */
static fs_node *get_node(fs *f, fs_node *parent, const char *name, fs_child *c, bool *ret_tmp)
{
	fs_node *n = fs_table_find(f->table, c->ino);
	fs_node_init init;

	if (n) {
		c->upper = safe_close(c->upper);
		*ret_tmp = false;
		return n;
	}
	init = (fs_node_init){ .ino = c->ino,
			       .type = c->type,
			       .lower = c->lower,
			       .upper = TAKE_FD(c->upper),
			       .opaque = c->opaque,
			       .metacopy = c->metacopy };
	*ret_tmp = true;
	return fs_table_lookup_add(f->table, &init, parent, name);
}

static void put_node(fs *f, fs_node *n, bool tmp)
{
	if (!n)
		return;
	if (tmp)
		fs_table_forget(f->table, n, 1);
	else
		fs_node_unref(f->table, n);
}

/* Moves (dirfd, name) to work/ and deletes it there; with `whiteout`, a whiteout takes its
 * place in the same rename. */
static int remove_upper(fs *f, int dirfd, const char *name, bool dir, bool whiteout)
{
	char tmp[32];
	int r;

	fs_work_name(f, tmp);
	if (whiteout) {
		r = make_whiteout(f->work_fd, tmp);
		if (r < 0)
			return r;
		if (renameat2(f->work_fd, tmp, dirfd, name, RENAME_EXCHANGE) < 0) {
			r = negative_errno();
			unlinkat(f->work_fd, tmp, 0);
			return r;
		}
	} else if (!dir) {
		return unlinkat(dirfd, name, 0) < 0 ? negative_errno() : 0;
	} else if (renameat(dirfd, name, f->work_fd, tmp) < 0)
		return negative_errno();
	/* A directory here holds at most whiteouts (the union showed it empty). */
	return rm_rf(f->work_fd, tmp);
}

static int remove_locked(fs *f, fs_node *parent, const char *name, bool dir)
{
	fs_child c;
	fs_node *n;
	bool tmp, lower_has;
	int dirfd, r;

	r = fs_resolve(f, parent, name, true, &c);
	if (r < 0)
		return r;
	if (dir != S_ISDIR(c.type)) {
		safe_close(c.upper);
		return dir ? -ENOTDIR : -EISDIR;
	}
	n = get_node(f, parent, name, &c, &tmp);
	if (!n)
		return -ENOMEM;
	r = dir ? fs_dir_is_empty(f, n) : 1;
	if (r == 0)
		r = -ENOTEMPTY;
	if (r >= 0)
		r = parent_upper(f, parent, &dirfd);
	if (r >= 0) {
		fs_node_state s;

		lower_has = fs_lower_has(f, parent, name);
		fs_node_get_state(n, &s);
		if (s.has_upper)
			r = remove_upper(f, dirfd, name, dir, lower_has);
		else
			r = make_whiteout(dirfd, name);
	}
	if (r >= 0)
		fs_node_unlinked(n, parent, name);
	put_node(f, n, tmp);
	return r;
}

int fs_remove(fs *f, fs_node *parent, const char *name, bool dir)
{
	int r;

	lock(f);
	r = remove_locked(f, parent, name, dir);
	unlock(f);
	return r;
}

/* ---- rename ---- */

/*
 * After a directory moved to (dirfd, name) under newparent: one that comes from lower records
 * where (trusted.overlay.redirect, for commit and other tools; berth finds its lower by
 * trusted.berth.ino); one made in upper hides a lower directory of its new name (opaque).
 */
static int fix_moved_dir(fs *f, fs_node *n, fs_node *newparent, int dirfd, const char *name)
{
	fs_node_state s;
	char path[4096];
	int r;

	if (!S_ISDIR(n->type))
		return 0;
	fs_node_get_state(n, &s);
	if (s.lower) {
		if (fs_upper_getxattr(dirfd, name, FS_XATTR_REDIRECT, NULL, 0) >= 0)
			return 0; /* moved before: the first redirect names the origin */
		r = fs_lower_dir_path(f, s.lower, path, sizeof(path));
		if (r < 0)
			return r;
		return fs_upper_setxattr_at(dirfd, name, FS_XATTR_REDIRECT, path, strlen(path));
	}
	if (!s.opaque && fs_lower_has(f, newparent, name))
		return fs_upper_setxattr_at(dirfd, name, FS_XATTR_OPAQUE, "y", 1);
	return 0;
}

typedef struct rename_side {
	fs_node *parent;
	const char *name;
	fs_child c;
	fs_node *n; /* NULL: absent */
	bool tmp;
	int dirfd;
} rename_side;

static int rename_exchange(fs *f, rename_side *a, rename_side *b)
{
	int r = fs_copy_up_locked(f, b->n, FS_COPY_UP_META);

	if (r < 0)
		return r;
	if (renameat2(a->dirfd, a->name, b->dirfd, b->name, RENAME_EXCHANGE) < 0)
		return negative_errno();
	r = fix_moved_dir(f, a->n, b->parent, b->dirfd, b->name);
	if (r >= 0)
		r = fix_moved_dir(f, b->n, a->parent, a->dirfd, a->name);
	if (r >= 0)
		r = fs_node_move(f->table, a->n, b->parent, b->name);
	if (r >= 0)
		r = fs_node_move(f->table, b->n, a->parent, a->name);
	return r;
}

static int rename_plain(fs *f, rename_side *a, rename_side *b)
{
	bool whiteout = fs_lower_has(f, a->parent, a->name);
	fs_node_state bs;
	int r;

	if (b->n) {
		fs_node_get_state(b->n, &bs);
		/* An upper directory the union shows empty may hold whiteouts, which the host's
		 * rename would refuse: clear it out of the way first. */
		if (S_ISDIR(b->n->type) && bs.has_upper) {
			r = remove_upper(f, b->dirfd, b->name, true, false);
			if (r < 0)
				return r;
		}
	}
	if (renameat2(a->dirfd, a->name, b->dirfd, b->name, whiteout ? RENAME_WHITEOUT : 0) < 0)
		return negative_errno();
	r = fix_moved_dir(f, a->n, b->parent, b->dirfd, b->name);
	if (b->n)
		fs_node_unlinked(b->n, b->parent, b->name);
	if (r >= 0)
		r = fs_node_move(f->table, a->n, b->parent, b->name);
	return r;
}

static int side_resolve(fs *f, rename_side *s)
{
	int r = fs_resolve(f, s->parent, s->name, true, &s->c);

	if (r < 0)
		return r;
	s->n = get_node(f, s->parent, s->name, &s->c, &s->tmp);
	return s->n ? 0 : -ENOMEM;
}

static int rename_locked(fs *f, rename_side *a, rename_side *b, unsigned flags)
{
	int r;

	r = side_resolve(f, a);
	if (r < 0)
		return r;
	r = side_resolve(f, b);
	if (r == -ENOENT && !(flags & RENAME_EXCHANGE))
		r = 0;
	else if (r >= 0 && (flags & RENAME_NOREPLACE))
		r = -EEXIST;
	if (r < 0)
		return r;
	if (a->n == b->n)
		return 0; /* two names of one inode: rename(2) does nothing */
	if (b->n && !(flags & RENAME_EXCHANGE) && S_ISDIR(b->n->type)) {
		r = fs_dir_is_empty(f, b->n);
		if (r <= 0)
			return r < 0 ? r : -ENOTEMPTY;
	}
	r = fs_copy_up_locked(f, a->n, FS_COPY_UP_META);
	if (r >= 0)
		r = parent_upper(f, a->parent, &a->dirfd);
	if (r >= 0)
		r = parent_upper(f, b->parent, &b->dirfd);
	if (r < 0)
		return r;
	return flags & RENAME_EXCHANGE ? rename_exchange(f, a, b) : rename_plain(f, a, b);
}

int fs_rename(fs *f, fs_node *p, const char *name, fs_node *np, const char *newname, unsigned flags)
{
	rename_side a = { .parent = p, .name = name }, b = { .parent = np, .name = newname };
	int r;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	lock(f);
	r = rename_locked(f, &a, &b, flags);
	put_node(f, a.n, a.tmp);
	put_node(f, b.n, b.tmp);
	unlock(f);
	return r;
}

/* ---- attributes ---- */

static int set_times(int fd, const struct stat *attr, unsigned valid)
{
	char p[FS_PROC_PATH_MAX];
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (valid & FS_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (valid & FS_SET_ATIME)
		ts[0] = attr->st_atim;
	if (valid & FS_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (valid & FS_SET_MTIME)
		ts[1] = attr->st_mtim;
	fs_proc_path(p, fd, NULL);
	return utimensat(AT_FDCWD, p, ts, 0) < 0 ? negative_errno() : 0;
}

static int set_size(int upper, int fd, off_t size)
{
	_cleanup_close_ int own = -EBADF;

	if (fd < 0) {
		own = fs_upper_reopen(upper, O_WRONLY);
		if (own < 0)
			return own;
		fd = own;
	}
	return ftruncate(fd, size) < 0 ? negative_errno() : 0;
}

static int setattr_locked(fs *f, fs_node *n, const struct stat *attr, unsigned valid, int fd)
{
	fs_copy_up_mode mode = FS_COPY_UP_META;
	_cleanup_close_ int up = -EBADF;
	char p[FS_PROC_PATH_MAX];
	int r;

	if (valid & FS_SET_SIZE)
		mode = attr->st_size == 0 ? FS_COPY_UP_EMPTY : FS_COPY_UP_DATA;
	r = fs_copy_up_locked(f, n, mode);
	if (r >= 0)
		r = upper_fd_of(f, n, &up);
	if (r < 0)
		return r;
	if (valid & (FS_SET_UID | FS_SET_GID) &&
	    fchownat(up, "", (valid & FS_SET_UID) ? attr->st_uid : (uid_t)-1,
		     (valid & FS_SET_GID) ? attr->st_gid : (gid_t)-1,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return negative_errno();
	if (valid & FS_SET_MODE) {
		fs_proc_path(p, up, NULL);
		if (chmod(p, attr->st_mode & 07777) < 0)
			return negative_errno();
	}
	if (valid & FS_SET_SIZE) {
		r = set_size(up, fd, attr->st_size);
		if (r < 0)
			return r;
	}
	if (valid & (FS_SET_ATIME | FS_SET_MTIME | FS_SET_ATIME_NOW | FS_SET_MTIME_NOW))
		return set_times(up, attr, valid);
	return 0;
}

int fs_setattr(fs *f, fs_node *n, const struct stat *attr, unsigned valid, int fd)
{
	int r;

	lock(f);
	r = setattr_locked(f, n, attr, valid, fd);
	unlock(f);
	return r;
}

int fs_setxattr(fs *f, fs_node *n, const char *name, const void *value, size_t size, int flags)
{
	_cleanup_close_ int fd = -EBADF;
	char p[FS_PROC_PATH_MAX];
	int r;

	if (fs_xattr_private(name))
		return -EPERM;
	lock(f);
	r = fs_copy_up_locked(f, n, FS_COPY_UP_META);
	if (r >= 0)
		r = upper_fd_of(f, n, &fd);
	if (r >= 0) {
		fs_proc_path(p, fd, NULL);
		if (setxattr(p, name, value, size, flags) < 0)
			r = negative_errno();
	}
	unlock(f);
	return r;
}

int fs_removexattr(fs *f, fs_node *n, const char *name)
{
	_cleanup_close_ int fd = -EBADF;
	char p[FS_PROC_PATH_MAX];
	int r;

	if (fs_xattr_private(name))
		return -EPERM;
	/* Removing what is not there changes nothing: no copy-up for it. */
	r = (int)fs_node_getxattr(f, n, name, NULL, 0);
	if (r < 0)
		return r;
	lock(f);
	r = fs_copy_up_locked(f, n, FS_COPY_UP_META);
	if (r >= 0)
		r = upper_fd_of(f, n, &fd);
	if (r >= 0) {
		fs_proc_path(p, fd, NULL);
		if (removexattr(p, name) < 0)
			r = negative_errno();
	}
	unlock(f);
	return r;
}
