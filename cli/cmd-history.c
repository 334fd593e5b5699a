/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-history.c: `berth history [-q] [--no-trunc] [-H=false] IMAGE`: the image's history,
 * newest first, in the columns of `docker history`. History entries that made a layer are matched
 * to the image's layers in order, for their sizes; a config whose history does not match its
 * layers gets one row per layer instead.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "fetch/oci.h"
#include "store/image.h"
#include "store/tree.h"
#include "util/fileio.h"
#include "util/log.h"

#define CREATED_BY_WIDTH 45

typedef struct hrow {
	const fetch_oci_history *h; /* NULL: a layer the history does not describe */
	bool has_layer;
	uint64_t size;
} hrow;

static int layer_size(store *s, const store_layer *layer, uint64_t *ret)
{
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	uint64_t sum = 0;
	int r;

	if ((r = store_tree_load(s, &layer->tree, &t, NULL)) < 0)
		return r;
	for (size_t i = 0; i < store_tree_count(t); i++) {
		const store_entry *e = store_tree_entry(t, i);
		if (e->type == STORE_ENTRY_REG)
			sum += e->content.size;
	}
	*ret = sum;
	return 0;
}

/* Oldest first. */
static int build_rows(store *s, const store_image *img, const fetch_oci_config *c, hrow **ret,
		      size_t *ret_n)
{
	size_t non_empty = 0, n, li = 0;
	bool use_history;
	hrow *rows;
	int r;

	for (size_t i = 0; i < c->n_history; i++)
		non_empty += !c->history[i].empty_layer;
	use_history = c->n_history > 0 && non_empty == img->n_layers;
	n = use_history ? c->n_history : img->n_layers;
	rows = calloc(n + 1, sizeof(hrow));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rows[i].h = use_history ? &c->history[i] : NULL;
		rows[i].has_layer = !use_history || !c->history[i].empty_layer;
		if (rows[i].has_layer &&
		    (r = layer_size(s, &img->layers[li++], &rows[i].size)) < 0) {
			free(rows);
			return r;
		}
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

/* Tabs and newlines as spaces; cut to CREATED_BY_WIDTH characters with an ellipsis. */
static char *created_by(const char *s, bool trunc)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	size_t chars = 0;

	for (const char *p = s ? s : ""; *p; p++) {
		bool lead = ((unsigned char)*p & 0xc0) != 0x80;
		if (trunc && lead && ++chars > CREATED_BY_WIDTH - 1) {
			/* Is there more than one character left? Then cut here. */
			const char *q = p + 1;
			while (*q && ((unsigned char)*q & 0xc0) == 0x80)
				q++;
			if (*q) {
				buf_append_str(&b, "…");
				break;
			}
		}
		buf_append_byte(&b, *p == '\t' || *p == '\n' ? ' ' : (uint8_t)*p);
	}
	return b.data ? buf_steal(&b) : strdup("");
}

static int print_history(const store_digest *id, const hrow *rows, size_t n, bool quiet,
			 bool no_trunc, bool human)
{
	_cleanup_(cli_table_freep) cli_table *t = cli_table_new(5);
	static const char *header[] = { "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT" };
	int r;

	if (!t || (!quiet && (r = cli_table_add(t, header)) < 0))
		return -ENOMEM;
	for (size_t k = n; k-- > 0;) {
		const hrow *rw = &rows[k];
		char img[STORE_DIGEST_STR_LEN] = "<missing>", when[64] = "N/A", size[32];
		_cleanup_free_ char *by = NULL;
		if (k == n - 1) {
			if (no_trunc)
				store_digest_str(id, img);
			else
				cli_short_id(id, img);
		}
		if (quiet) {
			printf("%s\n", img);
			continue;
		}
		if (rw->h && rw->h->created)
			human ? cli_format_ago(rw->h->created_unix, when, sizeof(when))
			      : (void)snprintf(when, sizeof(when), "%s", rw->h->created);
		if (human)
			format_size(rw->size, size, sizeof(size));
		else
			snprintf(size, sizeof(size), "%llu", (unsigned long long)rw->size);
		if (!(by = created_by(rw->h ? rw->h->created_by : "", !no_trunc)))
			return -ENOMEM;
		const char *cells[] = { img, when, by, size,
					rw->h && rw->h->comment ? rw->h->comment : "" };
		if ((r = cli_table_add(t, cells)) < 0)
			return r;
	}
	if (!quiet)
		cli_table_print(t, stdout);
	return 0;
}

static int history(store *s, const store_digest *id, bool quiet, bool no_trunc, bool human)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = NULL;
	_cleanup_(buf_done) buf cfg = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	_cleanup_free_ hrow *rows = NULL;
	size_t n = 0;
	int r;

	if ((r = store_image_load(s, id, &img)) < 0 || (r = store_image_config(s, img, &cfg)) < 0)
		return log_error_errno(r, "Failed to read the image: %m");
	if ((r = fetch_oci_config_parse(cfg.data, cfg.len, &c, &err)) < 0)
		return log_error_errno(r, "The image's config is invalid: %s",
				       berth_error_message(&err, r));
	if ((r = build_rows(s, img, c, &rows, &n)) < 0)
		return log_error_errno(r, "Failed to read the image's layers: %m");
	if ((r = print_history(id, rows, n, quiet, no_trunc, human)) < 0)
		return log_error_errno(r, "Failed to print the history: %m");
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: berth history [OPTIONS] IMAGE\n\n"
		   "Show the history of an image, newest first.\n\n"
		   "Options:\n"
		   "  -H, --human=BOOL  sizes and dates for people (default true)\n"
		   "      --no-trunc    do not truncate output\n"
		   "  -q, --quiet       only image IDs\n"
		   "  -h, --help        show this help\n");
}

int cli_cmd_history(cli_ctx *ctx, int argc, char **argv)
{
	enum {
		OPT_NO_TRUNC = 0x100
	};
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-trunc", no_argument, NULL, OPT_NO_TRUNC },
		{ "human", optional_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool quiet = false, no_trunc = false, human = true;
	store_digest id;
	int c;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qH::h", opts, NULL)) >= 0) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case OPT_NO_TRUNC:
			no_trunc = true;
			break;
		case 'H':
			if (optarg && optarg[0] == '=') /* -H=false, as Docker's flags allow */
				optarg++;
			if (optarg && !streq(optarg, "true") && !streq(optarg, "false"))
				return cli_usage_error("history", "--human takes true or false");
			human = !optarg || streq(optarg, "true");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_option_error("history", c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("history", "needs exactly one IMAGE");
	if (!(s = cli_store(ctx)))
		return 1;
	if (cli_image_resolve_or_report(s, argv[optind], &id, NULL) < 0)
		return 1;
	return history(s, &id, quiet, no_trunc, human) < 0 ? 1 : 0;
}
