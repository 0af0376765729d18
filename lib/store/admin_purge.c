/*
 * admin_purge.c - retention of raw events (see admin_purge.h).
 *
 * Partitions come from the catalog, with their bounds parsed out of
 * pg_get_expr(relpartbound) in SQL, so nothing here depends on how
 * adseng_ensure_partitions names them.  A whole partition is dropped in
 * three steps: a cheap look at raw_queue (tiny: pending rows only) to skip
 * a partition with waiting events; DETACH PARTITION CONCURRENTLY, which
 * takes only a SHARE UPDATE EXCLUSIVE lock on raw_events so ingest goes
 * on; then one transaction that looks at raw_queue again (a reprocess may
 * have queued an old event between the two) and either drops the table or
 * attaches it back.  A detach that was interrupted is finished first
 * (DETACH … FINALIZE).
 *
 * The partition that straddles the cutoff is trimmed by DELETEs over id
 * ranges: each is an index range scan of the primary key (id,
 * received_at) and a short transaction, so the purge never holds many row
 * locks or one long snapshot, and progress can be shown.
 */
#include "store/admin_purge.h"
#include "core/clock.h"
#include "store/admin.h"
#include "store/admin_int.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_RANGE  10000 /* ids per DELETE in the straddling partition */
#define MAX_PARTS 1200	/* a century of monthly partitions */

struct part {
	char *ident;	      /* quoted identifier (PQescapeIdentifier) */
	char *name;	      /* relname */
	char *bound;	      /* "FOR VALUES FROM (…) TO (…)", to attach it back */
	int64_t lo_us, hi_us; /* its range [lo, hi) */
	bool detach_pending;
	int64_t min_id, max_id; /* the straddling one: ids to walk */
};

struct purge {
	PGconn *conn;
	const struct admin_purge_opts *o;
	struct part *v;
	size_t n;
	size_t done, total; /* progress units */
	cJSON *res, *dropped, *kept;
	int64_t raw_events;
};

static const char parts_sql[] =
	"SELECT c.relname, i.inhdetachpending, pg_get_expr(c.relpartbound, c.oid),"
	" (extract(epoch FROM b.lo) * 1000000)::int8, (extract(epoch FROM b.hi) * 1000000)::int8"
	" FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,"
	" LATERAL (SELECT m[1]::timestamptz AS lo, m[2]::timestamptz AS hi"
	"   FROM regexp_match(pg_get_expr(c.relpartbound, c.oid),"
	"                     'FROM \\(''([^'']*)''\\) TO \\(''([^'']*)''\\)') AS m) b"
	" WHERE i.inhparent = 'raw_events'::regclass AND b.lo < $1::timestamptz"
	" ORDER BY b.lo";

static void progress(struct purge *p)
{
	p->done++;
	if (p->o->progress)
		p->o->progress(p->o->progress_arg, p->done, p->total);
}

static void parts_free(struct purge *p)
{
	for (size_t i = 0; i < p->n; i++) {
		PQfreemem(p->v[i].ident);
		free(p->v[i].name);
		free(p->v[i].bound);
	}
	free(p->v);
}

