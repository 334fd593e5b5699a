/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/digest.h: SHA-256 content addresses (OpenSSL libcrypto).
 *
 * Every identity in the store is a SHA-256 digest (DESIGN.md decision 1): chunks, files, trees,
 * config blobs, images. A digest is a plain 32-byte value type, compared with memcmp. Its text
 * form is "sha256:<64 lowercase hex>", the OCI digest form; parsing also accepts the bare hex.
 * XXH3 is never used as an identity.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define STORE_DIGEST_LEN     32
#define STORE_DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define STORE_DIGEST_STR_LEN 72

typedef struct store_digest {
	uint8_t b[STORE_DIGEST_LEN];
} store_digest;

/* Parses "sha256:<64 hex>" or "<64 hex>" (case-insensitive hex). -EINVAL otherwise. */
int store_digest_parse(const char *s, store_digest *ret);
/* out: STORE_DIGEST_HEX_LEN + 1 bytes */
void store_digest_hex(const store_digest *d, char *out);
/* out: STORE_DIGEST_STR_LEN bytes, "sha256:<hex>" */
void store_digest_str(const store_digest *d, char *out);
/* One-shot SHA-256. */
void store_digest_buf(const void *data, size_t len, store_digest *ret);

static inline bool store_digest_eq(const store_digest *a, const store_digest *b)
{
	return memcmp(a->b, b->b, STORE_DIGEST_LEN) == 0;
}

/* Incremental SHA-256. Reusable: final() resets it to the initial state. */
typedef struct store_hasher store_hasher;

int store_hasher_new(store_hasher **ret);
store_hasher *store_hasher_free(store_hasher *h);
void store_hasher_update(store_hasher *h, const void *data, size_t len);
void store_hasher_final(store_hasher *h, store_digest *ret);
/* The digest of the bytes fed so far, leaving h as it is (more updates may follow). */
void store_hasher_peek(const store_hasher *h, store_digest *ret);

static inline void store_hasher_freep(store_hasher **h)
{
	store_hasher_free(*h);
}
