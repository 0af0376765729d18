/*
 * request_store.c - platform_requests rows (request_store.h).
 */
#include "store/request_store.h"
#include "core/mem.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char claim_sql[] =
	"UPDATE platform_requests p"
	"   SET next_poll_at = now() + $2::int8 * interval '1 millisecond', polls = p.polls + 1"
	" WHERE p.id IN (SELECT id FROM platform_requests"
	"                 WHERE next_poll_at <= now() ORDER BY next_poll_at"
	"                 LIMIT $1::int4 FOR UPDATE SKIP LOCKED)"
	" RETURNING p.id, p.destination_id, p.request_id, p.polls,"
	"           extract(epoch FROM now() - p.sent_at)::int8";

static const char finish_sql[] =
	"UPDATE platform_requests SET status = $2, summary = $3, checked_at = now(),"
	"       next_poll_at = CASE WHEN $4::int8 < 0 THEN NULL"
	"                           ELSE now() + $4::int8 * interval '1 millisecond' END"
	" WHERE id = $1::int8";

int request_store_claim(PGconn *conn, int limit, int64_t lease_ms, struct platform_request **rows,
			size_t *n, struct err *e)
{
	char lim[16], lease[24];
	const char *params[2] = { lim, lease };
	PGresult *res;
	int rc, nt;

	*rows = NULL;
	*n = 0;
	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
	res = PQexecParams(conn, claim_sql, 2, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not claim platform requests", e);
	if (rc != 0)
		goto out;
	nt = PQntuples(res);
	if (nt > 0)
		*rows = xcalloc((size_t)nt, sizeof(**rows));
	for (int i = 0; i < nt; i++) {
		struct platform_request *r = &(*rows)[i];

		r->id = db_get_int64(res, i, 0);
		snprintf(r->destination_id, sizeof(r->destination_id), "%s", db_get_str(res, i, 1));
		snprintf(r->request_id, sizeof(r->request_id), "%s", db_get_str(res, i, 2));
		r->polls = (int32_t)db_get_int64(res, i, 3);
		r->age_s = db_get_int64(res, i, 4);
	}
	*n = (size_t)nt;
out:
	PQclear(res);
	return rc;
}

int request_store_finish(PGconn *conn, int64_t id, const char *status, const char *summary,
			 int64_t next_poll_ms, struct err *e)
{
	char ids[24], next[24];
	const char *params[4] = { ids, status, summary, next };
	PGresult *res;
	int rc;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	snprintf(next, sizeof(next), "%lld", (long long)next_poll_ms);
	res = PQexecParams(conn, finish_sql, 4, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not record a platform request's status", e);
	PQclear(res);
	return rc;
}
