/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/push.h: `berth push`: an image from the store to a registry.
 *
 * Per layer, the cheapest of: the registry has a blob of it already (HEAD in the target
 * repository, for the blobs fetch/blob-cache.h remembers for this registry); it can mount one
 * from another of its repositories (cross-repository mount, POST ?mount=&from=); else the layer
 * is packed by fetch/pack.h (gzip, zstd or plain; deterministic, and byte-exact for layers that
 * came in as tars, so the DiffID is kept) into a temp file under ROOT/store/tmp/ and uploaded:
 * POST, then one PUT ?digest= (monolithic), or PATCH chunks and a closing PUT for blobs larger
 * than the chunk size. Layers go opts->parallel at a time. Then the config blob, then the OCI
 * manifest (PUT with its media type), last, so a tag never names an incomplete image.
 *
 * The image's config is pushed byte for byte (the image ID is kept), unless a layer without a
 * split packs to another DiffID than recorded: then its diff_ids are rewritten (as save does).
 * A store write session is held throughout (gc keeps out of tmp/ and the image's objects).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/auth.h"
#include "fetch/pack.h"
#include "fetch/reference.h"
#include "fetch/registry.h"
#include "store/store.h"
#include "util/error.h"

typedef struct fetch_push_opts {
	const fetch_registries *registries; /* NULL: defaults */
	fetch_auth *auth;		    /* NULL: credentials from the default file */
	fetch_compression compression;	    /* of layers that must be packed (NONE: plain tar) */
	unsigned parallel;		    /* layers at once; 0: 3 */
	/* Blobs over this go up in PATCH chunks of this size; 0: $BERTH_PUSH_CHUNK_SIZE, else
	 * 64 MiB. */
	uint64_t chunk_size;
	fetch_progress_fn progress; /* events carry each layer's DiffID; may be NULL */
	void *userdata;
} fetch_push_opts;

typedef struct fetch_push_result {
	store_digest digest;	    /* of the manifest pushed */
	uint64_t size;		    /* of the manifest */
	store_digest config_digest; /* the image ID, unless diff_ids had to be rewritten */
	size_t n_layers, n_existing, n_mounted;
	uint64_t bytes; /* blob bytes uploaded */
} fetch_push_result;

/* Pushes image id as dst (which must have a tag, no digest). */
int fetch_push(store *s, const store_digest *id, const fetch_reference *dst,
	       const fetch_push_opts *opts, fetch_push_result *ret, berth_error *reterr);
