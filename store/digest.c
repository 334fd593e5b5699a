/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/digest.c: SHA-256 through OpenSSL's EVP interface, which picks the SHA-NI / AVX2
 * implementation at run time (well over 1 GB/s here, faster than zstd compresses).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>

#include <openssl/evp.h>

#include "store/digest.h"
#include "util/fileio.h"
#include "util/macro.h"

struct store_hasher {
	EVP_MD_CTX *ctx;
};

/*
 * EVP_sha256() makes OpenSSL 3 look the implementation up again on every init, and
 * EVP_Digest() allocates a context per call: ~1 us each, as much as hashing 1 KiB. Most objects
 * are small files, so the algorithm is fetched once and one-shot hashing reuses a per-thread
 * context (freed at thread exit through a pthread key, like compress.c's zstd contexts).
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static __thread EVP_MD_CTX *tls_ctx;
static pthread_key_t ctx_key;

static void ctx_release(void *p)
{
	EVP_MD_CTX_free(p);
	tls_ctx = NULL;
}

static void sha256_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha256_md || pthread_key_create(&ctx_key, ctx_release) != 0)
		abort();
}

static const EVP_MD *sha256(void)
{
	pthread_once(&sha256_once, sha256_init);
	return sha256_md;
}

static EVP_MD_CTX *thread_ctx(void)
{
	const EVP_MD *md = sha256();

	if (_unlikely_(!tls_ctx)) {
		tls_ctx = EVP_MD_CTX_new();
		if (!tls_ctx)
			abort();
		pthread_setspecific(ctx_key, tls_ctx);
	}
	if (EVP_DigestInit_ex(tls_ctx, md, NULL) != 1)
		abort();
	return tls_ctx;
}

int store_digest_parse(const char *s, store_digest *ret)
{
	store_digest d;

	if (!s)
		return -EINVAL;
	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	if (strlen(s) != STORE_DIGEST_HEX_LEN)
		return -EINVAL;
	if (hex_decode(s, d.b, STORE_DIGEST_LEN) < 0)
		return -EINVAL;
	*ret = d;
	return 0;
}

void store_digest_hex(const store_digest *d, char *out)
{
	hex_encode(d->b, STORE_DIGEST_LEN, out);
}

void store_digest_str(const store_digest *d, char *out)
{
	memcpy(out, "sha256:", 7);
	hex_encode(d->b, STORE_DIGEST_LEN, out + 7);
}

void store_digest_buf(const void *data, size_t len, store_digest *ret)
{
	EVP_MD_CTX *c = thread_ctx();
	unsigned int n = 0;

	/* SHA-256 only fails on allocation failure or a broken provider: nothing to recover. */
	if (EVP_DigestUpdate(c, data, len) != 1 || EVP_DigestFinal_ex(c, ret->b, &n) != 1 ||
	    n != STORE_DIGEST_LEN)
		abort();
}

int store_hasher_new(store_hasher **ret)
{
	store_hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, sha256(), NULL) != 1) {
		store_hasher_free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

store_hasher *store_hasher_free(store_hasher *h)
{
	if (!h)
		return NULL;
	EVP_MD_CTX_free(h->ctx);
	free(h);
	return NULL;
}

void store_hasher_update(store_hasher *h, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (EVP_DigestUpdate(h->ctx, data, len) != 1)
		abort();
}

void store_hasher_final(store_hasher *h, store_digest *ret)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, ret->b, &n) != 1 || n != STORE_DIGEST_LEN)
		abort();
	/* Re-arm for the next content: the header promises final() leaves it reusable. */
	if (EVP_DigestInit_ex(h->ctx, sha256(), NULL) != 1)
		abort();
}

void store_hasher_peek(const store_hasher *h, store_digest *ret)
{
	EVP_MD_CTX *c = thread_ctx();
	unsigned int n = 0;

	if (EVP_MD_CTX_copy_ex(c, h->ctx) != 1 || EVP_DigestFinal_ex(c, ret->b, &n) != 1 ||
	    n != STORE_DIGEST_LEN)
		abort();
}
