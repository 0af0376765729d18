/*
 * activity_store.c - the per-minute activity aggregate and the status
 * page's snapshot (see activity_store.h and sql/0016_activity_minutes.sql).
 *
 * The write side is one call of adseng_activity_refresh(), a function in
 * the migration, so that its delete-and-reinsert of the recent minutes is
 * one transaction and one round trip.  The read side is three statements
 * in one read-only snapshot transaction; each reads at most 48 hours of
 * activity_minutes (a few rows per active object and minute) and the
 * catalog, never the event tables.
 */
#include "store/activity_store.h"
#include "core/mem.h"
#include "store/db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "The last hour" is the current minute and the 59 before it; "the last
 * day" the current one and the 1439 before. */
#define SINCE_1H  "date_trunc('minute', now()) - interval '59 minutes'"
#define SINCE_24H "date_trunc('minute', now()) - interval '1439 minutes'"

static const char dest_sql[] =
	"SELECT d.id::text, d.kind, d.name, coalesce(d.paused_reason, ''),"
	" coalesce(sum(a.delivered) FILTER (WHERE a.minute >= " SINCE_1H "), 0),"
	" coalesce(sum(a.failed) FILTER (WHERE a.minute >= " SINCE_1H "), 0),"
	" coalesce(sum(a.dead) FILTER (WHERE a.minute >= " SINCE_1H "), 0),"
	" coalesce(sum(a.delivered), 0), coalesce(sum(a.failed), 0), coalesce(sum(a.dead), 0)"
	" FROM destinations d LEFT JOIN activity_minutes a"
	"  ON a.scope = 'destination' AND a.object_id = d.id AND a.minute >= " SINCE_24H
	" GROUP BY d.id ORDER BY d.name, d.id";

static const char source_sql[] =
	"SELECT s.id::text, s.kind, s.name,"
	" coalesce(sum(a.ingested) FILTER (WHERE a.minute >= " SINCE_1H "), 0),"
	" coalesce(sum(a.ingested) FILTER (WHERE a.minute >= " SINCE_24H "), 0),"
	" coalesce(floor(extract(epoch FROM max(a.last_at))), 0)::bigint"
	" FROM sources s LEFT JOIN activity_minutes a"
	"  ON a.scope = 'source' AND a.object_id = s.id"
	"  AND a.minute >= now() - interval '48 hours'"
	" GROUP BY s.id ORDER BY s.name, s.id";

static const char chart_sql[] =
	"SELECT extract(epoch FROM minute)::bigint, sum(ingested)::bigint, sum(delivered)::bigint"
	" FROM activity_minutes WHERE minute >= " SINCE_24H " GROUP BY minute ORDER BY minute";