static int parts_load(struct purge *p, struct err *e)
{
	struct params prm = { 0 };
	PGresult *res = NULL;
	int rc;

	adm_p_time_opt(&prm, true, p->o->before_us);
	rc = adm_run(p->conn, parts_sql, &prm, "could not list raw_events partitions", &res, e);
	if (rc != 0)
		return rc;
	p->n = (size_t)PQntuples(res);
	if (p->n > MAX_PARTS)
		p->n = MAX_PARTS; /* the rest next time */
	p->v = calloc(p->n ? p->n : 1, sizeof(*p->v));
	if (p->v == NULL) {
		p->n = 0;
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->n; i++) {
		const char *name = PQgetvalue(res, (int)i, 0);
		struct part *t = &p->v[i];

		t->ident = PQescapeIdentifier(p->conn, name, strlen(name));
		t->name = strdup(name);
		t->bound = strdup(PQgetvalue(res, (int)i, 2));
		t->detach_pending = PQgetvalue(res, (int)i, 1)[0] == 't';
		t->lo_us = db_get_int64(res, (int)i, 3);
		t->hi_us = db_get_int64(res, (int)i, 4);
		if (t->ident == NULL || t->name == NULL || t->bound == NULL) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
out:
	PQclear(res);
	return rc;
}

/* The one int8 a query answers (NULL as 0). */
static int query_int(struct purge *p, const char *sql, const struct params *prm, const char *what,
		     int64_t *out, struct err *e)
{
	PGresult *res = NULL;
	int rc = adm_run(p->conn, sql, prm, what, &res, e);

	if (rc == 0)
		*out = PQgetisnull(res, 0, 0) ? 0 : db_get_int64(res, 0, 0);
	PQclear(res);
	return rc;
}

/* The same over partition t, named at the %s of fmt. */
static int part_int(struct purge *p, const char *fmt, const struct part *t, const char *what,
		    int64_t *out, struct err *e)
{
	char sql[512];

	snprintf(sql, sizeof(sql), fmt, t->ident);
	return query_int(p, sql, NULL, what, out, e);
}

/* Raw events of [lo, hi) still waiting for stage 1. */
static int queued_in(struct purge *p, int64_t lo_us, int64_t hi_us, int64_t *n, struct err *e)
{
	struct params prm = { 0 };

	adm_p_time_opt(&prm, true, lo_us);
	adm_p_time_opt(&prm, true, hi_us);
	return query_int(p,
			 "SELECT count(*) FROM raw_queue WHERE received_at >= $1::timestamptz"
			 " AND received_at < $2::timestamptz",
			 &prm, "could not look at raw_queue", n, e);
}

static void keep(struct purge *p, const struct part *t, const char *reason)
{
	cJSON *k = cJSON_CreateObject();

	cJSON_AddStringToObject(k, "name", t->name);
	cJSON_AddStringToObject(k, "reason", reason);
	cJSON_AddItemToArray(p->kept, k);
}

static int exec_fmt(struct purge *p, const char *fmt, const struct part *t, const char *what,
		    struct err *e)
{
	char sql[1024];

	snprintf(sql, sizeof(sql), fmt, t->ident, t->bound);
	return adm_run_cmd(p->conn, sql, NULL, what, NULL, e);
}

/* After the detach: drop it, or attach it back when an event of it was
 * queued meanwhile.  One transaction, so the table is never left out. */
static int drop_or_attach(struct purge *p, const struct part *t, int64_t rows, struct err *e)
{
	int64_t queued = 0;
	int rc = adm_tx_begin(p->conn, e);

	if (rc == 0)
		rc = part_int(p,
			      "SELECT count(*) FROM raw_queue q WHERE EXISTS"
			      " (SELECT 1 FROM %s r WHERE r.id = q.raw_event_id)",
			      t, "could not look at raw_queue", &queued, e);
	if (rc == 0 && queued > 0)
		rc = exec_fmt(p, "ALTER TABLE raw_events ATTACH PARTITION %s %s", t,
			      "could not attach a raw_events partition back", e);
	else if (rc == 0)
		rc = exec_fmt(p, "DROP TABLE %s", t, "could not drop a raw_events partition", e);
	rc = adm_tx_end(p->conn, rc, e);
	if (rc != 0)
		return err_wrap(
			e,
			"partition %s (detached: if it is not attached, drop or attach it by hand)",
			t->name);
	if (queued > 0) {
		keep(p, t, "an event was queued for stage 1 meanwhile");
		return 0;
	}
	p->raw_events += rows;
	cJSON_AddItemToArray(p->dropped, cJSON_CreateString(t->name));
	return 0;
}

static int purge_whole(struct purge *p, const struct part *t, struct err *e)
{
	int64_t rows = 0, queued = 0;
	int rc = 0;

	if (t->detach_pending && !p->o->dry_run)
		rc = exec_fmt(p, "ALTER TABLE raw_events DETACH PARTITION %s FINALIZE", t,
			      "could not finish detaching a raw_events partition", e);
	if (rc == 0)
		rc = queued_in(p, t->lo_us, t->hi_us, &queued, e);
	if (rc == 0)
		rc = part_int(p, "SELECT count(*) FROM %s", t, "could not count raw events", &rows,
			      e);
	if (rc != 0)
		return rc;
	if (queued > 0) {
		keep(p, t, "events still queued for stage 1");
		return 0;
	}
	if (p->o->dry_run) {
		p->raw_events += rows;
		cJSON_AddItemToArray(p->dropped, cJSON_CreateString(t->name));
		return 0;
	}
	if (!t->detach_pending)
		rc = exec_fmt(p, "ALTER TABLE raw_events DETACH PARTITION %s CONCURRENTLY", t,
			      "could not detach a raw_events partition", e);
	return rc == 0 ? drop_or_attach(p, t, rows, e) : rc;
}

/* The older rows of the partition that straddles the cutoff, one id range
 * at a time (or counted, for a dry run). */
static int purge_rows(struct purge *p, const struct part *t, struct err *e)
{
	static const char where[] = " r.received_at < $3::timestamptz AND r.id >= $1 AND r.id < $2"
				    " AND NOT EXISTS (SELECT 1 FROM raw_queue q"
				    " WHERE q.raw_event_id = r.id)";
	char sql[512];
	int rc = 0;

	for (int64_t lo = t->min_id; rc == 0 && lo <= t->max_id; lo += ID_RANGE) {
		struct params prm = { 0 };
		int64_t n = 0;

		adm_p_int64(&prm, lo);
		adm_p_int64(&prm, lo + ID_RANGE);
		adm_p_time_opt(&prm, true, p->o->before_us);
		if (p->o->dry_run) {
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s r WHERE %s", t->ident,
				 where);
			rc = query_int(p, sql, &prm, "could not count raw events", &n, e);
		} else {
			snprintf(sql, sizeof(sql), "DELETE FROM %s r WHERE %s", t->ident, where);
			rc = adm_run_cmd(p->conn, sql, &prm, "could not delete raw events", &n, e);
		}
		p->raw_events += n;
		progress(p);
	}
	return rc;
}

