/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * launcher/launch.h: a run spec -> a container run to completion under liblxc, on the image's
 * union mounted by fs/.
 *
 * launch_run() forks a per-container shim (DESIGN.md decision 6). The shim is single-threaded,
 * as liblxc's non-daemonized start requires, so the multi-threaded FUSE server cannot live in it:
 * the shim forks the server as a process of its own, waits for its ready byte, checks that the
 * command exists and is executable in the mounted root, becomes the lxc monitor
 * (want_daemonize(false), start(c, 1, argv)), and after the container has exited unmounts the
 * root and reaps the server. `lxc/lxccontainer.h` is included only by launcher/lxc.c.
 *
 * State directory (created if missing; the caller owns and removes it):
 *   upper/ work/   the container's writable layer (fs/fs.h); kept after exit (commit, diff)
 *   rootfs/        the union's mount point while the container runs
 *   lxc/           liblxc's lxcpath (nothing is written there; it must exist)
 *   lxc.log        liblxc's log (WARN and above): the detail behind exit code 125
 *   fs.log         the FUSE server's stderr
 *
 * cgroups: /sys/fs/cgroup/<ctrl>/berth/<id> (container) and berth.mon/<id> (monitor); liblxc
 * removes both leaves when the container exits.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "store/digest.h"
#include "store/store.h"
#include "util/error.h"

/* Exit codes as Docker reports them, beside the command's own status and 128+signal. */
#define LAUNCH_EXIT_FAILED	   125 /* berth or lxc could not run the container */
#define LAUNCH_EXIT_NOT_EXECUTABLE 126 /* found, but not an executable regular file */
#define LAUNCH_EXIT_NOT_FOUND	   127 /* no such file, or not in the container's PATH */

#define LAUNCH_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct launch_spec {
	store_digest image;    /* the image whose union is the root */
	const char *id;	       /* container ID: [A-Za-z0-9_.-], 1..64: lxc name and cgroup leaf */
	const char *state_dir; /* see above */
	char *const *argv;     /* the command, NULL-terminated, argv[0] non-empty */
	char *const *env;      /* "NAME=VALUE", NULL-terminated, may be NULL; PATH is added if
				  missing (LAUNCH_DEFAULT_PATH) */
	const char *cwd;       /* absolute path in the container; NULL: "/"; must exist */
	uid_t uid;	       /* the command's user and group */
	gid_t gid;
	const char *hostname; /* NULL: the first 12 characters of id */
	/*
	 * Terminal: if pty_fd >= 0 it is the slave of a pty the caller holds the master of; the
	 * shim makes it its controlling terminal and stdio (the container then gets a pty of its
	 * own, proxied by lxc; window-size changes on the master reach it). Otherwise the
	 * command's stdin/stdout/stderr are these fds as they are (pipes, files, a terminal),
	 * -1 meaning /dev/null.
	 */
	int pty_fd;
	int stdin_fd;
	int stdout_fd;
	int stderr_fd;
} launch_spec;

/*
 * Runs the container to completion. On success (0), *ret_exit_code is the command's exit status,
 * 128+signal if it was killed, 126/127 if it could not be executed (a message went to its
 * stderr, as a shell prints it). Failures of berth or lxc (the image, the mount, lxc's start):
 * a negative errno and reterr (which names lxc.log when lxc refused); a caller reporting Docker
 * codes maps them to LAUNCH_EXIT_FAILED. The image is pinned (owner "container-<id>") while the
 * container runs.
 */
int launch_run(store *s, const launch_spec *spec, int *ret_exit_code, berth_error *reterr);

/* Whether a container ID is acceptable (charset and length above). */
bool launch_id_valid(const char *id);
