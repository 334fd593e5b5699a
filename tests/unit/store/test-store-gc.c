/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of store/gc.c: garbage collection and fsck. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/gc.h"
#include "store/image.h"
#include "store/index.h"
#include "store/ref.h"
#include "tests/unit/store/store-util.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

static int discard(void *userdata, const void *data, size_t len)
{
	return 0;
}

static bool has(store *s, store_kind kind, const store_digest *d)
{
	int r = store_object_has(s, kind, d);

	assert_true(r >= 0);
	return r > 0;
}

/* The FILE object (if any) and every chunk of a file. */
static void assert_file(store *s, const store_file_ref *f, bool present)
{
	_cleanup_free_ store_chunk_ref *c = NULL;
	size_t n;

	if (f->nchunks > 1)
		assert_int_equal(has(s, STORE_FILE, &f->digest), present);
	if (!present)
		return;
	assert_int_equal(store_file_chunks(s, f, &c, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_true(has(s, STORE_CHUNK, &c[i].digest));
	assert_int_equal(store_file_read(s, f, discard, NULL), 0);
}

static void assert_chunks_gone(store *s, const store_chunk_ref *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_false(has(s, STORE_CHUNK, &c[i].digest));
}

static bool index_exists(store *s, const store_digest *id)
{
	char hex[STORE_DIGEST_HEX_LEN + 1], path[80];
	struct stat st;

	store_digest_hex(id, hex);
	snprintf(path, sizeof(path), "index/%s", hex);
	return fstatat(store_dir_fd(s), path, &st, 0) == 0;
}

static void test_store_gc__unique_and_shared(void **state)
{
	store_file_ref shared, uniq, small1, small2;
	_cleanup_free_ store_chunk_ref *uc = NULL;
	store_tree *t1 = tu_new(), *t2 = tu_new();
	store_layer l1, l2;
	store_digest id1, id2, orphan, stray = {};
	store_gc_stats st;
	size_t nuc;
	tstore t;

	ts_open(&t);
	shared = ts_file(t.s, 400000, 1);
	uniq = ts_file(t.s, 300000, 2);
	small1 = ts_file(t.s, 100, 3);
	small2 = ts_file(t.s, 50, 4);
	assert_true(shared.nchunks > 1 && uniq.nchunks > 1 && small1.nchunks == 1);
	assert_int_equal(store_file_chunks(t.s, &uniq, &uc, &nuc), 0);
	tu_reg_ref(t1, "shared", &shared);
	tu_reg_ref(t1, "uniq", &uniq);
	tu_reg_ref(t1, "small", &small1);
	tu_reg_ref(t2, "shared", &shared);
	tu_reg_ref(t2, "small", &small2);
	l1 = ts_layer(t.s, t1);
	l2 = ts_layer(t.s, t2);
	id1 = ts_image(t.s, "{\"i\":1}", &l1, 1);
	id2 = ts_image(t.s, "{\"i\":2}", &l2, 1);
	/* An unreachable chunk, and an index whose image never existed. */
	assert_int_equal(store_write_begin(t.s), 0);
	assert_int_equal(store_object_put(t.s, STORE_CHUNK, "orphan", 6, &orphan), 0);
	store_write_end(t.s);
	stray.b[0] = 0x42;
	{
		char hex[STORE_DIGEST_HEX_LEN + 1], path[80];
		store_digest_hex(&stray, hex);
		snprintf(path, sizeof(path), "index/%s", hex);
		assert_int_equal(write_file_atomic(store_dir_fd(t.s), path, "x", 1, 0644), 0);
	}

	/* Nothing to collect but the orphans while both images exist. */
	assert_int_equal(store_gc(t.s, &st), 0);
	assert_int_equal(st.objects_removed, 1);
	assert_false(has(t.s, STORE_CHUNK, &orphan));
	assert_false(index_exists(t.s, &stray));
	assert_true(index_exists(t.s, &id1));
	assert_file(t.s, &uniq, true);

	assert_int_equal(store_image_remove(t.s, &id1), 0);
	assert_int_equal(store_gc(t.s, &st), 0);
	/* uniq: FILE + its chunks; small1: one chunk; tree 1; config 1. */
	assert_int_equal(st.objects_removed, 1 + nuc + 1 + 1 + 1);
	assert_true(st.bytes_removed > 300000 / 2);
	assert_file(t.s, &uniq, false);
	assert_chunks_gone(t.s, uc, nuc);
	assert_false(has(t.s, STORE_CHUNK, &small1.digest));
	assert_false(has(t.s, STORE_TREE, &l1.tree));
	assert_false(has(t.s, STORE_BLOB, &id1));
	/* What image 2 needs stays, and it still reads. */
	assert_file(t.s, &shared, true);
	assert_file(t.s, &small2, true);
	assert_true(has(t.s, STORE_TREE, &l2.tree));
	assert_true(has(t.s, STORE_BLOB, &id2));
	assert_true(index_exists(t.s, &id2));
	assert_int_equal(st.objects_kept, (uint64_t)(1 + shared.nchunks + 1 + 1 + 1));
	/* Idempotent. */
	assert_int_equal(store_gc(t.s, &st), 0);
	assert_int_equal(st.objects_removed, 0);
	ts_close(&t);
}

static void test_store_gc__pins(void **state)
{
	store_tree *tr = tu_new();
	store_file_ref f;
	store_layer l;
	store_digest id;
	store_gc_stats st;
	tstore t;

	ts_open(&t);
	f = ts_file(t.s, 250000, 7);
	tu_reg_ref(tr, "f", &f);
	l = ts_layer(t.s, tr);
	id = ts_image(t.s, "{\"pinned\":1}", &l, 1);
	assert_int_equal(store_pin_set(t.s, "container-1", &id), 0);
	/*
	 * rmi while a container runs from it: the record goes; the index stays, as a running
	 * mount keeps it (put back here, since rmi removes it), and the pin keeps what it reads.
	 */
	char hex[STORE_DIGEST_HEX_LEN + 1], path[80];
	_cleanup_(buf_done) buf idx = BUF_INIT;
	store_digest_hex(&id, hex);
	snprintf(path, sizeof(path), "index/%s", hex);
	assert_int_equal(read_file(store_dir_fd(t.s), path, 1 << 30, &idx), 0);
	assert_int_equal(store_image_remove(t.s, &id), 0);
	assert_false(index_exists(t.s, &id));
	assert_int_equal(write_file_atomic(store_dir_fd(t.s), path, idx.data, idx.len, 0644), 0);
	assert_int_equal(store_gc(t.s, &st), 0);
	assert_file(t.s, &f, true);
	assert_true(index_exists(t.s, &id));
	assert_true(has(t.s, STORE_BLOB, &id));
	assert_false(has(t.s, STORE_TREE, &l.tree)); /* no record: nothing names the tree */
	/* Unpinned: all of it goes. */
	assert_int_equal(store_pin_remove(t.s, "container-1"), 0);
	assert_int_equal(store_gc(t.s, &st), 0);
	assert_file(t.s, &f, false);
	assert_false(index_exists(t.s, &id));
	assert_false(has(t.s, STORE_BLOB, &id));
	ts_close(&t);
}

static void test_store_gc__pinned_image_kept_whole(void **state)
{
	store_tree *tr = tu_new();
	store_file_ref f;
	store_layer l;
	store_digest id;
	tstore t;

	ts_open(&t);
	f = ts_file(t.s, 1000, 8);
	tu_reg_ref(tr, "f", &f);
	l = ts_layer(t.s, tr);
	id = ts_image(t.s, "{}", &l, 1);
	assert_int_equal(store_pin_set(t.s, "c", &id), 0);
	assert_int_equal(store_gc(t.s, NULL), 0);
	assert_file(t.s, &f, true);
	assert_true(has(t.s, STORE_TREE, &l.tree));
	assert_true(store_image_exists(t.s, &id));
	ts_close(&t);
}

static void test_store_gc__tmp(void **state)
{
	store_gc_stats st;
	char name[128];
	tstore t;
	int dfd;

	ts_open(&t);
	dfd = store_dir_fd(t.s);
	assert_int_equal(write_file_atomic(dfd, "tmp/partial-object", "x", 1, 0644), 0);
	assert_int_equal(mkdir_p(dfd, "tmp/dir/sub", 0755), 0);
	assert_int_equal(write_file_atomic(dfd, "tmp/dir/sub/f", "x", 1, 0644), 0);
	snprintf(name, sizeof(name), "images/%064d.tmp.abcdef", 0);
	assert_int_equal(write_file_atomic(dfd, name, "x", 1, 0644), 0);
	assert_int_equal(write_file_atomic(dfd, "pins/owner.tmp.abcdef", "x", 1, 0644), 0);
	assert_int_equal(store_pin_set(t.s, "owner", &(store_digest){}), 0);
	assert_int_equal(store_gc(t.s, &st), 0);
	assert_int_equal(st.tmp_removed, 4);
	assert_int_equal(faccessat(dfd, "pins/owner.tmp.abcdef", F_OK, 0), -1);
	assert_int_equal(faccessat(dfd, "pins/owner", F_OK, 0), 0);
	assert_int_equal(faccessat(dfd, "tmp/partial-object", F_OK, 0), -1);
	assert_int_equal(faccessat(dfd, "tmp/dir", F_OK, 0), -1);
	assert_int_equal(faccessat(dfd, name, F_OK, 0), -1);
	assert_int_equal(faccessat(dfd, "tmp", F_OK, 0), 0);
	ts_close(&t);
}

/* Is `pid` waiting for a lock (a "->" line of /proc/locks)? */
static bool blocked_on_lock(pid_t pid)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/locks", "re");
	char line[512], want[32];

	assert_non_null(f);
	snprintf(want, sizeof(want), " %d ", (int)pid);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "->") && strstr(line, want))
			return true;
	return false;
}

