/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of store/store.c: layout and config, object put/get/has/stat/foreach/remove/quarantine,
 * corruption detection, dedup, concurrent writers, write sessions vs gc's lock, pins.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

typedef struct fixture {
	char *dir;
	store *s;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	berth_error e = BERTH_ERROR_INIT;

	if (!f)
		return -1;
	f->dir = unit_tmpdir();
	if (store_open(f->dir, STORE_OPEN_CREATE, &f->s, &e) < 0 || store_write_begin(f->s) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	store_write_end(f->s);
	store_free(f->s);
	unit_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void fill_text(uint8_t *p, size_t len, unsigned salt)
{
	static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit ";

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)words[(i * 3 + i / 61 + salt) % (sizeof(words) - 1)];
}

static void fill_random(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 24);
	}
}

static char *object_file(fixture *f, store_kind k, const store_digest *d)
{
	char hex[STORE_DIGEST_HEX_LEN + 1], *p = NULL;

	store_digest_hex(d, hex);
	assert_true(asprintf(&p, "%s/store/objects/%s/%.2s/%s", f->dir, store_kind_name(k), hex,
			     hex + 2) > 0);
	return p;
}

static size_t count_dir(const char *dir)
{
	char cmd[4200];
	FILE *p;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "find '%s' -type f | wc -l", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%zu", &n), 1);
	pclose(p);
	return n;
}

static size_t count_tmp(fixture *f)
{
	char d[4096];

	snprintf(d, sizeof(d), "%s/store/tmp", f->dir);
	return count_dir(d);
}

