/*
 * ingest.c - the bounded job queue, the writer threads and the hand-back of
 * finished jobs to the HTTP loop.
 *
 * Writers block on a condition variable; the loop is woken with
 * event_active() only on the empty → non-empty transition of the done
 * list (STYLE.md threads rule 2).
 */
#include "pipeline/ingest.h"
#include "core/clock.h"
#include "core/heartbeat.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/thread.h"
#include "pipeline/telemetry.h"
#include "store/db.h"
#include "store/ingest_store.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_PING_MS 2000

struct writer {
	struct ingest *in;
	pthread_t thread;
	int index;
	PGconn *conn;	     /* link.conn, or NULL while disconnected */
	struct db_link link; /* connects, reconnects, cancels on stop */
	int64_t last_used_ms;
	int beat; /* heartbeat slot (runtime beats), -1 without a runtime */
	struct log_ratelimit rl;
};

struct ingest {
	struct ingest_opts opts;
	char *db_url;

	pthread_mutex_t mu; /* guards queue, n_queued, held_bytes, stopping */
	pthread_cond_t cv;
	struct ingest_job *head, *tail;
	size_t n_queued;
	size_t held_bytes; /* of jobs submitted and not yet handed back */
	bool stopping;

	pthread_mutex_t done_mu; /* guards done list */
	struct ingest_job *done_head, *done_tail;
	struct event *wake; /* on the loop */
	ingest_done_cb done_cb;
	void *done_arg;

	atomic_int n_ready; /* writers with a working connection */
	struct writer *writers;
	int n_writers;
	bool stuck; /* a writer was left behind by ingest_stop */
};

void ingest_job_free(struct ingest_job *job)
{
	if (job == NULL)
		return;
	free(job->dedup_key);
	free(job->topic);
	free(job->headers_json);
	free(job->body);
	source_items_cleanup(&job->items);
	free(job);
}

/* What a job holds, for the [ingest] queue_bytes budget. */
static size_t job_bytes(const struct ingest_job *job)
{
	return job->body_len + job->headers_len;
}

static void set_ready(struct writer *w, bool ready)
{
	bool was = w->conn != NULL;

	if (ready && !was)
		atomic_fetch_add(&w->in->n_ready, 1);
	else if (!ready && was)
		atomic_fetch_sub(&w->in->n_ready, 1);
}

/* Close; the next connection is tried after the link's backoff.  (The
 * writer's statements run in implicit transactions: a timeout or cancel
 * leaves a live connection usable, nothing to roll back.) */
static void drop_conn(struct writer *w)
{
	if (w->conn == NULL)
		return;
	set_ready(w, false);
	db_link_drop(&w->link);
	w->conn = NULL;
}

static int setup_conn_cb(PGconn *conn, void *arg, struct err *e)
{
	(void)arg;
	return ingest_store_prepare(conn, e);
}

static bool ensure_conn(struct writer *w)
{
	struct db_session s, *sp = NULL;
	bool fresh;

	if (db_link_is_shut(&w->link))
		return false; /* stopping late: answer 503, write nothing */
	if (w->conn)
		return true;
	if (w->in->opts.rt) {
		struct config *cfg = runtime_config(w->in->opts.rt);

		db_session_from_config(&s, cfg);
		config_unref(cfg);
		sp = &s;
	}
	if (db_link_ensure(&w->link, w->in->db_url, sp, setup_conn_cb, NULL, &fresh) != 0)
		return false;
	set_ready(w, true);
	w->conn = w->link.conn;
	w->last_used_ms = clock_mono_ms();
	return true;
}

static void deliver(struct ingest *in, struct ingest_job *first, struct ingest_job *last)
{
	bool was_empty;

	pthread_mutex_lock(&in->done_mu);
	was_empty = in->done_head == NULL;
	if (in->done_tail)
		in->done_tail->next = first;
	else
		in->done_head = first;
	in->done_tail = last;
	pthread_mutex_unlock(&in->done_mu);
	if (was_empty)
		event_active(in->wake, EV_READ, 0);
}

