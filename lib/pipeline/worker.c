/*
 * worker.c - the worker threads' loops: connection and LISTEN handling, the
 * poll timer, and the cycle that runs both stages.
 *
 * PostgreSQL is used with blocking calls from this thread: a statement
 * takes a few milliseconds, during which curl's transfers simply wait in
 * the kernel's buffers (DESIGN §8 allows it "where latency allows").  The
 * LISTEN socket is watched by libevent between statements.
 */
#include "pipeline/worker.h"
#include "core/clock.h"
#include "core/heartbeat.h"
#include "core/mem.h"
#include "core/thread.h"
#include "pipeline/worker_int.h"
#include "store/db.h"
#include "store/delivery_store.h"
#include "store/normalize_store.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

/* Uploads still running this long before the cancel point of the stop
 * deadline are given up (their leases released) so that the release
 * itself has time. */
#define RELEASE_MARGIN_MS 1000
/* Stage 1 batches per cycle: one, so that curl's sockets are serviced
 * between batches (a cycle blocks the loop while it talks to PostgreSQL). */
#define NORMALIZE_ROUNDS 1
/* How often an idle worker stamps its heartbeat (the watchdog's interval
 * is seconds). */
#define BEAT_EVERY_MS 500

struct worker_pool {
	struct worker *w;
	int n;
	bool stop_begun;
};

static void run_cycle(struct worker *w);

static void tv_ms(struct timeval *tv, int64_t ms)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

void worker_kick(struct worker *w)
{
	if (!event_pending(w->kick_ev, EV_TIMEOUT, NULL)) {
		struct timeval tv = { 0, 0 };

		evtimer_add(w->kick_ev, &tv);
	}
}

/* Forget the connection (already closed by the link, or close it) and
 * come back when the link's backoff allows another try. */
static void drop_conn(struct worker *w)
{
	struct timeval tv;

	if (w->pg_ev) {
		event_free(w->pg_ev);
		w->pg_ev = NULL;
	}
	db_link_drop(&w->link);
	w->conn = NULL;
	tv_ms(&tv, db_link_wait_ms(&w->link));
	evtimer_add(w->retry_ev, &tv);
}

void worker_db_error(struct worker *w, const char *what, const struct err *e)
{
	int suppressed;

	if (log_ratelimit_allow(&w->rl_db, 10, &suppressed))
		log_warn(what, "worker=%d err=\"%s\" suppressed=%d", w->index, e ? e->msg : "",
			 suppressed);
	if (w->conn && !db_link_recover(&w->link))
		drop_conn(w);
}

static void drain_notifies(struct worker *w)
{
	PGnotify *n;

	if (w->conn == NULL)
		return;
	PQconsumeInput(w->conn);
	while ((n = PQnotifies(w->conn)) != NULL) {
		if (strcmp(n->relname, "adseng_catalog") == 0)
			dest_cache_clear(&w->dests);
		else if (strcmp(n->relname, "adseng_raw") == 0)
			w->more_raw = true;
		else if (strcmp(n->relname, "adseng_deliveries") == 0)
			w->more_due = true;
		PQfreemem(n);
	}
}

static void pg_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (PQconsumeInput(w->conn) == 0) {
		struct err e;

		err_set(&e, ERR_DB, "%s", PQerrorMessage(w->conn));
		worker_db_error(w, "lost the database connection", &e);
		return;
	}
	drain_notifies(w);
	if (w->more_raw || w->more_due)
		worker_kick(w);
}

static int setup_conn_cb(PGconn *conn, void *arg, struct err *e)
{
	(void)arg;
	if (normalize_store_prepare(conn, e) != 0 || delivery_store_prepare(conn, e) != 0)
		return ERR_DB;
	return db_exec(conn, "LISTEN adseng_raw; LISTEN adseng_deliveries; LISTEN adseng_catalog",
		       e);
}

static bool ensure_conn(struct worker *w)
{
	struct db_session s;
	bool fresh;

	if (db_link_is_shut(&w->link))
		return false; /* stopping late: no more statements */
	if (w->conn)
		return true;
	if (event_pending(w->retry_ev, EV_TIMEOUT, NULL))
		return false;
	db_session_from_config(&s, w->cfg);
	if (db_link_ensure(&w->link, w->cfg->db_url, &s, setup_conn_cb, NULL, &fresh) != 0) {
		struct timeval tv;

		if (!db_link_is_shut(&w->link)) {
			tv_ms(&tv, db_link_wait_ms(&w->link));
			evtimer_add(w->retry_ev, &tv);
		}
		return false;
	}
	w->conn = w->link.conn;
	w->pg_ev = event_new(w->base, PQsocket(w->conn), EV_READ | EV_PERSIST, pg_cb, w);
	event_add(w->pg_ev, NULL);
	dest_cache_clear(&w->dests);
	/* Whatever was notified while we were away: look. */
	w->more_raw = w->more_due = true;
	return true;
}

