/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/layout.c: `berth load`: an OCI image-layout tar (or a `docker save` tar) -> images and
 * refs in the store. Saving is in fetch/layout-save.c.
 *
 * Three steps, so that a bad archive leaves no ref behind:
 *   1. spool: every regular member goes to ROOT/store/tmp/load-XXXXXX/m<N> (hashed on the way),
 *      whatever order the archive has; links are recorded; members under blobs/sha256/ must
 *      hash to their names.
 *   2. images: index.json (or manifest.json) is walked; each image's manifest and config are read
 *      from the spool and checked, each layer is ingested by fetch_unpack_fd() with its expected
 *      blob digest and DiffID, and the image is created from the original config bytes.
 *   3. refs: only now, once every image is complete.
 * The spool directory is removed at the end, success or not. The store write session held
 * throughout keeps gc from deleting the spool (it lives in tmp/) or half-made images' objects.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "fetch/layout.h"
#include "fetch/oci.h"
#include "fetch/reference.h"
#include "fetch/unpack.h"
#include "store/image.h"
#include "store/ref.h"
#include "store/tree.h"
#include "util/fileio.h"
#include "util/macro.h"

#define MEMBERS_MAX	100000
/* Each name is one rewrite of the refs file: bound what an archive can ask for. */
#define ENTRIES_MAX	1024
#define MEMBER_PATH_MAX 4096
#define JSON_MAX	((size_t)16 << 20)
#define INDEX_DEPTH_MAX 4
#define LINK_HOPS_MAX	16

typedef struct member {
	char *path; /* normalized: no "./", no empty or "." components */
	uint8_t type;
	char *link; /* SYMLINK: target as stored; HARDLINK: normalized path */
	uint64_t size;
	store_digest digest; /* REG: of the content */
} member;

typedef struct cached_layer {
	store_digest blob;
	store_layer layer;
} cached_layer;

typedef struct loader {
	store *s;
	const fetch_load_opts *opts;
	berth_error *reterr;
	int spool_fd;
	char *spool_path; /* relative to the store dir */

	member *members;
	size_t n_members, cap_members;
	/*
	 * Paths -> member index + 1 (0: empty slot), open addressing, XXH3 with a random seed:
	 * member names come from whoever made the archive, and a fixed hash would let them collide.
	 */
	uint32_t *slots;
	size_t n_slots; /* a power of two, at least twice n_members */
	uint64_t seed;
	int cur_fd; /* member being spooled */
	store_hasher *hasher;
	uint64_t cur_written;
	uint64_t layer_bytes, ingested_bytes; /* for progress: all spooled bytes, ingested so far */

	cached_layer *layers;
	size_t n_layers;
	/* Images this load created (they did not exist before): removed again if it fails. */
	store_digest *created;
	size_t n_created;
	size_t n_names;
	bool setting_refs; /* past this point, images stay: a ref may name them already */
	fetch_load_result *res;
} loader;

static void loader_done(loader *l)
{
	for (size_t i = 0; i < l->n_members; i++) {
		free(l->members[i].path);
		free(l->members[i].link);
	}
	free(l->members);
	free(l->slots);
	free(l->layers);
	free(l->created);
	safe_close(l->cur_fd);
	store_hasher_free(l->hasher);
	safe_close(l->spool_fd);
	if (l->spool_path) {
		rm_rf(store_dir_fd(l->s), l->spool_path);
		free(l->spool_path);
	}
}

static int warn(loader *l, const char *fmt, ...) _printf_(2, 3);
static int warn(loader *l, const char *fmt, ...)
{
	char *msg;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = fetch_strv_push(&l->res->warnings, msg);
	free(msg);
	if (r < 0)
		return r;
	l->res->n_warnings++;
	return 0;
}

