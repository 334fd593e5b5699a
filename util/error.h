/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/error.h: error detail for a person, beside the negative errno every function returns.
 *
 * Functions whose failures need more than an errno (which tar entry was refused and why, a
 * registry's message, lxc's log line) take an optional last parameter `berth_error *reterr`.
 * It is written only on failure, may be NULL, and the first detail set wins: a low-level function
 * that knows the precise reason fills it, and callers above it leave it alone. The function still
 * returns the negative errno, which stays the one source of truth for control flow.
 */
#pragma once

#include <stdarg.h>

#include "util/macro.h"

typedef struct berth_error {
	int code;	/* negative errno, 0 while unset */
	char msg[1024]; /* human-readable, no trailing period or newline */
} berth_error;

#define BERTH_ERROR_INIT \
	{                \
		0, ""    \
	}

/* Sets the detail if reterr is non-NULL and not set yet. Returns `code` (a negative errno). */
int berth_error_set(berth_error *reterr, int code, const char *fmt, ...) _printf_(3, 4);
/*
 * Puts "CONTEXT: " before the detail a callee set (the first detail says what is wrong but not
 * where), or sets "CONTEXT: strerror(code)" if there is none. NULL reterr is fine. Returns code.
 */
int berth_error_prefix(berth_error *reterr, int code, const char *fmt, ...) _printf_(3, 4);
int berth_error_vprefix(berth_error *reterr, int code, const char *fmt, va_list ap) _printf_(3, 0);
/* The message if set, else strerror(-code). */
const char *berth_error_message(const berth_error *e, int code);
