/*
 * normalize_store.c - the statements of stage 1.
 *
 * The claim reads binary results so bodies come back as raw bytes (no
 * bytea hex decoding); the writes pass binary arrays to unnest() so a batch
 * of a thousand conversions is one statement.  Deliveries for a paused
 * destination are created 'held' so they wait for `destination resume`;
 * those of a conversion over its tenant's monthly quota are created 'held'
 * with hold_reason 'quota' (store/quota_store.c releases them), counted in
 * tenant_usage in the same statement.
 */
#include "store/normalize_store.h"
#include "core/mem.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Take the oldest queued raw events: the DELETE is the claim (SKIP LOCKED
 * lets workers share the queue; a rollback puts them back).  Events of a
 * disabled source are passed over and stay queued until it is enabled
 * again, except those whose topic is in $2 (the topics a disabled source
 * still takes: source_ops.disabled_topics).  Events whose source no longer exists are claimed with
 * a NULL kind (the caller marks them 'ignored' with a reason), so nothing leaves the queue without
 * a recorded fate.  A queue row whose raw event is gone (purged) is simply dropped.  The source
 * check is a correlated subquery and the DELETE takes an array so that both stay index probes per
 * queued row whatever the planner thinks of the sizes (a merge or hash join here would read all of
 * raw_events or raw_queue on every claim).
 */
static const char claim_sql[] =
	"WITH c AS ("
	"  SELECT q.raw_event_id FROM raw_queue q"
	"  WHERE (SELECT s.enabled OR r.topic = ANY ($2::text[])"
	"         FROM raw_events r LEFT JOIN sources s ON s.id = r.source_id"
	"         WHERE r.id = q.raw_event_id AND r.received_at = q.received_at) IS NOT FALSE"
	"  ORDER BY q.raw_event_id LIMIT $1 FOR UPDATE SKIP LOCKED"
	"), q AS ("
	"  DELETE FROM raw_queue WHERE raw_event_id = ANY (ARRAY(SELECT raw_event_id FROM c))"
	"  RETURNING raw_event_id, received_at"
	") "
	"SELECT r.id, (extract(epoch FROM r.received_at) * 1000000)::int8, r.source_id::text, "
	"       s.tenant_id, s.kind, r.topic, r.headers::text, r.body, s.settings::text,"
	"       r.items_new IS NOT NULL, array_to_string(r.items_new, ',') "
	"FROM q JOIN raw_events r ON r.id = q.raw_event_id AND r.received_at = q.received_at "
	"LEFT JOIN sources s ON s.id = r.source_id ORDER BY r.id";

/* $11: lease in ms for deliveries the caller uploads at once ('in_flight',
 * attempt 1), or 0 to leave them 'pending' for a later claim.  A test
 * conversion ($12) goes only to destinations in test mode; towards any
 * other its delivery is created 'skipped' with last_error 'test'.
 * Quotas: $13/$14 the limited plans and their monthly limits, $15 the
 * month (tenant_usage.month).  A tenant's limit is its own monthly_quota
 * when set (0 = unlimited), else its plan's; the k-th new non-test
 * conversion of a tenant in this batch is over quota when admitted + k >
 * limit, and its deliveries are created 'held' with hold_reason 'quota'
 * (a test one is never held, nor counted).  The usage row was locked
 * beforehand (usage_lock_sql), so the admitted read
 * here is the latest and two workers cannot both take the last unit. */
