/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cli/registry-util.c: registry options and the per-layer progress view. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/image-util.h"
#include "cli/registry-util.h"
#include "fetch/oci.h"
#include "util/fileio.h"
#include "util/log.h"

#define BAR_WIDTH 50

int cli_registry_option(cli_registry_args *a, const char *verb, int c, const char *arg)
{
	if (c == CLI_REGISTRY_OPT_INSECURE)
		return fetch_strv_push(&a->insecure, arg) < 0 ? 2 : 1;
	if (c != CLI_REGISTRY_OPT_TLS_VERIFY)
		return 0;
	if (!arg || streq(arg, "true") || streq(arg, "1") || streq(arg, "yes"))
		a->tls_verify = 1;
	else if (streq(arg, "false") || streq(arg, "0") || streq(arg, "no"))
		a->tls_verify = 0;
	else
		return cli_usage_error(verb, "--tls-verify takes true or false, not '%s'", arg);
	return 1;
}

void cli_registry_args_done(cli_registry_args *a)
{
	a->insecure = fetch_strv_free(a->insecure);
}

int cli_registries_load(cli_ctx *ctx, const cli_registry_args *a, fetch_registries **ret)
{
	_cleanup_(fetch_registries_freep) fetch_registries *conf = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int r;

	if ((r = fetch_registries_new(&conf)) < 0)
		return log_error_errno(r, "Failed to allocate: %m");
	if ((r = fetch_registries_load(conf, ctx->root, &err)) < 0)
		return log_error_errno(r, "Failed to read the registries configuration: %s",
				       berth_error_message(&err, r));
	for (size_t i = 0; a->insecure && a->insecure[i]; i++)
		if ((r = fetch_registries_add_insecure(conf, a->insecure[i])) < 0)
			return log_error_errno(r, "Invalid --insecure-registry '%s'",
					       a->insecure[i]);
	fetch_registries_set_tls_verify(conf, a->tls_verify);
	*ret = TAKE_PTR(conf);
	return 0;
}

/* ---- Progress ---- */

typedef struct line {
	size_t index;
	char id[13];
	fetch_blob_state state;
	bool shown;
	uint64_t start_ns;
} line;

struct cli_xfer_view {
	cli_xfer_kind kind;
	bool quiet, tty;
	FILE *f;
	line *lines;
	size_t n_lines;
};

cli_xfer_view *cli_xfer_view_new(cli_xfer_kind kind, bool quiet, FILE *f)
{
	cli_xfer_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->kind = kind;
	v->quiet = quiet;
	v->f = f;
	v->tty = isatty(fileno(f)) == 1 && !getenv("BERTH_NO_TTY");
	return v;
}

