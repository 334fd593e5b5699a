/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz-tar.c: layer streams (tar, compressed or not) through fetch_unpack_fd() into a
 * scratch store in a temp dir made once per process.
 *
 * Beyond "no crash, no sanitizer report", it checks what a user relies on:
 * - a refused layer says why (berth_error set, with the returned code);
 * - no fd is left open, and nothing appears in the temp dir beside the store;
 * - an accepted layer packs back: with a split, to exactly the DiffID (fetch_pack_layer() checks
 *   it), and its tree always gives a canonical tar.
 * Entries are capped at 16 MiB so that a sparse file declaring a huge size cannot turn one input
 * into minutes of writing zeros. The store is emptied every 256 inputs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fetch/pack.h"
#include "fetch/unpack.h"
#include "store/store.h"
#include "util/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *root;
static store *scratch;
static unsigned runs;

static size_t count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		abort();
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void remove_root(void)
{
	store_free(scratch);
	rm_rf(AT_FDCWD, root);
}

static int stream_fd(const uint8_t *data, size_t size);

static void open_scratch(void)
{
	static const uint8_t empty_layer[1024];
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res;
	int fd;

	if (!root) {
		const char *t = getenv("TMPDIR");
		if (asprintf(&root, "%s/berth-fuzz-tar-XXXXXX", t && t[0] ? t : "/tmp") < 0 ||
		    !mkdtemp(root))
			abort();
		atexit(remove_root);
	}
	if (store_open(root, STORE_OPEN_CREATE, &scratch, &err) < 0)
		abort();
	/* The store opens some fds on first use: use it once before fds are counted. */
	fd = stream_fd(empty_layer, sizeof(empty_layer));
	if (store_write_begin(scratch) < 0 || fetch_unpack_fd(scratch, fd, NULL, &res, &err) < 0)
		abort();
	store_write_end(scratch);
	close(fd);
}

static void recycle(void)
{
	int dfd;

	store_free(scratch);
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || rm_rf(dfd, "store") < 0)
		abort();
	close(dfd);
	open_scratch();
}

static int discard(void *userdata, const void *data, size_t len)
{
	return 0;
}

static void check_accepted(const fetch_unpack_result *res)
{
	berth_error err = BERTH_ERROR_INIT;
	store_layer canonical;

	if (fetch_pack_layer(scratch, &res->layer, discard, NULL, &err) < 0)
		abort();
	if (fetch_layer_from_tree(scratch, &res->layer.tree, &canonical, &err) < 0)
		abort();
}

static int stream_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-tar", MFD_CLOEXEC);

	if (fd < 0 || fd_write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const fetch_unpack_opts opts = { .max_entry_size = 16u << 20 };
	berth_error err = BERTH_ERROR_INIT;
	fetch_unpack_result res;
	size_t fds;
	int fd, r;

	if (!scratch)
		open_scratch();
	else if (++runs % 256 == 0)
		recycle();
	/* Counted within one call: libFuzzer itself holds fds open at times between calls. */
	fds = count_dir("/proc/self/fd");
	fd = stream_fd(data, size);
	if (store_write_begin(scratch) < 0)
		abort();
	r = fetch_unpack_fd(scratch, fd, &opts, &res, &err);
	if (r >= 0)
		check_accepted(&res);
	else if (r != -ENOMEM && (err.code != r || !err.msg[0]))
		abort();
	store_write_end(scratch);
	close(fd);
	if (count_dir("/proc/self/fd") != fds || count_dir(root) != 1)
		abort();
	return 0;
}
