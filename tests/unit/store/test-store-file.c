/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of store/file.c: file contents written through the chunking writer and read back, dedup
 * across files, locality of edits, the chunk list, and detection of damaged files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

typedef struct fixture {
	char *dir;
	store *s;
	store_file_writer *w;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->dir = unit_tmpdir();
	if (store_open(f->dir, STORE_OPEN_CREATE, &f->s, NULL) < 0 || store_write_begin(f->s) < 0 ||
	    store_file_writer_new(f->s, &f->w) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	store_file_writer_free(f->w);
	store_write_end(f->s);
	store_free(f->s);
	unit_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint8_t *random_buf(size_t len, uint64_t seed)
{
	uint8_t *b = malloc(len + 8);

	assert_non_null(b);
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = splitmix64(&seed);
		memcpy(b + i, &v, 8);
	}
	return b;
}

/* Writes data in pieces whose sizes follow `seed` (0: all at once). */
static store_file_ref write_file(fixture *f, const uint8_t *data, size_t len, uint64_t seed)
{
	store_file_ref ref;
	size_t off = 0;

	while (off < len) {
		size_t n = seed ? 1 + splitmix64(&seed) % (300 * 1024) : len;
		n = n > len - off ? len - off : n;
		assert_int_equal(store_file_writer_write(f->w, data + off, n), 0);
		off += n;
	}
	assert_int_equal(store_file_writer_finish(f->w, &ref), 0);
	return ref;
}

static int sink_buf(void *userdata, const void *data, size_t len)
{
	return buf_append(userdata, data, len);
}

static void check_chunks(fixture *f, const store_file_ref *ref)
{
	store_chunk_ref *c = NULL;
	size_t n = 0;
	uint64_t off = 0;

	assert_int_equal(store_file_chunks(f->s, ref, &c, &n), 0);
	assert_int_equal(n, ref->nchunks);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(c[i].offset, off);
		assert_true(c[i].size > 0 && c[i].size <= STORE_DEFAULT_CHUNK_MAX);
		if (i + 1 < n)
			assert_true(c[i].size >= STORE_DEFAULT_CHUNK_MIN);
		assert_int_equal(store_object_has(f->s, STORE_CHUNK, &c[i].digest), 1);
		off += c[i].size;
	}
	assert_int_equal(off, ref->size);
	free(c);
}

static void round_trip(fixture *f, size_t len, uint64_t seed)
{
	uint8_t *data = random_buf(len, len + 1);
	_cleanup_(buf_done) buf out = BUF_INIT;
	store_file_ref ref, again;
	store_digest want;

	ref = write_file(f, data, len, 0);
	store_digest_buf(data, len, &want);
	assert_true(store_digest_eq(&ref.digest, &want));
	assert_int_equal(ref.size, len);
	assert_true(len == 0 ? ref.nchunks == 0 : ref.nchunks >= 1);
	assert_true(ref.nchunks <= (len + STORE_DEFAULT_CHUNK_MIN - 1) / STORE_DEFAULT_CHUNK_MIN);
	assert_int_equal(ref.nchunks > 1, store_object_has(f->s, STORE_FILE, &ref.digest));

	assert_int_equal(store_file_read(f->s, &ref, sink_buf, &out), 0);
	assert_int_equal(out.len, len);
	if (len)
		assert_memory_equal(out.data, data, len);
	check_chunks(f, &ref);

	/* The write pattern does not matter: same chunks, same reference. */
	again = write_file(f, data, len, seed);
	assert_memory_equal(&again, &ref, sizeof(ref));
	free(data);
}

static void test_store_file__round_trip_sizes(void **state)
{
	const size_t sizes[] = { 0, 1, 64 * 1024 - 1, 64 * 1024, 256 * 1024 + 1, 10u << 20 };

	for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
		round_trip(*state, sizes[i], i + 1);
}

static void test_store_file__empty_and_single(void **state)
{
	fixture *f = *state;
	store_file_ref ref;
	store_digest empty, one;
	store_chunk_ref *c = (void *)1;
	size_t n = 99;

	store_digest_buf("", 0, &empty);
	assert_int_equal(store_file_writer_finish(f->w, &ref), 0);
	assert_true(store_digest_eq(&ref.digest, &empty));
	assert_int_equal(ref.size, 0);
	assert_int_equal(ref.nchunks, 0);
	assert_int_equal(store_file_chunks(f->s, &ref, &c, &n), 0);
	assert_int_equal(n, 0);
	free(c);

	/* One chunk: the file's digest is the chunk's and no FILE object is written. */
	ref = write_file(f, (const uint8_t *)"hello", 5, 0);
	store_digest_buf("hello", 5, &one);
	assert_true(store_digest_eq(&ref.digest, &one));
	assert_int_equal(ref.nchunks, 1);
	assert_int_equal(store_object_has(f->s, STORE_CHUNK, &one), 1);
	assert_int_equal(store_object_has(f->s, STORE_FILE, &one), 0);
}

static int count_cb(store *s, const store_digest *d, void *userdata)
{
	(*(size_t *)userdata)++;
	return 0;
}

static size_t count_objects(fixture *f)
{
	size_t n = 0;

	for (store_kind k = 0; k < _STORE_KIND_MAX; k++)
		assert_int_equal(store_object_foreach(f->s, k, count_cb, &n), 0);
	return n;
}

static void test_store_file__same_content_adds_nothing(void **state)
{
	fixture *f = *state;
	size_t len = 3u << 20, before;
	uint8_t *data = random_buf(len, 77);
	store_file_ref a, b;

	a = write_file(f, data, len, 0);
	before = count_objects(f);
	assert_int_equal(before, a.nchunks + 1);
	b = write_file(f, data, len, 5);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(count_objects(f), before);
	free(data);
}

