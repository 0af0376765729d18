/*
 * ingest_store.c - the one-statement batch insert behind group commit.
 *
 * Each stored webhook also gets a row in raw_queue, stage 1's work list.
 * Binary array parameters (pgarr.h) feed unnest(); the data-modifying CTEs
 * run exactly once whatever the outer query reads, and RETURNING lists only
 * rows that were inserted, so a NULL id in the answer means "duplicate".
 * nextval() is taken for every input row, duplicates included: the gaps in
 * raw_events.id are harmless.
 */
#include "store/ingest_store.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <stdlib.h>
#include <string.h>

#define STMT_NAME "adseng_ingest"

static const char ingest_sql[] =
	"WITH input AS ("
	"  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::bytea[])"
	"  WITH ORDINALITY AS t(source_id, dedup_key, topic, headers, body, ord)"
	"), keys AS ("
	"  INSERT INTO ingest_keys (source_id, dedup_key, raw_event_id)"
	"  SELECT source_id, dedup_key, nextval('raw_events_id_seq') FROM input ORDER BY ord"
	"  ON CONFLICT DO NOTHING"
	"  RETURNING source_id, dedup_key, raw_event_id"
	"), ins AS ("
	"  INSERT INTO raw_events (id, source_id, topic, dedup_key, headers, body)"
	"  SELECT k.raw_event_id, i.source_id, i.topic, i.dedup_key, i.headers, i.body"
	"  FROM keys k JOIN input i USING (source_id, dedup_key)"
	"  RETURNING id, received_at"
	"), queued AS ("
	"  INSERT INTO raw_queue (raw_event_id, received_at) SELECT id, received_at FROM ins"
	") "
	"SELECT i.ord, k.raw_event_id FROM keys k JOIN input i USING (source_id, dedup_key)";

/* Whether the statement failed because of what one of the rows holds
 * (SQLSTATE class 22 data exception or 23 integrity violation) on a
 * connection that still works, as opposed to the database's own trouble
 * (connection lost, lock timeout, shutdown, disk full). */
static bool is_data_error(const PGconn *conn, const PGresult *res)
{
	const char *state = db_sqlstate(res);

	return !db_is_broken(conn) &&
	       (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
}

int ingest_store_prepare(PGconn *conn, struct err *e)
{
	const Oid types[5] = { 2951, 1009, 1009, 3807,
			       1001 }; /* uuid[] text[] text[] jsonb[] bytea[] */
	PGresult *res = PQprepare(conn, STMT_NAME, ingest_sql, 5, types);
	int rc = db_check(conn, res, "could not prepare the ingest statement", e);

	PQclear(res);
	return rc;
}

int ingest_store_insert(PGconn *conn, struct ingest_row *rows, size_t n, struct err *e)
{
	struct pgarr a[5];
	const char *values[5];
	int lengths[5];
	const int formats[5] = { 1, 1, 1, 1, 1 };
	PGresult *res = NULL;
	int rc = ERR_INVALID;

	pgarr_init(&a[0], PGOID_UUID);
	pgarr_init(&a[1], PGOID_TEXT);
	pgarr_init(&a[2], PGOID_TEXT);
	pgarr_init(&a[3], PGOID_JSONB);
	pgarr_init(&a[4], PGOID_BYTEA);
	for (size_t i = 0; i < n; i++) {
		if (pgarr_add_uuid_text(&a[0], rows[i].source_id) != 0) {
			err_set(e, ERR_INVALID, "malformed source id");
			goto out;
		}
		pgarr_add_text(&a[1], rows[i].dedup_key);
		pgarr_add_text(&a[2], rows[i].topic ? rows[i].topic : "");
		pgarr_add_jsonb(&a[3], rows[i].headers_json, rows[i].headers_len);
		pgarr_add_bytes(&a[4], rows[i].body, rows[i].body_len);
		rows[i].raw_id = 0;
	}
	for (int i = 0; i < 5; i++)
		values[i] = pgarr_finish(&a[i], &lengths[i]);
	res = PQexecPrepared(conn, STMT_NAME, 5, values, lengths, formats, 0);
	rc = db_check(conn, res, "could not store webhooks", e);
	if (rc != 0) {
		if (is_data_error(conn, res))
			rc = ERR_INVALID;
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t ord = db_get_int64(res, r, 0);

		if (ord >= 1 && (size_t)ord <= n)
			rows[ord - 1].raw_id = db_get_int64(res, r, 1);
	}
out:
	PQclear(res);
	for (int i = 0; i < 5; i++)
		pgarr_cleanup(&a[i]);
	return rc;
}
