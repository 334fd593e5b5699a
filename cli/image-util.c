/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli/image-util.c: naming images, Docker-style tables and ages, progress glue. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "fetch/oci.h"
#include "fetch/reference.h"
#include "store/image.h"
#include "store/ref.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/progress.h"

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int cli_image_resolve(store *s, const char *arg, store_digest *ret, char **ret_name)
{
	fetch_reference ref = {};
	_cleanup_free_ char *name = NULL;
	store_digest d;
	int r;

	if (strneq(arg, "sha256:", 7))
		return store_image_resolve_prefix(s, arg, ret);
	if (fetch_reference_parse(arg, &ref, NULL) >= 0) {
		r = fetch_reference_store_name(&ref, &name);
		fetch_reference_done(&ref);
		if (r >= 0 && store_ref_get(s, name, &d) >= 0) {
			if (ret_name)
				*ret_name = TAKE_PTR(name);
			*ret = d;
			return 0;
		}
	}
	if (strlen(arg) >= 4 && is_hex(arg))
		return store_image_resolve_prefix(s, arg, ret);
	return -ENOENT;
}

int cli_image_resolve_or_report(store *s, const char *arg, store_digest *ret, char **ret_name)
{
	int r = cli_image_resolve(s, arg, ret, ret_name);

	if (r == -ENOENT)
		fprintf(stderr, "Error: No such image: %s\n", arg);
	else if (r == -ENOTUNIQ)
		fprintf(stderr, "Error: '%s' is an ambiguous image ID prefix\n", arg);
	else if (r < 0)
		log_error_errno(r, "Failed to look up image '%s': %m", arg);
	return r;
}

int cli_parse_store_name(const char *verb, const char *arg, char **ret)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_reference ref = {};
	int r;

	r = fetch_reference_parse(arg, &ref, &err);
	if (r < 0)
		return log_error_errno(r, "%s: %s", verb, berth_error_message(&err, r));
	if (!ref.tag) {
		fetch_reference_done(&ref);
		return log_error_errno(-EINVAL,
				       "%s: '%s' has a digest but no tag: an image name "
				       "needs NAME[:TAG]",
				       verb, arg);
	}
	r = fetch_reference_store_name(&ref, ret);
	fetch_reference_done(&ref);
	return r;
}