/*
 * A writer has put a chunk that nothing reaches yet and holds its write session; gc, started
 * then, must wait (we see it blocked in /proc/locks, no timing involved) until the writer has made
 * the chunk reachable and ended its session, and so keep the chunk.
 */
static void test_store_gc__waits_for_writers(void **state)
{
	int ready[2], go[2], status;
	store_digest chunk;
	pid_t writer, gc;
	char c;
	tstore t;

	ts_open(&t);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	store_digest_buf("in flight", 9, &chunk);
	writer = fork();
	assert_true(writer >= 0);
	if (writer == 0) {
		store *s = NULL;
		store_tree *tr = NULL;
		store_layer l = {};
		store_file_ref f = { chunk, 9, 1 };
		close(ready[0]);
		close(go[1]);
		if (store_open(t.root, 0, &s, NULL) < 0 || store_write_begin(s) < 0 ||
		    store_object_put(s, STORE_CHUNK, "in flight", 9, NULL) < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		store_tree_new(&tr);
		store_entry e = {
			.path = strdup("f"), .type = STORE_ENTRY_REG, .mode = 0644, .content = f
		};
		if (store_tree_add(tr, &e, NULL) < 0 || store_tree_finish(tr, NULL) < 0 ||
		    store_tree_put(s, tr, &l.tree) < 0 ||
		    store_image_create(s, "{\"w\":1}", 7, &l, 1, NULL, NULL) < 0)
			_exit(4);
		store_tree_free(tr);
		store_write_end(s);
		store_free(s);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	gc = fork();
	assert_true(gc >= 0);
	if (gc == 0) {
		store *s = NULL;
		store_gc_stats st;
		for (int i = 0; i < 2; i++) {
			close(ready[i]);
			close(go[i]);
		}
		if (store_open(t.root, 0, &s, NULL) < 0 || store_gc(s, &st) < 0)
			_exit(2);
		_exit(st.objects_removed == 0 ? 0 : 5);
	}
	close(ready[1]);
	close(go[0]);
	/* Until gc is seen waiting for the lock; if it finishes first, it did not wait. */
	const char *failed = NULL;
	for (int i = 0; !failed && !blocked_on_lock(gc); i++) {
		if (waitpid(gc, &status, WNOHANG) == gc)
			failed = "gc ran while a write session was open";
		else if (i > 60000)
			failed = "gc never showed up in /proc/locks";
		else
			usleep(1000);
	}
	if (failed) {
		kill(writer, SIGKILL);
		kill(gc, SIGKILL);
		waitpid(writer, &status, 0);
		waitpid(gc, &status, 0);
		fail_msg("%s", failed);
	}
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(writer, &status, 0), writer);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(waitpid(gc, &status, 0), gc);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(has(t.s, STORE_CHUNK, &chunk));
	close(ready[0]);
	close(go[1]);
	ts_close(&t);
}

/* ---- fsck ---- */

typedef struct reports {
	char text[8192];
	int n;
} reports;

static void collect(void *userdata, const char *problem)
{
	reports *r = userdata;
	size_t len = strlen(r->text);

	snprintf(r->text + len, sizeof(r->text) - len, "%s\n", problem);
	r->n++;
}

typedef struct fixture {
	tstore t;
	store_file_ref small, big;
	store_layer l;
	store_digest id;
} fixture;

static void fixture_open(fixture *fx)
{
	store_tree *tr = tu_new();

	ts_open(&fx->t);
	fx->small = ts_file(fx->t.s, 3000, 11);
	fx->big = ts_file(fx->t.s, 500000, 12);
	tu_reg_ref(tr, "small", &fx->small);
	tu_reg_ref(tr, "big", &fx->big);
	fx->l = ts_layer(fx->t.s, tr);
	fx->id = ts_image(fx->t.s, "{\"fsck\":1}", &fx->l, 1);
	assert_int_equal(store_ref_set(fx->t.s, "test/image:latest", &fx->id), 0);
	assert_int_equal(store_pin_set(fx->t.s, "ctr", &fx->id), 0);
}

static void test_store_gc__fsck_clean(void **state)
{
	reports rep = {};
	store_fsck_stats st;
	fixture fx;

	fixture_open(&fx);
	assert_int_equal(store_fsck(fx.t.s, collect, &rep, &st), 0);
	assert_int_equal(rep.n, 0);
	/* chunks of both files, the FILE object, the tree, the config */
	assert_int_equal(st.objects_checked, 1 + fx.big.nchunks + 1 + 1 + 1);
	assert_int_equal(st.corrupt + st.missing + st.bad_records, 0);
	ts_close(&fx.t);
}

static void test_store_gc__fsck_corrupt_chunk(void **state)
{
	char path[160], hex[STORE_DIGEST_HEX_LEN + 1], q[160];
	reports rep = {};
	store_fsck_stats st;
	uint8_t byte;
	fixture fx;
	int fd;

	fixture_open(&fx);
	/* small is one chunk, named by its digest: flip a byte of its payload on disk. */
	ts_object_path(STORE_CHUNK, &fx.small.digest, path, sizeof(path));
	fd = openat(store_dir_fd(fx.t.s), path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, 100), 1);
	byte ^= 0x01;
	assert_int_equal(pwrite(fd, &byte, 1, 100), 1);
	close(fd);

	assert_int_equal(store_fsck(fx.t.s, collect, &rep, &st), -EUCLEAN);
	assert_int_equal(st.corrupt, 1);
	store_digest_hex(&fx.small.digest, hex);
	assert_non_null(strstr(rep.text, hex));
	assert_non_null(strstr(rep.text, "corrupt"));
	assert_non_null(strstr(rep.text, "quarantine"));
	/* Moved aside, and reported missing from the image that needs it. */
	assert_false(has(fx.t.s, STORE_CHUNK, &fx.small.digest));
	snprintf(q, sizeof(q), "quarantine/chunk-%s", hex);
	assert_int_equal(faccessat(store_dir_fd(fx.t.s), q, F_OK, 0), 0);
	assert_int_equal(st.missing, 1);
	assert_non_null(strstr(rep.text, "missing"));
	ts_close(&fx.t);
}

