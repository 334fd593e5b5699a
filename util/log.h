/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/log.h: logging to stderr.
 *
 * Library modules (store/ fs/ fetch/ launcher/) log at debug level only and return error codes;
 * cli/ and the daemon log once, where an error arrives:
 *
 *     return log_error_errno(r, "Failed to import '%s': %m", path);
 *
 * log_*_errno() set errno from r so that "%m" prints its text, and return r (negative errno)
 * unchanged so the call can be the return statement. Check log_get_level() (or use log_debug,
 * which does) before formatting anything on a hot path.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "util/macro.h"

void log_set_level(int level);
int log_get_level(void);
/* Reads BERTH_LOG (debug, info, warning, error) from the environment, if set. */
void log_parse_environment(void);
/* The program name printed before each message ("berth"). */
void log_set_prefix(const char *prefix);

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
	_printf_(5, 6);

#define log_full_errno(level, error, ...)                                                     \
	({                                                                                    \
		int _l = (level), _e = (error);                                               \
		_l <= log_get_level() ? log_internal(_l, _e, __FILE__, __LINE__, __VA_ARGS__) \
				      : -abs(_e);                                             \
	})

#define log_debug(...)	 log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)	 log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)	 log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...)	  log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)	  log_full_errno(LOG_ERR, e, __VA_ARGS__)