static const char write_sql[] =
	"WITH input AS ("
	"  SELECT * FROM unnest($1::int8[], $2::uuid[], $3::int8[], $4::text[], $5::text[],"
	"                       $6::int8[], $7::text[], $8::text[], $9::text[], $10::json[],"
	"                       $12::bool[])"
	"  WITH ORDINALITY AS t(raw_id, source_id, tenant_id, event, event_id, occurred_us, value,"
	"                       currency, order_id, payload, test, ord)"
	"), conv AS ("
	"  INSERT INTO conversions (tenant_id, source_id, raw_event_id, event, event_id,"
	"                           occurred_at, value, currency, order_id, payload, test)"
	"  SELECT tenant_id, source_id, raw_id, event, event_id,"
	"         'epoch'::timestamptz + occurred_us * interval '1 microsecond',"
	"         value::numeric, currency, order_id, payload, test FROM input ORDER BY ord"
	"  ON CONFLICT (source_id, event_id) DO NOTHING"
	"  RETURNING id, tenant_id, source_id, event_id, event, test"
	"), lim AS ("
	"  SELECT t.id AS tenant_id, coalesce(u.admitted, 0) AS admitted,"
	"         nullif(coalesce(t.monthly_quota, q.quota, 0), 0) AS quota"
	"  FROM tenants t"
	"  LEFT JOIN tenant_usage u ON u.tenant_id = t.id AND u.month = $15::date"
	"  LEFT JOIN unnest($13::text[], $14::int8[]) AS q(plan, quota) ON q.plan = t.plan"
	"  WHERE t.id IN (SELECT tenant_id FROM conv)"
	"), ranked AS ("
	"  SELECT c.id, c.tenant_id, c.test,"
	"         NOT c.test AND l.quota IS NOT NULL AND l.admitted + row_number() OVER"
	"           (PARTITION BY c.tenant_id, c.test ORDER BY c.id) > l.quota AS over"
	"  FROM conv c JOIN lim l ON l.tenant_id = c.tenant_id"
	"), usage AS ("
	"  INSERT INTO tenant_usage (tenant_id, month, admitted, over_quota)"
	"  SELECT tenant_id, $15::date, count(*) FILTER (WHERE NOT over),"
	"         count(*) FILTER (WHERE over)"
	"  FROM ranked WHERE NOT test GROUP BY tenant_id ORDER BY tenant_id"
	"  ON CONFLICT (tenant_id, month) DO UPDATE"
	"  SET admitted = tenant_usage.admitted + excluded.admitted,"
	"      over_quota = tenant_usage.over_quota + excluded.over_quota"
	"), deliv AS ("
	"  INSERT INTO deliveries (conversion_id, destination_id, tenant_id, state, attempts,"
	"                          lease_until, last_error, hold_reason)"
	"  SELECT c.id, r.destination_id, c.tenant_id,"
	"         CASE WHEN x.skip THEN 'skipped' WHEN k.over OR NOT d.enabled THEN 'held'"
	"              WHEN $11 > 0 THEN 'in_flight' ELSE 'pending' END,"
	"         CASE WHEN x.send AND $11 > 0 THEN 1 ELSE 0 END,"
	"         CASE WHEN x.send AND $11 > 0 THEN now() + $11 * interval '1 millisecond' END,"
	"         CASE WHEN x.skip THEN 'test' END,"
	"         CASE WHEN k.over AND NOT x.skip THEN 'quota' END"
	"  FROM conv c JOIN ranked k ON k.id = c.id"
	"  JOIN routes r ON r.source_id = c.source_id"
	"                          AND (r.events IS NULL OR c.event = ANY (r.events))"
	"  JOIN destinations d ON d.id = r.destination_id"
	"  CROSS JOIN LATERAL (SELECT c.test AND NOT d.test_mode AS skip,"
	"                             d.enabled AND NOT k.over"
	"                             AND NOT (c.test AND NOT d.test_mode) AS send) x"
	"  RETURNING id, conversion_id, destination_id, state, attempts"
	") "
	"SELECT i.ord, dl.id, dl.conversion_id, dl.destination_id::text, dl.attempts, dl.state "
	"FROM deliv dl JOIN conv c ON c.id = dl.conversion_id"
	"  JOIN (SELECT DISTINCT ON (source_id, event_id) source_id, event_id, ord FROM input"
	"        ORDER BY source_id, event_id, ord) i"
	"    ON i.source_id = c.source_id AND i.event_id = c.event_id "
	"UNION ALL SELECT 0, (SELECT count(*) FROM conv), 0, NULL, 0, NULL";

/* Create (or touch) and lock the month's usage rows of the batch's tenants
 * in tenant order (two workers lock in the same order: no deadlock), so
 * that write_sql reads an admitted no one else is changing. */
static const char usage_lock_sql[] =
	"INSERT INTO tenant_usage (tenant_id, month)"
	" SELECT DISTINCT t, $2::date FROM unnest($1::int8[]) AS t"
	"  WHERE EXISTS (SELECT 1 FROM tenants WHERE id = t) ORDER BY 1"
	" ON CONFLICT (tenant_id, month) DO UPDATE SET admitted = tenant_usage.admitted";

/* Only events that did not simply succeed are written (see the schema). */
static const char mark_sql[] =
	"UPDATE raw_events r SET state = u.state, error = u.error, processed_at = now() "
	"FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[]) AS u(id, rus, state, error) "
	"WHERE r.id = u.id "
	"  AND r.received_at = 'epoch'::timestamptz + u.rus * interval '1 microsecond'";

