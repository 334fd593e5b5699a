/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/reference.c: image references, parsed by hand after the distribution/reference grammar
 * and normalized the way Docker's ParseNormalizedNamed does (docker.io, library/, latest).
 *
 * The parse goes right to left, as the grammar allows: "@digest" is split off first (neither a
 * name nor a tag may hold '@'), then a tag is the part after the last ':' if that ':' follows the
 * last '/' (so "localhost:5000/x" has a port, not a tag), then the domain is the first component
 * if it looks like a host. Every piece is checked against its own rule, so each error says which.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/reference.h"
#include "util/macro.h"

#define NAME_TOTAL_MAX	      255
#define TAG_MAX		      128
#define DEFAULT_DOMAIN	      "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX	      "library/"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static bool is_lower_hex(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_valid(const char *t, size_t n)
{
	if (n == 0 || n > TAG_MAX || !is_word(t[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(t[i]) && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

/* alpha-numeric (separator alpha-numeric)*, separator := [_.] | __ | -+ */
static bool path_component_valid(const char *c, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;
		while (i < n && is_lower_alnum(c[i]))
			i++;
		if (i == start)
			return false;
		if (i == n)
			return true;
		if (c[i] == '.')
			i++;
		else if (c[i] == '_')
			i += (i + 1 < n && c[i + 1] == '_') ? 2 : 1;
		else if (c[i] == '-')
			while (i < n && c[i] == '-')
				i++;
		else
			return false;
	}
}

static bool path_valid(const char *p)
{
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!path_component_valid(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

/* [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component_valid(const char *c, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)c[0]) || !isalnum((unsigned char)c[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!isalnum((unsigned char)c[i]) && c[i] != '-')
			return false;
	return true;
}

static bool host_valid(const char *h, size_t n)
{
	if (n >= 2 && h[0] == '[') {
		/* An IPv6 literal: "[" hex and colons "]" (the grammar is no stricter). */
		if (h[n - 1] != ']' || n == 2)
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if (!isxdigit((unsigned char)h[i]) && h[i] != ':')
				return false;
		return true;
	}
	for (;;) {
		const char *dot = memchr(h, '.', n);
		size_t len = dot ? (size_t)(dot - h) : n;
		if (!domain_component_valid(h, len))
			return false;
		if (!dot)
			return true;
		n -= len + 1;
		h = dot + 1;
	}
}

/* host [":" port] */
static bool domain_valid(const char *d)
{
	size_t n = strlen(d);
	const char *colon = strrchr(d, ':');
	const char *bracket = strrchr(d, ']');

	/* A ':' inside an IPv6 literal is not the port separator. */
	if (colon && (!bracket || colon > bracket)) {
		if (colon[1] == '\0')
			return false;
		for (const char *p = colon + 1; *p; p++)
			if (!isdigit((unsigned char)*p))
				return false;
		n = (size_t)(colon - d);
	}
	return host_valid(d, n);
}

static bool looks_like_domain(const char *c, size_t n)
{
	bool upper = false;

	if (n == strlen("localhost") && strneq(c, "localhost", n))
		return true;
	for (size_t i = 0; i < n; i++) {
		if (c[i] == '.' || c[i] == ':')
			return true;
		if (isupper((unsigned char)c[i]))
			upper = true;
	}
	/* Docker: a first component with upper case is a host, since a path would be invalid. */
	return upper;
}

static bool has_upper(const char *s)
{
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return true;
	return false;
}

static int parse_digest(const char *s, const char *d, fetch_reference *r, berth_error *reterr)
{
	const char *colon = strchr(d, ':');

	if (!colon || colon == d)
		return berth_error_set(reterr, -EINVAL, "invalid reference format '%s': bad digest",
				       s);
	if (!strneq(d, "sha256:", 7))
		return berth_error_set(
			reterr, -EINVAL,
			"invalid reference format '%s': unsupported digest algorithm "
			"(only sha256)",
			s);
	if (strlen(d + 7) != STORE_DIGEST_HEX_LEN)
		return berth_error_set(reterr, -EINVAL,
				       "invalid reference format '%s': a sha256 digest has 64 hex "
				       "characters",
				       s);
	for (const char *p = d + 7; *p; p++)
		if (!is_lower_hex(*p))
			return berth_error_set(
				reterr, -EINVAL,
				"invalid reference format '%s': digest must be lowercase "
				"hex",
				s);
	if (store_digest_parse(d, &r->digest) < 0)
		return berth_error_set(reterr, -EINVAL, "invalid reference format '%s': bad digest",
				       s);
	r->has_digest = true;
	return 0;
}

/* Splits "name" into domain and path with Docker's defaults. name is consumed (freed or kept). */
static int split_domain(const char *s, const char *name, fetch_reference *r, berth_error *reterr)
{
	const char *slash = strchr(name, '/');
	const char *rest = name;
	int k;

	if (slash && looks_like_domain(name, (size_t)(slash - name))) {
		r->domain = strndup(name, (size_t)(slash - name));
		rest = slash + 1;
	} else
		r->domain = strdup(DEFAULT_DOMAIN);
	if (!r->domain)
		return -ENOMEM;
	if (streq(r->domain, LEGACY_DEFAULT_DOMAIN)) {
		free(r->domain);
		if (!(r->domain = strdup(DEFAULT_DOMAIN)))
			return -ENOMEM;
	}
	if (streq(r->domain, DEFAULT_DOMAIN) && !strchr(rest, '/'))
		k = asprintf(&r->path, OFFICIAL_PREFIX "%s", rest);
	else
		k = (r->path = strdup(rest)) ? 0 : -1;
	if (k < 0) {
		r->path = NULL;
		return -ENOMEM;
	}
	if (!domain_valid(r->domain))
		return berth_error_set(reterr, -EINVAL,
				       "invalid reference format '%s': bad registry "
				       "host '%s'",
				       s, r->domain);
	if (has_upper(r->path))
		return berth_error_set(reterr, -EINVAL,
				       "invalid reference format '%s': repository "
				       "name (%s) must be lowercase",
				       s, r->path);
	if (!path_valid(r->path))
		return berth_error_set(reterr, -EINVAL,
				       "invalid reference format '%s': bad "
				       "repository name '%s'",
				       s, r->path);
	if (strlen(r->domain) + 1 + strlen(r->path) > NAME_TOTAL_MAX)
		return berth_error_set(reterr, -EINVAL,
				       "invalid reference format '%s': repository "
				       "name must not be more than %d characters",
				       s, NAME_TOTAL_MAX);
	return 0;
}

static bool is_64_hex(const char *s)
{
	size_t n = strlen(s);

	if (n != STORE_DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

static int parse(const char *s, fetch_reference *r, berth_error *reterr)
{
	_cleanup_free_ char *name = NULL;
	const char *at, *colon, *slash;
	int k;

	if (!s[0])
		return berth_error_set(reterr, -EINVAL, "invalid reference format: empty name");
	if (is_64_hex(s))
		return berth_error_set(reterr, -EINVAL,
				       "invalid repository name (%s), cannot specify "
				       "64-byte hexadecimal strings",
				       s);
	at = strchr(s, '@');
	name = at ? strndup(s, (size_t)(at - s)) : strdup(s);
	if (!name)
		return -ENOMEM;
	if (at && (k = parse_digest(s, at + 1, r, reterr)) < 0)
		return k;
	colon = strrchr(name, ':');
	slash = strrchr(name, '/');
	if (colon && (!slash || colon > slash)) {
		if (!tag_valid(colon + 1, strlen(colon + 1)))
			return berth_error_set(reterr, -EINVAL,
					       "invalid reference format '%s': bad "
					       "tag '%s'",
					       s, colon + 1);
		if (!(r->tag = strdup(colon + 1)))
			return -ENOMEM;
		name[colon - name] = '\0';
	}
	if (!name[0] || name[strlen(name) - 1] == '/')
		return berth_error_set(reterr, -EINVAL,
				       "invalid reference format '%s': repository "
				       "name must have at least one component",
				       s);
	if ((k = split_domain(s, name, r, reterr)) < 0)
		return k;
	if (!r->tag && !r->has_digest && !(r->tag = strdup("latest")))
		return -ENOMEM;
	return 0;
}

int fetch_reference_parse(const char *s, fetch_reference *ret, berth_error *reterr)
{
	fetch_reference r = {};
	int k;

	if (!s)
		return -EINVAL;
	k = parse(s, &r, reterr);
	if (k < 0) {
		fetch_reference_done(&r);
		return k;
	}
	*ret = r;
	return 0;
}

void fetch_reference_done(fetch_reference *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	*r = (fetch_reference){};
}

int fetch_reference_store_name(const fetch_reference *r, char **ret)
{
	char *s;

	if (!r->tag)
		return -EINVAL;
	if (asprintf(&s, "%s/%s:%s", r->domain, r->path, r->tag) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int fetch_reference_repository(const fetch_reference *r, char **ret)
{
	char *s;

	if (asprintf(&s, "%s/%s", r->domain, r->path) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int fetch_reference_familiar(const char *store_name, char **ret)
{
	const char *p = store_name;
	char *s;

	/*
	 * Docker's FamiliarName: drop "docker.io/", then "library/" from a one-component path. Unlike
	 * Docker, keep "docker.io/" when the path's first component would read as a host
	 * ("docker.io/a.b/c" is not "a.b/c"), so the familiar form always parses back to the same name.
	 */
	if (strneq(store_name, DEFAULT_DOMAIN "/", strlen(DEFAULT_DOMAIN "/"))) {
		const char *rest = store_name + strlen(DEFAULT_DOMAIN "/");
		const char *slash = strchr(rest, '/');
		if (!slash || !looks_like_domain(rest, (size_t)(slash - rest))) {
			p = rest;
			if (strneq(rest, OFFICIAL_PREFIX, strlen(OFFICIAL_PREFIX)) &&
			    !strchr(rest + strlen(OFFICIAL_PREFIX), '/'))
				p = rest + strlen(OFFICIAL_PREFIX);
		}
	}
	s = strdup(p);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

const char *fetch_reference_api_host(const fetch_reference *r)
{
	if (streq(r->domain, DEFAULT_DOMAIN))
		return "registry-1.docker.io";
	return r->domain;
}
