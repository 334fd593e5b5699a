/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/mount-state.h: the record of a `berth mount`, shared by `mount` and `umount`.
 *
 * ROOT/mounts/<id>/, id = the first 16 hex of SHA-256(absolute mount point), holds `state`
 * ("key value" lines: image, mountpoint, pid, ephemeral), the server's `log`, and unless
 * --upper was given the upper/ and work/ directories, which die with the mount. The image is
 * pinned under the owner "mount-<id>" while the record exists.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "store/digest.h"
#include "store/store.h"

typedef struct cli_mount_state {
	char *dir;	  /* ROOT/mounts/<id> */
	char *mountpoint; /* absolute */
	char *upper, *work;
	char *state_file, *log_file;
	char pin[32];	/* "mount-<id>" */
	bool ephemeral; /* upper/ and work/ are under dir */
	store_digest image;
	pid_t pid; /* the server, 0 if unknown */
} cli_mount_state;

/* For a new mount: computes the paths and creates ROOT/mounts/<id>/. -EBUSY if a server for
 * that mount point is alive. upper/work may be NULL (defaults). */
int cli_mount_state_init(const char *root, const char *mountpoint, const char *upper,
			 const char *work, cli_mount_state *ret);
/* For umount: the paths, and the recorded pid/image if the state file exists (-ENOENT if not). */
int cli_mount_state_load(const char *root, const char *mountpoint, cli_mount_state *ret);
/* Drops the pin and removes ROOT/mounts/<id> (with the default upper/work). Idempotent. */
void cli_mount_state_cleanup(store *s, const cli_mount_state *st);
void cli_mount_state_done(cli_mount_state *st);
/* The absolute form of a mount point, resolving only its parent (a dead mount cannot be stat()ed). */
int cli_mount_point_abs(const char *path, char **ret);
