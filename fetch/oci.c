/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/oci.c: OCI (and Docker schema2) configs, manifests and indexes <-> plain structs, with
 * jansson. The only file of fetch/ that sees json_t.
 *
 * Every parser takes untrusted bytes (fuzzed). Field getters carry the path of the object they
 * read ("layers[2]", "config") so that a refusal names the exact field.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include <jansson.h>

#include "fetch/oci.h"
#include "util/macro.h"

/* jansson (>= 2.9) provides json_decrefp() for exactly this. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* "where.key", or "key" at the top level. */
#define FIELD_FMT	  "%s%s%s"
#define FIELD(where, key) (where), (where)[0] ? "." : "", (key)

/* ---- strv, kv ---- */

char **fetch_strv_free(char **l)
{
	if (l)
		for (char **p = l; *p; p++)
			free(*p);
	free(l);
	return NULL;
}

size_t fetch_strv_length(char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}

int fetch_strv_push(char ***l, const char *s)
{
	size_t n = fetch_strv_length(*l);
	char **nl, *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	nl = realloc(*l, (n + 2) * sizeof(char *));
	if (!nl) {
		free(copy);
		return -ENOMEM;
	}
	nl[n] = copy;
	nl[n + 1] = NULL;
	*l = nl;
	return 0;
}

static char **strv_new_empty(void)
{
	return calloc(1, sizeof(char *));
}

void fetch_kv_free_array(fetch_kv *kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static const char *kv_get(const fetch_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (streq(kv[i].key, key))
			return kv[i].value;
	return NULL;
}

static int kv_set(fetch_kv **kv, size_t *n, const char *key, const char *value)
{
	char *v = strdup(value), *k;
	fetch_kv *nkv;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++)
		if (streq((*kv)[i].key, key)) {
			free((*kv)[i].value);
			(*kv)[i].value = v;
			return 0;
		}
	k = strdup(key);
	nkv = k ? realloc(*kv, (*n + 1) * sizeof(fetch_kv)) : NULL;
	if (!nkv) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	nkv[*n] = (fetch_kv){ k, v };
	*kv = nkv;
	(*n)++;
	return 0;
}

/* ---- Loading and field getters ---- */

static int load_json(const void *data, size_t len, json_type want_type, json_t **ret,
		     berth_error *reterr)
{
	json_error_t e;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);

	if (!j)
		return berth_error_set(reterr, -EBADMSG, "invalid JSON (line %d, column %d): %s",
				       e.line, e.column, e.text);
	if (json_typeof(j) != want_type) {
		json_decref(j);
		return berth_error_set(reterr, -EBADMSG, "expected a JSON %s at the top level",
				       want_type == JSON_OBJECT ? "object" : "array");
	}
	*ret = j;
	return 0;
}

/* The member, or NULL when absent or null. */
static json_t *member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

