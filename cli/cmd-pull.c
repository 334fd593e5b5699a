/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-pull.c: `berth pull [OPTIONS] NAME[:TAG|@DIGEST]`: an image from a registry, printed
 * as `docker pull` prints it (layer lines, Digest, Status, the full reference).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "cli/registry-util.h"
#include "fetch/pull.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: berth pull [OPTIONS] NAME[:TAG|@DIGEST]\n\n"
		"Pull an image from a registry. NAME is normalised as Docker does ('busybox' is\n"
		"docker.io/library/busybox:latest). Layers the store already has are not\n"
		"downloaded again.\n\n"
		"Options:\n"
		"  -q, --quiet             print only the image's full reference\n"
		"      --platform OS/ARCH[/VARIANT]  pick this platform from a multi-platform\n"
		"                          image (default: this machine's)\n"
		"      --max-concurrent-downloads N  layers downloaded at once (default 3)\n" CLI_REGISTRY_OPTIONS_HELP
		"  -h, --help              show this help\n");
}

/* "docker.io/library/busybox" -> "busybox". */
static char *familiar_repo(const fetch_reference *ref)
{
	_cleanup_free_ char *repo = NULL, *named = NULL, *fam = NULL;
	char *colon;

	if (fetch_reference_repository(ref, &repo) < 0 || asprintf(&named, "%s:x", repo) < 0)
		return NULL;
	if (!(fam = cli_familiar(named)) || !(colon = strrchr(fam, ':')))
		return NULL;
	*colon = '\0';
	return TAKE_PTR(fam);
}

/* Did the user write a tag or digest, or is "latest" implied? */
static bool tag_implied(const char *arg)
{
	const char *last = strrchr(arg, '/');

	return !strchr(arg, '@') && !strchr(last ? last : arg, ':');
}

static void print_result(const fetch_reference *ref, const fetch_pull_result *res, bool quiet)
{
	_cleanup_free_ char *repo = NULL, *fam_repo = familiar_repo(ref);
	char ds[STORE_DIGEST_STR_LEN];

	for (size_t i = 0; res->warnings && res->warnings[i]; i++)
		log_warning("%s", res->warnings[i]);
	store_digest_str(&res->digest, ds);
	if (fetch_reference_repository(ref, &repo) < 0)
		return;
	if (!quiet) {
		bool fresh = res->downloaded || res->ref_changed;
		printf("Digest: %s\n", ds);
		if (res->name) {
			_cleanup_free_ char *fam = cli_familiar(res->name);
			printf("Status: %s for %s\n",
			       fresh ? "Downloaded newer image" : "Image is up to date", fam);
		} else
			printf("Status: %s for %s@%s\n",
			       res->downloaded ? "Downloaded newer image" : "Image is up to date",
			       fam_repo ? fam_repo : repo, ds);
	}
	if (res->name)
		printf("%s\n", res->name);
	else
		printf("%s@%s\n", repo, ds);
}

static int parse_count(const char *arg, unsigned *ret)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);

	if (*arg < '0' || *arg > '9' || *end || n < 1 || n > 16)
		return cli_usage_error("pull", "--max-concurrent-downloads takes 1 to 16, not '%s'",
				       arg);
	*ret = (unsigned)n;
	return 0;
}

static int do_pull(cli_ctx *ctx, const char *arg, fetch_pull_opts *po, bool quiet)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_pull_result res = {};
	fetch_reference ref = {};
	cli_xfer_view *view;
	char ds[STORE_DIGEST_STR_LEN];
	store *s;
	int r;

	if ((r = fetch_reference_parse(arg, &ref, &err)) < 0)
		return cli_usage_error("pull", "%s", berth_error_message(&err, r));
	if (!(s = cli_store(ctx))) {
		fetch_reference_done(&ref);
		return 1;
	}
	if (!quiet) {
		if (tag_implied(arg))
			printf("Using default tag: latest\n");
		if (ref.has_digest)
			store_digest_str(&ref.digest, ds);
		printf("%s: Pulling from %s\n", ref.has_digest ? ds : ref.tag, ref.path);
		fflush(stdout);
	}
	view = cli_xfer_view_new(CLI_XFER_PULL, quiet, stdout);
	po->progress = view ? cli_xfer_view_event : NULL;
	po->userdata = view;
	r = fetch_pull(s, &ref, po, &res, &err);
	cli_xfer_view_free(view);
	if (r < 0) {
		log_error_errno(r, "Failed to pull '%s': %s", arg, berth_error_message(&err, r));
		fetch_reference_done(&ref);
		return 1;
	}
	print_result(&ref, &res, quiet);
	fetch_pull_result_done(&res);
	fetch_reference_done(&ref);
	return 0;
}

int cli_cmd_pull(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "platform", required_argument, NULL, 'p' },
		{ "max-concurrent-downloads", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		CLI_REGISTRY_OPTIONS,
		{},
	};
	_cleanup_(fetch_registries_freep) fetch_registries *conf = NULL;
	_cleanup_(fetch_auth_freep) fetch_auth *auth = NULL;
	cli_registry_args ra = CLI_REGISTRY_ARGS_INIT;
	fetch_pull_opts po = {};
	bool quiet = false;
	int c, r = 0;

	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, ":qh", opts, NULL)) >= 0) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'p':
			po.platform = optarg;
			break;
		case 'j':
			r = parse_count(optarg, &po.parallel);
			break;
		case 'h':
			usage(stdout);
			cli_registry_args_done(&ra);
			return 0;
		default:
			r = cli_registry_option(&ra, "pull", c, optarg);
			r = r == 1 ? 0 : r == 0 ? cli_option_error("pull", c, argv) : r;
		}
	}
	if (r == 0 && argc - optind != 1)
		r = cli_usage_error("pull", "needs exactly one NAME[:TAG|@DIGEST]");
	if (r == 0 && cli_registries_load(ctx, &ra, &conf) < 0)
		r = 1;
	if (r == 0 && fetch_auth_new(NULL, &auth) < 0)
		r = (log_error("Out of memory"), 1);
	cli_registry_args_done(&ra);
	if (r != 0)
		return r;
	po.registries = conf;
	po.auth = auth;
	return do_pull(ctx, argv[optind], &po, quiet);
}