static void test_store_gc__fsck_missing(void **state)
{
	char path[160], hex[STORE_DIGEST_HEX_LEN + 1];
	_cleanup_free_ store_chunk_ref *c = NULL;
	reports rep = {};
	store_fsck_stats st;
	size_t n;
	fixture fx;

	fixture_open(&fx);
	/* A chunk of the big file: its FILE object cannot be reassembled any more. */
	assert_int_equal(store_file_chunks(fx.t.s, &fx.big, &c, &n), 0);
	assert_int_equal(store_object_remove(fx.t.s, STORE_CHUNK, &c[1].digest), 0);
	assert_int_equal(store_fsck(fx.t.s, collect, &rep, &st), -EUCLEAN);
	assert_non_null(strstr(rep.text, "cannot be reassembled"));
	store_digest_hex(&c[1].digest, hex);
	assert_non_null(strstr(rep.text, hex));
	assert_int_equal(st.corrupt, 0);
	ts_close(&fx.t);

	/* The tree. */
	memset(&rep, 0, sizeof(rep));
	fixture_open(&fx);
	ts_object_path(STORE_TREE, &fx.l.tree, path, sizeof(path));
	assert_int_equal(unlinkat(store_dir_fd(fx.t.s), path, 0), 0);
	assert_int_equal(store_fsck(fx.t.s, collect, &rep, &st), -EUCLEAN);
	assert_int_equal(st.missing, 1);
	store_digest_hex(&fx.l.tree, hex);
	assert_non_null(strstr(rep.text, hex));
	assert_non_null(strstr(rep.text, "tree"));
	assert_non_null(strstr(rep.text, "is missing"));
	ts_close(&fx.t);
}

