/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of fetch/registry.c (the registries configuration: insecure hosts, loopback, mirrors,
 * --tls-verify), fetch/blob-cache.c (records, newest first, garbage skipped, bounded) and the
 * platform choice of fetch/pull.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/blob-cache.h"
#include "fetch/pull.h"
#include "fetch/registry.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

static fetch_registries *conf_of(const char *text)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_registries *r = NULL;

	assert_int_equal(fetch_registries_new(&r), 0);
	if (fetch_registries_parse(r, text, "registries.conf", &err) < 0)
		fail_msg("refused: %s", err.msg);
	return r;
}

static void test_fetch_registry__insecure(void **state)
{
	fetch_registries *r = conf_of("# comment\n\ninsecure a.example:1 b.example  # trailing\n");

	assert_true(fetch_registries_is_insecure(r, "a.example:1"));
	assert_true(fetch_registries_is_insecure(r, "B.example"));
	assert_false(fetch_registries_is_insecure(r, "a.example"));
	assert_false(fetch_registries_is_insecure(r, "example.com"));
	/* Loopback is insecure without being listed, as in Docker. */
	assert_true(fetch_registries_is_insecure(r, "127.0.0.1:5000"));
	assert_true(fetch_registries_is_insecure(r, "127.3.4.5"));
	assert_true(fetch_registries_is_insecure(r, "localhost:5000"));
	assert_true(fetch_registries_is_insecure(r, "[::1]:5000"));
	assert_false(fetch_registries_is_insecure(r, "127.example.com"));
	assert_int_equal(fetch_registries_add_insecure(r, "c.example"), 0);
	assert_true(fetch_registries_is_insecure(r, "c.example"));
	assert_int_equal(fetch_registries_add_insecure(r, "bad host"), -EINVAL);
	fetch_registries_set_tls_verify(r, 1);
	assert_false(fetch_registries_is_insecure(r, "127.0.0.1:5000"));
	assert_false(fetch_registries_is_insecure(r, "a.example:1"));
	fetch_registries_set_tls_verify(r, 0);
	assert_true(fetch_registries_is_insecure(r, "example.com"));
	fetch_registries_free(r);
}

