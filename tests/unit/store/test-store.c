/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store module's unit tests, gathered into one cmocka group. */
#include "tests/unit/unit.h"

UNIT_IMPORT(store, digest);
UNIT_IMPORT(store, chunker);
UNIT_IMPORT(store, compress);
UNIT_IMPORT(store, object);
UNIT_IMPORT(store, file);
UNIT_IMPORT(store, tree);
UNIT_IMPORT(store, index);
UNIT_IMPORT(store, image);
UNIT_IMPORT(store, ref);
UNIT_IMPORT(store, gc);

int main(void)
{
	static struct CMUnitTest all[1024];
	size_t n = 0;

	UNIT_ADD(all, n, store, digest);
	UNIT_ADD(all, n, store, chunker);
	UNIT_ADD(all, n, store, compress);
	UNIT_ADD(all, n, store, object);
	UNIT_ADD(all, n, store, file);
	UNIT_ADD(all, n, store, tree);
	UNIT_ADD(all, n, store, index);
	UNIT_ADD(all, n, store, image);
	UNIT_ADD(all, n, store, ref);
	UNIT_ADD(all, n, store, gc);
	return _cmocka_run_group_tests("store", all, n, NULL, NULL);
}
