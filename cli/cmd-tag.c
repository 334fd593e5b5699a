/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli/cmd-tag.c: `berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`: one more name for an image. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "store/ref.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\n"
		"Give the image SOURCE_IMAGE (a name or an ID) the name TARGET_IMAGE, replacing\n"
		"whatever that name pointed at.\n\n"
		"Options:\n"
		"  -h, --help        show this help\n");
}

int cli_cmd_tag(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *target = NULL;
	store_digest id;
	int c, r;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) >= 0) {
		if (c != 'h')
			return cli_option_error("tag", c, argv);
		usage(stdout);
		return 0;
	}
	if (argc - optind != 2)
		return cli_usage_error("tag", "needs exactly SOURCE_IMAGE and TARGET_IMAGE");
	if (cli_parse_store_name("tag", argv[optind + 1], &target) < 0)
		return 2;
	if (!(s = cli_store(ctx)))
		return 1;
	if (cli_image_resolve_or_report(s, argv[optind], &id, NULL) < 0)
		return 1;
	if ((r = store_ref_set(s, target, &id)) < 0)
		return log_error_errno(r, "Failed to tag '%s' as '%s': %m", argv[optind],
				       argv[optind + 1]),
		       1;
	return 0;
}
