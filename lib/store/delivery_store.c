/*
 * delivery_store.c - the statements of stage 2.
 */
#include "store/delivery_store.h"
#include "core/mem.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char claim_sql[] =
	"WITH due AS ("
	"  SELECT d.id FROM deliveries d"
	"  WHERE d.state = 'pending' AND d.next_attempt_at <= now()"
	"    AND d.destination_id <> ALL ($3::uuid[])"		 /* at their in-flight limit */
	"    AND NOT EXISTS (SELECT 1 FROM destination_health h" /* circuit breaker */
	"                    WHERE h.destination_id = d.destination_id AND h.state <> 'closed')"
	"  ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED"
	"), upd AS ("
	"  UPDATE deliveries d SET state = 'in_flight', attempts = d.attempts + 1,"
	"         lease_until = now() + $2 * interval '1 millisecond', updated_at = now()"
	"  FROM due WHERE d.id = due.id"
	"  RETURNING d.id, d.conversion_id, d.destination_id, d.attempts"
	") "
	"SELECT u.id, u.conversion_id, u.destination_id::text, u.attempts, c.payload::text "
	"FROM upd u JOIN conversions c ON c.id = u.conversion_id "
	"ORDER BY u.destination_id, u.id";

/*
 * An attempt row is written only with what it describes: a state change
 * that passed the lease fence (upd), or a log-only row (state NULL: a
 * split) whose lease is still held (held).  A worker whose lease was lost
 * must not leave "delivered" in the audit of a row that is pending again.
 */
static const char record_sql[] =
	"WITH u AS ("
	"  SELECT * FROM unnest($1::int8[], $2::int4[], $3::text[], $4::int8[], $5::bool[],"
	"                       $6::text[], $7::int4[], $8::text[], $9::text[], $10::int4[],"
	"                       $11::text[], $12::int8[])"
	"  AS t(id, claimed, state, delay_ms, refund, outcome, status, code, error, latency,"
	"       req, poll_ms)"
	"), upd AS ("
	"  UPDATE deliveries d SET state = u.state,"
	"    next_attempt_at = CASE WHEN u.state = 'pending'"
	"        THEN now() + u.delay_ms * interval '1 millisecond' ELSE d.next_attempt_at END,"
	"    lease_until = NULL,"
	"    attempts = d.attempts - CASE WHEN u.refund THEN 1 ELSE 0 END,"
	"    last_status = u.status, platform_code = u.code, last_error = u.error,"
	"    delivered_at = CASE WHEN u.state = 'delivered' THEN now() ELSE d.delivered_at END,"
	"    request_id = COALESCE(u.req, d.request_id),"
	"    updated_at = now()"
	"  FROM u WHERE d.id = u.id AND u.state IS NOT NULL"
	"    AND d.state = 'in_flight' AND d.attempts = u.claimed"
	"  RETURNING d.id, d.destination_id"
	"), held AS ("
	"  SELECT u.id FROM u JOIN deliveries d ON d.id = u.id"
	"  WHERE u.state IS NULL AND d.state = 'in_flight' AND d.attempts = u.claimed"
	"  FOR SHARE OF d"
	"), log AS ("
	"  INSERT INTO delivery_attempts (delivery_id, outcome, http_status, platform_code,"
	"                                 latency_ms, error)"
	"  SELECT u.id, u.outcome, u.status, u.code, u.latency, u.error FROM u"
	"  WHERE (u.state IS NOT NULL AND u.id IN (SELECT id FROM upd))"
	"     OR (u.state IS NULL AND u.id IN (SELECT id FROM held))"
	"), reqs AS ("
	"  INSERT INTO platform_requests (destination_id, request_id, events, next_poll_at)"
	"  SELECT upd.destination_id, u.req, count(*),"
	"         now() + max(u.poll_ms) * interval '1 millisecond'"
	"  FROM u JOIN upd ON upd.id = u.id WHERE u.req IS NOT NULL"
	"  GROUP BY upd.destination_id, u.req"
	"  ON CONFLICT (destination_id, request_id) DO NOTHING"
	") "
	"SELECT count(*) FROM upd";

/* The daemon pausing a destination is recorded like an operator's pause. */
static const char pause_sql[] =
	"WITH dest AS ("
	"  UPDATE destinations SET enabled = false, paused_reason = $2, updated_at = now()"
	"  WHERE id = $1::uuid RETURNING id"
	"), audit AS ("
	"  INSERT INTO audit_log (actor, action, details)"
	"  SELECT 'adsengd', 'destination.pause',"
	"         jsonb_build_object('id', $1::text, 'reason', $2::text) FROM dest"
	") "
	"UPDATE deliveries SET state = 'held', updated_at = now() "
	"WHERE destination_id = $1::uuid AND state = 'pending'";