static int get_str(json_t *obj, const char *where, const char *key, bool required, char **ret,
		   berth_error *reterr)
{
	json_t *v = member(obj, key);
	char *s;

	if (!v) {
		if (required)
			return berth_error_set(reterr, -EBADMSG, FIELD_FMT ": missing",
					       FIELD(where, key));
		return 0;
	}
	if (!json_is_string(v))
		return berth_error_set(reterr, -EBADMSG, FIELD_FMT ": expected a string",
				       FIELD(where, key));
	s = strdup(json_string_value(v));
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int get_object(json_t *obj, const char *where, const char *key, bool required, json_t **ret,
		      berth_error *reterr)
{
	json_t *v = member(obj, key);

	*ret = NULL;
	if (!v)
		return required ? berth_error_set(reterr, -EBADMSG, FIELD_FMT ": missing",
						  FIELD(where, key))
				: 0;
	if (!json_is_object(v))
		return berth_error_set(reterr, -EBADMSG, FIELD_FMT ": expected an object",
				       FIELD(where, key));
	*ret = v;
	return 0;
}

static int get_array(json_t *obj, const char *where, const char *key, bool required, json_t **ret,
		     berth_error *reterr)
{
	json_t *v = member(obj, key);

	*ret = NULL;
	if (!v)
		return required ? berth_error_set(reterr, -EBADMSG, FIELD_FMT ": missing",
						  FIELD(where, key))
				: 0;
	if (!json_is_array(v))
		return berth_error_set(reterr, -EBADMSG, FIELD_FMT ": expected an array",
				       FIELD(where, key));
	*ret = v;
	return 0;
}

static int strv_from_array(json_t *a, const char *where, const char *key, char ***ret,
			   berth_error *reterr)
{
	_cleanup_(fetch_strv_freep) char **l = strv_new_empty();
	size_t i;
	json_t *v;

	if (!l)
		return -ENOMEM;
	json_array_foreach (a, i, v) {
		if (!json_is_string(v))
			return berth_error_set(reterr, -EBADMSG,
					       FIELD_FMT "[%zu]: expected a string",
					       FIELD(where, key), i);
		if (fetch_strv_push(&l, json_string_value(v)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

/* An array of strings; with allow_string, a lone string is a one-element list (Docker's StrSlice). */
static int get_strv(json_t *obj, const char *where, const char *key, bool allow_string, char ***ret,
		    berth_error *reterr)
{
	json_t *v = member(obj, key);
	char **l = NULL;

	if (!v)
		return 0;
	if (allow_string && json_is_string(v)) {
		if (fetch_strv_push(&l, json_string_value(v)) < 0)
			return -ENOMEM;
		*ret = l;
		return 0;
	}
	if (!json_is_array(v))
		return berth_error_set(reterr, -EBADMSG, FIELD_FMT ": expected an array of strings",
				       FIELD(where, key));
	return strv_from_array(v, where, key, ret, reterr);
}

/* The keys of an object whose values do not matter (ExposedPorts, Volumes: {"80/tcp": {}}). */
static int get_keys(json_t *obj, const char *where, const char *key, char ***ret,
		    berth_error *reterr)
{
	_cleanup_(fetch_strv_freep) char **l = NULL;
	const char *k;
	json_t *o, *v;
	int r;

	r = get_object(obj, where, key, false, &o, reterr);
	if (r < 0 || !o)
		return r;
	if (!(l = strv_new_empty()))
		return -ENOMEM;
	json_object_foreach (o, k, v) {
		if (fetch_strv_push(&l, k) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(l);
	return 0;
}

/* An object of string values (Labels, annotations). */
static int get_kv(json_t *obj, const char *where, const char *key, fetch_kv **ret, size_t *ret_n,
		  berth_error *reterr)
{
	fetch_kv *kv = NULL;
	size_t n = 0;
	const char *k;
	json_t *o, *v;
	int r;

	r = get_object(obj, where, key, false, &o, reterr);
	if (r < 0 || !o)
		return r;
	json_object_foreach (o, k, v) {
		if (!json_is_string(v))
			r = berth_error_set(reterr, -EBADMSG, FIELD_FMT ".%s: expected a string",
					    FIELD(where, key), k);
		else
			r = kv_set(&kv, &n, k, json_string_value(v));
		if (r < 0) {
			fetch_kv_free_array(kv, n);
			return r;
		}
	}
	*ret = kv;
	*ret_n = n;
	return 0;
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "sha256:<64 lowercase hex>", as OCI requires; other algorithms are valid OCI but unsupported. */
static int digest_from_string(const char *s, const char *field, store_digest *ret,
			      berth_error *reterr)
{
	const char *colon = strchr(s, ':');

	if (!colon || colon == s || !colon[1])
		return berth_error_set(reterr, -EBADMSG, "%s: '%s' is not a digest", field, s);
	if (!strneq(s, "sha256:", 7))
		return berth_error_set(reterr, -EBADMSG,
				       "%s: unsupported digest algorithm in '%s' (only sha256)",
				       field, s);
	if (strlen(s + 7) != STORE_DIGEST_HEX_LEN || !is_lower_hex(s + 7, STORE_DIGEST_HEX_LEN) ||
	    store_digest_parse(s, ret) < 0)
		return berth_error_set(reterr, -EBADMSG,
				       "%s: '%s' is not a sha256 digest (64 lowercase hex)", field,
				       s);
	return 0;
}

static int get_digest(json_t *obj, const char *where, const char *key, store_digest *ret,
		      berth_error *reterr)
{
	json_t *v = member(obj, key);
	char field[256];

	snprintf(field, sizeof(field), FIELD_FMT, FIELD(where, key));
	if (!v)
		return berth_error_set(reterr, -EBADMSG, "%s: missing", field);
	if (!json_is_string(v))
		return berth_error_set(reterr, -EBADMSG, "%s: expected a string", field);
	return digest_from_string(json_string_value(v), field, ret, reterr);
}

static int get_bool(json_t *obj, const char *where, const char *key, bool *ret, berth_error *reterr)
{
	json_t *v = member(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return berth_error_set(reterr, -EBADMSG, FIELD_FMT ": expected true or false",
				       FIELD(where, key));
	*ret = json_is_true(v);
	return 0;
}

static int get_schema_version(json_t *obj, int *ret, berth_error *reterr)
{
	json_t *v = member(obj, "schemaVersion");

	if (!v)
		return berth_error_set(reterr, -EBADMSG, "schemaVersion: missing");
	if (!json_is_integer(v))
		return berth_error_set(reterr, -EBADMSG, "schemaVersion: expected an integer");
	if (json_integer_value(v) != 2)
		return berth_error_set(reterr, -EPROTONOSUPPORT,
				       "schemaVersion: %lld is not supported (only 2)",
				       (long long)json_integer_value(v));
	*ret = 2;
	return 0;
}

/* ---- JSON string arrays (exec form) ---- */

int fetch_json_strv_parse(const char *s, char ***ret)
{
	_cleanup_json_ json_t *j = NULL;
	int r;

	r = load_json(s, strlen(s), JSON_ARRAY, &j, NULL);
	if (r < 0)
		return r;
	return strv_from_array(j, "", "", ret, NULL);
}

/* ---- Time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool read_digits(const char **p, int n, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static bool expect_char(const char **p, const char *set)
{
	if (!**p || !strchr(set, **p))
		return false;
	(*p)++;
	return true;
}

static const unsigned days_in_month[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

int fetch_oci_time_parse(const char *s, int64_t *ret_sec, uint32_t *ret_nsec)
{
	unsigned y, mo, d, h, mi, se, oh = 0, om = 0, nsec = 0;
	const char *p = s;
	int sign = 0;

	if (!read_digits(&p, 4, &y) || !expect_char(&p, "-") || !read_digits(&p, 2, &mo) ||
	    !expect_char(&p, "-") || !read_digits(&p, 2, &d) || !expect_char(&p, "Tt ") ||
	    !read_digits(&p, 2, &h) || !expect_char(&p, ":") || !read_digits(&p, 2, &mi) ||
	    !expect_char(&p, ":") || !read_digits(&p, 2, &se))
		return -EINVAL;
	if (*p == '.') {
		unsigned scale = 100000000, digit;
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (read_digits(&p, 1, &digit)) {
			nsec += digit * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!read_digits(&p, 2, &oh) || !expect_char(&p, ":") || !read_digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return -EINVAL;
	} else
		return -EINVAL;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > days_in_month[mo - 1] || h > 23 || mi > 59 ||
	    se > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	*ret_sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (se > 59 ? 59 : se) -
		   sign * (int64_t)(oh * 3600 + om * 60);
	*ret_nsec = nsec;
	return 0;
}

void fetch_oci_time_format(int64_t sec, uint32_t nsec, char *out)
{
	time_t t = (time_t)sec;
	struct tm tm;
	size_t n;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		snprintf(out, FETCH_OCI_TIME_MAX, "1970-01-01T00:00:00Z");
		return;
	}
	n = strftime(out, FETCH_OCI_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	if (nsec > 0) {
		/* RFC3339Nano as Go writes it: trailing zeros of the fraction dropped. */
		char frac[16];
		int len = snprintf(frac, sizeof(frac), "%09u", nsec % 1000000000u);
		while (len > 0 && frac[len - 1] == '0')
			frac[--len] = '\0';
		n += (size_t)snprintf(out + n, FETCH_OCI_TIME_MAX - n, ".%s", frac);
	}
	snprintf(out + n, FETCH_OCI_TIME_MAX - n, "Z");
}

/* ---- Platform ---- */

static const struct {
	const char *machine, *arch, *variant;
} arch_map[] = {
	{ "x86_64", "amd64", NULL },
	{ "aarch64", "arm64", NULL },
	{ "arm64", "arm64", NULL },
	{ "armv7l", "arm", "v7" },
	{ "armv6l", "arm", "v6" },
	{ "armv8l", "arm", "v8" },
	{ "i386", "386", NULL },
	{ "i486", "386", NULL },
	{ "i586", "386", NULL },
	{ "i686", "386", NULL },
	{ "ppc64le", "ppc64le", NULL },
	{ "s390x", "s390x", NULL },
	{ "riscv64", "riscv64", NULL },
	{ "mips64", "mips64le", NULL },
	{ "loongarch64", "loong64", NULL },
};

static int host_arch_index(void)
{
	static int cached = -2;
	struct utsname u;

	if (cached != -2)
		return cached;
	cached = -1;
	if (uname(&u) == 0)
		for (size_t i = 0; i < ELEMENTSOF(arch_map); i++)
			if (streq(u.machine, arch_map[i].machine))
				cached = (int)i;
	return cached;
}

const char *fetch_oci_host_arch(void)
{
	int i = host_arch_index();
	return i >= 0 ? arch_map[i].arch : "unknown";
}

const char *fetch_oci_host_variant(void)
{
	int i = host_arch_index();
	return i >= 0 ? arch_map[i].variant : NULL;
}

bool fetch_oci_platform_is_host(const fetch_oci_platform *p)
{
	const char *hv = fetch_oci_host_variant();

	if (!p->os || !streq(p->os, "linux") || !p->architecture ||
	    !streq(p->architecture, fetch_oci_host_arch()))
		return false;
	return !p->variant || !hv || streq(p->variant, hv);
}

/* ---- Descriptors ---- */

static void platform_done(fetch_oci_platform *p)
{
	free(p->architecture);
	free(p->os);
	free(p->variant);
	free(p->os_version);
	*p = (fetch_oci_platform){};
}

void fetch_oci_descriptor_done(fetch_oci_descriptor *d)
{
	if (!d)
		return;
	free(d->media_type);
	platform_done(&d->platform);
	fetch_kv_free_array(d->annotations, d->n_annotations);
	*d = (fetch_oci_descriptor){};
}

const char *fetch_oci_descriptor_annotation(const fetch_oci_descriptor *d, const char *key)
{
	return kv_get(d->annotations, d->n_annotations, key);
}

int fetch_oci_descriptor_annotate(fetch_oci_descriptor *d, const char *key, const char *value)
{
	return kv_set(&d->annotations, &d->n_annotations, key, value);
}

static int platform_parse(json_t *o, const char *where, fetch_oci_platform *p, berth_error *reterr)
{
	int r;

	if ((r = get_str(o, where, "architecture", true, &p->architecture, reterr)) < 0 ||
	    (r = get_str(o, where, "os", true, &p->os, reterr)) < 0 ||
	    (r = get_str(o, where, "variant", false, &p->variant, reterr)) < 0 ||
	    (r = get_str(o, where, "os.version", false, &p->os_version, reterr)) < 0)
		return r;
	return 0;
}

static int descriptor_parse(json_t *o, const char *where, fetch_oci_descriptor *ret,
			    berth_error *reterr)
{
	_cleanup_(fetch_oci_descriptor_done) fetch_oci_descriptor d = {};
	char pwhere[256];
	json_t *size, *plat;
	int r;

	if (!json_is_object(o))
		return berth_error_set(reterr, -EBADMSG, "%s: expected an object", where);
	if ((r = get_str(o, where, "mediaType", true, &d.media_type, reterr)) < 0 ||
	    (r = get_digest(o, where, "digest", &d.digest, reterr)) < 0)
		return r;
	size = member(o, "size");
	if (!size)
		return berth_error_set(reterr, -EBADMSG, "%s.size: missing", where);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return berth_error_set(reterr, -EBADMSG, "%s.size: expected a non-negative integer",
				       where);
	d.size = (uint64_t)json_integer_value(size);
	if ((r = get_kv(o, where, "annotations", &d.annotations, &d.n_annotations, reterr)) < 0 ||
	    (r = get_object(o, where, "platform", false, &plat, reterr)) < 0)
		return r;
	if (plat) {
		snprintf(pwhere, sizeof(pwhere), "%s.platform", where);
		if ((r = platform_parse(plat, pwhere, &d.platform, reterr)) < 0)
			return r;
		d.has_platform = true;
	}
	*ret = d;
	d = (fetch_oci_descriptor){};
	return 0;
}

static int descriptors_parse(json_t *a, const char *key, fetch_oci_descriptor **ret, size_t *ret_n,
			     berth_error *reterr)
{
	size_t n = json_array_size(a), i;
	fetch_oci_descriptor *v = calloc(n ? n : 1, sizeof(*v));
	char where[64];
	json_t *o;
	int r;

	if (!v)
		return -ENOMEM;
	json_array_foreach (a, i, o) {
		snprintf(where, sizeof(where), "%s[%zu]", key, i);
		r = descriptor_parse(o, where, &v[i], reterr);
		if (r < 0) {
			for (size_t j = 0; j < i; j++)
				fetch_oci_descriptor_done(&v[j]);
			free(v);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static json_t *kv_to_json(const fetch_kv *kv, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++)
		if (json_object_set_new(o, kv[i].key, json_string(kv[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/* json_object_set_new that turns a NULL value (failed allocation) into a failure. */
static int set(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int set_str(json_t *o, const char *key, const char *s)
{
	return s ? set(o, key, json_string(s)) : 0;
}

static json_t *digest_to_json(const store_digest *d)
{
	char s[STORE_DIGEST_STR_LEN];

	store_digest_str(d, s);
	return json_string(s);
}

static json_t *descriptor_to_json(const fetch_oci_descriptor *d)
{
	_cleanup_json_ json_t *o = json_object();

	if (!o || set_str(o, "mediaType", d->media_type) < 0 ||
	    set(o, "digest", digest_to_json(&d->digest)) < 0 ||
	    set(o, "size", json_integer((json_int_t)d->size)) < 0)
		return NULL;
	if (d->n_annotations > 0 &&
	    set(o, "annotations", kv_to_json(d->annotations, d->n_annotations)) < 0)
		return NULL;
	if (d->has_platform) {
		json_t *p = json_object();
		if (set(o, "platform", p) < 0 ||
		    set_str(p, "architecture", d->platform.architecture) < 0 ||
		    set_str(p, "os", d->platform.os) < 0 ||
		    set_str(p, "os.version", d->platform.os_version) < 0 ||
		    set_str(p, "variant", d->platform.variant) < 0)
			return NULL;
	}
	return TAKE_PTR(o);
}

static json_t *descriptors_to_json(const fetch_oci_descriptor *d, size_t n)
{
	_cleanup_json_ json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		json_t *o = descriptor_to_json(&d[i]);
		if (!o || json_array_append_new(a, o) < 0)
			return NULL;
	}
	return TAKE_PTR(a);
}

static int dump(json_t *j, buf *out)
{
	_cleanup_free_ char *s = json_dumps(j, JSON_COMPACT);

	if (!s)
		return -ENOMEM;
	return buf_append_str(out, s);
}

/* ---- Manifests and indexes ---- */

static bool mt_is_manifest(const char *mt)
{
	return streq(mt, FETCH_OCI_MT_MANIFEST) || streq(mt, FETCH_DOCKER_MT_MANIFEST);
}

static bool mt_is_index(const char *mt)
{
	return streq(mt, FETCH_OCI_MT_INDEX) || streq(mt, FETCH_DOCKER_MT_LIST);
}

bool fetch_oci_layer_media_type_supported(const char *mt)
{
	return streq(mt, FETCH_OCI_MT_LAYER) || streq(mt, FETCH_OCI_MT_LAYER_GZIP) ||
	       streq(mt, FETCH_OCI_MT_LAYER_ZSTD) || streq(mt, FETCH_DOCKER_MT_LAYER_GZIP) ||
	       streq(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar") ||
	       streq(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") ||
	       streq(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd");
}

fetch_oci_manifest *fetch_oci_manifest_free(fetch_oci_manifest *m)
{
	if (!m)
		return NULL;
	free(m->media_type);
	fetch_oci_descriptor_done(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		fetch_oci_descriptor_done(&m->layers[i]);
	free(m->layers);
	fetch_kv_free_array(m->annotations, m->n_annotations);
	free(m);
	return NULL;
}

int fetch_oci_manifest_parse(const void *data, size_t len, fetch_oci_manifest **ret,
			     berth_error *reterr)
{
	_cleanup_(fetch_oci_manifest_freep) fetch_oci_manifest *m = calloc(1, sizeof(*m));
	_cleanup_json_ json_t *j = NULL;
	json_t *config, *layers;
	int r;

	if (!m)
		return -ENOMEM;
	if ((r = load_json(data, len, JSON_OBJECT, &j, reterr)) < 0 ||
	    (r = get_schema_version(j, &m->schema_version, reterr)) < 0 ||
	    (r = get_str(j, "", "mediaType", false, &m->media_type, reterr)) < 0)
		return r;
	if (m->media_type && !mt_is_manifest(m->media_type))
		return berth_error_set(reterr, -EBADMSG, "mediaType: '%s' is not an image manifest",
				       m->media_type);
	if ((r = get_object(j, "", "config", true, &config, reterr)) < 0 ||
	    (r = descriptor_parse(config, "config", &m->config, reterr)) < 0 ||
	    (r = get_array(j, "", "layers", true, &layers, reterr)) < 0 ||
	    (r = descriptors_parse(layers, "layers", &m->layers, &m->n_layers, reterr)) < 0 ||
	    (r = get_kv(j, "", "annotations", &m->annotations, &m->n_annotations, reterr)) < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

int fetch_oci_manifest_generate(const fetch_oci_manifest *m, buf *out)
{
	_cleanup_json_ json_t *o = json_object();

	if (!o || set(o, "schemaVersion", json_integer(2)) < 0 ||
	    set_str(o, "mediaType", m->media_type) < 0 ||
	    set(o, "config", descriptor_to_json(&m->config)) < 0 ||
	    set(o, "layers", descriptors_to_json(m->layers, m->n_layers)) < 0)
		return -ENOMEM;
	if (m->n_annotations > 0 &&
	    set(o, "annotations", kv_to_json(m->annotations, m->n_annotations)) < 0)
		return -ENOMEM;
	return dump(o, out);
}

fetch_oci_index *fetch_oci_index_free(fetch_oci_index *idx)
{
	if (!idx)
		return NULL;
	free(idx->media_type);
	for (size_t i = 0; i < idx->n_manifests; i++)
		fetch_oci_descriptor_done(&idx->manifests[i]);
	free(idx->manifests);
	fetch_kv_free_array(idx->annotations, idx->n_annotations);
	free(idx);
	return NULL;
}

int fetch_oci_index_parse(const void *data, size_t len, fetch_oci_index **ret, berth_error *reterr)
{
	_cleanup_(fetch_oci_index_freep) fetch_oci_index *idx = calloc(1, sizeof(*idx));
	_cleanup_json_ json_t *j = NULL;
	json_t *manifests;
	int r;

	if (!idx)
		return -ENOMEM;
	if ((r = load_json(data, len, JSON_OBJECT, &j, reterr)) < 0 ||
	    (r = get_schema_version(j, &idx->schema_version, reterr)) < 0 ||
	    (r = get_str(j, "", "mediaType", false, &idx->media_type, reterr)) < 0)
		return r;
	if (idx->media_type && !mt_is_index(idx->media_type))
		return berth_error_set(reterr, -EBADMSG, "mediaType: '%s' is not an image index",
				       idx->media_type);
	if ((r = get_array(j, "", "manifests", true, &manifests, reterr)) < 0 ||
	    (r = descriptors_parse(manifests, "manifests", &idx->manifests, &idx->n_manifests,
				   reterr)) < 0 ||
	    (r = get_kv(j, "", "annotations", &idx->annotations, &idx->n_annotations, reterr)) < 0)
		return r;
	*ret = TAKE_PTR(idx);
	return 0;
}

int fetch_oci_index_generate(const fetch_oci_index *idx, buf *out)
{
	_cleanup_json_ json_t *o = json_object();

	if (!o || set(o, "schemaVersion", json_integer(2)) < 0 ||
	    set_str(o, "mediaType", idx->media_type) < 0 ||
	    set(o, "manifests", descriptors_to_json(idx->manifests, idx->n_manifests)) < 0)
		return -ENOMEM;
	if (idx->n_annotations > 0 &&
	    set(o, "annotations", kv_to_json(idx->annotations, idx->n_annotations)) < 0)
		return -ENOMEM;
	return dump(o, out);
}

int fetch_oci_document_kind(const void *data, size_t len, fetch_oci_doc_kind *ret,
			    berth_error *reterr)
{
	_cleanup_json_ json_t *j = NULL;
	json_t *mt, *sv;
	int r;

	if ((r = load_json(data, len, JSON_OBJECT, &j, reterr)) < 0)
		return r;
	mt = member(j, "mediaType");
	sv = member(j, "schemaVersion");
	if (json_is_integer(sv) && json_integer_value(sv) == 1)
		return berth_error_set(reterr, -EPROTONOSUPPORT,
				       "Docker schema 1 manifests are not supported");
	if (mt && !json_is_string(mt))
		return berth_error_set(reterr, -EBADMSG, "mediaType: expected a string");
	if (mt && mt_is_manifest(json_string_value(mt)))
		*ret = FETCH_OCI_DOC_MANIFEST;
	else if (mt && mt_is_index(json_string_value(mt)))
		*ret = FETCH_OCI_DOC_INDEX;
	else if (mt)
		return berth_error_set(reterr, -EBADMSG,
				       "mediaType: '%s' is neither an image "
				       "manifest nor an index",
				       json_string_value(mt));
	else if (json_object_get(j, "manifests"))
		*ret = FETCH_OCI_DOC_INDEX;
	else if (json_object_get(j, "layers") || json_object_get(j, "config"))
		*ret = FETCH_OCI_DOC_MANIFEST;
	else
		return berth_error_set(reterr, -EBADMSG,
				       "neither an image manifest nor an index (no mediaType, "
				       "manifests or layers)");
	return 0;
}

/* ---- Configs ---- */

fetch_oci_config *fetch_oci_config_new(void)
{
	return calloc(1, sizeof(fetch_oci_config));
}

static void history_done(fetch_oci_history *h)
{
	free(h->created);
	free(h->created_by);
	free(h->author);
	free(h->comment);
}

fetch_oci_config *fetch_oci_config_free(fetch_oci_config *c)
{
	if (!c)
		return NULL;
	free(c->architecture);
	free(c->os);
	free(c->variant);
	free(c->os_version);
	free(c->created);
	free(c->author);
	free(c->comment);
	free(c->user);
	fetch_strv_free(c->env);
	fetch_strv_free(c->cmd);
	fetch_strv_free(c->entrypoint);
	free(c->working_dir);
	fetch_strv_free(c->exposed_ports);
	fetch_strv_free(c->volumes);
	fetch_kv_free_array(c->labels, c->n_labels);
	free(c->stop_signal);
	free(c->diff_ids);
	for (size_t i = 0; i < c->n_history; i++)
		history_done(&c->history[i]);
	free(c->history);
	free(c);
	return NULL;
}

const char *fetch_oci_config_label(const fetch_oci_config *c, const char *key)
{
	return kv_get(c->labels, c->n_labels, key);
}

int fetch_oci_config_set_label(fetch_oci_config *c, const char *key, const char *value)
{
	return kv_set(&c->labels, &c->n_labels, key, value);
}

static int get_time(json_t *obj, const char *where, char **ret_str, int64_t *ret_sec,
		    uint32_t *ret_nsec, berth_error *reterr)
{
	_cleanup_free_ char *s = NULL;
	uint32_t nsec;
	int64_t sec;
	int r;

	r = get_str(obj, where, "created", false, &s, reterr);
	if (r < 0 || !s)
		return r;
	if (fetch_oci_time_parse(s, &sec, &nsec) < 0)
		return berth_error_set(reterr, -EBADMSG, FIELD_FMT ": '%s' is not an RFC 3339 time",
				       FIELD(where, "created"), s);
	*ret_sec = sec;
	if (ret_nsec)
		*ret_nsec = nsec;
	*ret_str = TAKE_PTR(s);
	return 0;
}

static int container_config_parse(json_t *o, fetch_oci_config *c, berth_error *reterr)
{
	int r;

	if ((r = get_str(o, "config", "User", false, &c->user, reterr)) < 0 ||
	    (r = get_strv(o, "config", "Env", false, &c->env, reterr)) < 0 ||
	    (r = get_strv(o, "config", "Cmd", true, &c->cmd, reterr)) < 0 ||
	    (r = get_strv(o, "config", "Entrypoint", true, &c->entrypoint, reterr)) < 0 ||
	    (r = get_str(o, "config", "WorkingDir", false, &c->working_dir, reterr)) < 0 ||
	    (r = get_keys(o, "config", "ExposedPorts", &c->exposed_ports, reterr)) < 0 ||
	    (r = get_keys(o, "config", "Volumes", &c->volumes, reterr)) < 0 ||
	    (r = get_kv(o, "config", "Labels", &c->labels, &c->n_labels, reterr)) < 0 ||
	    (r = get_str(o, "config", "StopSignal", false, &c->stop_signal, reterr)) < 0)
		return r;
	return 0;
}

static int rootfs_parse(json_t *j, fetch_oci_config *c, berth_error *reterr)
{
	_cleanup_free_ char *type = NULL;
	json_t *rootfs, *ids, *v;
	char field[64];
	size_t i;
	int r;

	if ((r = get_object(j, "", "rootfs", true, &rootfs, reterr)) < 0 ||
	    (r = get_str(rootfs, "rootfs", "type", true, &type, reterr)) < 0)
		return r;
	if (!streq(type, "layers"))
		return berth_error_set(reterr, -EBADMSG, "rootfs.type: '%s' is not \"layers\"",
				       type);
	if ((r = get_array(rootfs, "rootfs", "diff_ids", true, &ids, reterr)) < 0)
		return r;
	c->diff_ids = calloc(json_array_size(ids) + 1, sizeof(store_digest));
	if (!c->diff_ids)
		return -ENOMEM;
	json_array_foreach (ids, i, v) {
		snprintf(field, sizeof(field), "rootfs.diff_ids[%zu]", i);
		if (!json_is_string(v))
			return berth_error_set(reterr, -EBADMSG, "%s: expected a string", field);
		if ((r = digest_from_string(json_string_value(v), field, &c->diff_ids[i], reterr)) <
		    0)
			return r;
		c->n_diff_ids = i + 1;
	}
	return 0;
}

static int history_parse(json_t *j, fetch_oci_config *c, berth_error *reterr)
{
	json_t *a, *o;
	char where[64];
	size_t i;
	int r;

	if ((r = get_array(j, "", "history", false, &a, reterr)) < 0 || !a)
		return r;
	c->history = calloc(json_array_size(a) + 1, sizeof(fetch_oci_history));
	if (!c->history)
		return -ENOMEM;
	json_array_foreach (a, i, o) {
		fetch_oci_history *h = &c->history[i];
		snprintf(where, sizeof(where), "history[%zu]", i);
		c->n_history = i + 1; /* owns what is parsed so far, for the free on failure */
		if (!json_is_object(o))
			return berth_error_set(reterr, -EBADMSG, "%s: expected an object", where);
		if ((r = get_time(o, where, &h->created, &h->created_unix, NULL, reterr)) < 0 ||
		    (r = get_str(o, where, "created_by", false, &h->created_by, reterr)) < 0 ||
		    (r = get_str(o, where, "author", false, &h->author, reterr)) < 0 ||
		    (r = get_str(o, where, "comment", false, &h->comment, reterr)) < 0 ||
		    (r = get_bool(o, where, "empty_layer", &h->empty_layer, reterr)) < 0)
			return r;
	}
	return 0;
}

int fetch_oci_config_parse(const void *data, size_t len, fetch_oci_config **ret,
			   berth_error *reterr)
{
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = fetch_oci_config_new();
	_cleanup_json_ json_t *j = NULL;
	json_t *cc;
	int r;

	if (!c)
		return -ENOMEM;
	if ((r = load_json(data, len, JSON_OBJECT, &j, reterr)) < 0 ||
	    (r = get_str(j, "", "architecture", true, &c->architecture, reterr)) < 0 ||
	    (r = get_str(j, "", "os", true, &c->os, reterr)) < 0 ||
	    (r = get_str(j, "", "variant", false, &c->variant, reterr)) < 0 ||
	    (r = get_str(j, "", "os.version", false, &c->os_version, reterr)) < 0 ||
	    (r = get_time(j, "", &c->created, &c->created_unix, &c->created_nsec, reterr)) < 0 ||
	    (r = get_str(j, "", "author", false, &c->author, reterr)) < 0 ||
	    (r = get_str(j, "", "comment", false, &c->comment, reterr)) < 0 ||
	    (r = get_object(j, "", "config", false, &cc, reterr)) < 0 ||
	    (cc && (r = container_config_parse(cc, c, reterr)) < 0) ||
	    (r = rootfs_parse(j, c, reterr)) < 0 || (r = history_parse(j, c, reterr)) < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

static json_t *strv_to_json(char *const *l)
{
	_cleanup_json_ json_t *a = json_array();

	for (size_t i = 0; a && l && l[i]; i++)
		if (json_array_append_new(a, json_string(l[i])) < 0)
			return NULL;
	return TAKE_PTR(a);
}

/* {"80/tcp": {}, ...} */
static json_t *keys_to_json(char *const *l)
{
	_cleanup_json_ json_t *o = json_object();

	for (size_t i = 0; o && l && l[i]; i++)
		if (set(o, l[i], json_object()) < 0)
			return NULL;
	return TAKE_PTR(o);
}

static json_t *container_config_to_json(const fetch_oci_config *c)
{
	_cleanup_json_ json_t *o = json_object();

	if (!o || set_str(o, "User", c->user) < 0 ||
	    (c->exposed_ports && set(o, "ExposedPorts", keys_to_json(c->exposed_ports)) < 0) ||
	    (c->env && set(o, "Env", strv_to_json(c->env)) < 0) ||
	    (c->entrypoint && set(o, "Entrypoint", strv_to_json(c->entrypoint)) < 0) ||
	    (c->cmd && set(o, "Cmd", strv_to_json(c->cmd)) < 0) ||
	    (c->volumes && set(o, "Volumes", keys_to_json(c->volumes)) < 0) ||
	    set_str(o, "WorkingDir", c->working_dir) < 0 ||
	    (c->labels && set(o, "Labels", kv_to_json(c->labels, c->n_labels)) < 0) ||
	    set_str(o, "StopSignal", c->stop_signal) < 0)
		return NULL;
	return TAKE_PTR(o);
}

static json_t *diff_ids_to_json(const store_digest *ids, size_t n)
{
	_cleanup_json_ json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, digest_to_json(&ids[i])) < 0)
			return NULL;
	return TAKE_PTR(a);
}

static json_t *history_to_json(const fetch_oci_history *h, size_t n)
{
	_cleanup_json_ json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		json_t *o = json_object();
		if (json_array_append_new(a, o) < 0 || set_str(o, "created", h[i].created) < 0 ||
		    set_str(o, "created_by", h[i].created_by) < 0 ||
		    set_str(o, "author", h[i].author) < 0 ||
		    set_str(o, "comment", h[i].comment) < 0 ||
		    (h[i].empty_layer && set(o, "empty_layer", json_true()) < 0))
			return NULL;
	}
	return TAKE_PTR(a);
}

static json_t *rootfs_to_json(const fetch_oci_config *c)
{
	_cleanup_json_ json_t *o = json_object();

	if (!o || set(o, "type", json_string("layers")) < 0 ||
	    set(o, "diff_ids", diff_ids_to_json(c->diff_ids, c->n_diff_ids)) < 0)
		return NULL;
	return TAKE_PTR(o);
}

int fetch_oci_config_generate(const fetch_oci_config *c, buf *out)
{
	_cleanup_json_ json_t *o = json_object();

	if (!o || set(o, "architecture", json_string(c->architecture ? c->architecture : "")) < 0 ||
	    set_str(o, "variant", c->variant) < 0 ||
	    set(o, "os", json_string(c->os ? c->os : "")) < 0 ||
	    set_str(o, "os.version", c->os_version) < 0 || set_str(o, "created", c->created) < 0 ||
	    set_str(o, "author", c->author) < 0 || set_str(o, "comment", c->comment) < 0 ||
	    set(o, "config", container_config_to_json(c)) < 0 ||
	    set(o, "rootfs", rootfs_to_json(c)) < 0 ||
	    (c->n_history > 0 && set(o, "history", history_to_json(c->history, c->n_history)) < 0))
		return -ENOMEM;
	return dump(o, out);
}

int fetch_oci_config_rewrite_diff_ids(const void *data, size_t len, const store_digest *diff_ids,
				      size_t n, buf *out, berth_error *reterr)
{
	_cleanup_json_ json_t *j = NULL;
	json_t *rootfs;
	int r;

	if ((r = load_json(data, len, JSON_OBJECT, &j, reterr)) < 0 ||
	    (r = get_object(j, "", "rootfs", true, &rootfs, reterr)) < 0)
		return r;
	/* Replacing a member keeps its place in jansson's ordered objects. */
	if (set(rootfs, "diff_ids", diff_ids_to_json(diff_ids, n)) < 0)
		return -ENOMEM;
	return dump(j, out);
}

/* ---- docker save's manifest.json ---- */

void fetch_docker_save_manifest_free(fetch_docker_save_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].config);
		fetch_strv_free(e[i].repo_tags);
		fetch_strv_free(e[i].layers);
	}
	free(e);
}

static int save_entry_parse(json_t *o, size_t i, fetch_docker_save_entry *e, berth_error *reterr)
{
	char where[32];
	json_t *layers;
	int r;

	snprintf(where, sizeof(where), "[%zu]", i);
	if (!json_is_object(o))
		return berth_error_set(reterr, -EBADMSG, "manifest.json%s: expected an object",
				       where);
	if ((r = get_str(o, where, "Config", true, &e->config, reterr)) < 0 ||
	    (r = get_strv(o, where, "RepoTags", false, &e->repo_tags, reterr)) < 0 ||
	    (r = get_array(o, where, "Layers", true, &layers, reterr)) < 0 ||
	    (r = strv_from_array(layers, where, "Layers", &e->layers, reterr)) < 0)
		return r;
	return 0;
}

int fetch_docker_save_manifest_parse(const void *data, size_t len, fetch_docker_save_entry **ret,
				     size_t *ret_n, berth_error *reterr)
{
	_cleanup_json_ json_t *j = NULL;
	fetch_docker_save_entry *e;
	size_t n, i;
	json_t *o;
	int r;

	if ((r = load_json(data, len, JSON_ARRAY, &j, reterr)) < 0)
		return r;
	n = json_array_size(j);
	e = calloc(n ? n : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	json_array_foreach (j, i, o) {
		if ((r = save_entry_parse(o, i, &e[i], reterr)) < 0) {
			fetch_docker_save_manifest_free(e, i + 1);
			return r;
		}
	}
	*ret = e;
	*ret_n = n;
	return 0;
}

int fetch_docker_save_manifest_generate(const fetch_docker_save_entry *e, size_t n, buf *out)
{
	_cleanup_json_ json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		json_t *o = json_object();
		if (json_array_append_new(a, o) < 0 || set_str(o, "Config", e[i].config) < 0 ||
		    set(o, "RepoTags",
			e[i].repo_tags ? strv_to_json(e[i].repo_tags) : json_array()) < 0 ||
		    set(o, "Layers", strv_to_json(e[i].layers)) < 0)
			return -ENOMEM;
	}
	if (!a)
		return -ENOMEM;
	return dump(a, out);
}
