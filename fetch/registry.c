/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fetch/registry.c: registries configuration and authenticated sessions. See fetch/registry.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch/reference.h"
#include "fetch/registry-json.h"
#include "fetch/registry.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define CONF_MAX      (1u << 20)
#define SYSTEM_CONF   "/etc/berth/registries.conf"
#define AUTH_TRIES    3
#define PING_BODY_MAX (64u * 1024)

typedef struct mirror {
	char *domain;
	char *host;
	const char *scheme; /* fixed by the URL, or NULL */
} mirror;

struct fetch_registries {
	char **insecure;
	size_t n_insecure;
	mirror *mirrors;
	size_t n_mirrors;
	int tls_verify;
};

int fetch_registries_new(fetch_registries **ret)
{
	fetch_registries *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->tls_verify = -1;
	*ret = r;
	return 0;
}

fetch_registries *fetch_registries_free(fetch_registries *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_insecure; i++)
		free(r->insecure[i]);
	free(r->insecure);
	for (size_t i = 0; i < r->n_mirrors; i++) {
		free(r->mirrors[i].domain);
		free(r->mirrors[i].host);
	}
	free(r->mirrors);
	free(r);
	return NULL;
}

static bool host_valid(const char *h)
{
	if (!*h || strlen(h) > 255)
		return false;
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:[]_", *p))
			return false;
	return true;
}

int fetch_registries_add_insecure(fetch_registries *r, const char *host)
{
	char **v;

	if (!host_valid(host))
		return -EINVAL;
	if (!(v = realloc(r->insecure, (r->n_insecure + 1) * sizeof(char *))))
		return -ENOMEM;
	r->insecure = v;
	if (!(v[r->n_insecure] = strdup(host)))
		return -ENOMEM;
	r->n_insecure++;
	return 0;
}

void fetch_registries_set_tls_verify(fetch_registries *r, int verify)
{
	r->tls_verify = verify;
}

/* "127.0.0.1:5000" -> "127.0.0.1"; "[::1]:5000" -> "::1". */
static void host_only(const char *h, char *out, size_t outlen)
{
	const char *end;

	if (h[0] == '[' && (end = strchr(h, ']')))
		snprintf(out, outlen, "%.*s", (int)(end - h - 1), h + 1);
	else if ((end = strrchr(h, ':')) && !strchr(h, ']'))
		snprintf(out, outlen, "%.*s", (int)(end - h), h);
	else
		snprintf(out, outlen, "%s", h);
}

static bool is_loopback(const char *host)
{
	char h[256];

	struct in_addr a;

	host_only(host, h, sizeof(h));
	if (strcasecmp(h, "localhost") == 0 || streq(h, "::1"))
		return true;
	/* An address literal in 127.0.0.0/8, not a name that starts with "127." */
	return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool fetch_registries_is_insecure(const fetch_registries *r, const char *host)
{
	if (r->tls_verify >= 0)
		return r->tls_verify == 0;
	for (size_t i = 0; i < r->n_insecure; i++)
		if (strcasecmp(r->insecure[i], host) == 0)
			return true;
	return is_loopback(host);
}

/* "http://h:p", "https://h:p/", "h:p" -> host and fixed scheme. */
static int parse_mirror_url(const char *s, char **ret_host, const char **ret_scheme)
{
	const char *scheme = NULL;
	size_t n;
	char *h;

	if (strneq(s, "https://", 8))
		scheme = "https", s += 8;
	else if (strneq(s, "http://", 7))
		scheme = "http", s += 7;
	n = strcspn(s, "/");
	if (s[n] && !streq(s + n, "/"))
		return -EINVAL; /* a path prefix: registries serve /v2/ at the root */
	if (!(h = strndup(s, n)))
		return -ENOMEM;
	if (!host_valid(h)) {
		free(h);
		return -EINVAL;
	}
	*ret_host = h;
	*ret_scheme = scheme;
	return 0;
}

static int add_mirror(fetch_registries *r, const char *domain, const char *url)
{
	mirror *v, m = {};
	int k;

	if (!host_valid(domain))
		return -EINVAL;
	if ((k = parse_mirror_url(url, &m.host, &m.scheme)) < 0)
		return k;
	if (!(m.domain = strdup(domain)) ||
	    !(v = realloc(r->mirrors, (r->n_mirrors + 1) * sizeof(*v)))) {
		free(m.domain);
		free(m.host);
		return -ENOMEM;
	}
	r->mirrors = v;
	v[r->n_mirrors++] = m;
	return 0;
}

static int parse_line(fetch_registries *r, char *line, const char *origin, unsigned lineno,
		      berth_error *reterr)
{
	char *words[8], *save = NULL;
	size_t n = 0;
	int k = 0;

	for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (n == ELEMENTSOF(words))
			return berth_error_set(reterr, -EINVAL, "%s:%u: too many words", origin,
					       lineno);
		words[n++] = w;
	}
	if (n == 0)
		return 0;
	if (streq(words[0], "insecure") && n >= 2) {
		for (size_t i = 1; i < n && k >= 0; i++)
			if ((k = fetch_registries_add_insecure(r, words[i])) == -EINVAL)
				return berth_error_set(reterr, k, "%s:%u: bad host '%s'", origin,
						       lineno, words[i]);
		return k;
	}
	if (streq(words[0], "mirror") && n == 3) {
		if ((k = add_mirror(r, words[1], words[2])) == -EINVAL)
			return berth_error_set(reterr, k,
					       "%s:%u: bad mirror '%s %s' (want DOMAIN "
					       "[http[s]://]HOST[:PORT])",
					       origin, lineno, words[1], words[2]);
		return k;
	}
	return berth_error_set(
		reterr, -EINVAL,
		"%s:%u: expected 'insecure HOST...' or 'mirror DOMAIN URL', got '%s'", origin,
		lineno, words[0]);
}

