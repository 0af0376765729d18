/*
 * breaker_store.c - the statements behind the circuit breaker (see
 * breaker_store.h).
 */
#include "store/breaker_store.h"
#include "core/mem.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Times travel as milliseconds since the epoch (0 = NULL). */
static const char load_active_sql[] =
	"SELECT (extract(epoch FROM now()) * 1000)::int8, h.destination_id::text, h.state,"
	" h.failures, h.opens, (extract(epoch FROM h.retry_at) * 1000)::int8,"
	" (extract(epoch FROM h.probe_until) * 1000)::int8, h.version"
	" FROM (SELECT 1) one"
	" LEFT JOIN destination_health h ON h.state <> 'closed' OR h.failures > 0";

static const char load_one_sql[] =
	"SELECT (extract(epoch FROM now()) * 1000)::int8, h.destination_id::text, h.state,"
	" h.failures, h.opens, (extract(epoch FROM h.retry_at) * 1000)::int8,"
	" (extract(epoch FROM h.probe_until) * 1000)::int8, h.version"
	" FROM (SELECT 1) one"
	" LEFT JOIN destination_health h ON h.destination_id = $1::uuid";

static const char update_sql[] =
	"UPDATE destination_health SET state = $2, failures = $3, opens = $4,"
	" retry_at = CASE WHEN $5::int8 > 0"
	"   THEN 'epoch'::timestamptz + $5::int8 * interval '1 millisecond' END,"
	" probe_until = CASE WHEN $6::int8 > 0"
	"   THEN 'epoch'::timestamptz + $6::int8 * interval '1 millisecond' END,"
	" last_error = coalesce($7, last_error), version = version + 1,"
	" changed_at = CASE WHEN state = $2 THEN changed_at ELSE now() END, updated_at = now()"
	" WHERE destination_id = $1::uuid AND version = $8::int8 RETURNING version";

static const char insert_sql[] =
	"INSERT INTO destination_health (destination_id, state, failures, opens, retry_at,"
	" probe_until, last_error)"
	" VALUES ($1::uuid, $2, $3, $4,"
	" CASE WHEN $5::int8 > 0"
	"   THEN 'epoch'::timestamptz + $5::int8 * interval '1 millisecond' END,"
	" CASE WHEN $6::int8 > 0"
	"   THEN 'epoch'::timestamptz + $6::int8 * interval '1 millisecond' END, $7)"
	" ON CONFLICT (destination_id) DO NOTHING RETURNING version";

static const char park_sql[] =
	"UPDATE deliveries d SET next_attempt_at = now() + $3::int8 * interval '1 millisecond'"
	" WHERE d.state = 'pending' AND d.id IN ("
	"  SELECT id FROM deliveries WHERE destination_id = $1::uuid AND state = 'pending'"
	"    AND next_attempt_at < 'epoch'::timestamptz + $2::int8 * interval '1 millisecond'"
	"  ORDER BY next_attempt_at LIMIT 100000 FOR UPDATE SKIP LOCKED)";

static const char unpark_sql[] =
	"UPDATE deliveries SET next_attempt_at = now() + random() * interval '1 second'"
	" WHERE destination_id = $1::uuid AND state = 'pending'"
	"   AND next_attempt_at > now() + interval '1 second'";

/*
 * due: breakers whose probe may go, locked so that one caller takes each;
 * a caller that sees one half way through another's statement re-checks
 * the committed row (READ COMMITTED) and finds it no longer due.
 * pick: the oldest pending delivery of each, due or not: the probe.
 * h, upd: half-open for the lease, and the probe in_flight like a claim.
 */
static const char claim_probes_sql[] =
	"WITH due AS ("
	"  SELECT destination_id FROM destination_health"
	"  WHERE (state = 'open' AND retry_at <= now())"
	"     OR (state = 'half_open' AND probe_until <= now())"
	"  LIMIT 16 FOR UPDATE SKIP LOCKED"
	"), pick AS ("
	"  SELECT due.destination_id, (SELECT d.id FROM deliveries d"
	"    WHERE d.destination_id = due.destination_id AND d.state = 'pending'"
	"    ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) AS id"
	"  FROM due"
	"), h AS ("
	"  UPDATE destination_health h SET state = 'half_open',"
	"    probe_until = now() + $1 * interval '1 millisecond', retry_at = NULL,"
	"    version = h.version + 1, changed_at = now(), updated_at = now()"
	"  FROM pick WHERE h.destination_id = pick.destination_id AND pick.id IS NOT NULL"
	"  RETURNING h.destination_id"
	"), upd AS ("
	"  UPDATE deliveries d SET state = 'in_flight', attempts = d.attempts + 1,"
	"    lease_until = now() + $1 * interval '1 millisecond', updated_at = now()"
	"  FROM pick JOIN h ON h.destination_id = pick.destination_id"
	"  WHERE d.id = pick.id AND d.state = 'pending'"
	"  RETURNING d.id, d.conversion_id, d.destination_id, d.attempts"
	") "
	"SELECT u.id, u.conversion_id, u.destination_id::text, u.attempts, c.payload::text "
	"FROM upd u JOIN conversions c ON c.id = u.conversion_id "
	"ORDER BY u.destination_id, u.id";

/* Columns 1.. of load_*_sql into *r; false when the row is all NULL (no
 * breaker). */
