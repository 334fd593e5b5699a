/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/replay.c: runs a fuzz target over every file named on the command line or found in
 * the directories named there, so the corpora replay inside `meson test` without libFuzzer.
 * Prints TAP: one line per input.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"
#include "util/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_run;

static void run_file(const char *path)
{
	_cleanup_(buf_done) buf b = BUF_INIT;

	if (read_file(AT_FDCWD, path, 64u << 20, &b) < 0) {
		printf("not ok %d - %s: unreadable\n", ++n_run, path);
		return;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)(b.data ? b.data : ""), b.len);
	printf("ok %d - %s\n", ++n_run, path);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			run_file(argv[i]);
			continue;
		}
		struct dirent **names;
		int n = scandir(argv[i], &names, NULL, alphasort);
		for (int j = 0; j < n; j++) {
			if (names[j]->d_name[0] != '.') {
				_cleanup_free_ char *p = path_join(argv[i], names[j]->d_name);
				run_file(p);
			}
			free(names[j]);
		}
		free(names);
	}
	printf("1..%d\n", n_run);
	return n_run > 0 ? 0 : 1;
}