/* The id span of the straddling partition, and the progress total. */
static int plan(struct purge *p, struct err *e)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		struct part *t = &p->v[i];

		if (t->hi_us <= p->o->before_us) {
			p->total++;
			continue;
		}
		rc = part_int(p, "SELECT min(id) FROM %s", t, "could not read raw event ids",
			      &t->min_id, e);
		if (rc == 0)
			rc = part_int(p, "SELECT coalesce(max(id), -1) FROM %s", t,
				      "could not read raw event ids", &t->max_id, e);
		if (rc == 0 && t->max_id >= t->min_id)
			p->total += (size_t)((t->max_id - t->min_id) / ID_RANGE + 1);
	}
	return rc;
}

/* The dedup keys of the same age (or their count). */
static int purge_keys(struct purge *p, const char *table, const char *key, struct err *e)
{
	struct params prm = { 0 };
	char sql[160];
	int64_t n = 0;
	int rc;

	adm_p_time_opt(&prm, true, p->o->before_us);
	if (p->o->dry_run) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE received_at < $1", table);
		rc = query_int(p, sql, &prm, "could not count dedup keys", &n, e);
	} else {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE received_at < $1", table);
		rc = adm_run_cmd(p->conn, sql, &prm, "could not delete dedup keys", &n, e);
	}
	if (rc == 0)
		cJSON_AddNumberToObject(p->res, key, (double)n);
	return rc;
}

static int run(struct purge *p, struct err *e)
{
	int64_t kept = 0;
	int rc = parts_load(p, e);

	if (rc == 0)
		rc = plan(p, e);
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		if (p->v[i].hi_us <= p->o->before_us) {
			rc = purge_whole(p, &p->v[i], e);
			progress(p);
		} else if (p->v[i].max_id >= p->v[i].min_id) {
			rc = purge_rows(p, &p->v[i], e);
		}
	}
	if (rc == 0)
		rc = purge_keys(p, "ingest_keys", "ingest_keys", e);
	if (rc == 0)
		rc = purge_keys(p, "ingest_item_keys", "item_keys", e);
	if (rc == 0)
		rc = queued_in(p, 0, p->o->before_us, &kept, e);
	cJSON_AddNumberToObject(p->res, "kept_pending", (double)kept);
	return rc;
}

int admin_purge(PGconn *conn, const struct admin_purge_opts *o, cJSON **out, struct err *e)
{
	struct purge p = { .conn = conn, .o = o };
	struct err ae = { 0 };
	char before[32];
	int rc;

	*out = NULL;
	if (o->before_us > clock_wall_ms() * 1000 - ADMIN_PURGE_MIN_AGE_US)
		return err_set(e, ERR_INVALID,
			       "refusing to purge raw events younger than 7 days: senders "
			       "retry for days and their dedup keys must outlive that");
	p.res = cJSON_CreateObject();
	p.dropped = cJSON_CreateArray();
	p.kept = cJSON_CreateArray();
	if (p.res == NULL || p.dropped == NULL || p.kept == NULL) {
		cJSON_Delete(p.res);
		cJSON_Delete(p.dropped);
		cJSON_Delete(p.kept);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	cJSON_AddBoolToObject(p.res, "dry_run", o->dry_run);
	clock_format_utc(o->before_us, before, sizeof(before));
	cJSON_AddStringToObject(p.res, "before", before);
	rc = run(&p, e);
	cJSON_AddNumberToObject(p.res, "raw_events", (double)p.raw_events);
	cJSON_AddItemToObject(p.res, "partitions_dropped", p.dropped);
	cJSON_AddItemToObject(p.res, "partitions_kept", p.kept);
	if (rc != 0)
		cJSON_AddStringToObject(p.res, "error", e->msg);
	/* Recorded even when a step failed: what was done stays done. */
	if (!o->dry_run && !db_is_broken(conn) &&
	    admin_audit_write(conn, o->actor, "purge", p.res, &ae) != 0 && rc == 0) {
		*e = ae;
		rc = err_wrap(e, "purged, but the audit row failed");
	}
	parts_free(&p);
	*out = p.res;
	return rc;
}
