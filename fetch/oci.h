/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/oci.h: OCI image configs, manifests and indexes (and Docker's schema2 equivalents),
 * parsed from and generated to JSON. fetch/oci.c is the only file of fetch/ that includes
 * jansson.h for image documents (fetch/registry-json.c has the registry protocol's other JSON);
 * everything else sees these plain structs.
 *
 * Parsing is strict, because the bytes come from outside (registries, archives; fuzzed): a field
 * of the wrong type, a missing required field or a malformed digest is -EBADMSG with a berth_error
 * naming the field ("config.Env[2]: expected a string"). Unknown fields are ignored, and a JSON
 * null counts as an absent optional field (Go's encoder writes null for empty slices and maps).
 * Duplicate keys are refused: two parsers must never see two different documents in one.
 *
 * Conventions of the structs: strings are NUL-terminated and owned; a NULL string or list is an
 * absent field. String lists ("strv") are NULL-terminated arrays; an empty list is a non-NULL
 * array holding only NULL, distinct from an absent one (Docker prints [] and null differently).
 * Digests are SHA-256 only (store/digest.h); another algorithm is refused as unsupported.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/digest.h"
#include "util/buf.h"
#include "util/error.h"

#define FETCH_OCI_MT_MANIFEST	      "application/vnd.oci.image.manifest.v1+json"
#define FETCH_OCI_MT_INDEX	      "application/vnd.oci.image.index.v1+json"
#define FETCH_OCI_MT_CONFIG	      "application/vnd.oci.image.config.v1+json"
#define FETCH_OCI_MT_LAYER	      "application/vnd.oci.image.layer.v1.tar"
#define FETCH_OCI_MT_LAYER_GZIP	      "application/vnd.oci.image.layer.v1.tar+gzip"
#define FETCH_OCI_MT_LAYER_ZSTD	      "application/vnd.oci.image.layer.v1.tar+zstd"
#define FETCH_DOCKER_MT_MANIFEST      "application/vnd.docker.distribution.manifest.v2+json"
#define FETCH_DOCKER_MT_LIST	      "application/vnd.docker.distribution.manifest.list.v2+json"
#define FETCH_DOCKER_MT_CONFIG	      "application/vnd.docker.container.image.v1+json"
#define FETCH_DOCKER_MT_LAYER_GZIP    "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define FETCH_DOCKER_MT_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#define FETCH_OCI_ANNOTATION_REF_NAME	       "org.opencontainers.image.ref.name"
#define FETCH_CONTAINERD_ANNOTATION_IMAGE_NAME "io.containerd.image.name"

/* ---- Small shared pieces ---- */

typedef struct fetch_kv {
	char *key;
	char *value;
} fetch_kv;

char **fetch_strv_free(char **l);
static inline void fetch_strv_freep(char ***l)
{
	fetch_strv_free(*l);
}
size_t fetch_strv_length(char *const *l);
/* Appends a copy of s (l may be NULL: a new list). -ENOMEM. */
int fetch_strv_push(char ***l, const char *s);
void fetch_kv_free_array(fetch_kv *kv, size_t n);

/* Parses `s` as a JSON array of strings (Dockerfile exec form). -EBADMSG if it is not one. */
int fetch_json_strv_parse(const char *s, char ***ret);

/*
 * RFC 3339 times ("2024-05-01T12:00:00.5Z", "...+02:00"), as OCI configs write them.
 * parse: -EINVAL if malformed. format: UTC, nanoseconds, "Z"; out >= FETCH_OCI_TIME_MAX bytes.
 */
#define FETCH_OCI_TIME_MAX 40
int fetch_oci_time_parse(const char *s, int64_t *ret_sec, uint32_t *ret_nsec);
void fetch_oci_time_format(int64_t sec, uint32_t nsec, char *out);

/* This machine's platform in OCI terms: "amd64", "arm64", "arm" (+ variant "v7"), ... */
const char *fetch_oci_host_arch(void);
const char *fetch_oci_host_variant(void); /* NULL if none */

/* ---- Descriptors, manifests, indexes ---- */

typedef struct fetch_oci_platform {
	char *architecture;
	char *os;
	char *variant;	  /* may be NULL */
	char *os_version; /* may be NULL */
} fetch_oci_platform;

typedef struct fetch_oci_descriptor {
	char *media_type;
	store_digest digest;
	uint64_t size;
	bool has_platform;
	fetch_oci_platform platform;
	size_t n_annotations;
	fetch_kv *annotations;
} fetch_oci_descriptor;

void fetch_oci_descriptor_done(fetch_oci_descriptor *d);
/* The value of an annotation, or NULL. */
const char *fetch_oci_descriptor_annotation(const fetch_oci_descriptor *d, const char *key);
/* Adds (or replaces) an annotation. */
int fetch_oci_descriptor_annotate(fetch_oci_descriptor *d, const char *key, const char *value);
/* True if the platform is linux on this machine's architecture (variant ignored if absent). */
bool fetch_oci_platform_is_host(const fetch_oci_platform *p);

/* An image manifest: OCI, or Docker schema2 (media_type says which). */
typedef struct fetch_oci_manifest {
	int schema_version; /* 2 */
	char *media_type;   /* NULL if the document has none (OCI allows that) */
	fetch_oci_descriptor config;
	size_t n_layers;
	fetch_oci_descriptor *layers;
	size_t n_annotations;
	fetch_kv *annotations;
} fetch_oci_manifest;

/* An image index: OCI, or Docker's manifest list. */
typedef struct fetch_oci_index {
	int schema_version;
	char *media_type;
	size_t n_manifests;
	fetch_oci_descriptor *manifests;
	size_t n_annotations;
	fetch_kv *annotations;
} fetch_oci_index;

int fetch_oci_manifest_parse(const void *data, size_t len, fetch_oci_manifest **ret,
			     berth_error *reterr);
fetch_oci_manifest *fetch_oci_manifest_free(fetch_oci_manifest *m);
static inline void fetch_oci_manifest_freep(fetch_oci_manifest **m)
{
	fetch_oci_manifest_free(*m);
}
/* Compact JSON; a NULL media_type is left out. */
int fetch_oci_manifest_generate(const fetch_oci_manifest *m, buf *out);

int fetch_oci_index_parse(const void *data, size_t len, fetch_oci_index **ret, berth_error *reterr);
fetch_oci_index *fetch_oci_index_free(fetch_oci_index *idx);
static inline void fetch_oci_index_freep(fetch_oci_index **i)
{
	fetch_oci_index_free(*i);
}
int fetch_oci_index_generate(const fetch_oci_index *idx, buf *out);

typedef enum fetch_oci_doc_kind {
	FETCH_OCI_DOC_MANIFEST,
	FETCH_OCI_DOC_INDEX,
} fetch_oci_doc_kind;

/*
 * Tells a manifest from an index: by mediaType when present, else by the presence of "manifests"
 * or "layers". -EBADMSG if it is neither (or not JSON), -EPROTONOSUPPORT for a known but
 * unsupported kind (Docker schema1).
 */
int fetch_oci_document_kind(const void *data, size_t len, fetch_oci_doc_kind *ret,
			    berth_error *reterr);

/* True for the layer media types berth ingests (tar, gzip, zstd; OCI and Docker). */
bool fetch_oci_layer_media_type_supported(const char *mt);

/* ---- Image configs ---- */

typedef struct fetch_oci_history {
	char *created;	      /* original string, NULL if absent */
	int64_t created_unix; /* 0 if absent */
	char *created_by;
	char *author;
	char *comment;
	bool empty_layer;
} fetch_oci_history;

typedef struct fetch_oci_config {
	char *architecture;
	char *os;
	char *variant;
	char *os_version;
	char *created;	      /* original string, NULL if absent */
	int64_t created_unix; /* seconds since the epoch; 0 if absent */
	uint32_t created_nsec;
	char *author;
	char *comment; /* Docker's top-level "comment" (docker import, commit -m) */

	/* "config": the defaults a container of this image runs with. */
	char *user;
	char **env;
	char **cmd;
	char **entrypoint;
	char *working_dir;
	char **exposed_ports; /* keys of ExposedPorts: "80/tcp" */
	char **volumes;	      /* keys of Volumes */
	size_t n_labels;
	fetch_kv *labels;
	char *stop_signal;

	size_t n_diff_ids;
	store_digest *diff_ids;
	size_t n_history;
	fetch_oci_history *history;
} fetch_oci_config;

int fetch_oci_config_parse(const void *data, size_t len, fetch_oci_config **ret,
			   berth_error *reterr);
fetch_oci_config *fetch_oci_config_new(void);
fetch_oci_config *fetch_oci_config_free(fetch_oci_config *c);
static inline void fetch_oci_config_freep(fetch_oci_config **c)
{
	fetch_oci_config_free(*c);
}
/* The label's value, or NULL. */
const char *fetch_oci_config_label(const fetch_oci_config *c, const char *key);
/* Adds (or replaces) a label. */
int fetch_oci_config_set_label(fetch_oci_config *c, const char *key, const char *value);
/*
 * Compact JSON of a config (what `import` and `commit` write). Absent fields are left out, except
 * that architecture, os and rootfs are always written (they are required).
 */
int fetch_oci_config_generate(const fetch_oci_config *c, buf *out);
/*
 * Rewrites rootfs.diff_ids of an existing config JSON, keeping every other field and the key
 * order; used by save when a layer's regenerated tar differs from the original's.
 */
int fetch_oci_config_rewrite_diff_ids(const void *data, size_t len, const store_digest *diff_ids,
				      size_t n, buf *out, berth_error *reterr);

/* ---- docker save's manifest.json ---- */

typedef struct fetch_docker_save_entry {
	char *config;	  /* path inside the archive */
	char **repo_tags; /* familiar "name:tag", may be NULL */
	char **layers;	  /* paths inside the archive */
} fetch_docker_save_entry;

int fetch_docker_save_manifest_parse(const void *data, size_t len, fetch_docker_save_entry **ret,
				     size_t *ret_n, berth_error *reterr);
void fetch_docker_save_manifest_free(fetch_docker_save_entry *e, size_t n);
int fetch_docker_save_manifest_generate(const fetch_docker_save_entry *e, size_t n, buf *out);
