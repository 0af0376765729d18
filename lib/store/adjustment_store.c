/*
 * adjustment_store.c - the statements behind adjustment_store.h.
 *
 * Adjustments are rare next to conversions (a refund for a few orders in a
 * hundred), so each change is a few plain statements rather than the
 * batched arrays of stage 1's conversion write.  The arithmetic is done by
 * PostgreSQL on numeric, never in doubles: the conversion's value now is
 * the newest order total (an edit's order_value, else conversions.value)
 * minus every refund so far, and a refund that leaves nothing retracts.
 */
#include "store/adjustment_store.h"
#include "core/mem.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1 source, $2 event id, $3 dedup key, $4 amount, $5 refund?  The value
 * after the change is what is left of the order total after the refunds
 * (this one included) for a refund, the new total less the refunds so far
 * for an edit. */
static const char lookup_sql[] =
	"SELECT c.id, c.currency, t.order_total::text,"
	" EXISTS (SELECT 1 FROM adjustments a WHERE a.conversion_id = c.id"
	"         AND a.dedup_key = $3) AS dup,"
	" EXISTS (SELECT 1 FROM adjustments a WHERE a.conversion_id = c.id"
	"         AND a.kind = 'retraction') AS retracted,"
	" $4::numeric = t.order_total AS same_total,"
	" greatest(n.v, 0)::text AS new_value, n.v <= 0 AS nothing_left "
	"FROM conversions c"
	" CROSS JOIN LATERAL (SELECT"
	"   coalesce((SELECT a.order_value FROM adjustments a WHERE a.conversion_id = c.id"
	"             AND a.order_value IS NOT NULL ORDER BY a.id DESC LIMIT 1), c.value, 0)"
	"     AS order_total,"
	"   coalesce((SELECT sum(a.refunded) FROM adjustments a WHERE a.conversion_id = c.id), 0)"
	"     AS refunded) t"
	" CROSS JOIN LATERAL (SELECT CASE WHEN $5::bool"
	"   THEN t.order_total - t.refunded - $4::numeric"
	"   ELSE $4::numeric - t.refunded END AS v) n "
	"WHERE c.source_id = $1::uuid AND c.event_id = $2 "
	"FOR UPDATE OF c";

/* Whether a delivery may already have reached its platform: after this
 * lock no worker can claim one of them until the change commits. */
static const char lock_deliveries_sql[] =
	"SELECT count(*) FILTER (WHERE state IN ('delivered', 'in_flight')) FROM ("
	" SELECT state FROM deliveries WHERE conversion_id = $1 FOR UPDATE) d";

/* Before any delivery: the conversion itself carries the new value, in the
 * column and in the payload the workers send. */
static const char update_sql[] =
	"UPDATE conversions SET value = $2::numeric,"
	" payload = jsonb_set(payload::jsonb, '{value}', to_jsonb($2::text))::json "
	"WHERE id = $1";

/* $1 conversion, $2 raw event, $3 kind, $4 value, $5 reason, $6 refunded,
 * $7 order_value, $8 key, $9 occurred (unix us), $10 kinds that upload
 * adjustments. */
static const char insert_sql[] =
	"WITH a AS ("
	"  INSERT INTO adjustments (conversion_id, tenant_id, source_id, raw_event_id, kind, value,"
	"                           currency, reason, refunded, order_value, dedup_key,"
	"                           occurred_at)"
	"  SELECT c.id, c.tenant_id, c.source_id, $2::int8, $3, $4::numeric, c.currency, $5,"
	"         $6::numeric, $7::numeric, $8,"
	"         'epoch'::timestamptz + $9::int8 * interval '1 microsecond'"
	"  FROM conversions c WHERE c.id = $1"
	"  ON CONFLICT (conversion_id, dedup_key) DO NOTHING"
	"  RETURNING id, conversion_id, tenant_id"
	"), d AS ("
	"  INSERT INTO adjustment_deliveries (adjustment_id, destination_id, tenant_id, state,"
	"                                     last_error)"
	"  SELECT a.id, dl.destination_id, a.tenant_id,"
	"         CASE WHEN x.kind = ANY ($10::text[]) THEN 'pending' ELSE 'not_supported' END,"
	"         CASE WHEN x.kind = ANY ($10::text[]) THEN NULL"
	"              ELSE x.kind || ' has no adjustment API' END"
	"  FROM a JOIN deliveries dl ON dl.conversion_id = a.conversion_id"
	"                           AND dl.state <> 'skipped'"
	"  JOIN destinations x ON x.id = dl.destination_id"
	"  RETURNING state"
	") "
	"SELECT (SELECT id FROM a), (SELECT count(*) FROM d WHERE state = 'pending'),"
	" (SELECT count(*) FROM d)";

