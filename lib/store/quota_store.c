/*
 * quota_store.c - the SQL of quota releases and usage reports (see
 * quota_store.h for the policy).  The usage row of (tenant, month) is the
 * lock both stage 1 and a release take before reading `admitted`, so a
 * release and a batch of new conversions never both spend the last units.
 * Uses the admin helpers (admin_int.h) for parameters and audit rows.
 */
#include "store/quota_store.h"
#include "core/clock.h"
#include "store/admin.h"
#include "store/admin_int.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Create or lock the month's usage row; the tenant's plan and own quota. */
static const char lock_sql[] =
	"WITH u AS ("
	"  INSERT INTO tenant_usage (tenant_id, month) VALUES ($1::bigint, $2::date)"
	"  ON CONFLICT (tenant_id, month) DO UPDATE SET admitted = tenant_usage.admitted"
	"  RETURNING admitted"
	") SELECT u.admitted, t.plan, t.monthly_quota FROM u, tenants t WHERE t.id = $1::bigint";

/* Release the oldest $3 (NULL = all) conversions held for quota. */
static const char release_sql[] =
	"WITH pick AS ("
	"  SELECT conversion_id FROM deliveries"
	"  WHERE tenant_id = $1::bigint AND state = 'held' AND hold_reason = 'quota'"
	"  GROUP BY conversion_id ORDER BY conversion_id LIMIT $3::bigint"
	"), upd AS ("
	"  UPDATE deliveries d SET state = CASE WHEN x.enabled THEN 'pending' ELSE 'held' END,"
	"         hold_reason = NULL, next_attempt_at = now(), updated_at = now()"
	"  FROM destinations x"
	"  WHERE x.id = d.destination_id AND d.tenant_id = $1::bigint"
	"    AND d.conversion_id IN (SELECT conversion_id FROM pick)"
	"    AND d.state = 'held' AND d.hold_reason = 'quota'"
	"  RETURNING d.conversion_id, d.state"
	"), n AS ("
	"  SELECT count(DISTINCT conversion_id) AS conv, count(*) AS deliv,"
	"         count(*) FILTER (WHERE state = 'pending') AS pending FROM upd"
	"), u AS ("
	"  UPDATE tenant_usage SET admitted = admitted + (SELECT conv FROM n)"
	"  WHERE tenant_id = $1::bigint AND month = $2::date"
	") SELECT conv, deliv, pending FROM n";

/* The limit of a tenant: its own quota when set, else its plan's. */
static int64_t tenant_limit(const PGresult *res, const struct plan_quotas *q)
{
	if (!PQgetisnull(res, 0, 2))
		return strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	return quota_for_plan(q, PQgetvalue(res, 0, 1));
}

static int audit_release(PGconn *conn, const char *actor, const char *why, int64_t tenant_id,
			 const PGresult *lock, int64_t limit, const char *month,
			 const PGresult *rel, struct err *e)
{
	cJSON *d = cJSON_CreateObject();
	bool ok = true;

	adm_put_num(d, "tenant_id", (double)tenant_id, &ok);
	adm_put_str(d, "reason", why, &ok);
	adm_put_str(d, "plan", PQgetvalue(lock, 0, 1), &ok);
	adm_put(d, "quota", limit > 0 ? cJSON_CreateNumber((double)limit) : cJSON_CreateNull(),
		&ok);
	adm_put_str(d, "month", month, &ok);
	adm_put_num(d, "used_before", (double)strtoll(PQgetvalue(lock, 0, 0), NULL, 10), &ok);
	adm_put_num(d, "conversions", (double)strtoll(PQgetvalue(rel, 0, 0), NULL, 10), &ok);
	adm_put_num(d, "deliveries", (double)strtoll(PQgetvalue(rel, 0, 1), NULL, 10), &ok);
	adm_put_num(d, "pending", (double)strtoll(PQgetvalue(rel, 0, 2), NULL, 10), &ok);
	return adm_audit(conn, actor, "quota.release", d, ok, e);
}

int quota_release_tenant(PGconn *conn, const struct plan_quotas *q, int64_t tenant_id,
			 int64_t now_s, const char *actor, const char *why, int64_t *released,
			 struct err *e)
{
	struct params p = { 0 }, r = { 0 };
	PGresult *lock = NULL, *rel = NULL;
	char month[QUOTA_MONTH_TEXT], left[24];
	int64_t start, end, limit, admitted;
	int rc;

