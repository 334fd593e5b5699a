/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/auth.c: WWW-Authenticate parsing, and Basic/Bearer answers with a token cache. The
 * credentials file is fetch/auth-file.c's. See fetch/auth.h.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch/auth.h"
#include "fetch/registry-json.h"
#include "util/log.h"
#include "util/macro.h"

#define HEADER_MAX	 (16u * 1024)
#define CHALLENGES_MAX	 16
#define PARAMS_MAX	 32
#define TOKEN_ANSWER_MAX (1u << 20)

/* ---- Challenges ---- */

static bool is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_t68char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("-._~+/", c));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static char *lower_dup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE; *p at the opening quote. */
static int parse_quoted(const char **p, char **ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	const char *s = *p + 1;

	for (;; s++) {
		if (*s == '\0')
			return -EBADMSG;
		if (*s == '"')
			break;
		if (*s == '\\' && !*++s)
			return -EBADMSG;
		/* qdtext and quoted-pair alike: no control characters but HTAB */
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return -EBADMSG;
		if (buf_append_byte(&b, (uint8_t)*s) < 0)
			return -ENOMEM;
	}
	*p = s + 1;
	*ret = b.data ? buf_steal(&b) : strdup("");
	return *ret ? 0 : -ENOMEM;
}

static int add_param(fetch_auth_challenge *c, char *name, char *value)
{
	fetch_kv *v;

	if (fetch_auth_challenge_param(c, name) || c->n_params >= PARAMS_MAX) {
		free(name);
		free(value);
		return -EBADMSG;
	}
	v = realloc(c->params, (c->n_params + 1) * sizeof(*v));
	if (!v) {
		free(name);
		free(value);
		return -ENOMEM;
	}
	c->params = v;
	v[c->n_params++] = (fetch_kv){ .key = name, .value = value };
	return 0;
}

/* One auth-param at *p, or 0 (p unchanged) if what follows is the next challenge. */
static int parse_param(fetch_auth_challenge *c, const char **p)
{
	const char *s = *p, *name = s;
	char *value = NULL;
	size_t n;
	int r;

	while (is_tchar(*s))
		s++;
	n = (size_t)(s - name);
	if (n == 0)
		return -EBADMSG;
	s = skip_ws(s);
	if (*s != '=')
		return 0; /* a token not followed by '=': the next challenge's scheme */
	s = skip_ws(s + 1);
	if (*s == '"') {
		if ((r = parse_quoted(&s, &value)) < 0)
			return r;
	} else {
		const char *v = s;
		while (is_tchar(*s))
			s++;
		if (s == v)
			return -EBADMSG;
		if (!(value = strndup(v, (size_t)(s - v))))
			return -ENOMEM;
	}
	char *lname = lower_dup(name, n);
	if (!lname) {
		free(value);
		return -ENOMEM;
	}
	if ((r = add_param(c, lname, value)) < 0)
		return r;
	*p = s;
	return 1;
}

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", alone in its challenge */
static bool at_token68(const char *p, const char **ret_end)
{
	const char *s = p;

	while (is_t68char(*s))
		s++;
	if (s == p)
		return false;
	while (*s == '=')
		s++;
	*ret_end = s;
	s = skip_ws(s);
	return *s == '\0' || *s == ',';
}

static int parse_params(fetch_auth_challenge *c, const char **p)
{
	const char *s = *p, *end;
	int r;

	if (at_token68(s, &end)) {
		if (!(c->token68 = strndup(s, (size_t)(end - s))))
			return -ENOMEM;
		*p = end;
		return 0;
	}
	while (*s && *s != ',') {
		if ((r = parse_param(c, &s)) < 0)
			return r;
		if (r == 0)
			break;
		s = skip_ws(s);
		if (*s == '\0')
			break;
		if (*s != ',')
			return -EBADMSG;
		while (*s == ',' || *s == ' ' || *s == '\t')
			s++;
	}
	*p = s;
	return 0;
}

static int parse_one(const char **p, fetch_auth_challenge *c)
{
	const char *s = *p, *scheme = s;

	while (is_tchar(*s))
		s++;
	if (s == scheme)
		return -EBADMSG;
	if (!(c->scheme = lower_dup(scheme, (size_t)(s - scheme))))
		return -ENOMEM;
	if (*s != '\0' && *s != ',' && *s != ' ' && *s != '\t')
		return -EBADMSG;
	s = skip_ws(s);
	*p = s;
	return parse_params(c, p);
}

static void challenge_done(fetch_auth_challenge *c)
{
	free(c->scheme);
	free(c->token68);
	fetch_kv_free_array(c->params, c->n_params);
}