static void run_cycle(struct worker *w)
{
	struct config *cfg;

	if (w->in_cycle)
		return;
	w->in_cycle = true;
	cfg = runtime_config(w->rt);
	config_unref(w->cfg);
	w->cfg = cfg;
	if (!ensure_conn(w))
		goto out;
	/* Slots may have been freed by a reload raising max_inflight, or
	 * uploads have waited for a lost connection to come back. */
	if (!w->stopping)
		stage_deliver_start_queued(w);
	drain_notifies(w);
	if (!w->stopping) {
		for (int i = 0; i < NORMALIZE_ROUNDS && w->conn; i++) {
			int n;

			w->more_raw = false;
			n = stage_normalize_run(w);
			if (n < 0 || n < (int)w->cfg->worker_batch)
				break;
			w->more_raw = true;
		}
	}
	/* Claim only while an upload can start: what one claim makes beyond
	 * the free slots waits in the queue, and nothing more is claimed
	 * until the queue is empty (max_inflight bounds uploads, not claims). */
	while (!w->stopping && w->conn && stage_deliver_has_room(w)) {
		int n;

		w->more_due = false;
		n = stage_deliver_run(w);
		if (n < 0 || n < (int)w->cfg->worker_batch)
			break;
		w->more_due = true;
	}
	/* Adjustments: few and never urgent, so one claim per poll interval. */
	if (!w->stopping && w->conn && stage_deliver_has_room(w) &&
	    clock_mono_ms() >= w->next_adjust_ms) {
		w->next_adjust_ms = clock_mono_ms() + w->cfg->worker_poll_ms;
		(void)stage_adjust_run(w);
	}
	if (w->conn)
		drain_notifies(w);
	/* Full batches mean more is waiting: come back after the loop has
	 * serviced uploads and sockets. */
	if (!w->stopping && w->conn && (w->more_raw || (w->more_due && stage_deliver_has_room(w))))
		worker_kick(w);
out:
	w->in_cycle = false;
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_cycle(arg);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv;

	(void)fd;
	(void)what;
	w->more_raw = w->more_due = true;
	run_cycle(w);
	if (!w->stopping) {
		tv_ms(&tv, w->cfg ? w->cfg->worker_poll_ms : 1000);
		evtimer_add(w->poll_ev, &tv);
	}
}

static void finish_stop(struct worker *w)
{
	w->stopping = true;
	stage_deliver_release_all(w);
	event_base_loopbreak(w->base);
}

void worker_check_stopped(struct worker *w)
{
	if (w->stopping && uploader_inflight(w->up) == 0)
		finish_stop(w);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish_stop(arg);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	w->stopping = true;
	evtimer_del(w->poll_ev);
	evtimer_del(w->kick_ev);
	/* What waits for a slot or a token will not be sent by us: its
	 * leases go back now, for another daemon to take. */
	stage_deliver_release_waiting(w);
	worker_check_stopped(w);
}

static void beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	heartbeat_beat(&w->rt->beats, w->beat);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct timeval beat;

	w->cfg = runtime_config(w->rt);
	tv_ms(&beat, BEAT_EVERY_MS);
	event_add(w->beat_ev, &beat);
	poll_cb(-1, 0, w);
	event_base_dispatch(w->base);
	/* Stopped on purpose: no longer watched. */
	heartbeat_retire(&w->rt->beats, w->beat);
	/* Stopping: uploads that are still running are aborted by
	 * uploader_free (their leases were released above). */
	uploader_free(w->up);
	w->up = NULL;
	/* After uploader_free: an aborted refresh of ours wakes waiters. */
	oauth_cache_forget_waiter(w->rt->oauth, w->auth_ev);
	if (w->pg_ev)
		event_free(w->pg_ev);
	w->pg_ev = NULL;
	db_link_drop(&w->link);
	w->conn = NULL;
	atomic_store(&w->ended, true);
	return NULL;
}

static void worker_cleanup(struct worker *w)
{
	if (w->poll_ev)
		event_free(w->poll_ev);
	if (w->kick_ev)
		event_free(w->kick_ev);
	if (w->retry_ev)
		event_free(w->retry_ev);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->grace_ev)
		event_free(w->grace_ev);
	if (w->auth_ev)
		event_free(w->auth_ev);
	if (w->beat_ev)
		event_free(w->beat_ev);
	dest_cache_cleanup(&w->dests);
	dest_slots_cleanup(&w->slots);
	dest_health_cleanup(&w->health);
	config_unref(w->cfg);
	if (w->base)
		event_base_free(w->base);
	db_link_cleanup(&w->link);
}

static void auth_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stage_deliver_auth_ready(arg);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_cycle(arg);
}

