/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fetch/registry-json.c: token answers, error bodies and credentials files with jansson. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fetch/registry-json.h"
#include "util/macro.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

static json_t *load(const void *data, size_t len, berth_error *reterr, const char *what)
{
	json_error_t e;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);

	if (!j)
		berth_error_set(reterr, -EBADMSG, "%s: %s (line %d)", what, e.text, e.line);
	else if (!json_is_object(j)) {
		berth_error_set(reterr, -EBADMSG, "%s: not a JSON object", what);
		json_decref(j);
		j = NULL;
	}
	return j;
}

int fetch_rjson_token_parse(const void *data, size_t len, char **ret_token, int64_t *ret_expires_in,
			    berth_error *reterr)
{
	_cleanup_json_ json_t *j = load(data, len, reterr, "token answer");
	json_t *t, *exp;
	json_int_t secs = 60;
	char *tok;

	if (!j)
		return -EBADMSG;
	t = json_object_get(j, "token");
	if (!json_is_string(t) || !json_string_length(t))
		t = json_object_get(j, "access_token");
	if (!json_is_string(t) || !json_string_length(t))
		return berth_error_set(reterr, -EBADMSG, "token answer: no \"token\" string");
	exp = json_object_get(j, "expires_in");
	if (exp && !json_is_null(exp)) {
		if (!json_is_integer(exp))
			return berth_error_set(reterr, -EBADMSG,
					       "token answer: \"expires_in\" is not an integer");
		secs = json_integer_value(exp);
		/* The spec's floor; a server saying less means "unknown", not "expired". */
		if (secs < 60)
			secs = 60;
	}
	if (!(tok = strdup(json_string_value(t))))
		return -ENOMEM;
	*ret_token = tok;
	*ret_expires_in = (int64_t)secs;
	return 0;
}

char *fetch_rjson_errors_message(const void *data, size_t len)
{
	_cleanup_json_ json_t *j = load(data, len, NULL, "");
	_cleanup_(buf_done) buf b = BUF_INIT;
	json_t *errs, *e;
	size_t i;

	if (!j || !json_is_array(errs = json_object_get(j, "errors")))
		return NULL;
	json_array_foreach (errs, i, e) {
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		if (!code && !msg)
			continue;
		if ((b.len > 0 && buf_append_str(&b, "; ") < 0) ||
		    buf_printf(&b, "%s%s%s", code ? code : "", code && msg ? ": " : "",
			       msg ? msg : "") < 0)
			return NULL;
		if (b.len > 512)
			break;
	}
	return b.len ? buf_steal(&b) : NULL;
}

void fetch_rjson_auths_free(fetch_rjson_auth_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].key);
		free(e[i].auth);
	}
	free(e);
}

static json_t *load_file(const void *data, size_t len, berth_error *reterr)
{
	json_t *auths;
	json_t *j;

	if (len == 0)
		return json_object();
	if (!(j = load(data, len, reterr, "credentials file")))
		return NULL;
	auths = json_object_get(j, "auths");
	if (auths && !json_is_object(auths)) {
		berth_error_set(reterr, -EBADMSG, "credentials file: \"auths\" is not an object");
		json_decref(j);
		return NULL;
	}
	return j;
}

int fetch_rjson_auths_parse(const void *data, size_t len, fetch_rjson_auth_entry **ret,
			    size_t *ret_n, berth_error *reterr)
{
	_cleanup_json_ json_t *j = load_file(data, len, reterr);
	fetch_rjson_auth_entry *v;
	const char *key;
	json_t *auths, *e;
	size_t n = 0;

	if (!j)
		return -EBADMSG;
	auths = json_object_get(j, "auths");
	v = calloc(auths ? json_object_size(auths) + 1 : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_object_foreach (auths, key, e) {
		const char *a = json_string_value(json_object_get(e, "auth"));
		if (!json_is_object(e)) {
			fetch_rjson_auths_free(v, n);
			return berth_error_set(reterr, -EBADMSG,
					       "credentials file: auths.\"%s\" is not an object",
					       key);
		}
		v[n].key = strdup(key);
		v[n].auth = a && *a ? strdup(a) : NULL;
		if (!v[n++].key || (a && *a && !v[n - 1].auth)) {
			fetch_rjson_auths_free(v, n);
			return -ENOMEM;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int fetch_rjson_auths_update(const void *data, size_t len, const char *key, const char *auth,
			     buf *out, berth_error *reterr)
{
	_cleanup_json_ json_t *j = load_file(data, len, reterr);
	_cleanup_free_ char *s = NULL;
	json_t *auths;

	if (!j)
		return -EBADMSG;
	auths = json_object_get(j, "auths");
	if (!auths) {
		if (json_object_set_new(j, "auths", json_object()) < 0)
			return -ENOMEM;
		auths = json_object_get(j, "auths");
	}
	if (auth) {
		json_t *e = json_object_get(auths, key);
		if (!json_is_object(e)) {
			if (json_object_set_new(auths, key, json_object()) < 0)
				return -ENOMEM;
			e = json_object_get(auths, key);
		}
		if (json_object_set_new(e, "auth", json_string(auth)) < 0)
			return -ENOMEM;
	} else if (json_object_del(auths, key) < 0)
		return -ENOENT;
	if (!(s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER)))
		return -ENOMEM;
	buf_reset(out);
	if (buf_append_str(out, s) < 0 || buf_append_byte(out, '\n') < 0)
		return -ENOMEM;
	return 0;
}
