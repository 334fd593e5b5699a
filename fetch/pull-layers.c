/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fetch/pull-layers.c: the layers of a pull: reused from the store when some image has the same
 * DiffID, else downloaded by a few worker threads at once.
 *
 * Each download is two threads joined by a pipe: the worker runs the HTTP transfer and writes
 * the blob's bytes into the pipe as they arrive; a second thread runs fetch_unpack_fd() on the
 * other end, so decompression, hashing and ingest overlap the download, and nothing is spooled
 * to disk. The pipe is also what makes failure simple: when the unpacker stops (digest mismatch,
 * hostile tar) it closes its end and the next write fails with EPIPE; when the download fails it
 * closes the writing end and the unpacker sees a truncated stream. SIGPIPE is blocked in the
 * workers for that (it is thread-directed, so blocking it there suffices).
 *
 * Workers share the session (fetch_registry is thread-safe), each with its own fetch_http. The
 * first failure stops the others: their sinks return -ECANCELED on the next bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fetch/blob-cache.h"
#include "fetch/parallel.h"
#include "fetch/pull-private.h"
#include "fetch/unpack.h"
#include "store/image.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define PIPE_SIZE	  (1 << 20)
#define PROGRESS_EVERY_NS 100000000ull

typedef struct job {
	size_t index;
	const fetch_oci_descriptor *desc;
	const store_digest *diff_id;
	int r;
	berth_error err;
} job;

typedef struct queue {
	puller *p;
	job *jobs;
	size_t n_jobs;
	uint64_t bytes;
} queue;

