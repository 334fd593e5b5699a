/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of fetch/import.c, fetch/layout.c and fetch/layout-save.c: --change instructions, and
 * import -> save -> load between two stores (IDs, names, determinism), including a layer without
 * a split, whose saved config gets new diff_ids.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/import.h"
#include "fetch/layout.h"
#include "fetch/oci.h"
#include "store/image.h"
#include "store/ref.h"
#include "tests/unit/fetch/fetch-test.h"

#define NAME "docker.io/library/x:1"

static fetch_oci_config *change(const char *instr, int want)
{
	fetch_oci_config *c = fetch_oci_config_new();
	berth_error err = BERTH_ERROR_INIT;
	int r;

	assert_non_null(c);
	r = fetch_import_apply_change(c, instr, &err);
	if (r != want)
		fail_msg("'%s': got %d (%s), want %d", instr, r, err.msg, want);
	if (r < 0)
		assert_true(strlen(err.msg) > 0);
	return c;
}

static void assert_strv(char **l, const char *const *want, size_t n)
{
	assert_int_equal(fetch_strv_length(l), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l[i], want[i]);
}

static void test_fetch_layout__change_instructions(void **state)
{
	fetch_oci_config *c;

	c = change("CMD [\"/bin/sh\", \"-c\"]", 0);
	assert_strv(c->cmd, (const char *[]){ "/bin/sh", "-c" }, 2);
	fetch_oci_config_free(c);
	c = change("cmd echo  \"a b\"", 0); /* shell form keeps the string as written */
	assert_strv(c->cmd, (const char *[]){ "/bin/sh", "-c", "echo  \"a b\"" }, 3);
	fetch_oci_config_free(c);
	c = change("ENTRYPOINT [\"/init\"]", 0);
	assert_strv(c->entrypoint, (const char *[]){ "/init" }, 1);
	fetch_oci_config_free(c);
	c = change("ENV A=1 B=\"two words\" C='x\\y' D=e\\ f", 0);
	assert_strv(c->env, (const char *[]){ "A=1", "B=two words", "C=x\\y", "D=e f" }, 4);
	assert_int_equal(fetch_import_apply_change(c, "ENV A 9 9", NULL), 0);
	assert_string_equal(c->env[0], "A=9 9"); /* replaced in place */
	fetch_oci_config_free(c);
	c = change("EXPOSE 80 8000-8002/udp 80/tcp", 0);
	assert_strv(c->exposed_ports,
		    (const char *[]){ "80/tcp", "8000/udp", "8001/udp", "8002/udp" }, 4);
	fetch_oci_config_free(c);
	c = change("LABEL a=b \"c d\"=\"e f\"", 0);
	assert_string_equal(fetch_oci_config_label(c, "c d"), "e f");
	fetch_oci_config_free(c);
	c = change("VOLUME /a /b", 0);
	assert_strv(c->volumes, (const char *[]){ "/a", "/b" }, 2);
	assert_int_equal(fetch_import_apply_change(c, "VOLUME [\"/b\", \"/c\"]", NULL), 0);
	assert_strv(c->volumes, (const char *[]){ "/a", "/b", "/c" }, 3);
	fetch_oci_config_free(c);
	c = change("WORKDIR /srv", 0);
	assert_int_equal(fetch_import_apply_change(c, "WORKDIR app", NULL), 0);
	assert_string_equal(c->working_dir, "/srv/app");
	fetch_oci_config_free(c);
	c = change("USER 1000:1000", 0);
	assert_string_equal(c->user, "1000:1000");
	assert_int_equal(fetch_import_apply_change(c, "STOPSIGNAL SIGKILL", NULL), 0);
	assert_string_equal(c->stop_signal, "SIGKILL");
	fetch_oci_config_free(c);

	static const char *const bad[] = {
		"",
		"FROM scratch",
		"ONBUILD RUN x",
		"CMD",
		"ENV",
		"ENV A",
		"ENV =x",
		"ENV A=\"x",
		"EXPOSE",
		"EXPOSE 0",
		"EXPOSE 70000",
		"EXPOSE 80/xyz",
		"EXPOSE 9-1",
		"EXPOSE 1-5000",
		"USER a b",
		"USER",
		"STOPSIGNAL",
		"VOLUME",
		"VOLUME [1]",
		"WORKDIR",
		"LABEL",
		"VERYLONGINSTRUCTIONNAME x",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		fetch_oci_config_free(change(bad[i], -EINVAL));
}

static int open_file(const char *dir, const char *name, int flags)
{
	char *p = path_join(dir, name);
	int fd = open(p, flags | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	free(p);
	return fd;
}

/* The tar made by mktar.py, imported as NAME into t; returns the image ID. */
static store_digest import_recipe(tstore *t, const char *fmt, char *const *changes)
{
	_cleanup_(buf_done) buf tar = BUF_INIT;
	berth_error err = BERTH_ERROR_INIT;
	fetch_import_opts o = { .changes = changes, .ref_name = NAME, .source = "test" };
	store_digest id, ref;
	int fd, r;

	make_tar(t->dir, "full", fmt, &tar);
	fd = open_file(t->dir, "in.tar", O_RDWR | O_CREAT | O_TRUNC);
	assert_int_equal(fd_write_all(fd, tar.data, tar.len), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	r = fetch_import_fd(t->s, fd, &o, &id, &err);
	if (r < 0)
		fail_msg("import: %s", berth_error_message(&err, r));
	close(fd);
	assert_int_equal(store_ref_get(t->s, NAME, &ref), 0);
	assert_true(store_digest_eq(&ref, &id));
	return id;
}

static void save_to(tstore *t, const char *file, const fetch_save_image *img,
		    fetch_save_result *res)
{
	berth_error err = BERTH_ERROR_INIT;
	int fd = open_file(t->dir, file, O_WRONLY | O_CREAT | O_TRUNC), r;

	r = fetch_layout_save(t->s, img, 1, fd, NULL, res, &err);
	if (r < 0)
		fail_msg("save: %s", berth_error_message(&err, r));
	close(fd);
}

static void load_from(tstore *t, const char *dir, const char *file, const fetch_load_opts *o,
		      fetch_load_result *res)
{
	berth_error err = BERTH_ERROR_INIT;
	int fd = open_file(dir, file, O_RDONLY), r;

	r = fetch_layout_load(t->s, fd, o, res, &err);
	if (r < 0)
		fail_msg("load: %s", berth_error_message(&err, r));
	close(fd);
}

/* A directory fd that stays open for the test's lifetime (a few per test). */
static int open_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void assert_tmp_empty(tstore *t)
{
	char *p = path_join(t->dir, "store/tmp");
	DIR *d = opendir(p);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (!streq(e->d_name, ".") && !streq(e->d_name, ".."))
			fail_msg("left in tmp/: %s", e->d_name);
	closedir(d);
	free(p);
}

static void test_fetch_layout__import_save_load(void **state)
{
	char *changes[] = { (char *)"CMD [\"sh\"]", NULL };
	fetch_save_result sres = {}, sres2 = {};
	fetch_load_result lres = {};
	_cleanup_(buf_done) buf a = BUF_INIT, b = BUF_INIT;
	store_digest id, ref;
	tstore t1, t2;

	tstore_open(&t1);
	tstore_open(&t2);
	id = import_recipe(&t1, "pax", changes);
	fetch_save_image img = { .id = id, .name = NAME };
	save_to(&t1, "out.tar", &img, &sres);
	assert_int_equal(sres.n_images, 1);
	assert_true(store_digest_eq(&sres.images[0].saved_id, &id)); /* byte-exact layer */
	assert_tmp_empty(&t1);

	load_from(&t2, t1.dir, "out.tar", NULL, &lres);
	assert_int_equal(lres.n_images, 1);
	assert_true(store_digest_eq(&lres.images[0].id, &id));
	assert_string_equal(lres.images[0].names[0], NAME);
	assert_null(lres.images[0].names[1]);
	assert_false(lres.images[0].had_replaced[0]);
	assert_int_equal(store_ref_get(t2.s, NAME, &ref), 0);
	assert_true(store_digest_eq(&ref, &id));
	assert_tmp_empty(&t2);
	fetch_load_result_done(&lres);

	/* The second store saves the same bytes. */
	save_to(&t2, "out2.tar", &img, &sres2);
	assert_int_equal(read_file(open_dir(t1.dir), "out.tar", SIZE_MAX, &a), 0);
	assert_int_equal(read_file(open_dir(t2.dir), "out2.tar", SIZE_MAX, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);

	/* Loading again over an existing name: same image, nothing replaced. */
	load_from(&t2, t1.dir, "out.tar", NULL, &lres);
	assert_false(lres.images[0].had_replaced[0]);
	fetch_load_result_done(&lres);
	fetch_save_result_done(&sres);
	fetch_save_result_done(&sres2);
	tstore_close(&t1);
	tstore_close(&t2);
}

/* A layer without a split is saved in canonical form: new DiffID, rewritten config, new ID. */
static void test_fetch_layout__rewritten_diff_ids(void **state)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	_cleanup_(fetch_oci_config_freep) fetch_oci_config *c = NULL, *saved = NULL;
	_cleanup_(buf_done) buf cfg = BUF_INIT, cfg2 = BUF_INIT, loaded_cfg = BUF_INIT;
	_cleanup_(store_image_freep) store_image *limg = NULL;
	berth_error err = BERTH_ERROR_INIT;
	fetch_save_result sres = {};
	fetch_load_result lres = {};
	store_layer canon, nosplit;
	store_digest id, id2;
	tstore t1, t2;

	tstore_open(&t1);
	tstore_open(&t2);
	id = import_recipe(&t1, "gnu", NULL);
	assert_int_equal(store_image_load(t1.s, &id, &img), 0);
	assert_int_equal(store_image_config(t1.s, img, &cfg), 0);
	/* The same layer, as if it came from a commit: no split; the config names its tar DiffID. */
	nosplit = img->layers[0];
	nosplit.has_split = false;
	assert_int_equal(fetch_layer_from_tree(t1.s, &nosplit.tree, &canon, &err), 0);
	assert_false(store_digest_eq(&canon.diff_id, &nosplit.diff_id)); /* GNU tar != canonical */
	assert_int_equal(fetch_oci_config_parse(cfg.data, cfg.len, &c, NULL), 0);
	c->author = strdup("another config, another image");
	assert_int_equal(fetch_oci_config_generate(c, &cfg2), 0);
	assert_int_equal(store_image_create(t1.s, cfg2.data, cfg2.len, &nosplit, 1, &id2, &err), 0);

	fetch_save_image si = { .id = id2, .name = NULL };
	save_to(&t1, "out.tar", &si, &sres);
	assert_true(store_digest_eq(&sres.images[0].id, &id2));
	assert_false(store_digest_eq(&sres.images[0].saved_id, &id2));

	/* Loaded elsewhere, it is the rewritten image: the canonical DiffID, the rest as it was. */
	load_from(&t2, t1.dir, "out.tar", NULL, &lres);
	assert_true(store_digest_eq(&lres.images[0].id, &sres.images[0].saved_id));
	assert_null(lres.images[0].names[0]); /* saved by ID: no name */
	assert_int_equal(store_image_load(t2.s, &lres.images[0].id, &limg), 0);
	assert_int_equal(store_image_config(t2.s, limg, &loaded_cfg), 0);
	assert_int_equal(fetch_oci_config_parse(loaded_cfg.data, loaded_cfg.len, &saved, NULL), 0);
	assert_int_equal(saved->n_diff_ids, 1);
	assert_true(store_digest_eq(&saved->diff_ids[0], &canon.diff_id));
	assert_string_equal(saved->author, "another config, another image");
	fetch_load_result_done(&lres);
	fetch_save_result_done(&sres);
	tstore_close(&t1);
	tstore_close(&t2);
}

static void test_fetch_layout__load_garbage(void **state)
{
	static const char junk[] = "this is not a tar archive, not even close\n";
	fetch_load_result lres = {};
	berth_error err = BERTH_ERROR_INIT;
	tstore t;
	int fd;

	tstore_open(&t);
	fd = open_file(t.dir, "junk", O_RDWR | O_CREAT | O_TRUNC);
	assert_int_equal(fd_write_all(fd, junk, sizeof(junk)), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(fetch_layout_load(t.s, fd, NULL, &lres, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "not a readable tar archive"));
	assert_int_equal(lres.n_images, 0);
	assert_tmp_empty(&t);
	close(fd);
	tstore_close(&t);
}

/* A bare ref.name tag is named only with a repository; a single unnamed image gets :latest. */
static void test_fetch_layout__load_repository(void **state)
{
	fetch_load_opts o = { .repository = "docker.io/library/mine" };
	fetch_save_result sres = {};
	fetch_load_result lres = {};
	store_digest id;
	tstore t1, t2;

	tstore_open(&t1);
	tstore_open(&t2);
	id = import_recipe(&t1, "pax", NULL);
	fetch_save_image si = { .id = id, .name = NULL };
	save_to(&t1, "byid.tar", &si, &sres);
	load_from(&t2, t1.dir, "byid.tar", &o, &lres);
	assert_string_equal(lres.images[0].names[0], "docker.io/library/mine:latest");
	fetch_load_result_done(&lres);
	fetch_save_result_done(&sres);
	tstore_close(&t1);
	tstore_close(&t2);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fetch_layout__change_instructions),
	cmocka_unit_test(test_fetch_layout__import_save_load),
	cmocka_unit_test(test_fetch_layout__rewritten_diff_ids),
	cmocka_unit_test(test_fetch_layout__load_garbage),
	cmocka_unit_test(test_fetch_layout__load_repository),
};
UNIT_EXPORT(fetch, layout, tests);
