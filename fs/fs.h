/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/fs.h: berth's FUSE union filesystem: an image's flattened index (read-only, from the store)
 * under a writable upper directory, served through the libfuse3 low-level API, multi-threaded.
 * It replaces AUFS/overlayfs (DESIGN.md decisions 3, 4, 10). `fuse_lowlevel.h` is included only
 * by fs/ops.c.
 *
 * Layers of the union, top first:
 *   upper/   a plain host directory in the kernel overlayfs format: whiteouts are 0/0 character
 *            devices, an opaque directory has xattr trusted.overlay.opaque="y", a renamed lower
 *            directory has trusted.overlay.redirect="/old/path" (absolute, in the union), so that
 *            commit walks only upper/ and other tools understand it.
 *   lower    the image index (store/index.h): immutable; entry and attr timeouts are long and the
 *            page cache of lower files is kept.
 *   work/    a directory on the same file system as upper/, where copy-ups are assembled and then
 *            renamed into upper/ (a crash never leaves a half-copied file visible).
 *
 * Lower file data is served from a content cache (ROOT/cache/<content hex>, plain bytes, shared
 * by every image and container; filled on first open from the store's chunks, verified, renamed
 * into place) and read by fd, through one interface (fs/lower.h) so that FUSE passthrough can
 * replace it later.
 *
 * Inode numbers (what stat and readdir show): a lower entry's number is its index ino; an upper
 * entry that was copied up keeps the lower number (recorded in xattr trusted.berth.ino on the upper
 * file); an entry created in upper gets (1 << 62) | its upper st_ino. Stable across remounts and
 * across copy-up. d_ino in readdir equals st_ino. trusted.berth.ino also names the lower
 * directory whose entries a copied-up directory merges (wherever it was renamed to; the redirect
 * xattr is written for other tools) and the lower data of a metacopy file. Copying up one name of
 * a hard-linked lower file links its other visible names to the copy, so they stay one inode
 * (overlayfs without index=on breaks them apart).
 *
 * Cache files are not fsynced one by one: a cache that records another boot id is discarded when
 * a filesystem opens it (fs/lower.c).
 *
 * Invariants: every fuse_reply_entry/fuse_reply_create adds one lookup to the inode it names and
 * forget removes it; an inode is freed when its lookup count reaches zero; the lock protecting
 * each field of the inode table is written beside the field. No global lock on the read path.
 */
#pragma once

#include <stdbool.h>

#include "store/digest.h"
#include "store/store.h"
#include "util/error.h"

typedef struct fs fs;

typedef struct fs_options {
	store_digest image; /* the image whose index is the lower layer */
	const char *upper;  /* writable upper directory (created if missing) */
	const char *work;   /* work directory on the same file system as upper (created) */
	const char *cache;  /* lower content cache directory (created); NULL: ROOT/cache */
	unsigned threads;   /* FUSE worker threads; 0: default */
	bool debug;	    /* libfuse debug output */
} fs_options;

/* Opens the image's index and the directories; mounts nothing yet. */
int fs_new(store *s, const fs_options *opts, fs **ret, berth_error *reterr);
fs *fs_free(fs *f);
static inline void fs_freep(fs **f)
{
	fs_free(*f);
}

/*
 * Mounts the union on `mountpoint` with allow_other, default_permissions, suid, dev (containers
 * run setuid binaries and use device nodes) and serves it until it is unmounted or fs_stop() is
 * called; then unmounts. If `ready_fd` >= 0, writes one byte to it once the mount is visible and
 * closes it (the caller waits on it instead of polling).
 */
int fs_serve(fs *f, const char *mountpoint, int ready_fd, berth_error *reterr);
/* Asks fs_serve() to return (async-signal-safe). */
void fs_stop(fs *f);

/* Unmounts a berth mount, including a dead one whose server has gone (ENOTCONN). */
int fs_unmount(const char *mountpoint, berth_error *reterr);
