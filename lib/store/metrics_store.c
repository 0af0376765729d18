/*
 * metrics_store.c - the metrics snapshot query (see metrics_store.h).
 *
 * One statement, its parts joined by UNION ALL into rows of the same
 * shape: (part, destination, a, b, c, x, y); a count row carries the
 * number of due pending deliveries as text in b.  The delivery counts read
 * only unfinished states; the due and lease indexes and the partial
 * "attention" index (sql/0001_init.sql) cover them, so the cost follows
 * the backlog, not the history.
 */
#include "store/metrics_store.h"
#include "core/mem.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const metrics_delivery_states[METRICS_DELIVERY_STATES] = {
	"pending", "in_flight", "held", "failed", "dead",
};

static const char load_sql[] =
	"SELECT 'd', d.id::text, d.kind, d.name, coalesce(h.state, 'closed'), "
	"       (d.paused_reason IS NOT NULL)::int::float8, "
	"       (coalesce(d.paused_reason, '') LIKE 'reauthorize%')::int::float8 "
	"FROM destinations d LEFT JOIN destination_health h ON h.destination_id = d.id "
	"UNION ALL "
	"SELECT 'q', destination_id::text, state, "
	"       (count(*) FILTER (WHERE state = 'pending' AND next_attempt_at <= now()))::text, "
	"       NULL, count(*)::float8, "
	"       coalesce(extract(epoch FROM now() - min(next_attempt_at) "
	"                FILTER (WHERE state = 'pending' AND next_attempt_at <= now())), "
	"0)::float8 "
	"FROM deliveries WHERE state IN ('pending', 'in_flight', 'held', 'failed', 'dead') "
	"GROUP BY destination_id, state "
	"UNION ALL "
	"SELECT 'r', NULL, NULL, NULL, NULL, count(*)::float8, "
	"       coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8 "
	"FROM raw_queue";

void metrics_rows_cleanup(struct metrics_rows *r)
{
	free(r->dests);
	memset(r, 0, sizeof(*r));
}

static struct metrics_dest *find_dest(struct metrics_rows *r, const char *id)
{
	for (size_t i = 0; i < r->n_dests; i++) {
		if (strcmp(r->dests[i].id, id) == 0)
			return &r->dests[i];
	}
	return NULL;
}

static void put_dest(struct metrics_dest *d, const PGresult *res, int i)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", PQgetvalue(res, i, 1));
	snprintf(d->kind, sizeof(d->kind), "%s", PQgetvalue(res, i, 2));
	snprintf(d->name, sizeof(d->name), "%s", PQgetvalue(res, i, 3));
	snprintf(d->breaker, sizeof(d->breaker), "%s", PQgetvalue(res, i, 4));
	d->paused = atof(PQgetvalue(res, i, 5)) > 0;
	d->reauthorize = atof(PQgetvalue(res, i, 6)) > 0;
}

/* A count row: into its destination (listed first by the query). */
static void put_count(struct metrics_rows *r, const PGresult *res, int i)
{
	struct metrics_dest *d = find_dest(r, PQgetvalue(res, i, 1));
	const char *state = PQgetvalue(res, i, 2);

	if (d == NULL)
		return; /* a destination deleted since: nobody to show it for */
	for (size_t s = 0; s < METRICS_DELIVERY_STATES; s++) {
		if (strcmp(state, metrics_delivery_states[s]) == 0)
			d->count[s] = atof(PQgetvalue(res, i, 5));
	}
	if (strcmp(state, "pending") == 0) {
		d->oldest_due_s = atof(PQgetvalue(res, i, 6));
		d->due = atof(PQgetvalue(res, i, 3));
	}
}

int metrics_store_load(PGconn *conn, struct metrics_rows *out, struct err *e)
{
	PGresult *res = PQexecParams(conn, load_sql, 0, NULL, NULL, NULL, NULL, 0);
	int rc = db_check(conn, res, "could not read the metrics snapshot", e);
	int nt;

	memset(out, 0, sizeof(*out));
	if (rc != 0)
		goto out;
	nt = PQntuples(res);
	out->dests = xcalloc((size_t)(nt ? nt : 1), sizeof(*out->dests));
	/* Without ORDER BY the parts' order is not guaranteed: take the
	 * destinations first, then what belongs to them. */
	for (int i = 0; i < nt; i++) {
		if (PQgetvalue(res, i, 0)[0] == 'd')
			put_dest(&out->dests[out->n_dests++], res, i);
	}
	for (int i = 0; i < nt; i++) {
		const char *part = PQgetvalue(res, i, 0);

		if (part[0] == 'q') {
			put_count(out, res, i);
		} else if (part[0] == 'r') {
			out->raw_pending = atof(PQgetvalue(res, i, 5));
			out->raw_oldest_s = atof(PQgetvalue(res, i, 6));
		}
	}
out:
	PQclear(res);
	return rc;
}
