/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz-reference.c: fetch_reference_parse() on arbitrary bytes. Beyond not crashing,
 * every accepted reference must survive a round trip: its store name and its familiar form parse
 * again to the same store name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const fetch_reference *r)
{
	_cleanup_free_ char *name = NULL, *again = NULL, *fam = NULL, *fam_name = NULL;
	_cleanup_free_ char *repo = NULL;
	fetch_reference r2 = {}, r3 = {};

	if (fetch_reference_repository(r, &repo) < 0 || !fetch_reference_api_host(r))
		abort();
	if (fetch_reference_store_name(r, &name) < 0) {
		if (r->tag || !r->has_digest)
			abort(); /* only a digest-only reference has no store name */
		return;
	}
	if (fetch_reference_parse(name, &r2, NULL) < 0)
		abort();
	if (fetch_reference_store_name(&r2, &again) < 0 || strcmp(name, again) != 0)
		abort();
	if (fetch_reference_familiar(name, &fam) < 0)
		abort();
	if (fetch_reference_parse(fam, &r3, NULL) < 0)
		abort();
	if (fetch_reference_store_name(&r3, &fam_name) < 0 || strcmp(name, fam_name) != 0)
		abort();
	fetch_reference_done(&r2);
	fetch_reference_done(&r3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = NULL;
	berth_error err = BERTH_ERROR_INIT;
	fetch_reference r;

	if (size > 4096)
		return 0;
	s = strndup((const char *)data, size);
	if (!s)
		return 0;
	if (fetch_reference_parse(s, &r, &err) < 0) {
		if (err.code == 0 || !err.msg[0])
			abort(); /* every refusal says why */
		return 0;
	}
	check_roundtrip(&r);
	fetch_reference_done(&r);
	return 0;
}
