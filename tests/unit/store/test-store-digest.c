/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of store/digest.c: SHA-256 vectors (FIPS 180-2), incremental hashing, text forms. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/digest.h"
#include "tests/unit/unit.h"

static void check_hex(const store_digest *d, const char *want)
{
	char hex[STORE_DIGEST_HEX_LEN + 1];

	store_digest_hex(d, hex);
	assert_string_equal(hex, want);
}

static void test_store_digest__vectors(void **state)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	store_digest d;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		store_digest_buf(v[i].in, strlen(v[i].in), &d);
		check_hex(&d, v[i].hex);
	}
}

static void test_store_digest__million_a_incremental(void **state)
{
	store_hasher *h = NULL;
	char *a = malloc(1000000);
	store_digest d, one;

	assert_non_null(a);
	memset(a, 'a', 1000000);
	assert_int_equal(store_hasher_new(&h), 0);
	/* Odd split sizes: crosses the 64-byte block boundary in every phase. */
	for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 3 % 1021 + 1)
		store_hasher_update(h, a + off, off + step > 1000000 ? 1000000 - off : step);
	store_hasher_final(h, &d);
	check_hex(&d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	store_digest_buf(a, 1000000, &one);
	assert_true(store_digest_eq(&d, &one));

	/* final() re-arms the hasher: the next content starts from scratch. */
	store_hasher_update(h, "abc", 3);
	store_hasher_final(h, &d);
	check_hex(&d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	store_hasher_final(h, &d);
	check_hex(&d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	store_hasher_free(h);
	free(a);
}

static void test_store_digest__text_forms(void **state)
{
	const char *hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	char str[STORE_DIGEST_STR_LEN], up[80];
	store_digest d, p;

	store_digest_buf("abc", 3, &d);
	store_digest_str(&d, str);
	assert_int_equal(strlen(str), STORE_DIGEST_STR_LEN - 1);
	assert_string_equal(str + 7, hex);
	assert_memory_equal(str, "sha256:", 7);

	memset(&p, 0, sizeof(p));
	assert_int_equal(store_digest_parse(str, &p), 0);
	assert_true(store_digest_eq(&d, &p));
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_digest_parse(hex, &p), 0);
	assert_true(store_digest_eq(&d, &p));

	snprintf(up, sizeof(up), "SHA256:%s", hex);
	for (char *c = up + 7; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
	memset(&p, 0, sizeof(p));
	assert_int_equal(store_digest_parse(up, &p), 0);
	assert_true(store_digest_eq(&d, &p));
}

static void test_store_digest__parse_rejects(void **state)
{
	const char *hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	const char *bad[] = {
		"",
		"sha256:",
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",   /* 63 */
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", /* 65 */
		"sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		" ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
		"sha256:sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"sha256ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	};
	store_digest p, keep;

	memset(&keep, 0x5a, sizeof(keep));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = keep;
		assert_int_equal(store_digest_parse(bad[i], &p), -EINVAL);
		assert_memory_equal(&p, &keep, sizeof(p)); /* ret_ untouched on failure */
	}
	assert_int_equal(store_digest_parse(NULL, &p), -EINVAL);
	assert_int_equal(store_digest_parse(hex, &p), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_store_digest__vectors),
	cmocka_unit_test(test_store_digest__million_a_incremental),
	cmocka_unit_test(test_store_digest__text_forms),
	cmocka_unit_test(test_store_digest__parse_rejects),
};
UNIT_EXPORT(store, digest, tests);
