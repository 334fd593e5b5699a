/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/gc.c: garbage collection (mark and sweep under the exclusive store lock).
 *
 * Roots: every image record (config blob, trees, splits, and through the trees every file's FILE
 * object and chunks) and every pin. A pin whose image record is gone (rmi of an image a container
 * still runs from) keeps the image's index and, through the index, its files' contents: what a
 * mounted root reads. Marking fails closed: if a root cannot be read completely (a record that
 * does not parse, a tree or FILE object that is missing or damaged), gc deletes nothing and
 * returns the error; fsck says what is wrong.
 *
 * The mark set is one hash set of digests per object kind: digests in a dense array, found through
 * a table of 32-bit indexes keyed by XXH3 of the digest (40 bytes per object at the largest load).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xxhash.h>

#include "store/file-private.h"
#include "store/gc.h"
#include "store/image.h"
#include "store/index.h"
#include "store/ref.h"
#include "store/tree.h"
#include "util/fileio.h"

/* ---- Digest sets ---- */

#define SLOT_EMPTY UINT32_MAX

typedef struct digest_set {
	store_digest *items; /* capacity n_slots / 2 */
	size_t n;
	uint32_t *slots; /* index into items, or SLOT_EMPTY; power-of-two size */
	size_t n_slots;
} digest_set;

static void digest_set_done(digest_set *ds)
{
	free(ds->items);
	free(ds->slots);
	*ds = (digest_set){};
}

static size_t slot_of(const digest_set *ds, const store_digest *d)
{
	return XXH3_64bits(d->b, STORE_DIGEST_LEN) & (ds->n_slots - 1);
}

static int digest_set_grow(digest_set *ds)
{
	size_t n_slots = ds->n_slots ? ds->n_slots * 2 : 256;
	uint32_t *slots = malloc(n_slots * sizeof(uint32_t));
	store_digest *items = realloc(ds->items, n_slots / 2 * sizeof(store_digest));

	if (items)
		ds->items = items;
	if (!slots || !items) {
		free(slots);
		return -ENOMEM;
	}
	memset(slots, 0xff, n_slots * sizeof(uint32_t));
	free(ds->slots);
	ds->slots = slots;
	ds->n_slots = n_slots;
	for (size_t i = 0; i < ds->n; i++) {
		size_t pos = slot_of(ds, &ds->items[i]);
		while (ds->slots[pos] != SLOT_EMPTY)
			pos = (pos + 1) & (n_slots - 1);
		ds->slots[pos] = (uint32_t)i;
	}
	return 0;
}

static bool digest_set_has(const digest_set *ds, const store_digest *d)
{
	if (ds->n == 0)
		return false;
	for (size_t pos = slot_of(ds, d);; pos = (pos + 1) & (ds->n_slots - 1)) {
		uint32_t i = ds->slots[pos];
		if (i == SLOT_EMPTY)
			return false;
		if (store_digest_eq(&ds->items[i], d))
			return true;
	}
}

static int digest_set_add(digest_set *ds, const store_digest *d)
{
	size_t pos;
	int r;

	if (digest_set_has(ds, d))
		return 0;
	if (ds->n >= SLOT_EMPTY - 1)
		return -EFBIG;
	if ((ds->n + 1) * 2 > ds->n_slots && (r = digest_set_grow(ds)) < 0)
		return r;
	ds->items[ds->n] = *d;
	for (pos = slot_of(ds, d); ds->slots[pos] != SLOT_EMPTY;
	     pos = (pos + 1) & (ds->n_slots - 1))
		;
	ds->slots[pos] = (uint32_t)ds->n++;
	return 1;
}

/* ---- Shared walks ---- */

static bool gc_is_hex_name(const char *name)
{
	return strlen(name) == STORE_DIGEST_HEX_LEN &&
	       strspn(name, "0123456789abcdef") == STORE_DIGEST_HEX_LEN;
}

static int collect_cb(store *s, const store_digest *d, void *userdata)
{
	digest_set *all = userdata;
	int r = digest_set_add(all, d);

	return r < 0 ? r : 0;
}

static int gc_list_objects(store *s, store_kind kind, digest_set *ret)
{
	digest_set all = {};
	int r = store_object_foreach(s, kind, collect_cb, &all);

	if (r < 0) {
		digest_set_done(&all);
		return r;
	}
	*ret = all;
	return 0;
}

/* ---- Marking ---- */

