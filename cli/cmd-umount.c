/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-umount.c: `berth umount DIR`: ends a `berth mount`, live or dead (a server that
 * crashed leaves a mount whose every access fails with ENOTCONN; this clears it too), waits for
 * the server to exit, and removes the mount's record, pin and default upper directory.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/mount-state.h"
#include "fs/fs.h"
#include "util/log.h"

/* Waits up to timeout_ms for a process that is not our child to exit. */
static bool wait_exit(pid_t pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;
	int r;

	if (fd < 0)
		return errno == ESRCH;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	safe_close(fd);
	return r > 0;
}

static int usage(FILE *out)
{
	fprintf(out,
		"Usage: berth umount DIR\n\n"
		"Unmount a file system mounted by 'berth mount' (also one whose server died).\n");
	return out == stdout ? 0 : 2;
}

int cli_cmd_umount(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(cli_mount_state_done) cli_mount_state st = {};
	berth_error err = BERTH_ERROR_INIT;
	bool have_state;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'h')
			return usage(stdout);
		return usage(stderr);
	}
	if (argc - optind != 1)
		return cli_usage_error("umount", "requires exactly 1 argument: DIR");
	have_state = cli_mount_state_load(ctx->root, argv[optind], &st) >= 0;
	r = fs_unmount(argv[optind], &err);
	if (r < 0 && !have_state)
		return log_error_errno(r, "Failed to unmount '%s': %s", argv[optind],
				       berth_error_message(&err, r)),
		       1;
	if (!have_state)
		return 0;
	/* The server leaves when the kernel ends its session; one that does not is hung. */
	if (st.pid > 0 && !wait_exit(st.pid, 10000)) {
		log_warning("The server of '%s' (pid %d) did not exit, killing it", st.mountpoint,
			    (int)st.pid);
		kill(st.pid, SIGKILL);
		wait_exit(st.pid, 5000);
	}
	cli_mount_state_cleanup(cli_store(ctx), &st);
	if (r < 0 && r != -EINVAL)
		return log_error_errno(r, "Failed to unmount '%s': %s", argv[optind],
				       berth_error_message(&err, r)),
		       1;
	return 0;
}