static int worker_init(struct worker *w, struct runtime *rt, int index, struct err *e)
{
	struct config *cfg = runtime_config(rt);
	struct uploader_opts uo = { 0 };
	char name[64];
	int rc;

	w->rt = rt;
	w->index = index;
	snprintf(name, sizeof(name), "adsengd-worker-%d", index);
	db_link_init(&w->link, name);
	dest_cache_init(&w->dests);
	dest_slots_init(&w->slots);
	w->base = event_base_new();
	if (w->base == NULL) {
		config_unref(cfg);
		return err_set(e, ERR_NOMEM, "could not create an event loop");
	}
	uo.default_timeout_ms = (long)cfg->upload_timeout_ms;
	uo.connect_timeout_ms = 5000;
	uo.max_response = 1 << 20;
	uo.user_agent = "adsengd/" ADSENG_VERSION;
	config_unref(cfg);
	rc = uploader_new(w->base, &uo, &w->up, e);
	if (rc != 0)
		return rc;
	w->poll_ev = evtimer_new(w->base, poll_cb, w);
	w->kick_ev = evtimer_new(w->base, kick_cb, w);
	w->retry_ev = evtimer_new(w->base, retry_cb, w);
	w->stop_ev = event_new(w->base, -1, 0, stop_cb, w);
	w->grace_ev = evtimer_new(w->base, grace_cb, w);
	w->auth_ev = event_new(w->base, -1, 0, auth_cb, w);
	w->beat_ev = event_new(w->base, -1, EV_PERSIST, beat_cb, w);
	snprintf(name, sizeof(name), "worker-%d", index);
	w->beat = heartbeat_register(&rt->beats, name);
	atomic_init(&w->ended, false);
	return 0;
}

int worker_pool_start(struct runtime *rt, struct worker_pool **out, struct err *e)
{
	struct worker_pool *p = xcalloc(1, sizeof(*p));
	struct config *cfg = runtime_config(rt);
	int rc = 0;

	p->n = (int)cfg->worker_threads;
	config_unref(cfg);
	p->w = xcalloc((size_t)p->n, sizeof(*p->w));
	for (int i = 0; i < p->n; i++) {
		rc = worker_init(&p->w[i], rt, i, e);
		if (rc != 0)
			goto fail;
	}
	for (int i = 0; i < p->n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "worker-%d", i);
		rc = thread_start(&p->w[i].thread, name, worker_main, &p->w[i], e);
		if (rc != 0) {
			p->n = i;
			worker_pool_stop(p);
			return rc;
		}
	}
	*out = p;
	return 0;
fail:
	for (int i = 0; i < p->n; i++) {
		uploader_free(p->w[i].up);
		worker_cleanup(&p->w[i]);
	}
	free(p->w);
	free(p);
	return rc;
}

void worker_pool_begin_stop(struct worker_pool *p)
{
	struct runtime *rt;
	int64_t grace;

	if (p == NULL || p->n == 0 || p->stop_begun)
		return;
	p->stop_begun = true;
	rt = p->w[0].rt;
	grace = atomic_load(&rt->stop_cancel_at_ms) - RELEASE_MARGIN_MS - clock_mono_ms();
	for (int i = 0; i < p->n; i++) {
		struct timeval tv;

		tv_ms(&tv, grace > 0 ? grace : 0);
		/* Both are safe from this thread: the bases are thread-aware
		 * (evthread_use_pthreads). */
		evtimer_add(p->w[i].grace_ev, &tv);
		event_active(p->w[i].stop_ev, EV_READ, 0);
	}
}

void worker_pool_hurry(struct worker_pool *p)
{
	struct timeval now = { 0, 0 };

	if (p == NULL)
		return;
	worker_pool_begin_stop(p);
	/* The grace ends now: in-flight uploads are given up, their leases
	 * released.  A worker whose loop already ended ignores it. */
	for (int i = 0; i < p->n; i++)
		evtimer_add(p->w[i].grace_ev, &now);
}

bool worker_pool_is_stopped(struct worker_pool *p)
{
	if (p == NULL)
		return true;
	for (int i = 0; i < p->n; i++) {
		if (!atomic_load(&p->w[i].ended))
			return false;
	}
	return true;
}

void worker_pool_stop(struct worker_pool *p)
{
	struct runtime *rt;
	int stuck = 0;

	if (p == NULL)
		return;
	if (p->n == 0)
		goto out;
	worker_pool_begin_stop(p);
	rt = p->w[0].rt;
	for (int i = 0; i < p->n; i++) {
		/* A worker stuck in a statement is canceled at cancel_at and
		 * left behind at the deadline: its leases bring the work back. */
		if (!runtime_join_thread(rt, p->w[i].thread, &p->w[i].link, "worker")) {
			stuck++;
			continue;
		}
		worker_cleanup(&p->w[i]);
	}
	if (stuck)
		return; /* the stuck threads still use p->w */
out:
	free(p->w);
	free(p);
}
