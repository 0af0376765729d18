/*
 * control.c - the housekeeping thread.  Plain blocking libpq plus poll(2)
 * on the connection's socket (for notifications) and on an eventfd (for
 * stop); no event loop needed.
 */
#include "pipeline/control.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/thread.h"
#include "pipeline/status_view.h"
#include "pipeline/telemetry.h"
#include "store/db.h"
#include "store/adjustment_store.h"
#include "store/delivery_store.h"
#include "store/quota_store.h"

#include <event2/event.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define RELOAD_EVERY_MS	    30000
#define PARTITIONS_EVERY_MS 3600000
/* Deliveries held for quota that a new month (or a reload that raised a
 * quota) lets go: a partial-index probe this often, so a month's first
 * conversions wait at most this long behind last month's backlog. */
#define QUOTA_EVERY_MS 5000

struct control {
	struct runtime *rt;
	pthread_t thread;
	int stop_fd;
	PGconn *conn; /* link.conn, or NULL while disconnected */
	struct db_link link;
	struct event *publish_ev; /* on the loop */
	pthread_mutex_t mu;	  /* guards pending */
	struct source_set *pending;
	control_sources_cb cb;
	void *cb_arg;
	struct log_ratelimit rl;
	int64_t next_reload_ms, next_sweep_ms, next_partitions_ms, next_metrics_ms, next_quota_ms;
	int64_t activity_ok_ms; /* last good status page refresh; 0 = none yet */
};

static void publish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;
	struct source_set *set;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&c->mu);
	set = c->pending;
	c->pending = NULL;
	pthread_mutex_unlock(&c->mu);
	if (set)
		c->cb(set, c->cb_arg);
}

static void publish(struct control *c, struct source_set *set)
{
	struct source_set *old;

	pthread_mutex_lock(&c->mu);
	old = c->pending;
	c->pending = set;
	pthread_mutex_unlock(&c->mu);
	source_set_unref(old);
	event_active(c->publish_ev, EV_READ, 0);
}

static void fail(struct control *c, const char *what, const struct err *e)
{
	int suppressed;

	if (log_ratelimit_allow(&c->rl, 6, &suppressed))
		log_warn(what, "err=\"%s\" suppressed=%d", e->msg, suppressed);
	/* Broken: reconnect later; a statement or lock timeout: roll back. */
	if (c->conn && !db_link_recover(&c->link))
		c->conn = NULL;
}

static int setup_conn_cb(PGconn *conn, void *arg, struct err *e)
{
	(void)arg;
	if (delivery_store_prepare(conn, e) != 0)
		return ERR_DB;
	return db_exec(conn, "LISTEN adseng_catalog", e);
}

static bool ensure_conn(struct control *c, const struct config *cfg)
{
	struct db_session s;
	bool fresh;

	if (db_link_is_shut(&c->link))
		return false; /* stopping late: no more statements */
	if (c->conn)
		return true;
	db_session_from_config(&s, cfg);
	if (db_link_ensure(&c->link, cfg->db_url, &s, setup_conn_cb, NULL, &fresh) != 0)
		return false;
	c->conn = c->link.conn;
	c->next_reload_ms = 0; /* reload now: changes may have been missed */
	c->next_metrics_ms = 0;
	return true;
}

/* How long to sleep while disconnected: until the next try. */
static int reconnect_wait_ms(struct control *c)
{
	int64_t ms = db_link_wait_ms(&c->link);

	return ms < 50 ? 50 : (int)ms;
}

static void reload_sources(struct control *c)
{
	struct source_set *set = NULL;
	struct err e = { 0 };

	if (source_set_load(c->conn, c->rt->vault, &set, &e) != 0) {
		fail(c, "could not load sources", &e);
		return;
	}
	log_debug("sources loaded", "n=%zu", set->n);
	publish(c, set);
	c->next_reload_ms = clock_mono_ms() + RELOAD_EVERY_MS;
}

static void sweep_leases(struct control *c, const struct config *cfg)
{
	struct err e = { 0 };
	int64_t n = 0;

	if (delivery_store_expire_leases(c->conn, cfg->retry_max_attempts, &n, &e) != 0) {
		fail(c, "could not expire leases", &e);
		return;
	}
	if (n > 0)
		log_warn("returned deliveries with expired leases to the queue", "n=%lld",
			 (long long)n);
	if (adjustment_store_expire_leases(c->conn, cfg->retry_max_attempts, &n, &e) != 0) {
		fail(c, "could not expire adjustment leases", &e);
		return;
	}
	if (n > 0)
		log_warn("returned adjustment deliveries with expired leases to the queue",
			 "n=%lld", (long long)n);
	c->next_sweep_ms = clock_mono_ms() +
			   (cfg->worker_lease_ms / 4 < 5000 ? cfg->worker_lease_ms / 4 : 5000);
}

static void ensure_partitions(struct control *c)
{
	struct err e = { 0 };

	if (db_exec(c->conn, "SELECT adseng_ensure_partitions(3)", &e) != 0) {
		fail(c, "could not create raw_events partitions", &e);
		return;
	}
	c->next_partitions_ms = clock_mono_ms() + PARTITIONS_EVERY_MS;
}

/* Minutes of activity_minutes recomputed per refresh: those since the
 * last good one, the minute it was in (it may have been partial), and one
 * for rows committed late (a transaction's now() is its start).  The
 * first refresh of a process (a restart, a database back after an outage)
 * catches up on the last hour. */
