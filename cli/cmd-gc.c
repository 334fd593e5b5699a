/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-gc.c: `berth gc`: delete every object that no image, pin (mount, container) or write
 * in progress needs, and the leftovers of crashed writers; print what was freed.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "store/gc.h"
#include "util/fileio.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: berth gc\n\n"
		   "Delete the store's objects that no image, mount or container needs, and the\n"
		   "temporary files of interrupted writes. Waits for writes in progress.\n\n"
		   "Options:\n"
		   "  -h, --help        show this help\n");
}

int cli_cmd_gc(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	store_gc_stats st = {};
	char freed[16];
	int c, r;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) >= 0) {
		if (c != 'h')
			return cli_option_error("gc", c, argv);
		usage(stdout);
		return 0;
	}
	if (optind < argc)
		return cli_usage_error("gc", "takes no arguments");
	if (!(s = cli_store(ctx)))
		return 1;
	if ((r = store_gc(s, &st)) < 0)
		return log_error_errno(r, "Failed to collect garbage: %m"), 1;
	format_size(st.bytes_removed, freed, sizeof(freed));
	printf("Deleted %llu objects and %llu temporary files, kept %llu objects\n",
	       (unsigned long long)st.objects_removed, (unsigned long long)st.tmp_removed,
	       (unsigned long long)st.objects_kept);
	printf("Total reclaimed space: %s\n", freed);
	return 0;
}