int cli_image_refs(store *s, const store_digest *id, char ***ret)
{
	store_ref *refs = NULL;
	size_t n = 0;
	char **l = calloc(1, sizeof(char *));
	int r;

	if (!l)
		return -ENOMEM;
	if ((r = store_ref_list(s, &refs, &n)) < 0) {
		free(l);
		return r;
	}
	for (size_t i = 0; i < n && r >= 0; i++)
		if (store_digest_eq(&refs[i].id, id))
			r = fetch_strv_push(&l, refs[i].name);
	store_ref_list_free(refs, n);
	if (r < 0) {
		fetch_strv_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

char *cli_familiar(const char *store_name)
{
	char *f = NULL;

	if (fetch_reference_familiar(store_name, &f) < 0)
		return strdup(store_name);
	return f;
}

void cli_short_id(const store_digest *d, char out[13])
{
	char hex[STORE_DIGEST_HEX_LEN + 1];

	store_digest_hex(d, hex);
	memcpy(out, hex, 12);
	out[12] = '\0';
}

void cli_format_ago(int64_t then_sec, char *out, size_t len)
{
	int64_t secs = (int64_t)time(NULL) - then_sec;
	int64_t mins = secs / 60, hours = mins / 60;

	if (secs < 1)
		snprintf(out, len, "Less than a second ago");
	else if (secs == 1)
		snprintf(out, len, "1 second ago");
	else if (secs < 60)
		snprintf(out, len, "%lld seconds ago", (long long)secs);
	else if (mins == 1)
		snprintf(out, len, "About a minute ago");
	else if (mins < 60)
		snprintf(out, len, "%lld minutes ago", (long long)mins);
	else if (hours == 1)
		snprintf(out, len, "About an hour ago");
	else if (hours < 48)
		snprintf(out, len, "%lld hours ago", (long long)hours);
	else if (hours < 24 * 7 * 2)
		snprintf(out, len, "%lld days ago", (long long)(hours / 24));
	else if (hours < 24 * 30 * 2)
		snprintf(out, len, "%lld weeks ago", (long long)(hours / 24 / 7));
	else if (hours < 24 * 365 * 2)
		snprintf(out, len, "%lld months ago", (long long)(hours / 24 / 30));
	else
		snprintf(out, len, "%lld years ago", (long long)(hours / 24 / 365));
}

/* ---- Tables ---- */

struct cli_table {
	size_t n_cols, n_rows;
	char **cells; /* n_rows * n_cols */
};

cli_table *cli_table_new(size_t n_cols)
{
	cli_table *t = calloc(1, sizeof(*t));

	if (t)
		t->n_cols = n_cols;
	return t;
}

cli_table *cli_table_free(cli_table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	return NULL;
}

int cli_table_add(cli_table *t, const char *const *cells)
{
	char **v = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(char *));

	if (!v)
		return -ENOMEM;
	t->cells = v;
	for (size_t c = 0; c < t->n_cols; c++) {
		v[t->n_rows * t->n_cols + c] = strdup(cells[c] ? cells[c] : "");
		if (!v[t->n_rows * t->n_cols + c]) {
			for (size_t k = 0; k < c; k++)
				free(v[t->n_rows * t->n_cols + k]);
			return -ENOMEM;
		}
	}
	t->n_rows++;
	return 0;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void cli_table_print(const cli_table *t, FILE *f)
{
	_cleanup_free_ size_t *w = calloc(t->n_cols + 1, sizeof(size_t));

	if (!w)
		return;
	for (size_t r = 0; r < t->n_rows; r++)
		for (size_t c = 0; c + 1 < t->n_cols; c++)
			w[c] = MAX(w[c], text_width(t->cells[r * t->n_cols + c]) + 3);
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *cell = t->cells[r * t->n_cols + c];
			fputs(cell, f);
			if (c + 1 < t->n_cols)
				fprintf(f, "%*s", (int)(MAX(w[c], (size_t)10) - text_width(cell)),
					"");
		}
		fputc('\n', f);
	}
}

void cli_progress_cb(void *userdata, uint64_t bytes)
{
	progress_update(userdata, bytes);
}

void cli_phases_init(cli_phases *ph, const char *const *labels)
{
	*ph = (cli_phases){ .labels = labels };
}

void cli_phases_cb(void *userdata, unsigned phase, uint64_t done, uint64_t total)
{
	cli_phases *ph = userdata;

	if (phase >= ELEMENTSOF(ph->totals))
		return;
	if (!total)
		total = ph->totals[phase];
	if (!ph->started || phase != ph->phase) {
		if (ph->started) /* the previous phase is complete */
			progress_done(&ph->p, ph->p.total ? ph->p.total : ph->last);
		progress_init(&ph->p, ph->labels[phase], total);
		ph->started = true;
		ph->phase = phase;
	}
	ph->p.total = total;
	ph->last = done;
	progress_update(&ph->p, done);
}

void cli_phases_done(cli_phases *ph, bool complete)
{
	if (ph->started)
		progress_done(&ph->p, complete && ph->p.total ? ph->p.total : ph->last);
	ph->started = false;
}

int cli_option_error(const char *verb, int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return cli_usage_error(verb, "option '%s' needs an argument", arg);
	/* optopt: the unknown short option; 0 (or a long option's value) when argv says more. */
	if (optopt > 0 && optopt < 0x80 && optopt != '-')
		return cli_usage_error(verb, "unknown option '-%c'", optopt);
	return cli_usage_error(verb, "unknown option '%s'", arg);
}
