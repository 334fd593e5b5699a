/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/registry.h: which registries to talk to and how (mirrors, plain HTTP), and an
 * authenticated session with one registry's repository, shared by pull and push.
 *
 * The registries configuration is read from ROOT/registries.conf, or /etc/berth/registries.conf
 * when that does not exist. Lines, '#' starts a comment:
 *
 *     insecure HOST[:PORT]...        plain HTTP, or HTTPS without certificate checks
 *     mirror DOMAIN [http[s]://]HOST[:PORT]   pull DOMAIN's images from there first
 *
 * As in Docker, loopback registries (127.0.0.0/8, [::1], localhost) are insecure without being
 * listed. For an insecure registry HTTPS is tried first (without verification) and plain HTTP if
 * that fails, once, when the session opens. `--tls-verify=false` makes every registry insecure,
 * `--tls-verify=true` none, loopback included.
 *
 * A session (fetch_registry) knows the registry's base URL and its authentication challenge
 * (from the /v2/ ping, or from the first 401), and adds the Authorization to each request: a
 * 401 answer is retried with a fresh answer to the new challenge, then reported as -EACCES.
 * Sessions are shared by the threads of one pull or push; each thread brings its own fetch_http.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/auth.h"
#include "fetch/http.h"
#include "store/digest.h"
#include "util/error.h"

/* ---- Configuration ---- */

typedef struct fetch_registries fetch_registries;

int fetch_registries_new(fetch_registries **ret);
fetch_registries *fetch_registries_free(fetch_registries *r);
static inline void fetch_registries_freep(fetch_registries **r)
{
	fetch_registries_free(*r);
}
/* Reads ROOT/registries.conf, else /etc/berth/registries.conf; neither existing is fine. */
int fetch_registries_load(fetch_registries *r, const char *root, berth_error *reterr);
/* Parses a configuration text; origin names it in errors ("registries.conf:3: ..."). */
int fetch_registries_parse(fetch_registries *r, const char *text, const char *origin,
			   berth_error *reterr);
int fetch_registries_add_insecure(fetch_registries *r, const char *host);
/* -1: per registry (the default), 0: every registry insecure, 1: none. */
void fetch_registries_set_tls_verify(fetch_registries *r, int verify);
bool fetch_registries_is_insecure(const fetch_registries *r, const char *host);

typedef struct fetch_endpoint {
	char *host;	    /* API host[:port]: "registry-1.docker.io", "127.0.0.1:5000" */
	char *auth_name;    /* whose credentials: the reference's domain, or the mirror's host */
	const char *scheme; /* "http" or "https" if fixed (a mirror URL said), else NULL */
	bool insecure;
	bool mirror;
} fetch_endpoint;

/* The endpoints for domain, in order: for pulls its mirrors first, then the domain's own. */
int fetch_registries_endpoints(const fetch_registries *r, const char *domain, bool pull,
			       fetch_endpoint **ret, size_t *ret_n);
void fetch_endpoints_free(fetch_endpoint *e, size_t n);

/* ---- Sessions ---- */

typedef struct fetch_registry fetch_registry;

/*
 * Pings ep's /v2/ (choosing the scheme) and returns a session for repository (a reference's
 * path, "library/busybox"; NULL: none, for login), asking for push access too if push. h is
 * used for the ping.
 */
int fetch_registry_open(const fetch_endpoint *ep, const char *repository, fetch_auth *auth,
			bool push, fetch_http *h, fetch_registry **ret, berth_error *reterr);
fetch_registry *fetch_registry_free(fetch_registry *reg);
static inline void fetch_registry_freep(fetch_registry **reg)
{
	fetch_registry_free(*reg);
}
/* "https://127.0.0.1:5000" */
const char *fetch_registry_base_url(const fetch_registry *reg);
const char *fetch_registry_repository(const fetch_registry *reg);
const fetch_endpoint *fetch_registry_endpoint(const fetch_registry *reg);
/* Adds a token scope ("repository:other/repo:pull", for cross-repository mounts). */
int fetch_registry_add_scope(fetch_registry *reg, const char *scope);

/*
 * Makes req with authentication. req->url is a path ("/v2/library/busybox/manifests/latest",
 * resolved against the base URL) or an absolute URL (an upload's Location). Any status but 401
 * (and 403 after a fresh token) is the caller's to judge; those are -EACCES with the registry's
 * message in reterr.
 */
int fetch_registry_do(fetch_registry *reg, fetch_http *h, const fetch_http_request *req,
		      fetch_http_response *ret, berth_error *reterr);

/*
 * Checks that the registry of domain (its own endpoint, not a mirror) accepts (user, pass):
 * GET /v2/ answered with them. 0 if it does, or if it asks for no authentication at all;
 * -EACCES with the registry's or the token server's reason if not.
 */
int fetch_registry_check_login(const fetch_registries *conf, const char *domain, const char *user,
			       const char *pass, berth_error *reterr);

/*
 * Describes an unexpected answer in reterr ("WHAT: HTTP 404: MANIFEST_UNKNOWN: manifest
 * unknown") and returns the matching errno: -ENOENT (404), -EACCES (401, 403), -EAGAIN (429),
 * -EIO (5xx), -EPROTO (others).
 */
int fetch_registry_answer_error(const fetch_http_response *resp, const char *what,
				berth_error *reterr);

/* ---- Progress of blob transfers, shared by pull and push ---- */

typedef enum fetch_blob_state {
	FETCH_BLOB_WAITING,   /* queued behind other transfers */
	FETCH_BLOB_EXISTS,    /* pull: layer already in the store; push: blob already there */
	FETCH_BLOB_PREPARING, /* push: compressing the layer */
	FETCH_BLOB_TRANSFER,  /* bytes moving: current of total */
	FETCH_BLOB_RETRYING,  /* detail says why */
	FETCH_BLOB_MOUNTED,   /* push: mounted from the repository in detail */
	FETCH_BLOB_DONE,      /* pull: layer ingested; push: blob uploaded */
} fetch_blob_state;

typedef struct fetch_blob_event {
	fetch_blob_state state;
	size_t index;	     /* layer index, bottom first */
	store_digest digest; /* the blob's (pull) or the layer's DiffID (push, before packing) */
	uint64_t current, total;
	const char *detail;
} fetch_blob_event;

/* Called from worker threads, one call at a time (pull and push serialise them). */
typedef void (*fetch_progress_fn)(void *userdata, const fetch_blob_event *e);
