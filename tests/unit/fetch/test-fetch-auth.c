/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of fetch/auth.c: WWW-Authenticate parsing, base64, the credentials file (shape, mode,
 * other keys kept, Docker Hub's key), and answering challenges: Basic, and Bearer tokens fetched
 * from a scripted token server, cached until they expire (a fake clock), refreshed on demand.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetch/auth.h"
#include "tests/unit/fetch/http-server.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

/* ---- Challenges ---- */

static void parse_ok(const char *h, fetch_auth_challenge **v, size_t *n)
{
	berth_error err = BERTH_ERROR_INIT;

	*v = NULL;
	*n = 0;
	if (fetch_auth_challenges_parse(h, v, n, &err) < 0)
		fail_msg("'%s' refused: %s", h, err.msg);
}

static void test_fetch_auth__challenge_bearer(void **state)
{
	fetch_auth_challenge *v;
	size_t n;

	parse_ok("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		 "scope=\"repository:library/busybox:pull\"",
		 &v, &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].scheme, "bearer");
	assert_int_equal(v[0].n_params, 3);
	assert_string_equal(fetch_auth_challenge_param(&v[0], "realm"),
			    "https://auth.docker.io/token");
	assert_string_equal(fetch_auth_challenge_param(&v[0], "service"), "registry.docker.io");
	assert_string_equal(fetch_auth_challenge_param(&v[0], "scope"),
			    "repository:library/busybox:pull");
	fetch_auth_challenges_free(v, n);
}

static void test_fetch_auth__challenge_forms(void **state)
{
	fetch_auth_challenge *v;
	size_t n;

	parse_ok("Basic realm=\"Registry Realm\"", &v, &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].scheme, "basic");
	assert_string_equal(fetch_auth_challenge_param(&v[0], "realm"), "Registry Realm");
	fetch_auth_challenges_free(v, n);

	parse_ok("Basic realm=\"x\", Bearer realm=\"y\",service=z , Negotiate abc+/9==", &v, &n);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].scheme, "basic");
	assert_string_equal(v[1].scheme, "bearer");
	assert_string_equal(fetch_auth_challenge_param(&v[1], "service"), "z");
	assert_string_equal(v[2].scheme, "negotiate");
	assert_string_equal(v[2].token68, "abc+/9==");
	fetch_auth_challenges_free(v, n);

	parse_ok("BEARER Realm = \"a\\\"b\\\\c\"", &v, &n);
	assert_string_equal(v[0].scheme, "bearer");
	assert_string_equal(fetch_auth_challenge_param(&v[0], "realm"), "a\"b\\c");
	fetch_auth_challenges_free(v, n);

	parse_ok("Basic", &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].n_params, 0);
	fetch_auth_challenges_free(v, n);

	parse_ok("", &v, &n);
	assert_int_equal(n, 0);
	free(v);
}

static void test_fetch_auth__challenge_refused(void **state)
{
	static const char *const bad[] = {
		"=x",
		"Bearer realm=\"unterminated",
		"Bearer realm=,x=y",
		"Bearer realm=x realm=y",
		"Bearer realm=a, realm=b",
		"Bearer realm=\"a\x01\"",
		"Bearer realm=a,, service=\"b\" junk=\"",
		"B@d realm=x",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		berth_error err = BERTH_ERROR_INIT;
		fetch_auth_challenge *v = NULL;
		size_t n = 0;
		int r = fetch_auth_challenges_parse(bad[i], &v, &n, &err);
		if (r != -EBADMSG)
			fail_msg("'%s' gave %d", bad[i], r);
		assert_non_null(strstr(err.msg, "WWW-Authenticate"));
		fetch_auth_challenges_free(v, n);
	}
}

static void test_fetch_auth__challenge_bounds(void **state)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	fetch_auth_challenge *v = NULL;
	size_t n = 0;

	for (int i = 0; i < 20; i++)
		assert_int_equal(buf_printf(&b, "%sBasic realm=r%d", i ? ", " : "", i), 0);
	assert_int_equal(fetch_auth_challenges_parse(b.data, &v, &n, NULL), -EBADMSG);
	fetch_auth_challenges_free(v, n);
	buf_reset(&b);
	v = NULL;
	n = 0;
	assert_int_equal(buf_append_str(&b, "Bearer "), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(buf_printf(&b, "%sp%d=v", i ? "," : "", i), 0);
	assert_int_equal(fetch_auth_challenges_parse(b.data, &v, &n, NULL), -EBADMSG);
	fetch_auth_challenges_free(v, n);
}

