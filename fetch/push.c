/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fetch/push.c: `berth push`. See fetch/push.h for the order of work. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetch/blob-cache.h"
#include "fetch/oci.h"
#include "fetch/parallel.h"
#include "fetch/pgzip.h"
#include "fetch/push.h"
#include "store/image.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define DEFAULT_CHUNK	  (64ull << 20)
#define PUSH_GZIP_LEVEL	  6 /* zlib's default, as Docker and podman push */
#define MIN_CHUNK	  (64ull << 10)
#define UPLOAD_TRIES	  3
#define PROGRESS_EVERY_NS 100000000ull
#define OCTET		  "Content-Type: application/octet-stream"

typedef struct layer_job {
	size_t index;
	const store_layer *layer;
	/* What the manifest will say of it: */
	store_digest blob, diff_id;
	uint64_t size;
	char *media_type;
	berth_error err;
} layer_job;

typedef struct pusher {
	store *s;
	const fetch_reference *ref;
	const fetch_push_opts *opts;
	berth_error *reterr;
	fetch_http *http;
	fetch_registry *reg;
	const char *host; /* the endpoint's */
	store_image *img;
	buf config;
	layer_job *jobs;
	char *spool; /* relative to the store dir */
	int spool_fd;
	uint64_t chunk;
	atomic_bool failed;
	pthread_mutex_t lock; /* progress calls, the result's counters */
	fetch_push_result *res;
} pusher;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void emit(pusher *p, fetch_blob_state st, const layer_job *j, uint64_t cur, uint64_t tot,
		 const char *detail)
{
	fetch_blob_event e = {
		.state = st,
		.index = j->index,
		.digest = j->layer->diff_id,
		.current = cur,
		.total = tot,
		.detail = detail,
	};

	if (!p->opts->progress)
		return;
	pthread_mutex_lock(&p->lock);
	p->opts->progress(p->opts->userdata, &e);
	pthread_mutex_unlock(&p->lock);
}

static void count(pusher *p, size_t *counter, uint64_t bytes)
{
	pthread_mutex_lock(&p->lock);
	if (counter)
		(*counter)++;
	p->res->bytes += bytes;
	pthread_mutex_unlock(&p->lock);
}

/* ---- Registry requests ---- */

static int blob_path(pusher *p, const char *suffix, char **ret)
{
	return asprintf(ret, "/v2/%s/blobs/%s", p->ref->path, suffix) < 0 ? -ENOMEM : 0;
}

/* 1 if the target repository has the blob, 0 if not. */
static int blob_exists(pusher *p, fetch_http *h, const store_digest *d, berth_error *err)
{
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	_cleanup_free_ char *path = NULL;
	char ds[STORE_DIGEST_STR_LEN];
	int r;

	store_digest_str(d, ds);
	if ((r = blob_path(p, ds, &path)) < 0)
		return r;
	fetch_http_request req = { .method = "HEAD", .url = path };
	if ((r = fetch_registry_do(p->reg, h, &req, &resp, err)) < 0)
		return r;
	if (resp.status == 200)
		return 1;
	if (resp.status == 404)
		return 0;
	return fetch_registry_answer_error(&resp, "blob check", err);
}

/* 1 if the registry mounted the blob from repository `from`, 0 if it would not. */
static int blob_mount(pusher *p, fetch_http *h, const store_digest *d, const char *from,
		      berth_error *err)
{
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	_cleanup_free_ char *path = NULL, *scope = NULL, *efrom = fetch_http_escape(from);
	char ds[STORE_DIGEST_STR_LEN];
	int r;

	store_digest_str(d, ds);
	if (!efrom ||
	    asprintf(&path, "/v2/%s/blobs/uploads/?mount=%s&from=%s", p->ref->path, ds, efrom) <
		    0 ||
	    asprintf(&scope, "repository:%s:pull", from) < 0)
		return -ENOMEM;
	if ((r = fetch_registry_add_scope(p->reg, scope)) < 0)
		return r;
	fetch_http_request req = { .method = "POST", .url = path };
	if ((r = fetch_registry_do(p->reg, h, &req, &resp, err)) < 0)
		return r;
	/* 202: the registry opened an upload instead; it expires unused. */
	return resp.status == 201;
}

