/*
 * source_action_store.c - the SQL of source actions (see
 * source_action_store.h).  Nothing here knows a platform: the source's own
 * ops decide that an event is an action, this only carries it out.
 */
#include "store/source_action_store.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdio.h>

int source_action_disable(PGconn *conn, const char *source_id, int64_t raw_id, const char *topic,
			  struct err *e)
{
	const char *v[1] = { source_id };
	PGresult *res = PQexecParams(conn,
				     "UPDATE sources SET enabled = false, updated_at = now()"
				     " WHERE id = $1::uuid AND enabled",
				     1, NULL, v, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not disable source", e);
	cJSON *d = NULL;

	if (rc != 0 || PQcmdTuples(res)[0] == '0')
		goto out;
	d = cJSON_CreateObject();
	if (d == NULL || !cJSON_AddStringToObject(d, "id", source_id) ||
	    !cJSON_AddNumberToObject(d, "raw_event_id", (double)raw_id) ||
	    !cJSON_AddStringToObject(d, "reason", topic ? topic : "")) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = admin_audit_write(conn, "adsengd", "source.disable", d, e);
out:
	cJSON_Delete(d);
	PQclear(res);
	return rc;
}