/* berth_error_prefix() on the loader's reterr. */
static int in_context(loader *l, int r, const char *fmt, ...) _printf_(3, 4);
static int in_context(loader *l, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = berth_error_vprefix(l->reterr, r, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- Step 1: spool ---- */

/*
 * "./a//b/./c" -> "a/b/c"; "" for the root; -EINVAL for over-long paths, and for ".." unless
 * resolve_dotdot (a symlink target), where ".." drops the previous component but may not climb
 * out of the archive.
 */
static int normalize_path(const char *in, bool resolve_dotdot, char **ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	const char *p = in;

	if (strlen(in) >= MEMBER_PATH_MAX)
		return -EINVAL;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && strneq(p, "..", 2)) {
			char *last = b.data ? strrchr(b.data, '/') : NULL;
			if (!resolve_dotdot || b.len == 0)
				return -EINVAL;
			b.len = last ? (size_t)(last - b.data) : 0;
			b.data[b.len] = '\0';
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			if ((b.len > 0 && buf_append_byte(&b, '/') < 0) || buf_append(&b, p, n) < 0)
				return -ENOMEM;
		}
		p += n + (slash ? 1 : 0);
	}
	*ret = b.len > 0 ? buf_steal(&b) : strdup("");
	return *ret ? 0 : -ENOMEM;
}

static int normalize(const char *in, char **ret)
{
	return normalize_path(in, false, ret);
}

static size_t slot_of(const loader *l, const char *path)
{
	size_t mask = l->n_slots - 1, i = XXH3_64bits_withSeed(path, strlen(path), l->seed) & mask;

	while (l->slots[i] && !streq(l->members[l->slots[i] - 1].path, path))
		i = (i + 1) & mask;
	return i;
}

static member *find_member(loader *l, const char *path)
{
	size_t i;

	if (l->n_slots == 0)
		return NULL;
	i = slot_of(l, path);
	return l->slots[i] ? &l->members[l->slots[i] - 1] : NULL;
}

/* Indexes the last member added, growing the table to keep it at most half full. */
static int index_member(loader *l)
{
	if (2 * l->n_members > l->n_slots) {
		size_t n = l->n_slots ? 2 * l->n_slots : 256;
		uint32_t *old = l->slots;
		if (!(l->slots = calloc(n, sizeof(uint32_t)))) {
			l->slots = old;
			return -ENOMEM;
		}
		l->n_slots = n;
		for (size_t i = 0; i + 1 < l->n_members; i++)
			l->slots[slot_of(l, l->members[i].path)] = (uint32_t)(i + 1);
		free(old);
	}
	l->slots[slot_of(l, l->members[l->n_members - 1].path)] = (uint32_t)l->n_members;
	return 0;
}

static void spool_name(size_t i, char out[32])
{
	snprintf(out, 32, "m%zu", i);
}