int fetch_registries_parse(fetch_registries *r, const char *text, const char *origin,
			   berth_error *reterr)
{
	_cleanup_free_ char *copy = strdup(text);
	char *line = copy, *next;
	unsigned lineno = 0;
	int k;

	if (!copy)
		return -ENOMEM;
	for (; line; line = next) {
		char *hash;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		if ((k = parse_line(r, line, origin, lineno, reterr)) < 0)
			return k;
	}
	return 0;
}

int fetch_registries_load(fetch_registries *r, const char *root, berth_error *reterr)
{
	_cleanup_free_ char *path = path_join(root, "registries.conf");
	_cleanup_(buf_done) buf b = BUF_INIT;
	int k;

	if (!path)
		return -ENOMEM;
	k = read_file(AT_FDCWD, path, CONF_MAX, &b);
	if (k == -ENOENT) {
		free(path);
		if (!(path = strdup(SYSTEM_CONF)))
			return -ENOMEM;
		k = read_file(AT_FDCWD, path, CONF_MAX, &b);
		if (k == -ENOENT)
			return 0;
	}
	if (k < 0)
		return berth_error_set(reterr, k, "cannot read '%s': %s", path, strerror(-k));
	return fetch_registries_parse(r, b.data ? b.data : "", path, reterr);
}

void fetch_endpoints_free(fetch_endpoint *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].host);
		free(e[i].auth_name);
	}
	free(e);
}

static int endpoint_add(fetch_endpoint **v, size_t *n, const char *host, const char *auth_name,
			const char *scheme, bool insecure, bool is_mirror)
{
	fetch_endpoint *nv = realloc(*v, (*n + 1) * sizeof(**v)), *e;

	if (!nv)
		return -ENOMEM;
	*v = nv;
	e = &nv[*n];
	*e = (fetch_endpoint){ .scheme = scheme, .insecure = insecure, .mirror = is_mirror };
	e->host = strdup(host);
	e->auth_name = strdup(auth_name);
	(*n)++;
	return e->host && e->auth_name ? 0 : -ENOMEM;
}

