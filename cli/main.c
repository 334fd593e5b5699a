/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli/main.c: the verb table, global options, and the one place berth exits. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/log.h"

typedef struct verb {
	const char *name;
	const char *help;
	int (*run)(cli_ctx *ctx, int argc, char **argv);
} verb;

static const verb verbs[] = {
#define X(v, h) { #v, h, cli_cmd_##v },
	CLI_VERBS(X)
#undef X
};

store *cli_store(cli_ctx *ctx)
{
	berth_error err = BERTH_ERROR_INIT;
	int r;

	if (ctx->store)
		return ctx->store;
	r = store_open(ctx->root, STORE_OPEN_CREATE, &ctx->store, &err);
	if (r < 0) {
		log_error_errno(r, "Failed to open the store under '%s': %s", ctx->root,
				berth_error_message(&err, r));
		return NULL;
	}
	return ctx->store;
}

int cli_usage_error(const char *v, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "berth %s: ", v);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nSee 'berth %s --help'.\n", v);
	return 2;
}

int cli_cmd_version(cli_ctx *ctx, int argc, char **argv)
{
	printf("berth version %s\n", BERTH_VERSION);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: berth [--root DIR] [--debug] COMMAND [ARGS...]\n\n"
		   "A container runtime on a content-addressed FUSE union filesystem.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f,
		"\nState lives under --root DIR, $BERTH_ROOT, or %s.\n"
		"Run 'berth COMMAND --help' for a command's options.\n",
		BERTH_DEFAULT_ROOT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "debug", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{},
	};
	cli_ctx ctx = { .root = getenv("BERTH_ROOT") };
	int c, r;

	log_parse_environment();
	/* '+': stop at the verb, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) >= 0) {
		switch (c) {
		case 'r':
			ctx.root = optarg;
			break;
		case 'D':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			return cli_cmd_version(&ctx, 0, NULL);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!ctx.root || !ctx.root[0])
		ctx.root = BERTH_DEFAULT_ROOT;
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
		char **vargv = argv + optind;
		int vargc = argc - optind;

		if (!streq(vargv[0], verbs[i].name))
			continue;
		optind = 0; /* the verb's getopt_long starts over on its own argv */
		r = verbs[i].run(&ctx, vargc, vargv);
		store_free(ctx.store);
		return r;
	}
	fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'.\n", argv[optind]);
	return 2;
}
