/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fetch module's unit tests, gathered into one cmocka group. */
#include "tests/unit/unit.h"

UNIT_IMPORT(fetch, reference);
UNIT_IMPORT(fetch, oci);
UNIT_IMPORT(fetch, unpack);
UNIT_IMPORT(fetch, pack);
UNIT_IMPORT(fetch, http);
UNIT_IMPORT(fetch, auth);
UNIT_IMPORT(fetch, registry);
UNIT_IMPORT(fetch, pgzip);
UNIT_IMPORT(fetch, layout);

int main(void)
{
	static struct CMUnitTest all[1024];
	size_t n = 0;

	UNIT_ADD(all, n, fetch, reference);
	UNIT_ADD(all, n, fetch, oci);
	UNIT_ADD(all, n, fetch, unpack);
	UNIT_ADD(all, n, fetch, pack);
	UNIT_ADD(all, n, fetch, http);
	UNIT_ADD(all, n, fetch, auth);
	UNIT_ADD(all, n, fetch, registry);
	UNIT_ADD(all, n, fetch, pgzip);
	UNIT_ADD(all, n, fetch, layout);
	return _cmocka_run_group_tests("fetch", all, n, NULL, NULL);
}