/* Run sql with text parameters; *res on success (caller clears). */
static int run(PGconn *conn, const char *sql, int n, const char *const *params, const char *what,
	       PGresult **res, struct err *e)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	int rc = db_check(conn, r, what, e);

	if (rc != 0) {
		if (!db_is_broken(conn) && db_sqlstate_is_data_error(db_sqlstate(r)))
			rc = e->code = ERR_INVALID;
		PQclear(r);
		return rc;
	}
	*res = r;
	return 0;
}

static bool col_true(const PGresult *res, int col)
{
	return !PQgetisnull(res, 0, col) && PQgetvalue(res, 0, col)[0] == 't';
}

/* The kinds as a text[] literal ("{google_ads}"); they are registry
 * names (letters, digits, '_'), so no quoting is needed. */
static char *kinds_literal(const char *const *kinds, size_t n)
{
	size_t len = 3, at = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(kinds[i]) + 1;
	s = xmalloc(len);
	s[at++] = '{';
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(kinds[i]);

		if (i > 0)
			s[at++] = ',';
		memcpy(s + at, kinds[i], k);
		at += k;
	}
	s[at++] = '}';
	s[at] = '\0';
	return s;
}

static int insert_adjustment(PGconn *conn, const struct adjust_row *r, const char *conv_id,
			     const char *order_total_after, const char *kind_list,
			     struct adjust_outcome *out, struct err *e)
{
	char raw[24], occ[24];
	const char *params[10];
	PGresult *res = NULL;
	int rc;

	snprintf(raw, sizeof(raw), "%lld", (long long)r->raw_id);
	snprintf(occ, sizeof(occ), "%lld", (long long)r->occurred_us);
	params[0] = conv_id;
	params[1] = raw;
	params[2] = out->retraction ? "retraction" : "restatement";
	params[3] = out->value;
	params[4] = r->reason;
	params[5] = r->refund ? r->amount : NULL;
	params[6] = order_total_after;
	params[7] = r->key;
	params[8] = occ;
	params[9] = kind_list;
	rc = run(conn, insert_sql, 10, params, "could not store an adjustment", &res, e);
	if (rc != 0)
		return rc;
	if (PQgetisnull(res, 0, 0)) {
		/* A concurrent stage 1 worker stored the same key first. */
		out->fate = ADJUST_NOTHING;
		snprintf(out->why, sizeof(out->why), "adjustment %s is stored already", r->key);
	} else {
		out->fate = ADJUST_STORED;
		out->adjustment_id = db_get_int64(res, 0, 0);
		out->n_pending = db_get_int64(res, 0, 1);
		out->n_deliveries = db_get_int64(res, 0, 2);
	}
	PQclear(res);
	return 0;
}

/* What the looked-up state says to do when no adjustment is due: a reason
 * in out->why, or false when the change goes on. */
static bool nothing_to_do(const struct adjust_row *r, const PGresult *res,
			  struct adjust_outcome *out)
{
	const char *cur = db_get_str(res, 0, 1);

	out->fate = ADJUST_NOTHING;
	if (col_true(res, 3))
		snprintf(out->why, sizeof(out->why), "adjustment %s is stored already", r->key);
	else if (col_true(res, 4))
		snprintf(out->why, sizeof(out->why), "the conversion is retracted already");
	else if (r->currency && cur && strcmp(r->currency, cur) != 0)
		snprintf(out->why, sizeof(out->why),
			 "the change is in %s, the conversion in %s: not converted", r->currency,
			 cur);
	else if (!r->refund && col_true(res, 5))
		snprintf(out->why, sizeof(out->why), "the order total is unchanged");
	else
		return false;
	return true;
}