int fetch_registries_endpoints(const fetch_registries *r, const char *domain, bool pull,
			       fetch_endpoint **ret, size_t *ret_n)
{
	fetch_reference ref = { .domain = (char *)domain };
	fetch_endpoint *v = NULL;
	size_t n = 0;
	int k = 0;

	for (size_t i = 0; pull && i < r->n_mirrors && k >= 0; i++) {
		const mirror *m = &r->mirrors[i];
		if (strcasecmp(m->domain, domain) != 0)
			continue;
		k = endpoint_add(&v, &n, m->host, m->host, m->scheme,
				 fetch_registries_is_insecure(r, m->host) ||
					 (m->scheme && streq(m->scheme, "http")),
				 true);
	}
	if (k >= 0) {
		const char *api = fetch_reference_api_host(&ref);
		k = endpoint_add(&v, &n, api, domain, NULL,
				 fetch_registries_is_insecure(r, domain) ||
					 fetch_registries_is_insecure(r, api),
				 false);
	}
	if (k < 0) {
		fetch_endpoints_free(v, n);
		return k;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- Sessions ---- */

struct fetch_registry {
	pthread_mutex_t lock; /* challenges, scopes */
	fetch_endpoint ep;
	char *base; /* "https://host:port" */
	char *repository;
	fetch_auth *auth;
	fetch_auth_challenge *challenges;
	size_t n_challenges;
	char **scopes; /* NULL-terminated */
};

fetch_registry *fetch_registry_free(fetch_registry *reg)
{
	if (!reg)
		return NULL;
	free(reg->ep.host);
	free(reg->ep.auth_name);
	free(reg->base);
	free(reg->repository);
	fetch_auth_challenges_free(reg->challenges, reg->n_challenges);
	fetch_strv_free(reg->scopes);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
	return NULL;
}

const char *fetch_registry_base_url(const fetch_registry *reg)
{
	return reg->base;
}

const char *fetch_registry_repository(const fetch_registry *reg)
{
	return reg->repository;
}

const fetch_endpoint *fetch_registry_endpoint(const fetch_registry *reg)
{
	return &reg->ep;
}

int fetch_registry_add_scope(fetch_registry *reg, const char *scope)
{
	int r = 0;

	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; reg->scopes && reg->scopes[i]; i++)
		if (streq(reg->scopes[i], scope))
			goto out;
	r = fetch_strv_push(&reg->scopes, scope);
out:
	pthread_mutex_unlock(&reg->lock);
	return r;
}

/* Under the lock: replaces the known challenges with those of a 401 answer. */
static int take_challenges(fetch_registry *reg, const fetch_http_response *resp,
			   berth_error *reterr)
{
	fetch_auth_challenge *v = NULL;
	size_t n = 0;
	const char *h;
	int r = 0;

	for (size_t i = 0; (h = fetch_http_response_header_nth(resp, "WWW-Authenticate", i)); i++)
		if ((r = fetch_auth_challenges_parse(h, &v, &n, reterr)) < 0)
			break;
	if (r >= 0 && n == 0)
		r = berth_error_set(reterr, -EPROTO,
				    "'%s' answered 401 without a WWW-Authenticate challenge",
				    reg->ep.host);
	if (r < 0) {
		fetch_auth_challenges_free(v, n);
		return r;
	}
	fetch_auth_challenges_free(reg->challenges, reg->n_challenges);
	reg->challenges = v;
	reg->n_challenges = n;
	return 0;
}

/* Under the lock: the session's scopes plus those the challenge asks for. */
static int scopes_for(fetch_registry *reg, char ***ret)
{
	char **l = NULL;
	int r = 0;

	for (size_t i = 0; reg->scopes && reg->scopes[i] && r >= 0; i++)
		r = fetch_strv_push(&l, reg->scopes[i]);
	for (size_t i = 0; i < reg->n_challenges && r >= 0; i++) {
		const char *s = fetch_auth_challenge_param(&reg->challenges[i], "scope");
		_cleanup_free_ char *copy = s ? strdup(s) : NULL;
		char *save = NULL;
		for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w && r >= 0;
		     w = strtok_r(NULL, " ", &save)) {
			bool have = false;
			for (size_t k = 0; l && l[k]; k++)
				have = have || streq(l[k], w);
			if (!have)
				r = fetch_strv_push(&l, w);
		}
	}
	if (r < 0) {
		fetch_strv_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

/* The Authorization value for the next request, or NULL before any challenge. */
static int authorization(fetch_registry *reg, fetch_http *h, bool refresh, char **ret,
			 berth_error *reterr)
{
	_cleanup_(fetch_strv_freep) char **scopes = NULL;
	int r = 0;

	*ret = NULL;
	pthread_mutex_lock(&reg->lock);
	if (reg->n_challenges > 0 && (r = scopes_for(reg, &scopes)) >= 0)
		/* Under the lock: threads that need a token wait for the one fetch. */
		r = fetch_auth_authorize(reg->auth, h, reg->ep.auth_name, reg->challenges,
					 reg->n_challenges, (const char *const *)scopes,
					 reg->ep.insecure, refresh, ret, reterr);
	pthread_mutex_unlock(&reg->lock);
	return r;
}

/* Why the registry said no, from its error body or its challenge, and what to do about it. */
static int unauthorized(fetch_registry *reg, const fetch_http_response *resp, const char *url,
			berth_error *reterr)
{
	_cleanup_free_ char *msg = fetch_rjson_errors_message(resp->body.data, resp->body.len);
	fetch_auth_challenge *v = NULL;
	const char *h, *why = NULL;
	size_t n = 0;
	bool creds;
	int r;

	for (size_t i = 0; (h = fetch_http_response_header_nth(resp, "WWW-Authenticate", i)); i++)
		(void)fetch_auth_challenges_parse(h, &v, &n, NULL);
	for (size_t i = 0; i < n && !why; i++)
		why = fetch_auth_challenge_param(&v[i], "error");
	creds = fetch_auth_has_credentials(reg->auth, reg->ep.auth_name) > 0;
	r = berth_error_set(reterr, -EACCES, "%s: HTTP %ld: %s: %s%s%s%s", url, resp->status,
			    resp->status == 403 ? "denied" : "unauthorized",
			    msg	  ? msg
			    : why ? why
				  : "authentication required",
			    creds ? "" : " (log in with 'berth login ",
			    creds ? "" : reg->ep.auth_name, creds ? "" : "')");
	fetch_auth_challenges_free(v, n);
	return r;
}

static char *absolute_url(const fetch_registry *reg, const char *url)
{
	if (strneq(url, "http://", 7) || strneq(url, "https://", 8))
		return strdup(url);
	return fetch_http_resolve(reg->base, url);
}

int fetch_registry_do(fetch_registry *reg, fetch_http *h, const fetch_http_request *req,
		      fetch_http_response *ret, berth_error *reterr)
{
	_cleanup_free_ char *url = absolute_url(reg, req->url);
	bool sent = false;
	int r;

	if (!url)
		return -ENOMEM;
	for (unsigned tries = 0;; tries++) {
		_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
		_cleanup_free_ char *authz = NULL;
		fetch_http_request rq = *req;

		if ((r = authorization(reg, h, sent, &authz, reterr)) < 0)
			return r;
		rq.url = url;
		rq.authorization = authz;
		rq.tls_no_verify = reg->ep.insecure;
		if ((r = fetch_http_request_do(h, &rq, &resp, reterr)) < 0)
			return r;
		sent = authz != NULL;
		if (resp.status != 401 || tries + 1 >= AUTH_TRIES) {
			if (resp.status == 401 || (resp.status == 403 && sent))
				return unauthorized(reg, &resp, url, reterr);
			*ret = resp;
			resp = (fetch_http_response){};
			return 0;
		}
		pthread_mutex_lock(&reg->lock);
		r = take_challenges(reg, &resp, reterr);
		pthread_mutex_unlock(&reg->lock);
		if (r < 0)
			return r;
	}
}

/* The first line of a non-JSON error body, printable ASCII only, for a message. */
static void body_excerpt(const fetch_http_response *resp, char *out, size_t outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < resp->body.len && n + 1 < outlen && n < 200; i++) {
		char c = resp->body.data[i];
		if (c == '\n' || c == '\r')
			break;
		out[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	out[n] = '\0';
}

int fetch_registry_answer_error(const fetch_http_response *resp, const char *what,
				berth_error *reterr)
{
	_cleanup_free_ char *msg = fetch_rjson_errors_message(resp->body.data, resp->body.len);
	long s = resp->status;
	int code = s == 404		  ? -ENOENT
		   : s == 401 || s == 403 ? -EACCES
		   : s == 429		  ? -EAGAIN
		   : s >= 500 && s <= 599 ? -EIO
					  : -EPROTO;
	char excerpt[256];

	if (!msg)
		body_excerpt(resp, excerpt, sizeof(excerpt));
	return berth_error_set(reterr, code, "%s: HTTP %ld%s%s%s", what, s,
			       msg || excerpt[0] ? ": " : "", msg ? msg : excerpt,
			       resp->attempts > 1 ? " (after retries)" : "");
}

/* GET /v2/ over scheme: 0 and the answer, or the transport error. */
static int ping(fetch_registry *reg, fetch_http *h, const char *scheme, bool probe,
		fetch_http_response *resp, berth_error *reterr)
{
	_cleanup_free_ char *url = NULL;
	int r;

	if (asprintf(&url, "%s://%s/v2/", scheme, reg->ep.host) < 0)
		return -ENOMEM;
	fetch_http_request req = {
		.url = url,
		.tls_no_verify = reg->ep.insecure,
		.no_retry = probe,
		.max_body = PING_BODY_MAX,
	};
	if ((r = fetch_http_request_do(h, &req, resp, reterr)) < 0)
		return r;
	free(reg->base);
	return asprintf(&reg->base, "%s://%s", scheme, reg->ep.host) < 0 ? -ENOMEM : 0;
}

static int ping_any(fetch_registry *reg, fetch_http *h, fetch_http_response *resp,
		    berth_error *reterr)
{
	berth_error probe_err = BERTH_ERROR_INIT;
	int r;

	if (reg->ep.scheme)
		return ping(reg, h, reg->ep.scheme, false, resp, reterr);
	if (!reg->ep.insecure)
		return ping(reg, h, "https", false, resp, reterr);
	/* Docker's order for insecure registries: HTTPS without checks, then plain HTTP. */
	r = ping(reg, h, "https", true, resp, &probe_err);
	if (r >= 0 || r == -ENOMEM)
		return r;
	log_debug("registry: %s over HTTPS: %s; trying HTTP", reg->ep.host,
		  berth_error_message(&probe_err, r));
	return ping(reg, h, "http", false, resp, reterr);
}

static int registry_new(const fetch_endpoint *ep, const char *repository, fetch_auth *auth,
			bool push, fetch_registry **ret)
{
	fetch_registry *reg = calloc(1, sizeof(*reg));
	_cleanup_free_ char *scope = NULL;
	int r;

	if (!reg)
		return -ENOMEM;
	pthread_mutex_init(&reg->lock, NULL);
	reg->ep = *ep;
	reg->ep.host = strdup(ep->host);
	reg->ep.auth_name = strdup(ep->auth_name);
	reg->repository = strdup(repository ? repository : "");
	reg->auth = auth;
	r = reg->ep.host && reg->ep.auth_name && reg->repository ? 0 : -ENOMEM;
	if (r >= 0 && *reg->repository &&
	    asprintf(&scope, "repository:%s:%s", repository, push ? "pull,push" : "pull") < 0)
		r = -ENOMEM;
	if (r >= 0 && scope)
		r = fetch_strv_push(&reg->scopes, scope);
	if (r < 0) {
		fetch_registry_free(reg);
		return r;
	}
	*ret = reg;
	return 0;
}

int fetch_registry_open(const fetch_endpoint *ep, const char *repository, fetch_auth *auth,
			bool push, fetch_http *h, fetch_registry **ret, berth_error *reterr)
{
	_cleanup_(fetch_registry_freep) fetch_registry *reg = NULL;
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	int r;

	if ((r = registry_new(ep, repository, auth, push, &reg)) < 0)
		return r;
	if ((r = ping_any(reg, h, &resp, reterr)) < 0)
		return r;
	if (resp.status == 401) {
		if ((r = take_challenges(reg, &resp, reterr)) < 0)
			return r;
	} else if (resp.status != 200)
		return fetch_registry_answer_error(&resp, "registry ping (is it a registry?)",
						   reterr);
	*ret = TAKE_PTR(reg);
	return 0;
}

int fetch_registry_check_login(const fetch_registries *conf, const char *domain, const char *user,
			       const char *pass, berth_error *reterr)
{
	_cleanup_(fetch_registry_freep) fetch_registry *reg = NULL;
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	_cleanup_(fetch_http_freep) fetch_http *h = NULL;
	_cleanup_(fetch_auth_freep) fetch_auth *auth = NULL;
	fetch_endpoint *eps = NULL;
	size_t n = 0;
	int r;

	if ((r = fetch_http_new(NULL, &h)) < 0 || (r = fetch_auth_new(NULL, &auth)) < 0 ||
	    (r = fetch_auth_set_credentials(auth, domain, user, pass)) < 0 ||
	    (r = fetch_registries_endpoints(conf, domain, false, &eps, &n)) < 0)
		return r;
	r = fetch_registry_open(&eps[0], NULL, auth, false, h, &reg, reterr);
	fetch_endpoints_free(eps, n);
	if (r < 0)
		return r;
	/* /v2/ again, now answering the challenge with these credentials. */
	fetch_http_request req = { .url = "/v2/", .max_body = PING_BODY_MAX };
	if ((r = fetch_registry_do(reg, h, &req, &resp, reterr)) < 0)
		return r;
	if (resp.status != 200)
		return fetch_registry_answer_error(&resp, "login", reterr);
	return 0;
}
