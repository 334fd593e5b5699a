/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/layout-save.c: `berth save`: images -> a tar of an OCI image layout, plus a `docker save`
 * manifest.json, so that skopeo, umoci, podman and docker all read it.
 *
 * A tar header comes before its content, so every blob's size must be known before it is
 * written: layers are first packed (gzip) into spool files under ROOT/store/tmp/, then the whole
 * archive is streamed out. The outer tar is plain ustar written here: its members are a handful
 * of regular files with short names (the longest, "blobs/sha256/<64 hex>", is 77 bytes), with
 * fixed owner, mode and time, so the same images always give the same archive bytes.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/layout.h"
#include "fetch/oci.h"
#include "fetch/pack.h"
#include "fetch/reference.h"
#include "store/image.h"
#include "util/fileio.h"
#include "util/macro.h"

#define TAR_BLOCK  512
#define COPY_BLOCK (1u << 20)

typedef struct blob {
	store_digest digest;
	uint64_t size;
	buf data;  /* in memory (configs, manifests), or */
	int spool; /* index of a spool file (layers), -1 if in memory */
} blob;

typedef struct saved {
	store_digest id;
	store_digest manifest;
	uint64_t manifest_size;
	store_digest config;
	size_t n_layers;
	store_digest *layer_blobs;
} saved;

/* A layer already packed: same tree and DiffID give the same blob. */
typedef struct packed {
	store_layer layer;
	store_digest blob, diff_id;
	uint64_t size;
} packed;

typedef struct saver {
	store *s;
	const fetch_save_opts *opts;
	berth_error *reterr;
	int out;
	uint64_t written, total; /* bytes of the archive written, and its size once known */
	uint64_t packed_bytes;	 /* compressed layer bytes spooled so far */
	int spool_fd;
	char *spool_path;
	unsigned n_spool;

	blob *blobs;
	size_t n_blobs;
	saved *images;
	size_t n_images;
	packed *packed;
	size_t n_packed;
} saver;

static void saver_done(saver *sv)
{
	for (size_t i = 0; i < sv->n_blobs; i++)
		buf_done(&sv->blobs[i].data);
	free(sv->blobs);
	for (size_t i = 0; i < sv->n_images; i++)
		free(sv->images[i].layer_blobs);
	free(sv->images);
	free(sv->packed);
	safe_close(sv->spool_fd);
	if (sv->spool_path) {
		rm_rf(store_dir_fd(sv->s), sv->spool_path);
		free(sv->spool_path);
	}
}

static blob *find_blob(saver *sv, const store_digest *d)
{
	for (size_t i = 0; i < sv->n_blobs; i++)
		if (store_digest_eq(&sv->blobs[i].digest, d))
			return &sv->blobs[i];
	return NULL;
}