/*
 * Store rows[0..n) (map[k] is row k's job) and set their jobs' status.
 * When the statement is refused for what a row holds, the halves are
 * stored on their own, down to single rows, so one bad row fails only
 * itself (INGEST_REJECTED) and the rest commit: a few extra round trips
 * for a rare event, none on the common path.  Returns ERR_DB when the
 * database itself failed; rows not stored by then keep the status the
 * caller gave them (unavailable).
 */
static int store_rows(struct writer *w, struct ingest_row *rows, struct ingest_job **map, size_t n)
{
	struct err e = { 0 };
	size_t half;
	int rc, suppressed;

	if (n == 0)
		return 0;
	rc = ingest_store_insert(w->conn, rows, n, &e);
	if (rc == 0) {
		for (size_t k = 0; k < n; k++) {
			map[k]->raw_id = rows[k].raw_id;
			map[k]->status = rows[k].raw_id ? INGEST_ACCEPTED : INGEST_DUPLICATE;
		}
		return 0;
	}
	if (rc != ERR_INVALID) {
		if (log_ratelimit_allow(&w->rl, 6, &suppressed))
			log_warn("could not store webhooks",
				 "writer=%d n=%zu err=\"%s\" suppressed=%d", w->index, n, e.msg,
				 suppressed);
		return ERR_DB;
	}
	if (n == 1) {
		log_warn("webhook refused by the database",
			 "writer=%d source=%s request_id=%s err=\"%s\"", w->index,
			 rows[0].source_id, map[0]->request_id, e.msg);
		map[0]->status = INGEST_REJECTED;
		return 0;
	}
	half = n / 2;
	rc = store_rows(w, rows, map, half);
	if (rc == 0)
		rc = store_rows(w, rows + half, map + half, n - half);
	return rc;
}

/* Index in rows[0..nr) of the row with job j's key, or nr. */
static size_t find_row(const struct ingest_row *rows, size_t nr, const struct ingest_job *j)
{
	for (size_t k = 0; k < nr; k++) {
		if (strcmp(rows[k].dedup_key, j->dedup_key) == 0 &&
		    strcmp(rows[k].source_id, j->source_id) == 0)
			return k;
	}
	return nr;
}

/* Job j's item keys for its row (NULL entries for invalid items), and
 * the array the writer reads the verdicts back into; NULL, NULL without
 * items. */
static void row_items(struct ingest_job *j, struct ingest_row *row)
{
	const char **keys;

	if (j->items.n == 0)
		return;
	keys = xcalloc(j->items.n, sizeof(*keys));
	for (size_t k = 0; k < j->items.n; k++)
		keys[k] = j->items.v[k].key;
	row->item_keys = keys;
	row->n_items = j->items.n;
	row->item_new = xcalloc(j->items.n, sizeof(*row->item_new));
}

/* Each keyed item's verdict from its row's: a stored request's items are
 * new or duplicates as the database said; every keyed item of a request
 * that was itself a duplicate was keyed when the first copy was stored. */
static void settle_items(struct ingest_job *j, const struct ingest_row *row)
{
	for (size_t k = 0; k < j->items.n; k++) {
		struct source_item *it = &j->items.v[k];

		if (it->key == NULL)
			continue;
		if (j->status == INGEST_ACCEPTED && row && row->item_new && row->item_new[k])
			it->status = SOURCE_ITEM_NEW;
		else
			it->status = SOURCE_ITEM_DUPLICATE;
	}
}

