/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/image.c: image records (format in store/image.h).
 *
 * A record is the last thing written for an image: after its objects are in the store, its index
 * is built and store_sync() has made all of it durable. So a record on disk always describes a
 * complete image, and "does the image exist" is "does the record exist".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "store/image.h"
#include "store/index.h"
#include "util/fileio.h"

#define IMAGE_RECORD_MAX (1u << 20)
#define IMAGE_LAYERS_MAX 4096

/* "images/<64 hex>" or "index/<64 hex>" */
typedef struct image_path {
	char s[8 + STORE_DIGEST_HEX_LEN];
} image_path;

static image_path path_of(const char *dir, const store_digest *id)
{
	image_path p;
	size_t n = strlen(dir);

	memcpy(p.s, dir, n);
	p.s[n] = '/';
	store_digest_hex(id, p.s + n + 1);
	return p;
}

store_image *store_image_free(store_image *img)
{
	if (!img)
		return NULL;
	free(img->layers);
	free(img);
	return NULL;
}

/* ---- Record text ---- */

static int record_format(const store_image *img, buf *out)
{
	char a[STORE_DIGEST_STR_LEN], b[STORE_DIGEST_STR_LEN], c[STORE_DIGEST_STR_LEN];
	int r;

	store_digest_str(&img->id, a);
	r = buf_printf(out, "berth-image 1\nconfig %s %" PRIu64 "\n", a, img->config_size);
	for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
		const store_layer *l = &img->layers[i];
		store_digest_str(&l->tree, a);
		store_digest_str(&l->diff_id, b);
		if (l->has_split)
			store_digest_str(&l->split, c);
		r = buf_printf(out, "layer %s %s %s %" PRIu64 "\n", a, b, l->has_split ? c : "-",
			       l->tar_size);
	}
	return r;
}

/* A decimal uint64 without sign, spaces or leading zeros. */
static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9' || (s[0] == '0' && s[1]))
		return -EBADMSG;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EBADMSG;
	*ret = v;
	return 0;
}

/* Splits line into exactly n space-separated fields (modifies it). */
static int split_fields(char *line, char **fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fields[i] = strsep(&line, " ");
		if (!fields[i] || !fields[i][0])
			return -EBADMSG;
	}
	return line ? -EBADMSG : 0;
}

static int parse_digest(const char *s, store_digest *ret)
{
	/* Records are written in one form only: the prefixed, lowercase one. */
	if (strncmp(s, "sha256:", 7) != 0 || strspn(s + 7, "0123456789abcdef") != 64)
		return -EBADMSG;
	return store_digest_parse(s, ret) < 0 ? -EBADMSG : 0;
}

static int parse_layer(char *line, store_layer *l)
{
	char *f[5];
	int r = split_fields(line, f, 5);

	if (r < 0 || !streq(f[0], "layer"))
		return -EBADMSG;
	*l = (store_layer){};
	if (parse_digest(f[1], &l->tree) < 0 || parse_digest(f[2], &l->diff_id) < 0)
		return -EBADMSG;
	l->has_split = !streq(f[3], "-");
	if (l->has_split && parse_digest(f[3], &l->split) < 0)
		return -EBADMSG;
	return parse_u64(f[4], &l->tar_size);
}

static int parse_config(char *line, store_image *img)
{
	char *f[3];

	if (split_fields(line, f, 3) < 0 || !streq(f[0], "config"))
		return -EBADMSG;
	if (parse_digest(f[1], &img->id) < 0)
		return -EBADMSG;
	return parse_u64(f[2], &img->config_size);
}

