/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/store.c: the store handle (layout, config, write sessions, pins) and objects.
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "store/compress.h"
#include "store/file-private.h"
#include "store/store.h"
#include "util/fileio.h"
#include "util/macro.h"

#define OBJ_MAGIC "BRTO"
#define OBJ_HEADER_SIZE 16
#define OBJ_CODEC_RAW 0
#define OBJ_CODEC_ZSTD 1
/* "<2 hex>/<62 hex>" + NUL */
#define OBJ_PATH_LEN (STORE_DIGEST_HEX_LEN + 2)
#define CONFIG_MAX_SIZE 4096
#define ZSTD_LEVEL_MIN (-7)
#define ZSTD_LEVEL_MAX 22

struct store {
	char *root;
	int dir_fd;			   /* ROOT/store */
	int kind_fd[_STORE_KIND_MAX];	   /* objects/<kind> */
	int tmp_fd;			   /* tmp/ */
	store_chunker_params params;
	int zstd_level;

	pthread_mutex_t lock; /* guards the fields below */
	unsigned sessions;    /* nesting depth of write sessions, all threads together */
	int lock_fd;	      /* `lock`, flock(LOCK_SH) while sessions > 0 */
	int excl_fd;	      /* `lock` again (its own open file), flock(LOCK_EX) by gc */
};

static const char *const kind_names[_STORE_KIND_MAX] = {
	[STORE_CHUNK] = "chunk", [STORE_FILE] = "file",	 [STORE_TREE] = "tree",
	[STORE_SPLIT] = "split", [STORE_BLOB] = "blob",
};

static const char *const store_subdirs[] = {
	"objects", "images", "index", "pins", "tmp", "quarantine",
};

static atomic_ulong tmp_counter;

const char *store_kind_name(store_kind k)
{
	return (unsigned)k < _STORE_KIND_MAX ? kind_names[k] : NULL;
}

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

/* ---- Config ---- */

static int config_format(const store *s, buf *out)
{
	return buf_printf(out,
			  "format 1\nchunker fastcdc-v1\nchunk_min %u\nchunk_avg %u\nchunk_max %u\n"
			  "zstd_level %d\n",
			  s->params.min, s->params.avg, s->params.max, s->zstd_level);
}

static int config_parse_u32(const char *v, uint32_t *ret)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x > UINT32_MAX || v[0] == '-')
		return -EINVAL;
	*ret = (uint32_t)x;
	return 0;
}

static int config_line(store *s, const char *key, const char *val, bool *have_format,
		       berth_error *reterr)
{
	uint32_t u;

	if (streq(key, "format")) {
		if (!streq(val, "1"))
			return berth_error_set(reterr, -EPROTONOSUPPORT,
					       "Store format '%s' is not supported (this berth reads format 1)",
					       val);
		*have_format = true;
	} else if (streq(key, "chunker")) {
		if (!streq(val, "fastcdc-v1"))
			return berth_error_set(reterr, -EPROTONOSUPPORT,
					       "Store chunker '%s' is not supported", val);
	} else if (streq(key, "zstd_level")) {
		char *end;
		long l = strtol(val, &end, 10);
		if (end == val || *end || l < ZSTD_LEVEL_MIN || l > ZSTD_LEVEL_MAX)
			return berth_error_set(reterr, -EBADMSG, "Invalid zstd_level '%s'", val);
		s->zstd_level = (int)l;
	} else if (streq(key, "chunk_min") || streq(key, "chunk_avg") || streq(key, "chunk_max")) {
		if (config_parse_u32(val, &u) < 0)
			return berth_error_set(reterr, -EBADMSG, "Invalid %s '%s'", key, val);
		if (streq(key, "chunk_min"))
			s->params.min = u;
		else if (streq(key, "chunk_avg"))
			s->params.avg = u;
		else
			s->params.max = u;
	}
	/* Unknown keys are ignored: a later minor version may add hints older ones can skip. */
	return 0;
}

static int config_parse(store *s, char *text, berth_error *reterr)
{
	bool have_format = false;
	char *save = NULL;
	int r;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (!sp)
			return berth_error_set(reterr, -EBADMSG, "Malformed store config line '%s'",
					       line);
		*sp = '\0';
		r = config_line(s, line, sp + 1, &have_format, reterr);
		if (r < 0)
			return r;
	}
	if (!have_format)
		return berth_error_set(reterr, -EBADMSG, "Store config has no format line");
	if (store_chunker_params_check(&s->params) < 0)
		return berth_error_set(reterr, -EBADMSG, "Store config has invalid chunk sizes %u/%u/%u",
				       s->params.min, s->params.avg, s->params.max);
	return 0;
}

