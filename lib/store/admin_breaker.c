/*
 * admin_breaker.c - circuit breaker state for the admin CLI (see
 * admin_breaker.h).  PostgreSQL builds each breaker's JSON, timestamps
 * already in RFC 3339 UTC, so this only attaches it by destination id.
 */
#include "store/admin_breaker.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Timestamps as RFC 3339 UTC, like admin.c prints them. */
static const char breakers_sql[] =
	"SELECT destination_id::text, json_build_object("
	" 'state', state, 'failures', failures,"
	" 'retry_at', to_char(retry_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" 'probe_until', to_char(probe_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" 'last_error', last_error,"
	" 'changed_at', to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	")::text FROM destination_health";

static cJSON *closed_json(void)
{
	return cJSON_Parse("{\"state\":\"closed\",\"failures\":0,\"retry_at\":null,"
			   "\"probe_until\":null,\"last_error\":null,\"changed_at\":null}");
}

/* The breaker of the destination with this id, as a new JSON object. */
static cJSON *breaker_of(const PGresult *res, const char *id)
{
	for (int i = 0; id && i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), id) == 0)
			return cJSON_Parse(PQgetvalue(res, i, 1));
	}
	return closed_json();
}

static int annotate_one(const PGresult *res, cJSON *dest, struct err *e)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(dest, "id");
	cJSON *b;

	if (!cJSON_IsObject(dest))
		return 0;
	b = breaker_of(res, cJSON_GetStringValue(id));
	if (b == NULL || !cJSON_AddItemToObject(dest, "breaker", b)) {
		cJSON_Delete(b);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

int admin_breaker_annotate(PGconn *conn, cJSON *dests, struct err *e)
{
	PGresult *res = PQexecParams(conn, breakers_sql, 0, NULL, NULL, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not read circuit breakers", e);
	cJSON *d;

	if (rc == 0 && cJSON_IsArray(dests)) {
		cJSON_ArrayForEach (d, dests) {
			rc = annotate_one(res, d, e);
			if (rc != 0)
				break;
		}
	} else if (rc == 0) {
		rc = annotate_one(res, dests, e);
	}
	PQclear(res);
	return rc;
}
