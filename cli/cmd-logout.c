/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-logout.c: `berth logout [SERVER]`: removes the credentials `berth login` stored for a
 * registry (default: Docker Hub).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "cli/registry-util.h"
#include "fetch/auth.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: berth logout [SERVER]\n\n"
		   "Remove the credentials stored for a registry (default: Docker Hub).\n\n"
		   "Options:\n"
		   "  -h, --help        show this help\n");
}

int cli_cmd_logout(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *server = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) >= 0) {
		if (c != 'h')
			return cli_option_error("logout", c, argv);
		usage(stdout);
		return 0;
	}
	if (argc - optind > 1)
		return cli_usage_error("logout", "takes at most one SERVER");
	if (cli_registry_server(argc > optind ? argv[optind] : NULL, &server) < 0)
		return cli_usage_error("logout", "'%s' is not a registry host", argv[optind]);
	r = fetch_auth_erase(NULL, server, &err);
	if (r == -ENOENT) {
		/* Docker says so and succeeds: the goal, no credentials, holds. */
		printf("Not logged in to %s\n", server);
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "Failed to remove the credentials of '%s': %s", server,
				       berth_error_message(&err, r)),
		       1;
	printf("Removing login credentials for %s\n", server);
	return 0;
}
