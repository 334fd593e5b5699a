/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-save.c: `berth save [-o FILE] IMAGE...`: images as a tar of an OCI image layout (with
 * a docker-save manifest.json), to FILE or stdout. FILE is written under a temporary name and
 * renamed into place when complete, so a failed save leaves no partial archive behind.
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
#include "util/log.h"
#include "util/progress.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: berth save [OPTIONS] IMAGE [IMAGE...]\n\n"
		   "Save images (by name or ID) to a tar archive of an OCI image layout, readable\n"
		   "by berth load, docker load, podman load, skopeo and umoci.\n\n"
		   "Options:\n"
		   "  -o, --output FILE  write to FILE instead of stdout\n"
		   "  -h, --help         show this help\n");
}

typedef struct named {
	fetch_save_image *v;
	char **names; /* owned */
	size_t n;
} named;

static void named_done(named *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->names[i]);
	free(n->names);
	free(n->v);
}

static int resolve_all(store *s, char **args, size_t n_args, named *ret)
{
	int failed = 0;

	ret->v = calloc(n_args, sizeof(*ret->v));
	ret->names = calloc(n_args, sizeof(char *));
	if (!ret->v || !ret->names)
		return log_error_errno(-ENOMEM, "Out of memory");
	for (size_t i = 0; i < n_args; i++) {
		if (cli_image_resolve_or_report(s, args[i], &ret->v[i].id, &ret->names[i]) < 0)
			failed = -ENOENT;
		ret->v[i].name = ret->names[i];
		ret->n++;
	}
	return failed;
}

static void warn_rewritten(const named *n, const fetch_save_result *res)
{
	for (size_t i = 0; i < res->n_images; i++) {
		char a[STORE_DIGEST_STR_LEN], b[STORE_DIGEST_STR_LEN];
		_cleanup_free_ char *who = NULL;
		if (store_digest_eq(&res->images[i].id, &res->images[i].saved_id))
			continue;
		store_digest_str(&res->images[i].id, a);
		store_digest_str(&res->images[i].saved_id, b);
		for (size_t k = 0; k < n->n && !who; k++)
			if (store_digest_eq(&n->v[k].id, &res->images[i].id) && n->names[k])
				who = cli_familiar(n->names[k]);
		log_warning("The saved image '%s' has ID %s, not %s: a layer without its original "
			    "tar was written in canonical form, with a new DiffID",
			    who ? who : a, b, a);
	}
}

/* The output: a temp file beside FILE (renamed at the end), or stdout. */
static int open_output(const char *path, char **ret_tmp)
{
	_cleanup_free_ char *tmp = NULL;
	int fd;

	if (!path) {
		if (isatty(STDOUT_FILENO))
			return log_error_errno(-EINVAL,
					       "Cowardly refusing to save to a terminal: use "
					       "the -o flag or redirect");
		return STDOUT_FILENO;
	}
	if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
		return log_error_errno(-ENOMEM, "Out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(negative_errno(), "Failed to create '%s': %m", path);
	/* Archives are not secrets: the usual 0666 & ~umask, not mkostemp's 0600. */
	mode_t um = umask(0);
	umask(um);
	(void)fchmod(fd, 0666 & ~um);
	*ret_tmp = TAKE_PTR(tmp);
	return fd;
}

static int finish_output(int fd, const char *path, char *tmp, int r)
{
	if (!tmp)
		return r;
	if (r >= 0 && fsync(fd) < 0)
		r = log_error_errno(negative_errno(), "Failed to write '%s': %m", path);
	close(fd);
	if (r >= 0 && rename(tmp, path) < 0)
		r = log_error_errno(negative_errno(), "Failed to write '%s': %m", path);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

int cli_cmd_save(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	berth_error err = BERTH_ERROR_INIT;
	fetch_save_result res = {};
	const char *output = NULL;
	char *tmp = NULL;
	named n = {};
	static const char *const labels[] = { "Packing layers", "Writing" };
	cli_phases ph;
	int c, r, fd;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_option_error("save", c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error("save", "needs at least one IMAGE");
	if (output && !output[0])
		return cli_usage_error("save", "-o needs a file name");
	if (!(s = cli_store(ctx)))
		return 1;
	if (resolve_all(s, argv + optind, (size_t)(argc - optind), &n) < 0) {
		named_done(&n);
		return 1;
	}
	if ((fd = open_output(output, &tmp)) < 0) {
		named_done(&n);
		return 1;
	}
	cli_phases_init(&ph, labels);
	fetch_save_opts so = { .progress = cli_phases_cb, .userdata = &ph };
	r = fetch_layout_save(s, n.v, n.n, fd, &so, &res, &err);
	cli_phases_done(&ph, r >= 0);
	if (r < 0)
		log_error_errno(r, "Failed to save: %s", berth_error_message(&err, r));
	r = finish_output(fd, output, tmp, r);
	if (r >= 0)
		warn_rewritten(&n, &res);
	fetch_save_result_done(&res);
	named_done(&n);
	return r < 0 ? 1 : 0;
}
