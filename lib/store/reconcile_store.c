/*
 * reconcile_store.c - claims of due periodic reconciles (reconcile_store.h).
 */
#include "store/reconcile_store.h"
#include "store/admin.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The overlap with the previous run: an order saved while that run paged
 * through the list may have a modification time just before its start
 * and not have been listed yet.  Ten minutes also covers a shop clock a
 * little behind ours; a second look at an order is harmless (the dedup
 * key and the conversions' unique event id).
 */
#define OVERLAP "interval '10 minutes'"

int reconcile_store_claim(PGconn *conn, struct reconcile_claim *out, bool *found, struct err *e)
{
	/* The interval is read as a number of seconds, so a hand-edited
	 * setting that is not one is skipped, not an error every minute. */
	static const char sql[] =
		"WITH due AS ("
		"  SELECT id, reconciled_from AS from_,"
		"         make_interval(secs => (settings->>'reconcile_interval_s')::float8) AS "
		"every"
		"    FROM sources"
		"   WHERE enabled AND jsonb_typeof(settings->'reconcile_interval_s') = 'number'"
		"     AND (settings->>'reconcile_interval_s')::float8 > 0"
		"     AND (reconciled_at IS NULL OR reconciled_at <= now() -"
		"          make_interval(secs => (settings->>'reconcile_interval_s')::float8))"
		"   ORDER BY reconciled_at NULLS FIRST"
		"   LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" UPDATE sources s SET reconciled_at = now() FROM due WHERE s.id = due.id"
		" RETURNING s.id::text,"
		"  (extract(epoch FROM coalesce(due.from_, now() - 2 * due.every) - " OVERLAP
		") * 1e6)::int8,"
		"  (extract(epoch FROM now()) * 1e6)::int8";
	PGresult *res = PQexec(conn, sql);
	int rc = db_check(conn, res, "could not claim a source to reconcile", e);

	*found = false;
	if (rc == 0 && PQntuples(res) == 1) {
		snprintf(out->source_id, sizeof(out->source_id), "%s", PQgetvalue(res, 0, 0));
		out->since_us = db_get_int64(res, 0, 1);
		out->claimed_us = db_get_int64(res, 0, 2);
		*found = true;
	}
	PQclear(res);
	return rc;
}

int reconcile_store_done(PGconn *conn, const struct reconcile_claim *c, struct err *e)
{
	char at[24];
	const char *params[2] = { c->source_id, at };
	PGresult *res;
	int rc;

	snprintf(at, sizeof(at), "%" PRId64, c->claimed_us);
	res = PQexecParams(conn,
			   "UPDATE sources SET reconciled_from ="
			   " to_timestamp($2::int8 / 1e6) WHERE id = $1::uuid",
			   2, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not record a reconcile", e);
	PQclear(res);
	return rc;
}

int reconcile_store_set_interval(PGconn *conn, const char *actor, const char *source_id,
				 int64_t interval_s, struct err *e)
{
	char secs[24];
	const char *params[2] = { source_id, secs };
	cJSON *details = cJSON_CreateObject();
	PGresult *res = NULL;
	int rc;

	snprintf(secs, sizeof(secs), "%" PRId64, interval_s);
	if (details == NULL || !cJSON_AddStringToObject(details, "source_id", source_id) ||
	    !cJSON_AddNumberToObject(details, "reconcile_interval_s", (double)interval_s)) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = db_exec(conn, "BEGIN", e);
	if (rc != 0)
		goto out;
	/* Turning it on starts the clock now: the first run, one interval
	 * later, looks back to this moment (less the overlap), not at the
	 * shop's whole history (that is `reconcile --since`'s job). */
	res = PQexecParams(
		conn,
		"UPDATE sources SET"
		" settings = CASE WHEN $2::int8 > 0"
		"   THEN settings || jsonb_build_object('reconcile_interval_s', $2::int8)"
		"   ELSE settings - 'reconcile_interval_s' END,"
		" reconciled_at = CASE WHEN $2::int8 > 0 THEN now() END,"
		" reconciled_from = CASE WHEN $2::int8 > 0 THEN now() END"
		" WHERE id = $1::uuid",
		2, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not set the reconcile interval", e);
	if (rc == 0 && strcmp(PQcmdTuples(res), "1") != 0)
		rc = err_set(e, ERR_NOTFOUND, "no source %s", source_id);
	if (rc == 0)
		rc = admin_audit_write(conn, actor, "source.reconcile_interval", details, e);
	if (rc == 0)
		rc = db_exec(conn, "COMMIT", e);
	if (rc != 0)
		PQclear(PQexec(conn, "ROLLBACK"));
out:
	PQclear(res);
	cJSON_Delete(details);
	return rc;
}
