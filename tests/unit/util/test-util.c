/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/fileio.h"

static void test_util_buf__append_keeps_nul(void **state)
{
	_cleanup_(buf_done) buf b = BUF_INIT;

	assert_int_equal(buf_append_str(&b, "abc"), 0);
	assert_int_equal(buf_printf(&b, "-%d-", 42), 0);
	assert_string_equal(b.data, "abc-42-");
	assert_int_equal(b.len, 7);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_append_byte(&b, 'x'), 0);
	assert_int_equal(b.len, 10007);
	assert_int_equal(b.data[b.len], '\0');
}

static void test_util_buf__varint_roundtrip(void **state)
{
	static const uint64_t values[] = { 0, 1, 127, 128, 300, 1ull << 32, UINT64_MAX };
	_cleanup_(buf_done) buf b = BUF_INIT;

	for (size_t i = 0; i < ELEMENTSOF(values); i++)
		assert_int_equal(buf_append_varint(&b, values[i]), 0);
	const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
	for (size_t i = 0; i < ELEMENTSOF(values); i++) {
		uint64_t v;
		assert_int_equal(varint_decode(&p, end, &v), 0);
		assert_true(v == values[i]);
	}
	assert_ptr_equal(p, end);
	/* truncated */
	uint8_t bad[] = { 0x80, 0x80 };
	p = bad;
	uint64_t v;
	assert_int_equal(varint_decode(&p, bad + 2, &v), -EBADMSG);
	/* overlong: 11 continuation bytes */
	uint8_t longv[11];
	memset(longv, 0xff, sizeof(longv));
	p = longv;
	assert_int_equal(varint_decode(&p, longv + 11, &v), -EBADMSG);
}

static void test_util_fileio__atomic_write_replaces(void **state)
{
	char dir[] = "/tmp/berth-test-XXXXXX";
	_cleanup_(buf_done) buf b = BUF_INIT;
	_cleanup_close_ int dfd = -EBADF;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(write_file_atomic(dfd, "f", "one", 3, 0644), 0);
	assert_int_equal(write_file_atomic(dfd, "f", "two!", 4, 0600), 0);
	assert_int_equal(read_file(dfd, "f", 100, &b), 0);
	assert_string_equal(b.data, "two!");
	struct stat st;
	assert_int_equal(fstatat(dfd, "f", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(mkdir_p(dfd, "a/b/c", 0755), 0);
	assert_int_equal(mkdir_p(dfd, "a/b/c", 0755), 0);
	assert_int_equal(rm_rf(AT_FDCWD, dir), 0);
	assert_int_equal(access(dir, F_OK), -1);
}

static void test_util_fileio__hex_and_size(void **state)
{
	uint8_t in[3] = { 0x00, 0xab, 0xff }, out[3];
	char hex[7], sz[16];

	hex_encode(in, 3, hex);
	assert_string_equal(hex, "00abff");
	assert_int_equal(hex_decode("00ABff", out, 3), 0);
	assert_memory_equal(in, out, 3);
	assert_int_equal(hex_decode("00abfg", out, 3), -EINVAL);
	format_size(5242880, sz, sizeof(sz));
	assert_string_equal(sz, "5.24MB");
	format_size(999, sz, sizeof(sz));
	assert_string_equal(sz, "999B");
}

static void test_util_error__first_detail_wins(void **state)
{
	berth_error e = BERTH_ERROR_INIT;

	assert_int_equal(berth_error_set(&e, -EINVAL, "entry '%s' is bad", "x"), -EINVAL);
	assert_int_equal(berth_error_set(&e, -EIO, "later"), -EIO);
	assert_string_equal(berth_error_message(&e, -EIO), "entry 'x' is bad");
	assert_int_equal(berth_error_set(NULL, -EIO, "ignored"), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_buf__append_keeps_nul),
		cmocka_unit_test(test_util_buf__varint_roundtrip),
		cmocka_unit_test(test_util_fileio__atomic_write_replaces),
		cmocka_unit_test(test_util_fileio__hex_and_size),
		cmocka_unit_test(test_util_error__first_detail_wins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
