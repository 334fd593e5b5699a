/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static int log_level = LOG_INFO;
static const char *log_prefix = "berth";

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

void log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

void log_parse_environment(void)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "debug", LOG_DEBUG },
		{ "info", LOG_INFO },
		{ "warning", LOG_WARNING },
		{ "error", LOG_ERR },
	};
	const char *e = getenv("BERTH_LOG");

	if (!e)
		return;
	for (size_t i = 0; i < ELEMENTSOF(levels); i++)
		if (streq(e, levels[i].name))
			log_level = levels[i].level;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	/* "%m" prints the text of the error we were given, not whatever errno holds now. */
	errno = abs(error);
	va_start(ap, fmt);
	flockfile(stderr);
	if (level >= LOG_DEBUG)
		fprintf(stderr, "%s: [%s:%d] ", log_prefix, file, line);
	else if (level <= LOG_ERR)
		fprintf(stderr, "%s: error: ", log_prefix);
	else if (level == LOG_WARNING)
		fprintf(stderr, "%s: warning: ", log_prefix);
	else
		fprintf(stderr, "%s: ", log_prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
	errno = saved;
	return -abs(error);
}
