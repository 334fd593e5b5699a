/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of fetch/reference.c: Docker's normalisation and the distribution/reference grammar. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/reference.h"
#include "tests/unit/unit.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct valid_case {
	const char *in;
	const char *domain, *path, *tag; /* tag NULL: none */
	bool digest;
	const char *store_name; /* NULL: no store name (digest only) */
} valid_case;

static const valid_case valid[] = {
	{ "base", "docker.io", "library/base", "latest", false, "docker.io/library/base:latest" },
	{ "base:v1", "docker.io", "library/base", "v1", false, "docker.io/library/base:v1" },
	{ "user/app:v2", "docker.io", "user/app", "v2", false, "docker.io/user/app:v2" },
	{ "docker.io/base", "docker.io", "library/base", "latest", false,
	  "docker.io/library/base:latest" },
	{ "index.docker.io/user/app", "docker.io", "user/app", "latest", false,
	  "docker.io/user/app:latest" },
	{ "localhost/x", "localhost", "x", "latest", false, "localhost/x:latest" },
	{ "localhost:5000/x", "localhost:5000", "x", "latest", false, "localhost:5000/x:latest" },
	{ "localhost:5000", "docker.io", "library/localhost", "5000", false,
	  "docker.io/library/localhost:5000" },
	{ "127.0.0.1:5000/app:v1", "127.0.0.1:5000", "app", "v1", false, "127.0.0.1:5000/app:v1" },
	{ "[::1]:5000/app", "[::1]:5000", "app", "latest", false, "[::1]:5000/app:latest" },
	{ "quay.io/a/b/c:1.0-rc_1", "quay.io", "a/b/c", "1.0-rc_1", false,
	  "quay.io/a/b/c:1.0-rc_1" },
	{ "a.b-c.io/f__g-h---i.j", "a.b-c.io", "f__g-h---i.j", "latest", false,
	  "a.b-c.io/f__g-h---i.j:latest" },
	{ "x_y.z__w-v", "docker.io", "library/x_y.z__w-v", "latest", false,
	  "docker.io/library/x_y.z__w-v:latest" },
	{ "Foo.com/bar", "Foo.com", "bar", "latest", false, "Foo.com/bar:latest" },
	{ "Foo/bar", "Foo", "bar", "latest", false, "Foo/bar:latest" },
	{ "busybox:_TAG.1-x", "docker.io", "library/busybox", "_TAG.1-x", false,
	  "docker.io/library/busybox:_TAG.1-x" },
	{ "app@sha256:" H64, "docker.io", "library/app", NULL, true, NULL },
	{ "app:v1@sha256:" H64, "docker.io", "library/app", "v1", true,
	  "docker.io/library/app:v1" },
	{ "127.0.0.1:5000/a/b@sha256:" H64, "127.0.0.1:5000", "a/b", NULL, true, NULL },
};

static const char *const invalid[] = {
	"",
	"Base",
	"base:",
	"a:b:c",
	":tag",
	"/base",
	"base/",
	"a//b",
	"UPPER/Case",
	"user/App",
	"-a",
	"a-",
	"a..b",
	"a___b",
	"a b",
	"a\tb",
	"base:t@g",
	"base:.tag",
	"base:-tag",
	"base@",
	"base@sha256",
	"base@sha256:abc",
	"base@sha256:" H64 "0",
	"base@sha256:"
	"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	"base@sha512:" H64 H64,
	"base@@sha256:" H64,
	"@sha256:" H64,
	H64,
	"localhost:/x",
	"localhost:50a0/x",
	"-host.com/x",
	"host-.com/x",
	"host..com/x",
	"a.b__c/f",
	"[zz]:5000/x",
	"[]/x",
	"a/b:c/d",
	"ünïcode",
};

static void test_fetch_reference__valid(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
		const valid_case *c = &valid[i];
		berth_error err = BERTH_ERROR_INIT;
		fetch_reference r;
		char *name = NULL;

		if (fetch_reference_parse(c->in, &r, &err) < 0)
			fail_msg("'%s' should parse: %s", c->in, err.msg);
		assert_string_equal(r.domain, c->domain);
		assert_string_equal(r.path, c->path);
		if (c->tag)
			assert_string_equal(r.tag, c->tag);
		else
			assert_null(r.tag);
		assert_int_equal(r.has_digest, c->digest);
		if (c->store_name) {
			assert_int_equal(fetch_reference_store_name(&r, &name), 0);
			assert_string_equal(name, c->store_name);
			free(name);
		} else
			assert_int_equal(fetch_reference_store_name(&r, &name), -EINVAL);
		fetch_reference_done(&r);
	}
}

static void test_fetch_reference__invalid(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
		berth_error err = BERTH_ERROR_INIT;
		fetch_reference r = { .tag = (char *)"untouched" };

		if (fetch_reference_parse(invalid[i], &r, &err) != -EINVAL)
			fail_msg("'%s' should be refused", invalid[i]);
		assert_int_equal(err.code, -EINVAL);
		assert_true(strlen(err.msg) > 0);
		/* ret_ is written only on success */
		assert_string_equal(r.tag, "untouched");
	}
}

static void test_fetch_reference__uppercase_message(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_reference r;

	assert_int_equal(fetch_reference_parse("Base", &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "must be lowercase"));
	assert_non_null(strstr(err.msg, "library/Base"));
}

