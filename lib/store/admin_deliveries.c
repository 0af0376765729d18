/*
 * admin_deliveries.c - the delivery operations of admin.h: listing, one
 * delivery with its attempts, replay, and stats.  Shared helpers:
 * admin_core.c.
 */
#include "store/admin.h"
#include "core/clock.h"
#include "store/adjustment_store.h"
#include "store/admin_breaker.h"
#include "store/admin_int.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- deliveries ------------------------------------------------------------------ */

int admin_deliveries_list(PGconn *conn, const struct admin_delivery_filter *f, cJSON **out,
			  struct err *e)
{
	struct params p = { 0 };

	adm_p_text(&p, f->state);
	adm_p_text(&p, f->destination_id);
	adm_p_int64_opt(&p, f->tenant_id);
	adm_p_time_opt(&p, f->has_since, f->since_us);
	adm_p_int64(&p, f->limit);
	adm_p_time_opt(&p, f->has_until, f->until_us);
	adm_p_int64_opt(&p, f->before_id);
	return adm_query_rows(
		conn,
		"SELECT d.id, d.state, d.attempts, x.name AS destination, c.event, c.event_id,"
		" d.next_attempt_at, d.last_status, d.last_error, d.updated_at,"
		" d.destination_id, d.conversion_id"
		" FROM deliveries d JOIN destinations x ON x.id = d.destination_id"
		" JOIN conversions c ON c.id = d.conversion_id"
		" WHERE ($1::text IS NULL OR d.state = $1::text)"
		" AND ($2::uuid IS NULL OR d.destination_id = $2::uuid)"
		" AND ($3::bigint IS NULL OR d.tenant_id = $3::bigint)"
		" AND ($4::timestamptz IS NULL OR d.updated_at >= $4::timestamptz)"
		" AND ($6::timestamptz IS NULL OR d.updated_at < $6::timestamptz)"
		" AND ($7::bigint IS NULL OR d.id < $7::bigint)"
		" ORDER BY d.id DESC LIMIT $5::bigint",
		&p, "could not list deliveries", out, e);
}

