/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli/cmd-login.c: `berth login [-u USER] [-p PASS | --password-stdin] [SERVER]`: checks the
 * credentials against the registry, then stores them in the credentials file (fetch/auth.h:
 * Docker's config.json shape, mode 0600), as `docker login` does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/image-util.h"
#include "cli/registry-util.h"
#include "fetch/auth.h"
#include "fetch/registry.h"
#include "util/log.h"

#define SECRET_MAX 4096

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: berth login [OPTIONS] [SERVER]\n\n"
		"Log in to a registry (default: Docker Hub). The credentials are checked against\n"
		"the registry, then stored in $BERTH_CONFIG, or ~/.config/berth/auth.json (mode\n"
		"0600, the shape of Docker's config.json).\n\n"
		"Options:\n"
		"  -u, --username USER     the user name (asked for on a terminal if not given)\n"
		"  -p, --password PASS     the password (visible to other users: prefer the next)\n"
		"      --password-stdin    read the password from stdin\n" CLI_REGISTRY_OPTIONS_HELP
		"  -h, --help              show this help\n");
}

/* One line from f, without its newline; echo off if f is a terminal. */
static int read_line(FILE *f, const char *prompt, bool secret, char **ret)
{
	struct termios old, quiet;
	bool tty = isatty(fileno(f)) == 1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (tty && prompt) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
	}
	if (tty && secret && tcgetattr(fileno(f), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(f), TCSAFLUSH, &quiet);
	} else
		secret = false;
	n = getline(&line, &cap, f);
	if (secret) {
		tcsetattr(fileno(f), TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		free(line);
		return -ENODATA;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n > SECRET_MAX) {
		free(line);
		return -EFBIG;
	}
	*ret = line;
	return 0;
}

typedef struct login_args {
	char *user, *pass;
	bool pass_stdin;
} login_args;

static int ask(login_args *a)
{
	bool tty = isatty(STDIN_FILENO) == 1;

	if (a->pass && a->pass_stdin)
		return cli_usage_error("login", "--password and --password-stdin are exclusive");
	if (a->pass_stdin && !a->user)
		return cli_usage_error("login", "--password-stdin needs --username");
	if (!a->user && !tty)
		return log_error("Cannot ask for a user name: stdin is not a terminal (use -u)"), 1;
	if (!a->user && read_line(stdin, "Username: ", false, &a->user) < 0)
		return log_error("No user name given"), 1;
	if (!a->pass && !a->pass_stdin && !tty)
		return log_error("Cannot ask for a password: stdin is not a terminal (use "
				 "--password-stdin)"),
		       1;
	if (!a->pass && read_line(stdin, a->pass_stdin ? NULL : "Password: ", true, &a->pass) < 0)
		return log_error("No password given"), 1;
	if (!a->user[0] || !a->pass[0])
		return log_error("The user name and the password must not be empty"), 1;
	return 0;
}

static int login(cli_ctx *ctx, const cli_registry_args *ra, const char *server, const login_args *a)
{
	_cleanup_(fetch_registries_freep) fetch_registries *conf = NULL;
	_cleanup_free_ char *path = NULL;
	berth_error err = BERTH_ERROR_INIT;
	int r;

	if (cli_registries_load(ctx, ra, &conf) < 0)
		return 1;
	if ((r = fetch_registry_check_login(conf, server, a->user, a->pass, &err)) < 0)
		return log_error_errno(r, "Failed to log in to '%s': %s", server,
				       berth_error_message(&err, r)),
		       1;
	if ((r = fetch_auth_store(NULL, server, a->user, a->pass, &err)) < 0)
		return log_error_errno(r, "Failed to store the credentials: %s",
				       berth_error_message(&err, r)),
		       1;
	if (fetch_auth_file_path(&path) >= 0)
		log_warning("Your password is stored unencrypted in '%s'", path);
	printf("Login Succeeded\n");
	return 0;
}

static void login_args_done(login_args *a)
{
	free(a->user);
	if (a->pass)
		explicit_bzero(a->pass, strlen(a->pass));
	free(a->pass);
}

int cli_cmd_login(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "username", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'p' },
		{ "password-stdin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		CLI_REGISTRY_OPTIONS,
		{},
	};
	cli_registry_args ra = CLI_REGISTRY_ARGS_INIT;
	_cleanup_free_ char *server = NULL;
	login_args a = {};
	int c, r = 0;

	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, ":u:p:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'u':
			free(a.user);
			a.user = strdup(optarg);
			break;
		case 'p':
			free(a.pass);
			a.pass = strdup(optarg);
			log_warning("Using --password on the command line is insecure; use "
				    "--password-stdin");
			break;
		case 'P':
			a.pass_stdin = true;
			break;
		case 'h':
			usage(stdout);
			goto out;
		default:
			r = cli_registry_option(&ra, "login", c, optarg);
			r = r == 1 ? 0 : r == 0 ? cli_option_error("login", c, argv) : r;
		}
	}
	if (r == 0 && argc - optind > 1)
		r = cli_usage_error("login", "takes at most one SERVER");
	if (r == 0 && cli_registry_server(argc > optind ? argv[optind] : NULL, &server) < 0)
		r = cli_usage_error("login", "'%s' is not a registry host", argv[optind]);
	if (r == 0)
		r = ask(&a);
	if (r == 0)
		r = login(ctx, &ra, server, &a);
out:
	login_args_done(&a);
	cli_registry_args_done(&ra);
	return r;
}
