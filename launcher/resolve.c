/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * launcher/resolve.c: the command lookup behind exit codes 126 and 127. liblxc reports every
 * exec failure as status 255, so the shim looks the command up itself before the start, in the
 * mounted root, with openat2(RESOLVE_IN_ROOT) so that an image's symlinks resolve as they will
 * inside the container and never reach the host's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launcher/launch-private.h"

static int open_in_root(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* The permission check execve() makes, for a uid without capabilities except root's. */
static bool may_execute(const struct stat *st, uid_t uid, gid_t gid)
{
	if (!S_ISREG(st->st_mode))
		return false;
	if (uid == 0)
		return st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH);
	if (st->st_uid == uid)
		return st->st_mode & S_IXUSR;
	if (st->st_gid == gid)
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

/* 0 executable, -EACCES present but not executable, -ENOENT (or another error) absent. */
static int check_candidate(int rootfd, const char *path, uid_t uid, gid_t gid)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	return may_execute(&st, uid, gid) ? 0 : -EACCES;
}

static const char *env_path(char *const *env)
{
	for (char *const *e = env; e && *e; e++)
		if (strneq(*e, "PATH=", 5))
			return *e + 5;
	return LAUNCH_DEFAULT_PATH;
}

int launch_resolve_command(int rootfd, const char *cwd, char *const *env, const char *cmd,
			   uid_t uid, gid_t gid)
{
	char path[PATH_MAX];
	const char *dir, *end;
	bool denied = false;
	int r;

	if (!cmd || !*cmd)
		return -ENOENT;
	if (strchr(cmd, '/')) {
		if (snprintf(path, sizeof(path), "%s/%s", cmd[0] == '/' ? "" : (cwd ? cwd : ""),
			     cmd) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		return check_candidate(rootfd, path, uid, gid);
	}
	for (dir = env_path(env);; dir = end + 1) {
		end = strchrnul(dir, ':');
		/* an empty PATH element means the working directory, as in execvp() */
		const char *d = end == dir ? (cwd ? cwd : "/") : dir;
		int len = end == dir ? (int)strlen(d) : (int)(end - dir);

		if (snprintf(path, sizeof(path), "%.*s/%s", len, d, cmd) < (int)sizeof(path)) {
			r = check_candidate(rootfd, path, uid, gid);
			if (r == 0)
				return 0;
			denied = denied || r == -EACCES;
		}
		if (!*end)
			break;
	}
	return denied ? -EACCES : -ENOENT;
}
