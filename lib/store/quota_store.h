/*
 * quota_store.h - releasing deliveries held for quota, and reading usage
 * against quota (sql/0017_quota.sql).  Stage 1 holds and counts
 * (normalize_store.c); this module lets them go when a tenant may send
 * more: a plan change (the billing webhook, in stage 1's transaction) or a
 * new month (the control thread's periodic check).
 *
 * Release policy: up to the quota left in the current month, oldest
 * conversion first, all deliveries of a conversion together; a tenant now
 * unlimited gets everything.  A released conversion counts against the
 * month it is released in (tenant_usage.admitted), so a backlog carried
 * into a new month uses that month's allowance and the rest keeps waiting.
 * Only hold_reason 'quota' moves: a delivery whose destination is paused
 * stays 'held' (its reason cleared, so `destination resume` frees it), and
 * deliveries held for a paused destination are never touched.
 */
#ifndef ADSENG_STORE_QUOTA_STORE_H
#define ADSENG_STORE_QUOTA_STORE_H
#include <libpq-fe.h>
#include <stdint.h>
#include "core/config.h"
#include "core/err.h"
#include "core/quota.h"

struct cJSON;

/*
 * In the caller's open transaction: lock tenant_id's usage row of the
 * month of now_s, then release what its limit (tenants.monthly_quota when
 * set, else the plan's in q) still admits this month.  When anything
 * moves: an audit_log row (action "quota.release", actor, details with
 * the reason `why` — "plan", "periodic" — the plan, limit, month and counts)
 * and NOTIFY adseng_deliveries (delivered at COMMIT).  *released gets the
 * number of conversions released.  0 or ERR_DB.  Any thread with its own
 * connection.
 */
int quota_release_tenant(PGconn *conn, const struct plan_quotas *q, int64_t tenant_id,
			 int64_t now_s, const char *actor, const char *why, int64_t *released,
			 struct err *e) WUR;

/*
 * The periodic check (control thread): for each tenant with deliveries
 * held for quota, one transaction of quota_release_tenant (actor
 * "adsengd", reason "periodic": a new month, or a quota raised by a
 * reload or by hand).  Cheap when nothing is held (a partial
 * index probe).  *released: conversions released in all.  0 or ERR_DB.
 */
int quota_release_due(PGconn *conn, const struct plan_quotas *q, int64_t now_s, int64_t *released,
		      struct err *e) WUR;

/*
 * Usage against quota in the current month (UTC), one object per tenant
 * (tenant_id 0 = all tenants): {"tenant_id","tenant","plan","month",
 * "quota" (null = unlimited),"used","remaining" (null = unlimited),
 * "over_quota" (arrived over quota this month),"held" (conversions
 * waiting for quota now)}.  *out: a new array, the caller's.  Blocking;
 * the CLI, the admin API's worker and the status page call it.
 */
int admin_usage_list(PGconn *conn, const struct config *cfg, int64_t tenant_id, struct cJSON **out,
		     struct err *e) WUR;

/* admin_usage_list added to a stats object (admin_stats) as "usage"
 * (stats is borrowed; the array becomes part of it). */
int admin_usage_add(PGconn *conn, const struct config *cfg, int64_t tenant_id, struct cJSON *stats,
		    struct err *e) WUR;
#endif