typedef struct gc_ctx {
	store *s;
	digest_set marks[_STORE_KIND_MAX];
	digest_set keep_index; /* images whose index stays */
	store_gc_stats stats;
} gc_ctx;

static void gc_ctx_done(gc_ctx *c)
{
	for (unsigned k = 0; k < _STORE_KIND_MAX; k++)
		digest_set_done(&c->marks[k]);
	digest_set_done(&c->keep_index);
}

static int mark(gc_ctx *c, store_kind kind, const store_digest *d)
{
	return digest_set_add(&c->marks[kind], d);
}

static int mark_file(gc_ctx *c, const store_file_ref *f)
{
	_cleanup_free_ store_chunk_ref *chunks = NULL;
	size_t n;
	int r;

	if (f->nchunks == 0)
		return 0;
	if (f->nchunks == 1)
		return mark(c, STORE_CHUNK, &f->digest);
	r = mark(c, STORE_FILE, &f->digest);
	if (r <= 0)
		return r; /* marked before: so are its chunks */
	r = store_file_chunks(c->s, f, &chunks, &n);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = mark(c, STORE_CHUNK, &chunks[i].digest);
	return r;
}

static int mark_tree(gc_ctx *c, const store_digest *d)
{
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	int r = mark(c, STORE_TREE, d);

	if (r <= 0)
		return r;
	r = store_tree_load(c->s, d, &t, NULL);
	for (size_t i = 0; r >= 0 && i < (t ? store_tree_count(t) : 0); i++) {
		const store_entry *e = store_tree_entry(t, i);
		if (e->type == STORE_ENTRY_REG)
			r = mark_file(c, &e->content);
	}
	return r;
}

static int mark_image(store *s, const store_digest *id, void *userdata)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	gc_ctx *c = userdata;
	int r;

	r = store_image_load(s, id, &img);
	if (r == -ENOENT)
		return 0; /* removed since we listed it (rmi takes no lock) */
	if (r < 0)
		return r;
	r = mark(c, STORE_BLOB, id);
	if (r >= 0)
		r = digest_set_add(&c->keep_index, id);
	for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
		r = mark_tree(c, &img->layers[i].tree);
		if (r >= 0 && img->layers[i].has_split)
			r = mark(c, STORE_SPLIT, &img->layers[i].split);
	}
	return r < 0 ? r : 0;
}

static int mark_index_files(gc_ctx *c, const store_index *idx)
{
	uint64_t n = store_index_inode_count(idx);
	store_inode st;
	int r = 0;

	for (store_ino ino = 1; r >= 0 && ino <= n; ino++) {
		r = store_index_stat(idx, ino, &st);
		if (r >= 0 && S_ISREG(st.mode))
			r = mark_file(c, &st.content);
	}
	return r;
}

static int gc_open_index_file(store *s, const store_digest *id, store_index **ret)
{
	char path[6 + STORE_DIGEST_HEX_LEN + 1] = "index/";
	_cleanup_close_ int fd = -EBADF;

	store_digest_hex(id, path + 6);
	fd = openat(store_dir_fd(s), path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	return store_index_open_fd(fd, ret, NULL);
}

/* A pin whose image has no record: keep what its index reaches (see the top comment). */
static int mark_pin(store *s, const char *owner, const store_digest *id, void *userdata)
{
	_cleanup_(store_index_freep) store_index *idx = NULL;
	gc_ctx *c = userdata;
	int r;

	if (digest_set_has(&c->keep_index, id))
		return 0; /* the image record marked it all */
	r = mark(c, STORE_BLOB, id);
	if (r >= 0)
		r = gc_open_index_file(s, id, &idx);
	if (r == -ENOENT || r == -EBADMSG)
		return 0; /* nothing left to read from: the config blob is all we can keep */
	if (r >= 0)
		r = digest_set_add(&c->keep_index, id);
	if (r >= 0)
		r = mark_index_files(c, idx);
	return r < 0 ? r : 0;
}

/* ---- Sweeping ---- */

static int sweep_kind(gc_ctx *c, store_kind kind)
{
	digest_set all = {};
	int r = gc_list_objects(c->s, kind, &all);

	for (size_t i = 0; r >= 0 && i < all.n; i++) {
		uint64_t disk = 0;
		if (digest_set_has(&c->marks[kind], &all.items[i])) {
			c->stats.objects_kept++;
			continue;
		}
		(void)store_object_stat(c->s, kind, &all.items[i], &disk, NULL);
		r = store_object_remove(c->s, kind, &all.items[i]);
		if (r == -ENOENT)
			r = 0;
		else if (r >= 0) {
			c->stats.objects_removed++;
			c->stats.bytes_removed += disk;
		}
	}
	digest_set_done(&all);
	return r;
}

/*
 * Removes from a store directory every name that keep() refuses. No write session is in progress
 * (we hold the lock exclusive), so temp files there are leftovers of crashed writers.
 */
static int sweep_dir(gc_ctx *c, const char *dir, bool (*keep)(gc_ctx *c, const char *name),
		     uint64_t *counter)
{
	int fd = openat(store_dir_fd(c->s), dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return -ENOMEM;
	}
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, "..") || keep(c, de->d_name))
			continue;
		r = rm_rf(dirfd(d), de->d_name);
		if (r >= 0)
			(*counter)++;
	}
	if (r >= 0 && errno)
		r = negative_errno();
	closedir(d);
	return r;
}

