/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli/mount-state.c: the record of a `berth mount` (cli/mount-state.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/mount-state.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/macro.h"

int cli_mount_point_abs(const char *path, char **ret)
{
	_cleanup_free_ char *d = strdup(path), *b = strdup(path);
	char parent[PATH_MAX];
	char *out;

	if (!d || !b)
		return -ENOMEM;
	if (!realpath(dirname(d), parent))
		return negative_errno();
	if (asprintf(&out, "%s/%s", streq(parent, "/") ? "" : parent, basename(b)) < 0)
		return -ENOMEM;
	*ret = out;
	return 0;
}

static int paths(const char *root, const char *mountpoint, cli_mount_state *st)
{
	char hex[STORE_DIGEST_HEX_LEN + 1];
	store_digest d;
	int r;

	r = cli_mount_point_abs(mountpoint, &st->mountpoint);
	if (r < 0)
		return r;
	store_digest_buf(st->mountpoint, strlen(st->mountpoint), &d);
	store_digest_hex(&d, hex);
	hex[16] = '\0';
	snprintf(st->pin, sizeof(st->pin), "mount-%.16s", hex);
	if (asprintf(&st->dir, "%s/mounts/%s", root, hex) < 0 ||
	    asprintf(&st->state_file, "%s/state", st->dir) < 0 ||
	    asprintf(&st->log_file, "%s/log", st->dir) < 0)
		return -ENOMEM;
	return 0;
}

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int cli_mount_state_init(const char *root, const char *mountpoint, const char *upper,
			 const char *work, cli_mount_state *ret)
{
	cli_mount_state st = {}, old = {};
	int r;

	r = paths(root, mountpoint, &st);
	if (r >= 0 && cli_mount_state_load(root, mountpoint, &old) >= 0 && alive(old.pid))
		r = -EBUSY;
	cli_mount_state_done(&old);
	if (r >= 0) {
		st.ephemeral = !upper;
		if (upper) {
			st.upper = realpath(upper, NULL);
			if (!st.upper && errno == ENOENT && mkdir_p(AT_FDCWD, upper, 0755) >= 0)
				st.upper = realpath(upper, NULL);
			if (!st.upper)
				r = negative_errno();
		} else if (asprintf(&st.upper, "%s/upper", st.dir) < 0)
			r = -ENOMEM;
	}
	if (r >= 0 && (work ? !(st.work = strdup(work))
			    : asprintf(&st.work, st.ephemeral ? "%s/work" : "%s.work",
				       st.ephemeral ? st.dir : st.upper) < 0))
		r = -ENOMEM;
	if (r >= 0)
		r = mkdir_p(AT_FDCWD, st.dir, 0700);
	if (r < 0) {
		cli_mount_state_done(&st);
		return r;
	}
	*ret = st;
	return 0;
}

static void parse_line(char *line, cli_mount_state *st)
{
	char *v = strchr(line, ' ');

	if (!v)
		return;
	*v++ = '\0';
	if (streq(line, "pid"))
		st->pid = (pid_t)atoi(v);
	else if (streq(line, "ephemeral"))
		st->ephemeral = atoi(v) != 0;
	else if (streq(line, "image"))
		(void)store_digest_parse(v, &st->image);
}

int cli_mount_state_load(const char *root, const char *mountpoint, cli_mount_state *ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	cli_mount_state st = {};
	char *save = NULL;
	int r;

	r = paths(root, mountpoint, &st);
	if (r >= 0)
		r = read_file(AT_FDCWD, st.state_file, 64 * 1024, &b);
	if (r < 0) {
		cli_mount_state_done(&st);
		return r;
	}
	for (char *l = strtok_r(b.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		parse_line(l, &st);
	*ret = st;
	return 0;
}

void cli_mount_state_cleanup(store *s, const cli_mount_state *st)
{
	if (s)
		(void)store_pin_remove(s, st->pin);
	if (st->dir)
		(void)rm_rf(AT_FDCWD, st->dir);
}

void cli_mount_state_done(cli_mount_state *st)
{
	free(st->dir);
	free(st->mountpoint);
	free(st->upper);
	free(st->work);
	free(st->state_file);
	free(st->log_file);
	*st = (cli_mount_state){};
}
