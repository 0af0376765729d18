/*
 * admin_google.c - the admin queries of the Google commands (see
 * admin_google.h).
 *
 * The id goes into the settings JSON with jsonb_set, so the other settings
 * (customer ids, consent, API version) stay exactly as `destination add`
 * normalized them.  The row is locked first, so the audit row's previous
 * id is the one actually replaced.
 */
#include "store/admin_google.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

/* Run sql with n text parameters; *out owns the result on success. */
static int exec_params(PGconn *conn, const char *sql, int n, const char *const *v, const char *what,
		       PGresult **out, struct err *e)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, v, NULL, NULL, 0);
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int rc = db_check(conn, res, what, e);

	if (rc != 0) {
		if (primary && !db_is_broken(conn))
			err_set(e, ERR_DB, "%s: %s", what, primary);
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

static cJSON *audit_details(const char *dest_id, const char *previous, const char *action_id,
			    const char *action_name, const char *resource_name)
{
	cJSON *d = cJSON_CreateObject();

	if (d == NULL || !cJSON_AddStringToObject(d, "id", dest_id) ||
	    !(previous ? cJSON_AddStringToObject(d, "previous", previous)
		       : cJSON_AddNullToObject(d, "previous")) ||
	    !cJSON_AddStringToObject(d, "conversion_action", action_id) ||
	    !cJSON_AddStringToObject(d, "name", action_name ? action_name : "") ||
	    !cJSON_AddStringToObject(d, "resource_name", resource_name ? resource_name : "")) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

/* The locked row's current settings.conversion_action (copied into prev,
 * empty when none); ERR_NOTFOUND. */
static int lock_previous(PGconn *conn, const char *dest_id, char *prev, size_t prevlen,
			 struct err *e)
{
	const char *v[1] = { dest_id };
	PGresult *res = NULL;
	int rc = exec_params(conn,
			     "SELECT settings->>'conversion_action' FROM destinations"
			     " WHERE id = $1::uuid FOR UPDATE",
			     1, v, "could not look up destination", &res, e);

	if (rc != 0)
		return rc;
	prev[0] = '\0';
	if (PQntuples(res) == 0)
		rc = err_set(e, ERR_NOTFOUND, "no destination with id %s", dest_id);
	else if (!PQgetisnull(res, 0, 0))
		snprintf(prev, prevlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

static int update_settings(PGconn *conn, const char *dest_id, const char *action_id, struct err *e)
{
	const char *v[2] = { dest_id, action_id };
	PGresult *res = NULL;
	int rc = exec_params(conn,
			     "UPDATE destinations SET settings = jsonb_set(coalesce(settings,"
			     " '{}'::jsonb), '{conversion_action}', to_jsonb($2::text)),"
			     " updated_at = now() WHERE id = $1::uuid",
			     2, v, "could not update destination", &res, e);

	PQclear(res);
	return rc;
}

int admin_google_set_conversion_action(PGconn *conn, const char *actor, const char *dest_id,
				       const char *action_id, const char *action_name,
				       const char *resource_name, struct err *e)
{
	char prev[64];
	cJSON *details = NULL;
	int rc = db_exec(conn, "BEGIN", e);

	if (rc != 0)
		return rc;
	rc = lock_previous(conn, dest_id, prev, sizeof(prev), e);
	if (rc == 0)
		rc = update_settings(conn, dest_id, action_id, e);
	if (rc == 0) {
		details = audit_details(dest_id, prev[0] ? prev : NULL, action_id, action_name,
					resource_name);
		rc = details ? admin_audit_write(conn, actor, "destination.conversion_action",
						 details, e)
			     : err_set(e, ERR_NOMEM, "out of memory");
	}
	cJSON_Delete(details);
	if (rc == 0)
		return db_exec(conn, "COMMIT", e);
	PQclear(PQexec(conn, "ROLLBACK"));
	return rc;
}