static void test_store_object__layout_and_config(void **state)
{
	fixture *f = *state;
	const char *subdirs[] = { "objects/chunk", "objects/file", "objects/tree", "objects/split",
				  "objects/blob",  "images",	   "index",	   "pins",
				  "tmp",	   "quarantine" };
	_cleanup_(buf_done) buf cfg = BUF_INIT;
	struct stat st;
	char p[4096];

	for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
		snprintf(p, sizeof(p), "%s/store/%s", f->dir, subdirs[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
	assert_int_equal(read_file(store_dir_fd(f->s), "config", 4096, &cfg), 0);
	assert_non_null(strstr(cfg.data, "format 1\n"));
	assert_non_null(strstr(cfg.data, "chunker fastcdc-v1\n"));
	assert_non_null(strstr(cfg.data, "chunk_avg 65536\n"));
	assert_non_null(strstr(cfg.data, "zstd_level 3\n"));
	assert_int_equal(store_chunker_params_get(f->s)->max, STORE_DEFAULT_CHUNK_MAX);
	assert_int_equal(store_zstd_level(f->s), STORE_DEFAULT_ZSTD_LEVEL);
	assert_string_equal(store_root(f->s), f->dir);
}

static void reopen_with_config(const char *dir, const char *cfg, int want, store **ret,
			       berth_error *e)
{
	_cleanup_close_ int fd = -EBADF;
	char p[4096];

	snprintf(p, sizeof(p), "%s/store", dir);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write_file_atomic(fd, "config", cfg, strlen(cfg), 0644), 0);
	assert_int_equal(store_open(dir, STORE_OPEN_CREATE, ret, e), want);
}

static void test_store_object__config_read_back(void **state)
{
	char *dir = unit_tmpdir();
	berth_error e = BERTH_ERROR_INIT;
	store *s = NULL;

	/* Without CREATE, an empty root is not a store. */
	assert_int_equal(store_open(dir, 0, &s, &e), -ENOENT);
	assert_null(s);
	assert_int_equal(e.code, -ENOENT);

	assert_int_equal(store_open(dir, STORE_OPEN_CREATE, &s, NULL), 0);
	s = store_free(s);
	/* An existing config is used, not overwritten by CREATE. */
	reopen_with_config(dir,
			   "format 1\nchunker fastcdc-v1\nchunk_min 4096\nchunk_avg 16384\n"
			   "chunk_max 65536\nzstd_level 9\nsome_future_hint yes\n",
			   0, &s, NULL);
	assert_int_equal(store_chunker_params_get(s)->min, 4096);
	assert_int_equal(store_chunker_params_get(s)->avg, 16384);
	assert_int_equal(store_chunker_params_get(s)->max, 65536);
	assert_int_equal(store_zstd_level(s), 9);
	s = store_free(s);

	e = (berth_error)BERTH_ERROR_INIT;
	reopen_with_config(dir, "format 2\nchunker fastcdc-v1\n", -EPROTONOSUPPORT, &s, &e);
	assert_non_null(strstr(e.msg, "'2'"));
	e = (berth_error)BERTH_ERROR_INIT;
	reopen_with_config(dir, "format 1\nchunker rabin\n", -EPROTONOSUPPORT, &s, &e);
	assert_non_null(strstr(e.msg, "rabin"));
	reopen_with_config(dir, "format 1\nchunk_avg 60000\n", -EBADMSG, &s, NULL);
	reopen_with_config(dir, "chunker fastcdc-v1\n", -EBADMSG, &s, NULL);
	reopen_with_config(dir, "format 1\nzstd_level 99\n", -EBADMSG, &s, NULL);
	assert_null(s);
	unit_tmpdir_remove(dir);
}

static void put_get_one(fixture *f, store_kind k, const uint8_t *data, size_t len, bool shrinks)
{
	_cleanup_(buf_done) buf out = BUF_INIT;
	store_digest d, want;
	uint64_t disk = 0, size = 0;

	store_digest_buf(data, len, &want);
	assert_int_equal(store_object_has(f->s, k, &want), 0);
	assert_int_equal(store_object_get(f->s, k, &want, &out), -ENOENT);
	assert_int_equal(store_object_put(f->s, k, data, len, &d), 0);
	assert_true(store_digest_eq(&d, &want));
	assert_int_equal(store_object_has(f->s, k, &d), 1);
	assert_int_equal(store_object_get(f->s, k, &d, &out), 0);
	assert_int_equal(out.len, len);
	if (len)
		assert_memory_equal(out.data, data, len);
	assert_int_equal(store_object_stat(f->s, k, &d, &disk, &size), 0);
	assert_int_equal(size, len);
	if (shrinks)
		assert_true(disk < len / 4);
	else
		assert_int_equal(disk, len + 16); /* stored raw: header + content */
}

static void test_store_object__round_trip_every_kind(void **state)
{
	fixture *f = *state;
	size_t len = 200000;
	uint8_t *t = malloc(len), *r = malloc(len);

	for (store_kind k = 0; k < _STORE_KIND_MAX; k++) {
		if (k == STORE_FILE)
			continue; /* named by what it describes: covered by test-store-file.c */
		fill_text(t, len, k);
		fill_random(r, len, k + 1);
		put_get_one(f, k, t, len, true);
		put_get_one(f, k, r, len, false);
		put_get_one(f, k, t, 1 + k, false);
	}
	put_get_one(f, STORE_BLOB, t, 0, false);
	assert_int_equal(count_tmp(f), 0);
	assert_string_equal(store_kind_name(STORE_SPLIT), "split");
	free(t);
	free(r);
}

static void test_store_object__kinds_are_separate(void **state)
{
	fixture *f = *state;
	_cleanup_(buf_done) buf out = BUF_INIT;
	store_digest d;

	assert_int_equal(store_object_put(f->s, STORE_BLOB, "same bytes", 10, &d), 0);
	assert_int_equal(store_object_has(f->s, STORE_TREE, &d), 0);
	assert_int_equal(store_object_get(f->s, STORE_TREE, &d, &out), -ENOENT);
	assert_int_equal(store_object_put(f->s, STORE_TREE, "same bytes", 10, NULL), 0);
	assert_int_equal(store_object_remove(f->s, STORE_BLOB, &d), 0);
	assert_int_equal(store_object_has(f->s, STORE_BLOB, &d), 0);
	assert_int_equal(store_object_has(f->s, STORE_TREE, &d), 1);
	assert_int_equal(store_object_get(f->s, STORE_TREE, &d, &out), 0);
	assert_int_equal(store_object_remove(f->s, STORE_BLOB, &d), -ENOENT);
}

static void expect_corrupt(fixture *f, store_kind k, const store_digest *d)
{
	_cleanup_(buf_done) buf out = BUF_INIT;

	assert_int_equal(buf_append(&out, "prefix", 6), 0);
	assert_int_equal(store_object_get(f->s, k, d, &out), -EBADMSG);
	assert_int_equal(out.len, 6); /* nothing appended */
}

static void flip_byte(const char *path, off_t off)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
}