/*
 * Creates `config` only if it is absent: linkat() of a complete, fsynced temp file fails with
 * EEXIST instead of replacing, so two racing creators cannot overwrite a config already in use.
 */
static int config_create(store *s)
{
	_cleanup_(buf_done) buf text = BUF_INIT;
	_cleanup_close_ int fd = -EBADF;
	char name[64];
	int r;

	r = config_format(s, &text);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "config.%d.%lu", getpid(), atomic_fetch_add(&tmp_counter, 1));
	fd = openat(s->tmp_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return negative_errno();
	r = fd_write_all(fd, text.data, text.len);
	if (r >= 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r >= 0 && linkat(s->tmp_fd, name, s->dir_fd, "config", 0) < 0 && errno != EEXIST)
		r = negative_errno();
	unlinkat(s->tmp_fd, name, 0);
	if (r < 0)
		return r;
	return fsync_dir(s->dir_fd, NULL);
}

static int config_load(store *s, bool create, berth_error *reterr)
{
	_cleanup_(buf_done) buf text = BUF_INIT;
	int r;

	r = read_file(s->dir_fd, "config", CONFIG_MAX_SIZE, &text);
	if (r == -ENOENT && create) {
		r = config_create(s);
		if (r < 0)
			return berth_error_set(reterr, r, "Failed to write store config in '%s'",
					       s->root);
		r = read_file(s->dir_fd, "config", CONFIG_MAX_SIZE, &text);
	}
	if (r < 0)
		return berth_error_set(reterr, r, "Failed to read store config in '%s'", s->root);
	if (!text.data)
		return berth_error_set(reterr, -EBADMSG, "Store config in '%s' is empty", s->root);
	return config_parse(s, text.data, reterr);
}

/* ---- Open / free ---- */

static int store_create_layout(const char *root, berth_error *reterr)
{
	_cleanup_free_ char *dir = path_join(root, "store");
	_cleanup_close_ int fd = -EBADF;
	char sub[64];
	int r;

	if (!dir)
		return -ENOMEM;
	r = mkdir_p(AT_FDCWD, dir, 0755);
	if (r < 0)
		return berth_error_set(reterr, r, "Failed to create '%s'", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_set(reterr, negative_errno(), "Failed to open '%s'", dir);
	for (size_t i = 0; i < ELEMENTSOF(store_subdirs); i++)
		if (mkdirat(fd, store_subdirs[i], 0755) < 0 && errno != EEXIST)
			return berth_error_set(reterr, negative_errno(), "Failed to create '%s/%s'",
					       dir, store_subdirs[i]);
	for (unsigned k = 0; k < _STORE_KIND_MAX; k++) {
		snprintf(sub, sizeof(sub), "objects/%s", kind_names[k]);
		if (mkdirat(fd, sub, 0755) < 0 && errno != EEXIST)
			return berth_error_set(reterr, negative_errno(), "Failed to create '%s/%s'",
					       dir, sub);
	}
	return 0;
}

static int open_dir_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? negative_errno() : fd;
}

static int store_open_dirs(store *s, berth_error *reterr)
{
	_cleanup_free_ char *dir = path_join(s->root, "store");
	char sub[64];

	if (!dir)
		return -ENOMEM;
	s->dir_fd = open_dir_at(AT_FDCWD, dir);
	if (s->dir_fd < 0)
		return berth_error_set(reterr, s->dir_fd, "Failed to open store '%s'", dir);
	s->tmp_fd = open_dir_at(s->dir_fd, "tmp");
	if (s->tmp_fd < 0)
		return berth_error_set(reterr, s->tmp_fd, "Failed to open '%s/tmp'", dir);
	for (unsigned k = 0; k < _STORE_KIND_MAX; k++) {
		snprintf(sub, sizeof(sub), "objects/%s", kind_names[k]);
		s->kind_fd[k] = open_dir_at(s->dir_fd, sub);
		if (s->kind_fd[k] < 0)
			return berth_error_set(reterr, s->kind_fd[k], "Failed to open '%s/%s'", dir,
					       sub);
	}
	return 0;
}

static store *store_alloc(const char *root)
{
	store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->dir_fd = s->tmp_fd = s->lock_fd = s->excl_fd = -EBADF;
	for (unsigned k = 0; k < _STORE_KIND_MAX; k++)
		s->kind_fd[k] = -EBADF;
	pthread_mutex_init(&s->lock, NULL);
	s->params = (store_chunker_params){ STORE_DEFAULT_CHUNK_MIN, STORE_DEFAULT_CHUNK_AVG,
					    STORE_DEFAULT_CHUNK_MAX };
	s->zstd_level = STORE_DEFAULT_ZSTD_LEVEL;
	s->root = strdup(root);
	if (!s->root)
		return store_free(s);
	return s;
}