static bool keep_index(gc_ctx *c, const char *name)
{
	store_digest id;

	return gc_is_hex_name(name) && hex_decode(name, id.b, STORE_DIGEST_LEN) >= 0 &&
	       digest_set_has(&c->keep_index, &id);
}

static bool keep_record(gc_ctx *c, const char *name)
{
	return gc_is_hex_name(name);
}

/* write_file_atomic()'s temp names are "<name>.tmp.XXXXXX"; pin owners never contain ".tmp.". */
static bool keep_pin(gc_ctx *c, const char *name)
{
	return !strstr(name, ".tmp.");
}

static bool keep_nothing(gc_ctx *c, const char *name)
{
	return false;
}

static int gc_locked(gc_ctx *c)
{
	/*
	 * Referrers before what they refer to: a gc killed midway then leaves only unreferenced
	 * objects that are whole. Chunks before files would leave FILE objects whose chunks are
	 * gone, which fsck rightly cannot reassemble (tests/integration/040-crash-kill9.sh).
	 */
	static const store_kind order[] = { STORE_TREE, STORE_SPLIT, STORE_BLOB, STORE_FILE,
					    STORE_CHUNK };
	uint64_t indexes = 0;
	int r;

	_Static_assert(ELEMENTSOF(order) == _STORE_KIND_MAX, "every kind is swept");
	r = store_image_foreach(c->s, mark_image, c);
	if (r >= 0)
		r = store_pin_foreach(c->s, mark_pin, c);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(order); i++)
		r = sweep_kind(c, order[i]);
	if (r >= 0)
		r = sweep_dir(c, "index", keep_index, &indexes);
	if (r >= 0)
		r = sweep_dir(c, "images", keep_record, &c->stats.tmp_removed);
	if (r >= 0)
		r = sweep_dir(c, "pins", keep_pin, &c->stats.tmp_removed);
	if (r >= 0)
		r = sweep_dir(c, "tmp", keep_nothing, &c->stats.tmp_removed);
	return r;
}

int store_gc(store *s, store_gc_stats *ret)
{
	_cleanup_(gc_ctx_done) gc_ctx c = { .s = s };
	int r;

	r = store_lock_exclusive(s);
	if (r < 0)
		return r;
	r = gc_locked(&c);
	store_unlock(s);
	if (r < 0)
		return r;
	if (ret)
		*ret = c.stats;
	return 0;
}

/* ---- fsck ---- */

typedef struct fsck_ctx {
	store *s;
	void (*report)(void *userdata, const char *problem);
	void *userdata;
	store_fsck_stats stats;
	digest_set seen[_STORE_KIND_MAX];     /* trees and files walked already */
	digest_set reported[_STORE_KIND_MAX]; /* objects reported missing already */
	buf scratch;
	bool problems;
} fsck_ctx;

static void fsck_ctx_done(fsck_ctx *c)
{
	for (unsigned k = 0; k < _STORE_KIND_MAX; k++) {
		digest_set_done(&c->seen[k]);
		digest_set_done(&c->reported[k]);
	}
	buf_done(&c->scratch);
}

_printf_(2, 3) static void problem(fsck_ctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	c->problems = true;
	if (!c->report)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->report(c->userdata, msg);
}

/* "sha256:<hex>" in a caller-owned buffer, for messages. */
typedef struct dstr {
	char s[STORE_DIGEST_STR_LEN];
} dstr;

