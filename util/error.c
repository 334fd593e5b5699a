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

int berth_error_vprefix(berth_error *reterr, int code, const char *fmt, va_list ap)
{
	size_t cl, ol;
	char ctx[256];

	if (!reterr)
		return code;
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	if (reterr->code == 0)
		return berth_error_set(reterr, code, "%s: %s", ctx,
				       strerror(code < 0 ? -code : code));
	cl = strlen(ctx) + 2; /* < sizeof(reterr->msg) */
	ol = MIN(strlen(reterr->msg), sizeof(reterr->msg) - 1 - cl);
	memmove(reterr->msg + cl, reterr->msg, ol);
	reterr->msg[cl + ol] = '\0';
	memcpy(reterr->msg, ctx, cl - 2);
	memcpy(reterr->msg + cl - 2, ": ", 2);
	return code;
}

int berth_error_prefix(berth_error *reterr, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = berth_error_vprefix(reterr, code, fmt, ap);
	va_end(ap);
	return code;
}