int adjustment_store_apply(PGconn *conn, const struct adjust_row *r, const char *const *kinds,
			   size_t n_kinds, struct adjust_outcome *out, struct err *e)
{
	const char *lp[5] = { r->source_id, r->event_id, r->key, r->amount,
			      r->refund ? "true" : "false" };
	const char *cp[2];
	PGresult *res = NULL, *lk = NULL, *up = NULL;
	char conv_id[24], *kind_list = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = run(conn, lookup_sql, 5, lp, "could not look up the adjusted conversion", &res, e);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 0) {
		out->fate = ADJUST_NOTHING;
		snprintf(out->why, sizeof(out->why), "no conversion %s from this source",
			 r->event_id);
		goto out;
	}
	out->conversion_id = db_get_int64(res, 0, 0);
	snprintf(conv_id, sizeof(conv_id), "%s", PQgetvalue(res, 0, 0));
	snprintf(out->value, sizeof(out->value), "%s", PQgetvalue(res, 0, 6));
	out->retraction = col_true(res, 7);
	if (nothing_to_do(r, res, out))
		goto out;
	cp[0] = conv_id;
	rc = run(conn, lock_deliveries_sql, 1, cp, "could not lock the conversion's deliveries",
		 &lk, e);
	if (rc != 0)
		goto out;
	if (!r->refund && db_get_int64(lk, 0, 0) == 0) {
		/* Nothing sent yet: the pending deliveries send the new total. */
		cp[1] = r->amount;
		rc = run(conn, update_sql, 2, cp, "could not update the conversion's value", &up,
			 e);
		if (rc == 0) {
			out->fate = ADJUST_UPDATED;
			snprintf(out->value, sizeof(out->value), "%s", r->amount);
		}
		goto out;
	}
	kind_list = kinds_literal(kinds, n_kinds);
	rc = insert_adjustment(conn, r, conv_id, r->refund ? NULL : r->amount, kind_list, out, e);
out:
	free(kind_list);
	PQclear(up);
	PQclear(lk);
	PQclear(res);
	return rc;
}

/* ---- reports ------------------------------------------------------------------------ */

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* $1 conversion or NULL, $2 delivery state or NULL, $3 limit. */
static const char list_sql[] =
	"SELECT coalesce(json_agg(j ORDER BY (j->>'id')::bigint DESC), '[]')::text FROM ("
	" SELECT json_build_object('id', a.id, 'conversion_id', a.conversion_id,"
	"  'event_id', c.event_id, 'order_id', c.order_id, 'kind', a.kind,"
	"  'value', a.value::text, 'currency', a.currency, 'reason', a.reason,"
	"  'refunded', a.refunded::text, 'order_value', a.order_value::text,"
	"  'dedup_key', a.dedup_key, 'raw_event_id', a.raw_event_id,"
	"  'occurred_at', " RFC3339("a.occurred_at") ", 'created_at', " RFC3339(
		"a.created_at") ","
				"  'deliveries', coalesce((SELECT json_agg(json_build_object('id', "
				"d.id,"
				"     'destination_id', d.destination_id, 'destination', x.name, "
				"'kind', x.kind,"
				"     'state', d.state, 'attempts', d.attempts, 'last_error', "
				"d.last_error)"
				"     ORDER BY x.name)"
				"   FROM adjustment_deliveries d LEFT JOIN destinations x ON x.id "
				"= d.destination_id"
				"   WHERE d.adjustment_id = a.id), '[]'::json)) AS j"
				" FROM adjustments a LEFT JOIN conversions c ON c.id = "
				"a.conversion_id"
				" WHERE ($1::bigint IS NULL OR a.conversion_id = $1::bigint)"
				"   AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM "
				"adjustment_deliveries d"
				"        WHERE d.adjustment_id = a.id AND d.state = $2::text))"
				" ORDER BY a.id DESC LIMIT $3::int) s";

#define STATE_COUNTS(t)                                                                            \
	"'pending', count(*) FILTER (WHERE " t ".state = 'pending'),"                              \
	" 'in_flight', count(*) FILTER (WHERE " t ".state = 'in_flight'),"                         \
	" 'delivered', count(*) FILTER (WHERE " t ".state = 'delivered'),"                         \
	" 'failed', count(*) FILTER (WHERE " t ".state = 'failed'),"                               \
	" 'dead', count(*) FILTER (WHERE " t ".state = 'dead'),"                                   \
	" 'not_supported', count(*) FILTER (WHERE " t ".state = 'not_supported')"

static const char stats_sql[] = "SELECT json_build_object(" STATE_COUNTS(
	"d") ","
	     " 'destinations', coalesce((SELECT json_agg(r ORDER BY r->>'name') FROM ("
	     "   SELECT json_build_object('id', x.id, 'name', x.name, 'kind', "
	     "x.kind, " STATE_COUNTS("w") "   ) AS r FROM adjustment_deliveries w JOIN "
					  "destinations x ON x.id = w.destination_id"
					  "   GROUP BY x.id) s), '[]'::json))::text "
					  "FROM adjustment_deliveries d";

