/*
 * dest_admin_store.c - the statements of dest_admin_store.h.
 */
#include "store/dest_admin_store.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdio.h>

/* jsonb || jsonb replaces top-level keys and keeps the others, exactly as
 * `destination add` stored them. */
static const char merge_sql[] =
	"WITH upd AS ("
	"  UPDATE destinations SET settings = settings || $2::jsonb, updated_at = now()"
	"  WHERE id = $1::uuid RETURNING id"
	"), audit AS ("
	"  INSERT INTO audit_log (actor, action, details)"
	"  SELECT $3, 'destination.update',"
	"         jsonb_build_object('id', $1::text, 'settings', $2::jsonb) FROM upd"
	") "
	"SELECT count(*) FROM upd";

int dest_admin_merge_settings(PGconn *conn, const char *actor, const char *id, const cJSON *patch,
			      struct err *e)
{
	char *text = cJSON_PrintUnformatted(patch);
	const char *params[3] = { id, text, actor };
	PGresult *res;
	int rc;

	if (text == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	res = PQexecParams(conn, merge_sql, 3, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not update destination", e);
	if (rc == 0 && db_get_int64(res, 0, 0) == 0)
		rc = err_set(e, ERR_NOTFOUND, "no destination with id %s", id);
	PQclear(res);
	cJSON_free(text);
	return rc;
}
