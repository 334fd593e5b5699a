/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-rmi.c: `berth rmi [-f] IMAGE...`, with Docker's rules:
 *   - by name: the name goes ("Untagged: x"); the image goes too ("Deleted: sha256:...") when
 *     that was its last name;
 *   - by ID: every name of the image goes, then the image; if its names span several
 *     repositories that needs -f;
 *   - an image in use (pinned: mounted, or a container's) is never deleted: without -f its last
 *     name is kept too, with -f the name goes and the image stays, unnamed;
 *   - a missing image is reported ("Error: No such image: x") and the other arguments are still
 *     processed; the exit status is 1 if anything failed.
 * The objects of a deleted image stay until `berth gc`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "fetch/oci.h"
#include "store/image.h"
#include "store/ref.h"
#include "util/log.h"

typedef struct pin_search {
	const store_digest *id;
	char *owner;
} pin_search;

static int find_pin(store *s, const char *owner, const store_digest *id, void *userdata)
{
	pin_search *p = userdata;

	if (!store_digest_eq(id, p->id))
		return 0;
	p->owner = strdup(owner);
	return 1;
}

/* The owner of a pin on id (malloc()ed), or NULL. */
static char *pinned_by(store *s, const store_digest *id)
{
	pin_search p = { .id = id };

	(void)store_pin_foreach(s, find_pin, &p);
	return p.owner;
}

static int untag(store *s, const char *name)
{
	_cleanup_free_ char *fam = cli_familiar(name);
	int r = store_ref_remove(s, name);

	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "Failed to untag '%s': %m", fam ? fam : name);
	printf("Untagged: %s\n", fam ? fam : name);
	return 0;
}

static int delete_image(store *s, const store_digest *id)
{
	char ids[STORE_DIGEST_STR_LEN];
	int r;

	store_digest_str(id, ids);
	r = store_image_remove(s, id);
	if (r == -ENOENT) /* a name left pointing at nothing: untagging it was all there was */
		return 0;
	if (r < 0)
		return log_error_errno(r, "Failed to delete image %s: %m", ids);
	printf("Deleted: %s\n", ids);
	return 0;
}

static size_t repositories(char **names)
{
	size_t n = 0;

	for (size_t i = 0; names[i]; i++) {
		const char *ci = strrchr(names[i], ':');
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++) {
			const char *ck = strrchr(names[k], ':');
			seen = ci - names[i] == ck - names[k] &&
			       strneq(names[i], names[k], (size_t)(ci - names[i]));
		}
		n += !seen;
	}
	return n;
}

static int conflict(const store_digest *id, const char *why)
{
	char sid[13];

	cli_short_id(id, sid);
	fprintf(stderr, "Error: conflict: unable to delete %s %s\n", sid, why);
	return -EBUSY;
}

static int remove_by_name(store *s, const char *name, const store_digest *id, bool force)
{
	_cleanup_(fetch_strv_freep) char **names = NULL;
	_cleanup_free_ char *pin = NULL;
	int r;

	if ((r = cli_image_refs(s, id, &names)) < 0)
		return log_error_errno(r, "Failed to list references: %m");
	bool last = fetch_strv_length(names) <= 1;
	if (last && (pin = pinned_by(s, id)) && !force) {
		_cleanup_free_ char *fam = cli_familiar(name);
		fprintf(stderr,
			"Error: conflict: unable to remove repository reference \"%s\" (must "
			"force) - image is in use by '%s'\n",
			fam ? fam : name, pin);
		return -EBUSY;
	}
	if ((r = untag(s, name)) < 0)
		return r;
	return last && !pin ? delete_image(s, id) : 0;
}

static int remove_by_id(store *s, const store_digest *id, bool force)
{
	_cleanup_(fetch_strv_freep) char **names = NULL;
	_cleanup_free_ char *pin = NULL;
	int r;

	if ((r = cli_image_refs(s, id, &names)) < 0)
		return log_error_errno(r, "Failed to list references: %m");
	if ((pin = pinned_by(s, id))) {
		_cleanup_free_ char *why = NULL;
		if (asprintf(&why, "(cannot be forced) - image is in use by '%s'", pin) < 0)
			return -ENOMEM;
		return conflict(id, why);
	}
	if (repositories(names) > 1 && !force)
		return conflict(id,
				"(must be forced) - image is referenced in multiple repositories");
	for (size_t i = 0; names[i]; i++)
		if ((r = untag(s, names[i])) < 0)
			return r;
	return delete_image(s, id);
}

static int remove_one(store *s, const char *arg, bool force)
{
	_cleanup_free_ char *name = NULL;
	store_digest id;
	int r;

	if ((r = cli_image_resolve_or_report(s, arg, &id, &name)) < 0)
		return r;
	return name ? remove_by_name(s, name, &id, force) : remove_by_id(s, &id, force);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: berth rmi [OPTIONS] IMAGE [IMAGE...]\n\n"
		"Remove images by name or ID. A name is untagged; the image is deleted with its\n"
		"last name, or when given by ID. Run 'berth gc' to reclaim the space.\n\n"
		"Options:\n"
		"  -f, --force       remove an image referenced in several repositories; untag\n"
		"                    the last name of an image in use (the image stays)\n"
		"      --no-prune    accepted for Docker compatibility (berth has no parents)\n"
		"  -h, --help        show this help\n");
}

int cli_cmd_rmi(cli_ctx *ctx, int argc, char **argv)
{
	enum {
		OPT_NO_PRUNE = 0x100
	};
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "no-prune", no_argument, NULL, OPT_NO_PRUNE },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool force = false;
	int c, failed = 0;
	store *s;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) >= 0) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case OPT_NO_PRUNE:
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return cli_option_error("rmi", c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error("rmi", "needs at least one IMAGE");
	if (!(s = cli_store(ctx)))
		return 1;
	for (int i = optind; i < argc; i++)
		if (remove_one(s, argv[i], force) < 0)
			failed = 1;
	return failed;
}
