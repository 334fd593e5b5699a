/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fs/lower.c: the content cache: filled on first open, shared by content, dropped after a reboot. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/lower.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

static void test_fs_lower__fill_and_reuse(void **state)
{
	char *dir = unit_tmpdir(), *root = path_join(dir, "root"), *cache = path_join(dir, "cache");
	berth_error err = BERTH_ERROR_INIT;
	store_file_writer *w;
	fs_lower_cache *c;
	store_file_ref ref;
	char hex[STORE_DIGEST_HEX_LEN + 1], *p, b[64];
	struct stat st1, st2;
	store *s;
	int fd1, fd2;

	assert_int_equal(store_open(root, STORE_OPEN_CREATE, &s, &err), 0);
	assert_int_equal(store_write_begin(s), 0);
	assert_int_equal(store_file_writer_new(s, &w), 0);
	assert_int_equal(store_file_writer_write(w, "cached bytes", 12), 0);
	assert_int_equal(store_file_writer_finish(w, &ref), 0);
	store_file_writer_free(w);
	store_write_end(s);

	assert_int_equal(fs_lower_cache_new(s, cache, &c), 0);
	fd1 = fs_lower_open(c, &ref);
	assert_true(fd1 >= 0);
	assert_int_equal(pread(fd1, b, sizeof(b), 0), 12);
	assert_memory_equal(b, "cached bytes", 12);
	store_digest_hex(&ref.digest, hex);
	p = path_join(cache, hex);
	assert_int_equal(stat(p, &st1), 0); /* named by content */
	fd2 = fs_lower_open(c, &ref);
	assert_int_equal(fstat(fd2, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino); /* the second open reuses it */
	close(fd1);
	close(fd2);
	fs_lower_cache_free(c);

	/* A cache recorded in another boot is dropped at the next open. */
	free(p);
	p = path_join(cache, ".boot-id");
	assert_int_equal(write_file_atomic(AT_FDCWD, p, "another-boot", 12, 0600), 0);
	assert_int_equal(fs_lower_cache_new(s, cache, &c), 0);
	free(p);
	p = path_join(cache, hex);
	assert_int_equal(stat(p, &st1), -1);
	assert_int_equal(errno, ENOENT);
	fd1 = fs_lower_open(c, &ref); /* and refilled */
	assert_int_equal(pread(fd1, b, sizeof(b), 0), 12);
	close(fd1);
	fs_lower_cache_free(c);
	store_free(s);
	free(p);
	free(root);
	free(cache);
	unit_tmpdir_remove(dir);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fs_lower__fill_and_reuse),
};
UNIT_EXPORT(fs, lower, tests);