static void test_store_object__flipped_byte(void **state)
{
	fixture *f = *state;
	size_t len = 100000;
	uint8_t *t = malloc(len), *r = malloc(len);
	store_digest dt, dr;
	_cleanup_free_ char *pt = NULL, *pr = NULL;
	struct stat st;

	fill_text(t, len, 0);
	fill_random(r, len, 9);
	assert_int_equal(store_object_put(f->s, STORE_CHUNK, t, len, &dt), 0);
	assert_int_equal(store_object_put(f->s, STORE_CHUNK, r, len, &dr), 0);
	pt = object_file(f, STORE_CHUNK, &dt);
	pr = object_file(f, STORE_CHUNK, &dr);

	/* Payload bytes, zstd and raw. */
	assert_int_equal(stat(pt, &st), 0);
	flip_byte(pt, st.st_size / 2);
	expect_corrupt(f, STORE_CHUNK, &dt);
	flip_byte(pt, st.st_size / 2);
	flip_byte(pr, 16 + len / 3);
	expect_corrupt(f, STORE_CHUNK, &dr);
	flip_byte(pr, 16 + len / 3);
	/* Header bytes: magic, kind, codec, reserved, size. */
	for (off_t off = 0; off < 16; off++) {
		flip_byte(pr, off);
		expect_corrupt(f, STORE_CHUNK, &dr);
		flip_byte(pr, off);
	}
	/* Restored: reads again. */
	_cleanup_(buf_done) buf out = BUF_INIT;
	assert_int_equal(store_object_get(f->s, STORE_CHUNK, &dr, &out), 0);
	buf_reset(&out);
	assert_int_equal(store_object_get(f->s, STORE_CHUNK, &dt, &out), 0);
	free(t);
	free(r);
}

static void test_store_object__truncated(void **state)
{
	fixture *f = *state;
	size_t len = 50000;
	uint8_t *t = malloc(len), *r = malloc(len);
	store_digest dt, dr;
	_cleanup_free_ char *pt = NULL, *pr = NULL;
	struct stat st;

	fill_text(t, len, 1);
	fill_random(r, len, 10);
	assert_int_equal(store_object_put(f->s, STORE_BLOB, t, len, &dt), 0);
	assert_int_equal(store_object_put(f->s, STORE_BLOB, r, len, &dr), 0);
	pt = object_file(f, STORE_BLOB, &dt);
	pr = object_file(f, STORE_BLOB, &dr);
	assert_int_equal(stat(pt, &st), 0);
	assert_int_equal(truncate(pt, st.st_size - 1), 0);
	expect_corrupt(f, STORE_BLOB, &dt);
	assert_int_equal(truncate(pr, 16 + len / 2), 0);
	expect_corrupt(f, STORE_BLOB, &dr);
	assert_int_equal(store_object_stat(f->s, STORE_BLOB, &dr, NULL, NULL), 0);
	assert_int_equal(truncate(pr, 10), 0);
	expect_corrupt(f, STORE_BLOB, &dr);
	assert_int_equal(store_object_stat(f->s, STORE_BLOB, &dr, NULL, NULL), -EBADMSG);
	assert_int_equal(truncate(pr, 0), 0);
	expect_corrupt(f, STORE_BLOB, &dr);
	free(t);
	free(r);
}

