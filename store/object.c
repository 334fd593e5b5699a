/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/object.c: objects: put, get, has, stat, foreach, remove, quarantine.
 *
 * Dedup is the hot path of every import: most chunks of a second image already exist, so a put
 * starts with one fstatat() and returns if the object is there. A new object is written to a
 * unique file in tmp/ and renamed into place, without an fsync (store_sync() is the durability
 * point). Two writers of the same object both rename complete, identical files, so the race is
 * harmless and nobody needs a lock for it.
 */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "store/compress.h"
#include "store/file-private.h"
#include "store/store-private.h"
#include "util/fileio.h"
#include "util/macro.h"

#define OBJ_MAGIC	"BRTO"
#define OBJ_HEADER_SIZE 16
#define OBJ_CODEC_RAW	0
#define OBJ_CODEC_ZSTD	1
/* "<2 hex>/<62 hex>" + NUL */
#define OBJ_PATH_LEN	(STORE_DIGEST_HEX_LEN + 2)

/* ---- Per-thread scratch buffer (compressed payloads), freed at thread exit ---- */

static __thread buf tls_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_release(void *p)
{
	buf_done(p);
}

static void scratch_key_init(void)
{
	if (pthread_key_create(&scratch_key, scratch_release) != 0)
		abort();
}

static buf *scratch_get(void)
{
	if (_unlikely_(!tls_scratch.data)) {
		pthread_once(&scratch_once, scratch_key_init);
		pthread_setspecific(scratch_key, &tls_scratch);
	}
	buf_reset(&tls_scratch);
	return &tls_scratch;
}

static void object_path(const store_digest *d, char out[static OBJ_PATH_LEN])
{
	char hex[STORE_DIGEST_HEX_LEN + 1];

	store_digest_hex(d, hex);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '/';
	memcpy(out + 3, hex + 2, STORE_DIGEST_HEX_LEN - 2 + 1);
}

static uint64_t kind_max_size(store_kind kind)
{
	return kind == STORE_CHUNK ? STORE_CHUNK_MAX_LIMIT : STORE_OBJECT_MAX_SIZE;
}