static void test_fetch_reference__digest_value(void **state)
{
	fetch_reference r;
	char s[STORE_DIGEST_STR_LEN];

	assert_int_equal(fetch_reference_parse("app@sha256:" H64, &r, NULL), 0);
	store_digest_str(&r.digest, s);
	assert_string_equal(s, "sha256:" H64);
	fetch_reference_done(&r);
}

/* The 255-character limit counts the normalized name, domain included, not the tag. */
static void test_fetch_reference__length_limit(void **state)
{
	char s[400], comp[300];
	berth_error err = BERTH_ERROR_INIT;
	fetch_reference r;
	size_t dom = strlen("example.com/");

	memset(comp, 'a', sizeof(comp));
	/* exactly 255: "example.com/" + 243 a's */
	snprintf(s, sizeof(s), "example.com/%.*s:tag", (int)(255 - dom), comp);
	assert_int_equal(fetch_reference_parse(s, &r, NULL), 0);
	fetch_reference_done(&r);
	snprintf(s, sizeof(s), "example.com/%.*s:tag", (int)(256 - dom), comp);
	assert_int_equal(fetch_reference_parse(s, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "255"));
	/* "docker.io/library/" counts too */
	snprintf(s, sizeof(s), "%.*s", (int)(255 - strlen("docker.io/library/")), comp);
	assert_int_equal(fetch_reference_parse(s, &r, NULL), 0);
	fetch_reference_done(&r);
	snprintf(s, sizeof(s), "%.*s", (int)(256 - strlen("docker.io/library/")), comp);
	assert_int_equal(fetch_reference_parse(s, &r, NULL), -EINVAL);
}

static void test_fetch_reference__tag_length(void **state)
{
	char s[200], t[200];
	fetch_reference r;

	memset(t, 'v', sizeof(t));
	snprintf(s, sizeof(s), "base:%.*s", 128, t);
	assert_int_equal(fetch_reference_parse(s, &r, NULL), 0);
	assert_int_equal(strlen(r.tag), 128);
	fetch_reference_done(&r);
	snprintf(s, sizeof(s), "base:%.*s", 129, t);
	assert_int_equal(fetch_reference_parse(s, &r, NULL), -EINVAL);
}

static void test_fetch_reference__familiar(void **state)
{
	static const char *const cases[][2] = {
		{ "docker.io/library/base:latest", "base:latest" },
		{ "docker.io/user/app:v2", "user/app:v2" },
		{ "docker.io/library/a/b:v2", "library/a/b:v2" },
		{ "127.0.0.1:5000/app:v1", "127.0.0.1:5000/app:v1" },
		{ "quay.io/library/x:1", "quay.io/library/x:1" },
		{ "docker.io/library/base", "base" },
		{ "docker.io/a.b/c:1", "docker.io/a.b/c:1" },
		{ "docker.io/localhost/c:1", "docker.io/localhost/c:1" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *f = NULL;
		assert_int_equal(fetch_reference_familiar(cases[i][0], &f), 0);
		assert_string_equal(f, cases[i][1]);
		free(f);
	}
}

static void test_fetch_reference__repository_and_api_host(void **state)
{
	fetch_reference r;
	char *repo = NULL;

	assert_int_equal(fetch_reference_parse("busybox", &r, NULL), 0);
	assert_int_equal(fetch_reference_repository(&r, &repo), 0);
	assert_string_equal(repo, "docker.io/library/busybox");
	assert_string_equal(fetch_reference_api_host(&r), "registry-1.docker.io");
	free(repo);
	fetch_reference_done(&r);

	assert_int_equal(fetch_reference_parse("127.0.0.1:5000/x/y:1", &r, NULL), 0);
	assert_string_equal(fetch_reference_api_host(&r), "127.0.0.1:5000");
	fetch_reference_done(&r);
	fetch_reference_done(&r); /* idempotent */
}

/* A parse of store_name(parse(x)) gives the same reference back. */
static void test_fetch_reference__roundtrip(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
		fetch_reference a, b;
		char *n1 = NULL, *n2 = NULL, *fam = NULL;

		if (!valid[i].store_name)
			continue;
		assert_int_equal(fetch_reference_parse(valid[i].in, &a, NULL), 0);
		assert_int_equal(fetch_reference_store_name(&a, &n1), 0);
		assert_int_equal(fetch_reference_parse(n1, &b, NULL), 0);
		assert_int_equal(fetch_reference_store_name(&b, &n2), 0);
		assert_string_equal(n1, n2);
		/* and the familiar form parses to the same name too */
		assert_int_equal(fetch_reference_familiar(n1, &fam), 0);
		fetch_reference_done(&b);
		assert_int_equal(fetch_reference_parse(fam, &b, NULL), 0);
		free(n2);
		assert_int_equal(fetch_reference_store_name(&b, &n2), 0);
		assert_string_equal(n1, n2);
		free(n1);
		free(n2);
		free(fam);
		fetch_reference_done(&a);
		fetch_reference_done(&b);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fetch_reference__valid),
	cmocka_unit_test(test_fetch_reference__invalid),
	cmocka_unit_test(test_fetch_reference__uppercase_message),
	cmocka_unit_test(test_fetch_reference__digest_value),
	cmocka_unit_test(test_fetch_reference__length_limit),
	cmocka_unit_test(test_fetch_reference__tag_length),
	cmocka_unit_test(test_fetch_reference__familiar),
	cmocka_unit_test(test_fetch_reference__repository_and_api_host),
	cmocka_unit_test(test_fetch_reference__roundtrip),
};
UNIT_EXPORT(fetch, reference, tests);
