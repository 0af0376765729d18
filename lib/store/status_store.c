/*
 * status_store.c - the service summary's query (status_store.h).  The
 * partial indexes deliveries_due and deliveries_lease serve the counts;
 * the LIMIT bounds the due count's scan.
 */
#include "store/status_store.h"
#include "store/db.h"

#include <stdlib.h>

#define STR_(x) #x
#define STR(x)	STR_(x)

static const char *const status_sql =
	"SELECT (SELECT count(*) FROM (SELECT 1 FROM deliveries"
	"         WHERE state = 'pending' AND next_attempt_at <= now()"
	"         LIMIT " STR(
		SVC_DUE_CAP) ") d),"
			     "       (SELECT count(*) FROM deliveries WHERE state = 'in_flight'),"
			     "       (SELECT coalesce(floor(extract(epoch FROM now() - "
			     "min(next_attempt_at))), 0)"
			     "          FROM deliveries WHERE state = 'pending' AND "
			     "next_attempt_at <= now()),"
			     "       (SELECT count(*) FROM destination_health WHERE state = "
			     "'open'),"
			     "       (SELECT count(*) FROM destination_health WHERE state = "
			     "'half_open')";

int status_store_load(PGconn *conn, struct svc_counts *out, struct err *e)
{
	PGresult *res = PQexec(conn, status_sql);
	int rc = db_check(conn, res, "could not read the service status", e);

	if (rc != 0)
		goto out;
	out->known = true;
	out->due = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	out->in_flight = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	out->oldest_due_s = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	out->breakers_open = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	out->breakers_half = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
out:
	PQclear(res);
	return rc;
}
