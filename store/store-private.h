/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store/store-private.h: the store handle's fields, shared by store.c (open, config, sessions),
 * object.c (objects) and pin.c (pins). Nothing outside store/ includes this.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "store/store.h"

struct store {
	char *root;
	int dir_fd;		      /* ROOT/store */
	int kind_fd[_STORE_KIND_MAX]; /* objects/<kind> */
	int tmp_fd;		      /* tmp/ */
	store_chunker_params params;
	int zstd_level;

	pthread_mutex_t lock; /* guards the fields below */
	unsigned sessions;    /* nesting depth of write sessions, all threads together */
	int lock_fd;	      /* `lock`, flock(LOCK_SH) while sessions > 0 */
	int excl_fd;	      /* `lock` again (its own open file), flock(LOCK_EX) by gc */
};

/* True while a write session is open on this handle (any thread). */
bool store_in_session(store *s);
/* A number no other temp file name of this process uses (combine with the pid). */
unsigned long store_tmp_seq(void);
/* openat(O_DIRECTORY); the fd or -errno. */
int store_open_dir(int dirfd, const char *path);
