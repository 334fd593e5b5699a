/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fs/fs.c: the filesystem object's lifecycle, and unmounting (fs/fs.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "fs/fs-private.h"
#include "util/fileio.h"
#include "util/macro.h"

static int open_dir(const char *path, const char *what, int *ret, berth_error *reterr)
{
	int r = mkdir_p(AT_FDCWD, path, 0755);
	int fd;

	if (r < 0)
		return berth_error_set(reterr, r, "cannot create the %s directory '%s'", what,
				       path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(reterr, negative_errno(),
				       "cannot open the %s directory '%s'", what, path);
	*ret = fd;
	return 0;
}

/*
 * A fresh upper root is a copy-up of the image's root: it shows the image root's mode, owner
 * and times, and carries the root's inode number like any other copied-up directory.
 */
static int init_upper_root(fs *f)
{
	char v[32];
	store_inode in;
	struct timespec ts[2];
	int r;

	if (fgetxattr(f->upper_fd, FS_XATTR_INO, v, sizeof(v)) >= 0)
		return 0;
	if (errno != ENODATA)
		return negative_errno();
	r = store_index_stat(f->idx, STORE_INO_ROOT, &in);
	if (r < 0)
		return r;
	if (fchown(f->upper_fd, in.uid, in.gid) < 0 || fchmod(f->upper_fd, in.mode & 07777) < 0)
		return negative_errno();
	ts[0] = (struct timespec){ in.atime_ns / 1000000000, in.atime_ns % 1000000000 };
	ts[1] = (struct timespec){ in.mtime_ns / 1000000000, in.mtime_ns % 1000000000 };
	if (futimens(f->upper_fd, ts) < 0)
		return negative_errno();
	snprintf(v, sizeof(v), "%" PRIu64, (uint64_t)STORE_INO_ROOT);
	if (fsetxattr(f->upper_fd, FS_XATTR_INO, v, strlen(v), 0) < 0)
		return negative_errno();
	return 0;
}

static int setup_dirs(fs *f, const fs_options *opts, berth_error *reterr)
{
	struct stat su, sw;
	int r;

	r = open_dir(opts->upper, "upper", &f->upper_fd, reterr);
	if (r < 0)
		return r;
	r = open_dir(opts->work, "work", &f->work_fd, reterr);
	if (r < 0)
		return r;
	if (fstat(f->upper_fd, &su) < 0 || fstat(f->work_fd, &sw) < 0)
		return negative_errno();
	if (su.st_dev != sw.st_dev)
		return berth_error_set(reterr, -EXDEV,
				       "work directory '%s' is not on the file system of '%s'",
				       opts->work, opts->upper);
	/* Anything left in work/ is a copy-up that a crash interrupted: never visible, discard. */
	r = rm_rf(f->work_fd, ".");
	if (r < 0 && r != -EINVAL && r != -EBUSY)
		return berth_error_set(reterr, r, "cannot empty the work directory '%s'",
				       opts->work);
	r = init_upper_root(f);
	if (r < 0)
		return berth_error_set(reterr, r, "cannot initialise the upper directory '%s'",
				       opts->upper);
	return 0;
}

static int setup_root(fs *f)
{
	fs_node_init init = {
		.ino = STORE_INO_ROOT,
		.type = S_IFDIR,
		.lower = STORE_INO_ROOT,
		.upper = openat(f->upper_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC),
	};

	if (init.upper < 0)
		return negative_errno();
	return fs_table_set_root(f->table, &init);
}

int fs_new(store *s, const fs_options *opts, fs **ret, berth_error *reterr)
{
	_cleanup_free_ char *cache = NULL;
	fs *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->store = s;
	f->upper_fd = f->work_fd = -EBADF;
	f->threads = opts->threads;
	f->debug = opts->debug;
	pthread_mutex_init(&f->write_lock, NULL);
	cache = opts->cache ? strdup(opts->cache) : path_join(store_root(s), "cache");
	r = cache ? 0 : -ENOMEM;
	if (r >= 0)
		r = store_index_open(s, &opts->image, &f->idx, reterr);
	if (r >= 0)
		r = setup_dirs(f, opts, reterr);
	if (r >= 0) {
		r = fs_lower_cache_new(s, cache, &f->cache);
		if (r < 0)
			berth_error_set(reterr, r, "cannot open the content cache '%s'", cache);
	}
	if (r >= 0)
		r = fs_table_new(&f->table);
	if (r >= 0)
		r = setup_root(f);
	if (r < 0) {
		fs_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

fs *fs_free(fs *f)
{
	if (!f)
		return NULL;
	fs_table_free(f->table);
	fs_lower_cache_free(f->cache);
	store_index_free(f->idx);
	safe_close(f->upper_fd);
	safe_close(f->work_fd);
	pthread_mutex_destroy(&f->write_lock);
	free(f->mountpoint);
	free(f);
	return NULL;
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as octal. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

/* 1 if the last mount on `path` is a berth mount, 0 if it is another file system's, -ENOENT. */
static int mount_type(const char *path)
{
	_cleanup_fclose_ FILE *m = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int found = -ENOENT;

	if (!m)
		return negative_errno();
	while (getline(&line, &cap, m) > 0) {
		char mp[PATH_MAX], type[256];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%255s", type) != 1)
			continue;
		unescape(mp);
		if (streq(mp, path))
			found = streq(type, "fuse.berth");
	}
	return found;
}

/* The absolute path of a mount point without stat()ing it: a dead FUSE mount fails every stat
 * (ENOTCONN), so only its parent is resolved. */
static int canonical_mountpoint(const char *path, char **ret)
{
	_cleanup_free_ char *d = strdup(path), *b = strdup(path);
	char parent[PATH_MAX];
	char *out;

	if (!d || !b)
		return -ENOMEM;
	if (!realpath(dirname(d), parent))
		return negative_errno();
	if (asprintf(&out, "%s/%s", streq(parent, "/") ? "" : parent, basename(b)) < 0)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int fs_unmount(const char *mountpoint, berth_error *reterr)
{
	_cleanup_free_ char *mp = NULL;
	int r;

	r = canonical_mountpoint(mountpoint, &mp);
	if (r < 0)
		return berth_error_set(reterr, r, "cannot resolve '%s'", mountpoint);
	r = mount_type(mp);
	if (r < 0)
		return berth_error_set(reterr, -EINVAL, "'%s' is not a mount point", mp);
	if (r == 0)
		return berth_error_set(reterr, -EINVAL, "'%s' is not a berth mount", mp);
	if (umount2(mp, UMOUNT_NOFOLLOW) >= 0)
		return 0;
	/* Busy (a process has its cwd inside): detach, the kernel finishes when it is left. A
	 * dead server's mount unmounts like a live one: the kernel does not ask the server. */
	if (errno == EBUSY && umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) >= 0)
		return 0;
	return berth_error_set(reterr, negative_errno(), "cannot unmount '%s'", mp);
}