static void test_store_object__put_existing_writes_nothing(void **state)
{
	fixture *f = *state;
	const struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	_cleanup_free_ char *p = NULL;
	struct stat before, after;
	store_digest d;

	assert_int_equal(store_object_put(f->s, STORE_TREE, "tree content", 12, &d), 0);
	p = object_file(f, STORE_TREE, &d);
	assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
	assert_int_equal(stat(p, &before), 0);
	assert_int_equal(store_object_put(f->s, STORE_TREE, "tree content", 12, NULL), 0);
	assert_int_equal(store_object_put_hashed(f->s, STORE_TREE, "tree content", 12, &d), 0);
	assert_int_equal(stat(p, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(after.st_mtim.tv_sec, 1000000000);
	assert_int_equal(after.st_ctim.tv_sec, before.st_ctim.tv_sec);
	assert_int_equal(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
	assert_int_equal(count_tmp(f), 0);
}

static void test_store_object__size_limits(void **state)
{
	fixture *f = *state;
	size_t big = STORE_CHUNK_MAX_LIMIT + 1;
	uint8_t *p = calloc(1, big);

	assert_int_equal(store_object_put(f->s, STORE_CHUNK, p, big, NULL), -EFBIG);
	assert_int_equal(store_object_put(f->s, STORE_BLOB, p, big, NULL), 0);
	assert_int_equal(count_tmp(f), 0);
	free(p);
}

#define RACE_OBJECTS 64

static void race_content(unsigned i, uint8_t *p, size_t len)
{
	fill_text(p, len, i);
	memcpy(p, &i, sizeof(i));
}

static int race_puts(store *s)
{
	size_t len = 40000;
	uint8_t *p = malloc(len);
	int r = 0;

	for (unsigned i = 0; i < RACE_OBJECTS && r >= 0; i++) {
		race_content(i, p, len);
		r = store_object_put(s, STORE_CHUNK, p, len, NULL);
	}
	free(p);
	return r;
}

static void *race_thread(void *arg)
{
	return (void *)(intptr_t)race_puts(arg);
}

static void race_check(fixture *f)
{
	_cleanup_(buf_done) buf out = BUF_INIT;
	size_t len = 40000;
	uint8_t *p = malloc(len);
	store_digest d;

	for (unsigned i = 0; i < RACE_OBJECTS; i++) {
		race_content(i, p, len);
		store_digest_buf(p, len, &d);
		buf_reset(&out);
		assert_int_equal(store_object_get(f->s, STORE_CHUNK, &d, &out), 0);
		assert_memory_equal(out.data, p, len);
	}
	assert_int_equal(count_tmp(f), 0);
	free(p);
}

static void test_store_object__concurrent_threads(void **state)
{
	fixture *f = *state;
	pthread_t a, b;
	void *ra, *rb;

	assert_int_equal(pthread_create(&a, NULL, race_thread, f->s), 0);
	assert_int_equal(pthread_create(&b, NULL, race_thread, f->s), 0);
	assert_int_equal(pthread_join(a, &ra), 0);
	assert_int_equal(pthread_join(b, &rb), 0);
	assert_int_equal((intptr_t)ra, 0);
	assert_int_equal((intptr_t)rb, 0);
	race_check(f);
}

static void test_store_object__concurrent_processes(void **state)
{
	fixture *f = *state;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child uses a handle of its own, as another berth process would. */
		store *s = NULL;
		int r = store_open(f->dir, 0, &s, NULL);
		if (r >= 0)
			r = store_write_begin(s);
		if (r >= 0)
			r = race_puts(s);
		_exit(r < 0 ? 1 : 0);
	}
	assert_int_equal(race_puts(f->s), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	race_check(f);
}

typedef struct collect {
	store_digest d[16];
	size_t n, stop_at;
} collect;

static int collect_cb(store *s, const store_digest *d, void *userdata)
{
	collect *c = userdata;

	if (c->n < 16)
		c->d[c->n] = *d;
	if (++c->n == c->stop_at)
		return 42;
	return 0;
}

static bool collected(const collect *c, const store_digest *d)
{
	for (size_t i = 0; i < c->n && i < 16; i++)
		if (store_digest_eq(&c->d[i], d))
			return true;
	return false;
}

static void test_store_object__foreach_remove_quarantine(void **state)
{
	fixture *f = *state;
	store_digest d[10];
	collect c = {};
	char name[32], p[4200], hex[STORE_DIGEST_HEX_LEN + 1];
	struct stat st;

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "split object %d", i);
		assert_int_equal(store_object_put(f->s, STORE_SPLIT, name, strlen(name), &d[i]), 0);
	}
	assert_int_equal(store_object_put(f->s, STORE_BLOB, "other kind", 10, NULL), 0);
	/* Junk in the fan-out directories is not an object. */
	snprintf(p, sizeof(p), "%s/store/objects/split/00", f->dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/store/objects/split/00/junk", f->dir);
	assert_int_equal(write_file_atomic(AT_FDCWD, p, "x", 1, 0644), 0);

	assert_int_equal(store_object_foreach(f->s, STORE_SPLIT, collect_cb, &c), 0);
	assert_int_equal(c.n, 10);
	for (int i = 0; i < 10; i++)
		assert_true(collected(&c, &d[i]));

	c = (collect){ .stop_at = 3 };
	assert_int_equal(store_object_foreach(f->s, STORE_SPLIT, collect_cb, &c), 42);
	assert_int_equal(c.n, 3);

	assert_int_equal(store_object_remove(f->s, STORE_SPLIT, &d[0]), 0);
	assert_int_equal(store_object_quarantine(f->s, STORE_SPLIT, &d[1]), 0);
	assert_int_equal(store_object_has(f->s, STORE_SPLIT, &d[0]), 0);
	assert_int_equal(store_object_has(f->s, STORE_SPLIT, &d[1]), 0);
	store_digest_hex(&d[1], hex);
	snprintf(p, sizeof(p), "%s/store/quarantine/split-%s", f->dir, hex);
	assert_int_equal(stat(p, &st), 0);
	c = (collect){};
	assert_int_equal(store_object_foreach(f->s, STORE_SPLIT, collect_cb, &c), 0);
	assert_int_equal(c.n, 8);
	assert_false(collected(&c, &d[0]));
	assert_false(collected(&c, &d[1]));
	assert_int_equal(store_object_quarantine(f->s, STORE_SPLIT, &d[1]), -ENOENT);
}

typedef struct locker {
	store *s;
	atomic_int locked;
} locker;

static void *lock_thread(void *arg)
{
	locker *l = arg;
	int r = store_lock_exclusive(l->s);

	atomic_store(&l->locked, r < 0 ? -1 : 1);
	return NULL;
}

static bool lock_held_elsewhere(const char *dir, int op)
{
	char p[4200];
	_cleanup_close_ int fd = -EBADF;

	snprintf(p, sizeof(p), "%s/store/lock", dir);
	fd = open(p, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	return flock(fd, op | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

static void test_store_object__sessions_and_gc_lock(void **state)
{
	fixture *f = *state;
	const struct timespec ms100 = { 0, 100 * 1000 * 1000 };
	locker l = { .s = f->s };
	pthread_t t;

	/* The fixture's session holds the lock shared: exclusive is refused, shared is not. */
	assert_true(lock_held_elsewhere(f->dir, LOCK_EX));
	assert_false(lock_held_elsewhere(f->dir, LOCK_SH));
	/* Nested sessions keep it; only the outermost end releases it. */
	assert_int_equal(store_write_begin(f->s), 0);
	store_write_end(f->s);
	assert_true(lock_held_elsewhere(f->dir, LOCK_EX));

	assert_int_equal(pthread_create(&t, NULL, lock_thread, &l), 0);
	nanosleep(&ms100, NULL);
	assert_int_equal(atomic_load(&l.locked), 0); /* gc waits for the session */
	store_write_end(f->s);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(atomic_load(&l.locked), 1);
	assert_true(lock_held_elsewhere(f->dir, LOCK_SH)); /* writers now wait for gc */
	store_unlock(f->s);
	assert_false(lock_held_elsewhere(f->dir, LOCK_EX));
	assert_int_equal(store_write_begin(f->s), 0); /* for the teardown */
	assert_int_equal(store_sync(f->s), 0);
}

typedef struct pins {
	char owners[8][32];
	store_digest ids[8];
	size_t n;
} pins;

static int pin_cb(store *s, const char *owner, const store_digest *id, void *userdata)
{
	pins *p = userdata;

	assert_true(p->n < 8);
	snprintf(p->owners[p->n], 32, "%s", owner);
	p->ids[p->n++] = *id;
	return 0;
}

static void test_store_object__pins(void **state)
{
	fixture *f = *state;
	const char *bad[] = { "", ".", "..", ".hidden", "a/b", "a b", "x.tmp.y", "\xc3\xa9" };
	_cleanup_(buf_done) buf content = BUF_INIT;
	store_digest a, b;
	char p[4200], str[STORE_DIGEST_STR_LEN];
	pins got = {};
	_cleanup_close_ int fd = -EBADF;

	store_digest_buf("image a", 7, &a);
	store_digest_buf("image b", 7, &b);
	assert_int_equal(store_pin_set(f->s, "container-1_x.y", &a), 0);
	assert_int_equal(store_pin_set(f->s, "mount.2", &b), 0);
	assert_int_equal(store_pin_set(f->s, "mount.2", &a), 0); /* replaces */
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(store_pin_set(f->s, bad[i], &a), -EINVAL);
		assert_int_equal(store_pin_remove(f->s, bad[i]), -EINVAL);
	}
	snprintf(p, sizeof(p), "%s/store/pins", f->dir);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read_file(fd, "mount.2", 4096, &content), 0);
	store_digest_str(&a, str);
	assert_int_equal(content.len, strlen(str) + 1);
	assert_memory_equal(content.data, str, strlen(str));
	assert_int_equal(content.data[content.len - 1], '\n');

	/* A crashed writer's temp file is not a pin. */
	assert_int_equal(write_file_atomic(fd, "mount.2.tmp.abc123", "junk", 4, 0644), 0);
	assert_int_equal(store_pin_foreach(f->s, pin_cb, &got), 0);
	assert_int_equal(got.n, 2);
	for (size_t i = 0; i < 2; i++)
		assert_true(store_digest_eq(&got.ids[i], &a));

	assert_int_equal(store_pin_remove(f->s, "mount.2"), 0);
	assert_int_equal(store_pin_remove(f->s, "mount.2"), 0);
	got = (pins){};
	assert_int_equal(store_pin_foreach(f->s, pin_cb, &got), 0);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.owners[0], "container-1_x.y");

	/* An unreadable pin stops gc's walk rather than being skipped. */
	assert_int_equal(write_file_atomic(fd, "broken", "sha256:zz\n", 10, 0644), 0);
	got = (pins){};
	assert_int_equal(store_pin_foreach(f->s, pin_cb, &got), -EBADMSG);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_store_object__layout_and_config, setup, teardown),
	cmocka_unit_test(test_store_object__config_read_back),
	cmocka_unit_test_setup_teardown(test_store_object__round_trip_every_kind, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_object__kinds_are_separate, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_object__flipped_byte, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_object__truncated, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_object__put_existing_writes_nothing, setup,
					teardown),
	cmocka_unit_test_setup_teardown(test_store_object__size_limits, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_object__concurrent_threads, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_object__concurrent_processes, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_object__foreach_remove_quarantine, setup,
					teardown),
	cmocka_unit_test_setup_teardown(test_store_object__sessions_and_gc_lock, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_object__pins, setup, teardown),
};
UNIT_EXPORT(store, object, tests);
