/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "util/fileio.h"

char *unit_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d = NULL;

	if (asprintf(&d, "%s/berth-unit-XXXXXX", t && t[0] ? t : "/tmp") < 0)
		abort();
	if (!mkdtemp(d))
		abort();
	return d;
}

void unit_tmpdir_remove(char *dir)
{
	if (!dir)
		return;
	rm_rf(AT_FDCWD, dir);
	free(dir);
}