int normalize_store_prepare(PGconn *conn, struct err *e)
{
	static const struct {
		const char *name;
		const char *sql;
	} stmts[] = { { "adseng_n_claim", claim_sql },
		      { "adseng_n_write", write_sql },
		      { "adseng_n_usage_lock", usage_lock_sql },
		      { "adseng_n_mark", mark_sql } };

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		PGresult *res = PQprepare(conn, stmts[i].name, stmts[i].sql, 0, NULL);
		int rc = db_check(conn, res, "could not prepare a stage 1 statement", e);

		PQclear(res);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int64_t be64(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | u[i];
	return (int64_t)v;
}

/* "0,2,5" (a row's new event positions) into r's own array. */
static void read_items_new(struct raw_row *r, const char *list)
{
	size_t cap = 1;

	for (const char *p = list; *p; p++)
		cap += *p == ',';
	r->items_new = xcalloc(cap, sizeof(*r->items_new));
	for (const char *p = list; *p && r->n_items_new < cap;) {
		char *end;
		long k = strtol(p, &end, 10);

		if (end == p)
			break;
		r->items_new[r->n_items_new++] = (int32_t)k;
		p = *end == ',' ? end + 1 : end;
	}
}

int normalize_store_begin(PGconn *conn, int limit, const char *disabled_topics,
			  struct raw_batch *batch, struct err *e)
{
	char lim[16];
	const char *params[2] = { lim, disabled_topics ? disabled_topics : "{}" };
	PGresult *res;
	int rc, n;

	memset(batch, 0, sizeof(*batch));
	rc = db_exec(conn, "BEGIN", e);
	if (rc != 0)
		return rc;
	snprintf(lim, sizeof(lim), "%d", limit);
	res = PQexecPrepared(conn, "adseng_n_claim", 2, params, NULL, NULL, 1);
	rc = db_check(conn, res, "could not claim raw events", e);
	if (rc != 0) {
		PQclear(res);
		normalize_store_rollback(conn);
		return rc;
	}
	n = PQntuples(res);
	batch->res = res;
	batch->n = (size_t)n;
	batch->rows = xcalloc((size_t)(n ? n : 1), sizeof(*batch->rows));
	for (int i = 0; i < n; i++) {
		struct raw_row *r = &batch->rows[i];

		r->id = be64(PQgetvalue(res, i, 0));
		r->received_us = be64(PQgetvalue(res, i, 1));
		snprintf(r->source_id, sizeof(r->source_id), "%.*s", PQgetlength(res, i, 2),
			 PQgetvalue(res, i, 2));
		/* The source was deleted: no tenant, no kind (see claim_sql). */
		r->tenant_id = PQgetisnull(res, i, 3) ? 0 : be64(PQgetvalue(res, i, 3));
		/* Binary text values are not NUL-terminated by contract, but libpq
		 * always appends a NUL after every value, so they are C strings. */
		r->kind = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
		r->topic = PQgetvalue(res, i, 5);
		r->headers_json = PQgetvalue(res, i, 6);
		r->body = (const uint8_t *)PQgetvalue(res, i, 7);
		r->body_len = (size_t)PQgetlength(res, i, 7);
		r->settings_json = PQgetisnull(res, i, 8) ? NULL : PQgetvalue(res, i, 8);
		r->has_items = PQgetvalue(res, i, 9)[0] != 0;
		if (r->has_items && !PQgetisnull(res, i, 10))
			read_items_new(r, PQgetvalue(res, i, 10));
	}
	return 0;
}

/* usage_lock_sql for the tenants of rows (a[2], the finished int8[]). */
static int lock_usage(PGconn *conn, const char *tenants, int tenants_len, const char *month,
		      struct err *e)
{
	const char *values[2] = { tenants, month };
	const int lengths[2] = { tenants_len, 0 };
	const int formats[2] = { 1, 0 };
	PGresult *res = PQexecPrepared(conn, "adseng_n_usage_lock", 2, values, lengths, formats, 0);
	int rc = db_check(conn, res, "could not lock the tenants' usage rows", e);

	PQclear(res);
	return rc;
}

int normalize_store_write(PGconn *conn, const struct conv_row *rows, size_t n, int64_t lease_ms,
			  const struct plan_quotas *quotas, const char *month,
			  struct fresh_batch *out, int64_t *n_conv, struct err *e)
{
	/* a[10] is $12: values[10] is the lease, $11; $13..$15 the quotas */
	struct pgarr a[11];
	const uint32_t oids[11] = { PGOID_INT8, PGOID_UUID, PGOID_INT8, PGOID_TEXT,
				    PGOID_TEXT, PGOID_INT8, PGOID_TEXT, PGOID_TEXT,
				    PGOID_TEXT, PGOID_JSON, PGOID_BOOL };
	const char *values[15];
	int lengths[15] = { 0 };
	const int formats[15] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0 };
	char lease[24], plans[256], limits[256];
	PGresult *res = NULL;
	int rc = 0;

	*n_conv = 0;
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return 0;
	for (int i = 0; i < 11; i++)
		pgarr_init(&a[i], oids[i]);
	for (size_t i = 0; i < n; i++) {
		pgarr_add_int8(&a[0], rows[i].raw_id);
		if (pgarr_add_uuid_text(&a[1], rows[i].source_id) != 0) {
			rc = err_set(e, ERR_INVALID, "malformed source id");
			goto out;
		}
		pgarr_add_int8(&a[2], rows[i].tenant_id);
		pgarr_add_text(&a[3], rows[i].event);
		pgarr_add_text(&a[4], rows[i].event_id);
		pgarr_add_int8(&a[5], rows[i].occurred_us);
		pgarr_add_text(&a[6], rows[i].value);
		pgarr_add_text(&a[7], rows[i].currency);
		pgarr_add_text(&a[8], rows[i].order_id);
		pgarr_add_bytes(&a[9], rows[i].payload, rows[i].payload_len);
		pgarr_add_bool(&a[10], rows[i].test);
	}
	for (int i = 0; i < 10; i++)
		values[i] = pgarr_finish(&a[i], &lengths[i]);
	snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
	values[10] = lease;
	lengths[10] = 0;
	values[11] = pgarr_finish(&a[10], &lengths[11]);
	quota_sql_arrays(quotas, plans, limits, sizeof(plans));
	values[12] = plans;
	values[13] = limits;
	values[14] = month;
	/* Always, not only when a plan has a quota: a tenant's own
	 * monthly_quota applies without any [plans] quotas. */
	rc = lock_usage(conn, values[2], lengths[2], month, e);
	if (rc != 0)
		goto out;
	res = PQexecPrepared(conn, "adseng_n_write", 15, values, lengths, formats, 0);
	rc = db_check(conn, res, "could not write conversions", e);
	if (rc != 0) {
		if (!db_is_broken(conn) && db_sqlstate_is_data_error(db_sqlstate(res)))
			rc = e->code = ERR_INVALID;
		goto out;
	}
	out->v = xcalloc((size_t)PQntuples(res) + 1, sizeof(*out->v));
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t ord = db_get_int64(res, r, 0);
		struct fresh_delivery *f;

		if (ord == 0) {
			*n_conv = db_get_int64(res, r, 1);
			continue;
		}
		out->n_deliveries++;
		if (strcmp(PQgetvalue(res, r, 5), "in_flight") != 0)
			continue;
		f = &out->v[out->n++];
		f->ord = (size_t)ord;
		f->id = db_get_int64(res, r, 1);
		f->conversion_id = db_get_int64(res, r, 2);
		snprintf(f->destination_id, sizeof(f->destination_id), "%s", PQgetvalue(res, r, 3));
		f->attempts = (int32_t)db_get_int64(res, r, 4);
	}