static int query_json(PGconn *conn, const char *sql, int n, const char *const *params,
		      const char *what, cJSON **out, struct err *e)
{
	PGresult *res = NULL;
	int rc = run(conn, sql, n, params, what, &res, e);

	if (rc != 0)
		return rc;
	*out = PQntuples(res) == 1 ? cJSON_Parse(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	if (*out == NULL)
		return err_set(e, ERR_NOMEM, "%s: unreadable answer", what);
	return 0;
}

int adjustment_store_list(PGconn *conn, int64_t conversion_id, const char *state, int limit,
			  cJSON **out, struct err *e)
{
	char conv[24], lim[16];
	const char *params[3] = { NULL, state, lim };

	if (conversion_id > 0) {
		snprintf(conv, sizeof(conv), "%lld", (long long)conversion_id);
		params[0] = conv;
	}
	snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit : 50);
	return query_json(conn, list_sql, 3, params, "could not list adjustments", out, e);
}

int adjustment_store_stats(PGconn *conn, cJSON **out, struct err *e)
{
	return query_json(conn, stats_sql, 0, NULL, "could not count adjustments", out, e);
}

/* ---- delivery (stage 2) ------------------------------------------------------------ */

static const char claim_sql[] =
	"WITH due AS ("
	"  SELECT ad.id FROM adjustment_deliveries ad"
	"  JOIN adjustments a ON a.id = ad.adjustment_id"
	"  JOIN destinations x ON x.id = ad.destination_id"
	"  WHERE ad.state = 'pending' AND ad.next_attempt_at <= now() AND x.enabled"
	"    AND NOT EXISTS (SELECT 1 FROM destination_health h"
	"                    WHERE h.destination_id = ad.destination_id AND h.state <> 'closed')"
	"    AND EXISTS (SELECT 1 FROM deliveries d WHERE d.conversion_id = a.conversion_id"
	"                AND d.destination_id = ad.destination_id AND d.state = 'delivered')"
	"    AND NOT EXISTS (SELECT 1 FROM adjustment_deliveries e"
	"                    JOIN adjustments b ON b.id = e.adjustment_id"
	"                    WHERE b.conversion_id = a.conversion_id AND b.id < a.id"
	"                      AND e.destination_id = ad.destination_id"
	"                      AND e.state IN ('pending', 'in_flight'))"
	"  ORDER BY ad.next_attempt_at LIMIT $1 FOR UPDATE OF ad SKIP LOCKED"
	"), upd AS ("
	"  UPDATE adjustment_deliveries ad SET state = 'in_flight', attempts = ad.attempts + 1,"
	"         lease_until = now() + $2::int8 * interval '1 millisecond', updated_at = now()"
	"  FROM due WHERE ad.id = due.id"
	"  RETURNING ad.id, ad.adjustment_id, ad.destination_id, ad.attempts"
	") "
	"SELECT u.id, u.attempts, u.destination_id::text, a.kind, a.value::text, a.currency,"
	" c.order_id, c.event_id, (extract(epoch FROM a.occurred_at) * 1000000)::int8 "
	"FROM upd u JOIN adjustments a ON a.id = u.adjustment_id"
	" JOIN conversions c ON c.id = a.conversion_id "
	"ORDER BY u.destination_id, a.id";

static const char record_sql[] =
	"UPDATE adjustment_deliveries ad SET state = u.state,"
	"  next_attempt_at = CASE WHEN u.state = 'pending'"
	"      THEN now() + u.delay_ms * interval '1 millisecond' ELSE ad.next_attempt_at END,"
	"  lease_until = NULL,"
	"  attempts = ad.attempts - CASE WHEN u.refund THEN 1 ELSE 0 END,"
	"  last_status = u.status, platform_code = u.code, last_error = u.error,"
	"  delivered_at = CASE WHEN u.state = 'delivered' THEN now() ELSE ad.delivered_at END,"
	"  updated_at = now() "
	"FROM unnest($1::int8[], $2::int4[], $3::text[], $4::int8[], $5::bool[], $6::int4[],"
	"            $7::text[], $8::text[])"
	"  AS u(id, claimed, state, delay_ms, refund, status, code, error) "
	"WHERE ad.id = u.id AND ad.state = 'in_flight' AND ad.attempts = u.claimed";