/* The first row of a query as an object, or JSON null when there is none. */
static int query_one(PGconn *conn, const char *sql, const struct params *p, const char *what,
		     cJSON **out, struct err *e)
{
	cJSON *rows = NULL, *first;
	int rc = adm_query_rows(conn, sql, p, what, &rows, e);

	if (rc != 0)
		return rc;
	first = cJSON_DetachItemFromArray(rows, 0);
	cJSON_Delete(rows);
	*out = first ? first : cJSON_CreateNull();
	if (*out == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static const char show_delivery_sql[] =
	"SELECT d.id, d.state, d.attempts, d.next_attempt_at, d.lease_until, d.last_status,"
	" d.platform_code, d.last_error, d.created_at, d.updated_at, d.delivered_at,"
	" d.conversion_id, d.destination_id, d.tenant_id, d.request_id"
	" FROM deliveries d WHERE d.id = $1::bigint";
/* The platform's later report on the request that carried it (Data
 * Manager requestStatus, sql/0006); null when there is none. */
static const char show_request_sql[] =
	"SELECT p.request_id, p.status, p.summary, p.events, p.sent_at, p.checked_at, p.polls,"
	" p.next_poll_at FROM deliveries d JOIN platform_requests p"
	" ON p.destination_id = d.destination_id AND p.request_id = d.request_id"
	" WHERE d.id = $1::bigint";
static const char show_conversion_sql[] =
	"SELECT c.id, c.event, c.event_id, c.occurred_at, c.value, c.currency, c.order_id,"
	" c.source_id, s.name AS source, c.raw_event_id, c.created_at, c.payload"
	" FROM deliveries d JOIN conversions c ON c.id = d.conversion_id"
	" LEFT JOIN sources s ON s.id = c.source_id WHERE d.id = $1::bigint";
static const char show_destination_sql[] =
	"SELECT x.id, x.name, x.kind, t.name AS tenant, x.enabled, x.paused_reason,"
	" x.test_mode, x.settings"
	" FROM deliveries d JOIN destinations x ON x.id = d.destination_id"
	" JOIN tenants t ON t.id = x.tenant_id WHERE d.id = $1::bigint";
static const char show_attempts_sql[] =
	"SELECT a.at, a.outcome, a.http_status, a.platform_code, a.latency_ms, a.error"
	" FROM delivery_attempts a WHERE a.delivery_id = $1::bigint ORDER BY a.at";

static int delivery_show_tx(PGconn *conn, int64_t id, cJSON *o, struct err *e)
{
	static const struct {
		const char *key, *sql, *what;
		bool many;
	} parts[] = {
		{ "delivery", show_delivery_sql, "could not read delivery", false },
		{ "conversion", show_conversion_sql, "could not read conversion", false },
		{ "destination", show_destination_sql, "could not read destination", false },
		{ "attempts", show_attempts_sql, "could not read delivery attempts", true },
		{ "platform_request", show_request_sql, "could not read the platform request",
		  false },
	};
	struct params p = { 0 };
	int rc = 0;

	adm_p_int64(&p, id);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && rc == 0; i++) {
		cJSON *v = NULL;

		if (parts[i].many)
			rc = adm_query_rows(conn, parts[i].sql, &p, parts[i].what, &v, e);
		else
			rc = query_one(conn, parts[i].sql, &p, parts[i].what, &v, e);
		if (rc == 0 && i == 0 && cJSON_IsNull(v))
			rc = err_set(e, ERR_NOTFOUND, "no delivery with id %" PRId64, id);
		if (rc == 0 && strcmp(parts[i].key, "destination") == 0)
			rc = admin_breaker_annotate(conn, v, e);
		if (rc == 0 && !adm_add(o, parts[i].key, v))
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else if (rc != 0)
			cJSON_Delete(v);
	}
	return rc;
}

int admin_delivery_show(PGconn *conn, int64_t id, cJSON **out, struct err *e)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	if (o == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = adm_tx_begin_snapshot(conn, e);
	if (rc != 0)
		goto out;
	rc = delivery_show_tx(conn, id, o, e);
	/* Read only: ending it either way changes nothing. */
	rc = adm_tx_end(conn, rc, e);
out:
	if (rc == 0)
		*out = o;
	else
		cJSON_Delete(o);
	return rc;
}

/* ---- replay ------------------------------------------------------------------- */

/*
 * The filter every replay query shares, over deliveries d and the six
 * parameters bound by replay_params().  The state list can only name
 * failed, dead and held: pending, in_flight and delivered rows never match.
 */
#define REPLAY_MATCH                                                                               \
	"d.state = ANY ($1::text[])"                                                               \
	" AND ($2::uuid IS NULL OR d.destination_id = $2::uuid)"                                   \
	" AND ($3::bigint IS NULL OR d.tenant_id = $3::bigint)"                                    \
	" AND ($4::timestamptz IS NULL OR d.updated_at >= $4::timestamptz)"                        \
	" AND ($5::timestamptz IS NULL OR d.updated_at < $5::timestamptz)"                         \
	" AND ($6::bigint[] IS NULL OR d.id = ANY ($6::bigint[]))"

static const char replay_ids_sql[] =
	"SELECT r.id, d.state, coalesce(" REPLAY_MATCH ", false) AS selected"
	" FROM unnest($6::bigint[]) WITH ORDINALITY AS r (id, ord)"
	/* Another tenant's delivery (a scoped replay) is as absent as a
	 * missing one: its state is not shown. */
	" LEFT JOIN deliveries d ON d.id = r.id"
	" AND ($3::bigint IS NULL OR d.tenant_id = $3::bigint) ORDER BY r.ord";

/*
 * The real run moves the matching rows in batches, all in the caller's one
 * transaction (so it commits or rolls back whole, as before), recording
 * each moved row in a temporary table; the groups are then counted from
 * it.  Between batches the caller's progress callback runs: a replay of
 * millions of rows shows it moving.  A moved row is pending and no longer
 * matches, so the next batch takes the next rows.
 */
#define REPLAY_BATCH "5000"

static const char replay_moved_sql[] =
	"CREATE TEMP TABLE replay_moved (destination_id uuid, state text) ON COMMIT DROP";

static const char replay_batch_sql[] =
	"WITH c AS (SELECT d.id, d.state, d.destination_id FROM deliveries d"
	" WHERE " REPLAY_MATCH " LIMIT " REPLAY_BATCH " FOR UPDATE OF d),"
	" u AS (UPDATE deliveries d SET state = 'pending', attempts = 0,"
	" next_attempt_at = now(), lease_until = NULL, updated_at = now(),"
	/* an operator's replay of a delivery held for quota overrides it */
	" hold_reason = NULL FROM c WHERE d.id = c.id RETURNING c.destination_id, c.state)"
	" INSERT INTO replay_moved SELECT destination_id, state FROM u";

static const char replay_moved_groups_sql[] =
	"SELECT u.destination_id, x.name AS destination, NOT x.enabled AS paused, u.state,"
	" count(*) AS count FROM replay_moved u JOIN destinations x ON x.id = u.destination_id"
	" GROUP BY u.destination_id, x.name, x.enabled, u.state"
	" ORDER BY x.name, u.destination_id, u.state";

static const char replay_count_sql[] = "SELECT count(*) FROM deliveries d WHERE " REPLAY_MATCH;

static const char replay_groups_sql[] =
	"SELECT d.destination_id, x.name AS destination, NOT x.enabled AS paused, d.state,"
	" count(*) AS count FROM deliveries d JOIN destinations x ON x.id = d.destination_id"
	" WHERE " REPLAY_MATCH " GROUP BY d.destination_id, x.name, x.enabled, d.state"
	" ORDER BY x.name, d.destination_id, d.state";

static const char replay_sample_sql[] =
	"SELECT d.id, d.state, x.name AS destination, d.last_error"
	" FROM deliveries d JOIN destinations x ON x.id = d.destination_id"
	" WHERE " REPLAY_MATCH " ORDER BY d.id LIMIT 20"; /* the dry run's sample */

static const char *const replay_state_names[] = { "failed", "dead", "held" };

/* Bind the six REPLAY_MATCH parameters; the arrays must outlive the exec. */
static void replay_params(struct params *p, const struct admin_replay_filter *f,
			  struct pgarr *states, struct pgarr *ids)
{
	const char *data;
	int len = 0;

	for (size_t i = 0; i < 3; i++) {
		if (f->states & (1u << i))
			pgarr_add_text(states, replay_state_names[i]);
	}
	data = pgarr_finish(states, &len);
	adm_p_binary(p, data, len, OID_TEXTARRAY);
	adm_p_text(p, f->destination_id);
	adm_p_int64_opt(p, f->tenant_id);
	adm_p_time_opt(p, f->has_since, f->since_us);
	adm_p_time_opt(p, f->has_until, f->until_us);
	data = NULL;
	len = 0;
	if (f->ids) {
		for (size_t i = 0; i < f->n_ids; i++)
			pgarr_add_int8(ids, f->ids[i]);
		data = pgarr_finish(ids, &len);
	}
	adm_p_binary(p, data, len, OID_INT8ARRAY);
}

static const char *replay_reason(const char *state, bool selected, bool dry_run)
{
	if (state == NULL)
		return "no such delivery";
	if (strcmp(state, "failed") != 0 && strcmp(state, "dead") != 0 &&
	    strcmp(state, "held") != 0)
		return "only failed, dead and held deliveries are replayed";
	if (!selected)
		return "excluded by the other filters (--state, --destination, --tenant, --since, "
		       "--until)";
	return dry_run ? "would be replayed" : "replayed";
}

/* One entry per requested id: what it is and whether it moves. */
static int replay_id_notes(PGconn *conn, const struct params *p, bool dry_run, cJSON *o,
			   struct err *e)
{
	PGresult *res = NULL;
	cJSON *arr = cJSON_CreateArray();
	bool ok = arr != NULL;
	int rc;

	rc = adm_run(conn, replay_ids_sql, p, "could not look up deliveries", &res, e);
	for (int r = 0; rc == 0 && ok && r < PQntuples(res); r++) {
		cJSON *it = cJSON_CreateObject();
		const char *state = db_get_str(res, r, 1);
		bool sel = PQgetvalue(res, r, 2)[0] == 't';

		ok = it != NULL;
		adm_put_num(it, "id", (double)db_get_int64(res, r, 0), &ok);
		adm_put_str(it, "state", state, &ok);
		adm_put(it, "replayed", cJSON_CreateBool(sel && !dry_run), &ok);
		adm_put_str(it, "reason", replay_reason(state, sel, dry_run), &ok);
		if (!ok || !cJSON_AddItemToArray(arr, it)) {
			cJSON_Delete(it);
			ok = false;
		}
	}
	PQclear(res);
	if (rc != 0) {
		cJSON_Delete(arr);
		return rc;
	}
	adm_put(o, "ids", arr, &ok);
	return ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

/* The real run's moves, batch by batch (see replay_batch_sql). */
static int replay_move(PGconn *conn, const struct admin_replay_filter *f, const struct params *p,
		       struct err *e)
{
	int64_t total = 0, done = 0, n;
	PGresult *res = NULL;
	int rc = adm_run_cmd(conn, replay_moved_sql, NULL, "could not replay deliveries", &n, e);

	if (rc == 0 && f->progress) {
		rc = adm_run(conn, replay_count_sql, p, "could not count deliveries", &res, e);
		if (rc == 0)
			total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	while (rc == 0) {
		rc = adm_run_cmd(conn, replay_batch_sql, p, "could not replay deliveries", &n, e);
		if (rc != 0 || n == 0)
			break;
		done += n;
		if (f->progress)
			f->progress(f->progress_arg, done, total > done ? total : done);
	}
	return rc;
}

/* The (destination, state) groups: moved ones (real run) or matching ones
 * (dry run); adds "groups" and "count" to o. */
static int replay_groups(PGconn *conn, const struct admin_replay_filter *f, const struct params *p,
			 bool dry_run, cJSON *o, int64_t *count, struct err *e)
{
	cJSON *groups = NULL, *g;
	bool ok = true;
	int rc = dry_run ? 0 : replay_move(conn, f, p, e);

	if (rc == 0)
		rc = adm_query_rows(conn, dry_run ? replay_groups_sql : replay_moved_groups_sql,
				    dry_run ? p : NULL, "could not count deliveries", &groups, e);
	if (rc != 0)
		return rc;
	*count = 0;
	cJSON_ArrayForEach (g, groups) {
		*count +=
			(int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "count"));
	}
	adm_put(o, "groups", groups, &ok);
	adm_put_num(o, "count", (double)*count, &ok);
	return ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static cJSON *replay_details(const struct admin_replay_filter *f, int64_t count)
{
	cJSON *d = cJSON_CreateObject(), *states = cJSON_CreateArray(), *ids = NULL;
	bool ok = d != NULL;

	for (size_t i = 0; states && i < 3; i++) {
		if ((f->states & (1u << i)) &&
		    !cJSON_AddItemToArray(states, cJSON_CreateString(replay_state_names[i])))
			ok = false;
	}
	adm_put(d, "states", states, &ok);
	adm_put_str(d, "destination_id", f->destination_id, &ok);
	adm_put(d, "tenant_id",
		f->tenant_id ? cJSON_CreateNumber((double)f->tenant_id) : cJSON_CreateNull(), &ok);
	for (int k = 0; k < 2; k++) {
		char ts[40];
		bool has = k == 0 ? f->has_since : f->has_until;

		clock_format_utc(k == 0 ? f->since_us : f->until_us, ts, sizeof(ts));
		adm_put_str(d, k == 0 ? "since" : "until", has ? ts : NULL, &ok);
	}
	if (f->ids) {
		ids = cJSON_CreateArray();
		for (size_t i = 0; ids && i < f->n_ids; i++) {
			if (!cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)f->ids[i])))
				ok = false;
		}
	}
	adm_put(d, "ids", f->ids ? ids : cJSON_CreateNull(), &ok);
	adm_put_num(d, "count", (double)count, &ok);
	if (!ok) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

static int replay_tx(PGconn *conn, const char *actor, const struct admin_replay_filter *f,
		     bool dry_run, const struct params *p, cJSON *o, struct err *e)
{
	cJSON *sample = NULL;
	int64_t count = 0;
	bool ok = true;
	int rc = 0;

	if (f->ids)
		rc = replay_id_notes(conn, p, dry_run, o, e);
	if (rc == 0)
		rc = replay_groups(conn, f, p, dry_run, o, &count, e);
	if (rc != 0)
		return rc;
	if (dry_run) {
		rc = adm_query_rows(conn, replay_sample_sql, p, "could not list deliveries",
				    &sample, e);
		adm_put(o, "sample", sample, &ok);
		return rc != 0 ? rc : ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	}
	rc = adm_audit(conn, actor, "replay", replay_details(f, count), true, e);
	if (rc == 0 && count > 0)
		rc = db_exec(conn, "NOTIFY adseng_deliveries", e);
	return rc;
}

int admin_replay(PGconn *conn, const char *actor, const struct admin_replay_filter *f, bool dry_run,
		 cJSON **out, struct err *e)
{
	struct params p = { 0 };
	struct pgarr states, ids;
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;
	int rc;

	if (f->states == 0 || (f->states & ~7u)) {
		cJSON_Delete(o);
		return err_set(e, ERR_INVALID, "no replayable state selected");
	}
	pgarr_init(&states, PGOID_TEXT);
	pgarr_init(&ids, PGOID_INT8);
	replay_params(&p, f, &states, &ids);
	adm_put(o, "dry_run", cJSON_CreateBool(dry_run), &ok);
	rc = ok ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	if (rc != 0)
		goto out;
	rc = dry_run ? adm_tx_begin_snapshot(conn, e) : adm_tx_begin(conn, e);
	if (rc != 0)
		goto out;
	rc = replay_tx(conn, actor, f, dry_run, &p, o, e);
	rc = adm_tx_end(conn, rc, e);
out:
	pgarr_cleanup(&states);
	pgarr_cleanup(&ids);
	if (rc == 0)
		*out = o;
	else
		cJSON_Delete(o);
	return rc;
}

/* ---- stats ------------------------------------------------------------------------ */

static const char stats_destinations_sql[] =
	"SELECT x.id, x.name, x.kind, t.name AS tenant, x.enabled, x.paused_reason,"
	" count(d.id) FILTER (WHERE d.state = 'pending') AS pending,"
	" count(d.id) FILTER (WHERE d.state = 'in_flight') AS in_flight,"
	" count(d.id) FILTER (WHERE d.state = 'delivered') AS delivered,"
	" count(d.id) FILTER (WHERE d.state = 'failed') AS failed,"
	" count(d.id) FILTER (WHERE d.state = 'dead') AS dead,"
	" count(d.id) FILTER (WHERE d.state = 'held') AS held,"
	" count(d.id) FILTER (WHERE d.state = 'skipped') AS skipped,"
	" floor(extract(epoch FROM now() - min(d.created_at)"
	" FILTER (WHERE d.state = 'pending')))::bigint AS oldest_pending_s,"
	" floor(extract(epoch FROM now() - min(d.next_attempt_at)"
	" FILTER (WHERE d.state = 'pending' AND d.next_attempt_at <= now())))::bigint"
	" AS oldest_due_s,"
	/* Requests the platform reports on later (sql/0006). */
	" (SELECT count(*) FROM platform_requests p WHERE p.destination_id = x.id"
	"  AND p.next_poll_at IS NOT NULL) AS requests_processing,"
	" (SELECT count(*) FROM platform_requests p WHERE p.destination_id = x.id"
	"  AND p.status = 'SUCCESS') AS requests_success,"
	" (SELECT count(*) FROM platform_requests p WHERE p.destination_id = x.id"
	"  AND p.status = 'PARTIAL_SUCCESS') AS requests_partial,"
	" (SELECT count(*) FROM platform_requests p WHERE p.destination_id = x.id"
	"  AND p.status = 'FAILED') AS requests_failed,"
	/* Validation sampling's warnings (sql/0010: a partial index). */
	" (SELECT count(*) FROM delivery_attempts a JOIN deliveries w ON w.id = a.delivery_id"
	"  WHERE a.outcome = 'validation_warning' AND w.destination_id = x.id)"
	" AS validation_warnings"
	" FROM destinations x JOIN tenants t ON t.id = x.tenant_id"
	" LEFT JOIN deliveries d ON d.destination_id = x.id"
	" GROUP BY x.id, t.name ORDER BY t.name, x.name";

static const char stats_raw_sql[] =
	"SELECT count(*) FILTER (WHERE state = 'pending') AS pending,"
	" count(*) FILTER (WHERE state = 'done') AS done,"
	" count(*) FILTER (WHERE state = 'ignored') AS ignored,"
	" count(*) FILTER (WHERE state = 'error') AS error,"
	" floor(extract(epoch FROM now() - min(received_at)"
	" FILTER (WHERE state = 'pending')))::bigint AS oldest_pending_s"
	" FROM raw_event_status";

int admin_stats(PGconn *conn, cJSON **out, struct err *e)
{
	struct params p = { 0 };
	cJSON *o = cJSON_CreateObject(), *dests = NULL, *raw = NULL, *adj = NULL;
	bool ok = o != NULL;
	int rc;

	rc = adm_tx_begin_snapshot(conn, e);
	if (rc == 0)
		rc = adm_query_rows(conn, stats_destinations_sql, &p, "could not count deliveries",
				    &dests, e);
	if (rc == 0)
		rc = admin_breaker_annotate(conn, dests, e);
	if (rc == 0)
		rc = query_one(conn, stats_raw_sql, &p, "could not count raw events", &raw, e);
	if (rc == 0)
		rc = adjustment_store_stats(conn, &adj, e);
	rc = adm_tx_end(conn, rc, e);
	adm_put(o, "destinations", dests, &ok);
	adm_put(o, "raw_events", raw, &ok);
	adm_put(o, "adjustments", adj, &ok);
	if (rc == 0 && !ok)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		*out = o;
	else
		cJSON_Delete(o);
	return rc;
}