static int on_member(void *userdata, const fetch_tar_member *m)
{
	loader *l = userdata;
	_cleanup_free_ char *path = NULL, *link = NULL;
	member *nm;
	char name[32];
	int r;

	if (m->type == STORE_ENTRY_DIR || m->type == 0)
		return 0; /* directories and devices say nothing about blobs */
	if (normalize(m->path, &path) < 0 || !path[0])
		return berth_error_set(l->reterr, -EBADMSG, "archive member '%s': '..' in its path",
				       m->path);
	if (m->type == STORE_ENTRY_HARDLINK && (!m->link || normalize(m->link, &link) < 0))
		return berth_error_set(l->reterr, -EBADMSG, "archive member '%s': bad link target",
				       m->path);
	if (m->type == STORE_ENTRY_SYMLINK && !(link = strdup(m->link ? m->link : "")))
		return -ENOMEM;
	if (find_member(l, path))
		return berth_error_set(l->reterr, -EBADMSG, "archive member '%s' appears twice",
				       m->path);
	if (l->n_members >= MEMBERS_MAX)
		return berth_error_set(l->reterr, -EFBIG, "archive has over %d members",
				       MEMBERS_MAX);
	if (l->n_members == l->cap_members) {
		size_t cap = l->cap_members ? 2 * l->cap_members : 64;
		member *v = realloc(l->members, cap * sizeof(member));
		if (!v)
			return -ENOMEM;
		l->members = v;
		l->cap_members = cap;
	}
	nm = &l->members[l->n_members++];
	*nm = (member){
		.path = TAKE_PTR(path), .type = m->type, .link = TAKE_PTR(link), .size = m->size
	};
	if ((r = index_member(l)) < 0)
		return r;
	if (m->type != STORE_ENTRY_REG)
		return 0;
	spool_name(l->n_members - 1, name);
	l->cur_fd = openat(l->spool_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (l->cur_fd < 0)
		return berth_error_set(l->reterr, negative_errno(), "cannot spool '%s': %m",
				       m->path);
	l->cur_written = 0;
	return 1;
}

static int on_data(void *userdata, const void *p, size_t n)
{
	loader *l = userdata;
	int r = fd_write_all(l->cur_fd, p, n);

	if (r < 0)
		return berth_error_set(l->reterr, r, "cannot spool '%s': %s",
				       l->members[l->n_members - 1].path, strerror(-r));
	store_hasher_update(l->hasher, p, n);
	l->cur_written += n;
	return 0;
}

static int on_member_end(void *userdata)
{
	loader *l = userdata;
	member *m = &l->members[l->n_members - 1];

	store_hasher_final(l->hasher, &m->digest);
	l->cur_fd = safe_close(l->cur_fd);
	m->size = l->cur_written;
	return 0;
}

static void on_progress(void *userdata, uint64_t raw)
{
	loader *l = userdata;

	if (l->opts->progress)
		l->opts->progress(l->opts->userdata, 0, raw, 0);
}

/* Members named blobs/sha256/<hex> must hash to their names. */
static int check_blobs(loader *l)
{
	for (size_t i = 0; i < l->n_members; i++) {
		const member *m = &l->members[i];
		char want[STORE_DIGEST_STR_LEN];
		if (!strneq(m->path, "blobs/sha256/", 13) || m->type != STORE_ENTRY_REG)
			continue;
		store_digest_str(&m->digest, want);
		if (!streq(m->path + 13, want + 7))
			return berth_error_set(l->reterr, -EBADMSG,
					       "blob '%s' does not match its digest (its content "
					       "hashes to %s)",
					       m->path, want);
	}
	return 0;
}

static int spool(loader *l, int fd)
{
	static const fetch_tar_files_ops ops = {
		.member = on_member,
		.data = on_data,
		.member_end = on_member_end,
		.progress = on_progress,
	};
	char tmpl[64];
	int r;

	if ((r = mkdir_p(store_dir_fd(l->s), "tmp", 0700)) < 0)
		return berth_error_set(l->reterr, r, "cannot create the store's tmp directory");
	/* Unique per process and call; a leftover of a crashed load is gc's (it clears tmp/). */
	for (unsigned n = 0;; n++) {
		snprintf(tmpl, sizeof(tmpl), "tmp/load-%d-%u", (int)getpid(), n);
		if (mkdirat(store_dir_fd(l->s), tmpl, 0700) == 0)
			break;
		if (errno != EEXIST || n > 1000)
			return berth_error_set(l->reterr, negative_errno(),
					       "cannot create a spool directory: %m");
	}
	if (!(l->spool_path = strdup(tmpl)))
		return -ENOMEM;
	l->spool_fd = openat(store_dir_fd(l->s), tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->spool_fd < 0)
		return berth_error_set(l->reterr, negative_errno(), "cannot open '%s': %m", tmpl);
	if ((r = store_hasher_new(&l->hasher)) < 0)
		return r;
	if (getrandom(&l->seed, sizeof(l->seed), 0) != sizeof(l->seed))
		l->seed = (uint64_t)(uintptr_t)l ^ (uint64_t)getpid() << 32;
	if ((r = fetch_tar_read_files(fd, &ops, l, l->reterr)) < 0)
		return r;
	for (size_t i = 0; i < l->n_members; i++)
		if (l->members[i].type == STORE_ENTRY_REG)
			l->layer_bytes += l->members[i].size;
	return check_blobs(l);
}

/* ---- Reading spooled members ---- */

/* Follows links (symlinks relative to their directory, staying inside the archive). */
static const member *resolve(loader *l, const char *path)
{
	_cleanup_free_ char *cur = NULL;
	const member *m;

	if (normalize(path, &cur) < 0)
		return NULL;
	for (int hop = 0; hop < LINK_HOPS_MAX; hop++) {
		_cleanup_free_ char *joined = NULL, *next = NULL;
		char *slash;
		if (!(m = find_member(l, cur)))
			return NULL;
		if (m->type == STORE_ENTRY_REG)
			return m;
		if (m->type == STORE_ENTRY_HARDLINK) {
			free(cur);
			if (!(cur = strdup(m->link)))
				return NULL;
			continue;
		}
		if (m->link[0] == '/')
			return NULL;
		slash = strrchr(cur, '/');
		if (asprintf(&joined, "%.*s%s%s", slash ? (int)(slash - cur) : 0, cur,
			     slash ? "/" : "", m->link) < 0)
			return NULL;
		if (normalize_path(joined, true, &next) < 0)
			return NULL;
		free(cur);
		cur = TAKE_PTR(next);
	}
	return NULL;
}

static int open_member(loader *l, const member *m)
{
	char name[32];
	int fd;

	spool_name((size_t)(m - l->members), name);
	fd = openat(l->spool_fd, name, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? negative_errno() : fd;
}

static int read_member(loader *l, const member *m, const char *what, buf *out)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (m->size > JSON_MAX)
		return berth_error_set(l->reterr, -EFBIG, "%s '%s' is too large (%llu bytes)", what,
				       m->path, (unsigned long long)m->size);
	if ((fd = open_member(l, m)) < 0)
		return berth_error_set(l->reterr, fd, "cannot read the spooled '%s'", m->path);
	if ((r = fd_read_all(fd, out, JSON_MAX)) < 0)
		return berth_error_set(l->reterr, r, "cannot read the spooled '%s'", m->path);
	return 0;
}

static const member *blob_member(loader *l, const store_digest *d, const char *what)
{
	char path[13 + STORE_DIGEST_HEX_LEN + 1] = "blobs/sha256/";
	const member *m;

	store_digest_hex(d, path + 13);
	m = resolve(l, path);
	if (!m) {
		berth_error_set(l->reterr, -ENOENT, "%s blob '%s' is not in the archive", what,
				path);
		return NULL;
	}
	/* Links may lead anywhere in the archive: check what they lead to. */
	if (!store_digest_eq(&m->digest, d)) {
		berth_error_set(l->reterr, -EBADMSG, "%s blob '%s' does not match its digest", what,
				path);
		return NULL;
	}
	return m;
}

/* A blob: present, of the right size (its digest was checked by blob_member()). */
static int read_blob(loader *l, const store_digest *d, uint64_t size, const char *what, buf *out)
{
	const member *m = blob_member(l, d, what);

	if (!m)
		return -ENOENT;
	if (m->size != size)
		return berth_error_set(l->reterr, -EBADMSG,
				       "%s blob '%s' has %llu bytes, its descriptor says %llu",
				       what, m->path, (unsigned long long)m->size,
				       (unsigned long long)size);
	return read_member(l, m, what, out);
}

/* ---- Step 2: images ---- */

static void ingest_progress(void *userdata, uint64_t raw)
{
	loader *l = userdata;

	if (l->opts->progress)
		l->opts->progress(l->opts->userdata, 1, l->ingested_bytes + raw, l->layer_bytes);
}

static int ingest_layer(loader *l, const member *m, const store_digest *blob,
			const store_digest *diff_id, size_t i, store_layer *ret)
{
	fetch_unpack_opts uo = {
		.expect_diff_id = diff_id,
		.expect_blob_digest = blob,
		.progress = ingest_progress,
		.userdata = l,
	};
	_cleanup_close_ int fd = -EBADF;
	fetch_unpack_result res;
	cached_layer *v;
	int r;

	for (size_t k = 0; k < l->n_layers; k++)
		if (blob && store_digest_eq(&l->layers[k].blob, blob) &&
		    store_digest_eq(&l->layers[k].layer.diff_id, diff_id)) {
			*ret = l->layers[k].layer;
			return 0;
		}
	if ((fd = open_member(l, m)) < 0)
		return berth_error_set(l->reterr, fd, "cannot read the spooled '%s'", m->path);
	r = fetch_unpack_fd(l->s, fd, &uo, &res, l->reterr);
	if (r < 0)
		return in_context(l, r, "layer %zu", i);
	l->ingested_bytes += m->size;
	v = realloc(l->layers, (l->n_layers + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->layers = v;
	v[l->n_layers++] = (cached_layer){ .blob = res.blob_digest, .layer = res.layer };
	*ret = res.layer;
	return 0;
}

static int add_image(loader *l, const store_digest *id, size_t *ret_idx)
{
	fetch_loaded_image *v;

	for (size_t i = 0; i < l->res->n_images; i++)
		if (store_digest_eq(&l->res->images[i].id, id)) {
			*ret_idx = i;
			return 0;
		}
	v = realloc(l->res->images, (l->res->n_images + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->res->images = v;
	v[l->res->n_images] = (fetch_loaded_image){ .id = *id };
	if (!(v[l->res->n_images].names = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret_idx = l->res->n_images++;
	return 0;
}

/* Creates the image from the config's original bytes and the layers' blobs (NULL: unknown). */
static int create_image(loader *l, const buf *config, const member *const *layer_members,
			const store_digest *blobs, size_t n_layers, size_t *ret_idx)
{
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = NULL;
	_cleanup_free_ store_layer *layers = NULL;
	store_digest id;
	int r;

	if ((r = fetch_oci_config_parse(config->data, config->len, &c, l->reterr)) < 0)
		return in_context(l, r, "bad image config");
	if (c->n_diff_ids != n_layers)
		return berth_error_set(l->reterr, -EBADMSG,
				       "the manifest has %zu layers but the config %zu diff_ids",
				       n_layers, c->n_diff_ids);
	layers = calloc(n_layers ? n_layers : 1, sizeof(store_layer));
	if (!layers)
		return -ENOMEM;
	for (size_t i = 0; i < n_layers; i++)
		if ((r = ingest_layer(l, layer_members[i], blobs ? &blobs[i] : NULL,
				      &c->diff_ids[i], i, &layers[i])) < 0)
			return r;
	store_digest_buf(config->data, config->len, &id);
	if (store_image_exists(l->s, &id) <= 0) {
		store_digest *v = realloc(l->created, (l->n_created + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->created = v;
		v[l->n_created++] = id;
	}
	if ((r = store_image_create(l->s, config->data, config->len, layers, n_layers, &id,
				    l->reterr)) < 0)
		return r;
	return add_image(l, &id, ret_idx);
}

typedef struct blob_ref {
	store_digest digest;
	uint64_t size;
} blob_ref;

static int image_from_manifest(loader *l, const blob_ref *d, size_t *ret_idx)
{
	_cleanup_(fetch_oci_manifest_freep) fetch_oci_manifest *m = NULL;
	_cleanup_(buf_done) buf mb = BUF_INIT, cb = BUF_INIT;
	_cleanup_free_ const member **lm = NULL;
	_cleanup_free_ store_digest *blobs = NULL;
	int r;

	if ((r = read_blob(l, &d->digest, d->size, "manifest", &mb)) < 0)
		return r;
	if ((r = fetch_oci_manifest_parse(mb.data, mb.len, &m, l->reterr)) < 0)
		return in_context(l, r, "bad manifest");
	if ((r = read_blob(l, &m->config.digest, m->config.size, "config", &cb)) < 0)
		return r;
	lm = calloc(m->n_layers + 1, sizeof(*lm));
	blobs = calloc(m->n_layers + 1, sizeof(*blobs));
	if (!lm || !blobs)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_layers; i++) {
		const fetch_oci_descriptor *ld = &m->layers[i];
		if (!fetch_oci_layer_media_type_supported(ld->media_type))
			return berth_error_set(l->reterr, -EOPNOTSUPP,
					       "layer %zu has unsupported media type '%s'", i,
					       ld->media_type);
		if (!(lm[i] = blob_member(l, &ld->digest, "layer")))
			return -ENOENT;
		if (lm[i]->size != ld->size)
			return berth_error_set(
				l->reterr, -EBADMSG,
				"layer blob '%s' has %llu bytes, its descriptor says "
				"%llu",
				lm[i]->path, (unsigned long long)lm[i]->size,
				(unsigned long long)ld->size);
		blobs[i] = ld->digest;
	}
	return create_image(l, &cb, lm, blobs, m->n_layers, ret_idx);
}

/*
 * Follows nested indexes down to an image manifest for linux on this architecture. 1 and *ret
 * if found, 0 if the descriptor is not an image (an artifact, a signature).
 */
static int pick_manifest(loader *l, const fetch_oci_descriptor *d, int depth, blob_ref *ret)
{
	_cleanup_(fetch_oci_index_freep) fetch_oci_index *idx = NULL;
	_cleanup_(buf_done) buf b = BUF_INIT;
	const fetch_oci_descriptor *pick = NULL;
	int r;

	if (streq(d->media_type, FETCH_OCI_MT_MANIFEST) ||
	    streq(d->media_type, FETCH_DOCKER_MT_MANIFEST)) {
		*ret = (blob_ref){ d->digest, d->size };
		return 1;
	}
	if (!streq(d->media_type, FETCH_OCI_MT_INDEX) &&
	    !streq(d->media_type, FETCH_DOCKER_MT_LIST))
		return 0;
	if (depth >= INDEX_DEPTH_MAX)
		return berth_error_set(l->reterr, -ELOOP, "indexes nested more than %d deep",
				       INDEX_DEPTH_MAX);
	if ((r = read_blob(l, &d->digest, d->size, "index", &b)) < 0)
		return r;
	if ((r = fetch_oci_index_parse(b.data, b.len, &idx, l->reterr)) < 0)
		return in_context(l, r, "bad nested index");
	for (size_t i = 0; i < idx->n_manifests && !pick; i++)
		if (idx->manifests[i].has_platform &&
		    fetch_oci_platform_is_host(&idx->manifests[i].platform))
			pick = &idx->manifests[i];
	if (!pick && idx->n_manifests == 1 && !idx->manifests[0].has_platform)
		pick = &idx->manifests[0];
	if (!pick)
		return berth_error_set(l->reterr, -ENOENT, "the index has no image for linux/%s",
				       fetch_oci_host_arch());
	r = pick_manifest(l, pick, depth + 1, ret);
	return r == 0 ? berth_error_set(l->reterr, -EBADMSG,
					"the index's linux/%s entry is not an image",
					fetch_oci_host_arch())
		      : r;
}

static bool is_bare_tag(const char *s)
{
	return !strpbrk(s, "/:@");
}

/* The store name a descriptor's annotations give, or NULL (*ret untouched). */
static int name_from_annotations(loader *l, const fetch_oci_descriptor *d, char **ret)
{
	const char *full =
		fetch_oci_descriptor_annotation(d, FETCH_CONTAINERD_ANNOTATION_IMAGE_NAME);
	const char *ref = fetch_oci_descriptor_annotation(d, FETCH_OCI_ANNOTATION_REF_NAME);
	_cleanup_free_ char *joined = NULL;
	fetch_reference r = {};
	const char *s = full;
	int k;

	if (!s && ref && is_bare_tag(ref)) {
		if (!l->opts->repository)
			return 0;
		if (asprintf(&joined, "%s:%s", l->opts->repository, ref) < 0)
			return -ENOMEM;
		s = joined;
	} else if (!s)
		s = ref;
	if (!s)
		return 0;
	if (fetch_reference_parse(s, &r, NULL) < 0 || !r.tag) {
		fetch_reference_done(&r);
		return warn(l, "ignoring the image name '%s': not a valid name:tag", s);
	}
	k = fetch_reference_store_name(&r, ret);
	fetch_reference_done(&r);
	return k;
}

static int add_name(loader *l, size_t idx, char *name)
{
	fetch_loaded_image *img = &l->res->images[idx];
	int r = 0;

	for (size_t i = 0; img->names[i]; i++)
		if (streq(img->names[i], name))
			goto out;
	if (++l->n_names > ENTRIES_MAX) {
		r = berth_error_set(l->reterr, -E2BIG, "the archive names more than %d images",
				    ENTRIES_MAX);
		goto out;
	}
	/* The same name twice for different images: the later wins, as for docker load. */
	for (size_t k = 0; k < l->res->n_images; k++) {
		char **n = l->res->images[k].names;
		for (size_t i = 0; n[i]; i++)
			if (streq(n[i], name)) {
				free(n[i]);
				memmove(&n[i], &n[i + 1],
					(fetch_strv_length(n) - i) * sizeof(char *));
				break;
			}
	}
	r = fetch_strv_push(&img->names, name);
out:
	free(name);
	return r;
}

static int load_oci(loader *l, const member *index_json)
{
	_cleanup_(fetch_oci_index_freep) fetch_oci_index *idx = NULL;
	_cleanup_(buf_done) buf b = BUF_INIT;
	int r;

	if ((r = read_member(l, index_json, "index", &b)) < 0)
		return r;
	if ((r = fetch_oci_index_parse(b.data, b.len, &idx, l->reterr)) < 0)
		return in_context(l, r, "bad index.json");
	if (idx->n_manifests > ENTRIES_MAX)
		return berth_error_set(l->reterr, -E2BIG,
				       "index.json lists %zu images, more than %d",
				       idx->n_manifests, ENTRIES_MAX);
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const fetch_oci_descriptor *d = &idx->manifests[i];
		char *name = NULL;
		blob_ref md;
		size_t img;
		r = pick_manifest(l, d, 0, &md);
		if (r == 0) {
			if ((r = warn(l, "skipping index.json entry %zu: '%s' is not an image", i,
				      d->media_type)) < 0)
				return r;
			continue;
		}
		if (r > 0)
			r = image_from_manifest(l, &md, &img);
		if (r < 0)
			return in_context(l, r, "index.json entry %zu", i);
		if ((r = name_from_annotations(l, d, &name)) < 0)
			return r;
		if (name && (r = add_name(l, img, name)) < 0)
			return r;
	}
	return 0;
}

/* ---- docker save's manifest.json ---- */

static int docker_name(loader *l, const char *tag, char **ret)
{
	fetch_reference r = {};
	int k;

	if (fetch_reference_parse(tag, &r, NULL) < 0 || !r.tag) {
		fetch_reference_done(&r);
		return warn(l, "ignoring the image name '%s': not a valid name:tag", tag);
	}
	k = fetch_reference_store_name(&r, ret);
	fetch_reference_done(&r);
	return k;
}

static int load_docker_entry(loader *l, const fetch_docker_save_entry *e)
{
	_cleanup_(buf_done) buf cb = BUF_INIT;
	_cleanup_free_ const member **lm = NULL;
	size_t n = fetch_strv_length(e->layers), img;
	const member *cm = resolve(l, e->config);
	int r;

	if (!cm)
		return berth_error_set(l->reterr, -ENOENT, "config '%s' is not in the archive",
				       e->config);
	if ((r = read_member(l, cm, "config", &cb)) < 0)
		return r;
	if (!(lm = calloc(n + 1, sizeof(*lm))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(lm[i] = resolve(l, e->layers[i])))
			return berth_error_set(l->reterr, -ENOENT,
					       "layer '%s' is not in the archive", e->layers[i]);
	if ((r = create_image(l, &cb, lm, NULL, n, &img)) < 0)
		return r;
	for (size_t i = 0; e->repo_tags && e->repo_tags[i]; i++) {
		char *name = NULL;
		if ((r = docker_name(l, e->repo_tags[i], &name)) < 0)
			return r;
		if (name && (r = add_name(l, img, name)) < 0)
			return r;
	}
	return 0;
}

static int load_docker(loader *l, const member *manifest_json)
{
	fetch_docker_save_entry *e = NULL;
	_cleanup_(buf_done) buf b = BUF_INIT;
	size_t n = 0;
	int r;

	if ((r = read_member(l, manifest_json, "manifest", &b)) < 0)
		return r;
	if ((r = fetch_docker_save_manifest_parse(b.data, b.len, &e, &n, l->reterr)) < 0)
		return in_context(l, r, "bad manifest.json");
	if (n > ENTRIES_MAX)
		r = berth_error_set(l->reterr, -E2BIG,
				    "manifest.json lists %zu images, more than %d", n, ENTRIES_MAX);
	for (size_t i = 0; i < n && r >= 0; i++)
		if ((r = load_docker_entry(l, &e[i])) < 0)
			in_context(l, r, "manifest.json entry %zu", i);
	fetch_docker_save_manifest_free(e, n);
	return r;
}

/* ---- Step 3: refs ---- */

static int set_refs(loader *l)
{
	fetch_load_result *res = l->res;
	int r;

	/* One unnamed image and a repository given: it becomes REPOSITORY:latest. */
	if (l->opts->repository && res->n_images == 1 && !res->images[0].names[0]) {
		char *name;
		if (asprintf(&name, "%s:latest", l->opts->repository) < 0)
			return -ENOMEM;
		if ((r = add_name(l, 0, name)) < 0)
			return r;
	}
	for (size_t i = 0; i < res->n_images; i++) {
		fetch_loaded_image *img = &res->images[i];
		size_t n = fetch_strv_length(img->names);
		img->replaced = calloc(n + 1, sizeof(store_digest));
		img->had_replaced = calloc(n + 1, sizeof(bool));
		if (!img->replaced || !img->had_replaced)
			return -ENOMEM;
		for (size_t k = 0; k < n; k++) {
			store_digest old;
			if (store_ref_get(l->s, img->names[k], &old) == 0 &&
			    !store_digest_eq(&old, &img->id)) {
				img->replaced[k] = old;
				img->had_replaced[k] = true;
			}
			if ((r = store_ref_set(l->s, img->names[k], &img->id)) < 0)
				return berth_error_set(l->reterr, r,
						       "cannot set the reference '%s'",
						       img->names[k]);
		}
	}
	return 0;
}

void fetch_load_result_done(fetch_load_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_images; i++) {
		fetch_strv_free(r->images[i].names);
		free(r->images[i].replaced);
		free(r->images[i].had_replaced);
	}
	free(r->images);
	fetch_strv_free(r->warnings);
	*r = (fetch_load_result){};
}

static int load_locked(loader *l, int fd)
{
	const member *index_json, *manifest_json;
	int r;

	if ((r = spool(l, fd)) < 0)
		return r;
	index_json = resolve(l, "index.json");
	manifest_json = resolve(l, "manifest.json");
	if (index_json)
		r = load_oci(l, index_json);
	else if (manifest_json)
		r = load_docker(l, manifest_json);
	else
		return berth_error_set(l->reterr, -EBADMSG,
				       "not an OCI image layout or docker save archive (it has "
				       "neither index.json nor manifest.json)");
	if (r < 0)
		return r;
	if (l->res->n_images == 0)
		return berth_error_set(l->reterr, -ENOENT, "the archive holds no image");
	l->setting_refs = true;
	return set_refs(l);
}

int fetch_layout_load(store *s, int fd, const fetch_load_opts *opts, fetch_load_result *ret,
		      berth_error *reterr)
{
	static const fetch_load_opts no_opts = {};
	fetch_load_result res = {};
	loader l = {
		.s = s,
		.opts = opts ? opts : &no_opts,
		.reterr = reterr,
		.spool_fd = -EBADF,
		.cur_fd = -EBADF,
		.res = &res,
	};
	int r;

	if ((r = store_write_begin(s)) < 0)
		return berth_error_set(reterr, r, "cannot lock the store");
	r = load_locked(&l, fd);
	/* A failed load leaves the store as it found it (gc takes the objects): no new images. */
	for (size_t i = 0; r < 0 && !l.setting_refs && i < l.n_created; i++)
		(void)store_image_remove(s, &l.created[i]);
	loader_done(&l);
	store_write_end(s);
	if (r < 0) {
		fetch_load_result_done(&res);
		return r;
	}
	*ret = res;
	return 0;
}