void fetch_auth_challenges_free(fetch_auth_challenge *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		challenge_done(&v[i]);
	free(v);
}

const char *fetch_auth_challenge_param(const fetch_auth_challenge *c, const char *name)
{
	for (size_t i = 0; i < c->n_params; i++)
		if (streq(c->params[i].key, name))
			return c->params[i].value;
	return NULL;
}

int fetch_auth_challenges_parse(const char *header, fetch_auth_challenge **v, size_t *n_v,
				berth_error *reterr)
{
	const char *p = header;
	int r;

	if (strlen(header) > HEADER_MAX)
		return berth_error_set(reterr, -EBADMSG, "WWW-Authenticate header over %u bytes",
				       HEADER_MAX);
	for (;;) {
		fetch_auth_challenge c = {}, *nv;
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		if (*n_v >= CHALLENGES_MAX)
			return berth_error_set(reterr, -EBADMSG,
					       "WWW-Authenticate: over %d challenges",
					       CHALLENGES_MAX);
		const char *at = p;
		r = parse_one(&p, &c);
		if (r >= 0 && !(nv = realloc(*v, (*n_v + 1) * sizeof(**v))))
			r = -ENOMEM;
		if (r < 0) {
			challenge_done(&c);
			if (r == -ENOMEM)
				return r;
			return berth_error_set(
				reterr, r, "malformed WWW-Authenticate header near '%.40s'", at);
		}
		*v = nv;
		nv[(*n_v)++] = c;
	}
}

/* ---- Answering challenges ---- */

static int64_t clock_monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t (*fetch_auth_clock)(void) = clock_monotonic_s;

typedef struct cred {
	char *registry;
	char *user, *pass; /* both NULL: looked up, none */
} cred;

typedef struct token {
	char *key; /* registry \n realm \n service \n sorted scopes */
	char *value;
	int64_t deadline;
} token;

struct fetch_auth {
	pthread_mutex_t lock;
	char *path;
	cred *creds;
	size_t n_creds;
	token *tokens;
	size_t n_tokens;
};

int fetch_auth_new(const char *path, fetch_auth **ret)
{
	fetch_auth *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	if (path && !(a->path = strdup(path))) {
		free(a);
		return -ENOMEM;
	}
	pthread_mutex_init(&a->lock, NULL);
	*ret = a;
	return 0;
}

static void cred_done(cred *c)
{
	free(c->registry);
	free(c->user);
	if (c->pass)
		explicit_bzero(c->pass, strlen(c->pass));
	free(c->pass);
}

fetch_auth *fetch_auth_free(fetch_auth *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < a->n_creds; i++)
		cred_done(&a->creds[i]);
	free(a->creds);
	for (size_t i = 0; i < a->n_tokens; i++) {
		free(a->tokens[i].key);
		free(a->tokens[i].value);
	}
	free(a->tokens);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a);
	return NULL;
}

static cred *cred_find(fetch_auth *a, const char *registry)
{
	for (size_t i = 0; i < a->n_creds; i++)
		if (streq(a->creds[i].registry, registry))
			return &a->creds[i];
	return NULL;
}

static int cred_add(fetch_auth *a, const char *registry, char *user, char *pass)
{
	cred *c = cred_find(a, registry), *v;

	if (!c) {
		if (!(v = realloc(a->creds, (a->n_creds + 1) * sizeof(*v))))
			goto oom;
		a->creds = v;
		c = &v[a->n_creds];
		*c = (cred){ .registry = strdup(registry) };
		if (!c->registry)
			goto oom;
		a->n_creds++;
	} else
		cred_done(c), c->registry = strdup(registry);
	if (!c->registry)
		goto oom;
	c->user = user;
	c->pass = pass;
	return 0;
oom:
	free(user);
	free(pass);
	return -ENOMEM;
}

