/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-images.c: `berth images [-a] [-q] [--no-trunc] [--digests] [REPOSITORY[:TAG]]`:
 * one row per name, plus one "<none>" row per image without a name, newest first, in the
 * columns of `docker images`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "fetch/oci.h"
#include "fetch/reference.h"
#include "store/image.h"
#include "store/ref.h"
#include "util/fileio.h"
#include "util/log.h"

typedef struct row {
	char *repo, *tag; /* familiar repository and tag, or NULL for <none> */
	store_digest id;
	int64_t created;
	bool has_created;
	uint64_t size;
} row;

typedef struct lister {
	store *s;
	row *rows;
	size_t n;
	const char *filter_repo; /* store repository "docker.io/library/x", or NULL */
	const char *filter_name; /* store name with tag, or NULL */
	store_ref *refs;
	size_t n_refs;
	int error;
} lister;

static void rows_free(lister *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->rows[i].repo);
		free(l->rows[i].tag);
	}
	free(l->rows);
	store_ref_list_free(l->refs, l->n_refs);
}

/* Fills the image's created time and size (looked up once per image). */
static int image_info(lister *l, row *rw)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = NULL;
	_cleanup_(buf_done) buf cfg = BUF_INIT;
	int r;

	for (size_t i = 0; i < l->n; i++)
		if (&l->rows[i] != rw && store_digest_eq(&l->rows[i].id, &rw->id)) {
			rw->created = l->rows[i].created;
			rw->has_created = l->rows[i].has_created;
			rw->size = l->rows[i].size;
			return 0;
		}
	if ((r = store_image_load(l->s, &rw->id, &img)) < 0 ||
	    (r = store_image_config(l->s, img, &cfg)) < 0)
		return r;
	if (fetch_oci_config_parse(cfg.data, cfg.len, &c, NULL) >= 0 && c->created) {
		rw->created = c->created_unix;
		rw->has_created = true;
	}
	if (store_image_content_size(l->s, &rw->id, &rw->size) < 0)
		rw->size = 0;
	return 0;
}

static int add_row(lister *l, const char *store_name, const store_digest *id)
{
	row *v = realloc(l->rows, (l->n + 1) * sizeof(row));
	char *fam, *colon;

	if (!v)
		return -ENOMEM;
	l->rows = v;
	v[l->n] = (row){ .id = *id };
	if (store_name) {
		if (!(fam = cli_familiar(store_name)))
			return -ENOMEM;
		colon = strrchr(fam, ':');
		v[l->n].tag = strdup(colon ? colon + 1 : "<none>");
		if (colon)
			*colon = '\0';
		v[l->n].repo = fam;
		if (!v[l->n].tag)
			return -ENOMEM;
	}
	l->n++;
	return image_info(l, &l->rows[l->n - 1]);
}

static bool matches(const lister *l, const char *store_name)
{
	if (l->filter_name)
		return streq(store_name, l->filter_name);
	if (l->filter_repo) {
		size_t n = strlen(l->filter_repo);
		return strneq(store_name, l->filter_repo, n) && store_name[n] == ':';
	}
	return true;
}

static int add_unnamed(store *s, const store_digest *id, void *userdata)
{
	lister *l = userdata;

	for (size_t i = 0; i < l->n_refs; i++)
		if (store_digest_eq(&l->refs[i].id, id))
			return 0;
	l->error = add_row(l, NULL, id);
	return l->error < 0 ? l->error : 0;
}

static int collect(lister *l, bool named_only)
{
	int r;

	if ((r = store_ref_list(l->s, &l->refs, &l->n_refs)) < 0)
		return r;
	for (size_t i = 0; i < l->n_refs && r >= 0; i++)
		if (matches(l, l->refs[i].name) && store_image_exists(l->s, &l->refs[i].id) > 0)
			r = add_row(l, l->refs[i].name, &l->refs[i].id);
	/* Then every image no name points at: the "<none>" rows. */
	if (r >= 0 && !named_only)
		r = store_image_foreach(l->s, add_unnamed, l);
	return r;
}