/* Write one batch (a linked list of n jobs) and set each job's status. */
static void write_batch(struct writer *w, struct ingest_job *jobs, size_t n)
{
	struct ingest_row *rows = xcalloc(n, sizeof(*rows));
	struct ingest_job **map = xcalloc(n, sizeof(*map));
	size_t *orig = xcalloc(n, sizeof(*orig));
	struct ingest_job *j;
	size_t nr = 0, i;

	for (j = jobs; j; j = j->next)
		j->status = INGEST_UNAVAILABLE;
	if (!ensure_conn(w))
		goto out;
	/* Fold in-batch duplicates: a job whose key appears earlier in the
	 * batch shares the fate of that earlier one. */
	for (j = jobs, i = 0; j; j = j->next, i++) {
		orig[i] = find_row(rows, nr, j);
		if (orig[i] < nr)
			continue;
		rows[nr] = (struct ingest_row){ .source_id = j->source_id,
						.dedup_key = j->dedup_key,
						.topic = j->topic,
						.headers_json = j->headers_json,
						.headers_len = j->headers_len,
						.body = j->body,
						.body_len = j->body_len };
		row_items(j, &rows[nr]);
		map[nr++] = j;
	}
	int64_t t0 = clock_mono_us();

	if (store_rows(w, rows, map, nr) != 0) {
		if (db_is_broken(w->conn))
			drop_conn(w);
	} else {
		w->last_used_ms = clock_mono_ms();
		telemetry_ingest_committed(nr, clock_mono_us() - t0);
		log_debug("webhooks committed", "writer=%d n=%zu us=%lld", w->index, nr,
			  (long long)(clock_mono_us() - t0));
	}
	for (j = jobs, i = 0; j; j = j->next, i++) {
		if (map[orig[i]] == j) {
			settle_items(j, &rows[orig[i]]);
			continue;
		}
		/* A copy of a stored webhook is a duplicate; a copy of one
		 * that was not stored is not, and is retried by its sender. */
		switch (map[orig[i]]->status) {
		case INGEST_ACCEPTED:
		case INGEST_DUPLICATE:
			j->status = INGEST_DUPLICATE;
			break;
		default:
			j->status = INGEST_UNAVAILABLE;
		}
		settle_items(j, NULL);
	}
out:
	for (i = 0; i < nr; i++) {
		free((void *)rows[i].item_keys);
		free(rows[i].item_new);
	}
	free(rows);
	free(map);
	free(orig);
}

/* Keep an idle connection honest so /readyz tells the truth. */
static void idle_ping(struct writer *w)
{
	PGresult *res;

	if (w->conn == NULL) {
		ensure_conn(w);
		return;
	}
	if (clock_mono_ms() - w->last_used_ms < IDLE_PING_MS)
		return;
	res = PQexec(w->conn, "SELECT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		drop_conn(w);
	else
		w->last_used_ms = clock_mono_ms();
	PQclear(res);
}

/* Stamp the writer's progress (for the watchdog): once per batch and
 * once a second while idle. */
static void beat(struct writer *w)
{
	if (w->in->opts.rt)
		heartbeat_beat(&w->in->opts.rt->beats, w->beat);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct ingest *in = w->in;

	ensure_conn(w);
	for (;;) {
		struct ingest_job *first, *last;
		size_t n = 0;

		beat(w);
		pthread_mutex_lock(&in->mu);
		while (in->head == NULL && !in->stopping) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_cond_timedwait(&in->cv, &in->mu, &ts) != 0 &&
			    in->head == NULL) {
				pthread_mutex_unlock(&in->mu);
				idle_ping(w);
				beat(w); /* idle, but turning */
				pthread_mutex_lock(&in->mu);
			}
		}
		if (in->head == NULL && in->stopping) {
			pthread_mutex_unlock(&in->mu);
			break;
		}
		first = last = in->head;
		n = 1;
		while (last->next && n < in->opts.batch_max) {
			last = last->next;
			n++;
		}
		in->head = last->next;
		if (in->head == NULL)
			in->tail = NULL;
		in->n_queued -= n;
		last->next = NULL;
		pthread_mutex_unlock(&in->mu);

		write_batch(w, first, n);
		deliver(in, first, last);
	}
	drop_conn(w);
	if (in->opts.rt)
		heartbeat_retire(&in->opts.rt->beats, w->beat);
	return NULL;
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest *in = arg;
	struct ingest_job *j, *next;

	(void)fd;
	(void)what;
	size_t bytes = 0;

	pthread_mutex_lock(&in->done_mu);
	j = in->done_head;
	in->done_head = in->done_tail = NULL;
	pthread_mutex_unlock(&in->done_mu);
	for (next = j; next; next = next->next)
		bytes += job_bytes(next);
	pthread_mutex_lock(&in->mu);
	in->held_bytes -= bytes;
	pthread_mutex_unlock(&in->mu);
	for (; j; j = next) {
		next = j->next;
		j->next = NULL;
		in->done_cb(j, in->done_arg);
	}
}