int fetch_auth_set_credentials(fetch_auth *a, const char *registry, const char *user,
			       const char *pass)
{
	char *u = strdup(user), *p = strdup(pass);
	int r;

	if (!u || !p) {
		free(u);
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_lock(&a->lock);
	r = cred_add(a, registry, u, p);
	pthread_mutex_unlock(&a->lock);
	return r;
}

/* Under the lock: the registry's credentials, read from the file on first use. */
static int cred_get(fetch_auth *a, const char *registry, const cred **ret, berth_error *reterr)
{
	char *user = NULL, *pass = NULL;
	const cred *c = cred_find(a, registry);
	int r;

	if (!c) {
		r = fetch_auth_lookup(a->path, registry, &user, &pass, reterr);
		if (r < 0 && r != -ENOENT)
			return r;
		if ((r = cred_add(a, registry, user, pass)) < 0)
			return r;
		c = cred_find(a, registry);
	}
	*ret = c;
	return 0;
}

int fetch_auth_has_credentials(fetch_auth *a, const char *registry)
{
	const cred *c;
	int r;

	pthread_mutex_lock(&a->lock);
	r = cred_get(a, registry, &c, NULL);
	pthread_mutex_unlock(&a->lock);
	return r < 0 ? 0 : c->user != NULL;
}

static int scope_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int token_key(const char *registry, const char *realm, const char *service,
		     const char *const *scopes, char **ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	_cleanup_free_ const char **sorted = NULL;
	size_t n = 0;

	while (scopes && scopes[n])
		n++;
	if (!(sorted = calloc(n + 1, sizeof(char *))))
		return -ENOMEM;
	memcpy(sorted, scopes ? scopes : sorted, n * sizeof(char *));
	if (n > 1)
		qsort(sorted, n, sizeof(char *), scope_cmp);
	if (buf_printf(&b, "%s\n%s\n%s", registry, realm, service ? service : "") < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (buf_printf(&b, "\n%s", sorted[i]) < 0)
			return -ENOMEM;
	*ret = buf_steal(&b);
	return 0;
}

static token *token_find(fetch_auth *a, const char *key)
{
	for (size_t i = 0; i < a->n_tokens; i++)
		if (streq(a->tokens[i].key, key))
			return &a->tokens[i];
	return NULL;
}

static int token_put(fetch_auth *a, char *key, char *value, int64_t deadline)
{
	token *t = token_find(a, key), *v;

	if (t) {
		free(key);
		free(t->value);
		t->value = value;
		t->deadline = deadline;
		return 0;
	}
	if (!(v = realloc(a->tokens, (a->n_tokens + 1) * sizeof(*v)))) {
		free(key);
		free(value);
		return -ENOMEM;
	}
	a->tokens = v;
	v[a->n_tokens++] = (token){ .key = key, .value = value, .deadline = deadline };
	return 0;
}

static int basic_value(const cred *c, char **ret)
{
	_cleanup_free_ char *plain = NULL, *b64 = NULL;

	if (asprintf(&plain, "%s:%s", c->user, c->pass) < 0 ||
	    !(b64 = fetch_auth_base64(plain, strlen(plain))))
		return -ENOMEM;
	explicit_bzero(plain, strlen(plain));
	return asprintf(ret, "Basic %s", b64) < 0 ? -ENOMEM : 0;
}

static int token_url(const char *realm, const char *service, const char *const *scopes,
		     const cred *c, char **ret)
{
	_cleanup_(buf_done) buf b = BUF_INIT;
	char sep = strchr(realm, '?') ? '&' : '?';

	if (buf_append_str(&b, realm) < 0)
		return -ENOMEM;
	if (service) {
		_cleanup_free_ char *e = fetch_http_escape(service);
		if (!e || buf_printf(&b, "%cservice=%s", sep, e) < 0)
			return -ENOMEM;
		sep = '&';
	}
	for (size_t i = 0; scopes && scopes[i]; i++) {
		_cleanup_free_ char *e = fetch_http_escape(scopes[i]);
		if (!e || buf_printf(&b, "%cscope=%s", sep, e) < 0)
			return -ENOMEM;
		sep = '&';
	}
	if (c->user) {
		_cleanup_free_ char *e = fetch_http_escape(c->user);
		if (!e || buf_printf(&b, "%caccount=%s", sep, e) < 0)
			return -ENOMEM;
	}
	*ret = buf_steal(&b);
	return 0;
}

static int token_refused(const fetch_http_response *resp, const char *realm, berth_error *reterr)
{
	_cleanup_free_ char *msg = fetch_rjson_errors_message(resp->body.data, resp->body.len);
	int code = resp->status == 401 || resp->status == 403 ? -EACCES : -EPROTO;

	return berth_error_set(reterr, code, "the token server '%s' refused (HTTP %ld)%s%s", realm,
			       resp->status, msg ? ": " : "", msg ? msg : "");
}

/* GET realm?service=&scope=... -> "Bearer TOKEN", deadline. Without the lock held. */
static int fetch_token(fetch_http *h, const char *realm, const char *service,
		       const char *const *scopes, const char *basic, bool tls_no_verify, char **ret,
		       int64_t *ret_deadline, berth_error *reterr)
{
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	_cleanup_free_ char *url = NULL, *tok = NULL;
	const cred none = {};
	int64_t expires_in;
	int r;

	if (!strneq(realm, "https://", 8) && !strneq(realm, "http://", 7))
		return berth_error_set(reterr, -EPROTO, "the token realm '%s' is not an HTTP URL",
				       realm);
	if ((r = token_url(realm, service, scopes, &none, &url)) < 0)
		return r;
	fetch_http_request req = {
		.url = url,
		.authorization = basic,
		.tls_no_verify = tls_no_verify,
		.max_body = TOKEN_ANSWER_MAX,
	};
	if ((r = fetch_http_request_do(h, &req, &resp, reterr)) < 0)
		return r;
	if (resp.status != 200)
		return token_refused(&resp, realm, reterr);
	r = fetch_rjson_token_parse(resp.body.data, resp.body.len, &tok, &expires_in, reterr);
	if (r < 0)
		return berth_error_set(reterr, r, "the token server '%s' sent a bad answer", realm);
	if (asprintf(ret, "Bearer %s", tok) < 0)
		return -ENOMEM;
	/* Renew a little early: a token that expires in flight costs a refused request. */
	*ret_deadline = fetch_auth_clock() + expires_in - MIN(expires_in / 2, (int64_t)10);
	return 0;
}

static int answer_bearer(fetch_auth *a, fetch_http *h, const char *registry,
			 const fetch_auth_challenge *c, const char *const *scopes,
			 bool tls_no_verify, bool refresh, char **ret, berth_error *reterr)
{
	const char *realm = fetch_auth_challenge_param(c, "realm");
	const char *service = fetch_auth_challenge_param(c, "service");
	_cleanup_free_ char *key = NULL, *basic = NULL, *value = NULL;
	const cred *cr;
	token *t;
	int64_t deadline = 0;
	int r;

	if (!realm)
		return berth_error_set(reterr, -EPROTO, "a Bearer challenge without a realm");
	if ((r = token_key(registry, realm, service, scopes, &key)) < 0)
		return r;
	pthread_mutex_lock(&a->lock);
	t = token_find(a, key);
	if (t && (refresh || t->deadline <= fetch_auth_clock()))
		t->deadline = 0;
	if (t && t->deadline > 0)
		r = (*ret = strdup(t->value)) ? 1 : -ENOMEM;
	else if ((r = cred_get(a, registry, &cr, reterr)) >= 0 && cr->user)
		r = basic_value(cr, &basic);
	pthread_mutex_unlock(&a->lock);
	if (r != 0)
		return r < 0 ? r : 0;
	/* Two threads may fetch the same token at once; both are valid, the later is kept. */
	if ((r = fetch_token(h, realm, service, scopes, basic, tls_no_verify, &value, &deadline,
			     reterr)) < 0)
		return r;
	if (!(*ret = strdup(value)))
		return -ENOMEM;
	pthread_mutex_lock(&a->lock);
	r = token_put(a, TAKE_PTR(key), TAKE_PTR(value), deadline);
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		free(TAKE_PTR(*ret));
	return r;
}

static int answer_basic(fetch_auth *a, const char *registry, bool refresh, char **ret,
			berth_error *reterr)
{
	const cred *cr;
	int r;

	pthread_mutex_lock(&a->lock);
	r = cred_get(a, registry, &cr, reterr);
	if (r >= 0 && !cr->user)
		r = berth_error_set(reterr, -EACCES,
				    "'%s' wants a user name and password (berth login %s)",
				    registry, registry);
	else if (r >= 0 && refresh)
		r = berth_error_set(reterr, -EACCES, "'%s' refused the user name and password",
				    registry);
	else if (r >= 0)
		r = basic_value(cr, ret);
	pthread_mutex_unlock(&a->lock);
	return r;
}

int fetch_auth_authorize(fetch_auth *a, fetch_http *h, const char *registry,
			 const fetch_auth_challenge *challenges, size_t n_challenges,
			 const char *const *scopes, bool tls_no_verify, bool refresh, char **ret,
			 berth_error *reterr)
{
	for (size_t i = 0; i < n_challenges; i++)
		if (streq(challenges[i].scheme, "bearer"))
			return answer_bearer(a, h, registry, &challenges[i], scopes, tls_no_verify,
					     refresh, ret, reterr);
	for (size_t i = 0; i < n_challenges; i++)
		if (streq(challenges[i].scheme, "basic"))
			return answer_basic(a, registry, refresh, ret, reterr);
	return berth_error_set(reterr, -EPROTONOSUPPORT,
			       "'%s' asks for an authentication scheme berth does not speak (%s)",
			       registry, n_challenges ? challenges[0].scheme : "none");
}