static const char extend_sql[] =
	"UPDATE deliveries d SET lease_until = now() + $3 * interval '1 millisecond' "
	"FROM unnest($1::int8[], $2::int4[]) AS u(id, claimed) "
	"WHERE d.id = u.id AND d.state = 'in_flight' AND d.attempts = u.claimed";

/*
 * An expired lease means "outcome unknown": the upload may have gone
 * through and only its record been lost.  So the delivery goes back to
 * pending and is sent once more (the platforms deduplicate on event_id),
 * even when that was its last attempt.  The expired attempt still counts
 * (no refund): the claim that follows makes attempts = max_attempts + 1 at
 * most, and that extra attempt is the only one.  A retryable failure of it
 * is dead by the backoff rule (attempts >= max), and should its lease
 * expire too (a worker that dies on this very delivery every time), the
 * sweep makes it dead here: attempts > max.  A delivery is thus sent at
 * most max_attempts + 1 times; it never loops.
 */
static const char expire_sql[] =
	"WITH exp AS ("
	"  UPDATE deliveries d SET"
	"    state = CASE WHEN d.attempts > $1 THEN 'dead' ELSE 'pending' END,"
	"    lease_until = NULL, next_attempt_at = now(), updated_at = now(),"
	"    last_error = CASE WHEN d.attempts > $1"
	"      THEN 'lease expired on the extra attempt after the last one: giving up'"
	"      ELSE 'lease expired: the worker holding it stopped or stalled' END"
	"  WHERE d.id IN (SELECT id FROM deliveries WHERE state = 'in_flight'"
	"                 AND lease_until < now() LIMIT 10000 FOR UPDATE SKIP LOCKED)"
	"  RETURNING d.id, d.last_error"
	"), log AS ("
	"  INSERT INTO delivery_attempts (delivery_id, outcome, error)"
	"  SELECT id, 'lease_expired', last_error FROM exp"
	") "
	"SELECT count(*) FROM exp";