/* Like deliveries (delivery_store.c expire_sql): an expired lease is an
 * unknown outcome, sent once more; Google answers a repeated adjustment
 * with an error of its own, not a double count. */
static const char expire_sql[] =
	"UPDATE adjustment_deliveries SET"
	"  state = CASE WHEN attempts > $1::int8 THEN 'dead' ELSE 'pending' END,"
	"  lease_until = NULL, next_attempt_at = now(), updated_at = now(),"
	"  last_error = CASE WHEN attempts > $1::int8"
	"    THEN 'lease expired on the extra attempt after the last one: giving up'"
	"    ELSE 'lease expired: the worker holding it stopped or stalled' END "
	"WHERE id IN (SELECT id FROM adjustment_deliveries WHERE state = 'in_flight'"
	"             AND lease_until < now() LIMIT 10000 FOR UPDATE SKIP LOCKED)";

int adjustment_store_claim(PGconn *conn, int limit, int64_t lease_ms, struct adj_claim *out,
			   struct err *e)
{
	char lim[16], lease[24];
	const char *params[2] = { lim, lease };
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
	rc = run(conn, claim_sql, 2, params, "could not claim adjustment deliveries", &res, e);
	if (rc != 0)
		return rc;
	out->res = res;
	out->n = (size_t)PQntuples(res);
	out->rows = xcalloc(out->n ? out->n : 1, sizeof(*out->rows));
	for (size_t i = 0; i < out->n; i++) {
		struct adj_claim_row *r = &out->rows[i];
		int row = (int)i;

		r->id = db_get_int64(res, row, 0);
		r->attempts = (int32_t)db_get_int64(res, row, 1);
		r->destination_id = PQgetvalue(res, row, 2);
		r->retraction = strcmp(PQgetvalue(res, row, 3), "retraction") == 0;
		r->value = PQgetvalue(res, row, 4);
		r->currency = db_get_str(res, row, 5);
		r->order_id = db_get_str(res, row, 6);
		r->event_id = PQgetvalue(res, row, 7);
		r->occurred_us = db_get_int64(res, row, 8);
	}
	return 0;
}

void adj_claim_cleanup(struct adj_claim *c)
{
	PQclear(c->res);
	free(c->rows);
	memset(c, 0, sizeof(*c));
}

int adjustment_store_record(PGconn *conn, const struct adj_record *recs, size_t n, int64_t *applied,
			    struct err *e)
{
	struct pgarr a[8];
	const uint32_t oids[8] = { PGOID_INT8, PGOID_INT4, PGOID_TEXT, PGOID_INT8,
				   PGOID_BOOL, PGOID_INT4, PGOID_TEXT, PGOID_TEXT };
	const char *values[8];
	int lengths[8];
	const int formats[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	PGresult *res;
	int rc;

	*applied = 0;
	if (n == 0)
		return 0;
	for (int i = 0; i < 8; i++)
		pgarr_init(&a[i], oids[i]);
	for (size_t i = 0; i < n; i++) {
		pgarr_add_int8(&a[0], recs[i].id);
		pgarr_add_int4(&a[1], recs[i].claimed);
		pgarr_add_text(&a[2], recs[i].state);
		pgarr_add_int8(&a[3], recs[i].delay_ms);
		pgarr_add_bool(&a[4], recs[i].refund);
		pgarr_add_int4(&a[5], recs[i].http_status);
		pgarr_add_text(&a[6], recs[i].platform_code);
		pgarr_add_text(&a[7], recs[i].error);
	}
	for (int i = 0; i < 8; i++)
		values[i] = pgarr_finish(&a[i], &lengths[i]);
	res = PQexecParams(conn, record_sql, 8, NULL, values, lengths, formats, 0);
	rc = db_check(conn, res, "could not record adjustment deliveries", e);
	if (rc == 0)
		*applied = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	for (int i = 0; i < 8; i++)
		pgarr_cleanup(&a[i]);
	return rc;
}

int adjustment_store_expire_leases(PGconn *conn, int64_t max_attempts, int64_t *n, struct err *e)
{
	char max[24];
	const char *params[1] = { max };
	PGresult *res = NULL;
	int rc;

	*n = 0;
	snprintf(max, sizeof(max), "%lld", (long long)max_attempts);
	rc = run(conn, expire_sql, 1, params, "could not expire adjustment leases", &res, e);
	if (rc != 0)
		return rc;
	*n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}
