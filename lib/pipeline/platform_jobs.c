/*
 * platform_jobs.c - the platform thread (platform_jobs.h).  Plain blocking
 * libpq and blocking HTTP (net/fetch.h), poll(2) on an eventfd between
 * jobs so a stop is seen within a tick; each job also polls it between
 * its own steps.
 */
#include "pipeline/platform_jobs.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/thread.h"
#include "pipeline/audience_sync.h"
#include "pipeline/dest_cache.h"
#include "pipeline/reconcile.h"
#include "pipeline/request_poll.h"
#include "store/db.h"
#include "store/delivery_store.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* How often due audiences and due reconciles are looked for, at most (a
 * shorter [audiences] sync_interval looks that often). */
#define AUDIENCES_CHECK_MS 60000
#define RECONCILE_CHECK_MS 60000
/* How often the destination snapshot used by status queries is dropped,
 * so a changed destination is seen. */
#define DESTS_REFRESH_MS 30000

struct platform_jobs {
	struct runtime *rt;
	pthread_t thread;
	int stop_fd;
	PGconn *conn; /* link.conn, or NULL while disconnected */
	struct db_link link;
	struct log_ratelimit rl;
	int64_t next_status_ms, next_audiences_ms, next_reconcile_ms, next_dests_ms;
	struct dest_cache dests; /* for status queries */
};

static void fail(struct platform_jobs *p, const char *what, const struct err *e)
{
	int suppressed;

	if (log_ratelimit_allow(&p->rl, 6, &suppressed))
		log_warn(what, "err=\"%s\" suppressed=%d", e->msg, suppressed);
	/* Broken: reconnect later; a statement or lock timeout: roll back. */
	if (p->conn && !db_link_recover(&p->link))
		p->conn = NULL;
}

static int setup_conn_cb(PGconn *conn, void *arg, struct err *e)
{
	(void)arg;
	return delivery_store_prepare(conn, e);
}

static bool ensure_conn(struct platform_jobs *p, const struct config *cfg)
{
	struct db_session s;
	bool fresh;

	if (db_link_is_shut(&p->link))
		return false; /* stopping late: no more statements */
	if (p->conn)
		return true;
	db_session_from_config(&s, cfg);
	if (db_link_ensure(&p->link, cfg->db_url, &s, setup_conn_cb, NULL, &fresh) != 0)
		return false;
	p->conn = p->link.conn;
	return true;
}

/* Whether a stop was asked for (the eventfd is readable). */
static bool stop_asked(void *arg)
{
	struct platform_jobs *p = arg;
	struct pollfd pfd = { .fd = p->stop_fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

static void query_statuses(struct platform_jobs *p, const struct config *cfg)
{
	struct err e = { 0 };

	if (request_poll_run(p->conn, p->rt, cfg, &p->dests, stop_asked, p, &e) != 0)
		fail(p, "could not query platform request statuses", &e);
	p->next_status_ms = clock_mono_ms() + cfg->status_check_ms;
}

/* Customer-list audiences whose last sync is [audiences] sync_interval
 * old (one daemon at a time by an advisory lock). */
static void sync_audiences(struct platform_jobs *p, const struct config *cfg)
{
	int64_t every = cfg->audience_sync_interval_ms;
	struct audience_sync_ctx ctx = { .conn = p->conn,
					 .cfg = cfg,
					 .vault = p->rt->vault,
					 .oauth = p->rt->oauth,
					 .should_stop = stop_asked,
					 .stop_arg = p };
	struct err e = { 0 };

	p->next_audiences_ms =
		clock_mono_ms() +
		(every > 0 && every < AUDIENCES_CHECK_MS ? every : AUDIENCES_CHECK_MS);
	if (every == 0)
		return;
	if (audience_sync_due(&ctx, every, &e) != 0)
		fail(p, "could not sync audiences", &e);
}

static void reconcile_sources(struct platform_jobs *p)
{
	struct reconcile_ctx ctx = { .conn = p->conn,
				     .vault = p->rt->vault,
				     .actor = "adsengd",
				     .should_stop = stop_asked,
				     .stop_arg = p };
	struct err e = { 0 };
	int ran;

	p->next_reconcile_ms = clock_mono_ms() + RECONCILE_CHECK_MS;
	if (reconcile_run_due(&ctx, &ran, &e) != 0)
		fail(p, "could not run the periodic reconciles", &e);
}

static void run_due(struct platform_jobs *p, const struct config *cfg)
{
	int64_t now = clock_mono_ms();

	if (now >= p->next_dests_ms) {
		dest_cache_clear(&p->dests);
		p->next_dests_ms = now + DESTS_REFRESH_MS;
	}
	if (p->conn && now >= p->next_status_ms)
		query_statuses(p, cfg);
	if (p->conn && now >= p->next_audiences_ms)
		sync_audiences(p, cfg);
	if (p->conn && now >= p->next_reconcile_ms)
		reconcile_sources(p);
}

static void *platform_main(void *arg)
{
	struct platform_jobs *p = arg;

	for (;;) {
		struct config *cfg = runtime_config(p->rt);
		struct pollfd pfd = { .fd = p->stop_fd, .events = POLLIN };
		int wait_ms = 500;

		if (ensure_conn(p, cfg))
			run_due(p, cfg);
		else
			wait_ms = (int)db_link_wait_ms(&p->link);
		config_unref(cfg);
		if (poll(&pfd, 1, wait_ms < 50 ? 50 : wait_ms) > 0)
			break;
	}
	db_link_drop(&p->link);
	p->conn = NULL;
	return NULL;
}

int platform_jobs_start(struct runtime *rt, struct platform_jobs **out, struct err *e)
{
	struct platform_jobs *p = xcalloc(1, sizeof(*p));
	int rc;

	p->rt = rt;
	db_link_init(&p->link, "adsengd-platform");
	dest_cache_init(&p->dests);
	p->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (p->stop_fd < 0) {
		rc = err_set(e, ERR_IO, "could not set up the platform thread");
		goto fail;
	}
	rc = thread_start(&p->thread, "platform", platform_main, p, e);
	if (rc != 0)
		goto fail;
	*out = p;
	return 0;
fail:
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	dest_cache_cleanup(&p->dests);
	db_link_cleanup(&p->link);
	free(p);
	return rc;
}

void platform_jobs_stop(struct platform_jobs *p)
{
	uint64_t one = 1;

	if (p == NULL)
		return;
	if (write(p->stop_fd, &one, sizeof(one)) != sizeof(one))
		log_error("could not signal the platform thread", NULL);
	if (!runtime_join_thread(p->rt, p->thread, &p->link, "platform"))
		return; /* it still uses p */
	db_link_cleanup(&p->link);
	dest_cache_cleanup(&p->dests);
	close(p->stop_fd);
	free(p);
}
