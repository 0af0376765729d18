/*
 * admin_raw.c - the admin queries on raw events (see admin_raw.h).
 *
 * Reprocessing is the inverse of stage 1's 'error' mark: the row goes back
 * to 'received' with a raw_queue entry, which is exactly how ingest leaves
 * a new webhook, so stage 1 needs no special path for it.  Every query
 * here shares one filter over raw_events r and four parameters.
 */
#include "store/admin_raw.h"
#include "core/clock.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PARAMS 4

/* The filter of every query, over raw_events r and $1..$4.  Only events
 * in 'error' match: done, ignored and pending ones are never touched. */
#define REPROCESS_MATCH                                                                            \
	"r.state = 'error'"                                                                        \
	" AND ($1::bigint[] IS NULL OR r.id = ANY ($1::bigint[]))"                                 \
	" AND ($2::uuid IS NULL OR r.source_id = $2::uuid)"                                        \
	" AND ($3::timestamptz IS NULL OR r.received_at >= $3::timestamptz)"                       \
	" AND ($4::timestamptz IS NULL OR r.received_at < $4::timestamptz)"

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Columns of the sample, then the number of matches. */
#define SAMPLE_COLS(t)                                                                             \
	t ".id, " t ".source_id::text, " RFC3339(t ".received_at") ", " t ".topic, " t             \
								   ".error, count(*) OVER ()"

static const char ids_sql[] = "SELECT i.id, s.state, coalesce(" REPROCESS_MATCH ", false)"
			      " FROM unnest($1::bigint[]) WITH ORDINALITY AS i (id, ord)"
			      " LEFT JOIN raw_event_status s ON s.id = i.id"
			      " LEFT JOIN raw_events r ON r.id = s.id"
			      " AND r.received_at = s.received_at ORDER BY i.ord";

static const char sample_sql[] =
	"SELECT " SAMPLE_COLS("r") " FROM raw_events r WHERE " REPROCESS_MATCH
				   " ORDER BY r.id LIMIT 20";

/* The raw_queue row is what makes stage 1 take the event again. */
static const char update_sql[] =
	"WITH m AS (SELECT r.id, r.received_at, r.source_id, r.topic, r.error FROM raw_events r"
	" WHERE " REPROCESS_MATCH " FOR UPDATE),"
	" u AS (UPDATE raw_events r SET state = 'received', error = NULL, processed_at = NULL"
	" FROM m WHERE r.id = m.id AND r.received_at = m.received_at RETURNING r.id),"
	" q AS (INSERT INTO raw_queue (raw_event_id, received_at)"
	" SELECT id, received_at FROM m ON CONFLICT DO NOTHING)"
	" SELECT " SAMPLE_COLS("m") " FROM m ORDER BY m.id LIMIT 20";

struct raw_params {
	const char *v[N_PARAMS];
	int len[N_PARAMS];
	int fmt[N_PARAMS];
	Oid type[N_PARAMS];
	char since[40], until[40];
	struct pgarr ids;
};

static void params_init(struct raw_params *p, const struct admin_reprocess_filter *f)
{
	memset(p, 0, sizeof(*p));
	pgarr_init(&p->ids, PGOID_INT8);
	if (f->ids) {
		for (size_t i = 0; i < f->n_ids; i++)
			pgarr_add_int8(&p->ids, f->ids[i]);
		p->v[0] = pgarr_finish(&p->ids, &p->len[0]);
	}
	p->fmt[0] = 1;
	p->type[0] = 1016; /* int8[] */
	p->v[1] = f->source_id;
	if (f->has_since) {
		clock_format_utc(f->since_us, p->since, sizeof(p->since));
		p->v[2] = p->since;
	}
	if (f->has_until) {
		clock_format_utc(f->until_us, p->until, sizeof(p->until));
		p->v[3] = p->until;
	}
}

/* Run one of the queries above; *out owns the result on success.  The
 * message carries the server's primary text only, like admin.c. */
static int query(PGconn *conn, const char *sql, const struct raw_params *p, const char *what,
		 PGresult **out, struct err *e)
{
	PGresult *res = PQexecParams(conn, sql, N_PARAMS, p->type, p->v, p->len, p->fmt, 0);
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int rc = db_check(conn, res, what, e);

	if (rc != 0) {
		if (primary && !db_is_broken(conn))
			err_set(e, ERR_DB, "%s: %s", what, primary);
		PQclear(res);
		return rc;
	}
	*out = res;
	return 0;
}

