/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

int berth_error_set(berth_error *reterr, int code, const char *fmt, ...)
{
	va_list ap;

	if (!reterr || reterr->code != 0)
		return code;
	reterr->code = code;
	va_start(ap, fmt);
	vsnprintf(reterr->msg, sizeof(reterr->msg), fmt, ap);
	va_end(ap);
	return code;
}

const char *berth_error_message(const berth_error *e, int code)
{
	if (e && e->code != 0 && e->msg[0])
		return e->msg;
	return strerror(code < 0 ? -code : code);
}
