/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder: tests of store/image.c being written */
#include "tests/unit/unit.h"

static const struct CMUnitTest tests[] = {};
UNIT_EXPORT(store, image, tests);
