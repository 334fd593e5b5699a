/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of store/ref.c: the refs file, its validation, and concurrent writers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/ref.h"
#include "tests/unit/store/store-util.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

static store_digest digest_n(unsigned n)
{
	store_digest d;

	store_digest_buf(&n, sizeof(n), &d);
	return d;
}

static void test_store_ref__names(void **state)
{
	static const char *good[] = { "docker.io/library/base:latest", "a:b",
				      "localhost:5000/x:1.0", "x@y:z" };
	static const char *bad[] = { "",      "nocolon", ":tag",    "name:", "host:5000/repo",
				     "a b:c", "a:b\n",	 "tab\t:x", "\x7f:x" };
	char longname[600];

	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		assert_true(store_ref_name_valid(good[i]));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (store_ref_name_valid(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + 509, ":t", 3); /* 511 bytes */
	assert_true(store_ref_name_valid(longname));
	memcpy(longname + 510, ":t", 3); /* 512 bytes */
	assert_false(store_ref_name_valid(longname));
	assert_false(store_ref_name_valid(NULL));
}

static void test_store_ref__set_get_list_remove(void **state)
{
	store_digest a = digest_n(1), b = digest_n(2), got;
	_cleanup_(buf_done) buf text = BUF_INIT;
	store_ref *refs = NULL;
	size_t n = 99;
	tstore t;

	ts_open(&t);
	assert_int_equal(store_ref_list(t.s, &refs, &n), 0);
	assert_int_equal(n, 0);
	store_ref_list_free(refs, n);
	assert_int_equal(store_ref_get(t.s, "x:y", &got), -ENOENT);
	assert_int_equal(store_ref_set(t.s, "zeta:1", &a), 0);
	assert_int_equal(store_ref_set(t.s, "alpha:1", &b), 0);
	assert_int_equal(store_ref_set(t.s, "mid:1", &a), 0);
	assert_int_equal(store_ref_set(t.s, "bad name:1", &a), -EINVAL);
	assert_int_equal(store_ref_get(t.s, "alpha:1", &got), 0);
	assert_memory_equal(&got, &b, sizeof(got));
	/* Replacing. */
	assert_int_equal(store_ref_set(t.s, "alpha:1", &a), 0);
	assert_int_equal(store_ref_get(t.s, "alpha:1", &got), 0);
	assert_memory_equal(&got, &a, sizeof(got));
	assert_int_equal(store_ref_list(t.s, &refs, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(refs[0].name, "alpha:1");
	assert_string_equal(refs[1].name, "mid:1");
	assert_string_equal(refs[2].name, "zeta:1");
	store_ref_list_free(refs, n);
	/* The file is one sorted "name sha256:hex" line per ref. */
	assert_int_equal(read_file(store_dir_fd(t.s), "refs", 1 << 20, &text), 0);
	assert_true(strncmp(text.data, "alpha:1 sha256:", 15) == 0);
	assert_int_equal(text.len, strlen("alpha:1mid:1zeta:1") + 3 * (1 + 71 + 1));
	assert_int_equal(store_ref_remove(t.s, "mid:1"), 0);
	assert_int_equal(store_ref_remove(t.s, "mid:1"), -ENOENT);
	assert_int_equal(store_ref_get(t.s, "mid:1", &got), -ENOENT);
	assert_int_equal(store_ref_get(t.s, "zeta:1", &got), 0);
	assert_int_equal(store_ref_list(t.s, &refs, &n), 0);
	assert_int_equal(n, 2);
	store_ref_list_free(refs, n);
	ts_close(&t);
}

static void test_store_ref__damaged_file(void **state)
{
	static const char *bad[] = {
		"a:b sha256:00\n", "a:b\n", "a b sha256:%064d\n",
		"a:b sha256:0000000000000000000000000000000000000000000000000000000000000000"
	};
	store_digest got;
	tstore t;

	ts_open(&t);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		assert_int_equal(write_file_atomic(store_dir_fd(t.s), "refs", bad[i],
						   strlen(bad[i]), 0644),
				 0);
		assert_int_equal(store_ref_get(t.s, "a:b", &got), -EBADMSG);
		/* A writer does not overwrite what it cannot read. */
		assert_int_equal(store_ref_set(t.s, "c:d", &got), -EBADMSG);
	}
	ts_close(&t);
}

/* Two processes set 200 refs each at the same time: every one of the 400 must be there. */
static void test_store_ref__concurrent_writers(void **state)
{
	store_ref *refs = NULL;
	pid_t pids[2];
	size_t n = 0;
	int status;
	tstore t;

	ts_open(&t);
	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			store *s = NULL;
			char name[64];
			if (store_open(t.root, 0, &s, NULL) < 0)
				_exit(2);
			for (unsigned i = 0; i < 200; i++) {
				store_digest d = digest_n(i);
				snprintf(name, sizeof(name), "proc%d/image%03u:tag", p, i);
				if (store_ref_set(s, name, &d) < 0)
					_exit(3);
			}
			store_free(s);
			_exit(0);
		}
	}
	for (int p = 0; p < 2; p++) {
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(store_ref_list(t.s, &refs, &n), 0);
	assert_int_equal(n, 400);
	for (size_t i = 0; i < n; i++) {
		store_digest d = digest_n((unsigned)(i % 200));
		assert_memory_equal(&refs[i].id, &d, sizeof(d));
	}
	store_ref_list_free(refs, n);
	ts_close(&t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_store_ref__names),
	cmocka_unit_test(test_store_ref__set_get_list_remove),
	cmocka_unit_test(test_store_ref__damaged_file),
	cmocka_unit_test(test_store_ref__concurrent_writers),
};
UNIT_EXPORT(store, ref, tests);
