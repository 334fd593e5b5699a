/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/image.h: images: an OCI config plus ordered layers, identified by the config's digest.
 *
 * The image ID is the SHA-256 of the OCI image config JSON, byte for byte as it was received or
 * generated, exactly as in Docker. The store keeps the config as a STORE_BLOB and treats it as
 * opaque bytes (fetch/oci.h parses it); what the store needs of each layer is in store_layer.
 *
 * Image record, images/<id hex>, text, written atomically:
 *
 *     berth-image 1
 *     config sha256:<hex> <size>
 *     layer <tree digest> <diff_id> <split digest or -> <uncompressed tar size>
 *     ...
 *
 * Invariants: a record is written only after everything it names (config blob, trees, splits and
 * through them files and chunks) is in the store, and after the image's index is built. Deleting
 * a record (rmi) makes its objects unreachable for gc unless another image or a pin needs them.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct store_layer {
	store_digest tree;    /* STORE_TREE */
	store_digest diff_id; /* SHA-256 of the uncompressed layer tar, as in the config's rootfs */
	bool has_split;	      /* a STORE_SPLIT reproduces the original tar byte for byte */
	store_digest split;
	uint64_t tar_size; /* bytes of the uncompressed tar */
} store_layer;

typedef struct store_image {
	store_digest id; /* == config digest */
	uint64_t config_size;
	size_t n_layers;
	store_layer *layers;
} store_image;

/*
 * Creates an image from a config (bytes as they are) and its layers, bottom first. Puts the
 * config blob, builds the index, then writes the record. Inside a write session. Creating an image
 * that exists already succeeds and changes nothing.
 */
int store_image_create(store *s, const void *config, size_t config_len, const store_layer *layers,
		       size_t n_layers, store_digest *ret_id, berth_error *reterr);
int store_image_load(store *s, const store_digest *id, store_image **ret);
store_image *store_image_free(store_image *img);
static inline void store_image_freep(store_image **i)
{
	store_image_free(*i);
}
/* Reads the config blob (verified) into out. */
int store_image_config(store *s, const store_image *img, buf *out);
/* Resolves a hex prefix (>= 4 chars, optional "sha256:") to an image ID; -ENOENT, -ENOTUNIQ. */
int store_image_resolve_prefix(store *s, const char *prefix, store_digest *ret);
int store_image_exists(store *s, const store_digest *id);
/* Removes the record and its index; objects stay until gc. */
int store_image_remove(store *s, const store_digest *id);
int store_image_foreach(store *s, int (*cb)(store *s, const store_digest *id, void *userdata),
			void *userdata);
/* Sum of the content sizes of the image's regular files, as the index counts them. */
int store_image_content_size(store *s, const store_digest *id, uint64_t *ret);