static int add_blob(saver *sv, const store_digest *d, uint64_t size, buf *data, int spool)
{
	blob *v;

	if (find_blob(sv, d)) {
		buf_done(data);
		return 0;
	}
	v = realloc(sv->blobs, (sv->n_blobs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	sv->blobs = v;
	v[sv->n_blobs] = (blob){ .digest = *d, .size = size, .spool = spool };
	if (data) {
		v[sv->n_blobs].data = *data;
		*data = (buf)BUF_INIT;
	}
	sv->n_blobs++;
	return 0;
}

static int add_json_blob(saver *sv, buf *json, store_digest *ret)
{
	store_digest d;
	uint64_t size = json->len;

	store_digest_buf(json->data, json->len, &d);
	*ret = d;
	return add_blob(sv, &d, size, json, -1);
}

/* ---- Spooling layers ---- */

static int spool_open(saver *sv)
{
	char path[64];

	if (mkdir_p(store_dir_fd(sv->s), "tmp", 0700) < 0)
		return berth_error_set(sv->reterr, negative_errno(),
				       "cannot create the store's tmp");
	for (unsigned n = 0;; n++) {
		snprintf(path, sizeof(path), "tmp/save-%d-%u", (int)getpid(), n);
		if (mkdirat(store_dir_fd(sv->s), path, 0700) == 0)
			break;
		if (errno != EEXIST || n > 1000)
			return berth_error_set(sv->reterr, negative_errno(),
					       "cannot create a spool directory: %m");
	}
	if (!(sv->spool_path = strdup(path)))
		return -ENOMEM;
	sv->spool_fd = openat(store_dir_fd(sv->s), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return sv->spool_fd < 0
		       ? berth_error_set(sv->reterr, negative_errno(), "cannot open '%s'", path)
		       : 0;
}

static void spool_name(unsigned i, char out[32])
{
	snprintf(out, 32, "l%u", i);
}

/*
 * fetch_pack_layer_fd() reports no progress, and packing is most of a save's time: a helper
 * thread watches the spool file grow and reports its size, until the pack returns.
 */
typedef struct watcher {
	saver *sv;
	int fd;
	atomic_bool stop;
	pthread_t thread;
	bool running;
} watcher;

static void *watch(void *userdata)
{
	watcher *w = userdata;
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	struct stat st;

	while (!atomic_load(&w->stop)) {
		nanosleep(&tick, NULL);
		if (fstat(w->fd, &st) == 0)
			w->sv->opts->progress(w->sv->opts->userdata, 0,
					      w->sv->packed_bytes + (uint64_t)st.st_size, 0);
	}
	return NULL;
}

static void watch_start(watcher *w, saver *sv, int fd)
{
	*w = (watcher){ .sv = sv, .fd = fd };
	atomic_init(&w->stop, false);
	/* Without a thread there is just no progress: not worth failing the save for. */
	w->running = sv->opts->progress && pthread_create(&w->thread, NULL, watch, w) == 0;
}

static void watch_stop(watcher *w)
{
	if (!w->running)
		return;
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
}

static int pack_layer(saver *sv, const store_layer *layer, packed *ret)
{
	_cleanup_close_ int fd = -EBADF;
	char name[32];
	packed p = { .layer = *layer };
	int r;

	for (size_t i = 0; i < sv->n_packed; i++)
		if (store_digest_eq(&sv->packed[i].layer.tree, &layer->tree) &&
		    store_digest_eq(&sv->packed[i].layer.diff_id, &layer->diff_id)) {
			*ret = sv->packed[i];
			return 0;
		}
	spool_name(sv->n_spool, name);
	fd = openat(sv->spool_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_error_set(sv->reterr, negative_errno(), "cannot spool a layer: %m");
	watcher w;
	watch_start(&w, sv, fd);
	r = fetch_pack_layer_fd(sv->s, layer, FETCH_COMPRESSION_GZIP, fd, &p.blob, &p.size,
				&p.diff_id, sv->reterr);
	watch_stop(&w);
	if (r < 0)
		return r;
	sv->packed_bytes += p.size;
	if ((r = add_blob(sv, &p.blob, p.size, NULL, (int)sv->n_spool++)) < 0)
		return r;
	packed *v = realloc(sv->packed, (sv->n_packed + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	sv->packed = v;
	v[sv->n_packed++] = p;
	*ret = p;
	return 0;
}

/* ---- One image: layers, config, manifest ---- */

static int save_config(saver *sv, const store_image *img, const store_digest *diff_ids,
		       bool rewrite, store_digest *ret, uint64_t *ret_size)
{
	_cleanup_(buf_done) buf cfg = BUF_INIT, out = BUF_INIT;
	int r;

	if ((r = store_image_config(sv->s, img, &cfg)) < 0)
		return berth_error_set(sv->reterr, r, "cannot read the image's config");
	if (rewrite) {
		if ((r = fetch_oci_config_rewrite_diff_ids(cfg.data, cfg.len, diff_ids,
							   img->n_layers, &out, sv->reterr)) < 0)
			return r;
		buf_done(&cfg);
		cfg = out;
		out = (buf)BUF_INIT;
	}
	*ret_size = cfg.len;
	return add_json_blob(sv, &cfg, ret);
}

static int save_manifest(saver *sv, saved *si, uint64_t config_size, const packed *layers)
{
	fetch_oci_manifest m = {
		.schema_version = 2,
		.media_type = (char *)FETCH_OCI_MT_MANIFEST,
		.config = { .media_type = (char *)FETCH_OCI_MT_CONFIG,
			    .digest = si->config,
			    .size = config_size },
		.n_layers = si->n_layers,
	};
	_cleanup_free_ fetch_oci_descriptor *ld = calloc(si->n_layers + 1, sizeof(*ld));
	_cleanup_(buf_done) buf json = BUF_INIT;
	int r;

	if (!ld)
		return -ENOMEM;
	for (size_t i = 0; i < si->n_layers; i++)
		ld[i] = (fetch_oci_descriptor){ .media_type = (char *)FETCH_OCI_MT_LAYER_GZIP,
						.digest = layers[i].blob,
						.size = layers[i].size };
	m.layers = ld;
	if ((r = fetch_oci_manifest_generate(&m, &json)) < 0)
		return r;
	si->manifest_size = json.len;
	return add_json_blob(sv, &json, &si->manifest);
}

static int save_image(saver *sv, const store_digest *id, saved *si)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	_cleanup_free_ packed *layers = NULL;
	_cleanup_free_ store_digest *diff_ids = NULL;
	char hex[STORE_DIGEST_STR_LEN];
	bool rewrite = false;
	uint64_t config_size = 0;
	int r;

	store_digest_str(id, hex);
	if ((r = store_image_load(sv->s, id, &img)) < 0)
		return berth_error_set(sv->reterr, r, "cannot load image %s", hex);
	layers = calloc(img->n_layers + 1, sizeof(*layers));
	diff_ids = calloc(img->n_layers + 1, sizeof(*diff_ids));
	si->layer_blobs = calloc(img->n_layers + 1, sizeof(store_digest));
	if (!layers || !diff_ids || !si->layer_blobs)
		return -ENOMEM;
	si->id = *id;
	si->n_layers = img->n_layers;
	for (size_t i = 0; i < img->n_layers; i++) {
		if ((r = pack_layer(sv, &img->layers[i], &layers[i])) < 0)
			return berth_error_set(sv->reterr, r, "image %s, layer %zu", hex, i);
		diff_ids[i] = layers[i].diff_id;
		si->layer_blobs[i] = layers[i].blob;
		/* A layer without a split comes out canonical, with a DiffID of its own. */
		if (!store_digest_eq(&layers[i].diff_id, &img->layers[i].diff_id))
			rewrite = true;
	}
	if ((r = save_config(sv, img, diff_ids, rewrite, &si->config, &config_size)) < 0)
		return r;
	return save_manifest(sv, si, config_size, layers);
}

/* ---- The outer tar ---- */

static void octal(char *field, size_t len, uint64_t v)
{
	/* len-1 digits and a NUL, as ustar asks */
	snprintf(field, len, "%0*llo", (int)len - 1, (unsigned long long)v);
}

static int out_write(saver *sv, const void *p, size_t n)
{
	int r = fd_write_all(sv->out, p, n);

	if (r < 0)
		return berth_error_set(sv->reterr, r, "cannot write the archive: %s", strerror(-r));
	sv->written += n;
	if (sv->opts->progress)
		sv->opts->progress(sv->opts->userdata, 1, sv->written, sv->total);
	return 0;
}

static int tar_header(saver *sv, const char *name, char type, uint64_t size)
{
	char h[TAR_BLOCK] = {};
	unsigned sum = 0;

	assert(strlen(name) < 100);
	memcpy(h, name, strlen(name));
	octal(h + 100, 8, type == '5' ? 0755 : 0644);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	if (size < 077777777777ull)
		octal(h + 124, 12, size);
	else {
		/* GNU base-256 for sizes of 8 GiB and more: 0x80, then big-endian. */
		h[124] = (char)0x80;
		for (int i = 11; i >= 4; i--, size >>= 8)
			h[124 + i] = (char)(size & 0xff);
	}
	octal(h + 136, 12, 0);
	h[156] = type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return out_write(sv, h, TAR_BLOCK);
}

static int tar_pad(saver *sv, uint64_t size)
{
	static const char zeros[TAR_BLOCK];
	size_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;

	return pad ? out_write(sv, zeros, pad) : 0;
}

static int tar_file(saver *sv, const char *name, const void *data, size_t len)
{
	int r;

	if ((r = tar_header(sv, name, '0', len)) < 0 || (r = out_write(sv, data, len)) < 0)
		return r;
	return tar_pad(sv, len);
}

static int copy_spool(saver *sv, const blob *b)
{
	_cleanup_free_ uint8_t *block = malloc(COPY_BLOCK);
	_cleanup_close_ int fd = -EBADF;
	uint64_t left = b->size;
	char name[32];
	int r;

	if (!block)
		return -ENOMEM;
	spool_name((unsigned)b->spool, name);
	if ((fd = openat(sv->spool_fd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return berth_error_set(sv->reterr, negative_errno(), "cannot read a spooled layer");
	while (left > 0) {
		ssize_t n = read(fd, block, MIN(left, (uint64_t)COPY_BLOCK));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return berth_error_set(sv->reterr, n < 0 ? negative_errno() : -EIO,
					       "cannot read a spooled layer");
		if ((r = out_write(sv, block, (size_t)n)) < 0)
			return r;
		left -= (uint64_t)n;
	}
	return 0;
}

static int write_blobs(saver *sv)
{
	int r;

	if ((r = tar_header(sv, "blobs/", '5', 0)) < 0 ||
	    (r = tar_header(sv, "blobs/sha256/", '5', 0)) < 0)
		return r;
	for (size_t i = 0; i < sv->n_blobs; i++) {
		const blob *b = &sv->blobs[i];
		char name[100] = "blobs/sha256/";
		store_digest_hex(&b->digest, name + 13);
		if (b->spool < 0)
			r = tar_file(sv, name, b->data.data, b->data.len);
		else if ((r = tar_header(sv, name, '0', b->size)) >= 0 &&
			 (r = copy_spool(sv, b)) >= 0)
			r = tar_pad(sv, b->size);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- index.json and manifest.json ---- */

static saved *find_saved(saver *sv, const store_digest *id)
{
	for (size_t i = 0; i < sv->n_images; i++)
		if (store_digest_eq(&sv->images[i].id, id))
			return &sv->images[i];
	return NULL;
}

static int index_entry(const saved *si, const char *name, fetch_oci_descriptor *d)
{
	const char *colon;
	int r;

	*d = (fetch_oci_descriptor){ .digest = si->manifest, .size = si->manifest_size };
	if (!(d->media_type = strdup(FETCH_OCI_MT_MANIFEST)))
		return -ENOMEM;
	if (!name)
		return 0;
	colon = strrchr(name, ':');
	/* containerd's full name, and the OCI ref.name as Docker writes it: the tag. */
	if ((r = fetch_oci_descriptor_annotate(d, FETCH_CONTAINERD_ANNOTATION_IMAGE_NAME, name)) <
		    0 ||
	    (r = fetch_oci_descriptor_annotate(d, FETCH_OCI_ANNOTATION_REF_NAME,
					       colon ? colon + 1 : name)) < 0)
		return r;
	return 0;
}

static int build_index(saver *sv, const fetch_save_image *images, size_t n, buf *json)
{
	_cleanup_free_ fetch_oci_descriptor *d = calloc(n + 1, sizeof(*d));
	fetch_oci_index idx = { .schema_version = 2, .media_type = (char *)FETCH_OCI_MT_INDEX };
	int r = 0;

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		/* One descriptor per name; an image saved by ID and by name is listed once. */
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			dup |= store_digest_eq(&images[k].id, &images[i].id) &&
			       (!images[i].name ||
				(images[k].name && streq(images[k].name, images[i].name)));
		const saved *si = find_saved(sv, &images[i].id);
		assert(si); /* every image named was saved */
		if (!dup)
			r = index_entry(si, images[i].name, &d[idx.n_manifests++]);
	}
	idx.manifests = d;
	if (r >= 0)
		r = fetch_oci_index_generate(&idx, json);
	for (size_t i = 0; i < idx.n_manifests; i++)
		fetch_oci_descriptor_done(&d[i]);
	return r;
}

static int blob_path(const store_digest *d, char **ret)
{
	char hex[STORE_DIGEST_HEX_LEN + 1];

	store_digest_hex(d, hex);
	return asprintf(ret, "blobs/sha256/%s", hex) < 0 ? -ENOMEM : 0;
}

static int docker_entry(const saved *si, const fetch_save_image *images, size_t n,
			fetch_docker_save_entry *e)
{
	int r;

	if ((r = blob_path(&si->config, &e->config)) < 0 ||
	    !(e->layers = calloc(1, sizeof(char *))) || !(e->repo_tags = calloc(1, sizeof(char *))))
		return -ENOMEM;
	for (size_t i = 0; i < si->n_layers; i++) {
		_cleanup_free_ char *p = NULL;
		if ((r = blob_path(&si->layer_blobs[i], &p)) < 0 ||
		    (r = fetch_strv_push(&e->layers, p)) < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *fam = NULL;
		if (!images[i].name || !store_digest_eq(&images[i].id, &si->id))
			continue;
		if ((r = fetch_reference_familiar(images[i].name, &fam)) < 0)
			return r;
		bool seen = false;
		for (size_t k = 0; e->repo_tags[k]; k++)
			seen |= streq(e->repo_tags[k], fam);
		if (!seen && (r = fetch_strv_push(&e->repo_tags, fam)) < 0)
			return r;
	}
	return 0;
}

static int build_docker_manifest(saver *sv, const fetch_save_image *images, size_t n, buf *json)
{
	fetch_docker_save_entry *e = calloc(sv->n_images + 1, sizeof(*e));
	int r = 0;

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < sv->n_images && r >= 0; i++)
		r = docker_entry(&sv->images[i], images, n, &e[i]);
	if (r >= 0)
		r = fetch_docker_save_manifest_generate(e, sv->n_images, json);
	fetch_docker_save_manifest_free(e, sv->n_images);
	return r;
}

/* Bytes a member of len bytes takes in the tar: header and padded content. */
static uint64_t tar_member_size(uint64_t len)
{
	return TAR_BLOCK + (len + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

static int write_archive(saver *sv, const fetch_save_image *images, size_t n)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	static const char zeros[2 * TAR_BLOCK];
	_cleanup_(buf_done) buf index = BUF_INIT, docker = BUF_INIT;
	int r;

	if ((r = build_index(sv, images, n, &index)) < 0 ||
	    (r = build_docker_manifest(sv, images, n, &docker)) < 0)
		return r;
	/* The archive's size, for progress: every member, two directories, the end blocks. */
	sv->total = tar_member_size(strlen(layout)) + 2 * TAR_BLOCK + tar_member_size(index.len) +
		    tar_member_size(docker.len) + sizeof(zeros);
	for (size_t i = 0; i < sv->n_blobs; i++)
		sv->total += tar_member_size(sv->blobs[i].size);
	if ((r = tar_file(sv, "oci-layout", layout, strlen(layout))) < 0 ||
	    (r = write_blobs(sv)) < 0 ||
	    (r = tar_file(sv, "index.json", index.data, index.len)) < 0 ||
	    (r = tar_file(sv, "manifest.json", docker.data, docker.len)) < 0)
		return r;
	return out_write(sv, zeros, sizeof(zeros));
}

static int save_locked(saver *sv, const fetch_save_image *images, size_t n)
{
	int r;

	if ((r = spool_open(sv)) < 0)
		return r;
	sv->images = calloc(n + 1, sizeof(saved));
	if (!sv->images)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (find_saved(sv, &images[i].id))
			continue;
		if ((r = save_image(sv, &images[i].id, &sv->images[sv->n_images])) < 0)
			return r;
		sv->n_images++;
	}
	return write_archive(sv, images, n);
}

void fetch_save_result_done(fetch_save_result *r)
{
	if (!r)
		return;
	free(r->images);
	*r = (fetch_save_result){};
}

static int fill_result(saver *sv, fetch_save_result *ret)
{
	fetch_save_result res = { .bytes = sv->written, .n_images = sv->n_images };

	res.images = calloc(sv->n_images + 1, sizeof(*res.images));
	if (!res.images)
		return -ENOMEM;
	for (size_t i = 0; i < sv->n_images; i++)
		res.images[i] = (fetch_saved_image){ .id = sv->images[i].id,
						     .saved_id = sv->images[i].config };
	*ret = res;
	return 0;
}

int fetch_layout_save(store *s, const fetch_save_image *images, size_t n, int fd,
		      const fetch_save_opts *opts, fetch_save_result *ret, berth_error *reterr)
{
	static const fetch_save_opts no_opts = {};
	saver sv = {
		.s = s,
		.opts = opts ? opts : &no_opts,
		.reterr = reterr,
		.out = fd,
		.spool_fd = -EBADF,
	};
	int r;

	if (n == 0)
		return berth_error_set(reterr, -EINVAL, "no image to save");
	if ((r = store_write_begin(s)) < 0)
		return berth_error_set(reterr, r, "cannot lock the store");
	r = save_locked(&sv, images, n);
	if (r >= 0 && ret)
		r = fill_result(&sv, ret);
	saver_done(&sv);
	store_write_end(s);
	return r;
}
