/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/unit.h: shared by the cmocka unit tests.
 *
 * One executable per module (STYLE.md). Each tests/unit/<module>/test-<module>-<file>.c defines
 *     const struct CMUnitTest test_<module>_<file>_tests[]; const size_t test_<module>_<file>_count;
 * and test-<module>.c concatenates them into one group, so the module prints one TAP plan.
 * Test names follow test_<module>_<file>__<case>.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* In test-<module>-<file>.c, after the static array of tests:  UNIT_EXPORT(store, chunker, tests); */
#define UNIT_EXPORT(module, file, array)                                     \
	const struct CMUnitTest *const test_##module##_##file##_ptr = array; \
	const size_t test_##module##_##file##_count = sizeof(array) / sizeof((array)[0])

/* In test-<module>.c: UNIT_IMPORT(store, chunker); then UNIT_ADD(all, n, store, chunker). */
#define UNIT_IMPORT(module, file)                                           \
	extern const struct CMUnitTest *const test_##module##_##file##_ptr; \
	extern const size_t test_##module##_##file##_count
#define UNIT_ADD(all, n, module, file)                                         \
	do {                                                                   \
		for (size_t _i = 0; _i < test_##module##_##file##_count; _i++) \
			(all)[(n)++] = test_##module##_##file##_ptr[_i];       \
	} while (0)

/* A fresh temp directory (mkdtemp under $TMPDIR or /tmp); removed by unit_tmpdir_remove(). */
char *unit_tmpdir(void);
void unit_tmpdir_remove(char *dir);