int ingest_new(struct event_base *loop, const struct ingest_opts *opts, ingest_done_cb done_cb,
	       void *done_arg, struct ingest **out, struct err *e)
{
	struct ingest *in = xcalloc(1, sizeof(*in));

	in->opts = *opts;
	in->db_url = xstrdup(opts->db_url);
	in->opts.db_url = in->db_url;
	if (in->opts.batch_max == 0)
		in->opts.batch_max = 1;
	if (in->opts.queue_bytes == 0)
		in->opts.queue_bytes = SIZE_MAX;
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->cv, NULL);
	pthread_mutex_init(&in->done_mu, NULL);
	in->done_cb = done_cb;
	in->done_arg = done_arg;
	atomic_init(&in->n_ready, 0);
	in->wake = event_new(loop, -1, 0, wake_cb, in);
	in->n_writers = opts->writers > 0 ? opts->writers : 1;
	in->writers = xcalloc((size_t)in->n_writers, sizeof(*in->writers));
	for (int i = 0; i < in->n_writers; i++) {
		char name[64];
		int rc;

		snprintf(name, sizeof(name), "adsengd-ingest-%d", i);
		db_link_init(&in->writers[i].link, name);
		in->writers[i].in = in;
		in->writers[i].index = i;
		snprintf(name, sizeof(name), "ingest-%d", i);
		in->writers[i].beat = opts->rt ? heartbeat_register(&opts->rt->beats, name) : -1;
		rc = thread_start(&in->writers[i].thread, name, writer_main, &in->writers[i], e);
		if (rc != 0) {
			in->n_writers = i;
			ingest_stop(in);
			ingest_free(in);
			return rc;
		}
	}
	*out = in;
	return 0;
}

int ingest_submit(struct ingest *in, struct ingest_job *job)
{
	size_t bytes = job_bytes(job);

	pthread_mutex_lock(&in->mu);
	if (in->stopping || in->n_queued >= in->opts.queue_max ||
	    (in->held_bytes > 0 && in->held_bytes + bytes > in->opts.queue_bytes)) {
		pthread_mutex_unlock(&in->mu);
		return ERR_BUSY;
	}
	in->held_bytes += bytes;
	job->next = NULL;
	job->enqueued_us = clock_mono_us();
	if (in->tail)
		in->tail->next = job;
	else
		in->head = job;
	in->tail = job;
	in->n_queued++;
	pthread_cond_signal(&in->cv);
	pthread_mutex_unlock(&in->mu);
	return 0;
}

bool ingest_is_ready(const struct ingest *in)
{
	return atomic_load(&in->n_ready) > 0;
}

size_t ingest_queued(struct ingest *in)
{
	size_t n;

	pthread_mutex_lock(&in->mu);
	n = in->n_queued;
	pthread_mutex_unlock(&in->mu);
	return n;
}

size_t ingest_held_bytes(struct ingest *in)
{
	size_t n;

	pthread_mutex_lock(&in->mu);
	n = in->held_bytes;
	pthread_mutex_unlock(&in->mu);
	return n;
}

void ingest_stop(struct ingest *in)
{
	pthread_mutex_lock(&in->mu);
	if (in->stopping) {
		pthread_mutex_unlock(&in->mu);
		return;
	}
	in->stopping = true;
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
	for (int i = 0; i < in->n_writers; i++) {
		if (!runtime_join_thread(in->opts.rt, in->writers[i].thread, &in->writers[i].link,
					 "ingest writer"))
			in->stuck = true;
	}
}

void ingest_free(struct ingest *in)
{
	if (in == NULL)
		return;
	wake_cb(-1, 0, in); /* answer (or drop) what finished last */
	if (in->stuck)
		return; /* a writer left behind still uses it */
	for (int i = 0; i < in->n_writers; i++)
		db_link_cleanup(&in->writers[i].link);
	event_free(in->wake);
	pthread_mutex_destroy(&in->mu);
	pthread_cond_destroy(&in->cv);
	pthread_mutex_destroy(&in->done_mu);
	free(in->writers);
	free(in->db_url);
	free(in);
}