static int cmp_rows(const void *a, const void *b)
{
	const row *x = a, *y = b;
	int c;

	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	if ((c = strcmp(x->repo ? x->repo : "\x7f", y->repo ? y->repo : "\x7f")) != 0)
		return c;
	if ((c = strcmp(x->tag ? x->tag : "", y->tag ? y->tag : "")) != 0)
		return c;
	return memcmp(x->id.b, y->id.b, STORE_DIGEST_LEN);
}

static int print_rows(const lister *l, bool quiet, bool no_trunc, bool digests)
{
	_cleanup_(cli_table_freep) cli_table *t = cli_table_new(digests ? 6 : 5);
	int r;

	if (!t)
		return -ENOMEM;
	if (!quiet) {
		const char *h[] = { "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE" };
		const char *h5[] = { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" };
		if ((r = cli_table_add(t, digests ? h : h5)) < 0)
			return r;
	}
	for (size_t i = 0; i < l->n; i++) {
		const row *rw = &l->rows[i];
		char id[STORE_DIGEST_STR_LEN], ago[64], size[16];
		if (no_trunc)
			store_digest_str(&rw->id, id);
		else
			cli_short_id(&rw->id, id);
		if (quiet) {
			printf("%s\n", id);
			continue;
		}
		if (rw->has_created)
			cli_format_ago(rw->created, ago, sizeof(ago));
		else
			snprintf(ago, sizeof(ago), "N/A");
		format_size(rw->size, size, sizeof(size));
		const char *repo = rw->repo ? rw->repo : "<none>",
			   *tag = rw->tag ? rw->tag : "<none>";
		const char *c6[] = { repo, tag, "<none>", id, ago, size };
		const char *c5[] = { repo, tag, id, ago, size };
		if ((r = cli_table_add(t, digests ? c6 : c5)) < 0)
			return r;
	}
	if (!quiet)
		cli_table_print(t, stdout);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: berth images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
		"List images: one row per name, and a <none> row for each unnamed image.\n\n"
		"Options:\n"
		"  -a, --all         show all images (berth has no intermediate images: the same)\n"
		"      --digests     show a DIGEST column\n"
		"      --no-trunc    show full image IDs\n"
		"  -q, --quiet       only image IDs\n"
		"  -h, --help        show this help\n");
}

/* REPOSITORY (all its tags) or REPOSITORY:TAG (that one). */
static int parse_filter(const char *arg, char **ret_repo, char **ret_name)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_reference ref = {};
	const char *slash = strrchr(arg, '/'), *colon = strrchr(arg, ':');
	int r;

	if ((r = fetch_reference_parse(arg, &ref, &err)) < 0)
		return cli_usage_error("images", "%s", berth_error_message(&err, r));
	if (colon && (!slash || colon > slash) && ref.tag)
		r = fetch_reference_store_name(&ref, ret_name);
	else
		r = fetch_reference_repository(&ref, ret_repo);
	fetch_reference_done(&ref);
	return r < 0 ? log_error_errno(r, "Out of memory"), 1 : 0;
}

int cli_cmd_images(cli_ctx *ctx, int argc, char **argv)
{
	enum {
		OPT_NO_TRUNC = 0x100,
		OPT_DIGESTS
	};
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-trunc", no_argument, NULL, OPT_NO_TRUNC },
		{ "digests", no_argument, NULL, OPT_DIGESTS },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_free_ char *repo = NULL, *name = NULL;
	bool quiet = false, no_trunc = false, digests = false;
	lister l = {};
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":aqh", opts, NULL)) >= 0) {
		switch (c) {
		case 'a':
			break;
		case 'q':
			quiet = true;
			break;
		case OPT_NO_TRUNC:
			no_trunc = true;
			break;
		case OPT_DIGESTS:
			digests = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_option_error("images", c, argv);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("images", "takes at most one REPOSITORY[:TAG]");
	if (argc - optind == 1 && (r = parse_filter(argv[optind], &repo, &name)) != 0)
		return r;
	if (!(l.s = cli_store(ctx)))
		return 1;
	l.filter_repo = repo;
	l.filter_name = name;
	r = collect(&l, repo || name);
	if (r >= 0) {
		if (l.n > 1)
			qsort(l.rows, l.n, sizeof(row), cmp_rows);
		r = print_rows(&l, quiet, no_trunc, digests);
	}
	rows_free(&l);
	if (r < 0)
		return log_error_errno(r, "Failed to list images: %m"), 1;
	return 0;
}
