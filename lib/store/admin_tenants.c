/*
 * admin_tenants.c - the catalog changes admin.c did not have: a tenant's
 * update and disable, and deleting a route.  Each runs in one transaction
 * with its audit_log row, as every mutation in admin.h does; the CLI and
 * the admin API call the same functions.
 */
#include "store/admin.h"
#include "store/admin_int.h"
#include "store/db.h"
#include "store/quota_store.h"
#include "core/clock.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define SQLSTATE_CHECK "23514"

/* An UPDATE's result as our codes: unique → conflict, check → invalid. */
static int update_result(PGconn *conn, PGresult *res, const char *what, int64_t *n, struct err *e)
{
	const char *st = db_sqlstate(res);
	int rc;

	if (strcmp(st, SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "%s: the name is taken", what);
	else if (strcmp(st, SQLSTATE_CHECK) == 0)
		rc = err_set(e, ERR_INVALID, "%s: a value is not allowed", what);
	else
		rc = adm_check(conn, res, what, e);
	if (rc == 0)
		*n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

int admin_tenant_update(PGconn *conn, const char *actor, int64_t id, const char *name,
			const char *plan, const struct plan_quotas *q, int64_t *released,
			struct err *e)
{
	struct params p = { 0 };
	int64_t n = 0;
	cJSON *d;
	bool ok = true;
	int rc = adm_tx_begin(conn, e);

	if (rc != 0)
		return rc;
	adm_p_int64(&p, id);
	adm_p_text(&p, name);
	adm_p_text(&p, plan);
	rc = update_result(conn,
			   adm_p_exec(conn,
				      "UPDATE tenants SET name = coalesce($2, name),"
				      " plan = coalesce($3, plan) WHERE id = $1::bigint",
				      &p),
			   "could not update tenant", &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_NOTFOUND, "no tenant %lld", (long long)id);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_num(d, "id", (double)id, &ok);
	if (name)
		adm_put_str(d, "name", name, &ok);
	if (plan)
		adm_put_str(d, "plan", plan, &ok);
	rc = adm_audit(conn, actor, "tenant.update", d, ok, e);
	/* A new plan may admit what waits for quota: released in the same
	 * transaction, as the billing webhook's plan change does. */
	*released = 0;
	if (rc == 0 && plan && q)
		rc = quota_release_tenant(conn, q, id, clock_wall_ms() / 1000, actor, "plan",
					  released, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_tenant_disable(PGconn *conn, const char *actor, int64_t id, int64_t *sources,
			 struct err *e)
{
	struct params p = { 0 };
	int64_t n = 0;
	cJSON *d;
	bool ok = true;
	int rc = adm_tx_begin(conn, e);

	if (rc != 0)
		return rc;
	adm_p_int64(&p, id);
	rc = adm_run_cmd(conn, "UPDATE tenants SET disabled = true WHERE id = $1::bigint", &p,
			 "could not disable tenant", &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_NOTFOUND, "no tenant %lld", (long long)id);
	/* Its webhooks are refused from now on (the catalog trigger NOTIFYs
	 * the daemons); conversions already stored are still delivered. */
	if (rc == 0)
		rc = adm_run_cmd(conn,
				 "UPDATE sources SET enabled = false, updated_at = now()"
				 " WHERE tenant_id = $1::bigint AND enabled",
				 &p, "could not disable the tenant's sources", sources, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_num(d, "id", (double)id, &ok);
	adm_put_num(d, "sources_disabled", (double)*sources, &ok);
	rc = adm_audit(conn, actor, "tenant.disable", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_route_delete(PGconn *conn, const char *actor, const char *source_id, const char *dest_id,
		       struct err *e)
{
	struct params p = { 0 };
	int64_t n = 0;
	cJSON *d;
	bool ok = true;
	int rc = adm_tx_begin(conn, e);

	if (rc != 0)
		return rc;
	adm_p_text(&p, source_id);
	adm_p_text(&p, dest_id);
	rc = adm_run_cmd(conn,
			 "DELETE FROM routes WHERE source_id = $1::uuid"
			 " AND destination_id = $2::uuid",
			 &p, "could not delete route", &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_NOTFOUND, "no route from %s to %s", source_id, dest_id);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_str(d, "source_id", source_id, &ok);
	adm_put_str(d, "destination_id", dest_id, &ok);
	rc = adm_audit(conn, actor, "route.delete", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}
