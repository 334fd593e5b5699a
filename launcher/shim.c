/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * launcher/shim.c: launch_run() and the per-container shim it forks (launch.h).
 *
 * Processes: caller -> shim (single-threaded; becomes the lxc monitor) -> FUSE server (its own
 * session, outside the container's cgroup, multi-threaded) and, through lxc, the container's
 * init and command. The shim reports one fixed-size result record on a pipe and exits; the
 * caller reads it and reaps the shim.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/fs.h"
#include "launcher/launch-private.h"
#include "util/fileio.h"

typedef struct shim_result {
	int r;	  /* 0 or a negative errno */
	int code; /* exit code when r == 0 */
	char msg[sizeof(((berth_error *)NULL)->msg)];
} shim_result;

typedef struct shim_paths {
	char *upper, *work, *rootfs, *lxcpath, *lxc_log, *fs_log;
} shim_paths;

static fs *serving;

bool launch_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n < 1 || n > 64 ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", id[0]))
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void shim_paths_done(shim_paths *p)
{
	free(p->upper);
	free(p->work);
	free(p->rootfs);
	free(p->lxcpath);
	free(p->lxc_log);
	free(p->fs_log);
}

static int shim_paths_init(const char *dir, shim_paths *p)
{
	p->upper = path_join(dir, "upper");
	p->work = path_join(dir, "work");
	p->rootfs = path_join(dir, "rootfs");
	p->lxcpath = path_join(dir, "lxc");
	p->lxc_log = path_join(dir, "lxc.log");
	p->fs_log = path_join(dir, "fs.log");
	if (!p->upper || !p->work || !p->rootfs || !p->lxcpath || !p->lxc_log || !p->fs_log)
		return -ENOMEM;
	if (mkdir(p->rootfs, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(p->lxcpath, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Makes fds 0/1/2 the spec's; with a pty also the controlling terminal of a new session. */
static int setup_stdio(const launch_spec *spec)
{
	int src[3] = { spec->stdin_fd, spec->stdout_fd, spec->stderr_fd }, tmp[3] = { -1, -1, -1 };
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int r = 0;

	if (null < 0)
		return -errno;
	/* copies above 2 first, so that overlapping fds (stdout_fd == 2) survive the dup2s */
	for (int i = 0; i < 3 && r >= 0; i++) {
		int fd = spec->pty_fd >= 0 ? spec->pty_fd : src[i] >= 0 ? src[i] : null;

		tmp[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (tmp[i] < 0)
			r = -errno;
	}
	for (int i = 0; i < 3 && r >= 0; i++)
		if (dup2(tmp[i], i) < 0)
			r = -errno;
	for (int i = 0; i < 3; i++)
		safe_close(tmp[i]);
	if (r < 0 || spec->pty_fd < 0)
		return r;
	if (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0)
		return -errno;
	return 0;
}

static void on_stop(int sig)
{
	if (serving)
		fs_stop(serving);
}

static _noreturn_ void server_main(store *s, const launch_spec *spec, const shim_paths *p,
				   int ready)
{
	struct sigaction sa = { .sa_handler = on_stop };
	berth_error err = BERTH_ERROR_INIT;
	fs_options o = { .image = spec->image, .upper = p->upper, .work = p->work };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = open(p->fs_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	store *own = NULL;
	fs *f = NULL;
	int r;

	/* no terminal signals from the container's pty; stdio of the container not held open */
	setsid();
	if (null < 0 || log < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(log, 2) < 0)
		_exit(1);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	/*
	 * The caller's other fds (a daemon's sockets, other containers' pipes, whose readers wait
	 * for EOF) are not the server's: keep stdio and `ready`, and open a store of its own.
	 */
	if (dup2(ready, 3) < 0 || close_range(4, ~0U, 0) < 0)
		_exit(1);
	r = store_open(store_root(s), 0, &own, &err);
	if (r >= 0)
		r = fs_new(own, &o, &f, &err);
	if (r >= 0) {
		serving = f;
		sigaction(SIGTERM, &sa, NULL);
		r = fs_serve(f, p->rootfs, 3, &err);
		serving = NULL;
	}
	if (r < 0)
		fprintf(stderr, "%s\n", berth_error_message(&err, r));
	fs_free(f);
	store_free(own);
	_exit(r < 0 ? 1 : 0);
}

static void log_tail(const char *file, berth_error *reterr, int r, const char *what)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	size_t n;

	if (read_file(AT_FDCWD, file, 64 * 1024, &b) < 0 || !b.len) {
		berth_error_set(reterr, r, "%s", what);
		return;
	}
	n = strlen(b.data);
	while (n && b.data[n - 1] == '\n')
		b.data[--n] = '\0';
	berth_error_set(reterr, r, "%s: %s", what, b.data);
}

/* Forks the FUSE server and waits until the union is mounted on p->rootfs. */
static int start_server(store *s, const launch_spec *spec, const shim_paths *p, int result_fd,
			pid_t *ret_pid, berth_error *reterr)
{
	int pipefd[2];
	pid_t pid;
	ssize_t n;
	char c;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return berth_error_set(reterr, -errno, "cannot create a pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		safe_close(pipefd[0]);
		safe_close(pipefd[1]);
		return berth_error_set(reterr, r, "cannot fork the file system server: %s",
				       strerror(-r));
	}
	if (pid == 0) {
		safe_close(result_fd);
		safe_close(pipefd[0]);
		server_main(s, spec, p, pipefd[1]);
	}
	safe_close(pipefd[1]);
	do
		n = read(pipefd[0], &c, 1);
	while (n < 0 && errno == EINTR);
	safe_close(pipefd[0]);
	if (n == 1) {
		*ret_pid = pid;
		return 0;
	}
	waitpid(pid, NULL, 0);
	log_tail(p->fs_log, reterr, -EIO, "cannot mount the container's root");
	return -EIO;
}

static void stop_server(const shim_paths *p, pid_t pid)
{
	/* the server returns from fs_serve() once the mount is gone */
	if (fs_unmount(p->rootfs, NULL) < 0)
		kill(pid, SIGTERM);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* 0, or the Docker exit code for a command that cannot run (a message on the command's stderr). */
static int check_command(const launch_spec *spec, const shim_paths *p)
{
	_cleanup_close_ int rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (rootfd < 0)
		return LAUNCH_EXIT_FAILED;
	r = launch_resolve_command(rootfd, spec->cwd ? spec->cwd : "/", spec->env, spec->argv[0],
				   spec->uid, spec->gid);
	if (r == 0)
		return 0;
	if (r == -EACCES) {
		dprintf(2, "berth: exec: \"%s\": permission denied\n", spec->argv[0]);
		return LAUNCH_EXIT_NOT_EXECUTABLE;
	}
	dprintf(2, "berth: exec: \"%s\": %s\n", spec->argv[0],
		strchr(spec->argv[0], '/') ? "no such file or directory"
					   : "executable file not found in $PATH");
	return LAUNCH_EXIT_NOT_FOUND;
}

/* Closes every fd above 2 except keep_fd (the store's too: the server has its own copies). */
static int close_inherited(int keep_fd)
{
	if (keep_fd > 3 && close_range(3, (unsigned)keep_fd - 1, 0) < 0)
		return -errno;
	if (close_range((unsigned)keep_fd + 1, ~0U, 0) < 0)
		return -errno;
	return 0;
}

static int shim_run(store *s, const launch_spec *spec, int result_fd, int *ret_code,
		    berth_error *reterr)
{
	_cleanup_(shim_paths_done) shim_paths p = {};
	pid_t server = -1;
	int r, code;

	r = setup_stdio(spec);
	if (r < 0)
		return berth_error_set(reterr, r, "cannot set up the container's stdio: %s",
				       strerror(-r));
	r = shim_paths_init(spec->state_dir, &p);
	if (r < 0)
		return berth_error_set(reterr, r, "cannot prepare '%s': %s", spec->state_dir,
				       strerror(-r));
	r = start_server(s, spec, &p, result_fd, &server, reterr);
	if (r < 0)
		return r;
	code = check_command(spec, &p);
	/* the container must not inherit the caller's fds; ours are O_CLOEXEC */
	if (code == 0)
		r = close_inherited(result_fd);
	if (code == 0 && r >= 0)
		r = launch_lxc_run(spec, p.lxcpath, p.rootfs, p.lxc_log, &code, reterr);
	stop_server(&p, server);
	if (r >= 0)
		*ret_code = code;
	return r;
}

static _noreturn_ void shim_main(store *s, const launch_spec *spec, int result_fd)
{
	berth_error err = BERTH_ERROR_INIT;
	shim_result res = {};
	int r;

	/* keep the result pipe clear of fds 0..2, which setup_stdio() replaces */
	r = fcntl(result_fd, F_DUPFD_CLOEXEC, 3);
	if (r < 0)
		_exit(LAUNCH_EXIT_FAILED);
	result_fd = r;
	res.r = shim_run(s, spec, result_fd, &res.code, &err);
	if (res.r < 0)
		snprintf(res.msg, sizeof(res.msg), "%s", berth_error_message(&err, res.r));
	(void)!fd_write_all(result_fd, &res, sizeof(res));
	_exit(res.r < 0 ? LAUNCH_EXIT_FAILED : res.code);
}

static int check_spec(const launch_spec *spec, berth_error *reterr)
{
	if (!launch_id_valid(spec->id))
		return berth_error_set(reterr, -EINVAL, "invalid container ID '%s'",
				       spec->id ? spec->id : "");
	if (!spec->state_dir || !spec->argv || !spec->argv[0] || !spec->argv[0][0])
		return berth_error_set(reterr, -EINVAL, "no state directory or no command");
	if (spec->cwd && spec->cwd[0] != '/')
		return berth_error_set(reterr, -EINVAL, "working directory '%s' is not absolute",
				       spec->cwd);
	return 0;
}

static int wait_shim(pid_t pid, int result_fd, int *ret_code, berth_error *reterr)
{
	shim_result res;
	int r = fd_read_exact(result_fd, &res, sizeof(res)), status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return berth_error_set(reterr, -EIO, "the container's shim died (wait status 0x%x)",
				       status);
	if (res.r < 0) {
		res.msg[sizeof(res.msg) - 1] = '\0';
		return berth_error_set(reterr, res.r, "%s", res.msg);
	}
	*ret_code = res.code;
	return 0;
}

int launch_run(store *s, const launch_spec *spec, int *ret_code, berth_error *reterr)
{
	char pin[80];
	int pipefd[2], r;
	pid_t pid;

	r = check_spec(spec, reterr);
	if (r < 0)
		return r;
	r = mkdir_p(AT_FDCWD, spec->state_dir, 0700);
	if (r < 0)
		return berth_error_set(reterr, r, "cannot create '%s': %s", spec->state_dir,
				       strerror(-r));
	snprintf(pin, sizeof(pin), "container-%s", spec->id);
	r = store_pin_set(s, pin, &spec->image);
	if (r < 0)
		return berth_error_set(reterr, r, "cannot pin the image: %s", strerror(-r));
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = berth_error_set(reterr, -errno, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = berth_error_set(reterr, -errno, "cannot fork the shim: %s", strerror(errno));
		safe_close(pipefd[0]);
		safe_close(pipefd[1]);
		goto out;
	}
	if (pid == 0) {
		safe_close(pipefd[0]);
		shim_main(s, spec, pipefd[1]);
	}
	safe_close(pipefd[1]);
	r = wait_shim(pid, pipefd[0], ret_code, reterr);
	safe_close(pipefd[0]);
out:
	store_pin_remove(s, pin);
	return r;
}
