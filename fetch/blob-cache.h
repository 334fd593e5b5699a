/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/blob-cache.h: which registry blobs hold which layers, so that push can skip work.
 *
 * Pull and push record, per layer, (DiffID, blob digest, size, media type, registry host,
 * repository) in ROOT/blob-sources, one line each, appended. Push reads it before compressing a
 * layer: if the target registry has a blob of that layer (HEAD in the target repository), or can
 * mount one from another of its repositories, the layer needs neither compression nor upload.
 * Docker keeps the same kind of record for the same reason.
 *
 * It is a cache: every use is checked against the registry, so a stale or lost line costs time,
 * never correctness. The file is started over when it passes 4 MiB; lines that do not parse are
 * skipped. Appends are single write()s of one line to an O_APPEND file, so concurrent berth
 * processes do not interleave within a line.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store/digest.h"

typedef struct fetch_blob_source {
	store_digest diff_id;
	store_digest blob;
	uint64_t size;
	char *media_type;
	char *host;	  /* API host[:port] */
	char *repository; /* "library/busybox" */
} fetch_blob_source;

/* Appends a record under the state root. Best effort for callers: a failure loses only time. */
int fetch_blob_cache_add(const char *root, const fetch_blob_source *src);
/* The records of diff_id at host, newest first, one per (blob, repository). */
int fetch_blob_cache_find(const char *root, const store_digest *diff_id, const char *host,
			  fetch_blob_source **ret, size_t *ret_n);
void fetch_blob_sources_free(fetch_blob_source *v, size_t n);
