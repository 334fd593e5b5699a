/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fs/lower.c: the content cache (fs/lower.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/lower.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/macro.h"

struct fs_lower_cache {
	store *store;
	int dir_fd;
	atomic_uint_fast64_t tmp_seq;
};

static int read_boot_id(char *out, size_t size)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	int r = read_file(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 128, &b);

	if (r < 0)
		return r;
	snprintf(out, size, "%s", b.data ? b.data : "");
	return 0;
}

/*
 * Cache files are renamed into place without an fsync each (one per first read would slow every
 * container start), so after a power loss one could hold zeros under its real name. The cache
 * therefore records the boot it was filled in, and a cache from an earlier boot is discarded:
 * it is derived data. A lock file beside it serializes this check between mounts.
 */
static int check_boot(const char *dir)
{
	_cleanup_free_ char *lockp = NULL, *old = NULL, *idp = NULL;
	_cleanup_(buf_done) buf b = BUF_INIT;
	_cleanup_close_ int lock = -EBADF;
	char boot[64];
	int r;

	if (read_boot_id(boot, sizeof(boot)) < 0)
		return 0; /* no boot id to compare: keep the cache */
	idp = path_join(dir, ".boot-id");
	if (!idp || asprintf(&lockp, "%s.lock", dir) < 0 ||
	    asprintf(&old, "%s.old.%d", dir, (int)getpid()) < 0)
		return -ENOMEM;
	lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return negative_errno();
	r = read_file(AT_FDCWD, idp, 128, &b);
	if (r >= 0 && b.data && streq(b.data, boot))
		return 0;
	if (r < 0 && r != -ENOENT)
		return r;
	/* Another boot's cache, or one without a record: set it aside and drop it. */
	if (rename(dir, old) >= 0)
		(void)rm_rf(AT_FDCWD, old);
	r = mkdir_p(AT_FDCWD, dir, 0700);
	if (r < 0)
		return r;
	return write_file_atomic(AT_FDCWD, idp, boot, strlen(boot), 0600);
}

int fs_lower_cache_new(store *s, const char *dir, fs_lower_cache **ret)
{
	fs_lower_cache *c;
	int r, fd;

	r = mkdir_p(AT_FDCWD, dir, 0700);
	if (r < 0)
		return r;
	r = check_boot(dir);
	if (r < 0)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	c = calloc(1, sizeof(*c));
	if (!c) {
		safe_close(fd);
		return -ENOMEM;
	}
	c->store = s;
	c->dir_fd = fd;
	*ret = c;
	return 0;
}

fs_lower_cache *fs_lower_cache_free(fs_lower_cache *c)
{
	if (!c)
		return NULL;
	safe_close(c->dir_fd);
	free(c);
	return NULL;
}

static int sink_write(void *userdata, const void *data, size_t len)
{
	return fd_write_all(*(int *)userdata, data, len);
}

/*
 * Fills the cache file for f. Two threads missing the same file both fill and the second
 * rename wins: the contents are equal, so readers of either are right.
 */
static int fill(fs_lower_cache *c, const store_file_ref *f, const char *name)
{
	char tmp[STORE_DIGEST_HEX_LEN + 64];
	_cleanup_close_ int fd = -EBADF;
	int r;

	snprintf(tmp, sizeof(tmp), ".tmp.%s.%d.%llu", name, (int)getpid(),
		 (unsigned long long)atomic_fetch_add(&c->tmp_seq, 1));
	fd = openat(c->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0)
		return negative_errno();
	r = store_file_read(c->store, f, sink_write, &fd);
	if (r >= 0 && renameat(c->dir_fd, tmp, c->dir_fd, name) < 0)
		r = negative_errno();
	if (r < 0)
		unlinkat(c->dir_fd, tmp, 0);
	return r;
}

int fs_lower_open(fs_lower_cache *c, const store_file_ref *f)
{
	char name[STORE_DIGEST_HEX_LEN + 1];
	int fd, r;

	store_digest_hex(&f->digest, name);
	fd = openat(c->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : negative_errno();
	r = fill(c, f, name);
	if (r < 0)
		return r;
	fd = openat(c->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOATIME);
	return fd >= 0 ? fd : negative_errno();
}
