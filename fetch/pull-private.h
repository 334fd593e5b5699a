/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fetch/pull-private.h: what fetch/pull.c and fetch/pull-layers.c share. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "fetch/pull.h"
#include "store/image.h"
#include "util/buf.h"

typedef struct puller {
	store *s;
	const fetch_reference *ref;
	const fetch_pull_opts *opts;
	berth_error *reterr;
	fetch_auth *auth;
	const fetch_oci_platform *want; /* NULL: this machine */
	fetch_http *http;		/* the calling thread's */
	fetch_registry *reg;
	fetch_pull_result *res;

	fetch_oci_manifest *m;
	buf config; /* the config's bytes, as received */
	fetch_oci_config *c;
	store_layer *layers; /* m->n_layers, filled by pull_layers() */

	pthread_mutex_t lock; /* progress calls, the job queue, the first error */
	atomic_bool failed;   /* a layer failed: the others stop */
} puller;

/* Prefixes reterr's detail with a context ("layer 2 (sha256:...)"); returns r. */
int pull_context(puller *p, int r, const char *fmt, ...) _printf_(3, 4);
/* Adds a warning to the result. */
int pull_warn(puller *p, const char *fmt, ...) _printf_(2, 3);

/* Step 3 of fetch/pull.h: every layer of p->m into p->layers, reused or downloaded. */
int pull_layers(puller *p);
