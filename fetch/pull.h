/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/pull.h: `berth pull`: an image from a registry into the store.
 *
 * The order of work, and what each step guarantees:
 *   1. the manifest the reference names is fetched (from a mirror first, if one is configured
 *      and has it) with an explicit Accept list; its bytes must hash to the digest asked for, or
 *      to the registry's Docker-Content-Digest. An index is narrowed to one platform (this
 *      machine's, or opts->platform), whose manifest is fetched by digest.
 *   2. if an image with the manifest's config digest is in the store, nothing is downloaded;
 *      else the config blob is fetched and verified.
 *   3. each layer whose DiffID some image in the store already has is reused as it is (its
 *      tree and split); the others are downloaded, opts->parallel at a time, each streamed
 *      through a pipe into fetch_unpack_fd() as it arrives: decompressed, hashed (blob digest
 *      and DiffID both checked) and ingested in one pass. A cut connection resumes with Range.
 *   4. only when every layer is in, the image record is created; then the ref.
 * The store write session held throughout keeps gc out, so a failed pull leaves no image and no
 * ref, only unreachable objects for gc. Objects are never half-visible (store/store.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "fetch/auth.h"
#include "fetch/oci.h"
#include "fetch/reference.h"
#include "fetch/registry.h"
#include "store/store.h"
#include "util/error.h"

typedef struct fetch_pull_opts {
	const fetch_registries *registries; /* NULL: defaults (no mirrors, loopback insecure) */
	fetch_auth *auth;		    /* NULL: anonymous */
	const char *platform;		    /* "os/arch[/variant]"; NULL: this machine's */
	unsigned parallel;		    /* layers downloaded at once; 0: 3 */
	fetch_progress_fn progress;	    /* may be NULL */
	void *userdata;
} fetch_pull_opts;

typedef struct fetch_pull_result {
	store_digest id;     /* the image (its config digest) */
	store_digest digest; /* of the manifest or index the reference named */
	char *name;	     /* the store name now pointing at the image; NULL for name@digest */
	bool downloaded;     /* false: the image was in the store already */
	bool ref_changed;    /* name pointed at another image, or at none, before */
	size_t n_layers, n_reused; /* layers of the image, and of those already in the store */
	uint64_t bytes;		   /* blob bytes downloaded */
	char **warnings;	   /* NULL-terminated, may be NULL: for the user */
} fetch_pull_result;

void fetch_pull_result_done(fetch_pull_result *r);

int fetch_pull(store *s, const fetch_reference *ref, const fetch_pull_opts *opts,
	       fetch_pull_result *ret, berth_error *reterr);

/*
 * "linux/arm64/v8" -> a platform (architecture aliases such as x86_64 and aarch64 normalised).
 * -EINVAL if malformed. Free with fetch_platform_done().
 */
int fetch_platform_parse(const char *s, fetch_oci_platform *ret);
void fetch_platform_done(fetch_oci_platform *p);
/*
 * The descriptor of idx for platform want (NULL: this machine), skipping entries that are not
 * images; NULL if none.
 */
const fetch_oci_descriptor *fetch_platform_select(const fetch_oci_index *idx,
						  const fetch_oci_platform *want);
