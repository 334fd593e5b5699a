/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/locale-pin.h: runs libarchive under one character set, whatever the caller's locale.
 *
 * libarchive converts names between UTF-8 (PAX records) and the charset of the current locale,
 * which it reads when an archive object is first used. Bytes that depend on the process's locale
 * would make DiffIDs depend on it, so unpack.c and pack.c pin the thread's LC_CTYPE to C.UTF-8
 * (uselocale(): per thread, nothing else in the process sees it) for the life of their archive
 * objects. A name that is not valid UTF-8 is then kept as bytes (PAX "hdrcharset=BINARY") on
 * both sides. If C.UTF-8 does not exist, nothing is pinned, and the behaviour is that of the
 * host's locale, consistently on that host.
 */
#pragma once

#include <locale.h>

typedef struct locale_pin {
	locale_t pinned, previous;
} locale_pin;

static inline locale_pin locale_pin_utf8(void)
{
	locale_pin p = { newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), (locale_t)0 };

	if (p.pinned)
		p.previous = uselocale(p.pinned);
	return p;
}

/* For _cleanup_(): declare the pin before the archive objects, so that it is undone after them. */
static inline void locale_pin_undo(locale_pin *p)
{
	if (p->pinned) {
		uselocale(p->previous);
		freelocale(p->pinned);
	}
}
