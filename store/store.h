/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/store.h: the content-addressed object store.
 *
 * On disk, under ROOT/store/ (DESIGN.md decision 9):
 *
 *     config            "key value" lines: format version, chunker and its sizes, zstd level
 *     lock              flock(): writers hold it shared, gc holds it exclusive
 *     objects/<kind>/<2 hex>/<62 hex>   one file per object, named by the SHA-256 of its content
 *     images/<64 hex>   image records (store/image.h), named by image ID
 *     index/<64 hex>    flattened image indexes (store/index.h), derived, rebuildable
 *     refs              "name:tag sha256:..." lines (store/ref.h)
 *     pins/<owner>      "sha256:..." image IDs that gc must keep (containers, mounts)
 *     tmp/              temp files of writes in progress (same file system, for rename)
 *     quarantine/       objects fsck found corrupt
 *
 * Object file: a 16-byte header, "BRTO", kind (1 byte: the store_kind value), codec (1 byte:
 * 0 raw, 1 zstd), 2 reserved zero bytes, the content size (uint64 little-endian), then the
 * payload. The object's name is the SHA-256 of its *content* (decompressed), so the same bytes
 * have the same name at any compression level and on any host. Kinds are separate name spaces.
 *
 * Invariants:
 * - An object file, once visible under its name, is complete: it was written in full to tmp/ and
 *   renamed into place, so a killed process never leaves a partial object under a real name. It
 *   is durable against power loss once store_sync() has returned (see there). Objects are
 *   immutable.
 * - Writes happen inside store_write_begin()/store_write_end(), which hold `lock` shared; gc holds it
 *   exclusive. So gc never deletes an object that a write in progress has put but not yet made
 *   reachable, and may delete everything in tmp/ (left by crashed writers). Readers take no lock:
 *   an object reachable from an image record or pin is never deleted by gc.
 * - Reads verify: store_object_get() rehashes the content and returns -EBADMSG on mismatch.
 * - A `store` handle may be used from several threads at once.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store/chunker.h"
#include "store/digest.h"
#include "util/buf.h"
#include "util/error.h"

typedef struct store store;

typedef enum store_kind {
	STORE_CHUNK, /* a piece of file content (store/chunker.h) */
	STORE_FILE,  /* chunk list of a multi-chunk file, named by the whole content's digest
		      * (so get() cannot rehash it: it carries its own checksum, see file.c) */
	STORE_TREE,  /* a layer's entries (store/tree.h) */
	STORE_SPLIT, /* a layer's tar skeleton: exact tar reproduction (fetch/pack.h) */
	STORE_BLOB,  /* opaque bytes: OCI image configs, manifests */
	_STORE_KIND_MAX,
} store_kind;

/* "chunk", "file", "tree", "split", "blob": the directory names under objects/. */
const char *store_kind_name(store_kind k);

#define STORE_OPEN_CREATE 0x1u /* create ROOT/store with default config if it does not exist */

/*
 * Largest object content the store writes or reads (a sanity bound, so a corrupt header cannot make
 * a reader allocate gigabytes); chunks are further bounded by STORE_CHUNK_MAX_LIMIT.
 */
#define STORE_OBJECT_MAX_SIZE (64u * 1024 * 1024)

/* Chosen by measurement (bench/store-params): docs/PERFORMANCE.md, "Store parameters". */
#define STORE_DEFAULT_ZSTD_LEVEL 3
#define STORE_DEFAULT_CHUNK_MIN	 (16u * 1024)
#define STORE_DEFAULT_CHUNK_AVG	 (64u * 1024)
#define STORE_DEFAULT_CHUNK_MAX	 (256u * 1024)

/* Opens the store under `root` (the berth state root, e.g. /var/lib/berth). */
int store_open(const char *root, unsigned flags, store **ret, berth_error *reterr);
store *store_free(store *s);
static inline void store_freep(store **s)
{
	store_free(*s);
}

/* The berth state root and an O_PATH-free directory fd of ROOT/store, owned by the store. */
const char *store_root(const store *s);
int store_dir_fd(const store *s);
const store_chunker_params *store_chunker_params_get(const store *s);
int store_zstd_level(const store *s);

/*
 * Write sessions (see invariants). Nestable per handle (counted); blocking. Returns -errno only if
 * the lock file cannot be opened.
 */
int store_write_begin(store *s);
void store_write_end(store *s);

/*
 * gc only: takes `lock` exclusive, waiting until every write session of every process (and every
 * handle) has ended, and keeps new sessions waiting until store_unlock(). Not nestable; a thread
 * must not call it while it is itself inside a write session (it would wait for itself).
 * Returns -errno if the lock file cannot be opened or locked.
 */
