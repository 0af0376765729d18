/*
 * admin_sources.c - the changes to an existing source (admin.h): enable,
 * disable, its own ingest rate limit, and an update of its name and
 * settings.  Each is one UPDATE and its audit_log row in one transaction,
 * through source_update_audited, so the NOT FOUND and conflict answers
 * and the audit are the same for the CLI and the admin API.  Adding and
 * listing sources stay in admin.c.
 */
#include "store/admin.h"
#include "store/admin_int.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <string.h>

/*
 * Run sql (an UPDATE of one source, $1 its id, the rest in p) and write the
 * audit row action with details d (owned; ok false = an allocation failed)
 * in one transaction.  ERR_NOTFOUND when no row matched, ERR_CONFLICT when
 * the new name is taken within the tenant.
 */
static int source_update_audited(PGconn *conn, const char *actor, const char *id, const char *sql,
				 const struct params *p, const char *action, cJSON *d, bool ok,
				 struct err *e)
{
	PGresult *res;
	int rc = adm_tx_begin(conn, e);

	if (rc != 0) {
		cJSON_Delete(d);
		return rc;
	}
	res = adm_p_exec(conn, sql, p);
	if (strcmp(db_sqlstate(res), SQLSTATE_UNIQUE) == 0)
		rc = err_set(e, ERR_CONFLICT, "the tenant already has a source of that name");
	else
		rc = adm_check(conn, res, "could not update source", e);
	if (rc == 0 && strcmp(PQcmdTuples(res), "0") == 0)
		rc = err_set(e, ERR_NOTFOUND, "no source with id %s", id);
	PQclear(res);
	if (rc != 0) {
		cJSON_Delete(d);
		goto out;
	}
	rc = adm_audit(conn, actor, action, d, ok, e);
out:
	return adm_tx_end(conn, rc, e);
}

int admin_source_set_enabled(PGconn *conn, const char *actor, const char *id, bool enabled,
			     struct err *e)
{
	struct params p = { 0 };
	cJSON *d = cJSON_CreateObject();
	bool ok = true;

	adm_p_text(&p, id);
	adm_p_bool(&p, enabled);
	adm_put_str(d, "id", id, &ok);
	return source_update_audited(conn, actor, id,
				     "UPDATE sources SET enabled = $2::boolean, updated_at = now()"
				     " WHERE id = $1::uuid",
				     &p, enabled ? "source.enable" : "source.disable", d, ok, e);
}

int admin_source_set_rate_limit(PGconn *conn, const char *actor, const char *id, int64_t rate,
				int64_t burst, struct err *e)
{
	struct params p = { 0 };
	cJSON *d = cJSON_CreateObject();
	bool ok = true;

	adm_p_text(&p, id);
	adm_p_int64(&p, rate);
	adm_p_int64(&p, burst);
	adm_put_str(d, "id", id, &ok);
	if (rate) {
		adm_put_num(d, "rate", (double)rate, &ok);
		adm_put_num(d, "burst", (double)burst, &ok);
	}
	/* The catalog trigger NOTIFYs: running daemons take the new limit with
	 * their next source snapshot. */
	return source_update_audited(
		conn, actor, id,
		"UPDATE sources SET settings = CASE WHEN $2::bigint = 0"
		" THEN settings - 'ratelimit_rate' - 'ratelimit_burst'"
		" ELSE settings || jsonb_build_object('ratelimit_rate', $2::bigint,"
		" 'ratelimit_burst', $3::bigint) END, updated_at = now()"
		" WHERE id = $1::uuid",
		&p, "source.rate_limit", d, ok, e);
}

int admin_source_update(PGconn *conn, const char *actor, const char *id, const char *name,
			const char *settings_json, struct err *e)
{
	struct params p = { 0 };
	cJSON *d = cJSON_CreateObject();
	bool ok = true;

	adm_p_text(&p, id);
	adm_p_text(&p, name);
	adm_p_text(&p, settings_json);
	adm_put_str(d, "id", id, &ok);
	if (name)
		adm_put_str(d, "name", name, &ok);
	if (settings_json)
		adm_put(d, "settings", cJSON_Parse(settings_json), &ok);
	/* settings are merged key by key (jsonb ||): a key not named stays. */
	return source_update_audited(
		conn, actor, id,
		"UPDATE sources SET name = coalesce($2, name),"
		" settings = settings || coalesce($3::jsonb, '{}'::jsonb), updated_at = now()"
		" WHERE id = $1::uuid",
		&p, "source.update", d, ok, e);
}
