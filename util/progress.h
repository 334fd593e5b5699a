/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/progress.h: progress lines for long operations (import, load, save).
 *
 * On a terminal (stderr is a tty) one line is redrawn in place, at most ten times a second; off a
 * terminal nothing is printed, so scripts and logs stay clean. progress_done() ends the line.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct progress {
	bool enabled;
	const char *what;
	uint64_t total; /* 0 if unknown */
	uint64_t last_ns;
	uint64_t start_ns;
} progress;

void progress_init(progress *p, const char *what, uint64_t total);
void progress_update(progress *p, uint64_t done);
void progress_done(progress *p, uint64_t done);