int store_lock_exclusive(store *s);
void store_unlock(store *s);

/*
 * Makes every object put so far durable (syncfs of the store's file system). Object puts rename
 * into place without an fsync each (one fsync per chunk would cap ingest at the disk's fsync
 * rate); the durability point is here, and store_image_create() calls it before it writes the
 * image record, so a record never names an object that a power loss could take back.
 */
int store_sync(store *s);

/*
 * Puts an object whose content is [data, data+len). Writes nothing if it already exists.
 * ret (optional) gets its name. Must be inside a write session. Chooses raw or zstd per object
 * (raw when compression saves less than 1/16).
 */
int store_object_put(store *s, store_kind kind, const void *data, size_t len, store_digest *ret);
/* Same, when the caller has already hashed the content (the chunker path). */
int store_object_put_hashed(store *s, store_kind kind, const void *data, size_t len,
			    const store_digest *digest);
/* 1 if present, 0 if not. */
int store_object_has(store *s, store_kind kind, const store_digest *d);
/* Appends the verified content to out. -ENOENT if absent, -EBADMSG if corrupt. */
int store_object_get(store *s, store_kind kind, const store_digest *d, buf *out);
/* Size on disk (header + payload) and content size; either pointer may be NULL. */
int store_object_stat(store *s, store_kind kind, const store_digest *d, uint64_t *ret_disk,
		      uint64_t *ret_size);
/* Calls cb for every object of a kind; stops and returns cb's value if it is non-zero. */
int store_object_foreach(store *s, store_kind kind,
			 int (*cb)(store *s, const store_digest *d, void *userdata),
			 void *userdata);
/* gc and fsck only: removes an object, or moves it to quarantine/. */
int store_object_remove(store *s, store_kind kind, const store_digest *d);
int store_object_quarantine(store *s, store_kind kind, const store_digest *d);

/* ---- File contents: chunked, deduplicated ---- */

/*
 * A file's content reference, as kept in tree entries. `digest` is the SHA-256 of the whole
 * content. nchunks == 0: empty file; 1: the content is the chunk named `digest`; > 1: the FILE
 * object named `digest` lists the chunks.
 */
typedef struct store_file_ref {
	store_digest digest;
	uint64_t size;
	uint32_t nchunks;
} store_file_ref;

typedef struct store_chunk_ref {
	store_digest digest;
	uint64_t offset; /* within the file */
	uint32_t size;
} store_chunk_ref;

typedef struct store_file_writer store_file_writer;

/* A writer is reusable: after finish() it accepts the next file. Inside a write session. */
int store_file_writer_new(store *s, store_file_writer **ret);
store_file_writer *store_file_writer_free(store_file_writer *w);
static inline void store_file_writer_freep(store_file_writer **w)
{
	store_file_writer_free(*w);
}
int store_file_writer_write(store_file_writer *w, const void *data, size_t len);
int store_file_writer_finish(store_file_writer *w, store_file_ref *ret);
/* Forgets the current file's unwritten state (chunks already put stay, for gc to collect). */
void store_file_writer_reset(store_file_writer *w);

/* The chunk list of a file (nchunks entries, offsets ascending). *ret is malloc()ed. */
int store_file_chunks(store *s, const store_file_ref *f, store_chunk_ref **ret, size_t *ret_n);
/*
 * Streams the whole content to sink in order, verifying every chunk and, at the end, the whole
 * content's digest (-EBADMSG on mismatch). sink returns < 0 to abort with that error.
 */
int store_file_read(store *s, const store_file_ref *f,
		    int (*sink)(void *userdata, const void *data, size_t len), void *userdata);

/* ---- Pins: extra gc roots, one file per owner ---- */

/*
 * Owner names are [A-Za-z0-9._-]+, not starting with '.', not containing ".tmp." (the atomic
 * writer's temp names): -EINVAL otherwise. store_pin_set() writes pins/<owner> atomically and
 * durably, inside a write session of its own, so it never interleaves with gc's exclusive phase;
 * a caller that pins an image it did not just create should check afterwards that the image is
 * still there. Removing an absent pin is not an error.
 */
int store_pin_set(store *s, const char *owner, const store_digest *image_id);
int store_pin_remove(store *s, const char *owner);
/*
 * Calls cb for every pin (gc's extra roots); stops and returns cb's value if it is non-zero.
 * A pin file that cannot be parsed fails the walk with -EBADMSG, so gc never runs with a root
 * it could not read.
 */
int store_pin_foreach(store *s,
		      int (*cb)(store *s, const char *owner, const store_digest *image_id,
				void *userdata),
		      void *userdata);
