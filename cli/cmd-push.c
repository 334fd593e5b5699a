/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-push.c: `berth push [OPTIONS] IMAGE [DESTINATION]`: an image to a registry, printed as
 * `docker push` prints it. Without DESTINATION, IMAGE's name says where it goes (as in Docker);
 * with one, any image (a name or an ID) goes there (as in podman).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "cli/registry-util.h"
#include "fetch/push.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: berth push [OPTIONS] IMAGE [DESTINATION]\n\n"
		"Push an image to a registry, as IMAGE's name (NAME[:TAG]) or as DESTINATION.\n"
		"Layers the registry has already, or can mount from another of its repositories,\n"
		"are not uploaded again.\n\n"
		"Options:\n"
		"  -q, --quiet             print only the pushed reference\n"
		"      --compression ALGO  gzip (default), zstd or none, for layers that must be\n"
		"                          packed\n"
		"      --max-concurrent-uploads N  layers pushed at once (default 3)\n" CLI_REGISTRY_OPTIONS_HELP
		"  -h, --help              show this help\n");
}

typedef struct push_args {
	fetch_push_opts po;
	bool quiet;
} push_args;

static int parse_compression(const char *arg, fetch_compression *ret)
{
	if (streq(arg, "gzip"))
		*ret = FETCH_COMPRESSION_GZIP;
	else if (streq(arg, "zstd"))
		*ret = FETCH_COMPRESSION_ZSTD;
	else if (streq(arg, "none"))
		*ret = FETCH_COMPRESSION_NONE;
	else
		return cli_usage_error("push", "--compression takes gzip, zstd or none, not '%s'",
				       arg);
	return 0;
}

static int parse_count(const char *arg, unsigned *ret)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);

	if (*arg < '0' || *arg > '9' || *end || n < 1 || n > 16)
		return cli_usage_error("push", "--max-concurrent-uploads takes 1 to 16, not '%s'",
				       arg);
	*ret = (unsigned)n;
	return 0;
}

/* The destination: DESTINATION, or IMAGE's own name; with a tag ("latest" if none). */
static int destination(const char *image, const char *dest, const char *image_name,
		       fetch_reference *ret)
{
	berth_error err = BERTH_ERROR_INIT;
	const char *s = dest ? dest : image_name;
	int r;

	if (!s)
		return cli_usage_error("push", "'%s' has no name to push it as: give a DESTINATION",
				       image);
	if ((r = fetch_reference_parse(s, ret, &err)) < 0)
		return cli_usage_error("push", "%s", berth_error_message(&err, r));
	if (ret->has_digest || !ret->tag) {
		fetch_reference_done(ret);
		return cli_usage_error("push", "'%s': a destination has a tag, not a digest", s);
	}
	return 0;
}

static void print_result(const fetch_reference *dst, const fetch_push_result *res, bool quiet)
{
	_cleanup_free_ char *name = NULL;
	char ds[STORE_DIGEST_STR_LEN];

	store_digest_str(&res->digest, ds);
	if (quiet) {
		if (fetch_reference_store_name(dst, &name) >= 0)
			printf("%s\n", name);
		return;
	}
	printf("%s: digest: %s size: %llu\n", dst->tag, ds, (unsigned long long)res->size);
}

static int do_push(cli_ctx *ctx, const char *image, const char *dest, push_args *a)
{
	_cleanup_free_ char *image_name = NULL, *repo = NULL;
	berth_error err = BERTH_ERROR_INIT;
	fetch_push_result res = {};
	fetch_reference dst = {};
	cli_xfer_view *view;
	store_digest id;
	store *s;
	int r;

	if (!(s = cli_store(ctx)))
		return 1;
	if (cli_image_resolve_or_report(s, image, &id, &image_name) < 0)
		return 1;
	if ((r = destination(image, dest, image_name, &dst)) != 0)
		return r;
	if (!a->quiet && fetch_reference_repository(&dst, &repo) >= 0) {
		printf("The push refers to repository [%s]\n", repo);
		fflush(stdout);
	}
	view = cli_xfer_view_new(CLI_XFER_PUSH, a->quiet, stdout);
	a->po.progress = view ? cli_xfer_view_event : NULL;
	a->po.userdata = view;
	r = fetch_push(s, &id, &dst, &a->po, &res, &err);
	cli_xfer_view_free(view);
	if (r < 0)
		log_error_errno(r, "Failed to push '%s': %s", dest ? dest : image,
				berth_error_message(&err, r));
	else
		print_result(&dst, &res, a->quiet);
	fetch_reference_done(&dst);
	return r < 0 ? 1 : 0;
}

int cli_cmd_push(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "compression", required_argument, NULL, 'c' },
		{ "max-concurrent-uploads", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		CLI_REGISTRY_OPTIONS,
		{},
	};
	_cleanup_(fetch_registries_freep) fetch_registries *conf = NULL;
	_cleanup_(fetch_auth_freep) fetch_auth *auth = NULL;
	cli_registry_args ra = CLI_REGISTRY_ARGS_INIT;
	push_args a = { .po = { .compression = FETCH_COMPRESSION_GZIP } };
	int c, r = 0;

	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, ":qh", opts, NULL)) >= 0) {
		switch (c) {
		case 'q':
			a.quiet = true;
			break;
		case 'c':
			r = parse_compression(optarg, &a.po.compression);
			break;
		case 'j':
			r = parse_count(optarg, &a.po.parallel);
			break;
		case 'h':
			usage(stdout);
			cli_registry_args_done(&ra);
			return 0;
		default:
			r = cli_registry_option(&ra, "push", c, optarg);
			r = r == 1 ? 0 : r == 0 ? cli_option_error("push", c, argv) : r;
		}
	}
	if (r == 0 && (argc - optind < 1 || argc - optind > 2))
		r = cli_usage_error("push", "needs IMAGE and at most one DESTINATION");
	if (r == 0 && cli_registries_load(ctx, &ra, &conf) < 0)
		r = 1;
	if (r == 0 && fetch_auth_new(NULL, &auth) < 0)
		r = (log_error("Out of memory"), 1);
	cli_registry_args_done(&ra);
	if (r != 0)
		return r;
	a.po.registries = conf;
	a.po.auth = auth;
	return do_push(ctx, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, &a);
}
