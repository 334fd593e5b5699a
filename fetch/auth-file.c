/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/auth-file.c: the credentials file of fetch/auth.h (Docker's config.json shape, mode
 * 0600, read-modify-write under an flock of its directory) and the base64 it needs.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fetch/auth.h"
#include "fetch/registry-json.h"
#include "util/fileio.h"
#include "util/macro.h"

#define AUTH_FILE_MAX	  (1u << 20)
#define DOCKER_HUB_KEY	  "https://index.docker.io/v1/"
#define DOCKER_HUB_DOMAIN "docker.io"

/* ---- Base64 ---- */

char *fetch_auth_base64(const void *data, size_t len)
{
	char *out;

	if (len > (size_t)INT32_MAX / 2 || !(out = malloc(4 * ((len + 2) / 3) + 1)))
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

int fetch_auth_unbase64(const char *s, buf *out)
{
	size_t len = strlen(s), pad = 0;
	int n;

	if (len % 4 != 0 || len > (size_t)INT32_MAX / 2)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		bool b64 = isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '/';
		if (s[i] == '=' && i + 2 >= len)
			pad++;
		else if (!b64 || pad > 0)
			return -EINVAL;
	}
	buf_reset(out);
	if (buf_reserve(out, len / 4 * 3 + 1) < 0)
		return -ENOMEM;
	n = EVP_DecodeBlock((unsigned char *)out->data, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -EINVAL;
	out->len = (size_t)n - pad;
	out->data[out->len] = '\0';
	return 0;
}

/* ---- The credentials file ---- */

int fetch_auth_file_path(char **ret)
{
	const char *e = getenv("BERTH_CONFIG"), *home;
	char *p;

	if (e && *e)
		p = strdup(e);
	else if ((e = getenv("XDG_CONFIG_HOME")) && *e == '/')
		p = path_join(e, "berth/auth.json");
	else {
		struct passwd *pw;
		home = getenv("HOME");
		if ((!home || *home != '/') && (pw = getpwuid(getuid())))
			home = pw->pw_dir;
		if (!home || *home != '/')
			return -ENOENT;
		p = path_join(home, ".config/berth/auth.json");
	}
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

const char *fetch_auth_registry_key(const char *registry)
{
	return streq(registry, DOCKER_HUB_DOMAIN) ? DOCKER_HUB_KEY : registry;
}

/* "https://host:port/v1/" -> "host:port"; Docker Hub's aliases -> "docker.io". */
static char *key_host(const char *key)
{
	const char *s = key, *slash;
	char *h;

	if (strneq(s, "https://", 8))
		s += 8;
	else if (strneq(s, "http://", 7))
		s += 7;
	slash = strchr(s, '/');
	h = strndup(s, slash ? (size_t)(slash - s) : strlen(s));
	if (h && (streq(h, "index.docker.io") || streq(h, "registry-1.docker.io"))) {
		free(h);
		h = strdup(DOCKER_HUB_DOMAIN);
	}
	return h;
}

static int resolve_path(const char *path, char **ret)
{
	if (path)
		return (*ret = strdup(path)) ? 0 : -ENOMEM;
	return fetch_auth_file_path(ret);
}

static int read_auth_file(const char *path, buf *b, berth_error *reterr)
{
	int r = read_file(AT_FDCWD, path, AUTH_FILE_MAX, b);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return berth_error_set(reterr, r, "cannot read '%s': %s", path, strerror(-r));
	return 0;
}

static int split_auth(const char *auth_b64, char **ret_user, char **ret_pass)
{
	_cleanup_(buf_done) buf d = BUF_INIT;
	char *colon, *u, *p;

	if (fetch_auth_unbase64(auth_b64, &d) < 0 || !d.data || memchr(d.data, '\0', d.len) ||
	    !(colon = strchr(d.data, ':')))
		return -EBADMSG;
	u = strndup(d.data, (size_t)(colon - d.data));
	p = strdup(colon + 1);
	if (!u || !p) {
		free(u);
		free(p);
		return -ENOMEM;
	}
	*ret_user = u;
	*ret_pass = p;
	return 0;
}

int fetch_auth_lookup(const char *path, const char *registry, char **ret_user, char **ret_pass,
		      berth_error *reterr)
{
	_cleanup_free_ char *file = NULL, *want = key_host(registry);
	_cleanup_(buf_done) buf b = BUF_INIT;
	fetch_rjson_auth_entry *e = NULL;
	size_t n = 0;
	int r;

	if (!want)
		return -ENOMEM;
	if ((r = resolve_path(path, &file)) < 0)
		return r == -ENOENT ? -ENOENT : r;
	if ((r = read_auth_file(file, &b, reterr)) < 0)
		return r;
	if ((r = fetch_rjson_auths_parse(b.data, b.len, &e, &n, reterr)) < 0)
		return berth_error_set(reterr, r, "'%s' is not a credentials file", file);
	r = -ENOENT;
	for (size_t i = 0; i < n && r == -ENOENT; i++) {
		_cleanup_free_ char *h = key_host(e[i].key);
		if (!h || !streq(h, want) || !e[i].auth)
			continue;
		r = split_auth(e[i].auth, ret_user, ret_pass);
		if (r == -EBADMSG)
			berth_error_set(reterr, r,
					"'%s': the entry of '%s' is not base64(user:password)",
					file, e[i].key);
	}
	fetch_rjson_auths_free(e, n);
	return r;
}

/* Read-modify-write of the file under an flock of its directory; auth NULL removes. */
static int update_file(const char *path, const char *registry, const char *auth,
		       berth_error *reterr)
{
	_cleanup_free_ char *file = NULL, *dir = NULL;
	_cleanup_(buf_done) buf b = BUF_INIT, out = BUF_INIT;
	_cleanup_close_ int dfd = -EBADF;
	char *slash;
	int r;

	if ((r = resolve_path(path, &file)) < 0)
		return berth_error_set(reterr, r, "cannot find the credentials file (no $HOME)");
	if (!(dir = strdup(file)))
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else if (slash)
		dir[1] = '\0';
	else
		strcpy(dir, ".");
	if ((r = mkdir_p(AT_FDCWD, dir, 0700)) < 0)
		return berth_error_set(reterr, r, "cannot create '%s': %s", dir, strerror(-r));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || flock(dfd, LOCK_EX) < 0)
		return berth_error_set(reterr, negative_errno(), "cannot lock '%s': %m", dir);
	if ((r = read_auth_file(file, &b, reterr)) < 0)
		return r;
	r = fetch_rjson_auths_update(b.data, b.len, fetch_auth_registry_key(registry), auth, &out,
				     reterr);
	if (r == -ENOENT && !auth && !streq(registry, fetch_auth_registry_key(registry)))
		r = fetch_rjson_auths_update(b.data, b.len, registry, NULL, &out, reterr);
	if (r < 0)
		return r == -EBADMSG
			       ? berth_error_set(reterr, r, "'%s' is not a credentials file", file)
			       : r;
	if ((r = write_file_atomic(AT_FDCWD, file, out.data, out.len, 0600)) < 0)
		return berth_error_set(reterr, r, "cannot write '%s': %s", file, strerror(-r));
	return 0;
}

int fetch_auth_store(const char *path, const char *registry, const char *user, const char *pass,
		     berth_error *reterr)
{
	_cleanup_free_ char *plain = NULL, *b64 = NULL;

	if (strchr(user, ':'))
		return berth_error_set(reterr, -EINVAL, "a user name cannot contain ':'");
	if (asprintf(&plain, "%s:%s", user, pass) < 0 ||
	    !(b64 = fetch_auth_base64(plain, strlen(plain))))
		return -ENOMEM;
	return update_file(path, registry, b64, reterr);
}

int fetch_auth_erase(const char *path, const char *registry, berth_error *reterr)
{
	return update_file(path, registry, NULL, reterr);
}
