/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz-oci.c: the bytes as an OCI image config, manifest, index and docker save
 * manifest.json. Besides not crashing: whatever parses must generate JSON that parses again to the
 * same values, and a refusal always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(int r, const berth_error *err)
{
	if (r < 0 && r != -ENOMEM && (err->code == 0 || !err->msg[0]))
		abort();
}

static void fuzz_config(const uint8_t *data, size_t size)
{
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = NULL, *c2 = NULL, *c3 = NULL;
	_cleanup_(buf_done) buf b = BUF_INIT, rw = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	int r;

	r = fetch_oci_config_parse(data, size, &c, &err);
	check_refusal(r, &err);
	if (r < 0)
		return;
	if (fetch_oci_config_generate(c, &b) < 0 ||
	    fetch_oci_config_parse(b.data, b.len, &c2, NULL) < 0)
		abort();
	if (c2->n_diff_ids != c->n_diff_ids || c2->n_history != c->n_history ||
	    fetch_strv_length(c2->env) != fetch_strv_length(c->env) || !c2->cmd != !c->cmd ||
	    strcmp(c2->architecture, c->architecture) != 0 || c2->created_unix != c->created_unix)
		abort();
	/* Rewriting the diff_ids keeps the document a valid config with the new list. */
	if (fetch_oci_config_rewrite_diff_ids(data, size, c->diff_ids, c->n_diff_ids ? 1 : 0, &rw,
					      NULL) < 0 ||
	    fetch_oci_config_parse(rw.data, rw.len, &c3, NULL) < 0 ||
	    c3->n_diff_ids != (c->n_diff_ids ? 1u : 0u))
		abort();
}

static void fuzz_manifest(const uint8_t *data, size_t size)
{
	_cleanup_(fetch_oci_manifest_freep) fetch_oci_manifest *m = NULL, *m2 = NULL;
	_cleanup_(buf_done) buf b = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	int r;

	r = fetch_oci_manifest_parse(data, size, &m, &err);
	check_refusal(r, &err);
	if (r < 0)
		return;
	if (fetch_oci_manifest_generate(m, &b) < 0 ||
	    fetch_oci_manifest_parse(b.data, b.len, &m2, NULL) < 0 || m2->n_layers != m->n_layers ||
	    !store_digest_eq(&m2->config.digest, &m->config.digest))
		abort();
	for (size_t i = 0; i < m->n_layers; i++)
		if (m->layers[i].size != m2->layers[i].size ||
		    strcmp(m->layers[i].media_type, m2->layers[i].media_type) != 0)
			abort();
}

static void fuzz_index(const uint8_t *data, size_t size)
{
	_cleanup_(fetch_oci_index_freep) fetch_oci_index *idx = NULL, *idx2 = NULL;
	_cleanup_(buf_done) buf b = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_oci_doc_kind k;
	int r;

	r = fetch_oci_document_kind(data, size, &k, &err);
	check_refusal(r, &err);
	err = (berth_error)BERTH_ERROR_INIT;
	r = fetch_oci_index_parse(data, size, &idx, &err);
	check_refusal(r, &err);
	if (r < 0)
		return;
	if (fetch_oci_index_generate(idx, &b) < 0 ||
	    fetch_oci_index_parse(b.data, b.len, &idx2, NULL) < 0 ||
	    idx2->n_manifests != idx->n_manifests)
		abort();
	for (size_t i = 0; i < idx->n_manifests; i++) {
		if (idx->manifests[i].has_platform)
			(void)fetch_oci_platform_is_host(&idx->manifests[i].platform);
		if (idx->manifests[i].n_annotations != idx2->manifests[i].n_annotations)
			abort();
	}
}

static void fuzz_save_manifest(const uint8_t *data, size_t size)
{
	fetch_docker_save_entry *e = NULL, *e2 = NULL;
	berth_error err = BERTH_ERROR_INIT;
	_cleanup_(buf_done) buf b = BUF_INIT;
	size_t n = 0, n2 = 0;
	int r;

	r = fetch_docker_save_manifest_parse(data, size, &e, &n, &err);
	check_refusal(r, &err);
	if (r < 0)
		return;
	if (fetch_docker_save_manifest_generate(e, n, &b) < 0 ||
	    fetch_docker_save_manifest_parse(b.data, b.len, &e2, &n2, NULL) < 0 || n2 != n)
		abort();
	fetch_docker_save_manifest_free(e, n);
	fetch_docker_save_manifest_free(e2, n2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	fuzz_config(data, size);
	fuzz_manifest(data, size);
	fuzz_index(data, size);
	fuzz_save_manifest(data, size);
	return 0;
}
