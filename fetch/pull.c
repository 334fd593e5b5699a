/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/pull.c: `berth pull`: manifests, platform, config, then the layers (fetch/pull-layers.c)
 * and the image and ref. See fetch/pull.h for the order of work and what it guarantees.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch/pull-private.h"
#include "store/image.h"
#include "store/ref.h"
#include "util/log.h"
#include "util/macro.h"

#define MANIFEST_MAX	(4u << 20)
#define CONFIG_MAX	(16u << 20)
#define INDEX_DEPTH_MAX 4

static const char *const accept_header = "Accept: " FETCH_OCI_MT_INDEX ", " FETCH_OCI_MT_MANIFEST
					 ", " FETCH_DOCKER_MT_LIST ", " FETCH_DOCKER_MT_MANIFEST;

int pull_context(puller *p, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = berth_error_vprefix(p->reterr, r, fmt, ap);
	va_end(ap);
	return r;
}

int pull_warn(puller *p, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	return r < 0 ? -ENOMEM : fetch_strv_push(&p->res->warnings, msg);
}

void fetch_pull_result_done(fetch_pull_result *r)
{
	if (!r)
		return;
	free(r->name);
	fetch_strv_free(r->warnings);
	*r = (fetch_pull_result){};
}

/* ---- Platforms ---- */

void fetch_platform_done(fetch_oci_platform *p)
{
	free(p->architecture);
	free(p->os);
	free(p->variant);
	free(p->os_version);
	*p = (fetch_oci_platform){};
}

