/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/parallel.h: a few worker threads over a list of blob transfers, for pull and push.
 *
 * Each worker has its own fetch_http (connections are per thread) and SIGPIPE blocked (pull
 * writes into pipes whose reader may be gone; the signal is thread-directed, so blocking it in
 * the workers is enough). Items are handed out in order. The first failure sets *failed, which
 * stops the hand-out and tells running items to give up (they check it and return -ECANCELED);
 * the failure that is reported is the first one that is not -ECANCELED.
 */
#pragma once

#include <stdatomic.h>
#include <stddef.h>

#include "fetch/http.h"

typedef int (*fetch_parallel_fn)(void *userdata, fetch_http *h, size_t i);

/*
 * Runs fn for i in [0, n) on up to `threads` threads (0: 3, at most 16). 0 if every item
 * succeeded; else the first real failure's code, with its index in *ret_failed.
 */
int fetch_parallel_run(size_t n, unsigned threads, fetch_parallel_fn fn, void *userdata,
		       atomic_bool *failed, size_t *ret_failed);