/* ---- Base64 ---- */

static void test_fetch_auth__base64(void **state)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	static const char *const in[] = { "", "f", "fo", "foo", "user:pa:ss" };
	static const char *const bad[] = { "a", "ab=c", "a=bc", "ab c", "Zm9v=", "Zg=\n" };

	for (size_t i = 0; i < ELEMENTSOF(in); i++) {
		char *e = fetch_auth_base64(in[i], strlen(in[i]));
		assert_non_null(e);
		assert_int_equal(fetch_auth_unbase64(e, &b), 0);
		assert_int_equal(b.len, strlen(in[i]));
		assert_memory_equal(b.len ? b.data : "", in[i], b.len);
		free(e);
	}
	char *e = fetch_auth_base64("foo", 3);
	assert_string_equal(e, "Zm9v");
	free(e);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(fetch_auth_unbase64(bad[i], &b), -EINVAL);
}

/* ---- The credentials file ---- */

static void test_fetch_auth__credentials_file(void **state)
{
	char *dir = unit_tmpdir(), *path = path_join(dir, "sub/auth.json");
	_cleanup_(buf_done) buf b = BUF_INIT;
	char *user = NULL, *pass = NULL;
	struct stat st;

	assert_int_equal(fetch_auth_lookup(path, "127.0.0.1:5000", &user, &pass, NULL), -ENOENT);
	assert_int_equal(fetch_auth_store(path, "127.0.0.1:5000", "alice", "s3:cr et", NULL), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(fetch_auth_lookup(path, "127.0.0.1:5000", &user, &pass, NULL), 0);
	assert_string_equal(user, "alice");
	assert_string_equal(pass, "s3:cr et");
	free(user);
	free(pass);
	assert_int_equal(fetch_auth_lookup(path, "127.0.0.1:5001", &user, &pass, NULL), -ENOENT);

	/* Docker Hub: keyed as Docker keys it, found under any of its names. */
	assert_int_equal(fetch_auth_store(path, "docker.io", "bob", "pw", NULL), 0);
	assert_int_equal(read_file(AT_FDCWD, path, SIZE_MAX, &b), 0);
	assert_non_null(strstr(b.data, "\"https://index.docker.io/v1/\""));
	assert_non_null(strstr(b.data, "\"auths\""));
	assert_int_equal(fetch_auth_lookup(path, "docker.io", &user, &pass, NULL), 0);
	assert_string_equal(user, "bob");
	free(user);
	free(pass);

	assert_int_equal(fetch_auth_erase(path, "127.0.0.1:5000", NULL), 0);
	assert_int_equal(fetch_auth_lookup(path, "127.0.0.1:5000", &user, &pass, NULL), -ENOENT);
	assert_int_equal(fetch_auth_erase(path, "127.0.0.1:5000", NULL), -ENOENT);
	assert_int_equal(fetch_auth_erase(path, "docker.io", NULL), 0);
	free(path);
	unit_tmpdir_remove(dir);
}

static void test_fetch_auth__credentials_file_foreign(void **state)
{
	char *dir = unit_tmpdir(), *path = path_join(dir, "config.json");
	static const char docker[] =
		"{\"auths\": {\"https://r.example/v2/\": {\"auth\": \"dTpw\"},"
		" \"bad.example\": {\"auth\": \"bm9jb2xvbg==\"}},"
		" \"credsStore\": \"desktop\", \"HttpHeaders\": {\"X\": \"y\"}}";
	_cleanup_(buf_done) buf b = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	char *user = NULL, *pass = NULL;

	assert_int_equal(write_file_atomic(AT_FDCWD, path, docker, strlen(docker), 0600), 0);
	assert_int_equal(fetch_auth_lookup(path, "r.example", &user, &pass, NULL), 0);
	assert_string_equal(user, "u");
	assert_string_equal(pass, "p");
	free(user);
	free(pass);
	/* base64 of "nocolon": not user:password. */
	assert_int_equal(fetch_auth_lookup(path, "bad.example", &user, &pass, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "bad.example"));
	/* A rewrite keeps what berth does not use. */
	assert_int_equal(fetch_auth_store(path, "127.0.0.1:1", "x", "y", NULL), 0);
	assert_int_equal(read_file(AT_FDCWD, path, SIZE_MAX, &b), 0);
	assert_non_null(strstr(b.data, "\"credsStore\": \"desktop\""));
	assert_non_null(strstr(b.data, "https://r.example/v2/"));
	/* Not JSON: a clear refusal, nothing overwritten. */
	assert_int_equal(write_file_atomic(AT_FDCWD, path, "{nope", 5, 0600), 0);
	assert_int_equal(fetch_auth_store(path, "127.0.0.1:1", "x", "y", NULL), -EBADMSG);
	buf_reset(&b);
	assert_int_equal(read_file(AT_FDCWD, path, SIZE_MAX, &b), 0);
	assert_string_equal(b.data, "{nope");
	free(path);
	unit_tmpdir_remove(dir);
}

static void test_fetch_auth__file_path(void **state)
{
	char *p = NULL;

	setenv("BERTH_CONFIG", "/x/auth.json", 1);
	assert_int_equal(fetch_auth_file_path(&p), 0);
	assert_string_equal(p, "/x/auth.json");
	free(p);
	unsetenv("BERTH_CONFIG");
	setenv("XDG_CONFIG_HOME", "/cfg", 1);
	assert_int_equal(fetch_auth_file_path(&p), 0);
	assert_string_equal(p, "/cfg/berth/auth.json");
	free(p);
	unsetenv("XDG_CONFIG_HOME");
}

/* ---- Answering challenges ---- */

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

static void h_token(tsrv *s, const tsrv_request *req, unsigned n, int fd)
{
	char body[128];
	int len;

	if (strstr(req->path, "refuse")) {
		tsrv_reply(fd, 401, NULL, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"no\"}]}",
			   45);
		return;
	}
	len = snprintf(body, sizeof(body), "{\"token\": \"T%u\", \"expires_in\": 300}", n);
	tsrv_reply(fd, 200, "Content-Type: application/json\r\n", body, (size_t)len);
}

static fetch_auth_challenge *bearer(const tsrv *s, const char *realm_path, size_t *n)
{
	fetch_auth_challenge *v;
	char h[256];

	snprintf(h, sizeof(h), "Bearer realm=\"%s%s\",service=\"reg\"", s->base, realm_path);
	parse_ok(h, &v, n);
	return v;
}

static void test_fetch_auth__bearer_tokens(void **state)
{
	const char *scopes[] = { "repository:b:pull", "repository:a:pull,push", NULL };
	const char *scopes2[] = { "repository:a:pull,push", "repository:b:pull", NULL };
	fetch_auth_challenge *c;
	fetch_auth *a = NULL;
	fetch_http *h = NULL;
	char *v = NULL;
	size_t n;
	tsrv s;

	int64_t (*saved_clock)(void) = fetch_auth_clock;

	fetch_auth_clock = fake_clock;
	fake_now = 1000;
	tsrv_start(&s, h_token, NULL);
	c = bearer(&s, "/token", &n);
	assert_int_equal(fetch_http_new(NULL, &h), 0);
	assert_int_equal(fetch_auth_new("/nonexistent/auth.json", &a), 0);

	assert_int_equal(fetch_auth_authorize(a, h, "reg", c, n, scopes, false, false, &v, NULL),
			 0);
	assert_string_equal(v, "Bearer T0");
	free(v);
	assert_int_equal(s.n_requests, 1);
	assert_non_null(strstr(s.requests[0].path, "/token?service=reg&scope=repository%3Ab%3Apull"
						   "&scope=repository%3Aa%3Apull%2Cpush"));
	assert_string_equal(s.requests[0].authorization, ""); /* anonymous: no credentials */

	/* Cached, whatever the order of the scopes. */
	fake_now += 200;
	assert_int_equal(fetch_auth_authorize(a, h, "reg", c, n, scopes2, false, false, &v, NULL),
			 0);
	assert_string_equal(v, "Bearer T0");
	free(v);
	assert_int_equal(s.n_requests, 1);
	/* Other scopes: another token. */
	assert_int_equal(fetch_auth_authorize(a, h, "reg", c, n, NULL, false, false, &v, NULL), 0);
	assert_string_equal(v, "Bearer T1");
	free(v);
	/* Expired (300 s, renewed 10 s early). */
	fake_now += 95;
	assert_int_equal(fetch_auth_authorize(a, h, "reg", c, n, scopes, false, false, &v, NULL),
			 0);
	assert_string_equal(v, "Bearer T2");
	free(v);
	/* Refused by the registry: refresh. */
	assert_int_equal(fetch_auth_authorize(a, h, "reg", c, n, scopes, false, true, &v, NULL), 0);
	assert_string_equal(v, "Bearer T3");
	free(v);

	/* With credentials, the token request carries them (Basic). */
	assert_int_equal(fetch_auth_set_credentials(a, "reg2", "alice", "pw"), 0);
	assert_int_equal(fetch_auth_has_credentials(a, "reg2"), 1);
	assert_int_equal(fetch_auth_has_credentials(a, "reg"), 0);
	assert_int_equal(fetch_auth_authorize(a, h, "reg2", c, n, scopes, false, false, &v, NULL),
			 0);
	assert_string_equal(v, "Bearer T4");
	free(v);
	assert_string_equal(s.requests[4].authorization, "Basic YWxpY2U6cHc=");

	fetch_auth_challenges_free(c, n);
	fetch_auth_free(a);
	fetch_http_free(h);
	tsrv_stop(&s);
	fetch_auth_clock = saved_clock;
}

static void test_fetch_auth__token_refused(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_auth_challenge *c;
	fetch_auth *a = NULL;
	fetch_http *h = NULL;
	char *v = NULL;
	size_t n;
	tsrv s;

	tsrv_start(&s, h_token, NULL);
	c = bearer(&s, "/refuse", &n);
	assert_int_equal(fetch_http_new(NULL, &h), 0);
	assert_int_equal(fetch_auth_new("/nonexistent/auth.json", &a), 0);
	assert_int_equal(fetch_auth_authorize(a, h, "reg", c, n, NULL, false, false, &v, &err),
			 -EACCES);
	assert_non_null(strstr(err.msg, "refused (HTTP 401): DENIED: no"));
	fetch_auth_challenges_free(c, n);

	parse_ok("Bearer service=x", &c, &n);
	err = (berth_error)BERTH_ERROR_INIT;
	assert_int_equal(fetch_auth_authorize(a, h, "reg", c, n, NULL, false, false, &v, &err),
			 -EPROTO);
	fetch_auth_challenges_free(c, n);
	parse_ok("Bearer realm=\"file:///etc/passwd\"", &c, &n);
	assert_int_equal(fetch_auth_authorize(a, h, "reg", c, n, NULL, false, false, &v, NULL),
			 -EPROTO);
	fetch_auth_challenges_free(c, n);
	fetch_auth_free(a);
	fetch_http_free(h);
	tsrv_stop(&s);
}

static void test_fetch_auth__basic(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_auth_challenge *c;
	fetch_auth *a = NULL;
	char *v = NULL;
	size_t n;

	parse_ok("Basic realm=\"r\"", &c, &n);
	assert_int_equal(fetch_auth_new("/nonexistent/auth.json", &a), 0);
	assert_int_equal(fetch_auth_authorize(a, NULL, "reg", c, n, NULL, false, false, &v, &err),
			 -EACCES);
	assert_non_null(strstr(err.msg, "berth login reg"));
	assert_int_equal(fetch_auth_set_credentials(a, "reg", "u", "p"), 0);
	assert_int_equal(fetch_auth_authorize(a, NULL, "reg", c, n, NULL, false, false, &v, NULL),
			 0);
	assert_string_equal(v, "Basic dTpw");
	free(v);
	err = (berth_error)BERTH_ERROR_INIT;
	assert_int_equal(fetch_auth_authorize(a, NULL, "reg", c, n, NULL, false, true, &v, &err),
			 -EACCES);
	assert_non_null(strstr(err.msg, "refused the user name and password"));
	fetch_auth_challenges_free(c, n);

	parse_ok("Negotiate abc", &c, &n);
	assert_int_equal(fetch_auth_authorize(a, NULL, "reg", c, n, NULL, false, false, &v, NULL),
			 -EPROTONOSUPPORT);
	fetch_auth_challenges_free(c, n);
	fetch_auth_free(a);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fetch_auth__challenge_bearer),
	cmocka_unit_test(test_fetch_auth__challenge_forms),
	cmocka_unit_test(test_fetch_auth__challenge_refused),
	cmocka_unit_test(test_fetch_auth__challenge_bounds),
	cmocka_unit_test(test_fetch_auth__base64),
	cmocka_unit_test(test_fetch_auth__credentials_file),
	cmocka_unit_test(test_fetch_auth__credentials_file_foreign),
	cmocka_unit_test(test_fetch_auth__file_path),
	cmocka_unit_test(test_fetch_auth__bearer_tokens),
	cmocka_unit_test(test_fetch_auth__token_refused),
	cmocka_unit_test(test_fetch_auth__basic),
};

UNIT_EXPORT(fetch, auth, tests);
