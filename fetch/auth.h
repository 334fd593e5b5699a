/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/auth.h: registry authentication: WWW-Authenticate challenges, stored credentials, and
 * answering a challenge with an Authorization value (Basic, or a Bearer token from the token
 * server the challenge names, cached until it expires).
 *
 * Challenges (RFC 7235 section 4.1) come from outside and are parsed strictly (fuzzed): a scheme,
 * then either a token68 or comma-separated auth-params `name=token` / `name="quoted string"`;
 * several challenges may share one header. Scheme and parameter names are lowercased; values are
 * kept as sent (quoted-pairs unescaped). Bounded: a header over 16 KiB, over 16 challenges or
 * over 32 parameters in one is refused (-EBADMSG).
 *
 * Credentials live in one file of Docker's config.json shape ({"auths": {...}}, which is also
 * podman's auth.json): $BERTH_CONFIG if set (a file path), else $XDG_CONFIG_HOME/berth/auth.json,
 * else ~/.config/berth/auth.json. It is written atomically with mode 0600 (its directory 0700).
 * Docker Hub's entry is keyed "https://index.docker.io/v1/" as Docker keys it; other registries
 * by host[:port]. A lookup also accepts keys written as URLs ("https://host/v2/").
 *
 * A fetch_auth is shared by the threads of one pull or push: its token cache is locked.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/http.h"
#include "fetch/oci.h"
#include "util/buf.h"
#include "util/error.h"

/* ---- Challenges ---- */

typedef struct fetch_auth_challenge {
	char *scheme;  /* lowercased: "basic", "bearer" */
	char *token68; /* NULL unless the challenge carries one instead of parameters */
	size_t n_params;
	fetch_kv *params; /* names lowercased */
} fetch_auth_challenge;

/* Appends the challenges of one header value to *v (n_v entries). */
int fetch_auth_challenges_parse(const char *header, fetch_auth_challenge **v, size_t *n_v,
				berth_error *reterr);
void fetch_auth_challenges_free(fetch_auth_challenge *v, size_t n);
const char *fetch_auth_challenge_param(const fetch_auth_challenge *c, const char *name);

/* ---- Base64 (Basic auth, credentials files) ---- */

char *fetch_auth_base64(const void *data, size_t len);
/* -EINVAL if s is not standard padded base64. */
int fetch_auth_unbase64(const char *s, buf *out);

/* ---- Stored credentials ---- */

/* The credentials file's path (see above). -ENOENT if no home can be found. */
int fetch_auth_file_path(char **ret);
/* The key a registry's entry is written under ("docker.io" -> "https://index.docker.io/v1/"). */
const char *fetch_auth_registry_key(const char *registry);
/*
 * The user and password stored for registry (a reference's domain: "docker.io",
 * "127.0.0.1:5000"). path NULL: the default file. -ENOENT if none (or no file).
 */
int fetch_auth_lookup(const char *path, const char *registry, char **ret_user, char **ret_pass,
		      berth_error *reterr);
/* Stores (user, pass) for registry, replacing what was there. */
int fetch_auth_store(const char *path, const char *registry, const char *user, const char *pass,
		     berth_error *reterr);
/* Removes registry's entry; -ENOENT if there was none. */
int fetch_auth_erase(const char *path, const char *registry, berth_error *reterr);

/* ---- Answering challenges ---- */

typedef struct fetch_auth fetch_auth;

/* path: the credentials file (NULL: the default one; read lazily, once per registry). */
int fetch_auth_new(const char *path, fetch_auth **ret);
fetch_auth *fetch_auth_free(fetch_auth *a);
static inline void fetch_auth_freep(fetch_auth **a)
{
	fetch_auth_free(*a);
}
/* Uses (user, pass) for registry instead of the file's (berth login checks them so). */
int fetch_auth_set_credentials(fetch_auth *a, const char *registry, const char *user,
			       const char *pass);
/* 1 if credentials are known for registry (given or stored), else 0. */
int fetch_auth_has_credentials(fetch_auth *a, const char *registry);

/*
 * The Authorization value that answers challenges (from a 401 of registry) for scopes
 * ("repository:library/busybox:pull", ...; NULL-terminated, may be NULL). Prefers Bearer, then
 * Basic. Bearer: a cached token for (realm, service, scopes) if one has not expired, else one
 * fetched from the realm with h (with the stored credentials as Basic auth, if any); refresh
 * drops the cached one first (the registry refused it). -EACCES when the token server or the
 * missing credentials say no, -EPROTONOSUPPORT for no scheme berth speaks.
 */
int fetch_auth_authorize(fetch_auth *a, fetch_http *h, const char *registry,
			 const fetch_auth_challenge *challenges, size_t n_challenges,
			 const char *const *scopes, bool tls_no_verify, bool refresh, char **ret,
			 berth_error *reterr);

/* The clock of the token cache (CLOCK_MONOTONIC seconds); tests may replace it. */
extern int64_t (*fetch_auth_clock)(void);
