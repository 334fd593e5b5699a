/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/import.h: `berth import`: a root filesystem tarball -> a one-layer image, as `docker
 * import` makes it: the tar becomes the layer (fetch_unpack_fd, byte-exact, so save gives the same
 * tar back), and a config is generated: this machine's architecture, os linux, created now, one
 * history entry whose comment is the message ("Imported from -" by default), plus whatever the
 * --change instructions set.
 *
 * --change takes the Dockerfile instructions Docker's import takes: CMD, ENTRYPOINT, ENV, EXPOSE,
 * LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, in exec (JSON array) or shell form where Dockerfiles
 * allow both. ONBUILD and anything else is refused with a message naming the instruction.
 */
#pragma once

#include <stdint.h>

#include "fetch/oci.h"
#include "store/store.h"
#include "util/error.h"

/* Applies one Dockerfile instruction ("CMD [\"/bin/sh\"]", "ENV A=b C=d") to a config. */
int fetch_import_apply_change(fetch_oci_config *c, const char *change, berth_error *reterr);

typedef struct fetch_import_opts {
	char *const *changes; /* NULL-terminated, may be NULL */
	const char *message;  /* -m; NULL: "Imported from <source>" */
	const char *source;   /* "-" or the file name, for the default message */
	const char *ref_name; /* store name to point at the image, or NULL */
	void (*progress)(void *userdata, uint64_t raw_bytes); /* may be NULL */
	void *userdata;
} fetch_import_opts;

/*
 * Reads the tar (plain, gzip or zstd) from fd and creates the image, then the ref. Takes and
 * releases its own store write session. ret_id: the image ID.
 */
int fetch_import_fd(store *s, int fd, const fetch_import_opts *opts, store_digest *ret_id,
		    berth_error *reterr);
