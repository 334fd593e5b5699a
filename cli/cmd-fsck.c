/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-fsck.c: `berth fsck`: rehash every object of the store, quarantine the corrupt ones,
 * check that everything images, refs and pins need is present. One line per problem; exit
 * status 1 if there was any.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "store/gc.h"
#include "util/log.h"

static void report(void *userdata, const char *problem)
{
	unsigned *n = userdata;

	(*n)++;
	printf("%s\n", problem);
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: berth fsck\n\n"
		"Check the store: rehash every object (moving corrupt ones to quarantine/), and\n"
		"check that every object images, names and pins need is present. Prints one line\n"
		"per problem and exits with status 1 if there is any.\n\n"
		"Options:\n"
		"  -h, --help        show this help\n");
}

int cli_cmd_fsck(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	store_fsck_stats st = {};
	unsigned problems = 0;
	int c, r;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) >= 0) {
		if (c != 'h')
			return cli_option_error("fsck", c, argv);
		usage(stdout);
		return 0;
	}
	if (optind < argc)
		return cli_usage_error("fsck", "takes no arguments");
	if (!(s = cli_store(ctx)))
		return 1;
	r = store_fsck(s, report, &problems, &st);
	if (r < 0 && r != -EUCLEAN)
		return log_error_errno(r, "Failed to check the store: %m"), 1;
	printf("Checked %llu objects: %llu corrupt (quarantined), %llu missing, %llu bad records\n",
	       (unsigned long long)st.objects_checked, (unsigned long long)st.corrupt,
	       (unsigned long long)st.missing, (unsigned long long)st.bad_records);
	return r == -EUCLEAN || problems > 0 ? 1 : 0;
}