static dstr D(const store_digest *d)
{
	dstr r;

	store_digest_str(d, r.s);
	return r;
}

static int quarantine(fsck_ctx *c, store_kind kind, const store_digest *d, const char *why)
{
	int r = store_object_quarantine(c->s, kind, d);

	c->stats.corrupt++;
	problem(c, "%s %s is corrupt (%s); %s", store_kind_name(kind), D(d).s, why,
		r < 0 ? "could not move it to quarantine" : "moved to quarantine");
	return r == -ENOENT ? 0 : r;
}

static int discard_sink(void *userdata, const void *data, size_t len)
{
	return 0;
}

/* A FILE object is named by the content it lists: reassemble that content and compare. */
static int verify_file_object(fsck_ctx *c, const store_digest *d)
{
	store_file_ref f;
	int r = store_file_list_ref(d, c->scratch.data, c->scratch.len, &f);

	if (r < 0)
		return quarantine(c, STORE_FILE, d, "its chunk list does not parse");
	r = store_file_read(c->s, &f, discard_sink, NULL);
	if (r == -EBADMSG)
		return quarantine(c, STORE_FILE, d, "its chunks do not reassemble its content");
	if (r == -ENOENT) {
		c->stats.missing++;
		problem(c, "file %s cannot be reassembled: one of its chunks is missing", D(d).s);
		return 0;
	}
	return r;
}

static int verify_kind(fsck_ctx *c, store_kind kind)
{
	digest_set all = {};
	int r = gc_list_objects(c->s, kind, &all);

	for (size_t i = 0; r >= 0 && i < all.n; i++) {
		const store_digest *d = &all.items[i];
		buf_reset(&c->scratch);
		c->stats.objects_checked++;
		r = store_object_get(c->s, kind, d, &c->scratch);
		if (r == -EBADMSG)
			r = quarantine(c, kind, d, "its content does not match its name");
		else if (r == -ENOENT)
			r = 0; /* removed since we listed it */
		else if (r >= 0 && kind == STORE_FILE)
			r = verify_file_object(c, d);
	}
	digest_set_done(&all);
	return r;
}

/* 1 if present; reports it missing (once per object) and returns 0 if not. */
static int check_present(fsck_ctx *c, store_kind kind, const store_digest *d, const char *where)
{
	int r = store_object_has(c->s, kind, d);

	if (r != 0)
		return r;
	r = digest_set_add(&c->reported[kind], d);
	if (r > 0) {
		c->stats.missing++;
		problem(c, "%s: %s %s is missing", where, store_kind_name(kind), D(d).s);
	}
	return r < 0 ? r : 0;
}

static int check_file(fsck_ctx *c, const store_file_ref *f, const char *where)
{
	_cleanup_free_ store_chunk_ref *chunks = NULL;
	size_t n;
	int r;

	if (f->nchunks == 1)
		return check_present(c, STORE_CHUNK, &f->digest, where);
	if (f->nchunks == 0 || digest_set_add(&c->seen[STORE_FILE], &f->digest) == 0)
		return 0;
	r = check_present(c, STORE_FILE, &f->digest, where);
	if (r <= 0)
		return r;
	r = store_file_chunks(c->s, f, &chunks, &n);
	if (r == -EBADMSG || r == -ENOENT) {
		problem(c, "%s: the chunk list of file %s does not match the entry's size", where,
			D(&f->digest).s);
		c->stats.bad_records++;
		return 0;
	}
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = check_present(c, STORE_CHUNK, &chunks[i].digest, where);
	return r < 0 ? r : 0;
}

static int check_tree(fsck_ctx *c, const store_digest *d, const char *where)
{
	_cleanup_(store_tree_freep) store_tree *t = NULL;
	berth_error err = BERTH_ERROR_INIT;
	char at[1200];
	int r;

	if (digest_set_add(&c->seen[STORE_TREE], d) == 0)
		return 0;
	r = check_present(c, STORE_TREE, d, where);
	if (r <= 0)
		return r;
	r = store_tree_load(c->s, d, &t, &err);
	if (r == -EBADMSG || r == -ENOENT || r == -EINVAL) {
		c->stats.bad_records++;
		problem(c, "%s: tree %s cannot be read: %s", where, D(d).s,
			berth_error_message(&err, r));
		return 0;
	}
	for (size_t i = 0; r >= 0 && i < store_tree_count(t); i++) {
		const store_entry *e = store_tree_entry(t, i);
		if (e->type != STORE_ENTRY_REG)
			continue;
		snprintf(at, sizeof(at), "%s: '%s'", where, e->path);
		r = check_file(c, &e->content, at);
	}
	return r;
}