static void test_store_gc__fsck_records(void **state)
{
	char hex[STORE_DIGEST_HEX_LEN + 1], path[80];
	_cleanup_(buf_done) buf b = BUF_INIT;
	store_digest ghost = {};
	reports rep = {};
	store_fsck_stats st;
	fixture fx;

	fixture_open(&fx);
	ghost.b[0] = 0x99;
	assert_int_equal(store_ref_set(fx.t.s, "test/ghost:1", &ghost), 0);
	assert_int_equal(store_pin_set(fx.t.s, "ghost-owner", &ghost), 0);
	/* A damaged index: removed (it is derived) and reported. */
	store_digest_hex(&fx.id, hex);
	snprintf(path, sizeof(path), "index/%s", hex);
	assert_int_equal(read_file(store_dir_fd(fx.t.s), path, 1 << 30, &b), 0);
	b.data[b.len / 2] ^= 0x10;
	assert_int_equal(write_file_atomic(store_dir_fd(fx.t.s), path, b.data, b.len, 0644), 0);
	assert_int_equal(store_fsck(fx.t.s, collect, &rep, &st), -EUCLEAN);
	assert_int_equal(st.bad_records, 3);
	assert_non_null(strstr(rep.text, "ref 'test/ghost:1'"));
	assert_non_null(strstr(rep.text, "pin 'ghost-owner'"));
	assert_non_null(strstr(rep.text, "index"));
	assert_false(index_exists(fx.t.s, &fx.id));
	/* After removing the dangling names, and with the index rebuilt on use, it is clean. */
	assert_int_equal(store_ref_remove(fx.t.s, "test/ghost:1"), 0);
	assert_int_equal(store_pin_remove(fx.t.s, "ghost-owner"), 0);
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(store_fsck(fx.t.s, collect, &rep, &st), 0);
	assert_int_equal(rep.n, 0);
	/* An unreadable image record. */
	snprintf(path, sizeof(path), "images/%s", hex);
	assert_int_equal(write_file_atomic(store_dir_fd(fx.t.s), path, "junk\n", 5, 0644), 0);
	assert_int_equal(store_fsck(fx.t.s, collect, &rep, &st), -EUCLEAN);
	assert_non_null(strstr(rep.text, "image record"));
	ts_close(&fx.t);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_store_gc__unique_and_shared),
	cmocka_unit_test(test_store_gc__pins),
	cmocka_unit_test(test_store_gc__pinned_image_kept_whole),
	cmocka_unit_test(test_store_gc__tmp),
	cmocka_unit_test(test_store_gc__waits_for_writers),
	cmocka_unit_test(test_store_gc__fsck_clean),
	cmocka_unit_test(test_store_gc__fsck_corrupt_chunk),
	cmocka_unit_test(test_store_gc__fsck_missing),
	cmocka_unit_test(test_store_gc__fsck_records),
};
UNIT_EXPORT(store, gc, tests);