static void emit(puller *p, fetch_blob_state state, size_t index, const store_digest *d,
		 uint64_t current, uint64_t total, const char *detail)
{
	fetch_blob_event e = {
		.state = state,
		.index = index,
		.digest = *d,
		.current = current,
		.total = total,
		.detail = detail,
	};

	if (!p->opts->progress)
		return;
	pthread_mutex_lock(&p->lock);
	p->opts->progress(p->opts->userdata, &e);
	pthread_mutex_unlock(&p->lock);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- Layers already in the store ---- */

typedef struct known {
	store_layer *v;
	size_t n;
} known;

static int collect_layers(store *s, const store_digest *id, void *userdata)
{
	_cleanup_(store_image_freep) store_image *img = NULL;
	known *k = userdata;
	store_layer *v;

	if (store_image_load(s, id, &img) < 0)
		return 0; /* a damaged record is fsck's business; its layers are not reused */
	if (img->n_layers == 0)
		return 0;
	if (!(v = realloc(k->v, (k->n + img->n_layers) * sizeof(*v))))
		return -ENOMEM;
	memcpy(v + k->n, img->layers, img->n_layers * sizeof(*v));
	k->v = v;
	k->n += img->n_layers;
	return 0;
}

static const store_layer *known_find(const known *k, const store_digest *diff_id)
{
	for (size_t i = 0; i < k->n; i++)
		if (store_digest_eq(&k->v[i].diff_id, diff_id))
			return &k->v[i];
	return NULL;
}

/* ---- One download ---- */

typedef struct unpacker {
	store *s;
	int fd;
	fetch_unpack_opts uo;
	fetch_unpack_result res;
	berth_error err;
	int r;
} unpacker;

static void *unpack_main(void *userdata)
{
	unpacker *u = userdata;

	u->r = fetch_unpack_fd(u->s, u->fd, &u->uo, &u->res, &u->err);
	/* Closing the read end is what tells the downloader to stop if this failed early. */
	u->fd = safe_close(u->fd);
	return NULL;
}

typedef struct stream {
	puller *p;
	job *j;
	int wfd;
	uint64_t received;
	uint64_t last_ns;
} stream;

static int stream_sink(void *userdata, const void *data, size_t len)
{
	stream *st = userdata;
	const fetch_oci_descriptor *d = st->j->desc;
	uint64_t t;
	int r;

	if (atomic_load(&st->p->failed))
		return -ECANCELED;
	if (st->received + len > d->size)
		return berth_error_set(&st->j->err, -EBADMSG,
				       "the registry sent more than the %llu bytes the manifest "
				       "gives",
				       (unsigned long long)d->size);
	if ((r = fd_write_all(st->wfd, data, len)) < 0)
		return r; /* EPIPE: the unpacker stopped; its error is the one to report */
	st->received += len;
	t = now_ns();
	if (t - st->last_ns >= PROGRESS_EVERY_NS) {
		st->last_ns = t;
		emit(st->p, FETCH_BLOB_TRANSFER, st->j->index, &d->digest, st->received, d->size,
		     NULL);
	}
	return 0;
}

static void stream_retry(void *userdata, unsigned attempt, const char *why)
{
	stream *st = userdata;
	char detail[96];

	snprintf(detail, sizeof(detail), "Retrying (%u): %s", attempt, why);
	emit(st->p, FETCH_BLOB_RETRYING, st->j->index, &st->j->desc->digest, st->received,
	     st->j->desc->size, detail);
}

static int download(puller *p, fetch_http *h, job *j, int wfd, uint64_t *ret_received)
{
	_cleanup_(fetch_http_response_done) fetch_http_response resp = {};
	_cleanup_free_ char *path = NULL;
	char ds[STORE_DIGEST_STR_LEN];
	stream st = { .p = p, .j = j, .wfd = wfd };
	int r;

	store_digest_str(&j->desc->digest, ds);
	if (asprintf(&path, "/v2/%s/blobs/%s", p->ref->path, ds) < 0)
		return -ENOMEM;
	fetch_http_request req = {
		.url = path,
		.sink = stream_sink,
		.userdata = &st,
		.resume = true,
		.on_retry = stream_retry,
	};
	r = fetch_registry_do(p->reg, h, &req, &resp, &j->err);
	*ret_received = st.received;
	if (r < 0)
		return r;
	if (resp.status != 200 && resp.status != 206)
		return fetch_registry_answer_error(&resp, "layer blob", &j->err);
	if (resp.resumed > 0)
		log_debug("pull: %s: resumed %u times", ds, resp.resumed);
	return 0;
}

static int pipe_open(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return negative_errno();
	/* A deeper pipe lets the download run ahead of a burst of slow ingest; best effort. */
	(void)fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
	return 0;
}

/* Chooses which of the two sides' errors tells the user what happened. */
static int job_result(job *j, int dr, const unpacker *u, uint64_t received)
{
	if (dr < 0 && !(dr == -EPIPE && u->r < 0))
		return dr; /* j->err holds the download's detail */
	if (u->r < 0) {
		j->err = u->err;
		if (u->r == -EBADMSG && u->err.code == 0)
			return berth_error_set(&j->err, u->r, "the blob is corrupt");
		return u->r;
	}
	if (received != j->desc->size)
		return berth_error_set(&j->err, -EBADMSG,
				       "the blob has %llu bytes, the manifest says %llu",
				       (unsigned long long)received,
				       (unsigned long long)j->desc->size);
	return 0;
}

static int run_job(puller *p, fetch_http *h, job *j)
{
	unpacker u = {
		.s = p->s,
		.uo = { .expect_diff_id = j->diff_id, .expect_blob_digest = &j->desc->digest },
	};
	uint64_t received = 0;
	pthread_t t;
	int fds[2], r, dr;

	if ((r = pipe_open(fds)) < 0)
		return berth_error_set(&j->err, r, "cannot create a pipe: %s", strerror(-r));
	u.fd = fds[0];
	if ((r = -pthread_create(&t, NULL, unpack_main, &u)) < 0) {
		close(fds[0]);
		close(fds[1]);
		return berth_error_set(&j->err, r, "cannot start a thread: %s", strerror(-r));
	}
	emit(p, FETCH_BLOB_TRANSFER, j->index, &j->desc->digest, 0, j->desc->size, NULL);
	dr = download(p, h, j, fds[1], &received);
	close(fds[1]);
	pthread_join(t, NULL);
	if ((r = job_result(j, dr, &u, received)) < 0)
		return r;
	p->layers[j->index] = u.res.layer;
	emit(p, FETCH_BLOB_DONE, j->index, &j->desc->digest, received, j->desc->size, NULL);
	return 0;
}

static int job_main(void *userdata, fetch_http *h, size_t i)
{
	queue *q = userdata;
	job *j = &q->jobs[i];

	return j->r = run_job(q->p, h, j);
}

static int run_workers(puller *p, queue *q)
{
	size_t failed_at = 0;
	int r;

	r = fetch_parallel_run(q->n_jobs, p->opts->parallel, job_main, q, &p->failed, &failed_at);
	if (r < 0) {
		job *j = &q->jobs[failed_at];
		char ds[STORE_DIGEST_STR_LEN];
		store_digest_str(&j->desc->digest, ds);
		if (p->reterr && p->reterr->code == 0 && j->err.code != 0)
			*p->reterr = j->err;
		return pull_context(p, r, "layer %zu (%s)", j->index, ds);
	}
	for (size_t i = 0; i < q->n_jobs; i++) {
		const job *j = &q->jobs[i];
		fetch_blob_source src = {
			.diff_id = *j->diff_id,
			.blob = j->desc->digest,
			.size = j->desc->size,
			.media_type = j->desc->media_type,
			.host = fetch_registry_endpoint(p->reg)->host,
			.repository = p->ref->path,
		};
		q->bytes += j->desc->size;
		/* For push: this registry has this layer as this blob (a cache; failure is fine). */
		(void)fetch_blob_cache_add(store_root(p->s), &src);
	}
	return 0;
}

/* ---- The plan ---- */

/* -1: download; -2: reused; else the index of an earlier layer with the same blob. */
static ssize_t plan_one(puller *p, const known *k, size_t i)
{
	const fetch_oci_descriptor *d = &p->m->layers[i];
	const store_layer *have = known_find(k, &p->c->diff_ids[i]);

	if (have) {
		p->layers[i] = *have;
		return -2;
	}
	for (size_t e = 0; e < i; e++)
		if (store_digest_eq(&p->m->layers[e].digest, &d->digest) &&
		    store_digest_eq(&p->c->diff_ids[e], &p->c->diff_ids[i]))
			return (ssize_t)e;
	return -1;
}

int pull_layers(puller *p)
{
	size_t n = p->m->n_layers;
	_cleanup_free_ ssize_t *plan = calloc(n + 1, sizeof(ssize_t));
	_cleanup_free_ job *jobs = calloc(n + 1, sizeof(job));
	known k = {};
	queue q = { .p = p, .jobs = jobs };
	int r;

	if (!plan || !jobs || !(p->layers = calloc(n + 1, sizeof(store_layer))))
		return -ENOMEM;
	r = store_image_foreach(p->s, collect_layers, &k);
	for (size_t i = 0; i < n && r >= 0; i++)
		plan[i] = plan_one(p, &k, i);
	free(k.v);
	if (r < 0)
		return berth_error_set(p->reterr, r, "cannot list the store's images: %s",
				       strerror(-r));
	for (size_t i = 0; i < n; i++) {
		const store_digest *d = &p->m->layers[i].digest;
		if (plan[i] == -2) {
			p->res->n_reused++;
			emit(p, FETCH_BLOB_EXISTS, i, d, 0, p->m->layers[i].size, NULL);
		} else if (plan[i] == -1) {
			jobs[q.n_jobs++] = (job){ .index = i,
						  .desc = &p->m->layers[i],
						  .diff_id = &p->c->diff_ids[i] };
			emit(p, FETCH_BLOB_WAITING, i, d, 0, p->m->layers[i].size, NULL);
		}
	}
	if (q.n_jobs > 0 && (r = run_workers(p, &q)) < 0)
		return r;
	p->res->bytes = q.bytes;
	for (size_t i = 0; i < n; i++)
		if (plan[i] >= 0)
			p->layers[i] = p->layers[plan[i]];
	return 0;
}
