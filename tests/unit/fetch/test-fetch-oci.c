/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of fetch/oci.c: configs, manifests, indexes, docker save manifests, RFC 3339 times. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/oci.h"
#include "tests/unit/unit.h"

/* a string literal and its length */
#define S(lit) (lit), (sizeof(lit) - 1)

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char docker_config[] =
	"{\"architecture\":\"amd64\",\"config\":{\"Hostname\":\"\",\"User\":\"nobody\","
	"\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}},\"Env\":[\"PATH=/bin\",\"A=b c\"],"
	"\"Cmd\":[\"sh\"],\"Entrypoint\":null,\"Volumes\":{\"/data\":{}},\"WorkingDir\":\"/w\","
	"\"OnBuild\":null,\"Labels\":{\"k\":\"v\",\"x\":\"\"},\"StopSignal\":\"SIGQUIT\"},"
	"\"created\":\"2024-05-01T12:00:00.5Z\",\"author\":\"me\",\"comment\":\"hi\","
	"\"history\":[{\"created\":\"2024-05-01T11:00:00Z\",\"created_by\":\"ADD x /\"},"
	"{\"created\":\"2024-05-01T12:00:00+01:00\",\"created_by\":\"ENV A=b\","
	"\"empty_layer\":true,\"comment\":\"c\",\"author\":\"a\"}],"
	"\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}";

static fetch_oci_config *parse_config_ok(const char *json)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_oci_config *c = NULL;

	if (fetch_oci_config_parse(json, strlen(json), &c, &err) < 0)
		fail_msg("config should parse: %s", err.msg);
	return c;
}

static void expect_config_error(const char *json, const char *msg_part)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_oci_config *c = (fetch_oci_config *)0x1;

	assert_int_equal(fetch_oci_config_parse(json, strlen(json), &c, &err), -EBADMSG);
	if (!strstr(err.msg, msg_part))
		fail_msg("error '%s' does not mention '%s'", err.msg, msg_part);
	assert_ptr_equal(c, (fetch_oci_config *)0x1);
}

static void test_fetch_oci__config_parse(void **state)
{
	fetch_oci_config *c = parse_config_ok(docker_config);
	char s[STORE_DIGEST_STR_LEN];

	assert_string_equal(c->architecture, "amd64");
	assert_string_equal(c->os, "linux");
	assert_string_equal(c->created, "2024-05-01T12:00:00.5Z");
	assert_int_equal(c->created_unix, 1714564800);
	assert_int_equal(c->created_nsec, 500000000);
	assert_string_equal(c->author, "me");
	assert_string_equal(c->comment, "hi");
	assert_string_equal(c->user, "nobody");
	assert_int_equal(fetch_strv_length(c->env), 2);
	assert_string_equal(c->env[1], "A=b c");
	assert_int_equal(fetch_strv_length(c->cmd), 1);
	assert_null(c->entrypoint); /* null is absent */
	assert_string_equal(c->working_dir, "/w");
	assert_int_equal(fetch_strv_length(c->exposed_ports), 2);
	assert_string_equal(c->exposed_ports[0], "80/tcp");
	assert_string_equal(c->volumes[0], "/data");
	assert_string_equal(fetch_oci_config_label(c, "k"), "v");
	assert_string_equal(fetch_oci_config_label(c, "x"), "");
	assert_null(fetch_oci_config_label(c, "nope"));
	assert_string_equal(c->stop_signal, "SIGQUIT");
	assert_int_equal(c->n_diff_ids, 2);
	store_digest_str(&c->diff_ids[1], s);
	assert_string_equal(s, D2);
	assert_int_equal(c->n_history, 2);
	assert_string_equal(c->history[0].created_by, "ADD x /");
	assert_false(c->history[0].empty_layer);
	assert_true(c->history[1].empty_layer);
	assert_int_equal(c->history[1].created_unix, 1714561200);
	assert_string_equal(c->history[1].comment, "c");
	fetch_oci_config_free(c);
}

