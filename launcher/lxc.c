/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * launcher/lxc.c: the only file that includes lxc/lxccontainer.h (STYLE.md). Turns a run spec
 * into liblxc config items and runs the container in execute mode, non-daemonized, so that this
 * (single-threaded) process is the monitor and gets the command's wait status in error_num.
 * The choices below are measured on these hosts: ../shared/notes/lxc-on-this-host.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <lxc/lxccontainer.h>

#include "launcher/launch-private.h"

/* Docker's default capability set; everything else is dropped. */
#define LAUNCH_CAP_KEEP                                                                 \
	"chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service " \
	"net_raw sys_chroot mknod audit_write setfcap"

static void lxc_containerp(struct lxc_container **c)
{
	if (*c)
		lxc_container_put(*c);
}

static int set_item(struct lxc_container *c, const char *key, const char *value,
		    berth_error *reterr)
{
	if (!c->set_config_item(c, key, value))
		return berth_error_set(reterr, -EINVAL, "lxc refused %s = %s", key, value);
	return 0;
}

static int set_fixed_items(struct lxc_container *c, berth_error *reterr)
{
	static const char *const items[][2] = {
		{ "lxc.mount.auto", "proc:mixed sys:ro cgroup:mixed:force" },
		/* autodev: lxc never writes device nodes into the image's /dev */
		{ "lxc.autodev", "1" },
		{ "lxc.mount.entry", "tmpfs dev/shm tmpfs rw,nosuid,nodev,noexec,size=65536k,"
				     "create=dir 0 0" },
		{ "lxc.mount.entry",
		  "mqueue dev/mqueue mqueue rw,nosuid,nodev,noexec,create=dir 0 0" },
		{ "lxc.pty.max", "16" },
		{ "lxc.tty.max", "0" },
		/* loopback only until networking lands */
		{ "lxc.net.0.type", "empty" },
		{ "lxc.cap.keep", LAUNCH_CAP_KEEP },
		{ "lxc.log.level", "WARN" },
	};
	int r;

	for (size_t i = 0; i < ELEMENTSOF(items); i++) {
		r = set_item(c, items[i][0], items[i][1], reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_spec_items(struct lxc_container *c, const launch_spec *spec, const char *rootfs,
			  const char *log_file, berth_error *reterr)
{
	char val[4096], hostname[13];
	bool have_path = false;
	int r;

	snprintf(val, sizeof(val), "dir:%s", rootfs);
	r = set_item(c, "lxc.rootfs.path", val, reterr);
	if (r >= 0 && !spec->hostname)
		snprintf(hostname, sizeof(hostname), "%s", spec->id);
	if (r >= 0)
		r = set_item(c, "lxc.uts.name", spec->hostname ? spec->hostname : hostname, reterr);
	if (r >= 0)
		r = set_item(c, "lxc.log.file", log_file, reterr);
	if (r >= 0)
		r = set_item(c, "lxc.init.cwd", spec->cwd ? spec->cwd : "/", reterr);
	snprintf(val, sizeof(val), "%u", (unsigned)spec->uid);
	if (r >= 0)
		r = set_item(c, "lxc.init.uid", val, reterr);
	snprintf(val, sizeof(val), "%u", (unsigned)spec->gid);
	if (r >= 0)
		r = set_item(c, "lxc.init.gid", val, reterr);
	snprintf(val, sizeof(val), "berth/%s", spec->id);
	if (r >= 0)
		r = set_item(c, "lxc.cgroup.dir.container", val, reterr);
	snprintf(val, sizeof(val), "berth.mon/%s", spec->id);
	if (r >= 0)
		r = set_item(c, "lxc.cgroup.dir.monitor", val, reterr);
	for (char *const *e = spec->env; r >= 0 && e && *e; e++) {
		have_path = have_path || strneq(*e, "PATH=", 5);
		r = set_item(c, "lxc.environment", *e, reterr);
	}
	if (r >= 0 && !have_path)
		r = set_item(c, "lxc.environment", "PATH=" LAUNCH_DEFAULT_PATH, reterr);
	return r;
}

#if defined(__SANITIZE_ADDRESS__)
static void exit_without_leak_check(int status, void *arg)
{
	fflush(NULL);
	_exit(status);
}
#endif

/* The wait status of the container's init as a shell reports it. */
static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	/* lxc reports a stopped init as 0x97f (SIGKILL in the stop-signal byte) */
	return 128 + ((status >> 8) & 0x7f);
}

int launch_lxc_run(const launch_spec *spec, const char *lxcpath, const char *rootfs,
		   const char *log_file, int *ret_code, berth_error *reterr)
{
	_cleanup_(lxc_containerp) struct lxc_container *c = NULL;
	int r;

	c = lxc_container_new(spec->id, lxcpath);
	if (!c)
		return berth_error_set(reterr, -ENOMEM, "lxc could not create container '%s'",
				       spec->id);
	if (c->is_running(c))
		return berth_error_set(reterr, -EEXIST, "container '%s' is already running",
				       spec->id);
	r = set_fixed_items(c, reterr);
	if (r >= 0)
		r = set_spec_items(c, spec, rootfs, log_file, reterr);
	if (r < 0)
		return r;
	/* lxc_container_new() defaults to daemonize, which loses the exit status */
	c->want_daemonize(c, false);
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * The container's init is a clone of this process that ends with exit(): LeakSanitizer's
	 * exit-time check would run inside the container, fail there and turn every status into 1.
	 * on_exit() handlers run before the sanitizer's (registered at start-up, atexit order).
	 */
	on_exit(exit_without_leak_check, NULL);
#endif
	/*
	 * Not want_close_all_fds(): it closes the monitor's own fds too (the shim's result pipe).
	 * The shim closes what it inherited itself (close_inherited() in shim.c).
	 */
	if (!c->start(c, 1, (char *const *)spec->argv))
		return berth_error_set(reterr, -ECHILD,
				       "lxc failed to start the container (see %s)", log_file);
	*ret_code = exit_code(c->error_num);
	return 0;
}
