/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/ref.c: the refs file (format in store/ref.h).
 *
 * Writers take flock(refs.lock), read the current file, change one line and replace the file with
 * write_file_atomic(); the lock makes read-modify-write sequences of different processes
 * serialize, so no update is lost. Readers take no lock: rename() gives them either file whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "store/ref.h"
#include "util/fileio.h"

#define REF_NAME_MAX  512 /* names are shorter than this */
#define REFS_FILE_MAX (64u << 20)

bool store_ref_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	const char *colon;

	if (len == 0 || len >= REF_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	/* The tag follows the last ':' and has no '/' ("host:5000/repo" has no tag). */
	colon = strrchr(name, ':');
	return colon && colon != name && colon[1] && !strchr(colon, '/');
}

void store_ref_list_free(store_ref *refs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(refs[i].name);
	free(refs);
}

typedef struct ref_set {
	store_ref *refs;
	size_t n, cap;
} ref_set;

static void ref_set_done(ref_set *rs)
{
	store_ref_list_free(rs->refs, rs->n);
	*rs = (ref_set){};
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const store_ref *)a)->name, ((const store_ref *)b)->name);
}

/* Index of name, or of where it would be inserted (then *found is false). */
static size_t ref_set_find(const ref_set *rs, const char *name, bool *found)
{
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rs->refs[mid].name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int ref_set_insert(ref_set *rs, size_t at, const char *name, const store_digest *id)
{
	char *dup;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		store_ref *n = realloc(rs->refs, cap * sizeof(store_ref));
		if (!n)
			return -ENOMEM;
		rs->refs = n;
		rs->cap = cap;
	}
	dup = strdup(name);
	if (!dup)
		return -ENOMEM;
	memmove(rs->refs + at + 1, rs->refs + at, (rs->n - at) * sizeof(store_ref));
	rs->refs[at] = (store_ref){ dup, *id };
	rs->n++;
	return 0;
}

static int parse_line(ref_set *rs, char *line)
{
	char *sp = strchr(line, ' ');
	store_digest id;

	if (!sp)
		return -EBADMSG;
	*sp = '\0';
	if (!store_ref_name_valid(line) || strncmp(sp + 1, "sha256:", 7) != 0 ||
	    store_digest_parse(sp + 1, &id) < 0)
		return -EBADMSG;
	/* Appended in file order; sorted and checked for duplicates once at the end. */
	return ref_set_insert(rs, rs->n, line, &id);
}

static int refs_read(store *s, ref_set *ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	_cleanup_(ref_set_done) ref_set rs = {};
	char *text, *line;
	int r;

	r = read_file(store_dir_fd(s), "refs", REFS_FILE_MAX, &b);
	if (r == -ENOENT) {
		*ret = (ref_set){};
		return 0;
	}
	if (r < 0)
		return r == -EFBIG ? -EBADMSG : r;
	if (b.len > 0 && (b.data[b.len - 1] != '\n' || strlen(b.data) != b.len))
		return -EBADMSG;
	text = b.data;
	while (text && *text && (line = strsep(&text, "\n"))) {
		r = parse_line(&rs, line);
		if (r < 0)
			return r;
	}
	if (rs.n > 1)
		qsort(rs.refs, rs.n, sizeof(store_ref), ref_cmp);
	for (size_t i = 1; i < rs.n; i++)
		if (streq(rs.refs[i - 1].name, rs.refs[i].name))
			return -EBADMSG;
	*ret = rs;
	rs = (ref_set){};
	return 0;
}

static int refs_write(store *s, const ref_set *rs)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	char id[STORE_DIGEST_STR_LEN];
	int r = 0;

	for (size_t i = 0; r >= 0 && i < rs->n; i++) {
		store_digest_str(&rs->refs[i].id, id);
		r = buf_printf(&b, "%s %s\n", rs->refs[i].name, id);
	}
	if (r < 0)
		return r;
	return write_file_atomic(store_dir_fd(s), "refs", b.data ? b.data : "", b.len, 0644);
}

static int refs_lock(store *s)
{
	int fd = openat(store_dir_fd(s), "refs.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return negative_errno();
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int r = negative_errno();
			safe_close(fd);
			return r;
		}
	return fd; /* closing it releases the lock */
}

int store_ref_set(store *s, const char *name, const store_digest *id)
{
	_cleanup_(ref_set_done) ref_set rs = {};
	_cleanup_close_ int lock = -EBADF;
	bool found;
	size_t at;
	int r;

	if (!store_ref_name_valid(name))
		return -EINVAL;
	lock = refs_lock(s);
	if (lock < 0)
		return lock;
	r = refs_read(s, &rs);
	if (r < 0)
		return r;
	at = ref_set_find(&rs, name, &found);
	if (found) {
		if (store_digest_eq(&rs.refs[at].id, id))
			return 0;
		rs.refs[at].id = *id;
	} else if ((r = ref_set_insert(&rs, at, name, id)) < 0)
		return r;
	return refs_write(s, &rs);
}

int store_ref_remove(store *s, const char *name)
{
	_cleanup_(ref_set_done) ref_set rs = {};
	_cleanup_close_ int lock = -EBADF;
	bool found;
	size_t at;
	int r;

	if (!store_ref_name_valid(name))
		return -EINVAL;
	lock = refs_lock(s);
	if (lock < 0)
		return lock;
	r = refs_read(s, &rs);
	if (r < 0)
		return r;
	at = ref_set_find(&rs, name, &found);
	if (!found)
		return -ENOENT;
	free(rs.refs[at].name);
	memmove(rs.refs + at, rs.refs + at + 1, (rs.n - at - 1) * sizeof(store_ref));
	rs.n--;
	return refs_write(s, &rs);
}

int store_ref_get(store *s, const char *name, store_digest *ret)
{
	_cleanup_(ref_set_done) ref_set rs = {};
	bool found;
	size_t at;
	int r;

	if (!store_ref_name_valid(name))
		return -EINVAL;
	r = refs_read(s, &rs);
	if (r < 0)
		return r;
	at = ref_set_find(&rs, name, &found);
	if (!found)
		return -ENOENT;
	*ret = rs.refs[at].id;
	return 0;
}

int store_ref_list(store *s, store_ref **ret, size_t *ret_n)
{
	ref_set rs;
	int r = refs_read(s, &rs);

	if (r < 0)
		return r;
	*ret = rs.refs;
	*ret_n = rs.n;
	return 0;
}
