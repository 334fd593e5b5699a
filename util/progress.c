/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/progress.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void progress_init(progress *p, const char *what, uint64_t total)
{
	*p = (progress){
		.enabled = isatty(STDERR_FILENO) == 1,
		.what = what,
		.total = total,
		.start_ns = now_ns(),
	};
}

static void progress_print(progress *p, uint64_t done, uint64_t t)
{
	char d[16], rate[16];
	double secs = (double)(t - p->start_ns) / 1e9;

	format_size(done, d, sizeof(d));
	format_size(secs > 0.01 ? (uint64_t)((double)done / secs) : 0, rate, sizeof(rate));
	if (p->total > 0) {
		char tot[16];
		unsigned pct = (unsigned)(done * 100 / p->total);
		format_size(p->total, tot, sizeof(tot));
		fprintf(stderr, "\r\033[K%s: %s / %s (%u%%) %s/s", p->what, d, tot,
			pct > 100 ? 100 : pct, rate);
	} else
		fprintf(stderr, "\r\033[K%s: %s %s/s", p->what, d, rate);
	fflush(stderr);
}

void progress_update(progress *p, uint64_t done)
{
	uint64_t t;

	if (!p->enabled)
		return;
	t = now_ns();
	if (t - p->last_ns < 100000000ull)
		return;
	p->last_ns = t;
	progress_print(p, done, t);
}

void progress_done(progress *p, uint64_t done)
{
	if (!p->enabled)
		return;
	progress_print(p, done, now_ns());
	fputc('\n', stderr);
}
