/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-inspect.c: `berth inspect IMAGE...`: a JSON array with one object per image, in the
 * shape of `docker image inspect` (Id, RepoTags, RepoDigests, Parent, Comment, Created, Author,
 * Config, Architecture, Os, Size, RootFS, Metadata). Missing images are reported on stderr
 * after the array, and make the exit status 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "fetch/oci.h"
#include "store/image.h"
#include "util/log.h"

#define ZERO_TIME "0001-01-01T00:00:00Z"

/* json_object_set_new() that fails on a NULL value. */
static int set(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static json_t *str_or_empty(const char *s)
{
	return json_string(s ? s : "");
}

/* A list, or null when absent (Docker prints null for an unset Cmd). */
static json_t *strv_json(char *const *l)
{
	json_t *a;

	if (!l)
		return json_null();
	a = json_array();
	for (size_t i = 0; a && l[i]; i++)
		if (json_array_append_new(a, json_string(l[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* {"80/tcp": {}} or null */
static json_t *set_json(char *const *l)
{
	json_t *o;

	if (!l)
		return json_null();
	o = json_object();
	for (size_t i = 0; o && l[i]; i++)
		if (set(o, l[i], json_object()) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static json_t *labels_json(const fetch_oci_config *c)
{
	json_t *o;

	if (!c->labels)
		return json_null();
	o = json_object();
	for (size_t i = 0; o && i < c->n_labels; i++)
		if (set(o, c->labels[i].key, json_string(c->labels[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/* Docker's container-config shape, in its field order. */
static json_t *config_json(const fetch_oci_config *c)
{
	json_t *o = json_object();

	if (!o || set(o, "Hostname", json_string("")) < 0 ||
	    set(o, "Domainname", json_string("")) < 0 ||
	    set(o, "User", str_or_empty(c->user)) < 0 || set(o, "AttachStdin", json_false()) < 0 ||
	    set(o, "AttachStdout", json_false()) < 0 || set(o, "AttachStderr", json_false()) < 0 ||
	    (c->exposed_ports && set(o, "ExposedPorts", set_json(c->exposed_ports)) < 0) ||
	    set(o, "Tty", json_false()) < 0 || set(o, "OpenStdin", json_false()) < 0 ||
	    set(o, "StdinOnce", json_false()) < 0 || set(o, "Env", strv_json(c->env)) < 0 ||
	    set(o, "Cmd", strv_json(c->cmd)) < 0 || set(o, "Image", json_string("")) < 0 ||
	    set(o, "Volumes", set_json(c->volumes)) < 0 ||
	    set(o, "WorkingDir", str_or_empty(c->working_dir)) < 0 ||
	    set(o, "Entrypoint", strv_json(c->entrypoint)) < 0 ||
	    set(o, "OnBuild", json_null()) < 0 || set(o, "Labels", labels_json(c)) < 0 ||
	    (c->stop_signal && set(o, "StopSignal", json_string(c->stop_signal)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *rootfs_json(const fetch_oci_config *c)
{
	json_t *o = json_object(), *layers = json_array();

	if (!o || set(o, "Type", json_string("layers")) < 0 || set(o, "Layers", layers) < 0) {
		json_decref(o);
		return NULL;
	}
	for (size_t i = 0; i < c->n_diff_ids; i++) {
		char d[STORE_DIGEST_STR_LEN];
		store_digest_str(&c->diff_ids[i], d);
		if (json_array_append_new(layers, json_string(d)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *repo_tags_json(store *s, const store_digest *id)
{
	_cleanup_(fetch_strv_freep) char **names = NULL;
	json_t *a;

	if (cli_image_refs(s, id, &names) < 0 || !(a = json_array()))
		return NULL;
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *fam = cli_familiar(names[i]);
		if (!fam || json_array_append_new(a, json_string(fam)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int image_json(store *s, const store_digest *id, json_t **ret)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = NULL;
	_cleanup_(buf_done) buf cfg = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	char ids[STORE_DIGEST_STR_LEN];
	uint64_t size = 0;
	json_t *o, *meta;
	int r;

	if ((r = store_image_load(s, id, &img)) < 0 || (r = store_image_config(s, img, &cfg)) < 0)
		return log_error_errno(r, "Failed to read the image: %m");
	if ((r = fetch_oci_config_parse(cfg.data, cfg.len, &c, &err)) < 0)
		return log_error_errno(r, "The image's config is invalid: %s",
				       berth_error_message(&err, r));
	(void)store_image_content_size(s, id, &size);
	store_digest_str(id, ids);
	o = json_object();
	meta = json_object();
	if (!o || set(o, "Id", json_string(ids)) < 0 ||
	    set(o, "RepoTags", repo_tags_json(s, id)) < 0 ||
	    set(o, "RepoDigests", json_array()) < 0 || set(o, "Parent", json_string("")) < 0 ||
	    set(o, "Comment", str_or_empty(c->comment)) < 0 ||
	    set(o, "Created", json_string(c->created ? c->created : ZERO_TIME)) < 0 ||
	    set(o, "DockerVersion", json_string("")) < 0 ||
	    set(o, "Author", str_or_empty(c->author)) < 0 || set(o, "Config", config_json(c)) < 0 ||
	    set(o, "Architecture", str_or_empty(c->architecture)) < 0 ||
	    (c->variant && set(o, "Variant", json_string(c->variant)) < 0) ||
	    set(o, "Os", str_or_empty(c->os)) < 0 ||
	    set(o, "Size", json_integer((json_int_t)size)) < 0 ||
	    set(o, "RootFS", rootfs_json(c)) < 0 || set(o, "Metadata", meta) < 0 ||
	    set(meta, "LastTagTime", json_string(ZERO_TIME)) < 0) {
		json_decref(o);
		return log_error_errno(-ENOMEM, "Out of memory");
	}
	*ret = o;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: berth inspect IMAGE [IMAGE...]\n\n"
		   "Print the configuration and layers of images as a JSON array.\n\n"
		   "Options:\n"
		   "  -h, --help        show this help\n");
}

int cli_cmd_inspect(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	json_t *all;
	char *out;
	int c, failed = 0;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) >= 0) {
		if (c != 'h')
			return cli_option_error("inspect", c, argv);
		usage(stdout);
		return 0;
	}
	if (optind >= argc)
		return cli_usage_error("inspect", "needs at least one IMAGE");
	if (!(s = cli_store(ctx)))
		return 1;
	if (!(all = json_array()))
		return 1;
	for (int i = optind; i < argc; i++) {
		store_digest id;
		json_t *o;
		if (cli_image_resolve(s, argv[i], &id, NULL) < 0 || image_json(s, &id, &o) < 0) {
			failed = 1;
			continue;
		}
		json_array_append_new(all, o);
	}
	out = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(all);
	printf("%s\n", out ? out : "[]");
	free(out);
	fflush(stdout);
	/* Docker prints the errors after the array. */
	for (int i = optind; i < argc && failed; i++) {
		store_digest id;
		int r = cli_image_resolve(s, argv[i], &id, NULL);
		if (r == -ENOENT)
			fprintf(stderr, "Error: No such image: %s\n", argv[i]);
		else if (r == -ENOTUNIQ)
			fprintf(stderr, "Error: '%s' is an ambiguous image ID prefix\n", argv[i]);
	}
	return failed;
}