static bool put(cJSON *obj, const char *key, cJSON *item)
{
	if (obj == NULL || item == NULL || !cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static cJSON *str_or_null(const PGresult *res, int row, int col)
{
	const char *s = db_get_str(res, row, col);

	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static const char *id_reason(const char *state, bool selected, bool dry_run)
{
	if (state == NULL)
		return "no such raw event";
	if (!selected)
		return "only raw events in error are reprocessed";
	return dry_run ? "would be reprocessed" : "reprocessed";
}

/* One entry per requested id (before anything changes): its state and
 * whether it moves. */
static int id_notes(PGconn *conn, const struct raw_params *p, bool dry_run, cJSON *o, struct err *e)
{
	PGresult *res = NULL;
	cJSON *arr = cJSON_CreateArray();
	bool ok = arr != NULL;
	int rc = query(conn, ids_sql, p, "could not look up raw events", &res, e);

	for (int r = 0; rc == 0 && ok && r < PQntuples(res); r++) {
		cJSON *it = cJSON_CreateObject();
		const char *state = db_get_str(res, r, 1);
		bool sel = PQgetvalue(res, r, 2)[0] == 't';

		ok = put(it, "id", cJSON_CreateNumber((double)db_get_int64(res, r, 0))) &&
		     put(it, "state", str_or_null(res, r, 1)) &&
		     put(it, "reprocessed", cJSON_CreateBool(sel && !dry_run)) &&
		     put(it, "reason", cJSON_CreateString(id_reason(state, sel, dry_run)));
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
	if (!put(o, "ids", arr) || !ok)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static cJSON *sample_row(const PGresult *res, int r)
{
	cJSON *it = cJSON_CreateObject();
	bool ok = put(it, "id", cJSON_CreateNumber((double)db_get_int64(res, r, 0))) &&
		  put(it, "source_id", str_or_null(res, r, 1)) &&
		  put(it, "received_at", str_or_null(res, r, 2)) &&
		  put(it, "topic", str_or_null(res, r, 3)) &&
		  put(it, "error", str_or_null(res, r, 4));

	if (!ok) {
		cJSON_Delete(it);
		return NULL;
	}
	return it;
}

/* The matching events: moved (real run) or only looked at (dry run).
 * Adds "sample" and "count" to o. */
static int match(PGconn *conn, const struct raw_params *p, bool dry_run, cJSON *o, int64_t *count,
		 struct err *e)
{
	PGresult *res = NULL;
	cJSON *sample = cJSON_CreateArray();
	bool ok = sample != NULL;
	int rc = query(conn, dry_run ? sample_sql : update_sql, p,
		       dry_run ? "could not look up raw events" : "could not reprocess raw events",
		       &res, e);

	*count = 0;
	for (int r = 0; rc == 0 && ok && r < PQntuples(res); r++) {
		cJSON *it = sample_row(res, r);

		*count = db_get_int64(res, r, 5);
		if (it == NULL || !cJSON_AddItemToArray(sample, it)) {
			cJSON_Delete(it);
			ok = false;
		}
	}
	PQclear(res);
	if (rc != 0) {
		cJSON_Delete(sample);
		return rc;
	}
	if (!put(o, "sample", sample) || !put(o, "count", cJSON_CreateNumber((double)*count)) ||
	    !ok)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* The audit row's details: the filter and how many moved. */
static cJSON *audit_details(const struct admin_reprocess_filter *f, const struct raw_params *p,
			    int64_t count)
{
	cJSON *d = cJSON_CreateObject(), *ids = NULL;
	bool ok;

	if (f->ids) {
		ids = cJSON_CreateArray();
		for (size_t i = 0; ids && i < f->n_ids; i++) {
			if (!cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)f->ids[i]))) {
				cJSON_Delete(ids);
				ids = NULL;
			}
		}
	}
	ok = put(d, "raw_event_ids", f->ids ? ids : cJSON_CreateNull()) &&
	     put(d, "source_id",
		 f->source_id ? cJSON_CreateString(f->source_id) : cJSON_CreateNull()) &&
	     put(d, "since", f->has_since ? cJSON_CreateString(p->since) : cJSON_CreateNull()) &&
	     put(d, "until", f->has_until ? cJSON_CreateString(p->until) : cJSON_CreateNull()) &&
	     put(d, "count", cJSON_CreateNumber((double)count));
	if (!ok) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

static int reprocess_tx(PGconn *conn, const char *actor, const struct admin_reprocess_filter *f,
			const struct raw_params *p, bool dry_run, cJSON *o, struct err *e)
{
	int64_t count = 0;
	cJSON *details;
	int rc = 0;

	if (f->ids)
		rc = id_notes(conn, p, dry_run, o, e);
	if (rc == 0)
		rc = match(conn, p, dry_run, o, &count, e);
	if (rc != 0 || dry_run)
		return rc;
	details = audit_details(f, p, count);
	if (details == NULL)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = admin_audit_write(conn, actor, "reprocess", details, e);
	cJSON_Delete(details);
	/* Updating raw_events fires no insert trigger: wake stage 1 here. */
	if (rc == 0 && count > 0)
		rc = db_exec(conn, "NOTIFY adseng_raw", e);
	return rc;
}

int admin_reprocess(PGconn *conn, const char *actor, const struct admin_reprocess_filter *f,
		    bool dry_run, cJSON **out, struct err *e)
{
	struct raw_params p;
	cJSON *o;
	PGresult *res;
	int rc;

	if ((f->ids == NULL || f->n_ids == 0) && f->source_id == NULL)
		return err_set(e, ERR_INVALID, "no raw events selected: give ids or a source");
	o = cJSON_CreateObject();
	if (!put(o, "dry_run", cJSON_CreateBool(dry_run))) {
		cJSON_Delete(o);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	params_init(&p, f);
	rc = db_exec(conn, dry_run ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN",
		     e);
	if (rc == 0) {
		rc = reprocess_tx(conn, actor, f, &p, dry_run, o, e);
		if (rc == 0) {
			rc = db_exec(conn, "COMMIT", e);
		} else {
			res = PQexec(conn, "ROLLBACK");
			PQclear(res);
		}
	}
	pgarr_cleanup(&p.ids);
	if (rc == 0)
		*out = o;
	else
		cJSON_Delete(o);
	return rc;
}
