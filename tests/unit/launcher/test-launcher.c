/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The launcher module's unit tests, gathered into one cmocka group. */
#include "tests/unit/unit.h"

UNIT_IMPORT(launcher, resolve);

int main(void)
{
	static struct CMUnitTest all[64];
	size_t n = 0;

	UNIT_ADD(all, n, launcher, resolve);
	return _cmocka_run_group_tests("launcher", all, n, NULL, NULL);
}