out:
	PQclear(res);
	for (int i = 0; i < 11; i++)
		pgarr_cleanup(&a[i]);
	return rc;
}

int normalize_store_commit(PGconn *conn, const struct raw_mark *marks, size_t n, struct err *e)
{
	struct pgarr a[4];
	const uint32_t oids[4] = { PGOID_INT8, PGOID_INT8, PGOID_TEXT, PGOID_TEXT };
	const char *values[4];
	int lengths[4];
	const int formats[4] = { 1, 1, 1, 1 };
	PGresult *res;
	size_t todo = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		todo += strcmp(marks[i].state, "done") != 0;
	if (todo == 0)
		return db_exec(conn, "COMMIT", e);
	for (int i = 0; i < 4; i++)
		pgarr_init(&a[i], oids[i]);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(marks[i].state, "done") == 0)
			continue;
		pgarr_add_int8(&a[0], marks[i].id);
		pgarr_add_int8(&a[1], marks[i].received_us);
		pgarr_add_text(&a[2], marks[i].state);
		pgarr_add_text(&a[3], marks[i].error);
	}
	for (int i = 0; i < 4; i++)
		values[i] = pgarr_finish(&a[i], &lengths[i]);
	res = PQexecPrepared(conn, "adseng_n_mark", 4, values, lengths, formats, 0);
	rc = db_check(conn, res, "could not mark raw events", e);
	PQclear(res);
	for (int i = 0; i < 4; i++)
		pgarr_cleanup(&a[i]);
	if (rc != 0) {
		normalize_store_rollback(conn);
		return rc;
	}
	return db_exec(conn, "COMMIT", e);
}

void normalize_store_rollback(PGconn *conn)
{
	PGresult *res = PQexec(conn, "ROLLBACK");

	PQclear(res);
}

void raw_batch_cleanup(struct raw_batch *b)
{
	for (size_t i = 0; b->rows && i < b->n; i++)
		free(b->rows[i].items_new);
	PQclear(b->res);
	free(b->rows);
	memset(b, 0, sizeof(*b));
}