static void test_fetch_oci__config_minimal_and_lenient(void **state)
{
	fetch_oci_config *c;

	/* no config, no history, no created; Cmd as a lone string (Docker's StrSlice) */
	c = parse_config_ok("{\"architecture\":\"arm64\",\"os\":\"linux\","
			    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
	assert_null(c->created);
	assert_int_equal(c->n_diff_ids, 0);
	assert_null(c->cmd);
	fetch_oci_config_free(c);
	c = parse_config_ok(
		"{\"architecture\":\"arm64\",\"os\":\"linux\",\"config\":{\"Cmd\":\"sh\","
		"\"Env\":[],\"Labels\":null},\"history\":null,"
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D3 "\"]}}");
	assert_string_equal(c->cmd[0], "sh");
	assert_null(c->cmd[1]);
	assert_non_null(c->env); /* [] is present and empty */
	assert_null(c->env[0]);
	assert_int_equal(c->n_labels, 0);
	fetch_oci_config_free(c);
}

static void test_fetch_oci__config_errors(void **state)
{
	expect_config_error("", "invalid JSON");
	expect_config_error("[]", "object");
	expect_config_error("{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
			    "architecture: missing");
	expect_config_error("{\"architecture\":1,\"os\":\"linux\"}",
			    "architecture: expected a string");
	expect_config_error("{\"architecture\":\"amd64\",\"os\":\"linux\"}", "rootfs: missing");
	expect_config_error(
		"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"x\","
		"\"diff_ids\":[]}}",
		"rootfs.type");
	expect_config_error("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			    "\"layers\"}}",
			    "rootfs.diff_ids: missing");
	expect_config_error("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			    "\"layers\",\"diff_ids\":[\"" D1 "\",\"sha256:abc\"]}}",
			    "rootfs.diff_ids[1]");
	expect_config_error("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			    "\"layers\",\"diff_ids\":[\"sha512:abcd\"]}}",
			    "unsupported digest algorithm");
	expect_config_error("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			    "\"layers\",\"diff_ids\":[\"" D1 "\"]},\"config\":{\"Env\":[\"A\",2]}}",
			    "config.Env[1]: expected a string");
	expect_config_error("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			    "\"layers\",\"diff_ids\":[]},\"config\":{\"Labels\":{\"a\":1}}}",
			    "config.Labels.a");
	expect_config_error("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			    "\"layers\",\"diff_ids\":[]},\"created\":\"yesterday\"}",
			    "created: 'yesterday' is not an RFC 3339 time");
	expect_config_error(
		"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
		"\"layers\",\"diff_ids\":[]},\"history\":[{},{\"empty_layer\":\"yes\"}]}",
		"history[1].empty_layer");
	expect_config_error(
		"{\"architecture\":\"amd64\",\"architecture\":\"arm64\",\"os\":\"linux\","
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		"duplicate");
	expect_config_error("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
			    "\"layers\",\"diff_ids\":[]},\"config\":[]}",
			    "config: expected an object");
}

static void test_fetch_oci__config_generate_roundtrip(void **state)
{
	fetch_oci_config *c = parse_config_ok(docker_config), *c2;
	buf b = BUF_INIT;

	assert_int_equal(fetch_oci_config_generate(c, &b), 0);
	c2 = parse_config_ok(b.data);
	assert_string_equal(c2->created, c->created);
	assert_string_equal(c2->user, "nobody");
	assert_int_equal(fetch_strv_length(c2->env), 2);
	assert_int_equal(fetch_strv_length(c2->exposed_ports), 2);
	assert_int_equal(c2->n_labels, 2);
	assert_string_equal(c2->stop_signal, "SIGQUIT");
	assert_int_equal(c2->n_diff_ids, 2);
	assert_true(store_digest_eq(&c2->diff_ids[1], &c->diff_ids[1]));
	assert_int_equal(c2->n_history, 2);
	assert_true(c2->history[1].empty_layer);
	assert_string_equal(c2->comment, "hi");
	/* Generation is deterministic. */
	{
		buf b2 = BUF_INIT;
		assert_int_equal(fetch_oci_config_generate(c2, &b2), 0);
		assert_string_equal(b.data, b2.data);
		buf_done(&b2);
	}
	buf_done(&b);
	fetch_oci_config_free(c);
	fetch_oci_config_free(c2);
}

static void test_fetch_oci__config_generate_empty(void **state)
{
	fetch_oci_config *c = fetch_oci_config_new(), *c2;
	buf b = BUF_INIT;

	c->architecture = strdup("amd64");
	c->os = strdup("linux");
	assert_int_equal(fetch_oci_config_set_label(c, "a", "1"), 0);
	assert_int_equal(fetch_oci_config_set_label(c, "a", "2"), 0);
	assert_int_equal(fetch_oci_config_generate(c, &b), 0);
	c2 = parse_config_ok(b.data);
	assert_int_equal(c2->n_diff_ids, 0);
	assert_int_equal(c2->n_labels, 1);
	assert_string_equal(fetch_oci_config_label(c2, "a"), "2");
	assert_null(c2->cmd);
	buf_done(&b);
	fetch_oci_config_free(c);
	fetch_oci_config_free(c2);
}

static void test_fetch_oci__config_rewrite_diff_ids(void **state)
{
	store_digest ids[1];
	berth_error err = BERTH_ERROR_INIT;
	fetch_oci_config *c;
	buf b = BUF_INIT;
	char *a, *r;

	assert_int_equal(store_digest_parse(D3, &ids[0]), 0);
	assert_int_equal(fetch_oci_config_rewrite_diff_ids(docker_config, strlen(docker_config),
							   ids, 1, &b, &err),
			 0);
	c = parse_config_ok(b.data);
	assert_int_equal(c->n_diff_ids, 1);
	assert_true(store_digest_eq(&c->diff_ids[0], &ids[0]));
	assert_string_equal(c->user, "nobody");
	assert_int_equal(c->n_history, 2);
	/* key order kept: "config" and "os" still come before "rootfs" */
	a = strstr(b.data, "\"config\"");
	r = strstr(b.data, "\"rootfs\"");
	assert_non_null(a);
	assert_non_null(r);
	assert_true(a < r);
	assert_true(strstr(b.data, "\"os\"") < r);
	assert_non_null(strstr(b.data, "\"Hostname\":\"\"")); /* unknown fields kept */
	fetch_oci_config_free(c);
	buf_done(&b);
	assert_int_equal(fetch_oci_config_rewrite_diff_ids("{}", 2, ids, 1, &b, &err), -EBADMSG);
	buf_done(&b);
}

static void test_fetch_oci__time(void **state)
{
	static const struct {
		const char *s;
		int64_t sec;
		uint32_t nsec;
	} ok[] = {
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2024-02-29T23:59:59.123456789Z", 1709251199, 123456789 },
		{ "2024-05-01T12:00:00+02:30", 1714564800 - 9000, 0 },
		{ "2024-05-01t12:00:00-01:00", 1714564800 + 3600, 0 },
		{ "1969-12-31T23:59:59Z", -1, 0 },
		{ "0001-01-01T00:00:00Z", -62135596800, 0 },
		{ "2000-01-01T00:00:00.1Z", 946684800, 100000000 },
		{ "2000-01-01T00:00:00.0000000001Z", 946684800, 0 },
	};
	static const char *const bad[] = {
		"",
		"2024",
		"2024-05-01",
		"2024-05-01T12:00:00",
		"2024-13-01T00:00:00Z",
		"2023-02-29T00:00:00Z",
		"2024-04-31T00:00:00Z",
		"2024-05-01T24:00:00Z",
		"2024-05-01T12:00:00.Z",
		"2024-05-01T12:00:00+0200",
		"2024-05-01T12:00:00Zjunk",
		"24-05-01T12:00:00Z",
		"2024-05-01T12:60:00Z",
		"2024-00-01T00:00:00Z",
	};
	char out[FETCH_OCI_TIME_MAX];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		int64_t sec;
		uint32_t nsec;
		if (fetch_oci_time_parse(ok[i].s, &sec, &nsec) < 0)
			fail_msg("'%s' should parse", ok[i].s);
		assert_int_equal(sec, ok[i].sec);
		assert_int_equal(nsec, ok[i].nsec);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int64_t sec;
		uint32_t nsec;
		if (fetch_oci_time_parse(bad[i], &sec, &nsec) != -EINVAL)
			fail_msg("'%s' should be refused", bad[i]);
	}
	fetch_oci_time_format(1709251199, 123456789, out);
	assert_string_equal(out, "2024-02-29T23:59:59.123456789Z");
	fetch_oci_time_format(0, 0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	fetch_oci_time_format(946684800, 100000000, out);
	assert_string_equal(out, "2000-01-01T00:00:00.1Z");
}

static const char oci_manifest[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" FETCH_OCI_MT_MANIFEST "\","
	"\"config\":{\"mediaType\":\"" FETCH_OCI_MT_CONFIG "\",\"digest\":\"" D1 "\",\"size\":123},"
	"\"layers\":[{\"mediaType\":\"" FETCH_OCI_MT_LAYER_GZIP "\",\"digest\":\"" D2
	"\",\"size\":4},"
	"{\"mediaType\":\"" FETCH_OCI_MT_LAYER "\",\"digest\":\"" D3 "\",\"size\":0,"
	"\"annotations\":{\"a\":\"b\"}}],\"annotations\":{\"org.example\":\"x\"}}";

static void test_fetch_oci__manifest(void **state)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_oci_manifest *m = NULL, *m2 = NULL;
	buf b = BUF_INIT;
	char s[STORE_DIGEST_STR_LEN];

	assert_int_equal(fetch_oci_manifest_parse(oci_manifest, strlen(oci_manifest), &m, &err), 0);
	assert_int_equal(m->schema_version, 2);
	assert_string_equal(m->media_type, FETCH_OCI_MT_MANIFEST);
	assert_int_equal(m->config.size, 123);
	store_digest_str(&m->config.digest, s);
	assert_string_equal(s, D1);
	assert_int_equal(m->n_layers, 2);
	assert_string_equal(m->layers[0].media_type, FETCH_OCI_MT_LAYER_GZIP);
	assert_string_equal(fetch_oci_descriptor_annotation(&m->layers[1], "a"), "b");
	assert_true(fetch_oci_layer_media_type_supported(m->layers[0].media_type));
	assert_false(fetch_oci_layer_media_type_supported(FETCH_DOCKER_MT_LAYER_FOREIGN));
	assert_int_equal(m->n_annotations, 1);

	assert_int_equal(fetch_oci_manifest_generate(m, &b), 0);
	assert_int_equal(fetch_oci_manifest_parse(b.data, b.len, &m2, &err), 0);
	assert_int_equal(m2->n_layers, 2);
	assert_true(store_digest_eq(&m2->layers[1].digest, &m->layers[1].digest));
	assert_int_equal(m2->layers[1].size, 0);
	assert_string_equal(fetch_oci_descriptor_annotation(&m2->layers[1], "a"), "b");
	buf_done(&b);
	fetch_oci_manifest_free(m);
	fetch_oci_manifest_free(m2);
}

static void test_fetch_oci__docker_manifest_and_list(void **state)
{
	static const char dm[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" FETCH_DOCKER_MT_MANIFEST "\",\"config\":{"
		"\"mediaType\":\"" FETCH_DOCKER_MT_CONFIG "\",\"size\":1,\"digest\":\"" D1 "\"},"
		"\"layers\":[{\"mediaType\":\"" FETCH_DOCKER_MT_LAYER_GZIP "\",\"size\":9,"
		"\"digest\":\"" D2 "\"}]}";
	static const char dl[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" FETCH_DOCKER_MT_LIST "\",\"manifests\":["
		"{\"mediaType\":\"" FETCH_DOCKER_MT_MANIFEST "\",\"size\":7,\"digest\":\"" D1 "\","
		"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
		"{\"mediaType\":\"" FETCH_DOCKER_MT_MANIFEST "\",\"size\":7,\"digest\":\"" D2 "\","
		"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";
	fetch_oci_manifest *m = NULL;
	fetch_oci_index *idx = NULL;
	fetch_oci_doc_kind k;

	assert_int_equal(fetch_oci_manifest_parse(dm, strlen(dm), &m, NULL), 0);
	assert_string_equal(m->media_type, FETCH_DOCKER_MT_MANIFEST);
	assert_true(fetch_oci_layer_media_type_supported(m->layers[0].media_type));
	fetch_oci_manifest_free(m);
	assert_int_equal(fetch_oci_index_parse(dl, strlen(dl), &idx, NULL), 0);
	assert_int_equal(idx->n_manifests, 2);
	assert_true(idx->manifests[0].has_platform);
	assert_string_equal(idx->manifests[0].platform.variant, "v7");
	assert_null(idx->manifests[1].platform.variant);
	fetch_oci_index_free(idx);

	assert_int_equal(fetch_oci_document_kind(dm, strlen(dm), &k, NULL), 0);
	assert_int_equal(k, FETCH_OCI_DOC_MANIFEST);
	assert_int_equal(fetch_oci_document_kind(dl, strlen(dl), &k, NULL), 0);
	assert_int_equal(k, FETCH_OCI_DOC_INDEX);
	assert_int_equal(
		fetch_oci_document_kind(S("{\"schemaVersion\":2,\"manifests\":[]}"), &k, NULL), 0);
	assert_int_equal(k, FETCH_OCI_DOC_INDEX);
	assert_int_equal(fetch_oci_document_kind(S("{\"schemaVersion\":1,\"fsLayers\":[]}"), &k,
						 NULL),
			 -EPROTONOSUPPORT);
	assert_int_equal(fetch_oci_document_kind(S("{\"a\":1}"), &k, NULL), -EBADMSG);
	/* a manifest is not an index and the reverse */
	assert_int_equal(fetch_oci_index_parse(dm, strlen(dm), &idx, NULL), -EBADMSG);
	assert_int_equal(fetch_oci_manifest_parse(dl, strlen(dl), &m, NULL), -EBADMSG);
}

static void expect_manifest_error(const char *json, int code, const char *msg_part)
{
	berth_error err = BERTH_ERROR_INIT;
	fetch_oci_manifest *m = NULL;

	assert_int_equal(fetch_oci_manifest_parse(json, strlen(json), &m, &err), code);
	if (!strstr(err.msg, msg_part))
		fail_msg("error '%s' does not mention '%s'", err.msg, msg_part);
	assert_null(m);
}

#define CFG "\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1}"

static void test_fetch_oci__manifest_errors(void **state)
{
	expect_manifest_error("{\"layers\":[]," CFG "}", -EBADMSG, "schemaVersion: missing");
	expect_manifest_error("{\"schemaVersion\":\"2\",\"layers\":[]," CFG "}", -EBADMSG,
			      "schemaVersion: expected an integer");
	expect_manifest_error("{\"schemaVersion\":1,\"layers\":[]," CFG "}", -EPROTONOSUPPORT,
			      "schemaVersion");
	expect_manifest_error("{\"schemaVersion\":2,\"layers\":[]}", -EBADMSG, "config: missing");
	expect_manifest_error("{\"schemaVersion\":2," CFG "}", -EBADMSG, "layers: missing");
	expect_manifest_error("{\"schemaVersion\":2,\"layers\":{}," CFG "}", -EBADMSG,
			      "layers: expected an array");
	expect_manifest_error(
		"{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"m\",\"digest\":\"" D2 "\"}]," CFG
		"}",
		-EBADMSG, "layers[0].size: missing");
	expect_manifest_error(
		"{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"m\",\"digest\":\"" D2
		"\",\"size\":-1}]," CFG "}",
		-EBADMSG, "layers[0].size");
	expect_manifest_error(
		"{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"m\",\"digest\":\"" D2
		"\",\"size\":1.5}]," CFG "}",
		-EBADMSG, "layers[0].size");
	expect_manifest_error("{\"schemaVersion\":2,\"layers\":[{\"mediaType\":\"m\",\"digest\":"
			      "\"sha256:ABC\",\"size\":1}]," CFG "}",
			      -EBADMSG, "layers[0].digest");
	expect_manifest_error("{\"schemaVersion\":2,\"layers\":[{\"digest\":\"" D2
			      "\",\"size\":1}]," CFG "}",
			      -EBADMSG, "layers[0].mediaType: missing");
	expect_manifest_error("{\"schemaVersion\":2,\"layers\":[7]," CFG "}", -EBADMSG,
			      "layers[0]: expected an object");
	expect_manifest_error("{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"layers\":[]," CFG
			      "}",
			      -EBADMSG, "not an image manifest");
	expect_manifest_error("{\"schemaVersion\":2,\"layers\":[],\"annotations\":{\"a\":[]}," CFG
			      "}",
			      -EBADMSG, "annotations.a");
	expect_manifest_error("{\"schemaVersion\":2,\"layers\":[],\"config\":{\"mediaType\":\"x\","
			      "\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}}",
			      -EBADMSG, "config.platform.architecture: missing");
}

static void test_fetch_oci__index_generate(void **state)
{
	fetch_oci_descriptor d[2] = {};
	fetch_oci_index idx = { .schema_version = 2,
				.media_type = (char *)FETCH_OCI_MT_INDEX,
				.n_manifests = 2,
				.manifests = d };
	fetch_oci_index *p = NULL;
	buf b = BUF_INIT;

	d[0].media_type = strdup(FETCH_OCI_MT_MANIFEST);
	assert_int_equal(store_digest_parse(D1, &d[0].digest), 0);
	d[0].size = 99;
	assert_int_equal(fetch_oci_descriptor_annotate(&d[0], FETCH_OCI_ANNOTATION_REF_NAME, "v1"),
			 0);
	assert_int_equal(fetch_oci_descriptor_annotate(&d[0],
						       FETCH_CONTAINERD_ANNOTATION_IMAGE_NAME,
						       "docker.io/library/x:v1"),
			 0);
	d[1].media_type = strdup(FETCH_OCI_MT_MANIFEST);
	d[1].has_platform = true;
	d[1].platform.architecture = strdup(fetch_oci_host_arch());
	d[1].platform.os = strdup("linux");
	assert_int_equal(fetch_oci_index_generate(&idx, &b), 0);
	assert_int_equal(fetch_oci_index_parse(b.data, b.len, &p, NULL), 0);
	assert_int_equal(p->n_manifests, 2);
	assert_string_equal(fetch_oci_descriptor_annotation(&p->manifests[0],
							    FETCH_OCI_ANNOTATION_REF_NAME),
			    "v1");
	assert_int_equal(p->manifests[0].size, 99);
	assert_true(p->manifests[1].has_platform);
	assert_true(fetch_oci_platform_is_host(&p->manifests[1].platform));
	free(p->manifests[1].platform.os);
	p->manifests[1].platform.os = strdup("windows");
	assert_false(fetch_oci_platform_is_host(&p->manifests[1].platform));
	fetch_oci_index_free(p);
	fetch_oci_descriptor_done(&d[0]);
	fetch_oci_descriptor_done(&d[1]);
	buf_done(&b);
}

static void test_fetch_oci__docker_save_manifest(void **state)
{
	static const char j[] =
		"[{\"Config\":\"blobs/sha256/aa\",\"RepoTags\":[\"busybox:latest\"],"
		"\"Layers\":[\"blobs/sha256/bb\",\"blobs/sha256/cc\"]},"
		"{\"Config\":\"x.json\",\"RepoTags\":null,\"Layers\":[]}]";
	fetch_docker_save_entry *e = NULL, *e2 = NULL;
	berth_error err = BERTH_ERROR_INIT;
	size_t n = 0, n2 = 0;
	buf b = BUF_INIT;

	assert_int_equal(fetch_docker_save_manifest_parse(j, strlen(j), &e, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].repo_tags[0], "busybox:latest");
	assert_int_equal(fetch_strv_length(e[0].layers), 2);
	assert_null(e[1].repo_tags);
	assert_int_equal(fetch_strv_length(e[1].layers), 0);
	assert_int_equal(fetch_docker_save_manifest_generate(e, n, &b), 0);
	assert_int_equal(fetch_docker_save_manifest_parse(b.data, b.len, &e2, &n2, &err), 0);
	assert_int_equal(n2, 2);
	assert_string_equal(e2[0].layers[1], "blobs/sha256/cc");
	fetch_docker_save_manifest_free(e, n);
	fetch_docker_save_manifest_free(e2, n2);
	buf_done(&b);
	assert_int_equal(fetch_docker_save_manifest_parse(S("[{\"Config\":1}]"), &e, &n, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.msg, "[0].Config"));
	assert_int_equal(fetch_docker_save_manifest_parse(S("{}"), &e, &n, NULL), -EBADMSG);
}

static void test_fetch_oci__json_strv(void **state)
{
	char **l = NULL;

	assert_int_equal(fetch_json_strv_parse("[\"/bin/sh\", \"-c\", \"echo \\\"hi\\\"\"]", &l),
			 0);
	assert_int_equal(fetch_strv_length(l), 3);
	assert_string_equal(l[2], "echo \"hi\"");
	fetch_strv_free(l);
	assert_int_equal(fetch_json_strv_parse("[]", &l), 0);
	assert_null(l[0]);
	fetch_strv_free(l);
	assert_int_equal(fetch_json_strv_parse("/bin/sh", &l), -EBADMSG);
	assert_int_equal(fetch_json_strv_parse("[1]", &l), -EBADMSG);
	assert_int_equal(fetch_json_strv_parse("{}", &l), -EBADMSG);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fetch_oci__config_parse),
	cmocka_unit_test(test_fetch_oci__config_minimal_and_lenient),
	cmocka_unit_test(test_fetch_oci__config_errors),
	cmocka_unit_test(test_fetch_oci__config_generate_roundtrip),
	cmocka_unit_test(test_fetch_oci__config_generate_empty),
	cmocka_unit_test(test_fetch_oci__config_rewrite_diff_ids),
	cmocka_unit_test(test_fetch_oci__time),
	cmocka_unit_test(test_fetch_oci__manifest),
	cmocka_unit_test(test_fetch_oci__docker_manifest_and_list),
	cmocka_unit_test(test_fetch_oci__manifest_errors),
	cmocka_unit_test(test_fetch_oci__index_generate),
	cmocka_unit_test(test_fetch_oci__docker_save_manifest),
	cmocka_unit_test(test_fetch_oci__json_strv),
};
UNIT_EXPORT(fetch, oci, tests);