int store_open(const char *root, unsigned flags, store **ret, berth_error *reterr)
{
	_cleanup_(store_freep) store *s = NULL;
	int r;

	assert(root && ret);
	s = store_alloc(root);
	if (!s)
		return -ENOMEM;
	if (flags & STORE_OPEN_CREATE) {
		r = store_create_layout(root, reterr);
		if (r < 0)
			return r;
	}
	r = store_open_dirs(s, reterr);
	if (r < 0)
		return r;
	r = config_load(s, flags & STORE_OPEN_CREATE, reterr);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

store *store_free(store *s)
{
	if (!s)
		return NULL;
	assert(s->sessions == 0);
	safe_close(s->dir_fd);
	safe_close(s->tmp_fd);
	safe_close(s->lock_fd);
	safe_close(s->excl_fd);
	for (unsigned k = 0; k < _STORE_KIND_MAX; k++)
		safe_close(s->kind_fd[k]);
	pthread_mutex_destroy(&s->lock);
	free(s->root);
	free(s);
	return NULL;
}

const char *store_root(const store *s)
{
	return s->root;
}

int store_dir_fd(const store *s)
{
	return s->dir_fd;
}

const store_chunker_params *store_chunker_params_get(const store *s)
{
	return &s->params;
}

int store_zstd_level(const store *s)
{
	return s->zstd_level;
}

/* ---- Write sessions and gc's exclusive lock ---- */

static int lock_file_open(store *s)
{
	int fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	return fd < 0 ? negative_errno() : fd;
}

static int flock_retry(int fd, int op)
{
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return negative_errno();
	return 0;
}

int store_write_begin(store *s)
{
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->sessions == 0) {
		/* Blocking with the mutex held is what we want: other threads must wait too. */
		if (s->lock_fd < 0)
			s->lock_fd = lock_file_open(s);
		r = s->lock_fd < 0 ? s->lock_fd : flock_retry(s->lock_fd, LOCK_SH);
	}
	if (r >= 0)
		s->sessions++;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void store_write_end(store *s)
{
	pthread_mutex_lock(&s->lock);
	assert(s->sessions > 0);
	if (--s->sessions == 0)
		flock(s->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&s->lock);
}

static bool store_in_session(store *s)
{
	bool in;

	pthread_mutex_lock(&s->lock);
	in = s->sessions > 0;
	pthread_mutex_unlock(&s->lock);
	return in;
}

int store_lock_exclusive(store *s)
{
	_cleanup_close_ int fd = lock_file_open(s);
	int r;

	if (fd < 0)
		return fd;
	/*
	 * A separate open file: flock() locks belong to the open file description, so LOCK_EX on
	 * lock_fd would silently convert this handle's own shared lock instead of waiting for it.
	 * The mutex is not held while waiting, so write_end() on other threads can proceed.
	 */
	r = flock_retry(fd, LOCK_EX);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	assert(s->excl_fd < 0);
	s->excl_fd = TAKE_FD(fd);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void store_unlock(store *s)
{
	pthread_mutex_lock(&s->lock);
	s->excl_fd = safe_close(s->excl_fd);
	pthread_mutex_unlock(&s->lock);
}

int store_sync(store *s)
{
	return syncfs(s->dir_fd) < 0 ? negative_errno() : 0;
}

/* ---- Objects ---- */

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
		snprintf(name, 64, "obj.%d.%lu", getpid(), atomic_fetch_add(&tmp_counter, 1));
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
	if (fstatat(s->kind_fd[kind], path, &st, 0) >= 0)
		return 0;
	if (errno != ENOENT)
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
	snprintf(dest, sizeof(dest), "quarantine/%s-%s", kind_names[kind], hex);
	return renameat(s->kind_fd[kind], path, s->dir_fd, dest) < 0 ? negative_errno() : 0;
}

/* ---- Pins ---- */

static bool pin_owner_valid(const char *owner)
{
	size_t n = owner ? strlen(owner) : 0;

	if (n == 0 || n > 255 || owner[0] == '.' || strstr(owner, ".tmp."))
		return false;
	return strspn(owner, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int store_pin_set(store *s, const char *owner, const store_digest *image_id)
{
	_cleanup_close_ int fd = -EBADF;
	char line[STORE_DIGEST_STR_LEN + 1];
	int r;

	if (!pin_owner_valid(owner))
		return -EINVAL;
	fd = open_dir_at(s->dir_fd, "pins");
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
	fd = open_dir_at(s->dir_fd, "pins");
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
	int fd = open_dir_at(s->dir_fd, "pins");
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
