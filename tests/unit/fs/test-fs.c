/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fs module's unit tests, gathered into one cmocka group. */
#include "tests/unit/unit.h"

UNIT_IMPORT(fs, inode);
UNIT_IMPORT(fs, lower);
UNIT_IMPORT(fs, union);

int main(void)
{
	static struct CMUnitTest all[256];
	size_t n = 0;

	UNIT_ADD(all, n, fs, inode);
	UNIT_ADD(all, n, fs, lower);
	UNIT_ADD(all, n, fs, union);
	return _cmocka_run_group_tests("fs", all, n, NULL, NULL);
}
