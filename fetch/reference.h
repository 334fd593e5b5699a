/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/reference.h: image references, with Docker's normalisation.
 *
 *     base                      -> docker.io/library/base:latest
 *     user/app:v2               -> docker.io/user/app:v2
 *     127.0.0.1:5000/app@sha256:... -> registry 127.0.0.1:5000, repository app, digest
 *
 * Grammar (distribution/reference): the first component is a registry host if it contains '.' or
 * ':' or is "localhost"; path components are [a-z0-9]+([._]|__|[-]+)[a-z0-9]+...; tags are
 * [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; the whole name is at most 255 characters. This parser takes
 * untrusted input (fuzzed).
 */
#pragma once

#include <stdbool.h>

#include "store/digest.h"
#include "util/error.h"

typedef struct fetch_reference {
	char *domain; /* "docker.io", "127.0.0.1:5000" */
	char *path;   /* "library/base" */
	char *tag;    /* "latest" unless a digest was given without a tag; may be NULL */
	bool has_digest;
	store_digest digest;
} fetch_reference;

int fetch_reference_parse(const char *s, fetch_reference *ret, berth_error *reterr);
void fetch_reference_done(fetch_reference *r);
/* "docker.io/library/base:latest", the form refs are stored under (tag required). */
int fetch_reference_store_name(const fetch_reference *r, char **ret);
/* "docker.io/library/base" */
int fetch_reference_repository(const fetch_reference *r, char **ret);
/* The short form users see: "base:latest", "user/app:v2", "127.0.0.1:5000/app:v1". */
int fetch_reference_familiar(const char *store_name, char **ret);
/* The API host for a domain: docker.io -> registry-1.docker.io. */
const char *fetch_reference_api_host(const fetch_reference *r);
