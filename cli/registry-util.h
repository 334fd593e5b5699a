/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/registry-util.h: what the registry verbs (pull, push, login, logout) share: the options
 * that say how to reach registries, and the per-layer progress display.
 *
 * Progress, as Docker's CLI shows it: on a terminal, one line per layer, redrawn in place
 * ("a3ed95caeb02: Downloading [=====>     ]  1.2MB/3.4MB  5.6MB/s"); off a terminal, one plain
 * line per change of state, no bars; with -q, nothing.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "cli/cli.h"
#include "fetch/registry.h"

/* --insecure-registry HOST (repeatable) and --tls-verify[=BOOL], as getopt_long entries. */
#define CLI_REGISTRY_OPT_INSECURE   0x1001
#define CLI_REGISTRY_OPT_TLS_VERIFY 0x1002
#define CLI_REGISTRY_OPTIONS                                                         \
	{ "insecure-registry", required_argument, NULL, CLI_REGISTRY_OPT_INSECURE }, \
	{                                                                            \
		"tls-verify", optional_argument, NULL, CLI_REGISTRY_OPT_TLS_VERIFY   \
	}
#define CLI_REGISTRY_OPTIONS_HELP                                                          \
	"      --insecure-registry HOST  reach HOST over plain HTTP (or HTTPS without\n"   \
	"                        certificate checks); repeatable\n"                        \
	"      --tls-verify=BOOL  false: every registry is insecure; true: none is, not\n" \
	"                        even loopback ones\n"

typedef struct cli_registry_args {
	char **insecure; /* NULL-terminated */
	int tls_verify;	 /* -1: not given */
} cli_registry_args;

#define CLI_REGISTRY_ARGS_INIT \
	{                      \
		NULL, -1       \
	}

/* Handles option c if it is one of CLI_REGISTRY_OPTIONS: 1 if so, 0 if not, 2 on a bad value. */
int cli_registry_option(cli_registry_args *a, const char *verb, int c, const char *arg);
void cli_registry_args_done(cli_registry_args *a);
/* ROOT/registries.conf (or /etc/berth/registries.conf) plus the options; logs its errors. */
int cli_registries_load(cli_ctx *ctx, const cli_registry_args *a, fetch_registries **ret);

/* ---- Progress ---- */

typedef enum cli_xfer_kind {
	CLI_XFER_PULL,
	CLI_XFER_PUSH,
} cli_xfer_kind;

typedef struct cli_xfer_view cli_xfer_view;

/* quiet: nothing at all. Output goes to f (stdout, as Docker's). */
cli_xfer_view *cli_xfer_view_new(cli_xfer_kind kind, bool quiet, FILE *f);
/* Ends the display (leaves the cursor below the last line) and frees it. */
void cli_xfer_view_free(cli_xfer_view *v);
/* A fetch_progress_fn: userdata is the view. */
void cli_xfer_view_event(void *userdata, const fetch_blob_event *e);

/*
 * A login server argument -> the registry's name as references spell it: "https://host:5000/"
 * -> "host:5000"; Docker Hub's names (index.docker.io, registry-1.docker.io, its v1 URL) ->
 * "docker.io"; NULL -> "docker.io". -EINVAL for what cannot be a host.
 */
int cli_registry_server(const char *arg, char **ret);
