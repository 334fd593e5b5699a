/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-load.c: `berth load [-i FILE] [-q] [REPOSITORY]`: images from a tar of an OCI image
 * layout (berth save, docker save, skopeo oci-archive, podman save) or a legacy `docker save`
 * tar, plain or compressed, from FILE or stdin. Prints what it loaded as `docker load` does.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "fetch/layout.h"
#include "fetch/reference.h"
#include "util/log.h"
#include "util/progress.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: berth load [OPTIONS] [REPOSITORY]\n\n"
		"Load images from a tar archive of an OCI image layout or a docker save archive\n"
		"(plain, gzip or zstd), from a file or stdin. Images the archive names only by a\n"
		"tag are named REPOSITORY:TAG if REPOSITORY is given, else left unnamed.\n\n"
		"Options:\n"
		"  -i, --input FILE  read from FILE instead of stdin\n"
		"  -q, --quiet       print nothing but errors\n"
		"  -h, --help        show this help\n");
}

static void print_result(const fetch_load_result *res, bool quiet)
{
	for (size_t i = 0; i < res->n_warnings; i++)
		log_warning("%s", res->warnings[i]);
	if (quiet)
		return;
	for (size_t i = 0; i < res->n_images; i++) {
		const fetch_loaded_image *img = &res->images[i];
		char id[STORE_DIGEST_STR_LEN];
		store_digest_str(&img->id, id);
		for (size_t k = 0; img->names[k]; k++) {
			_cleanup_free_ char *fam = cli_familiar(img->names[k]);
			if (img->had_replaced[k]) {
				char old[STORE_DIGEST_STR_LEN];
				store_digest_str(&img->replaced[k], old);
				printf("The image %s already exists, renaming the old one with ID %s to "
				       "empty string\n",
				       fam, old);
			}
			printf("Loaded image: %s\n", fam);
		}
		if (!img->names[0])
			printf("Loaded image ID: %s\n", id);
	}
}

static int repository_arg(const char *arg, char **ret)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_reference ref = {};
	int r;

	if ((r = fetch_reference_parse(arg, &ref, &err)) < 0)
		return cli_usage_error("load", "%s", berth_error_message(&err, r));
	const char *last = strrchr(arg, '/');
	if (ref.has_digest || strchr(last ? last : arg, ':')) {
		fetch_reference_done(&ref);
		return cli_usage_error("load", "REPOSITORY '%s' must not have a tag or digest",
				       arg);
	}
	r = fetch_reference_repository(&ref, ret);
	fetch_reference_done(&ref);
	return r < 0 ? 1 : 0;
}

int cli_cmd_load(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *repo = NULL;
	berth_error err = BERTH_ERROR_INIT;
	fetch_load_result res = {};
	const char *input = NULL;
	bool quiet = false;
	uint64_t size = 0;
	struct stat st;
	static const char *const labels[] = { "Reading", "Loading layers" };
	cli_phases ph;
	int c, r, fd;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:qh", opts, NULL)) >= 0) {
		switch (c) {
		case 'i':
			input = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_option_error("load", c, argv);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("load", "takes at most one REPOSITORY");
	if (argc - optind == 1 && (r = repository_arg(argv[optind], &repo)) != 0)
		return r;
	if (!input || streq(input, "-")) {
		if (isatty(STDIN_FILENO))
			return log_error(
				       "Requested load from stdin, but stdin is a terminal: use -i "
				       "FILE or redirect"),
			       1;
		fd = STDIN_FILENO;
	} else if ((fd = open(input, O_RDONLY | O_CLOEXEC)) < 0)
		return log_error_errno(negative_errno(), "Failed to open '%s': %m", input), 1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	if (!(s = cli_store(ctx))) {
		if (fd != STDIN_FILENO)
			close(fd);
		return 1;
	}
	cli_phases_init(&ph, labels);
	ph.totals[0] = size;
	fetch_load_opts lo = { .repository = repo, .progress = cli_phases_cb, .userdata = &ph };
	r = fetch_layout_load(s, fd, &lo, &res, &err);
	cli_phases_done(&ph, r >= 0);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r < 0)
		return log_error_errno(r, "Failed to load '%s': %s", input ? input : "-",
				       berth_error_message(&err, r)),
		       1;
	print_result(&res, quiet);
	fetch_load_result_done(&res);
	return 0;
}