static int check_image(store *s, const store_digest *id, void *userdata)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	fsck_ctx *c = userdata;
	char where[256];
	int r;

	r = store_image_load(s, id, &img);
	if (r == -ENOMEM)
		return r;
	if (r == -ENOENT)
		return 0; /* removed since we listed it */
	if (r < 0) {
		c->stats.bad_records++;
		problem(c, "image record %s cannot be read: %s", D(id).s, strerror(-r));
		return 0;
	}
	snprintf(where, sizeof(where), "image %s", D(id).s);
	r = check_present(c, STORE_BLOB, id, where);
	for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
		snprintf(where, sizeof(where), "image %s layer %zu", D(id).s, i);
		r = check_tree(c, &img->layers[i].tree, where);
		if (r >= 0 && img->layers[i].has_split)
			r = check_present(c, STORE_SPLIT, &img->layers[i].split, where);
	}
	return r < 0 ? r : 0;
}

/* The index is derived: a damaged one is removed and rebuilt when it is next opened. */
static int check_index(store *s, const store_digest *id, void *userdata)
{
	_cleanup_(store_index_freep) store_index *idx = NULL;
	char path[6 + STORE_DIGEST_HEX_LEN + 1] = "index/";
	fsck_ctx *c = userdata;
	int r = gc_open_index_file(s, id, &idx);

	if (r != -EBADMSG)
		return r == -ENOMEM ? r : 0;
	store_digest_hex(id, path + 6);
	(void)unlinkat(store_dir_fd(s), path, 0);
	c->stats.bad_records++;
	problem(c, "the index of image %s is damaged; removed (it is rebuilt when next used)",
		D(id).s);
	return 0;
}

static int check_refs(fsck_ctx *c)
{
	store_ref *refs = NULL;
	size_t n = 0;
	int r = store_ref_list(c->s, &refs, &n);

	if (r < 0) {
		c->stats.bad_records++;
		problem(c, "the refs file cannot be read: %s", strerror(-r));
		return r == -ENOMEM ? r : 0;
	}
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = store_image_exists(c->s, &refs[i].id);
		if (r == 0) {
			c->stats.bad_records++;
			problem(c, "ref '%s' names image %s, which does not exist", refs[i].name,
				D(&refs[i].id).s);
		}
	}
	store_ref_list_free(refs, n);
	return r < 0 ? r : 0;
}

static int check_pin(store *s, const char *owner, const store_digest *id, void *userdata)
{
	fsck_ctx *c = userdata;
	int r = store_image_exists(s, id);

	if (r == 0) {
		c->stats.bad_records++;
		problem(c, "pin '%s' names image %s, which does not exist", owner, D(id).s);
	}
	return r < 0 ? r : 0;
}

static int fsck_in_session(fsck_ctx *c)
{
	/* Chunks first: a FILE object is judged by reassembling chunks already known good. */
	static const store_kind order[] = { STORE_CHUNK, STORE_TREE, STORE_SPLIT, STORE_BLOB,
					    STORE_FILE };
	int r = 0;

	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(order); i++)
		r = verify_kind(c, order[i]);
	if (r >= 0)
		r = store_image_foreach(c->s, check_image, c);
	if (r >= 0)
		r = store_image_foreach(c->s, check_index, c);
	if (r >= 0)
		r = check_refs(c);
	if (r >= 0) {
		r = store_pin_foreach(c->s, check_pin, c);
		if (r == -EBADMSG) {
			c->stats.bad_records++;
			problem(c, "a pin file cannot be read");
			r = 0;
		}
	}
	return r;
}

int store_fsck(store *s, void (*report)(void *userdata, const char *problem), void *userdata,
	       store_fsck_stats *ret)
{
	_cleanup_(fsck_ctx_done) fsck_ctx c = { .s = s, .report = report, .userdata = userdata };
	int r;

	/* A write session keeps gc (exclusive) from deleting what we are about to judge. */
	r = store_write_begin(s);
	if (r < 0)
		return r;
	r = fsck_in_session(&c);
	store_write_end(s);
	if (r < 0)
		return r;
	if (ret)
		*ret = c.stats;
	return c.problems ? -EUCLEAN : 0;
}
