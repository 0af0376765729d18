/*
 * activity_store.h - the per-minute activity table (sql/0016) and the
 * snapshot the status page (GET /status) is rendered from.
 *
 * The control thread calls activity_store_refresh() every [server]
 * metrics_interval: it recomputes the last few minutes of activity_minutes
 * from the recent rows of raw_events and deliveries (BRIN indexes keep
 * that a read of the recent window, never of the history) and prunes
 * rows older than 48 hours.  activity_store_load() then reads the page's
 * numbers from the aggregate and the catalog: per destination and per
 * source counts over the last hour and day, and the per-minute series of
 * the last 24 hours.  The numbers that the metrics snapshot already has
 * (backlog, oldest due age, breaker) and the in-process upload latency
 * quantiles are filled in by the caller (pipeline/status_view.h).
 */
#ifndef ADSENG_STORE_ACTIVITY_STORE_H
#define ADSENG_STORE_ACTIVITY_STORE_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ACTIVITY_NAME_MAX   160 /* longer names are cut (whole UTF-8 characters) */
#define ACTIVITY_CHART_MINS 1440

struct activity_dest {
	char id[37];
	char kind[32];
	char name[ACTIVITY_NAME_MAX];
	char paused_reason[ACTIVITY_NAME_MAX]; /* "" = not paused */
	char breaker[16];		       /* closed, open, half_open (metrics) */
	double backlog;			       /* pending + in_flight + held (metrics) */
	double oldest_due_s;		       /* (metrics) 0 = none */
	int64_t delivered_1h, failed_1h, dead_1h;
	int64_t delivered_24h, failed_24h, dead_24h;
	double p50_s, p99_s; /* upload latency; NAN = no upload yet */
};

struct activity_source {
	char id[37];
	char kind[32];
	char name[ACTIVITY_NAME_MAX];
	int64_t events_1h, events_24h;
	int64_t last_event_unix; /* 0 = none in the last 48 h */
};

/* One tenant's conversions this month against its quota (quota_store.h's
 * admin_usage_list, filled in by the caller). */
struct activity_usage {
	char tenant[ACTIVITY_NAME_MAX];
	char plan[32];
	char month[16];
	int64_t used;
	int64_t quota; /* -1 = unlimited */
	int64_t held;  /* conversions waiting for quota */
};

/* One minute of the chart, summed over every source / destination. */
struct activity_point {
	int64_t minute_unix;
	int64_t ingested, delivered;
};

struct activity_snapshot {
	atomic_int refs;
	int64_t taken_unix; /* when it was read (the page shows its age) */
	struct activity_dest *dests;
	size_t n_dests;
	struct activity_source *sources;
	size_t n_sources;
	struct activity_point *points; /* ascending minute; minutes without activity left out */
	size_t n_points;
	struct activity_usage *usage; /* by the caller; NULL when not read */
	size_t n_usage;
};

/* Recompute the last window_minutes minutes (and the current one) of
 * activity_minutes and prune old rows, in one statement.  *done is false
 * when another daemon held the lock (it does the same work).  0 or
 * ERR_DB.  Control thread (any thread with its own connection). */
int activity_store_refresh(PGconn *conn, int window_minutes, bool *done, struct err *e) WUR;

/* Read a new snapshot (refs = 1; caller owns it) from the catalog and
 * activity_minutes; the metrics fields are left zero ("closed" breaker,
 * NAN latency).  0, ERR_DB or ERR_NOMEM. */
int activity_store_load(PGconn *conn, struct activity_snapshot **out, struct err *e) WUR;

/* Drop a reference; the last one frees.  NULL is a no-op.  Any thread. */
void activity_snapshot_unref(struct activity_snapshot *s);

#endif