static const char *arch_alias(const char *a)
{
	static const char *const map[][2] = {
		{ "x86_64", "amd64" }, { "x86-64", "amd64" }, { "aarch64", "arm64" },
		{ "armhf", "arm" },    { "armel", "arm" },    { "i686", "386" },
		{ "i386", "386" },
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (streq(a, map[i][0]))
			return map[i][1];
	return a;
}

int fetch_platform_parse(const char *s, fetch_oci_platform *ret)
{
	_cleanup_free_ char *copy = strdup(s);
	char *parts[4] = {}, *save = NULL;
	size_t n = 0;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, "/", &save); w; w = strtok_r(NULL, "/", &save)) {
		if (n == 3 || !*w)
			return -EINVAL;
		parts[n++] = w;
	}
	/* strtok_r skips empty fields: "linux//x" must not pass as "linux/x". */
	if (n < 2 || strstr(s, "//") || s[0] == '/' || s[strlen(s) - 1] == '/')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		for (char *c = parts[i]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	fetch_oci_platform p = {
		.os = strdup(parts[0]),
		.architecture = strdup(arch_alias(parts[1])),
		.variant = parts[2] ? strdup(parts[2]) : NULL,
	};
	if (!p.os || !p.architecture || (parts[2] && !p.variant)) {
		fetch_platform_done(&p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

static bool variant_matches(const char *arch, const char *want, const char *have)
{
	if (!want)
		return true;
	if (have && streq(want, have))
		return true;
	/* arm64's only variant is v8, which indexes usually leave out. */
	return !have && streq(arch, "arm64") && streq(want, "v8");
}

static bool is_image_type(const char *mt)
{
	return streq(mt, FETCH_OCI_MT_MANIFEST) || streq(mt, FETCH_DOCKER_MT_MANIFEST) ||
	       streq(mt, FETCH_OCI_MT_INDEX) || streq(mt, FETCH_DOCKER_MT_LIST);
}

const fetch_oci_descriptor *fetch_platform_select(const fetch_oci_index *idx,
						  const fetch_oci_platform *want)
{
	const char *os = want ? want->os : "linux";
	const char *arch = want ? want->architecture : fetch_oci_host_arch();
	const char *variant = want ? want->variant : fetch_oci_host_variant();
	const fetch_oci_descriptor *loose = NULL;

	for (size_t i = 0; i < idx->n_manifests; i++) {
		const fetch_oci_descriptor *d = &idx->manifests[i];
		const fetch_oci_platform *p = &d->platform;
		if (!is_image_type(d->media_type) || !d->has_platform || !p->os ||
		    !p->architecture || !streq(p->os, os) || !streq(p->architecture, arch))
			continue;
		if (variant_matches(arch, variant, p->variant))
			return d;
		/* This machine's variant is a preference, not a requirement (as in fetch_oci_platform_is_host). */
		if (!want && !p->variant && !loose)
			loose = d;
	}
	if (!loose && idx->n_manifests == 1 && !idx->manifests[0].has_platform &&
	    is_image_type(idx->manifests[0].media_type))
		loose = &idx->manifests[0];
	return loose;
}

static void platform_str(const fetch_oci_platform *p, char *out, size_t len)
{
	snprintf(out, len, "%s/%s%s%s", p->os ? p->os : "?",
		 p->architecture ? p->architecture : "?", p->variant ? "/" : "",
		 p->variant ? p->variant : "");
}

static int no_platform(puller *p, const fetch_oci_index *idx)
{
	_cleanup_(buf_done) buf have = BUF_INIT;
	char want[128];

	if (p->want)
		platform_str(p->want, want, sizeof(want));
	else
		snprintf(want, sizeof(want), "linux/%s", fetch_oci_host_arch());
	for (size_t i = 0; i < idx->n_manifests; i++) {
		char s[128];
		if (!idx->manifests[i].has_platform)
			continue;
		platform_str(&idx->manifests[i].platform, s, sizeof(s));
		if (buf_printf(&have, "%s%s", have.len ? ", " : "", s) < 0)
			return -ENOMEM;
	}
	return berth_error_set(p->reterr, -ENOENT, "no image for %s in the index (it has: %s)",
			       want, have.len ? have.data : "no platforms");
}

/* ---- Manifests ---- */

/* Content-Type without parameters, lowercased. */
static void media_type_of(const fetch_http_response *resp, char *out, size_t len)
{
	const char *ct = fetch_http_response_header(resp, "Content-Type");
	size_t n = ct ? strcspn(ct, "; \t") : 0;

	snprintf(out, len, "%.*s", (int)MIN(n, len - 1), ct ? ct : "");
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
}

/*
 * What the document is: the Content-Type says, and the body must agree. Generic types
 * (application/json, text/plain, none) leave it to the body, as registries that do not know
 * image types send those.
 */
static int document_kind(puller *p, const char *mt, const buf *body, fetch_oci_doc_kind *ret)
{
	fetch_oci_doc_kind by_body;
	int r;
	static const char schema1[] = "application/vnd.docker.distribution.manifest.v1";

	if (strneq(mt, schema1, sizeof(schema1) - 1))
		return berth_error_set(p->reterr, -EPROTONOSUPPORT,
				       "Docker schema 1 manifests ('%s') are not supported", mt);
	if (!is_image_type(mt) && mt[0] && !streq(mt, "application/json") &&
	    !streq(mt, "text/plain") && !streq(mt, "application/octet-stream"))
		return berth_error_set(p->reterr, -EPROTONOSUPPORT,
				       "unsupported manifest media type '%s'", mt);
	if ((r = fetch_oci_document_kind(body->data, body->len, &by_body, p->reterr)) < 0)
		return r;
	if (is_image_type(mt)) {
		bool index = streq(mt, FETCH_OCI_MT_INDEX) || streq(mt, FETCH_DOCKER_MT_LIST);
		if (index != (by_body == FETCH_OCI_DOC_INDEX))
			return berth_error_set(p->reterr, -EBADMSG,
					       "the registry says the manifest is '%s', but it is "
					       "an image %s",
					       mt, index ? "manifest" : "index");
	}
	*ret = by_body;
	return 0;
}

static int check_manifest_digest(puller *p, const fetch_http_response *resp,
				 const store_digest *expect, store_digest *ret)
{
	const char *dcd = fetch_http_response_header(resp, "Docker-Content-Digest");
	char got[STORE_DIGEST_STR_LEN];
	store_digest d, said;

	store_digest_buf(resp->body.data, resp->body.len, &d);
	store_digest_str(&d, got);
	if (expect && !store_digest_eq(expect, &d)) {
		char want[STORE_DIGEST_STR_LEN];
		store_digest_str(expect, want);
		return berth_error_set(p->reterr, -EBADMSG,
				       "the manifest does not match its digest: asked for %s, got "
				       "%s",
				       want, got);
	}
	if (dcd && strneq(dcd, "sha256:", 7) && store_digest_parse(dcd, &said) >= 0 &&
	    !store_digest_eq(&said, &d))
		return berth_error_set(p->reterr, -EBADMSG,
				       "the manifest does not match the registry's "
				       "Docker-Content-Digest %s (its bytes hash to %s)",
				       dcd, got);
	*ret = d;
	return 0;
}

/* GET /v2/REPO/manifests/WHAT: the verified bytes, their kind and digest. */
static int get_manifest(puller *p, const char *what, const store_digest *expect, buf *out,
			fetch_oci_doc_kind *ret_kind, store_digest *ret_digest)
{
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	_cleanup_free_ char *path = NULL;
	const char *headers[] = { accept_header, NULL };
	char mt[128];
	int r;

	if (asprintf(&path, "/v2/%s/manifests/%s", p->ref->path, what) < 0)
		return -ENOMEM;
	fetch_http_request req = { .url = path, .headers = headers, .max_body = MANIFEST_MAX };
	if ((r = fetch_registry_do(p->reg, p->http, &req, &resp, p->reterr)) < 0)
		return r == -EFBIG ? pull_context(p, r, "manifest '%s' is over %u bytes", what,
						  MANIFEST_MAX)
				   : r;
	if (resp.status != 200) {
		_cleanup_free_ char *ctx = NULL;
		if (asprintf(&ctx, "manifest '%s'", what) < 0)
			return -ENOMEM;
		return fetch_registry_answer_error(&resp, ctx, p->reterr);
	}
	if ((r = check_manifest_digest(p, &resp, expect, ret_digest)) < 0)
		return r;
	media_type_of(&resp, mt, sizeof(mt));
	if ((r = document_kind(p, mt, &resp.body, ret_kind)) < 0)
		return r;
	buf_done(out);
	*out = resp.body;
	resp.body = (buf)BUF_INIT;
	return 0;
}

/* From the top-level document down to one image manifest, parsed into p->m. */
static int resolve_manifest(puller *p, const char *what)
{
	_cleanup_(buf_done) buf body = BUF_INIT;
	fetch_oci_doc_kind kind;
	store_digest d, expect;
	int r;

	if ((r = get_manifest(p, what, p->ref->has_digest ? &p->ref->digest : NULL, &body, &kind,
			      &d)) < 0)
		return r;
	p->res->digest = d;
	for (int depth = 0; kind == FETCH_OCI_DOC_INDEX; depth++) {
		_cleanup_(fetch_oci_index_freep) fetch_oci_index *idx = NULL;
		const fetch_oci_descriptor *pick;
		char ds[STORE_DIGEST_STR_LEN];
		if (depth >= INDEX_DEPTH_MAX)
			return berth_error_set(p->reterr, -ELOOP, "indexes nested over %d deep",
					       INDEX_DEPTH_MAX);
		if ((r = fetch_oci_index_parse(body.data, body.len, &idx, p->reterr)) < 0)
			return pull_context(p, r, "bad image index");
		if (!(pick = fetch_platform_select(idx, p->want)))
			return no_platform(p, idx);
		expect = pick->digest;
		store_digest_str(&expect, ds);
		if ((r = get_manifest(p, ds, &expect, &body, &kind, &d)) < 0)
			return r;
		if (body.len != pick->size)
			return berth_error_set(p->reterr, -EBADMSG,
					       "manifest %s has %zu bytes, the index says %llu", ds,
					       body.len, (unsigned long long)pick->size);
	}
	if ((r = fetch_oci_manifest_parse(body.data, body.len, &p->m, p->reterr)) < 0)
		return pull_context(p, r, "bad image manifest");
	return 0;
}

static int check_manifest(puller *p)
{
	const fetch_oci_manifest *m = p->m;
	const char *ct = m->config.media_type;

	if (!streq(ct, FETCH_OCI_MT_CONFIG) && !streq(ct, FETCH_DOCKER_MT_CONFIG))
		return berth_error_set(p->reterr, -EPROTONOSUPPORT,
				       "not a container image: its config is '%s'", ct);
	for (size_t i = 0; i < m->n_layers; i++)
		if (!fetch_oci_layer_media_type_supported(m->layers[i].media_type))
			return berth_error_set(p->reterr, -EPROTONOSUPPORT,
					       "layer %zu has the unsupported media type '%s'", i,
					       m->layers[i].media_type);
	if (m->config.size > CONFIG_MAX)
		return berth_error_set(p->reterr, -EFBIG, "the image config is over %u bytes",
				       CONFIG_MAX);
	return 0;
}

/* ---- Config ---- */

static int get_config(puller *p)
{
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	const fetch_oci_descriptor *cd = &p->m->config;
	_cleanup_free_ char *path = NULL;
	char ds[STORE_DIGEST_STR_LEN];
	store_digest got;
	int r;

	store_digest_str(&cd->digest, ds);
	if (asprintf(&path, "/v2/%s/blobs/%s", p->ref->path, ds) < 0)
		return -ENOMEM;
	fetch_http_request req = { .url = path, .max_body = CONFIG_MAX };
	if ((r = fetch_registry_do(p->reg, p->http, &req, &resp, p->reterr)) < 0)
		return r;
	if (resp.status != 200)
		return fetch_registry_answer_error(&resp, "image config", p->reterr);
	store_digest_buf(resp.body.data, resp.body.len, &got);
	if (!store_digest_eq(&got, &cd->digest) || resp.body.len != cd->size)
		return berth_error_set(p->reterr, -EBADMSG,
				       "the image config does not match its digest %s (%zu bytes, "
				       "the manifest says %llu)",
				       ds, resp.body.len, (unsigned long long)cd->size);
	if ((r = fetch_oci_config_parse(resp.body.data, resp.body.len, &p->c, p->reterr)) < 0)
		return pull_context(p, r, "bad image config");
	if (p->c->n_diff_ids != p->m->n_layers)
		return berth_error_set(p->reterr, -EBADMSG,
				       "the manifest has %zu layers but the config %zu diff_ids",
				       p->m->n_layers, p->c->n_diff_ids);
	p->config = resp.body;
	resp.body = (buf)BUF_INIT;
	return 0;
}

/* The config of an image the store has already (no download: only its platform is checked). */
static int stored_config(puller *p)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	int r;

	if ((r = store_image_load(p->s, &p->m->config.digest, &img)) < 0 ||
	    (r = store_image_config(p->s, img, &p->config)) < 0)
		return berth_error_set(p->reterr, r, "cannot read the stored image: %s",
				       strerror(-r));
	if ((r = fetch_oci_config_parse(p->config.data, p->config.len, &p->c, p->reterr)) < 0)
		return pull_context(p, r, "bad stored image config");
	return 0;
}

/* The config's platform against the one asked for: an error for --platform, else a warning. */
static int check_platform(puller *p)
{
	const fetch_oci_config *c = p->c;
	fetch_oci_platform have = { .os = c->os,
				    .architecture = c->architecture,
				    .variant = c->variant };
	char hs[128], ws[128];

	if (!p->want) {
		if (c->os && c->architecture && fetch_oci_platform_is_host(&have))
			return 0;
		platform_str(&have, hs, sizeof(hs));
		return pull_warn(p,
				 "The requested image's platform (%s) does not match the detected "
				 "host platform (linux/%s)",
				 hs, fetch_oci_host_arch());
	}
	if (c->os && c->architecture && streq(c->os, p->want->os) &&
	    streq(arch_alias(c->architecture), p->want->architecture) &&
	    variant_matches(c->architecture, p->want->variant, c->variant))
		return 0;
	platform_str(&have, hs, sizeof(hs));
	platform_str(p->want, ws, sizeof(ws));
	return berth_error_set(p->reterr, -ENOENT,
			       "the image was found but does not match the platform asked for: "
			       "wanted %s, it is %s",
			       ws, hs);
}

/* ---- Sessions over endpoints (mirrors first) ---- */

static int open_and_resolve(puller *p, const fetch_endpoint *ep, const char *what)
{
	int r;

	p->reg = fetch_registry_free(p->reg);
	if ((r = fetch_registry_open(ep, p->ref->path, p->auth, false, p->http, &p->reg,
				     p->reterr)) < 0)
		return pull_context(p, r, "registry '%s'", ep->host);
	return resolve_manifest(p, what);
}

static int resolve(puller *p)
{
	const fetch_registries *conf = p->opts->registries;
	_cleanup_(fetch_registries_freep) fetch_registries *dflt = NULL;
	fetch_endpoint *eps = NULL;
	char what[STORE_DIGEST_STR_LEN + 128];
	size_t n = 0;
	int r;

	if (p->ref->has_digest)
		store_digest_str(&p->ref->digest, what);
	else
		snprintf(what, sizeof(what), "%s", p->ref->tag ? p->ref->tag : "latest");
	if (!conf) {
		if ((r = fetch_registries_new(&dflt)) < 0)
			return r;
		conf = dflt;
	}
	if ((r = fetch_registries_endpoints(conf, p->ref->domain, true, &eps, &n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		berth_error mirror_err = BERTH_ERROR_INIT;
		berth_error *saved = p->reterr;
		bool last = i + 1 == n;
		if (!last)
			p->reterr = &mirror_err;
		r = open_and_resolve(p, &eps[i], what);
		p->reterr = saved;
		if (r >= 0 || last || r == -ENOMEM)
			break;
		/* A mirror that fails or lacks the image: on to the next, as Docker does. */
		log_debug("pull: mirror '%s': %s", eps[i].host,
			  berth_error_message(&mirror_err, r));
		p->m = fetch_oci_manifest_free(p->m);
	}
	fetch_endpoints_free(eps, n);
	return r;
}

/* ---- The image ---- */

static int set_name(puller *p)
{
	store_digest old;
	int r;

	if (p->ref->has_digest || !p->ref->tag)
		return 0;
	if ((r = fetch_reference_store_name(p->ref, &p->res->name)) < 0)
		return r;
	p->res->ref_changed = store_ref_get(p->s, p->res->name, &old) < 0 ||
			      !store_digest_eq(&old, &p->res->id);
	if ((r = store_ref_set(p->s, p->res->name, &p->res->id)) < 0)
		return berth_error_set(p->reterr, r, "cannot set the reference '%s': %s",
				       p->res->name, strerror(-r));
	return 0;
}

static int pull_locked(puller *p)
{
	int r;

	if ((r = resolve(p)) < 0 || (r = check_manifest(p)) < 0)
		return r;
	p->res->id = p->m->config.digest;
	p->res->n_layers = p->m->n_layers;
	if (store_image_exists(p->s, &p->m->config.digest) > 0) {
		if ((r = stored_config(p)) < 0 || (r = check_platform(p)) < 0)
			return r;
		return set_name(p);
	}
	if ((r = get_config(p)) < 0 || (r = check_platform(p)) < 0)
		return r;
	if ((r = pull_layers(p)) < 0)
		return r;
	r = store_image_create(p->s, p->config.data, p->config.len, p->layers, p->m->n_layers,
			       &p->res->id, p->reterr);
	if (r < 0)
		return pull_context(p, r, "cannot create the image");
	p->res->downloaded = true;
	return set_name(p);
}

static void puller_done(puller *p)
{
	fetch_registry_free(p->reg);
	fetch_http_free(p->http);
	fetch_oci_manifest_free(p->m);
	fetch_oci_config_free(p->c);
	buf_done(&p->config);
	free(p->layers);
	pthread_mutex_destroy(&p->lock);
}

int fetch_pull(store *s, const fetch_reference *ref, const fetch_pull_opts *opts,
	       fetch_pull_result *ret, berth_error *reterr)
{
	static const fetch_pull_opts no_opts = {};
	_cleanup_(fetch_auth_freep) fetch_auth *own_auth = NULL;
	fetch_pull_result res = {};
	fetch_oci_platform want = {};
	puller p = {
		.s = s,
		.ref = ref,
		.opts = opts ? opts : &no_opts,
		.reterr = reterr,
		.res = &res,
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	int r;

	p.auth = p.opts->auth;
	if (!p.auth && (r = fetch_auth_new(NULL, &own_auth)) < 0)
		return r;
	if (!p.auth)
		p.auth = own_auth;
	if (p.opts->platform) {
		if ((r = fetch_platform_parse(p.opts->platform, &want)) < 0)
			return berth_error_set(reterr, r,
					       "bad platform '%s' (want os/arch[/variant])",
					       p.opts->platform);
		p.want = &want;
	}
	if ((r = fetch_http_new(NULL, &p.http)) < 0) {
		puller_done(&p);
		fetch_platform_done(&want);
		return berth_error_set(reterr, r, "cannot start the HTTP client");
	}
	if ((r = store_write_begin(s)) < 0) {
		puller_done(&p);
		fetch_platform_done(&want);
		return berth_error_set(reterr, r, "cannot lock the store");
	}
	r = pull_locked(&p);
	store_write_end(s);
	puller_done(&p);
	fetch_platform_done(&want);
	if (r < 0) {
		fetch_pull_result_done(&res);
		return r;
	}
	*ret = res;
	return 0;
}
