/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* launcher/launch-private.h: shared by the files of launcher/ only. */
#pragma once

#include "launcher/launch.h"

/*
 * In the single-threaded shim: starts the container on the mounted `rootfs` and waits for it
 * (this process becomes its lxc monitor). On success *ret_code is the command's exit status or
 * 128+signal; -ECHILD (and reterr naming `log_file`) if lxc refused to start it.
 */
int launch_lxc_run(const launch_spec *spec, const char *lxcpath, const char *rootfs,
		   const char *log_file, int *ret_code, berth_error *reterr);

/*
 * Finds the command as execvp() would inside the root `rootfd` (symlinks, including absolute
 * ones and "..", cannot leave it): a name with a '/' relative to `cwd`, else each directory of
 * the PATH in `env` (LAUNCH_DEFAULT_PATH if none). 0 if some candidate is a regular file the
 * uid/gid may execute; -EACCES if one exists but none is; -ENOENT if there is none.
 */
int launch_resolve_command(int rootfd, const char *cwd, char *const *env, const char *cmd,
			   uid_t uid, gid_t gid);
