/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/image-util.h: what the image verbs (images, rmi, tag, history, inspect, save, import, load)
 * share: naming images the way Docker's CLI does, columns laid out like its tables, ages and
 * progress.
 *
 * An image is named by NAME[:TAG] (normalized by fetch/reference.h: "busybox" is
 * "docker.io/library/busybox:latest"), by a full or short ID (>= 4 hex digits), or by
 * "sha256:ID". A name that exists as a ref wins over an ID prefix, as in Docker.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "store/digest.h"
#include "store/store.h"

/* -ENOENT, -ENOTUNIQ (ambiguous prefix). ret_name (may be NULL): the store name if named by ref. */
int cli_image_resolve(store *s, const char *arg, store_digest *ret, char **ret_name);
/*
 * Resolves, or reports on stderr why not ("Error: No such image: x") and returns the negative
 * errno. For verbs that go on with their other arguments.
 */
int cli_image_resolve_or_report(store *s, const char *arg, store_digest *ret, char **ret_name);

/* NAME[:TAG] -> store name; logs (as `verb`) and returns -EINVAL if invalid or digest-only. */
int cli_parse_store_name(const char *verb, const char *arg, char **ret);
/* The store names of the refs that point at id, sorted; *ret NULL-terminated. */
int cli_image_refs(store *s, const store_digest *id, char ***ret);
/* The familiar form of a store name, "busybox:latest"; a copy of the input if it cannot say. */
char *cli_familiar(const char *store_name);

/* "12 hex" */
void cli_short_id(const store_digest *d, char out[13]);
/* Docker's units.HumanDuration + " ago": "Less than a second ago", "2 hours ago", ... */
void cli_format_ago(int64_t then_sec, char *out, size_t len);

/*
 * A table laid out as Docker's CLI lays its tables out (Go's tabwriter with minwidth 10,
 * padding 3): each column as wide as its widest cell plus 3, at least 10; the last column
 * unpadded. Widths count characters, not bytes (UTF-8).
 */
typedef struct cli_table cli_table;
cli_table *cli_table_new(size_t n_cols);
cli_table *cli_table_free(cli_table *t);
static inline void cli_table_freep(cli_table **t)
{
	cli_table_free(*t);
}
/* Adds a row of n_cols cells (copied). */
int cli_table_add(cli_table *t, const char *const *cells);
void cli_table_print(const cli_table *t, FILE *f);

#include "util/progress.h"

/* fetch_* progress callbacks: userdata is a util/progress.h `progress *`. */
void cli_progress_cb(void *userdata, uint64_t bytes);

/*
 * Progress of an operation in phases (fetch/layout.h): one progress line per phase, labelled
 * labels[phase]. A phase reported with total 0 uses totals[phase] if the caller knows better
 * (the size of the input file).
 */
typedef struct cli_phases {
	progress p;
	const char *const *labels;
	uint64_t totals[2];
	unsigned phase;
	bool started;
	uint64_t last;
} cli_phases;

void cli_phases_init(cli_phases *ph, const char *const *labels);
void cli_phases_cb(void *userdata, unsigned phase, uint64_t done, uint64_t total);
/* Ends the line; complete: the last phase finished (show it at 100%). */
void cli_phases_done(cli_phases *ph, bool complete);

/*
 * For getopt_long() with an optstring that starts with ':': reports the option error c ('?' or
 * ':') of argv, for verb, as a usage error; returns 2.
 */
int cli_option_error(const char *verb, int c, char **argv);
