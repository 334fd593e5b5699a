/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-import.c: `berth import [-c CHANGE]... [-m MSG] FILE|- [REPOSITORY[:TAG]]`: a root
 * filesystem tarball (plain, gzip or zstd) becomes a one-layer image, as with `docker import`;
 * prints the new image's ID.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "fetch/import.h"
#include "util/log.h"
#include "util/progress.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: berth import [OPTIONS] FILE|- [REPOSITORY[:TAG]]\n\n"
		   "Import the contents of a root filesystem tarball (plain, gzip or zstd) as a\n"
		   "one-layer image, and print its ID.\n\n"
		   "Options:\n"
		   "  -c, --change INSTR    apply a Dockerfile instruction to the image's config\n"
		   "                        (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME,\n"
		   "                        WORKDIR, STOPSIGNAL); may be repeated\n"
		   "  -m, --message MSG     the history comment (default \"Imported from FILE\")\n"
		   "  -h, --help            show this help\n");
}

static int open_input(const char *path, uint64_t *ret_size)
{
	struct stat st;
	int fd;

	if (streq(path, "-")) {
		if (isatty(STDIN_FILENO))
			return log_error_errno(-EINVAL,
					       "Refusing to read a tarball from a terminal: "
					       "pipe one in or name a file");
		fd = STDIN_FILENO;
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return log_error_errno(negative_errno(), "Failed to open '%s': %m", path);
	*ret_size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	return fd;
}

static int validate_changes(char **changes)
{
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = fetch_oci_config_new();

	if (!c)
		return log_error_errno(-ENOMEM, "Out of memory");
	for (size_t i = 0; changes && changes[i]; i++) {
		berth_error err = BERTH_ERROR_INIT;
		int r = fetch_import_apply_change(c, changes[i], &err);
		if (r < 0)
			return cli_usage_error("import", "invalid --change '%s': %s", changes[i],
					       berth_error_message(&err, r));
	}
	return 0;
}

int cli_cmd_import(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "change", required_argument, NULL, 'c' },
		{ "message", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(fetch_strv_freep) char **changes = NULL;
	_cleanup_free_ char *name = NULL;
	berth_error err = BERTH_ERROR_INIT;
	const char *message = NULL, *src;
	fetch_import_opts io = {};
	uint64_t size = 0;
	store_digest id;
	char ids[STORE_DIGEST_STR_LEN];
	progress p;
	int c, r, fd;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:m:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			if (fetch_strv_push(&changes, optarg) < 0)
				return log_error_errno(-ENOMEM, "Out of memory"), 1;
			break;
		case 'm':
			message = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_option_error("import", c, argv);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_error("import", "needs FILE|- and at most one REPOSITORY[:TAG]");
	src = argv[optind];
	if (argc - optind == 2 && cli_parse_store_name("import", argv[optind + 1], &name) < 0)
		return 2;
	if (validate_changes(changes) != 0)
		return 2;
	if (!(s = cli_store(ctx)))
		return 1;
	if ((fd = open_input(src, &size)) < 0)
		return 1;
	progress_init(&p, "Importing", size);
	io = (fetch_import_opts){ .changes = changes,
				  .message = message,
				  .source = src,
				  .ref_name = name,
				  .progress = cli_progress_cb,
				  .userdata = &p };
	r = fetch_import_fd(s, fd, &io, &id, &err);
	if (fd != STDIN_FILENO)
		close(fd);
	progress_done(&p, size);
	if (r < 0) {
		log_error_errno(r, "Failed to import '%s': %s", src, berth_error_message(&err, r));
		return 1;
	}
	store_digest_str(&id, ids);
	printf("%s\n", ids);
	return 0;
}