static void header_encode(uint8_t h[static OBJ_HEADER_SIZE], store_kind kind, uint8_t codec,
			  uint64_t size)
{
	memcpy(h, OBJ_MAGIC, 4);
	h[4] = (uint8_t)kind;
	h[5] = codec;
	h[6] = h[7] = 0;
	for (unsigned i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(size >> (8 * i));
}

static int header_decode(const uint8_t h[static OBJ_HEADER_SIZE], store_kind kind,
			 uint8_t *ret_codec, uint64_t *ret_size)
{
	uint64_t size = 0;

	if (memcmp(h, OBJ_MAGIC, 4) != 0 || h[4] != (uint8_t)kind || h[6] || h[7])
		return -EBADMSG;
	if (h[5] != OBJ_CODEC_RAW && h[5] != OBJ_CODEC_ZSTD)
		return -EBADMSG;
	for (unsigned i = 0; i < 8; i++)
		size |= (uint64_t)h[8 + i] << (8 * i);
	if (size > kind_max_size(kind))
		return -EBADMSG;
	*ret_codec = h[5];
	*ret_size = size;
	return 0;
}

static int writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Writes a new file in tmp/ with a name no other writer uses; its name goes to `name`. */
static int tmp_write(store *s, struct iovec *iov, int n, char name[static 64])
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	for (int tries = 0; fd < 0; tries++) {
		snprintf(name, 64, "obj.%d.%lu", getpid(), store_tmp_seq());
		fd = openat(s->tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		if (fd < 0 && (errno != EEXIST || tries > 100))
			return negative_errno();
	}
	r = writev_all(fd, iov, n);
	if (r >= 0 && close(TAKE_FD(fd)) < 0)
		r = negative_errno();
	if (r < 0)
		unlinkat(s->tmp_fd, name, 0);
	return r;
}

static int tmp_publish(store *s, store_kind kind, const char *tmpname, const char *path)
{
	char fan[3] = { path[0], path[1], '\0' };

	int r = 0;

	if (renameat(s->tmp_fd, tmpname, s->kind_fd[kind], path) >= 0)
		return 0;
	if (errno != ENOENT)
		r = negative_errno();
	/* First object of this fan-out directory; another writer may create it first. */
	else if (mkdirat(s->kind_fd[kind], fan, 0755) < 0 && errno != EEXIST)
		r = negative_errno();
	else if (renameat(s->tmp_fd, tmpname, s->kind_fd[kind], path) < 0)
		r = negative_errno();
	if (r < 0)
		unlinkat(s->tmp_fd, tmpname, 0);
	return r;
}

int store_object_put_hashed(store *s, store_kind kind, const void *data, size_t len,
			    const store_digest *digest)
{
	uint8_t hdr[OBJ_HEADER_SIZE];
	char path[OBJ_PATH_LEN], tmpname[64];
	struct iovec iov[2];
	struct stat st;
	buf *z;
	int r;

	assert((unsigned)kind < _STORE_KIND_MAX && digest);
	assert(store_in_session(s));
	if (len > kind_max_size(kind))
		return -EFBIG;
	object_path(digest, path);
	/* A dedup hit trusts the file, unless it cannot even hold a header: a power loss before
	 * store_sync() can leave a renamed object empty, and it is then written again. */
	if (fstatat(s->kind_fd[kind], path, &st, 0) >= 0) {
		if (st.st_size >= OBJ_HEADER_SIZE)
			return 0;
	} else if (errno != ENOENT)
		return negative_errno();

	z = scratch_get();
	r = store_compress(data, len, s->zstd_level, z);
	if (r < 0)
		return r;
	/* Keep zstd only when it saves at least 1/16: decompressing costs every reader. */
	if (z->len <= len - len / 16) {
		header_encode(hdr, kind, OBJ_CODEC_ZSTD, len);
		iov[1] = (struct iovec){ z->data, z->len };
	} else {
		header_encode(hdr, kind, OBJ_CODEC_RAW, len);
		iov[1] = (struct iovec){ (void *)data, len };
	}
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	r = tmp_write(s, iov, 2, tmpname);
	if (r < 0)
		return r;
	return tmp_publish(s, kind, tmpname, path);
}

int store_object_put(store *s, store_kind kind, const void *data, size_t len, store_digest *ret)
{
	store_digest d;
	int r;

	store_digest_buf(data, len, &d);
	r = store_object_put_hashed(s, kind, data, len, &d);
	if (r < 0)
		return r;
	if (ret)
		*ret = d;
	return 0;
}

int store_object_has(store *s, store_kind kind, const store_digest *d)
{
	char path[OBJ_PATH_LEN];
	struct stat st;

	assert((unsigned)kind < _STORE_KIND_MAX);
	object_path(d, path);
	if (fstatat(s->kind_fd[kind], path, &st, 0) >= 0)
		return 1;
	return errno == ENOENT ? 0 : negative_errno();
}

static int object_open(store *s, store_kind kind, const store_digest *d)
{
	char path[OBJ_PATH_LEN];
	int fd;

	assert((unsigned)kind < _STORE_KIND_MAX);
	object_path(d, path);
	fd = openat(s->kind_fd[kind], path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? negative_errno() : fd;
}

/* Reads exactly len bytes at off; a file shorter than its header says is corrupt. */
static int pread_exact(int fd, void *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -EBADMSG;
		p = (char *)p + n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int object_read_header(int fd, store_kind kind, uint8_t *ret_codec, uint64_t *ret_size,
			      uint64_t *ret_payload)
{
	uint8_t h[OBJ_HEADER_SIZE];
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) || st.st_size < OBJ_HEADER_SIZE)
		return -EBADMSG;
	r = pread_exact(fd, h, sizeof(h), 0);
	if (r < 0)
		return r;
	r = header_decode(h, kind, ret_codec, ret_size);
	if (r < 0)
		return r;
	*ret_payload = (uint64_t)st.st_size - OBJ_HEADER_SIZE;
	return 0;
}

static int object_read_payload(int fd, uint8_t codec, uint64_t size, uint64_t payload, buf *out)
{
	buf *z;
	int r;

	if (codec == OBJ_CODEC_RAW) {
		if (payload != size)
			return -EBADMSG;
		r = buf_reserve(out, size);
		if (r < 0)
			return r;
		r = pread_exact(fd, out->data + out->len, size, OBJ_HEADER_SIZE);
		if (r < 0)
			return r;
		out->len += size;
		out->data[out->len] = '\0';
		return 0;
	}
	if (payload == 0 || payload > store_compress_bound(size))
		return -EBADMSG;
	z = scratch_get();
	r = buf_reserve(z, payload);
	if (r < 0)
		return r;
	r = pread_exact(fd, z->data, payload, OBJ_HEADER_SIZE);
	if (r < 0)
		return r;
	return store_decompress(z->data, payload, size, out);
}

static int object_verify(store_kind kind, const store_digest *d, const void *p, size_t len)
{
	store_digest got;

	if (kind == STORE_FILE)
		return store_file_list_check(p, len);
	store_digest_buf(p, len, &got);
	return store_digest_eq(&got, d) ? 0 : -EBADMSG;
}

int store_object_get(store *s, store_kind kind, const store_digest *d, buf *out)
{
	_cleanup_close_ int fd = object_open(s, kind, d);
	size_t orig = out->len;
	uint64_t size, payload;
	uint8_t codec;
	int r;

	if (fd < 0)
		return fd == -ELOOP ? -EBADMSG : fd;
	r = object_read_header(fd, kind, &codec, &size, &payload);
	if (r >= 0)
		r = object_read_payload(fd, codec, size, payload, out);
	if (r >= 0)
		r = object_verify(kind, d, out->data + orig, out->len - orig);
	if (r < 0 && out->data) {
		out->len = orig;
		out->data[orig] = '\0';
	}
	return r;
}

int store_object_stat(store *s, store_kind kind, const store_digest *d, uint64_t *ret_disk,
		      uint64_t *ret_size)
{
	_cleanup_close_ int fd = object_open(s, kind, d);
	uint64_t size, payload;
	uint8_t codec;
	int r;

	if (fd < 0)
		return fd == -ELOOP ? -EBADMSG : fd;
	r = object_read_header(fd, kind, &codec, &size, &payload);
	if (r < 0)
		return r;
	if (ret_disk)
		*ret_disk = payload + OBJ_HEADER_SIZE;
	if (ret_size)
		*ret_size = size;
	return 0;
}

static bool is_lower_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return p[n] == '\0';
}

