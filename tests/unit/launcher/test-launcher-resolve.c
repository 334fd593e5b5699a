/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* launcher/resolve.c: the lookup behind exit codes 126/127, in a scratch root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/launch-private.h"
#include "tests/unit/unit.h"
#include "util/fileio.h"

typedef struct fixture {
	char dir[64];
	int rootfd;
} fixture;

static void touch(int dirfd, const char *path, mode_t mode)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmodat(dirfd, path, mode, 0), 0);
	close(fd);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-launcher-resolve.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->rootfd = open(f->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->rootfd >= 0);
	assert_int_equal(mkdirat(f->rootfd, "bin", 0755), 0);
	assert_int_equal(mkdirat(f->rootfd, "app", 0755), 0);
	touch(f->rootfd, "bin/busybox", 0755);
	assert_int_equal(symlinkat("busybox", f->rootfd, "bin/sh"), 0);
	assert_int_equal(symlinkat("/bin/busybox", f->rootfd, "bin/abs"), 0);
	/* resolved in the root: /../../bin/busybox is /bin/busybox of the root */
	assert_int_equal(symlinkat("../../../../bin/busybox", f->rootfd, "app/up"), 0);
	/* on the host this exists; in the root it does not */
	assert_int_equal(symlinkat("/usr/bin/env", f->rootfd, "bin/hostenv"), 0);
	touch(f->rootfd, "bin/data", 0644);
	touch(f->rootfd, "app/ownerx", 0700);
	touch(f->rootfd, "app/run", 0755);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	close(f->rootfd);
	rm_rf(AT_FDCWD, f->dir);
	free(f);
	return 0;
}

static void test_launcher_resolve__path_search(void **state)
{
	fixture *f = *state;

	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "sh", 0, 0), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "abs", 0, 0), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "nosuch", 0, 0), -ENOENT);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "data", 0, 0), -EACCES);
	/* not in PATH at all */
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "run", 0, 0), -ENOENT);
	char *env[] = { "A=b", "PATH=/nope:/app", NULL };
	assert_int_equal(launch_resolve_command(f->rootfd, "/", env, "run", 0, 0), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", env, "sh", 0, 0), -ENOENT);
	/* an empty element is the working directory */
	char *env2[] = { "PATH=:/bin", NULL };
	assert_int_equal(launch_resolve_command(f->rootfd, "/app", env2, "run", 0, 0), 0);
}

static void test_launcher_resolve__slash_names(void **state)
{
	fixture *f = *state;

	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/bin/sh", 0, 0), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/app", NULL, "./run", 0, 0), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "./run", 0, 0), -ENOENT);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/app", 0, 0), -EACCES);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/app/up", 0, 0), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/../../bin/sh", 0, 0), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "", 0, 0), -ENOENT);
}

static void test_launcher_resolve__stays_in_root(void **state)
{
	fixture *f = *state;

	assert_int_equal(access("/usr/bin/env", X_OK), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "hostenv", 0, 0), -ENOENT);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/usr/bin/env", 0, 0),
			 -ENOENT);
}

static void test_launcher_resolve__permissions(void **state)
{
	fixture *f = *state;

	/* root: any x bit; others: the bits of their class (files are owned by the test's uid 0) */
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/app/ownerx", 0, 0), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/app/ownerx", 1000, 1000),
			 -EACCES);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/app/run", 1000, 1000), 0);
	assert_int_equal(launch_resolve_command(f->rootfd, "/", NULL, "/bin/data", 1000, 1000),
			 -EACCES);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_launcher_resolve__path_search, setup, teardown),
	cmocka_unit_test_setup_teardown(test_launcher_resolve__slash_names, setup, teardown),
	cmocka_unit_test_setup_teardown(test_launcher_resolve__stays_in_root, setup, teardown),
	cmocka_unit_test_setup_teardown(test_launcher_resolve__permissions, setup, teardown),
};
UNIT_EXPORT(launcher, resolve, tests);