static int activity_window_minutes(const struct control *c)
{
	int64_t m = 60;

	if (c->activity_ok_ms > 0)
		m = (clock_mono_ms() - c->activity_ok_ms) / 60000 + 2;
	return m < 3 ? 3 : m > 60 ? 60 : (int)m;
}

/*
 * The numbers that need SQL: one metrics query, rendered for scrapes to
 * copy; its rows also give the service status line (sd_notify STATUS=)
 * and, with the per-minute aggregate, the status page's snapshot.
 */
static void refresh_metrics(struct control *c, const struct config *cfg)
{
	struct metrics_rows rows = { 0 };
	struct svc_counts counts;
	struct err e = { 0 };

	/* A failure waits for the next turn too (its age shows the gap). */
	c->next_metrics_ms = clock_mono_ms() + cfg->metrics_interval_ms;
	if (telemetry_refresh(c->conn, &rows, &e) != 0) {
		fail(c, "could not refresh the metrics snapshot", &e);
		return;
	}
	telemetry_svc_counts(&rows, &counts);
	runtime_set_counts(c->rt, &counts);
	if (status_view_refresh(c->conn, cfg, &rows, activity_window_minutes(c), &e) != 0)
		fail(c, "could not refresh the status page snapshot", &e);
	else
		c->activity_ok_ms = clock_mono_ms();
	metrics_rows_cleanup(&rows);
}

/* Release what the current month's quotas admit (quota_store.h). */
static void release_quota(struct control *c, const struct config *cfg)
{
	struct err e = { 0 };
	int64_t n = 0;

	c->next_quota_ms = clock_mono_ms() + QUOTA_EVERY_MS;
	if (quota_release_due(c->conn, &cfg->plan_quotas, clock_wall_ms() / 1000, &n, &e) != 0) {
		fail(c, "could not release deliveries held for quota", &e);
		return;
	}
	if (n > 0)
		log_info("released conversions held for quota", "n=%lld", (long long)n);
}

static bool drain_notifies(struct control *c)
{
	PGnotify *n;
	bool catalog = false;

	if (PQconsumeInput(c->conn) == 0) {
		struct err e;

		err_set(&e, ERR_DB, "%s", PQerrorMessage(c->conn));
		fail(c, "lost the database connection", &e);
		return false;
	}
	while ((n = PQnotifies(c->conn)) != NULL) {
		catalog = true;
		PQfreemem(n);
	}
	return catalog;
}

static void *control_main(void *arg)
{
	struct control *c = arg;

	for (;;) {
		struct config *cfg = runtime_config(c->rt);
		struct pollfd pfd[2] = { { .fd = c->stop_fd, .events = POLLIN } };
		int nfds = 1;
		int64_t now;

		if (ensure_conn(c, cfg)) {
			now = clock_mono_ms();
			if (now >= c->next_reload_ms)
				reload_sources(c);
			if (c->conn && now >= c->next_sweep_ms)
				sweep_leases(c, cfg);
			if (c->conn && now >= c->next_partitions_ms)
				ensure_partitions(c);
			if (c->conn && now >= c->next_metrics_ms)
				refresh_metrics(c, cfg);
			if (c->conn && now >= c->next_quota_ms)
				release_quota(c, cfg);
		}
		config_unref(cfg);
		if (c->conn) {
			pfd[1].fd = PQsocket(c->conn);
			pfd[1].events = POLLIN;
			nfds = 2;
		}
		if (poll(pfd, (nfds_t)nfds, c->conn ? 500 : reconnect_wait_ms(c)) < 0)
			continue;
		if (pfd[0].revents)
			break;
		if (nfds == 2 && pfd[1].revents && drain_notifies(c))
			c->next_reload_ms = 0;
	}
	db_link_drop(&c->link);
	c->conn = NULL;
	return NULL;
}

int control_start(struct runtime *rt, struct event_base *loop, control_sources_cb cb, void *arg,
		  struct control **out, struct err *e)
{
	struct control *c = xcalloc(1, sizeof(*c));
	int rc;

	c->rt = rt;
	c->cb = cb;
	c->cb_arg = arg;
	db_link_init(&c->link, "adsengd-control");
	pthread_mutex_init(&c->mu, NULL);
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	c->publish_ev = event_new(loop, -1, 0, publish_cb, c);
	if (c->stop_fd < 0 || c->publish_ev == NULL) {
		if (c->stop_fd >= 0)
			close(c->stop_fd);
		if (c->publish_ev)
			event_free(c->publish_ev);
		db_link_cleanup(&c->link);
		free(c);
		return err_set(e, ERR_IO, "could not set up the control thread");
	}
	rc = thread_start(&c->thread, "control", control_main, c, e);
	if (rc != 0) {
		close(c->stop_fd);
		event_free(c->publish_ev);
		db_link_cleanup(&c->link);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void control_stop(struct control *c)
{
	uint64_t one = 1;

	if (c == NULL)
		return;
	if (write(c->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("could not signal the control thread", NULL);
	if (!runtime_join_thread(c->rt, c->thread, &c->link, "control"))
		return; /* it still uses c */
	db_link_cleanup(&c->link);
	close(c->stop_fd);
	event_free(c->publish_ev);
	source_set_unref(c->pending);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
