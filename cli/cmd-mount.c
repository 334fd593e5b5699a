/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-mount.c: `berth mount IMAGE DIR`: the image's union on DIR, for tools outside
 * containers, through the same fs/ code that serves container roots.
 *
 * Like `podman mount`, it returns once the mount is ready, the server running in the background:
 * the parent forks, the child starts a session (setsid), opens nothing new, mounts, signals a
 * pipe and serves until DIR is unmounted. Errors before the mount reach the parent through the
 * child's log, which it prints.
 *
 * State: ROOT/mounts/<id>/ with id the first 16 hex of SHA-256(absolute DIR), so that
 * `berth umount DIR` finds it: `state` (image, mount point, server pid, whether upper/work are
 * ours), `log`, and the default upper/ and work/, which are discarded at unmount. The image is
 * pinned (store pins "mount-<id>") while mounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/mount-state.h"
#include "fetch/reference.h"
#include "fs/fs.h"
#include "store/image.h"
#include "store/ref.h"
#include "util/fileio.h"
#include "util/log.h"

static fs *serving;

static void on_signal(int sig)
{
	if (serving)
		fs_stop(serving);
}

/* A name ("busybox", "busybox:1.36", "127.0.0.1:5000/x:y") or an ID (prefix). */
static int resolve_image(store *s, const char *arg, store_digest *ret)
{
	fetch_reference ref = {};
	_cleanup_free_ char *name = NULL;
	int r;

	r = store_image_resolve_prefix(s, arg, ret);
	if (r >= 0 || r == -ENOTUNIQ)
		return r;
	if (fetch_reference_parse(arg, &ref, NULL) >= 0) {
		r = fetch_reference_store_name(&ref, &name);
		fetch_reference_done(&ref);
		if (r >= 0 && store_ref_get(s, name, ret) >= 0)
			return 0;
	}
	return store_ref_get(s, arg, ret);
}

static int write_state(const cli_mount_state *st)
{
	char line[PATH_MAX * 2];
	char id[STORE_DIGEST_STR_LEN];

	store_digest_str(&st->image, id);
	snprintf(line, sizeof(line), "image %s\nmountpoint %s\npid %d\nephemeral %d\n", id,
		 st->mountpoint, (int)st->pid, st->ephemeral);
	return write_file_atomic(AT_FDCWD, st->state_file, line, strlen(line), 0600);
}

static _noreturn_ void serve_child(store *s, fs *f, cli_mount_state *st, int ready)
{
	berth_error err = BERTH_ERROR_INIT;
	struct sigaction sa = { .sa_handler = on_signal };
	int r;

	setsid();
	serving = f;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	st->pid = getpid();
	r = write_state(st);
	if (r >= 0)
		r = fs_serve(f, st->mountpoint, ready, &err);
	if (r < 0)
		log_error_errno(r, "Failed to serve '%s': %s", st->mountpoint,
				berth_error_message(&err, r));
	serving = NULL;
	fs_free(f);
	cli_mount_state_cleanup(s, st);
	store_free(s);
	_exit(r < 0 ? 1 : 0);
}

/* Makes the child's stdin/stdout /dev/null and its stderr the mount's log. */
static int redirect_stdio(const cli_mount_state *st)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = open(st->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (null < 0 || log < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(log, 2) < 0)
		return negative_errno();
	safe_close(null);
	safe_close(log);
	return 0;
}

static void print_log(const cli_mount_state *st)
{
	_cleanup_(buf_done) buf b = BUF_INIT;

	if (read_file(AT_FDCWD, st->log_file, 64 * 1024, &b) >= 0 && b.len)
		fputs(b.data, stderr);
}

static int start_server(store *s, fs *f, cli_mount_state *st, bool foreground)
{
	int p[2], status;
	char c;
	pid_t pid;
	ssize_t n;

	if (foreground) {
		serve_child(s, f, st, -EBADF);
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return log_error_errno(negative_errno(), "Failed to create a pipe: %m");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return log_error_errno(negative_errno(), "Failed to fork: %m");
	if (pid == 0) {
		safe_close(p[0]);
		if (redirect_stdio(st) < 0)
			_exit(1);
		serve_child(s, f, st, p[1]);
	}
	safe_close(p[1]);
	do
		n = read(p[0], &c, 1);
	while (n < 0 && errno == EINTR);
	safe_close(p[0]);
	if (n == 1)
		return 0;
	waitpid(pid, &status, 0);
	print_log(st);
	return log_error_errno(-EIO, "Failed to mount '%s'", st->mountpoint);
}

static int usage(FILE *out)
{
	fprintf(out, "Usage: berth mount [OPTIONS] IMAGE DIR\n\n"
		     "Mount an image's file system on DIR, writable (changes go to an upper\n"
		     "directory), and return once it is ready; 'berth umount DIR' ends it.\n\n"
		     "Options:\n"
		     "  --upper DIR    keep changes in DIR (default: discarded at umount)\n"
		     "  --work DIR     work directory on the file system of --upper\n"
		     "                 (default: UPPER.work)\n"
		     "  --foreground   serve in the foreground until unmounted\n"
		     "  --fuse-debug   print every FUSE request (with --foreground)\n");
	return out == stdout ? 0 : 2;
}

int cli_cmd_mount(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "upper", required_argument, NULL, 'u' }, { "work", required_argument, NULL, 'w' },
		{ "foreground", no_argument, NULL, 'f' },  { "fuse-debug", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },	   {},
	};
	_cleanup_(cli_mount_state_done) cli_mount_state st = {};
	berth_error err = BERTH_ERROR_INIT;
	const char *upper = NULL, *work = NULL;
	bool foreground = false, debug = false;
	fs_options o = {};
	fs *f = NULL;
	store *s;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'u':
			upper = optarg;
			break;
		case 'w':
			work = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'D':
			debug = true;
			break;
		case 'h':
			return usage(stdout);
		default:
			return usage(stderr);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("mount", "requires exactly 2 arguments: IMAGE DIR");
	s = cli_store(ctx);
	if (!s)
		return 1;
	r = resolve_image(s, argv[optind], &o.image);
	if (r < 0)
		return log_error_errno(r, "No such image: '%s'", argv[optind]), 1;
	r = cli_mount_state_init(ctx->root, argv[optind + 1], upper, work, &st);
	if (r < 0)
		return log_error_errno(r, "Failed to prepare the mount of '%s': %m",
				       argv[optind + 1]),
		       1;
	st.image = o.image;
	o.upper = st.upper;
	o.work = st.work;
	o.debug = debug;
	r = store_pin_set(s, st.pin, &o.image);
	if (r >= 0)
		r = fs_new(s, &o, &f, &err);
	if (r < 0) {
		cli_mount_state_cleanup(s, &st);
		return log_error_errno(r, "Failed to mount '%s': %s", argv[optind],
				       berth_error_message(&err, r)),
		       1;
	}
	r = start_server(s, f, &st, foreground);
	fs_free(f);
	if (r < 0)
		cli_mount_state_cleanup(s, &st);
	return r < 0 ? 1 : 0;
}