static int record_parse(char *text, size_t len, store_image **ret)
{
	_cleanup_(store_image_freep) store_image *img = calloc(1, sizeof(*img));
	size_t n_lines = 0;
	char *line;
	int r;

	if (!img)
		return -ENOMEM;
	if (len == 0 || text[len - 1] != '\n' || strlen(text) != len)
		return -EBADMSG;
	text[len - 1] = '\0';
	for (size_t i = 0; i < len; i++)
		n_lines += text[i] == '\n';
	if (n_lines < 1 || n_lines - 1 > IMAGE_LAYERS_MAX)
		return -EBADMSG;
	line = strsep(&text, "\n");
	if (!streq(line, "berth-image 1"))
		return -EBADMSG;
	r = parse_config(strsep(&text, "\n"), img);
	if (r < 0)
		return r;
	img->layers = calloc(MAX(n_lines - 1, (size_t)1), sizeof(store_layer));
	if (!img->layers)
		return -ENOMEM;
	while ((line = strsep(&text, "\n"))) {
		r = parse_layer(line, &img->layers[img->n_layers++]);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(img);
	return 0;
}

/* ---- Creation ---- */

static int check_present(store *s, store_kind kind, const store_digest *d, size_t layer,
			 berth_error *reterr)
{
	char str[STORE_DIGEST_STR_LEN];
	int r = store_object_has(s, kind, d);

	if (r > 0)
		return 0;
	store_digest_str(d, str);
	return berth_error_set(reterr, r < 0 ? r : -ENOENT,
			       "Layer %zu: %s '%s' is not in the store", layer,
			       store_kind_name(kind), str);
}

static int check_layers(store *s, const store_layer *layers, size_t n, berth_error *reterr)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = check_present(s, STORE_TREE, &layers[i].tree, i, reterr);
		if (r >= 0 && layers[i].has_split)
			r = check_present(s, STORE_SPLIT, &layers[i].split, i, reterr);
	}
	return r;
}

static int write_record(store *s, const store_image *img, berth_error *reterr)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	image_path p = path_of("images", &img->id);
	int r;

	if (mkdirat(store_dir_fd(s), "images", 0755) < 0 && errno != EEXIST)
		return berth_error_set(reterr, negative_errno(),
				       "Failed to create images directory");
	r = record_format(img, &b);
	if (r >= 0)
		r = write_file_atomic(store_dir_fd(s), p.s, b.data, b.len, 0644);
	if (r < 0)
		return berth_error_set(reterr, r, "Failed to write '%s': %s", p.s, strerror(-r));
	return 0;
}

static int image_create_locked(store *s, store_image *img, const void *config, size_t config_len,
			       berth_error *reterr)
{
	int r;

	r = store_object_put(s, STORE_BLOB, config, config_len, NULL);
	if (r < 0)
		return berth_error_set(reterr, r, "Failed to store the image config: %s",
				       strerror(-r));
	r = check_layers(s, img->layers, img->n_layers, reterr);
	if (r < 0)
		return r;
	r = store_index_build(s, img, reterr);
	if (r < 0)
		return r;
	r = store_sync(s);
	if (r < 0)
		return berth_error_set(reterr, r, "Failed to sync the store: %s", strerror(-r));
	return write_record(s, img, reterr);
}

int store_image_create(store *s, const void *config, size_t config_len, const store_layer *layers,
		       size_t n_layers, store_digest *ret_id, berth_error *reterr)
{
	store_image img = { .config_size = config_len,
			    .n_layers = n_layers,
			    .layers = (store_layer *)layers };
	int r;

	if (n_layers > IMAGE_LAYERS_MAX)
		return berth_error_set(reterr, -E2BIG, "Too many layers (%zu, at most %d)",
				       n_layers, IMAGE_LAYERS_MAX);
	store_digest_buf(config, config_len, &img.id);
	r = store_image_exists(s, &img.id);
	if (r < 0)
		return r;
	if (r == 0) {
		/* Our own session (sessions nest): gc must not run between the puts and the record. */
		r = store_write_begin(s);
		if (r < 0)
			return r;
		r = image_create_locked(s, &img, config, config_len, reterr);
		store_write_end(s);
		if (r < 0)
			return r;
	}
	if (ret_id)
		*ret_id = img.id;
	return 0;
}

/* ---- Reading ---- */

int store_image_load(store *s, const store_digest *id, store_image **ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	image_path p = path_of("images", id);
	store_image *img;
	int r;

	r = read_file(store_dir_fd(s), p.s, IMAGE_RECORD_MAX, &b);
	if (r < 0)
		return r == -EFBIG ? -EBADMSG : r;
	r = record_parse(b.data ? b.data : (char *)"", b.len, &img);
	if (r < 0)
		return r;
	if (!store_digest_eq(&img->id, id)) { /* a record under the wrong name */
		store_image_free(img);
		return -EBADMSG;
	}
	*ret = img;
	return 0;
}

