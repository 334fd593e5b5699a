/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/compress.c: one zstd frame per object, with per-thread cached contexts.
 *
 * A context costs hundreds of KiB and a malloc/free per chunk would dominate small objects, so
 * each thread keeps one compression and one decompression context in TLS. A pthread key whose
 * value points at the TLS slot frees them when the thread exits (otherwise they would leak, and
 * LeakSanitizer would say so).
 */
#include <errno.h>
#include <pthread.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "store/compress.h"
#include "util/macro.h"

struct zctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

static __thread struct zctx tls_ctx;
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void zctx_release(void *p)
{
	struct zctx *z = p;

	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	z->c = NULL;
	z->d = NULL;
}

static void ctx_key_init(void)
{
	if (pthread_key_create(&ctx_key, zctx_release) != 0)
		abort();
}

static void zctx_register(void)
{
	pthread_once(&ctx_once, ctx_key_init);
	pthread_setspecific(ctx_key, &tls_ctx);
}

static ZSTD_CCtx *cctx_get(void)
{
	if (_unlikely_(!tls_ctx.c)) {
		tls_ctx.c = ZSTD_createCCtx();
		if (tls_ctx.c)
			zctx_register();
	}
	return tls_ctx.c;
}

static ZSTD_DCtx *dctx_get(void)
{
	if (_unlikely_(!tls_ctx.d)) {
		tls_ctx.d = ZSTD_createDCtx();
		if (tls_ctx.d)
			zctx_register();
	}
	return tls_ctx.d;
}

int store_compress(const void *in, size_t len, int level, buf *out)
{
	ZSTD_CCtx *c = cctx_get();
	size_t bound = ZSTD_compressBound(len), n;
	int r;

	if (!c)
		return -ENOMEM;
	if (ZSTD_isError(bound))
		return -EFBIG;
	r = buf_reserve(out, bound);
	if (r < 0)
		return r;
	/* The simple API writes the content size into the frame header (contentSizeFlag = 1). */
	n = ZSTD_compressCCtx(c, out->data + out->len, bound, in, len, level);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? -ENOMEM : -EINVAL;
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

int store_decompress(const void *in, size_t len, size_t expected, buf *out)
{
	ZSTD_DCtx *d = dctx_get();
	unsigned long long declared;
	size_t n;
	int r;

	if (!d)
		return -ENOMEM;
	/* Exactly one frame, which must declare exactly the size we expect. */
	declared = ZSTD_getFrameContentSize(in, len);
	if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR ||
	    declared != (unsigned long long)expected)
		return -EBADMSG;
	n = ZSTD_findFrameCompressedSize(in, len);
	if (ZSTD_isError(n) || n != len)
		return -EBADMSG;
	r = buf_reserve(out, expected);
	if (r < 0)
		return r;
	/* dst capacity == expected: a frame that would produce more fails instead of growing. */
	n = ZSTD_decompressDCtx(d, out->data + out->len, expected, in, len);
	if (ZSTD_isError(n) || n != expected) {
		out->data[out->len] = '\0';
		return ZSTD_isError(n) && ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation
			       ? -ENOMEM
			       : -EBADMSG;
	}
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

size_t store_compress_bound(size_t len)
{
	return ZSTD_compressBound(len);
}