int activity_store_refresh(PGconn *conn, int window_minutes, bool *done, struct err *e)
{
	char win[16];
	const char *params[1] = { win };
	PGresult *res;
	int rc;

	snprintf(win, sizeof(win), "%d", window_minutes);
	res = PQexecParams(conn, "SELECT adseng_activity_refresh($1::int)", 1, NULL, params, NULL,
			   NULL, 0);
	rc = db_check(conn, res, "could not refresh activity_minutes", e);
	if (rc == 0)
		*done = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/* Copy src into a buffer of cap bytes, cutting before a partial UTF-8
 * character rather than in the middle of one. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int64_t cell_i64(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void put_dest(struct activity_dest *d, const PGresult *res, int i)
{
	copy_cut(d->id, sizeof(d->id), PQgetvalue(res, i, 0));
	copy_cut(d->kind, sizeof(d->kind), PQgetvalue(res, i, 1));
	copy_cut(d->name, sizeof(d->name), PQgetvalue(res, i, 2));
	copy_cut(d->paused_reason, sizeof(d->paused_reason), PQgetvalue(res, i, 3));
	snprintf(d->breaker, sizeof(d->breaker), "closed");
	d->delivered_1h = cell_i64(res, i, 4);
	d->failed_1h = cell_i64(res, i, 5);
	d->dead_1h = cell_i64(res, i, 6);
	d->delivered_24h = cell_i64(res, i, 7);
	d->failed_24h = cell_i64(res, i, 8);
	d->dead_24h = cell_i64(res, i, 9);
	d->p50_s = NAN;
	d->p99_s = NAN;
}

static void put_source(struct activity_source *s, const PGresult *res, int i)
{
	copy_cut(s->id, sizeof(s->id), PQgetvalue(res, i, 0));
	copy_cut(s->kind, sizeof(s->kind), PQgetvalue(res, i, 1));
	copy_cut(s->name, sizeof(s->name), PQgetvalue(res, i, 2));
	s->events_1h = cell_i64(res, i, 3);
	s->events_24h = cell_i64(res, i, 4);
	s->last_event_unix = cell_i64(res, i, 5);
}

static void put_point(struct activity_point *p, const PGresult *res, int i)
{
	p->minute_unix = cell_i64(res, i, 0);
	p->ingested = cell_i64(res, i, 1);
	p->delivered = cell_i64(res, i, 2);
}

/* Run sql and hand back its rows; *n is their count. */
static int query(PGconn *conn, const char *sql, const char *what, PGresult **out, size_t *n,
		 struct err *e)
{
	PGresult *res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	int rc = db_check(conn, res, what, e);

	if (rc != 0) {
		PQclear(res);
		return rc;
	}
	*out = res;
	*n = (size_t)PQntuples(res);
	return 0;
}

static int load_dests(PGconn *conn, struct activity_snapshot *s, struct err *e)
{
	PGresult *res = NULL;
	int rc = query(conn, dest_sql, "could not read destination activity", &res, &s->n_dests, e);

	if (rc != 0)
		return rc;
	s->dests = xcalloc(s->n_dests ? s->n_dests : 1, sizeof(*s->dests));
	for (size_t i = 0; i < s->n_dests; i++)
		put_dest(&s->dests[i], res, (int)i);
	PQclear(res);
	return 0;
}

static int load_sources(PGconn *conn, struct activity_snapshot *s, struct err *e)
{
	PGresult *res = NULL;
	int rc = query(conn, source_sql, "could not read source activity", &res, &s->n_sources, e);

	if (rc != 0)
		return rc;
	s->sources = xcalloc(s->n_sources ? s->n_sources : 1, sizeof(*s->sources));
	for (size_t i = 0; i < s->n_sources; i++)
		put_source(&s->sources[i], res, (int)i);
	PQclear(res);
	return 0;
}

static int load_points(PGconn *conn, struct activity_snapshot *s, struct err *e)
{
	PGresult *res = NULL;
	int rc = query(conn, chart_sql, "could not read the activity chart", &res, &s->n_points, e);

	if (rc != 0)
		return rc;
	s->points = xcalloc(s->n_points ? s->n_points : 1, sizeof(*s->points));
	for (size_t i = 0; i < s->n_points; i++)
		put_point(&s->points[i], res, (int)i);
	PQclear(res);
	return 0;
}

int activity_store_load(PGconn *conn, struct activity_snapshot **out, struct err *e)
{
	struct activity_snapshot *s = xcalloc(1, sizeof(*s));
	int rc;

	atomic_init(&s->refs, 1);
	s->taken_unix = (int64_t)time(NULL);
	/* One snapshot: the three reads agree with each other. */
	rc = db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", e);
	if (rc != 0)
		goto out;
	rc = load_dests(conn, s, e);
	if (rc == 0)
		rc = load_sources(conn, s, e);
	if (rc == 0)
		rc = load_points(conn, s, e);
	if (rc == 0)
		rc = db_exec(conn, "COMMIT", e);
	else if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		(void)!db_exec(conn, "ROLLBACK", &(struct err){ 0 });
out:
	if (rc == 0)
		*out = s;
	else
		activity_snapshot_unref(s);
	return rc;
}

void activity_snapshot_unref(struct activity_snapshot *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	free(s->dests);
	free(s->sources);
	free(s->points);
	free(s->usage);
	free(s);
}