int store_image_config(store *s, const store_image *img, buf *out)
{
	size_t orig = out->len;
	int r = store_object_get(s, STORE_BLOB, &img->id, out);

	if (r < 0)
		return r;
	if (out->len - orig != img->config_size) {
		out->len = orig;
		out->data[orig] = '\0';
		return -EBADMSG;
	}
	return 0;
}

int store_image_exists(store *s, const store_digest *id)
{
	image_path p = path_of("images", id);

	if (faccessat(store_dir_fd(s), p.s, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	return 1;
}

int store_image_remove(store *s, const store_digest *id)
{
	image_path rec = path_of("images", id), idx = path_of("index", id);

	if (unlinkat(store_dir_fd(s), rec.s, 0) < 0)
		return negative_errno();
	/* The index is derived: if this fails, gc removes it later. */
	(void)unlinkat(store_dir_fd(s), idx.s, 0);
	return fsync_dir(store_dir_fd(s), rec.s);
}

/* ---- Listing ---- */

static bool is_image_name(const char *name)
{
	return strlen(name) == STORE_DIGEST_HEX_LEN &&
	       strspn(name, "0123456789abcdef") == STORE_DIGEST_HEX_LEN;
}

static int digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, STORE_DIGEST_LEN);
}

/* Every image ID in images/, sorted; with a prefix, only those whose hex starts with it. */
static int list_ids(store *s, const char *prefix, store_digest **ret, size_t *ret_n)
{
	_cleanup_free_ store_digest *ids = NULL;
	size_t n = 0, cap = 0, plen = prefix ? strlen(prefix) : 0;
	int fd = openat(store_dir_fd(s), "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (fd < 0 && errno != ENOENT)
		return negative_errno();
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (fd >= 0 && !d) {
		safe_close(fd);
		return -ENOMEM;
	}
	while (d && r == 0 && (errno = 0, de = readdir(d))) {
		if (!is_image_name(de->d_name) || strncmp(de->d_name, prefix ? prefix : "", plen))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			store_digest *nn = realloc(ids, cap * sizeof(store_digest));
			if (!nn)
				r = -ENOMEM;
			else
				ids = nn;
		}
		if (r == 0)
			r = hex_decode(de->d_name, ids[n++].b, STORE_DIGEST_LEN);
	}
	if (d && r == 0 && errno)
		r = negative_errno();
	if (d)
		closedir(d);
	if (r < 0)
		return r;
	if (n > 1)
		qsort(ids, n, sizeof(store_digest), digest_cmp);
	*ret = TAKE_PTR(ids);
	*ret_n = n;
	return 0;
}

int store_image_resolve_prefix(store *s, const char *prefix, store_digest *ret)
{
	_cleanup_free_ store_digest *ids = NULL;
	char lower[STORE_DIGEST_HEX_LEN + 1];
	size_t n, len;
	int r;

	if (strncasecmp(prefix, "sha256:", 7) == 0)
		prefix += 7;
	len = strlen(prefix);
	if (len < 4 || len > STORE_DIGEST_HEX_LEN ||
	    strspn(prefix, "0123456789abcdefABCDEF") != len)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++)
		lower[i] =
			(char)(prefix[i] >= 'A' && prefix[i] <= 'F' ? prefix[i] + 32 : prefix[i]);
	r = list_ids(s, lower, &ids, &n);
	if (r < 0)
		return r;
	if (n == 0)
		return -ENOENT;
	if (n > 1)
		return -ENOTUNIQ;
	*ret = ids[0];
	return 0;
}

int store_image_foreach(store *s, int (*cb)(store *s, const store_digest *id, void *userdata),
			void *userdata)
{
	_cleanup_free_ store_digest *ids = NULL;
	size_t n;
	int r = list_ids(s, NULL, &ids, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = cb(s, &ids[i], userdata);
		if (r != 0)
			return r;
	}
	return 0;
}

int store_image_content_size(store *s, const store_digest *id, uint64_t *ret)
{
	_cleanup_(store_index_freep) store_index *idx = NULL;
	int r = store_index_open(s, id, &idx, NULL);

	if (r < 0)
		return r;
	*ret = store_index_content_bytes(idx);
	return 0;
}