int delivery_store_prepare(PGconn *conn, struct err *e)
{
	static const struct {
		const char *name;
		const char *sql;
	} stmts[] = { { "adseng_d_claim", claim_sql },
		      { "adseng_d_record", record_sql },
		      { "adseng_d_pause", pause_sql },
		      { "adseng_d_extend", extend_sql },
		      { "adseng_d_expire", expire_sql } };

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		PGresult *res = PQprepare(conn, stmts[i].name, stmts[i].sql, 0, NULL);
		int rc = db_check(conn, res, "could not prepare a stage 2 statement", e);

		PQclear(res);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void claim_batch_take(struct claim_batch *out, PGresult *res)
{
	int n = PQntuples(res);

	out->res = res;
	out->n = (size_t)n;
	out->rows = xcalloc((size_t)(n ? n : 1), sizeof(*out->rows));
	for (int i = 0; i < n; i++) {
		out->rows[i].id = db_get_int64(res, i, 0);
		out->rows[i].conversion_id = db_get_int64(res, i, 1);
		out->rows[i].destination_id = PQgetvalue(res, i, 2);
		out->rows[i].attempts = (int32_t)db_get_int64(res, i, 3);
		out->rows[i].payload = PQgetvalue(res, i, 4);
	}
}

int delivery_store_claim(PGconn *conn, int limit, int64_t lease_ms, const char *const *skip,
			 size_t n_skip, struct claim_batch *out, struct err *e)
{
	char lim[16], lease[24];
	const char *params[3] = { lim, lease, NULL };
	int lengths[3] = { 0, 0, 0 };
	const int formats[3] = { 0, 0, 1 };
	struct pgarr ids;
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
	pgarr_init(&ids, PGOID_UUID);
	for (size_t i = 0; i < n_skip; i++) {
		if (pgarr_add_uuid_text(&ids, skip[i]) != 0) {
			pgarr_cleanup(&ids);
			return err_set(e, ERR_INVALID, "not a destination id: %s", skip[i]);
		}
	}
	params[2] = pgarr_finish(&ids, &lengths[2]);
	res = PQexecPrepared(conn, "adseng_d_claim", 3, params, lengths, formats, 0);
	pgarr_cleanup(&ids);
	rc = db_check(conn, res, "could not claim deliveries", e);
	if (rc != 0) {
		PQclear(res);
		return rc;
	}
	claim_batch_take(out, res);
	return 0;
}

void claim_batch_cleanup(struct claim_batch *b)
{
	PQclear(b->res);
	free(b->rows);
	memset(b, 0, sizeof(*b));
}

static int exec_record(PGconn *conn, const struct delivery_record *recs, size_t n, int64_t *applied,
		       struct err *e)
{
	struct pgarr a[12];
	const uint32_t oids[12] = { PGOID_INT8, PGOID_INT4, PGOID_TEXT, PGOID_INT8,
				    PGOID_BOOL, PGOID_TEXT, PGOID_INT4, PGOID_TEXT,
				    PGOID_TEXT, PGOID_INT4, PGOID_TEXT, PGOID_INT8 };
	const char *values[12];
	int lengths[12];
	const int formats[12] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	PGresult *res;
	int rc;

	for (int i = 0; i < 12; i++)
		pgarr_init(&a[i], oids[i]);
	for (size_t i = 0; i < n; i++) {
		const struct delivery_record *r = &recs[i];

		pgarr_add_int8(&a[0], r->id);
		pgarr_add_int4(&a[1], r->claimed_attempts);
		pgarr_add_text(&a[2], r->state);
		pgarr_add_int8(&a[3], r->delay_ms);
		pgarr_add_bool(&a[4], r->refund);
		pgarr_add_text(&a[5], r->outcome);
		if (r->http_status > 0)
			pgarr_add_int4(&a[6], r->http_status);
		else
			pgarr_add_null(&a[6]);
		pgarr_add_text(&a[7],
			       r->platform_code && r->platform_code[0] ? r->platform_code : NULL);
		pgarr_add_text(&a[8], r->error && r->error[0] ? r->error : NULL);
		pgarr_add_int4(&a[9], r->latency_ms);
		pgarr_add_text(&a[10], r->request_id && r->request_id[0] ? r->request_id : NULL);
		pgarr_add_int8(&a[11], r->poll_after_ms);
	}
	for (int i = 0; i < 12; i++)
		values[i] = pgarr_finish(&a[i], &lengths[i]);
	res = PQexecPrepared(conn, "adseng_d_record", 12, values, lengths, formats, 0);
	rc = db_check(conn, res, "could not record delivery outcomes", e);
	if (rc == 0 && applied)
		*applied = db_get_int64(res, 0, 0);
	PQclear(res);
	for (int i = 0; i < 12; i++)
		pgarr_cleanup(&a[i]);
	return rc;
}

int delivery_store_record(PGconn *conn, const struct delivery_record *recs, size_t n,
			  const char *pause_destination, const char *pause_reason, int64_t *applied,
			  struct err *e)
{
	const char *params[2] = { pause_destination, pause_reason };
	PGresult *res;
	int rc;

	if (pause_destination == NULL)
		return exec_record(conn, recs, n, applied, e);
	rc = db_exec(conn, "BEGIN", e);
	if (rc != 0)
		return rc;
	rc = exec_record(conn, recs, n, applied, e);
	if (rc != 0)
		goto rollback;
	res = PQexecPrepared(conn, "adseng_d_pause", 2, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not pause destination", e);
	PQclear(res);
	if (rc != 0)
		goto rollback;
	return db_exec(conn, "COMMIT", e);
rollback:
	res = PQexec(conn, "ROLLBACK");
	PQclear(res);
	return rc;
}

int delivery_store_extend(PGconn *conn, const int64_t *ids, const int32_t *claimed, size_t n,
			  int64_t lease_ms, struct err *e)
{
	struct pgarr a, b;
	const char *values[3];
	int lengths[3];
	const int formats[3] = { 1, 1, 0 };
	char lease[24];
	PGresult *res;
	int rc;

	pgarr_init(&a, PGOID_INT8);
	pgarr_init(&b, PGOID_INT4);
	for (size_t i = 0; i < n; i++) {
		pgarr_add_int8(&a, ids[i]);
		pgarr_add_int4(&b, claimed[i]);
	}
	values[0] = pgarr_finish(&a, &lengths[0]);
	values[1] = pgarr_finish(&b, &lengths[1]);
	snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
	values[2] = lease;
	lengths[2] = 0;
	res = PQexecPrepared(conn, "adseng_d_extend", 3, values, lengths, formats, 0);
	rc = db_check(conn, res, "could not extend leases", e);
	PQclear(res);
	pgarr_cleanup(&a);
	pgarr_cleanup(&b);
	return rc;
}

int delivery_store_expire_leases(PGconn *conn, int64_t max_attempts, int64_t *n, struct err *e)
{
	char max[24];
	const char *params[1] = { max };
	PGresult *res;
	int rc;

	snprintf(max, sizeof(max), "%lld", (long long)max_attempts);
	res = PQexecPrepared(conn, "adseng_d_expire", 1, params, NULL, NULL, 0);
	rc = db_check(conn, res, "could not expire leases", e);
	if (rc == 0)
		*n = db_get_int64(res, 0, 0);
	PQclear(res);
	return rc;
}