static bool row_from(const PGresult *res, int i, struct breaker_row *r)
{
	memset(r, 0, sizeof(*r));
	if (PQgetisnull(res, i, 1))
		return false;
	snprintf(r->destination_id, sizeof(r->destination_id), "%s", PQgetvalue(res, i, 1));
	if (breaker_state_parse(PQgetvalue(res, i, 2), &r->b.state) != 0)
		r->b.state = BREAKER_CLOSED; /* the CHECK constraint forbids it */
	r->b.failures = (int32_t)db_get_int64(res, i, 3);
	r->b.opens = (int32_t)db_get_int64(res, i, 4);
	r->b.retry_at_ms = db_get_int64(res, i, 5);
	r->b.probe_until_ms = db_get_int64(res, i, 6);
	r->version = db_get_int64(res, i, 7);
	return true;
}

int breaker_store_load_active(PGconn *conn, struct breaker_row **rows, size_t *n, int64_t *now_ms,
			      struct err *e)
{
	PGresult *res = PQexecParams(conn, load_active_sql, 0, NULL, NULL, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not read circuit breakers", e);
	int nt;

	*rows = NULL;
	*n = 0;
	if (rc != 0)
		goto out;
	nt = PQntuples(res);
	*now_ms = db_get_int64(res, 0, 0);
	*rows = xcalloc((size_t)(nt ? nt : 1), sizeof(**rows));
	for (int i = 0; i < nt; i++) {
		if (row_from(res, i, &(*rows)[*n]))
			(*n)++;
	}
	if (*n == 0) {
		free(*rows);
		*rows = NULL;
	}
out:
	PQclear(res);
	return rc;
}

int breaker_store_load(PGconn *conn, const char *destination_id, struct breaker_row *out,
		       int64_t *now_ms, struct err *e)
{
	const char *params[1] = { destination_id };
	PGresult *res = PQexecParams(conn, load_one_sql, 1, NULL, params, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not read a circuit breaker", e);

	if (rc == 0) {
		*now_ms = db_get_int64(res, 0, 0);
		if (!row_from(res, 0, out))
			snprintf(out->destination_id, sizeof(out->destination_id), "%s",
				 destination_id);
	}
	PQclear(res);
	return rc;
}

/* The UPDATE or INSERT; *won when it took effect. */
static int write_row(PGconn *conn, struct breaker_row *row, const char *last_error, bool *won,
		     struct err *e)
{
	char failures[16], opens[16], retry[24], probe[24], version[24];
	const char *params[8] = { row->destination_id,
				  breaker_state_name(row->b.state),
				  failures,
				  opens,
				  retry,
				  probe,
				  last_error,
				  version };
	PGresult *res;
	int rc;

	snprintf(failures, sizeof(failures), "%d", (int)row->b.failures);
	snprintf(opens, sizeof(opens), "%d", (int)row->b.opens);
	snprintf(retry, sizeof(retry), "%lld", (long long)row->b.retry_at_ms);
	snprintf(probe, sizeof(probe), "%lld", (long long)row->b.probe_until_ms);
	snprintf(version, sizeof(version), "%lld", (long long)row->version);
	if (row->version > 0)
		res = PQexecParams(conn, update_sql, 8, NULL, params, NULL, NULL, 0);
	else
		res = PQexecParams(conn, insert_sql, 7, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not write a circuit breaker", e);
	*won = rc == 0 && PQntuples(res) == 1;
	if (*won)
		row->version = db_get_int64(res, 0, 0);
	PQclear(res);
	return rc;
}

/* The backlog of a destination whose breaker opens, due before the probe
 * may go, is set aside (park_ms ahead) in the same transaction: otherwise
 * every claim of every worker would scan past it (the claim skips it row
 * by row).  Closing brings everything set aside back, due now. */
static int park(PGconn *conn, const struct breaker_row *row, int64_t park_ms, struct err *e)
{
	char retry[24], ahead[24];
	const char *params[3] = { row->destination_id, retry, ahead };
	PGresult *res;
	int rc;

	snprintf(retry, sizeof(retry), "%lld", (long long)row->b.retry_at_ms);
	snprintf(ahead, sizeof(ahead), "%lld", (long long)park_ms);
	res = PQexecParams(conn, park_sql, 3, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not set aside a destination's deliveries", e);
	PQclear(res);
	return rc;
}

static int unpark(PGconn *conn, const struct breaker_row *row, struct err *e)
{
	const char *params[1] = { row->destination_id };
	PGresult *res = PQexecParams(conn, unpark_sql, 1, NULL, params, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not make a destination's deliveries due", e);

	PQclear(res);
	if (rc == 0)
		rc = db_exec(conn, "NOTIFY adseng_deliveries", e);
	return rc;
}

int breaker_store_write(PGconn *conn, struct breaker_row *row, const char *last_error,
			enum breaker_change change, int64_t park_ms, bool *won, struct err *e)
{
	int rc;

	*won = false;
	if (change != BREAKER_OPENED && change != BREAKER_REOPENED && change != BREAKER_CLOSED_NOW)
		return write_row(conn, row, last_error, won, e);
	rc = db_exec(conn, "BEGIN", e);
	if (rc != 0)
		return rc;
	rc = write_row(conn, row, last_error, won, e);
	if (rc == 0 && *won)
		rc = change == BREAKER_CLOSED_NOW ? unpark(conn, row, e)
						  : park(conn, row, park_ms, e);
	if (rc == 0)
		rc = db_exec(conn, "COMMIT", e);
	if (rc != 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		*won = false;
	}
	return rc;
}

int breaker_store_claim_probes(PGconn *conn, int64_t lease_ms, struct claim_batch *out,
			       struct err *e)
{
	char lease[24];
	const char *params[1] = { lease };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
	res = PQexecParams(conn, claim_probes_sql, 1, NULL, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not claim circuit breaker probes", e);
	if (rc != 0) {
		PQclear(res);
		return rc;
	}
	claim_batch_take(out, res);
	return 0;
}
