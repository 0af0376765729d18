/*
 * admin.c - the catalog operations of admin.h: tenants, sources,
 * destinations (pause, resume) and routes, each mutation in one
 * transaction with its audit_log row.  Shared helpers: admin_core.c.
 */
#include "store/admin.h"
#include "core/clock.h"
#include "store/adjustment_store.h"
#include "store/admin_breaker.h"
#include "store/admin_int.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tenants ------------------------------------------------------------------ */

static int tenant_insert(PGconn *conn, const char *name, const char *plan, const int64_t *quota,
			 int64_t *id, struct err *e)
{
	struct params p = { 0 };
	PGresult *res;
	int rc;

	adm_p_text(&p, name);
	adm_p_text(&p, plan);
	if (quota)
		adm_p_int64(&p, *quota);
	else
		adm_p_text(&p, NULL);
	res = adm_p_exec(
		conn,
		"INSERT INTO tenants (name, plan, monthly_quota) VALUES ($1, $2, $3::bigint)"
		" RETURNING id",
		&p);
	if (strcmp(db_sqlstate(res), SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "tenant \"%s\" already exists", name);
	else
		rc = adm_check(conn, res, "could not add tenant", e);
	if (rc == 0)
		*id = db_get_int64(res, 0, 0);
	PQclear(res);
	return rc;
}

int admin_tenant_add(PGconn *conn, const char *actor, const char *name, const char *plan,
		     const int64_t *quota, int64_t *id, struct err *e)
{
	cJSON *d;
	bool ok = true;
	int rc;

	rc = adm_tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = tenant_insert(conn, name, plan, quota, id, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_num(d, "id", (double)*id, &ok);
	adm_put_str(d, "name", name, &ok);
	adm_put_str(d, "plan", plan, &ok);
	adm_put(d, "monthly_quota", quota ? cJSON_CreateNumber((double)*quota) : cJSON_CreateNull(),
		&ok);
	rc = adm_audit(conn, actor, "tenant.add", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_tenant_list(PGconn *conn, cJSON **out, struct err *e)
{
	struct params p = { 0 };

	return adm_query_rows(
		conn,
		"SELECT t.id, t.name, t.plan, t.plan_status, t.monthly_quota,"
		" (SELECT count(*) FROM sources s WHERE s.tenant_id = t.id) AS sources,"
		" (SELECT count(*) FROM destinations x WHERE x.tenant_id = t.id)"
		" AS destinations, t.created_at"
		" FROM tenants t ORDER BY t.id",
		&p, "could not list tenants", out, e);
}

/* ---- sources -------------------------------------------------------------------- */

int admin_source_add(PGconn *conn, const char *actor, const struct admin_source_new *s,
		     struct err *e)
{
	struct params p = { 0 };
	PGresult *res = NULL;
	cJSON *d;
	bool ok = true;
	int rc;

	rc = adm_tx_begin(conn, e);
	if (rc != 0)
		return rc;
	adm_p_text(&p, s->id);
	adm_p_int64(&p, s->tenant_id);
	adm_p_text(&p, s->kind);
	adm_p_text(&p, s->name);
	adm_p_binary(&p, s->sealed, (int)s->sealed_len, PGOID_BYTEA);
	adm_p_text(&p, s->settings_json ? s->settings_json : "{}");
	adm_p_binary(&p, s->sealed_rest, (int)s->sealed_rest_len, PGOID_BYTEA);
	res = adm_p_exec(
		conn,
		"INSERT INTO sources (id, tenant_id, kind, name, secret, settings,"
		" rest_credentials) VALUES ($1::uuid, $2::bigint, $3, $4, $5, $6::jsonb, $7)",
		&p);
	if (strcmp(db_sqlstate(res), SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "the tenant already has a source named \"%s\"",
			     s->name);
	else
		rc = adm_check(conn, res, "could not add source", e);
	PQclear(res);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_str(d, "id", s->id, &ok);
	adm_put_num(d, "tenant_id", (double)s->tenant_id, &ok);
	adm_put_str(d, "kind", s->kind, &ok);
	adm_put_str(d, "name", s->name, &ok);
	adm_put_str(d, "settings", s->settings_json ? s->settings_json : "{}", &ok);
	rc = adm_audit(conn, actor, "source.add", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_source_list(PGconn *conn, int64_t tenant_id, cJSON **out, struct err *e)
{
	struct params p = { 0 };

	adm_p_int64_opt(&p, tenant_id);
	return adm_query_rows(
		conn,
		"SELECT s.id, t.name AS tenant, s.tenant_id, s.kind, s.name, s.enabled,"
		" s.created_at, s.updated_at"
		" FROM sources s JOIN tenants t ON t.id = s.tenant_id"
		" WHERE ($1::bigint IS NULL OR s.tenant_id = $1::bigint)"
		" ORDER BY t.name, s.name",
		&p, "could not list sources", out, e);
}

int admin_source_set_enabled(PGconn *conn, const char *actor, const char *id, bool enabled,
			     struct err *e)
{
	struct params p = { 0 };
	int64_t n = 0;
	cJSON *d;
	bool ok = true;
	int rc;

	rc = adm_tx_begin(conn, e);
	if (rc != 0)
		return rc;
	adm_p_text(&p, id);
	adm_p_bool(&p, enabled);
	rc = adm_run_cmd(conn,
			 "UPDATE sources SET enabled = $2::boolean, updated_at = now()"
			 " WHERE id = $1::uuid",
			 &p, "could not update source", &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_NOTFOUND, "no source with id %s", id);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_str(d, "id", id, &ok);
	rc = adm_audit(conn, actor, enabled ? "source.enable" : "source.disable", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_source_set_rate_limit(PGconn *conn, const char *actor, const char *id, int64_t rate,
				int64_t burst, struct err *e)
{
	struct params p = { 0 };
	int64_t n = 0;
	cJSON *d;
	bool ok = true;
	int rc;

	rc = adm_tx_begin(conn, e);
	if (rc != 0)
		return rc;
	adm_p_text(&p, id);
	adm_p_int64(&p, rate);
	adm_p_int64(&p, burst);
	/* The catalog trigger NOTIFYs: running daemons take the new limit with
	 * their next source snapshot. */
	rc = adm_run_cmd(conn,
			 "UPDATE sources SET settings = CASE WHEN $2::bigint = 0"
			 " THEN settings - 'ratelimit_rate' - 'ratelimit_burst'"
			 " ELSE settings || jsonb_build_object('ratelimit_rate', $2::bigint,"
			 " 'ratelimit_burst', $3::bigint) END, updated_at = now()"
			 " WHERE id = $1::uuid",
			 &p, "could not update source", &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_NOTFOUND, "no source with id %s", id);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_str(d, "id", id, &ok);
	if (rate) {
		adm_put_num(d, "rate", (double)rate, &ok);
		adm_put_num(d, "burst", (double)burst, &ok);
	}
	rc = adm_audit(conn, actor, "source.rate_limit", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

/* ---- destinations ------------------------------------------------------------- */

static int destination_insert(PGconn *conn, const struct admin_destination_new *x, struct err *e)
{
	struct params p = { 0 };
	PGresult *res;
	int rc;

	adm_p_text(&p, x->id);
	adm_p_int64(&p, x->tenant_id);
	adm_p_text(&p, x->kind);
	adm_p_text(&p, x->name);
	adm_p_binary(&p, x->sealed, (int)x->sealed_len, PGOID_BYTEA);
	adm_p_text(&p, x->settings_json);
	adm_p_bool(&p, x->test_mode);
	res = adm_p_exec(conn,
			 "INSERT INTO destinations"
			 " (id, tenant_id, kind, name, credentials, settings, test_mode)"
			 " VALUES ($1::uuid, $2::bigint, $3, $4, $5, $6::jsonb, $7::boolean)",
			 &p);
	if (strcmp(db_sqlstate(res), SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "the tenant already has a destination named \"%s\"",
			     x->name);
	else
		rc = adm_check(conn, res, "could not add destination", e);
	PQclear(res);
	return rc;
}

int admin_destination_add(PGconn *conn, const char *actor, const struct admin_destination_new *x,
			  struct err *e)
{
	cJSON *d;
	bool ok = true;
	int rc;

	rc = adm_tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = destination_insert(conn, x, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_str(d, "id", x->id, &ok);
	adm_put_num(d, "tenant_id", (double)x->tenant_id, &ok);
	adm_put_str(d, "kind", x->kind, &ok);
	adm_put_str(d, "name", x->name, &ok);
	adm_put(d, "settings", cJSON_Parse(x->settings_json), &ok);
	adm_put(d, "test_mode", cJSON_CreateBool(x->test_mode), &ok);
	rc = adm_audit(conn, actor, "destination.add", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_destination_list(PGconn *conn, int64_t tenant_id, cJSON **out, struct err *e)
{
	struct params p = { 0 };

	adm_p_int64_opt(&p, tenant_id);
	return adm_query_rows(
		conn,
		"SELECT x.id, t.name AS tenant, x.tenant_id, x.kind, x.name, x.enabled,"
		" x.paused_reason, x.test_mode, x.settings, x.created_at, x.updated_at"
		" FROM destinations x JOIN tenants t ON t.id = x.tenant_id"
		" WHERE ($1::bigint IS NULL OR x.tenant_id = $1::bigint)"
		" ORDER BY t.name, x.name",
		&p, "could not list destinations", out, e);
}

/* Set enabled/paused_reason; ERR_NOTFOUND when there is no such row. */
static int destination_set_enabled(PGconn *conn, const char *id, bool enabled, const char *reason,
				   struct err *e)
{
	struct params p = { 0 };
	int64_t n = 0;
	int rc;

	adm_p_text(&p, id);
	adm_p_bool(&p, enabled);
	adm_p_text(&p, reason);
	rc = adm_run_cmd(conn,
			 "UPDATE destinations SET enabled = $2::boolean, paused_reason = $3,"
			 " updated_at = now() WHERE id = $1::uuid",
			 &p, "could not update destination", &n, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_NOTFOUND, "no destination with id %s", id);
	return rc;
}

int admin_destination_pause(PGconn *conn, const char *actor, const char *id, const char *reason,
			    int64_t *held, struct err *e)
{
	struct params p = { 0 };
	cJSON *d;
	bool ok = true;
	int rc;

	*held = 0;
	rc = adm_tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = destination_set_enabled(conn, id, false, reason, e);
	if (rc != 0)
		goto out;
	adm_p_text(&p, id);
	rc = adm_run_cmd(conn,
			 "UPDATE deliveries SET state = 'held', updated_at = now()"
			 " WHERE destination_id = $1::uuid AND state = 'pending'",
			 &p, "could not hold deliveries", held, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_str(d, "id", id, &ok);
	adm_put_str(d, "reason", reason, &ok);
	adm_put_num(d, "held", (double)*held, &ok);
	rc = adm_audit(conn, actor, "destination.pause", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_destination_resume_in_tx(PGconn *conn, const char *actor, const char *id,
				   int64_t *released, struct err *e)
{
	struct params p = { 0 };
	cJSON *d;
	bool ok = true;
	int rc;

	*released = 0;
	rc = destination_set_enabled(conn, id, true, NULL, e);
	if (rc != 0)
		return rc;
	adm_p_text(&p, id);
	rc = adm_run_cmd(conn,
			 "UPDATE deliveries SET state = 'pending', next_attempt_at = now(),"
			 " updated_at = now() WHERE destination_id = $1::uuid AND state = 'held'"
			 /* held for quota: quota_store.c releases those */
			 " AND hold_reason IS NULL",
			 &p, "could not release deliveries", released, e);
	if (rc != 0)
		return rc;
	d = cJSON_CreateObject();
	adm_put_str(d, "id", id, &ok);
	adm_put_num(d, "released", (double)*released, &ok);
	rc = adm_audit(conn, actor, "destination.resume", d, ok, e);
	/* Delivered to the workers' LISTEN at COMMIT, not before. */
	if (rc == 0)
		rc = db_exec(conn, "NOTIFY adseng_deliveries", e);
	return rc;
}

int admin_destination_resume(PGconn *conn, const char *actor, const char *id, int64_t *released,
			     struct err *e)
{
	int rc;

	*released = 0;
	rc = adm_tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = admin_destination_resume_in_tx(conn, actor, id, released, e);
	return adm_tx_end(conn, rc, e);
}

/* ---- routes ---------------------------------------------------------------------- */

static int route_upsert(PGconn *conn, const char *source_id, const char *dest_id,
			const char *const *events, int n_events, bool *created, struct err *e)
{
	struct params p = { 0 };
	struct pgarr arr;
	const char *data = NULL;
	PGresult *res = NULL;
	int len = 0, rc;

	pgarr_init(&arr, PGOID_TEXT);
	for (int i = 0; i < n_events; i++)
		pgarr_add_text(&arr, events[i]);
	if (events && n_events > 0)
		data = pgarr_finish(&arr, &len);
	adm_p_text(&p, source_id);
	adm_p_text(&p, dest_id);
	adm_p_binary(&p, data, len, OID_TEXTARRAY);
	rc = adm_run(
		conn,
		"INSERT INTO routes (source_id, destination_id, events)"
		" VALUES ($1::uuid, $2::uuid, $3)"
		" ON CONFLICT (source_id, destination_id) DO UPDATE SET events = EXCLUDED.events"
		" RETURNING (xmax = 0) AS created",
		&p, "could not add route", &res, e);
	if (rc == 0)
		*created = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	pgarr_cleanup(&arr);
	return rc;
}

int admin_route_add(PGconn *conn, const char *actor, const char *source_id, const char *dest_id,
		    const char *const *events, int n_events, bool *created, struct err *e)
{
	cJSON *d, *ev = NULL;
	bool ok = true;
	int rc;

	rc = adm_tx_begin(conn, e);
	if (rc != 0)
		return rc;
	rc = route_upsert(conn, source_id, dest_id, events, n_events, created, e);
	if (rc != 0)
		goto out;
	d = cJSON_CreateObject();
	adm_put_str(d, "source_id", source_id, &ok);
	adm_put_str(d, "destination_id", dest_id, &ok);
	if (events && n_events > 0)
		ev = cJSON_CreateStringArray(events, n_events);
	adm_put(d, "events", ev ? ev : cJSON_CreateNull(), &ok);
	adm_put(d, "created", cJSON_CreateBool(*created), &ok);
	rc = adm_audit(conn, actor, "route.add", d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_route_list(PGconn *conn, int64_t tenant_id, cJSON **out, struct err *e)
{
	struct params p = { 0 };

	adm_p_int64_opt(&p, tenant_id);
	return adm_query_rows(
		conn,
		"SELECT t.name AS tenant, r.source_id, s.name AS source,"
		" r.destination_id, x.name AS destination, to_json(r.events) AS events,"
		" r.created_at"
		" FROM routes r JOIN sources s ON s.id = r.source_id"
		" JOIN destinations x ON x.id = r.destination_id"
		" JOIN tenants t ON t.id = s.tenant_id"
		" WHERE ($1::bigint IS NULL OR s.tenant_id = $1::bigint)"
		" ORDER BY t.name, s.name, x.name",
		&p, "could not list routes", out, e);
}
