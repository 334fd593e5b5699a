/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/pin.c: pins, gc's extra roots: pins/<owner> holds one "sha256:<image id>" line.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>

#include "store/store-private.h"
#include "util/fileio.h"
#include "util/macro.h"

static bool pin_owner_valid(const char *owner)
{
	size_t n = owner ? strlen(owner) : 0;

	if (n == 0 || n > 255 || owner[0] == '.' || strstr(owner, ".tmp."))
		return false;
	return strspn(owner, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
	       n;
}

int store_pin_set(store *s, const char *owner, const store_digest *image_id)
{
	_cleanup_close_ int fd = -EBADF;
	char line[STORE_DIGEST_STR_LEN + 1];
	int r;

	if (!pin_owner_valid(owner))
		return -EINVAL;
	fd = store_open_dir(s->dir_fd, "pins");
	if (fd < 0)
		return fd;
	store_digest_str(image_id, line);
	line[STORE_DIGEST_STR_LEN - 1] = '\n';
	line[STORE_DIGEST_STR_LEN] = '\0';
	r = store_write_begin(s);
	if (r < 0)
		return r;
	r = write_file_atomic(fd, owner, line, STORE_DIGEST_STR_LEN, 0644);
	store_write_end(s);
	return r;
}

int store_pin_remove(store *s, const char *owner)
{
	_cleanup_close_ int fd = -EBADF;

	if (!pin_owner_valid(owner))
		return -EINVAL;
	fd = store_open_dir(s->dir_fd, "pins");
	if (fd < 0)
		return fd;
	if (unlinkat(fd, owner, 0) < 0 && errno != ENOENT)
		return negative_errno();
	return 0;
}

static int pin_read(int dirfd, const char *owner, store_digest *ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	int r;

	r = read_file(dirfd, owner, 256, &b);
	if (r < 0)
		return r == -EFBIG ? -EBADMSG : r;
	if (b.len == 0 || b.data[b.len - 1] != '\n')
		return -EBADMSG;
	b.data[b.len - 1] = '\0';
	return store_digest_parse(b.data, ret) < 0 ? -EBADMSG : 0;
}

int store_pin_foreach(store *s,
		      int (*cb)(store *s, const char *owner, const store_digest *image_id,
				void *userdata),
		      void *userdata)
{
	int fd = store_open_dir(s->dir_fd, "pins");
	struct dirent *de = NULL;
	store_digest d;
	DIR *dir;
	int r = 0;

	if (fd < 0)
		return fd;
	dir = fdopendir(fd);
	if (!dir) {
		safe_close(fd);
		return -ENOMEM;
	}
	while (r == 0 && (errno = 0, de = readdir(dir))) {
		if (!pin_owner_valid(de->d_name))
			continue; /* ".", "..", write_file_atomic()'s temp files */
		r = pin_read(dirfd(dir), de->d_name, &d);
		if (r == -ENOENT) {
			r = 0; /* removed since readdir() saw it */
			continue;
		}
		if (r >= 0)
			r = cb(s, de->d_name, &d, userdata);
	}
	if (r == 0 && !de && errno)
		r = negative_errno();
	closedir(dir);
	return r;
}