static void test_fetch_registry__mirrors(void **state)
{
	fetch_registries *r = conf_of("mirror docker.io http://m1.example:5001/\n"
				      "mirror docker.io m2.example\n"
				      "mirror quay.io https://m3.example\n");
	fetch_endpoint *e = NULL;
	size_t n = 0;

	assert_int_equal(fetch_registries_endpoints(r, "docker.io", true, &e, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].host, "m1.example:5001");
	assert_string_equal(e[0].scheme, "http");
	assert_true(e[0].insecure && e[0].mirror);
	assert_string_equal(e[0].auth_name, "m1.example:5001");
	assert_string_equal(e[1].host, "m2.example");
	assert_null(e[1].scheme);
	assert_false(e[1].insecure);
	assert_string_equal(e[2].host, "registry-1.docker.io");
	assert_string_equal(e[2].auth_name, "docker.io");
	assert_false(e[2].mirror);
	fetch_endpoints_free(e, n);
	/* Pushes never go to a mirror. */
	assert_int_equal(fetch_registries_endpoints(r, "docker.io", false, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].host, "registry-1.docker.io");
	fetch_endpoints_free(e, n);
	assert_int_equal(fetch_registries_endpoints(r, "127.0.0.1:5000", true, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_true(e[0].insecure);
	fetch_endpoints_free(e, n);
	fetch_registries_free(r);
}

static void test_fetch_registry__conf_errors(void **state)
{
	static const char *const bad[] = {
		"insecure\n", "mirror docker.io\n",	 "mirror docker.io http://h/path\n",
		"bogus x\n",  "\n\ninsecure 'quoted'\n",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		berth_error err = BERTH_ERROR_INIT;
		fetch_registries *r = NULL;
		assert_int_equal(fetch_registries_new(&r), 0);
		if (fetch_registries_parse(r, bad[i], "registries.conf", &err) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err.msg, "registries.conf:"));
		fetch_registries_free(r);
	}
}

static void test_fetch_registry__load(void **state)
{
	char *dir = unit_tmpdir(), *path = path_join(dir, "registries.conf");
	berth_error err = BERTH_ERROR_INIT;
	fetch_registries *r = NULL;

	assert_int_equal(fetch_registries_new(&r), 0);
	assert_int_equal(write_file_atomic(AT_FDCWD, path, "insecure x.example\n", 19, 0644), 0);
	assert_int_equal(fetch_registries_load(r, dir, NULL), 0);
	assert_true(fetch_registries_is_insecure(r, "x.example"));
	fetch_registries_free(r);
	assert_int_equal(write_file_atomic(AT_FDCWD, path, "nope\n", 5, 0644), 0);
	assert_int_equal(fetch_registries_new(&r), 0);
	assert_int_equal(fetch_registries_load(r, dir, &err), -EINVAL);
	assert_non_null(strstr(err.msg, path));
	fetch_registries_free(r);
	free(path);
	unit_tmpdir_remove(dir);
}

/* ---- Blob cache ---- */

static fetch_blob_source src(uint8_t diff, uint8_t blob, const char *host, const char *repo)
{
	fetch_blob_source s = {
		.size = 100u + blob,
		.media_type = (char *)"application/vnd.oci.image.layer.v1.tar+gzip",
		.host = (char *)host,
		.repository = (char *)repo,
	};

	memset(s.diff_id.b, diff, STORE_DIGEST_LEN);
	memset(s.blob.b, blob, STORE_DIGEST_LEN);
	return s;
}

static void test_fetch_registry__blob_cache(void **state)
{
	char *dir = unit_tmpdir(), *path = path_join(dir, "blob-sources");
	fetch_blob_source a = src(1, 10, "h:1", "x"), b = src(1, 11, "h:1", "y"),
			  c = src(1, 10, "h:2", "x"), d = src(2, 12, "h:1", "x"), *v = NULL;
	size_t n = 0;
	int fd;

	assert_int_equal(fetch_blob_cache_find(dir, &a.diff_id, "h:1", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(fetch_blob_cache_add(dir, &a), 0);
	assert_int_equal(fetch_blob_cache_add(dir, &b), 0);
	assert_int_equal(fetch_blob_cache_add(dir, &c), 0);
	assert_int_equal(fetch_blob_cache_add(dir, &d), 0);
	/* Garbage is skipped, not fatal. */
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fd_write_all(fd, "garbage line\n\nsha256:zz x\n", 26), 0);
	close(fd);
	assert_int_equal(fetch_blob_cache_add(dir, &a), 0); /* again: newest, listed once */
	assert_int_equal(fetch_blob_cache_find(dir, &a.diff_id, "h:1", &v, &n), 0);
	assert_int_equal(n, 2);
	assert_true(store_digest_eq(&v[0].blob, &a.blob));
	assert_string_equal(v[0].repository, "x");
	assert_int_equal(v[0].size, 110);
	assert_true(store_digest_eq(&v[1].blob, &b.blob));
	assert_string_equal(v[1].repository, "y");
	fetch_blob_sources_free(v, n);
	a.repository = (char *)"has space";
	assert_int_equal(fetch_blob_cache_add(dir, &a), -EINVAL);
	free(path);
	unit_tmpdir_remove(dir);
}

static void test_fetch_registry__blob_cache_bounded(void **state)
{
	char *dir = unit_tmpdir(), *path = path_join(dir, "blob-sources");
	fetch_blob_source a = src(3, 30, "h", "r");
	char *big = malloc(5u << 20);
	struct stat st;

	memset(big, 'x', 5u << 20);
	assert_int_equal(write_file_atomic(AT_FDCWD, path, big, 5u << 20, 0600), 0);
	assert_int_equal(fetch_blob_cache_add(dir, &a), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < 1024);
	free(big);
	free(path);
	unit_tmpdir_remove(dir);
}

/* ---- Platforms ---- */

static void test_fetch_registry__platform_parse(void **state)
{
	static const char *const bad[] = { "linux",	   "linux//x", "/linux/amd64",
					   "linux/amd64/", "a/b/c/d",  "" };
	fetch_oci_platform p;

	assert_int_equal(fetch_platform_parse("linux/arm64/v8", &p), 0);
	assert_string_equal(p.os, "linux");
	assert_string_equal(p.architecture, "arm64");
	assert_string_equal(p.variant, "v8");
	fetch_platform_done(&p);
	assert_int_equal(fetch_platform_parse("Linux/x86_64", &p), 0);
	assert_string_equal(p.os, "linux");
	assert_string_equal(p.architecture, "amd64");
	assert_null(p.variant);
	fetch_platform_done(&p);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(fetch_platform_parse(bad[i], &p), -EINVAL);
}

#define H(c) \
#c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c

static void test_fetch_registry__platform_select(void **state)
{
	static const char idx_json[] =
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		"\"manifests\":["
		"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":1,"
		"\"digest\":\"sha256:" H(
			a) "\",\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
			   "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":1,"
			   "\"digest\":\"sha256:" H(
				   b) "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
				      "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":1,"
				      "\"digest\":\"sha256:" H(
					      c) "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
						 "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":1,"
						 "\"digest\":\"sha256:" H(
							 d) "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
							    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":1,"
							    "\"digest\":\"sha256:" H(
								    e) "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
								       "{\"mediaType\":\"application/vnd.example.sbom\",\"size\":1,"
								       "\"digest\":\"sha256:" H(
									       f) "\",\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}}"
										  "]}";
	fetch_oci_index *idx = NULL;
	const fetch_oci_descriptor *d;
	fetch_oci_platform p;
	char hex[STORE_DIGEST_HEX_LEN + 1];

	assert_int_equal(fetch_oci_index_parse(idx_json, strlen(idx_json), &idx, NULL), 0);
	/* This machine: whatever it is, the entry for its architecture. */
	d = fetch_platform_select(idx, NULL);
	if (streq(fetch_oci_host_arch(), "amd64") || streq(fetch_oci_host_arch(), "arm64")) {
		assert_non_null(d);
		assert_string_equal(d->platform.architecture, fetch_oci_host_arch());
	}
	assert_int_equal(fetch_platform_parse("linux/arm/v7", &p), 0);
	d = fetch_platform_select(idx, &p);
	store_digest_hex(&d->digest, hex);
	assert_int_equal(hex[0], 'c');
	fetch_platform_done(&p);
	assert_int_equal(fetch_platform_parse("linux/arm64/v8", &p), 0);
	d = fetch_platform_select(idx, &p); /* v8 is arm64's unwritten variant */
	store_digest_hex(&d->digest, hex);
	assert_int_equal(hex[0], 'd');
	fetch_platform_done(&p);
	assert_int_equal(fetch_platform_parse("linux/arm", &p), 0);
	d = fetch_platform_select(idx, &p); /* no variant asked: the first arm */
	store_digest_hex(&d->digest, hex);
	assert_int_equal(hex[0], 'b');
	fetch_platform_done(&p);
	assert_int_equal(fetch_platform_parse("linux/s390x", &p), 0);
	assert_null(fetch_platform_select(idx, &p)); /* only a non-image entry has it */
	fetch_platform_done(&p);
	assert_int_equal(fetch_platform_parse("unknown/unknown", &p), 0);
	assert_non_null(fetch_platform_select(idx, &p)); /* asked for explicitly: so be it */
	fetch_platform_done(&p);
	fetch_oci_index_free(idx);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fetch_registry__insecure),
	cmocka_unit_test(test_fetch_registry__mirrors),
	cmocka_unit_test(test_fetch_registry__conf_errors),
	cmocka_unit_test(test_fetch_registry__load),
	cmocka_unit_test(test_fetch_registry__blob_cache),
	cmocka_unit_test(test_fetch_registry__blob_cache_bounded),
	cmocka_unit_test(test_fetch_registry__platform_parse),
	cmocka_unit_test(test_fetch_registry__platform_select),
};

UNIT_EXPORT(fetch, registry, tests);
