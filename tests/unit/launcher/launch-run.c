/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/launcher/launch-run.c: drives launch_run() for tests/integration/150-launch.sh,
 * with stdio inherited, and exits with the container's exit code (125 when launch_run fails,
 * after printing why).
 *
 *   launch-run --root ROOT --state DIR --id ID [--hostname H] [--user UID:GID] [--cwd DIR]
 *              [--env NAME=VALUE]... [--tty] IMAGE-ID CMD [ARG...]
 *
 * --tty opens a pty, hands its slave to the container and copies the master to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/launch.h"
#include "store/image.h"

static void *copy_master(void *arg)
{
	int master = *(int *)arg;
	char b[4096];
	ssize_t n;

	while ((n = read(master, b, sizeof(b))) > 0)
		if (write(1, b, (size_t)n) != n)
			break;
	return NULL;
}

static int open_pty(int *ret_master, int *ret_slave)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), sl;

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return -errno;
	sl = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0)
		return -errno;
	*ret_master = m;
	*ret_slave = sl;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 's' },
		{ "id", required_argument, NULL, 'i' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "user", required_argument, NULL, 'u' },
		{ "cwd", required_argument, NULL, 'w' },
		{ "env", required_argument, NULL, 'e' },
		{ "tty", no_argument, NULL, 't' },
		{},
	};
	launch_spec spec = { .pty_fd = -1, .stdin_fd = 0, .stdout_fd = 1, .stderr_fd = 2 };
	berth_error err = BERTH_ERROR_INIT;
	const char *root = NULL;
	char *env[64] = {};
	size_t n_env = 0;
	bool tty = false, copying = false;
	int master = -1, c, r, code = 0;
	pthread_t copier;
	store *s = NULL;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) >= 0) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 's':
			spec.state_dir = optarg;
			break;
		case 'i':
			spec.id = optarg;
			break;
		case 'H':
			spec.hostname = optarg;
			break;
		case 'u':
			if (sscanf(optarg, "%u:%u", &spec.uid, &spec.gid) != 2)
				return 2;
			break;
		case 'w':
			spec.cwd = optarg;
			break;
		case 'e':
			if (n_env + 1 >= ELEMENTSOF(env))
				return 2;
			env[n_env++] = optarg;
			break;
		case 't':
			tty = true;
			break;
		default:
			return 2;
		}
	}
	if (!root || argc - optind < 2) {
		fprintf(stderr,
			"usage: launch-run --root ROOT --state DIR --id ID ... IMAGE CMD...\n");
		return 2;
	}
	spec.env = n_env ? env : NULL;
	spec.argv = argv + optind + 1;
	r = store_open(root, 0, &s, &err);
	if (r >= 0)
		r = store_image_resolve_prefix(s, argv[optind], &spec.image);
	if (r >= 0 && tty)
		r = open_pty(&master, &spec.pty_fd);
	if (r >= 0 && tty) {
		r = -pthread_create(&copier, NULL, copy_master, &master);
		copying = r >= 0;
	}
	if (r >= 0)
		r = launch_run(s, &spec, &code, &err);
	if (tty && spec.pty_fd >= 0)
		close(spec.pty_fd);
	/* the master reads EIO once the last slave fd (the shim's) is closed */
	if (copying)
		pthread_join(copier, NULL);
	store_free(s);
	if (r < 0) {
		fprintf(stderr, "launch-run: %s\n", berth_error_message(&err, r));
		return LAUNCH_EXIT_FAILED;
	}
	return code;
}