static char *with_digest(const char *location, const store_digest *d)
{
	char ds[STORE_DIGEST_STR_LEN];
	char *u;

	store_digest_str(d, ds);
	if (asprintf(&u, "%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', ds) < 0)
		return NULL;
	return u;
}

typedef struct upload {
	pusher *p;
	const layer_job *j; /* NULL: the config */
	int fd;		    /* -EBADF: mem */
	const void *mem;
	uint64_t size;
	uint64_t base; /* bytes of earlier chunks */
	uint64_t last_ns;
} upload;

static void upload_progress(void *userdata, uint64_t sent)
{
	upload *u = userdata;
	uint64_t t = now_ns();

	if (!u->j || t - u->last_ns < PROGRESS_EVERY_NS)
		return;
	u->last_ns = t;
	emit(u->p, FETCH_BLOB_TRANSFER, u->j, u->base + sent, u->size, NULL);
}

/* A request carrying [off, off+len) of the upload's body. */
static void body_of(upload *u, fetch_http_request *req, uint64_t off, uint64_t len)
{
	req->body_len = len;
	if (u->fd >= 0) {
		req->body_is_fd = true;
		req->body_fd = u->fd;
		req->body_offset = off;
	} else
		req->body = (const char *)u->mem + off;
	req->upload_progress = upload_progress;
	req->userdata = u;
}

/* Moves to the next Location the registry gives (each answer of an upload gives one). */
static int next_location(const fetch_http_response *resp, char **loc, berth_error *err)
{
	const char *l = fetch_http_response_header(resp, "Location");
	char *n;

	if (!l)
		return berth_error_set(err, -EPROTO, "the registry gave no upload Location");
	if (!(n = strdup(l)))
		return -ENOMEM;
	free(*loc);
	*loc = n;
	return 0;
}

static int upload_chunks(upload *u, fetch_http *h, char **loc, berth_error *err)
{
	pusher *p = u->p;
	int r;

	for (uint64_t off = 0; off < u->size; off += p->chunk) {
		_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
		uint64_t len = MIN(p->chunk, u->size - off);
		char range[64];
		snprintf(range, sizeof(range), "Content-Range: %llu-%llu", (unsigned long long)off,
			 (unsigned long long)(off + len - 1));
		const char *headers[] = { OCTET, range, NULL };
		fetch_http_request req = { .method = "PATCH", .url = *loc, .headers = headers };
		body_of(u, &req, off, len);
		u->base = off;
		if ((r = fetch_registry_do(p->reg, h, &req, &resp, err)) < 0)
			return r;
		if (resp.status != 202)
			return fetch_registry_answer_error(&resp, "blob upload (PATCH)", err);
		if ((r = next_location(&resp, loc, err)) < 0)
			return r;
	}
	u->base = u->size;
	return 0;
}

static int upload_once(upload *u, fetch_http *h, const store_digest *d, berth_error *err)
{
	_cleanup_(fetch_http_response_done) fetch_http_response start = {}, end = {};
	_cleanup_free_ char *path = NULL, *loc = NULL, *put = NULL;
	const char *headers[] = { OCTET, NULL };
	bool chunked = u->size > u->p->chunk;
	int r;

	if ((r = blob_path(u->p, "uploads/", &path)) < 0)
		return r;
	fetch_http_request post = { .method = "POST", .url = path };
	if ((r = fetch_registry_do(u->p->reg, h, &post, &start, err)) < 0)
		return r;
	if (start.status != 202)
		return fetch_registry_answer_error(&start, "blob upload (POST)", err);
	if ((r = next_location(&start, &loc, err)) < 0)
		return r;
	if (chunked && (r = upload_chunks(u, h, &loc, err)) < 0)
		return r;
	if (!(put = with_digest(loc, d)))
		return -ENOMEM;
	fetch_http_request req = { .method = "PUT", .url = put, .headers = headers };
	if (!chunked)
		body_of(u, &req, 0, u->size);
	if ((r = fetch_registry_do(u->p->reg, h, &req, &end, err)) < 0)
		return r;
	if (end.status != 201)
		return fetch_registry_answer_error(&end, "blob upload (PUT)", err);
	return 0;
}

static bool upload_retryable(int r)
{
	return r == -ECONNRESET || r == -ETIMEDOUT || r == -EIO || r == -EAGAIN || r == -EPROTO;
}

/* An upload cut short leaves a session the registry will drop: start a new one. */
static int upload_blob(upload *u, fetch_http *h, const store_digest *d, berth_error *err)
{
	int r;

	for (unsigned t = 1;; t++) {
		berth_error e = BERTH_ERROR_INIT;
		r = upload_once(u, h, d, &e);
		if (r >= 0 || t >= UPLOAD_TRIES || !upload_retryable(r) ||
		    atomic_load(&u->p->failed)) {
			if (r < 0 && err && err->code == 0)
				*err = e;
			return r;
		}
		log_debug("push: upload failed (%s), starting over", berth_error_message(&e, r));
	}
}

/* ---- Layers ---- */

static int job_set(layer_job *j, const store_digest *blob, uint64_t size, const char *mt)
{
	j->blob = *blob;
	j->size = size;
	free(j->media_type);
	return (j->media_type = strdup(mt)) ? 0 : -ENOMEM;
}

static void remember(pusher *p, const layer_job *j)
{
	fetch_blob_source src = {
		.diff_id = j->diff_id,
		.blob = j->blob,
		.size = j->size,
		.media_type = j->media_type,
		.host = (char *)p->host,
		.repository = (char *)p->ref->path,
	};

	(void)fetch_blob_cache_add(store_root(p->s), &src);
}

/* A blob of the compression asked for (the user may push zstd to get zstd). */
static bool compression_matches(fetch_compression c, const char *mt)
{
	size_t n = strlen(mt);

	if (!fetch_oci_layer_media_type_supported(mt))
		return false;
	if (c == FETCH_COMPRESSION_ZSTD)
		return n > 5 && streq(mt + n - 5, "+zstd");
	if (c == FETCH_COMPRESSION_GZIP)
		return (n > 5 && streq(mt + n - 5, "+gzip")) ||
		       (n > 5 && streq(mt + n - 5, ".gzip"));
	return n > 4 && streq(mt + n - 4, ".tar");
}

/* The registry has, or can mount, a blob of this layer that pull or push saw: 1, else 0. */
static int try_known(pusher *p, fetch_http *h, layer_job *j)
{
	fetch_blob_source *v = NULL;
	size_t n = 0;
	int r = 0;

	if (fetch_blob_cache_find(store_root(p->s), &j->layer->diff_id, p->host, &v, &n) < 0)
		return 0; /* a cache: without it, work as if empty */
	for (size_t i = 0; i < n && r == 0; i++) {
		bool here = streq(v[i].repository, p->ref->path);
		if (!compression_matches(p->opts->compression, v[i].media_type))
			continue;
		r = here ? blob_exists(p, h, &v[i].blob, &j->err)
			 : blob_mount(p, h, &v[i].blob, v[i].repository, &j->err);
		if (r > 0 && (r = job_set(j, &v[i].blob, v[i].size, v[i].media_type)) >= 0) {
			emit(p, here ? FETCH_BLOB_EXISTS : FETCH_BLOB_MOUNTED, j, 0, 0,
			     here ? NULL : v[i].repository);
			count(p, here ? &p->res->n_existing : &p->res->n_mounted, 0);
			r = 1;
		}
	}
	fetch_blob_sources_free(v, n);
	return r;
}

static const char *layer_media_type(fetch_compression c)
{
	return c == FETCH_COMPRESSION_GZIP   ? FETCH_OCI_MT_LAYER_GZIP
	       : c == FETCH_COMPRESSION_ZSTD ? FETCH_OCI_MT_LAYER_ZSTD
					     : FETCH_OCI_MT_LAYER;
}

typedef struct gz_tee {
	store_hasher *h;
	fetch_pgzip *z;
} gz_tee;

static int tee_sink(void *userdata, const void *data, size_t len)
{
	gz_tee *t = userdata;

	store_hasher_update(t->h, data, len);
	return fetch_pgzip_write(t->z, data, len);
}

/* gzip on all CPUs (fetch/pgzip.h): one-thread zlib is what made push slow. */
static int pack_gzip(pusher *p, layer_job *j, int fd)
{
	_cleanup_(store_hasher_freep) store_hasher *h = NULL;
	_cleanup_(fetch_pgzip_freep) fetch_pgzip *z = NULL;
	gz_tee t;
	int r;

	if ((r = store_hasher_new(&h)) < 0 || (r = fetch_pgzip_new(fd, PUSH_GZIP_LEVEL, 0, &z)) < 0)
		return berth_error_set(&j->err, r, "cannot start compressing: %s", strerror(-r));
	t = (gz_tee){ .h = h, .z = z };
	if ((r = fetch_pack_layer(p->s, j->layer, tee_sink, &t, &j->err)) < 0)
		return r;
	if ((r = fetch_pgzip_finish(z, &j->blob, &j->size)) < 0)
		return berth_error_set(&j->err, r, "cannot write the compressed layer: %s",
				       strerror(-r));
	store_hasher_final(h, &j->diff_id);
	return 0;
}

/* The layer compressed into a spool file; *ret_fd open on it. */
static int pack(pusher *p, layer_job *j, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	char name[32];
	int r;

	snprintf(name, sizeof(name), "layer-%zu", j->index);
	fd = openat(p->spool_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_error_set(&j->err, negative_errno(), "cannot create a temp file: %m");
	/* Unlinked at once: the fd is all the upload needs, and nothing is left behind. */
	(void)unlinkat(p->spool_fd, name, 0);
	if (p->opts->compression == FETCH_COMPRESSION_GZIP)
		r = pack_gzip(p, j, fd);
	else
		r = fetch_pack_layer_fd(p->s, j->layer, p->opts->compression, fd, &j->blob,
					&j->size, &j->diff_id, &j->err);
	if (r < 0)
		return r;
	free(j->media_type);
	if (!(j->media_type = strdup(layer_media_type(p->opts->compression))))
		return -ENOMEM;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int push_packed(pusher *p, fetch_http *h, layer_job *j, int fd)
{
	upload u = { .p = p, .j = j, .fd = fd, .size = j->size };
	int r;

	if ((r = blob_exists(p, h, &j->blob, &j->err)) < 0)
		return r;
	if (r > 0) {
		emit(p, FETCH_BLOB_EXISTS, j, 0, 0, NULL);
		count(p, &p->res->n_existing, 0);
		return 0;
	}
	emit(p, FETCH_BLOB_TRANSFER, j, 0, j->size, NULL);
	if ((r = upload_blob(&u, h, &j->blob, &j->err)) < 0)
		return r;
	count(p, NULL, j->size);
	emit(p, FETCH_BLOB_DONE, j, j->size, j->size, NULL);
	return 0;
}

static int layer_main(void *userdata, fetch_http *h, size_t i)
{
	pusher *p = userdata;
	layer_job *j = &p->jobs[i];
	_cleanup_close_ int fd = -EBADF;
	int r;

	j->diff_id = j->layer->diff_id;
	if ((r = try_known(p, h, j)) != 0) {
		if (r > 0)
			remember(p, j);
		return r < 0 ? r : 0;
	}
	if (atomic_load(&p->failed))
		return -ECANCELED;
	if ((r = pack(p, j, &fd)) < 0 || (r = push_packed(p, h, j, fd)) < 0)
		return r;
	remember(p, j);
	return 0;
}

static int push_layers(pusher *p)
{
	size_t n = p->img->n_layers, failed_at = 0;
	char ds[STORE_DIGEST_STR_LEN];
	int r;

	if (!(p->jobs = calloc(n + 1, sizeof(layer_job))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p->jobs[i] = (layer_job){ .index = i, .layer = &p->img->layers[i] };
		emit(p, FETCH_BLOB_PREPARING, &p->jobs[i], 0, 0, NULL);
	}
	r = fetch_parallel_run(n, p->opts->parallel, layer_main, p, &p->failed, &failed_at);
	if (r >= 0)
		return 0;
	if (p->reterr && p->reterr->code == 0 && p->jobs[failed_at].err.code != 0)
		*p->reterr = p->jobs[failed_at].err;
	store_digest_str(&p->img->layers[failed_at].diff_id, ds);
	return berth_error_set(p->reterr, r, "layer %zu (%s): %s", failed_at, ds, strerror(-r));
}

/* ---- Config and manifest ---- */

/* The config to push: the original, or with the diff_ids the packed layers really have. */
static int final_config(pusher *p, buf *out)
{
	_cleanup_free_ store_digest *ids = calloc(p->img->n_layers + 1, sizeof(store_digest));
	bool same = true;

	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < p->img->n_layers; i++) {
		ids[i] = p->jobs[i].diff_id;
		same = same && store_digest_eq(&ids[i], &p->img->layers[i].diff_id);
	}
	if (same)
		return buf_append(out, p->config.data, p->config.len);
	return fetch_oci_config_rewrite_diff_ids(p->config.data, p->config.len, ids,
						 p->img->n_layers, out, p->reterr);
}

static int push_config(pusher *p, const buf *config, store_digest *ret)
{
	upload u = { .p = p, .fd = -EBADF, .mem = config->data, .size = config->len };
	int r;

	store_digest_buf(config->data, config->len, ret);
	if ((r = blob_exists(p, p->http, ret, p->reterr)) < 0)
		return r;
	if (r == 0 && (r = upload_blob(&u, p->http, ret, p->reterr)) < 0)
		return r;
	return 0;
}

static int make_manifest(pusher *p, const store_digest *config, uint64_t config_size, buf *out)
{
	fetch_oci_manifest m = {
		.schema_version = 2,
		.media_type = (char *)FETCH_OCI_MT_MANIFEST,
		.config = { .media_type = (char *)FETCH_OCI_MT_CONFIG,
			    .digest = *config,
			    .size = config_size },
		.n_layers = p->img->n_layers,
	};
	_cleanup_free_ fetch_oci_descriptor *layers = calloc(m.n_layers + 1, sizeof(*layers));

	if (!layers)
		return -ENOMEM;
	for (size_t i = 0; i < m.n_layers; i++) {
		const layer_job *j = &p->jobs[i];
		/* Docker's gzip type names the same bytes; an OCI manifest says it the OCI way. */
		bool docker = streq(j->media_type, FETCH_DOCKER_MT_LAYER_GZIP);
		layers[i] = (fetch_oci_descriptor){
			.media_type = docker ? (char *)FETCH_OCI_MT_LAYER_GZIP : j->media_type,
			.digest = j->blob,
			.size = j->size,
		};
	}
	m.layers = layers;
	return fetch_oci_manifest_generate(&m, out);
}

static int put_manifest(pusher *p, const buf *manifest)
{
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	_cleanup_free_ char *path = NULL;
	const char *headers[] = { "Content-Type: " FETCH_OCI_MT_MANIFEST, NULL };
	const char *dcd;
	store_digest d, said;
	int r;

	if (asprintf(&path, "/v2/%s/manifests/%s", p->ref->path, p->ref->tag) < 0)
		return -ENOMEM;
	fetch_http_request req = { .method = "PUT",
				   .url = path,
				   .headers = headers,
				   .body = manifest->data,
				   .body_len = manifest->len };
	if ((r = fetch_registry_do(p->reg, p->http, &req, &resp, p->reterr)) < 0)
		return r;
	if (resp.status != 201 && resp.status != 200)
		return fetch_registry_answer_error(&resp, "manifest upload", p->reterr);
	store_digest_buf(manifest->data, manifest->len, &d);
	dcd = fetch_http_response_header(&resp, "Docker-Content-Digest");
	if (dcd && store_digest_parse(dcd, &said) >= 0 && !store_digest_eq(&said, &d))
		return berth_error_set(
			p->reterr, -EBADMSG,
			"the registry stored the manifest as %s, not as what was sent", dcd);
	p->res->digest = d;
	p->res->size = manifest->len;
	return 0;
}

/* ---- The whole push ---- */

static int make_spool(pusher *p)
{
	char tmpl[64];
	int r;

	if ((r = mkdir_p(store_dir_fd(p->s), "tmp", 0700)) < 0)
		return berth_error_set(p->reterr, r, "cannot create the store's tmp directory");
	for (unsigned n = 0;; n++) {
		snprintf(tmpl, sizeof(tmpl), "tmp/push-%d-%u", (int)getpid(), n);
		if (mkdirat(store_dir_fd(p->s), tmpl, 0700) == 0)
			break;
		if (errno != EEXIST || n > 1000)
			return berth_error_set(p->reterr, negative_errno(),
					       "cannot create a spool directory: %m");
	}
	if (!(p->spool = strdup(tmpl)))
		return -ENOMEM;
	p->spool_fd = openat(store_dir_fd(p->s), tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->spool_fd < 0)
		return berth_error_set(p->reterr, negative_errno(), "cannot open '%s': %m", tmpl);
	return 0;
}

static int open_session(pusher *p)
{
	_cleanup_(fetch_registries_freep) fetch_registries *dflt = NULL;
	const fetch_registries *conf = p->opts->registries;
	fetch_endpoint *eps = NULL;
	size_t n = 0;
	int r;

	if (!conf && (r = fetch_registries_new(&dflt)) < 0)
		return r;
	if (!conf)
		conf = dflt;
	/* Pushes go to the registry itself, never to a mirror: the last endpoint. */
	if ((r = fetch_registries_endpoints(conf, p->ref->domain, false, &eps, &n)) < 0)
		return r;
	r = fetch_registry_open(&eps[n - 1], p->ref->path, p->opts->auth, true, p->http, &p->reg,
				p->reterr);
	fetch_endpoints_free(eps, n);
	if (r < 0)
		return r;
	p->host = fetch_registry_endpoint(p->reg)->host;
	return 0;
}

static int push_locked(pusher *p, const store_digest *id)
{
	_cleanup_(buf_done) buf config = BUF_INIT, manifest = BUF_INIT;
	int r;

	if ((r = store_image_load(p->s, id, &p->img)) < 0 ||
	    (r = store_image_config(p->s, p->img, &p->config)) < 0)
		return berth_error_set(p->reterr, r, "cannot read the image: %s", strerror(-r));
	p->res->n_layers = p->img->n_layers;
	if ((r = make_spool(p)) < 0 || (r = open_session(p)) < 0 || (r = push_layers(p)) < 0)
		return r;
	if ((r = final_config(p, &config)) < 0 ||
	    (r = push_config(p, &config, &p->res->config_digest)) < 0)
		return r;
	if ((r = make_manifest(p, &p->res->config_digest, config.len, &manifest)) < 0)
		return r;
	return put_manifest(p, &manifest);
}

static void pusher_done(pusher *p)
{
	for (size_t i = 0; p->jobs && p->img && i < p->img->n_layers; i++)
		free(p->jobs[i].media_type);
	free(p->jobs);
	fetch_registry_free(p->reg);
	fetch_http_free(p->http);
	store_image_free(p->img);
	buf_done(&p->config);
	safe_close(p->spool_fd);
	if (p->spool) {
		rm_rf(store_dir_fd(p->s), p->spool);
		free(p->spool);
	}
	pthread_mutex_destroy(&p->lock);
}

static uint64_t default_chunk(const fetch_push_opts *o)
{
	const char *e = getenv("BERTH_PUSH_CHUNK_SIZE");
	uint64_t c = o->chunk_size;

	if (!c && e && *e)
		c = strtoull(e, NULL, 10);
	return c ? MAX(c, MIN_CHUNK) : DEFAULT_CHUNK;
}

int fetch_push(store *s, const store_digest *id, const fetch_reference *dst,
	       const fetch_push_opts *opts, fetch_push_result *ret, berth_error *reterr)
{
	static const fetch_push_opts no_opts = { .compression = FETCH_COMPRESSION_GZIP };
	_cleanup_(fetch_auth_freep) fetch_auth *own_auth = NULL;
	fetch_push_opts o = opts ? *opts : no_opts;
	fetch_push_result res = {};
	pusher p = { .s = s,
		     .ref = dst,
		     .opts = &o,
		     .reterr = reterr,
		     .spool_fd = -EBADF,
		     .res = &res,
		     .lock = PTHREAD_MUTEX_INITIALIZER };
	int r;

	if (!dst->tag || dst->has_digest)
		return berth_error_set(reterr, -EINVAL, "a push needs a tag and no digest");
	if (!o.auth && (r = fetch_auth_new(NULL, &own_auth)) < 0)
		return r;
	if (!o.auth)
		o.auth = own_auth;
	p.chunk = default_chunk(&o);
	if ((r = fetch_http_new(NULL, &p.http)) < 0)
		return berth_error_set(reterr, r, "cannot start the HTTP client");
	if ((r = store_write_begin(s)) < 0) {
		fetch_http_free(p.http);
		return berth_error_set(reterr, r, "cannot lock the store");
	}
	r = push_locked(&p, id);
	pusher_done(&p);
	store_write_end(s);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}