	*released = 0;
	quota_month_of(now_s, &start, &end, month);
	adm_p_int64(&p, tenant_id);
	adm_p_text(&p, month);
	rc = adm_run(conn, lock_sql, &p, "could not lock the tenant's usage", &lock, e);
	if (rc != 0 || PQntuples(lock) == 0)
		goto out;
	limit = tenant_limit(lock, q);
	admitted = strtoll(PQgetvalue(lock, 0, 0), NULL, 10);
	if (limit > 0 && admitted >= limit)
		goto out; /* nothing left this month */
	snprintf(left, sizeof(left), "%lld", (long long)(limit - admitted));
	adm_p_int64(&r, tenant_id);
	adm_p_text(&r, month);
	adm_p_text(&r, limit > 0 ? left : NULL);
	rc = adm_run(conn, release_sql, &r, "could not release deliveries held for quota", &rel, e);
	if (rc != 0)
		goto out;
	*released = strtoll(PQgetvalue(rel, 0, 0), NULL, 10);
	if (*released == 0)
		goto out;
	rc = audit_release(conn, actor, why, tenant_id, lock, limit, month, rel, e);
	/* Delivered to the workers' LISTEN at COMMIT, not before. */
	if (rc == 0)
		rc = db_exec(conn, "NOTIFY adseng_deliveries", e);
out:
	PQclear(lock);
	PQclear(rel);
	return rc;
}

int quota_release_due(PGconn *conn, const struct plan_quotas *q, int64_t now_s, int64_t *released,
		      struct err *e)
{
	struct params p = { 0 };
	PGresult *res = NULL;
	int rc;

	*released = 0;
	rc = adm_run(conn,
		     "SELECT DISTINCT tenant_id FROM deliveries"
		     " WHERE state = 'held' AND hold_reason = 'quota' ORDER BY 1",
		     &p, "could not find deliveries held for quota", &res, e);
	for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
		int64_t tenant = strtoll(PQgetvalue(res, i, 0), NULL, 10), n = 0;

		rc = adm_tx_begin(conn, e);
		if (rc != 0)
			break;
		rc = quota_release_tenant(conn, q, tenant, now_s, "adsengd", "periodic", &n, e);
		rc = adm_tx_end(conn, rc, e);
		if (rc == 0)
			*released += n;
	}
	PQclear(res);
	return rc;
}

/* ---- usage ------------------------------------------------------------------------ */

static const char usage_sql[] =
	"SELECT t.id AS tenant_id, t.name AS tenant, t.plan, t.monthly_quota,"
	" coalesce(u.admitted, 0) AS used, coalesce(u.over_quota, 0) AS over_quota,"
	" (SELECT count(DISTINCT d.conversion_id) FROM deliveries d WHERE d.tenant_id = t.id"
	"  AND d.state = 'held' AND d.hold_reason = 'quota') AS held"
	" FROM tenants t LEFT JOIN tenant_usage u ON u.tenant_id = t.id AND u.month = $1::date"
	" WHERE $2::bigint IS NULL OR t.id = $2::bigint ORDER BY t.name";

/* Replace monthly_quota by the effective "quota" and add "remaining". */
static bool usage_annotate(cJSON *row, const struct plan_quotas *q, const char *month)
{
	const cJSON *own = cJSON_GetObjectItemCaseSensitive(row, "monthly_quota");
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(row, "plan");
	const cJSON *used = cJSON_GetObjectItemCaseSensitive(row, "used");
	int64_t limit = cJSON_IsNumber(own) ? (int64_t)own->valuedouble
					    : quota_for_plan(q, cJSON_GetStringValue(plan));
	double u = cJSON_IsNumber(used) ? used->valuedouble : 0;
	bool ok = true;

	cJSON_DeleteItemFromObjectCaseSensitive(row, "monthly_quota");
	adm_put_str(row, "month", month, &ok);
	adm_put(row, "quota", limit > 0 ? cJSON_CreateNumber((double)limit) : cJSON_CreateNull(),
		&ok);
	adm_put(row, "remaining",
		limit > 0 ? cJSON_CreateNumber(u >= (double)limit ? 0 : (double)limit - u)
			  : cJSON_CreateNull(),
		&ok);
	return ok;
}

int admin_usage_list(PGconn *conn, const struct config *cfg, int64_t tenant_id, cJSON **out,
		     struct err *e)
{
	struct params p = { 0 };
	char month[QUOTA_MONTH_TEXT];
	int64_t start, end;
	cJSON *rows = NULL, *row;
	int rc;

	*out = NULL;
	quota_month_of(clock_wall_ms() / 1000, &start, &end, month);
	adm_p_text(&p, month);
	adm_p_int64_opt(&p, tenant_id);
	rc = adm_query_rows(conn, usage_sql, &p, "could not read usage", &rows, e);
	if (rc != 0)
		return rc;
	cJSON_ArrayForEach (row, rows) {
		if (!usage_annotate(row, &cfg->plan_quotas, month)) {
			cJSON_Delete(rows);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	*out = rows;
	return 0;
}

int admin_usage_add(PGconn *conn, const struct config *cfg, int64_t tenant_id, cJSON *stats,
		    struct err *e)
{
	cJSON *rows = NULL;
	int rc = admin_usage_list(conn, cfg, tenant_id, &rows, e);

	if (rc != 0)
		return rc;
	if (!cJSON_AddItemToObject(stats, "usage", rows)) {
		cJSON_Delete(rows);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}