static int foreach_fan(store *s, store_kind kind, const char *fan,
		       int (*cb)(store *s, const store_digest *d, void *userdata), void *userdata)
{
	int fd = openat(s->kind_fd[kind], fan, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char hex[STORE_DIGEST_HEX_LEN + 1];
	struct dirent *de = NULL;
	store_digest d;
	DIR *dir;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	dir = fdopendir(fd);
	if (!dir) {
		safe_close(fd);
		return -ENOMEM;
	}
	while (r == 0 && (errno = 0, de = readdir(dir))) {
		if (!is_lower_hex(de->d_name, STORE_DIGEST_HEX_LEN - 2))
			continue; /* ".", "..", anything that is not an object name */
		memcpy(hex, fan, 2);
		memcpy(hex + 2, de->d_name, STORE_DIGEST_HEX_LEN - 1);
		if (hex_decode(hex, d.b, STORE_DIGEST_LEN) < 0)
			continue;
		r = cb(s, &d, userdata);
	}
	if (r == 0 && !de && errno)
		r = negative_errno();
	closedir(dir);
	return r;
}

int store_object_foreach(store *s, store_kind kind,
			 int (*cb)(store *s, const store_digest *d, void *userdata), void *userdata)
{
	char fan[3];
	int r;

	assert((unsigned)kind < _STORE_KIND_MAX && cb);
	/* The 256 fan-out names are known: no need to read the top directory. */
	for (unsigned i = 0; i < 256; i++) {
		snprintf(fan, sizeof(fan), "%02x", i);
		r = foreach_fan(s, kind, fan, cb, userdata);
		if (r != 0)
			return r;
	}
	return 0;
}

int store_object_remove(store *s, store_kind kind, const store_digest *d)
{
	char path[OBJ_PATH_LEN];

	assert((unsigned)kind < _STORE_KIND_MAX);
	object_path(d, path);
	return unlinkat(s->kind_fd[kind], path, 0) < 0 ? negative_errno() : 0;
}

int store_object_quarantine(store *s, store_kind kind, const store_digest *d)
{
	char path[OBJ_PATH_LEN], dest[128], hex[STORE_DIGEST_HEX_LEN + 1];

	assert((unsigned)kind < _STORE_KIND_MAX);
	object_path(d, path);
	store_digest_hex(d, hex);
	snprintf(dest, sizeof(dest), "quarantine/%s-%s", store_kind_name(kind), hex);
	return renameat(s->kind_fd[kind], path, s->dir_fd, dest) < 0 ? negative_errno() : 0;
}
