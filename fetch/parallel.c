/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fetch/parallel.c: worker threads for blob transfers. See fetch/parallel.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "fetch/parallel.h"
#include "util/macro.h"

#define DEFAULT_THREADS 3
#define MAX_THREADS	16

typedef struct pool {
	fetch_parallel_fn fn;
	void *userdata;
	atomic_bool *failed;
	pthread_mutex_t lock; /* next, first_error, first_index */
	size_t n, next;
	int first_error;
	size_t first_index;
} pool;

static bool take(pool *p, size_t *ret)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = !atomic_load(p->failed) && p->next < p->n;
	if (ok)
		*ret = p->next++;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

static void failed(pool *p, size_t i, int r)
{
	pthread_mutex_lock(&p->lock);
	/* An item stopped because another failed is not the story. */
	if (p->first_error == 0 && r != -ECANCELED) {
		p->first_error = r;
		p->first_index = i;
	}
	atomic_store(p->failed, true);
	pthread_mutex_unlock(&p->lock);
}

static void *worker(void *userdata)
{
	_cleanup_(fetch_http_freep) fetch_http *h = NULL;
	pool *p = userdata;
	sigset_t ss;
	size_t i;
	int r;

	sigemptyset(&ss);
	sigaddset(&ss, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	r = fetch_http_new(NULL, &h);
	while (take(p, &i)) {
		int k = r < 0 ? r : p->fn(p->userdata, h, i);
		if (k < 0)
			failed(p, i, k);
	}
	return NULL;
}

int fetch_parallel_run(size_t n, unsigned threads, fetch_parallel_fn fn, void *userdata,
		       atomic_bool *failed_flag, size_t *ret_failed)
{
	pool p = { .fn = fn, .userdata = userdata, .failed = failed_flag, .n = n };
	pthread_t t[MAX_THREADS];
	unsigned started = 0, want = threads ? threads : DEFAULT_THREADS;
	int r = 0;

	want = MIN(want, (unsigned)MAX_THREADS);
	if (n < want)
		want = (unsigned)n;
	pthread_mutex_init(&p.lock, NULL);
	for (; started < want; started++)
		if ((r = -pthread_create(&t[started], NULL, worker, &p)) < 0)
			break;
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (started == 0 && n > 0) {
		*ret_failed = 0;
		return r;
	}
	if (p.first_error < 0) {
		*ret_failed = p.first_index;
		return p.first_error;
	}
	if (atomic_load(failed_flag)) {
		*ret_failed = 0;
		return -ECANCELED; /* stopped from outside */
	}
	return 0;
}
