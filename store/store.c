/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/store.c: the store handle: layout, config, write sessions and gc's lock, sync.
 * Objects are in object.c, pins in pin.c.
 */
#include <assert.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-private.h"
#include "util/fileio.h"
#include "util/macro.h"

#define CONFIG_MAX_SIZE 4096
#define ZSTD_LEVEL_MIN	(-7)
#define ZSTD_LEVEL_MAX	22

static const char *const kind_names[_STORE_KIND_MAX] = {
	[STORE_CHUNK] = "chunk", [STORE_FILE] = "file", [STORE_TREE] = "tree",
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

unsigned long store_tmp_seq(void)
{
	return atomic_fetch_add(&tmp_counter, 1);
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
			return berth_error_set(
				reterr, -EPROTONOSUPPORT,
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
		return berth_error_set(reterr, -EBADMSG,
				       "Store config has invalid chunk sizes %u/%u/%u",
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
	snprintf(name, sizeof(name), "config.%d.%lu", getpid(), store_tmp_seq());
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

int store_open_dir(int dirfd, const char *path)
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
	s->dir_fd = store_open_dir(AT_FDCWD, dir);
	if (s->dir_fd < 0)
		return berth_error_set(reterr, s->dir_fd, "Failed to open store '%s'", dir);
	s->tmp_fd = store_open_dir(s->dir_fd, "tmp");
	if (s->tmp_fd < 0)
		return berth_error_set(reterr, s->tmp_fd, "Failed to open '%s/tmp'", dir);
	for (unsigned k = 0; k < _STORE_KIND_MAX; k++) {
		snprintf(sub, sizeof(sub), "objects/%s", kind_names[k]);
		s->kind_fd[k] = store_open_dir(s->dir_fd, sub);
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

bool store_in_session(store *s)
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
