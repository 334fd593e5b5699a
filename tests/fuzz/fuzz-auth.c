/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz-auth.c: fetch_auth_challenges_parse() on arbitrary bytes (a registry's
 * WWW-Authenticate header), plus the token answer and error body parsers on the same bytes.
 * Beyond not crashing: every refusal says why, and every accepted header survives a round trip:
 * the challenges written back (parameters as quoted strings) parse to the same challenges, with
 * lowercase schemes and parameter names and no parameter twice.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/auth.h"
#include "fetch/registry-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lower(const char *s)
{
	if (!s || !*s)
		abort();
	for (; *s; s++)
		if (tolower((unsigned char)*s) != *s)
			abort();
}

static void write_back(const fetch_auth_challenge *v, size_t n, buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (buf_printf(out, "%s%s", i ? ", " : "", v[i].scheme) < 0)
			abort();
		if (v[i].token68 && buf_printf(out, " %s", v[i].token68) < 0)
			abort();
		for (size_t k = 0; k < v[i].n_params; k++) {
			if (buf_printf(out, "%s%s=\"", k ? "," : " ", v[i].params[k].key) < 0)
				abort();
			for (const char *c = v[i].params[k].value; *c; c++)
				if ((*c == '"' || *c == '\\')
					    ? buf_printf(out, "\\%c", *c) < 0
					    : buf_append_byte(out, (uint8_t)*c) < 0)
					abort();
			if (buf_append_byte(out, '"') < 0)
				abort();
		}
	}
}

static void same(const fetch_auth_challenge *a, size_t na, const fetch_auth_challenge *b, size_t nb)
{
	if (na != nb)
		abort();
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a[i].scheme, b[i].scheme) != 0 || a[i].n_params != b[i].n_params ||
		    !a[i].token68 != !b[i].token68 ||
		    (a[i].token68 && strcmp(a[i].token68, b[i].token68) != 0))
			abort();
		for (size_t k = 0; k < a[i].n_params; k++)
			if (strcmp(a[i].params[k].key, b[i].params[k].key) != 0 ||
			    strcmp(a[i].params[k].value, b[i].params[k].value) != 0)
				abort();
	}
}

static void check_challenges(const char *s)
{
	_cleanup_(buf_done) buf back = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_auth_challenge *v = NULL, *w = NULL;
	size_t n = 0, m = 0;

	if (fetch_auth_challenges_parse(s, &v, &n, &err) < 0) {
		if (err.code == 0 || !err.msg[0])
			abort(); /* every refusal says why */
		fetch_auth_challenges_free(v, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		check_lower(v[i].scheme);
		for (size_t k = 0; k < v[i].n_params; k++) {
			check_lower(v[i].params[k].key);
			for (size_t j = 0; j < k; j++)
				if (strcmp(v[i].params[j].key, v[i].params[k].key) == 0)
					abort();
		}
	}
	write_back(v, n, &back);
	if (fetch_auth_challenges_parse(back.data ? back.data : "", &w, &m, NULL) < 0)
		abort();
	same(v, n, w, m);
	fetch_auth_challenges_free(v, n);
	fetch_auth_challenges_free(w, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = NULL, *tok = NULL, *msg = NULL;
	int64_t exp;

	if (size > 65536)
		return 0;
	if (!(s = strndup((const char *)data, size)))
		return 0;
	check_challenges(s);
	if (fetch_rjson_token_parse(data, size, &tok, &exp, NULL) >= 0 && (!tok[0] || exp < 60))
		abort();
	msg = fetch_rjson_errors_message(data, size);
	return 0;
}
