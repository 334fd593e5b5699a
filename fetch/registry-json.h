/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/registry-json.h: the JSON documents of the registry protocol that are not image documents
 * (those are fetch/oci.h's): token server answers, registry error bodies, and the credentials
 * file. fetch/registry-json.c is, with fetch/oci.c, the only file of fetch/ that includes
 * jansson.h. Every parser here takes bytes from outside (a registry, a token server, a file a
 * user may have edited) and refuses what it does not understand with -EBADMSG.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

/*
 * A token server's answer (distribution's token spec): {"token": T} or {"access_token": T}
 * (OAuth2), optional "expires_in" seconds (default 60, the spec's minimum). *ret_token owned.
 */
int fetch_rjson_token_parse(const void *data, size_t len, char **ret_token, int64_t *ret_expires_in,
			    berth_error *reterr);

/*
 * A registry's error body {"errors": [{"code": C, "message": M, "detail": ...}, ...]} as
 * "C: M; C2: M2" for a person; detail is left out. NULL if the body has no such errors.
 */
char *fetch_rjson_errors_message(const void *data, size_t len);

/*
 * Credentials files in Docker's config.json shape, {"auths": {"KEY": {"auth": "base64(user:pass)"}}},
 * which is also podman's auth.json: one parser reads both. Other keys of the file (and of each
 * entry) are kept on rewrite.
 */
typedef struct fetch_rjson_auth_entry {
	char *key;  /* as written: "127.0.0.1:5000", "https://index.docker.io/v1/" */
	char *auth; /* base64 of "user:password"; NULL if the entry has none */
} fetch_rjson_auth_entry;

/* Empty input is an empty file (no entries). */
int fetch_rjson_auths_parse(const void *data, size_t len, fetch_rjson_auth_entry **ret,
			    size_t *ret_n, berth_error *reterr);
void fetch_rjson_auths_free(fetch_rjson_auth_entry *e, size_t n);
/*
 * The file's new content with auths[key] set to {"auth": auth} (auth NULL: the entry removed),
 * other content kept; indented as Docker writes it.
 */
int fetch_rjson_auths_update(const void *data, size_t len, const char *key, const char *auth,
			     buf *out, berth_error *reterr);
