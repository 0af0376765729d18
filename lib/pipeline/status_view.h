/*
 * status_view.h - the snapshot behind the status page (GET /status):
 * built by the control thread after each metrics snapshot, read by the
 * HTTP loop when a page is viewed.
 *
 * The control thread already holds the metrics snapshot's rows (backlog,
 * oldest due age, breaker per destination); it refreshes the per-minute
 * aggregate, reads the page's counts from it (store/activity_store.h),
 * adds the rows' numbers and the in-process upload latency quantiles, and
 * swaps the result in.  A page view takes a reference under a mutex and
 * renders from memory: it never runs SQL on the loop thread.
 */
#ifndef ADSENG_PIPELINE_STATUS_VIEW_H
#define ADSENG_PIPELINE_STATUS_VIEW_H

#include <libpq-fe.h>

#include "core/config.h"
#include "core/err.h"
#include "store/activity_store.h"
#include "store/metrics_store.h"

struct cJSON;

/* Refresh activity_minutes over the last window_minutes, read a new
 * snapshot, merge rows and the tenants' usage against quota (cfg's
 * [plans]) into it and publish it.  On failure the previous snapshot
 * stays.  Control thread. */
int status_view_refresh(PGconn *conn, const struct config *cfg, const struct metrics_rows *rows,
			int window_minutes, struct err *e) WUR;

/* Fill s->usage from admin_usage_list's JSON array (pure). */
void status_view_set_usage(struct activity_snapshot *s, const struct cJSON *usage);

/* Add the metrics rows' numbers and the latency quantiles to s (matched
 * by destination id).  Pure but for reading the in-process histogram. */
void status_view_merge(struct activity_snapshot *s, const struct metrics_rows *rows);

/* The current snapshot with a reference the caller drops with
 * activity_snapshot_unref(), or NULL before the first one.  Any thread. */
struct activity_snapshot *status_view_get(void);

#endif