static int digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(store_digest));
}

static void test_store_file__one_byte_edit_is_local(void **state)
{
	fixture *f = *state;
	size_t len = 8u << 20, na, nb, shared = 0;
	uint8_t *data = random_buf(len, 78);
	store_chunk_ref *ca, *cb;
	store_digest *da;
	store_file_ref a, b;

	a = write_file(f, data, len, 0);
	data[len / 2] ^= 0xff;
	b = write_file(f, data, len, 0);
	assert_false(store_digest_eq(&a.digest, &b.digest));
	assert_int_equal(store_file_chunks(f->s, &a, &ca, &na), 0);
	assert_int_equal(store_file_chunks(f->s, &b, &cb, &nb), 0);
	da = calloc(na, sizeof(*da));
	for (size_t i = 0; i < na; i++)
		da[i] = ca[i].digest;
	qsort(da, na, sizeof(*da), digest_cmp);
	for (size_t i = 0; i < nb; i++)
		shared += bsearch(&cb[i].digest, da, na, sizeof(*da), digest_cmp) != NULL;
	print_message("# file: %zu of %zu chunks shared after a 1-byte edit\n", shared, nb);
	assert_true(nb - shared >= 1 && nb - shared <= 2);
	free(da);
	free(ca);
	free(cb);
	free(data);
}

static void test_store_file__reset_and_reuse(void **state)
{
	fixture *f = *state;
	size_t len = 1u << 20;
	uint8_t *data = random_buf(len, 79);
	store_file_ref ref;
	store_digest want;

	assert_int_equal(store_file_writer_write(f->w, data, 100000), 0);
	store_file_writer_reset(f->w);
	ref = write_file(f, data + 1000, len - 1000, 3);
	store_digest_buf(data + 1000, len - 1000, &want);
	assert_true(store_digest_eq(&ref.digest, &want));
	assert_int_equal(ref.size, len - 1000);
	free(data);
}

static char *object_file(fixture *f, store_kind k, const store_digest *d)
{
	char hex[STORE_DIGEST_HEX_LEN + 1], *p = NULL;

	store_digest_hex(d, hex);
	assert_true(asprintf(&p, "%s/store/objects/%s/%.2s/%s", f->dir, store_kind_name(k), hex,
			     hex + 2) > 0);
	return p;
}

/* Flips a bit of the byte at off (from the end if negative). */
static void flip_byte(const char *path, off_t off)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	uint8_t c;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	if (off < 0)
		off += st.st_size;
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 1;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
}

static void test_store_file__damage_is_detected(void **state)
{
	fixture *f = *state;
	size_t len = 2u << 20, n;
	uint8_t *data = random_buf(len, 80);
	_cleanup_(buf_done) buf out = BUF_INIT;
	_cleanup_free_ char *list = NULL, *chunk = NULL;
	store_chunk_ref *c;
	store_file_ref ref, lie;

	ref = write_file(f, data, len, 0);
	assert_true(ref.nchunks > 2);
	/* A reference that disagrees with the list. */
	lie = ref;
	lie.size++;
	assert_int_equal(store_file_read(f->s, &lie, sink_buf, &out), -EBADMSG);
	lie = ref;
	lie.nchunks++;
	assert_int_equal(store_file_chunks(f->s, &lie, &c, &n), -EBADMSG);
	lie = ref;
	lie.digest.b[0] ^= 1;
	assert_int_equal(store_file_read(f->s, &lie, sink_buf, &out), -ENOENT);

	/* A damaged chunk list: the FILE object's own checksum catches it. */
	list = object_file(f, STORE_FILE, &ref.digest);
	for (off_t off = 16 + 1 + 5; off < 16 + 1 + 33 * 2; off += 30) { /* digests, sizes */
		flip_byte(list, off);
		buf_reset(&out);
		assert_int_equal(store_object_get(f->s, STORE_FILE, &ref.digest, &out), -EBADMSG);
		assert_int_equal(store_file_read(f->s, &ref, sink_buf, &out), -EBADMSG);
		flip_byte(list, off);
	}
	buf_reset(&out);
	assert_int_equal(store_object_get(f->s, STORE_FILE, &ref.digest, &out), 0);

	/* A damaged chunk. */
	assert_int_equal(store_file_chunks(f->s, &ref, &c, &n), 0);
	chunk = object_file(f, STORE_CHUNK, &c[1].digest);
	free(c);
	flip_byte(chunk, -1);
	buf_reset(&out);
	assert_int_equal(store_file_read(f->s, &ref, sink_buf, &out), -EBADMSG);
	free(data);
}

static int sink_fail_second(void *userdata, const void *data, size_t len)
{
	return ++*(int *)userdata == 2 ? -ENOSPC : 0;
}

static void test_store_file__sink_error_stops(void **state)
{
	fixture *f = *state;
	size_t len = 1u << 20;
	uint8_t *data = random_buf(len, 81);
	store_file_ref ref;
	int calls = 0;

	ref = write_file(f, data, len, 0);
	assert_true(ref.nchunks > 2);
	assert_int_equal(store_file_read(f->s, &ref, sink_fail_second, &calls), -ENOSPC);
	assert_int_equal(calls, 2);
	free(data);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_store_file__round_trip_sizes, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_file__empty_and_single, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_file__same_content_adds_nothing, setup,
					teardown),
	cmocka_unit_test_setup_teardown(test_store_file__one_byte_edit_is_local, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_file__reset_and_reuse, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_file__damage_is_detected, setup, teardown),
	cmocka_unit_test_setup_teardown(test_store_file__sink_error_stops, setup, teardown),
};
UNIT_EXPORT(store, file, tests);