void cli_xfer_view_free(cli_xfer_view *v)
{
	if (!v)
		return;
	fflush(v->f);
	free(v->lines);
	free(v);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *label(const cli_xfer_view *v, const fetch_blob_event *e)
{
	bool pull = v->kind == CLI_XFER_PULL;

	switch (e->state) {
	case FETCH_BLOB_WAITING:
		return pull ? "Pulling fs layer" : "Waiting";
	case FETCH_BLOB_EXISTS:
		return pull ? "Already exists" : "Layer already exists";
	case FETCH_BLOB_PREPARING:
		return "Preparing";
	case FETCH_BLOB_TRANSFER:
		return pull ? "Downloading" : "Pushing";
	case FETCH_BLOB_RETRYING:
		return ""; /* the detail says it all */
	case FETCH_BLOB_MOUNTED:
		return "Mounted from";
	case FETCH_BLOB_DONE:
		return pull ? "Pull complete" : "Pushed";
	}
	return "";
}

static line *line_for(cli_xfer_view *v, const fetch_blob_event *e, size_t *ret_row)
{
	line *n;

	for (size_t i = 0; i < v->n_lines; i++)
		if (v->lines[i].index == e->index) {
			*ret_row = i;
			return &v->lines[i];
		}
	if (!(n = realloc(v->lines, (v->n_lines + 1) * sizeof(*n))))
		return NULL;
	v->lines = n;
	n = &v->lines[v->n_lines];
	*n = (line){ .index = e->index, .state = (fetch_blob_state)-1 };
	cli_short_id(&e->digest, n->id);
	*ret_row = v->n_lines++;
	return n;
}

/* "[=====>      ]  1.2MB/3.4MB  5.6MB/s" */
static void format_bar(const line *l, const fetch_blob_event *e, char *out, size_t len)
{
	char cur[16], tot[16], rate[16];
	unsigned fill = e->total ? (unsigned)(e->current * BAR_WIDTH / e->total) : 0;
	char bar[BAR_WIDTH + 1];
	double secs = (double)(now_ns() - l->start_ns) / 1e9;

	for (unsigned i = 0; i < BAR_WIDTH; i++)
		bar[i] = i + 1 < fill ? '=' : i + 1 == fill ? '>' : ' ';
	bar[BAR_WIDTH] = '\0';
	format_size(e->current, cur, sizeof(cur));
	format_size(e->total, tot, sizeof(tot));
	/* No speed until there is something to average over. */
	if (secs > 0.2 && e->current > 0) {
		format_size((uint64_t)((double)e->current / secs), rate, sizeof(rate));
		snprintf(out, len, " [%s] %8s/%s  %s/s", bar, cur, tot, rate);
	} else
		snprintf(out, len, " [%s] %8s/%s", bar, cur, tot);
}

static void format_line(const line *l, const cli_xfer_view *v, const fetch_blob_event *e,
			bool with_bar, char *out, size_t len)
{
	char bar[128] = "";

	if (with_bar && e->state == FETCH_BLOB_TRANSFER && e->total > 0)
		format_bar(l, e, bar, sizeof(bar));
	const char *lb = label(v, e);

	snprintf(out, len, "%s: %s%s%s%s", l->id, lb, lb[0] && e->detail ? " " : "",
		 e->detail ? e->detail : "", bar);
}

void cli_xfer_view_event(void *userdata, const fetch_blob_event *e)
{
	cli_xfer_view *v = userdata;
	char text[512];
	size_t row;
	line *l;
	bool changed;

	if (v->quiet || !(l = line_for(v, e, &row)))
		return;
	changed = l->state != e->state;
	if (e->state == FETCH_BLOB_TRANSFER && changed)
		l->start_ns = now_ns();
	l->state = e->state;
	if (!v->tty) {
		/* Logs get one line per change of state, no bars. */
		if (changed || e->state == FETCH_BLOB_RETRYING) {
			format_line(l, v, e, false, text, sizeof(text));
			fprintf(v->f, "%s\n", text);
		}
		return;
	}
	format_line(l, v, e, true, text, sizeof(text));
	if (!l->shown) {
		/* A new line goes below the others, where the cursor rests. */
		fprintf(v->f, "%s\n", text);
		l->shown = true;
	} else {
		size_t up = v->n_lines - row;
		fprintf(v->f, "\033[%zuA\r\033[2K%s\033[%zuB\r", up, text, up);
	}
	fflush(v->f);
}

int cli_registry_server(const char *arg, char **ret)
{
	const char *s = arg ? arg : "docker.io";
	char *h;
	size_t n;

	if (strneq(s, "https://", 8))
		s += 8;
	else if (strneq(s, "http://", 7))
		s += 7;
	n = strcspn(s, "/");
	if (n == 0 || n > 255)
		return -EINVAL;
	if (!(h = strndup(s, n)))
		return -ENOMEM;
	for (char *c = h; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr(".-:[]_", *c)) {
			free(h);
			return -EINVAL;
		}
	if (streq(h, "index.docker.io") || streq(h, "registry-1.docker.io")) {
		free(h);
		h = strdup("docker.io");
	}
	*ret = h;
	return h ? 0 : -ENOMEM;
}
