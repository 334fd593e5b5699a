/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/import.c: `berth import`: rootfs tar -> one-layer image with a generated config, and the
 * Dockerfile instructions of --change applied to that config.
 *
 * The instructions are parsed the way Dockerfiles are, as far as import needs: words split on
 * blanks with "double" and 'single' quotes and backslash escapes; CMD, ENTRYPOINT and VOLUME take
 * a JSON array (exec form) or else a plain string (shell form: ["/bin/sh", "-c", STRING]).
 * The changes are applied before the tar is read, so a bad --change fails without consuming it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fetch/import.h"
#include "fetch/unpack.h"
#include "store/image.h"
#include "store/ref.h"
#include "util/macro.h"

#define MAX_PORT_RANGE 1024

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Splits into words; quotes group, a backslash escapes the next character. */
static int split_words(const char *s, char ***ret, berth_error *reterr)
{
	_cleanup_(fetch_strv_freep) char **words = calloc(1, sizeof(char *));
	_cleanup_(buf_done) buf w = BUF_INIT;
	const char *orig = s;

	if (!words)
		return -ENOMEM;
	for (s = skip_blanks(s); *s; s = skip_blanks(s)) {
		buf_reset(&w);
		while (*s && *s != ' ' && *s != '\t') {
			char q = *s;
			if (q == '\\' && s[1]) {
				if (buf_append_byte(&w, (uint8_t)s[1]) < 0)
					return -ENOMEM;
				s += 2;
				continue;
			}
			if (q != '"' && q != '\'') {
				if (buf_append_byte(&w, (uint8_t)*s++) < 0)
					return -ENOMEM;
				continue;
			}
			for (s++; *s && *s != q; s++) {
				if (q == '"' && *s == '\\' && s[1])
					s++;
				if (buf_append_byte(&w, (uint8_t)*s) < 0)
					return -ENOMEM;
			}
			if (*s != q)
				return berth_error_set(reterr, -EINVAL,
						       "unterminated quote in '%s'", orig);
			s++;
		}
		if (fetch_strv_push(&words, w.data ? w.data : "") < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(words);
	return 0;
}

/* Exec form if it is a JSON array of strings, else shell form. */
static int exec_or_shell(const char *arg, char ***ret)
{
	char **l = NULL;
	int r;

	if (*arg == '[' && fetch_json_strv_parse(arg, &l) == 0) {
		*ret = l;
		return 0;
	}
	if ((r = fetch_strv_push(&l, "/bin/sh")) < 0 || (r = fetch_strv_push(&l, "-c")) < 0 ||
	    (r = fetch_strv_push(&l, arg)) < 0) {
		fetch_strv_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

static int env_set(fetch_oci_config *c, const char *key, const char *value)
{
	_cleanup_free_ char *kv = NULL;
	size_t klen = strlen(key);

	if (asprintf(&kv, "%s=%s", key, value) < 0)
		return -ENOMEM;
	for (size_t i = 0; c->env && c->env[i]; i++)
		if (strneq(c->env[i], key, klen) && c->env[i][klen] == '=') {
			free(c->env[i]);
			c->env[i] = TAKE_PTR(kv);
			return 0;
		}
	return fetch_strv_push(&c->env, kv);
}

typedef int (*kv_setter)(fetch_oci_config *c, const char *key, const char *value);

static int label_set(fetch_oci_config *c, const char *key, const char *value)
{
	return fetch_oci_config_set_label(c, key, value);
}

/* "K=V K2=V2" or the legacy "K V..." (one pair, the value is the rest). */
static int apply_pairs(fetch_oci_config *c, const char *what, const char *arg, kv_setter set,
		       berth_error *reterr)
{
	_cleanup_(fetch_strv_freep) char **w = NULL;
	int r;

	if ((r = split_words(arg, &w, reterr)) < 0)
		return r;
	if (!w[0])
		return berth_error_set(reterr, -EINVAL, "%s needs at least one argument", what);
	if (!strchr(w[0], '=')) {
		_cleanup_(buf_done) buf v = BUF_INIT;
		if (!w[1])
			return berth_error_set(reterr, -EINVAL, "%s '%s' has no value", what, w[0]);
		for (size_t i = 1; w[i]; i++)
			if ((i > 1 && buf_append_byte(&v, ' ') < 0) || buf_append_str(&v, w[i]) < 0)
				return -ENOMEM;
		return set(c, w[0], v.data);
	}
	for (size_t i = 0; w[i]; i++) {
		char *eq = strchr(w[i], '=');
		if (!eq || eq == w[i])
			return berth_error_set(reterr, -EINVAL, "%s: '%s' is not KEY=VALUE", what,
					       w[i]);
		*eq = '\0';
		if ((r = set(c, w[i], eq + 1)) < 0)
			return r;
	}
	return 0;
}

static int parse_port(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static bool keys_has(char **l, const char *s)
{
	for (size_t i = 0; l && l[i]; i++)
		if (streq(l[i], s))
			return true;
	return false;
}

static int push_unique(char ***l, const char *s)
{
	return keys_has(*l, s) ? 0 : fetch_strv_push(l, s);
}

/* "80", "80/udp", "8000-8010/tcp" */
static int expose_one(fetch_oci_config *c, const char *word, berth_error *reterr)
{
	_cleanup_free_ char *w = strdup(word);
	char *slash, *dash, key[32];
	const char *proto = "tcp";
	unsigned lo, hi;
	int r;

	if (!w)
		return -ENOMEM;
	if ((slash = strchr(w, '/'))) {
		*slash = '\0';
		proto = slash + 1;
		if (!streq(proto, "tcp") && !streq(proto, "udp") && !streq(proto, "sctp"))
			return berth_error_set(reterr, -EINVAL, "EXPOSE '%s': unknown protocol",
					       word);
	}
	if ((dash = strchr(w, '-')))
		*dash = '\0';
	if (parse_port(w, &lo) < 0 || (dash && parse_port(dash + 1, &hi) < 0))
		return berth_error_set(reterr, -EINVAL, "EXPOSE '%s': not a port (1-65535)", word);
	if (!dash)
		hi = lo;
	if (hi < lo || hi - lo >= MAX_PORT_RANGE)
		return berth_error_set(reterr, -EINVAL, "EXPOSE '%s': bad port range", word);
	for (unsigned p = lo; p <= hi; p++) {
		snprintf(key, sizeof(key), "%u/%s", p, proto);
		if ((r = push_unique(&c->exposed_ports, key)) < 0)
			return r;
	}
	return 0;
}

static int apply_expose(fetch_oci_config *c, const char *arg, berth_error *reterr)
{
	_cleanup_(fetch_strv_freep) char **w = NULL;
	int r;

	if ((r = split_words(arg, &w, reterr)) < 0)
		return r;
	if (!w[0])
		return berth_error_set(reterr, -EINVAL, "EXPOSE needs at least one port");
	for (size_t i = 0; w[i]; i++)
		if ((r = expose_one(c, w[i], reterr)) < 0)
			return r;
	return 0;
}

static int apply_volume(fetch_oci_config *c, const char *arg, berth_error *reterr)
{
	_cleanup_(fetch_strv_freep) char **w = NULL;
	int r;

	if (*arg == '[') {
		if (fetch_json_strv_parse(arg, &w) < 0)
			return berth_error_set(reterr, -EINVAL, "VOLUME '%s': bad JSON array", arg);
	} else if ((r = split_words(arg, &w, reterr)) < 0)
		return r;
	if (!w[0])
		return berth_error_set(reterr, -EINVAL, "VOLUME needs at least one path");
	for (size_t i = 0; w[i]; i++) {
		if (!w[i][0])
			return berth_error_set(reterr, -EINVAL, "VOLUME: empty path");
		if ((r = push_unique(&c->volumes, w[i])) < 0)
			return r;
	}
	return 0;
}

/* One plain word (USER, STOPSIGNAL) or the whole rest (WORKDIR), quotes removed. */
static int single_arg(const char *what, const char *arg, bool one_word, char **ret,
		      berth_error *reterr)
{
	_cleanup_(fetch_strv_freep) char **w = NULL;
	_cleanup_(buf_done) buf v = BUF_INIT;
	int r;

	if ((r = split_words(arg, &w, reterr)) < 0)
		return r;
	if (!w[0] || !w[0][0])
		return berth_error_set(reterr, -EINVAL, "%s needs an argument", what);
	if (one_word && w[1])
		return berth_error_set(reterr, -EINVAL, "%s takes one argument, not '%s'", what,
				       arg);
	for (size_t i = 0; w[i]; i++)
		if ((i > 0 && buf_append_byte(&v, ' ') < 0) || buf_append_str(&v, w[i]) < 0)
			return -ENOMEM;
	*ret = buf_steal(&v);
	return 0;
}

static int apply_workdir(fetch_oci_config *c, const char *arg, berth_error *reterr)
{
	_cleanup_free_ char *d = NULL;
	char *joined;
	int r;

	if ((r = single_arg("WORKDIR", arg, false, &d, reterr)) < 0)
		return r;
	if (d[0] == '/')
		joined = TAKE_PTR(d);
	else if (asprintf(&joined, "%s/%s", c->working_dir ? c->working_dir : "", d) < 0)
		return -ENOMEM;
	free(c->working_dir);
	c->working_dir = joined;
	return 0;
}

static int replace_str(char **field, char *value)
{
	free(*field);
	*field = value;
	return 0;
}

static int replace_strv(char ***field, char **value)
{
	fetch_strv_free(*field);
	*field = value;
	return 0;
}

int fetch_import_apply_change(fetch_oci_config *c, const char *change, berth_error *reterr)
{
	const char *p = skip_blanks(change), *arg;
	char word[16];
	size_t n = 0;
	char *s = NULL;
	char **l = NULL;
	int r;

	while (p[n] && p[n] != ' ' && p[n] != '\t')
		n++;
	if (n == 0 || n >= sizeof(word))
		return berth_error_set(reterr, -EINVAL, "unknown --change instruction '%.*s'",
				       (int)MIN(n, (size_t)64), p);
	memcpy(word, p, n);
	word[n] = '\0';
	arg = skip_blanks(p + n);
	if (!strcasecmp(word, "CMD") || !strcasecmp(word, "ENTRYPOINT")) {
		if (!*arg)
			return berth_error_set(reterr, -EINVAL, "%s needs an argument", word);
		if ((r = exec_or_shell(arg, &l)) < 0)
			return r;
		return replace_strv(!strcasecmp(word, "CMD") ? &c->cmd : &c->entrypoint, l);
	}
	if (!strcasecmp(word, "ENV"))
		return apply_pairs(c, "ENV", arg, env_set, reterr);
	if (!strcasecmp(word, "LABEL"))
		return apply_pairs(c, "LABEL", arg, label_set, reterr);
	if (!strcasecmp(word, "EXPOSE"))
		return apply_expose(c, arg, reterr);
	if (!strcasecmp(word, "VOLUME"))
		return apply_volume(c, arg, reterr);
	if (!strcasecmp(word, "WORKDIR"))
		return apply_workdir(c, arg, reterr);
	if (!strcasecmp(word, "USER") || !strcasecmp(word, "STOPSIGNAL")) {
		bool user = !strcasecmp(word, "USER");
		if ((r = single_arg(user ? "USER" : "STOPSIGNAL", arg, true, &s, reterr)) < 0)
			return r;
		return replace_str(user ? &c->user : &c->stop_signal, s);
	}
	return berth_error_set(reterr, -EINVAL,
			       "unknown --change instruction '%s' (CMD, ENTRYPOINT, ENV, EXPOSE, "
			       "LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL)",
			       word);
}

/* The config of an imported image, before its layer is known. */
static int config_new(const fetch_import_opts *opts, fetch_oci_config **ret, berth_error *reterr)
{
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = fetch_oci_config_new();
	char created[FETCH_OCI_TIME_MAX];
	const char *variant = fetch_oci_host_variant();
	struct timespec ts;
	int r;

	if (!c)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	fetch_oci_time_format(ts.tv_sec, (uint32_t)ts.tv_nsec, created);
	c->created_unix = ts.tv_sec;
	c->created_nsec = (uint32_t)ts.tv_nsec;
	if (!(c->architecture = strdup(fetch_oci_host_arch())) || !(c->os = strdup("linux")) ||
	    !(c->created = strdup(created)) || (variant && !(c->variant = strdup(variant))))
		return -ENOMEM;
	if (opts->message)
		c->comment = strdup(opts->message);
	else if (asprintf(&c->comment, "Imported from %s", opts->source ? opts->source : "-") < 0)
		c->comment = NULL;
	if (!c->comment)
		return -ENOMEM;
	c->history = calloc(1, sizeof(fetch_oci_history));
	if (!c->history)
		return -ENOMEM;
	c->n_history = 1;
	if (!(c->history[0].created = strdup(created)) ||
	    !(c->history[0].comment = strdup(c->comment)))
		return -ENOMEM;
	c->history[0].created_unix = ts.tv_sec;
	for (size_t i = 0; opts->changes && opts->changes[i]; i++)
		if ((r = fetch_import_apply_change(c, opts->changes[i], reterr)) < 0)
			return r;
	*ret = TAKE_PTR(c);
	return 0;
}

static int import_locked(store *s, int fd, const fetch_import_opts *opts, fetch_oci_config *c,
			 store_digest *ret_id, berth_error *reterr)
{
	fetch_unpack_opts uo = { .progress = opts->progress, .userdata = opts->userdata };
	_cleanup_(buf_done) buf json = BUF_INIT;
	fetch_unpack_result res;
	store_digest id;
	int r;

	if ((r = fetch_unpack_fd(s, fd, &uo, &res, reterr)) < 0)
		return r;
	c->diff_ids = malloc(sizeof(store_digest));
	if (!c->diff_ids)
		return -ENOMEM;
	c->diff_ids[0] = res.layer.diff_id;
	c->n_diff_ids = 1;
	if ((r = fetch_oci_config_generate(c, &json)) < 0)
		return r;
	if ((r = store_image_create(s, json.data, json.len, &res.layer, 1, &id, reterr)) < 0)
		return r;
	/* The ref last, once the image is complete. */
	if (opts->ref_name && (r = store_ref_set(s, opts->ref_name, &id)) < 0)
		return berth_error_set(reterr, r, "cannot set the reference '%s'", opts->ref_name);
	*ret_id = id;
	return 0;
}

int fetch_import_fd(store *s, int fd, const fetch_import_opts *opts, store_digest *ret_id,
		    berth_error *reterr)
{
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = NULL;
	int r;

	if ((r = config_new(opts, &c, reterr)) < 0)
		return r;
	if ((r = store_write_begin(s)) < 0)
		return berth_error_set(reterr, r, "cannot lock the store");
	r = import_locked(s, fd, opts, c, ret_id, reterr);
	store_write_end(s);
	return r;
}
