/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cli.h: what every verb of the `berth` command shares.
 *
 * cli/main.c holds the verb table and the global options (--root, --debug); each verb lives in
 * cli/cmd-<verb>.c as `int cli_cmd_<verb>(cli_ctx *ctx, int argc, char **argv)`, parses its own
 * options with getopt_long (argv[0] is the verb), logs its errors once, where they arrive, and
 * returns a process exit status (0 success, 1 failure, 2 usage error, as Docker's CLI does for
 * the first two and GNU tools for the last).
 */
#pragma once

#include "store/store.h"

typedef struct cli_ctx {
	const char *root; /* --root, $BERTH_ROOT, or BERTH_DEFAULT_ROOT */
	store *store;	  /* opened on first use by cli_store() */
} cli_ctx;

/* Opens the store on first use (creating it), logging any error. NULL on failure. */
store *cli_store(cli_ctx *ctx);

/* Prints "berth VERB: MESSAGE" plus the verb's usage hint to stderr; returns 2. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The verb table: name and one line of help. Keep it sorted. */
#define CLI_VERBS(X)                                                     \
	X(fsck, "check the store's objects, quarantine corrupt ones")    \
	X(gc, "delete what no image, mount or container needs")          \
	X(history, "show the history of an image")                       \
	X(images, "list images")                                         \
	X(import, "import a root filesystem tarball as an image")        \
	X(inspect, "show images' configuration as JSON")                 \
	X(load, "load images from an OCI layout or docker save archive") \
	X(login, "log in to a registry")                                 \
	X(logout, "log out from a registry")                             \
	X(mount, "mount an image's file system on a directory")          \
	X(pull, "pull an image from a registry")                         \
	X(push, "push an image to a registry")                           \
	X(rmi, "remove images")                                          \
	X(save, "save images to an OCI layout archive")                  \
	X(tag, "give an image another name")                             \
	X(umount, "unmount a file system mounted by 'berth mount'")      \
	X(version, "show berth's version")

#define X(verb, help) int cli_cmd_##verb(cli_ctx *ctx, int argc, char **argv);
CLI_VERBS(X)
#undef X
