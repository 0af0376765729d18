/*
 * ingest_store.c - the one-statement batch insert behind group commit.
 *
 * Each stored webhook also gets a row in raw_queue, stage 1's work list.
 * Binary array parameters (pgarr.h) feed unnest(); the data-modifying CTEs
 * run exactly once whatever the outer query reads, and RETURNING lists only
 * rows that were inserted, so a NULL id in the answer means "duplicate".
 * nextval() is taken for every input row, duplicates included: the gaps in
 * raw_events.id are harmless.
 *
 * Rows that carry several events add their events' keys as flat arrays
 * (row ordinal, position, key).  Only the events of rows actually stored
 * are keyed, ON CONFLICT DO NOTHING: what RETURNING lists is new, which
 * PostgreSQL decides atomically with the commit (a concurrent transaction
 * inserting the same key waits for this one, then finds it).  Keys are
 * inserted in key order, so two batches sharing keys lock them in the same
 * order and cannot deadlock; among equal keys the earliest event wins.
 * The raw event records its new positions (items_new) from that same
 * RETURNING, for stage 1.
 */
#include "store/ingest_store.h"
#include "store/db.h"
#include "store/pgarr.h"

#include <stdlib.h>
#include <string.h>

#define STMT_NAME "adseng_ingest"

static const char ingest_sql[] =
	"WITH input AS ("
	"  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::bytea[],"
	"                       $6::bool[])"
	"  WITH ORDINALITY AS t(source_id, dedup_key, topic, headers, body, has_items, ord)"
	"), keys AS ("
	"  INSERT INTO ingest_keys (source_id, dedup_key, raw_event_id)"
	"  SELECT source_id, dedup_key, nextval('raw_events_id_seq') FROM input ORDER BY ord"
	"  ON CONFLICT DO NOTHING"
	"  RETURNING source_id, dedup_key, raw_event_id"
	"), stored AS ("
	"  SELECT i.*, k.raw_event_id FROM keys k JOIN input i USING (source_id, dedup_key)"
	"), items AS ("
	"  INSERT INTO ingest_item_keys (source_id, item_key, raw_event_id, item)"
	"  SELECT s.source_id, t.item_key, s.raw_event_id, t.item"
	"  FROM unnest($7::int8[], $8::int4[], $9::text[]) AS t(ord, item, item_key)"
	"  JOIN stored s USING (ord)"
	"  ORDER BY t.item_key, t.ord, t.item"
	"  ON CONFLICT DO NOTHING"
	"  RETURNING raw_event_id, item"
	"), ins AS ("
	"  INSERT INTO raw_events (id, source_id, topic, dedup_key, headers, body, items_new)"
	"  SELECT s.raw_event_id, s.source_id, s.topic, s.dedup_key, s.headers, s.body,"
	"         CASE WHEN s.has_items THEN ARRAY(SELECT n.item FROM items n"
	"              WHERE n.raw_event_id = s.raw_event_id ORDER BY n.item) END"
	"  FROM stored s"
	"  RETURNING id, received_at, items_new"
	"), queued AS ("
	"  INSERT INTO raw_queue (raw_event_id, received_at) SELECT id, received_at FROM ins"
	") "
	"SELECT s.ord, s.raw_event_id, array_to_string(ins.items_new, ',')"
	" FROM stored s JOIN ins ON ins.id = s.raw_event_id";

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
	/* uuid[] text[] text[] jsonb[] bytea[] bool[], int8[] int4[] text[] */
	const Oid types[9] = { 2951, 1009, 1009, 3807, 1001, 1000, 1016, 1007, 1009 };
	PGresult *res = PQprepare(conn, STMT_NAME, ingest_sql, 9, types);
	int rc = db_check(conn, res, "could not prepare the ingest statement", e);

	PQclear(res);
	return rc;
}

/* Add row i's keyed events to the flat arrays a[6..8] (ord, item, key). */
static void add_items(struct pgarr *a, const struct ingest_row *r, size_t i)
{
	for (size_t k = 0; k < r->n_items; k++) {
		if (r->item_new)
			r->item_new[k] = false;
		if (r->item_keys[k] == NULL)
			continue;
		pgarr_add_int8(&a[6], (int64_t)i + 1);
		pgarr_add_int4(&a[7], (int32_t)k);
		pgarr_add_text(&a[8], r->item_keys[k]);
	}
}

/* "0,2,5" (positions of new events) into row r's item_new. */
static void read_items_new(struct ingest_row *r, const char *list)
{
	const char *p = list;

	while (r->item_new && *p) {
		char *end;
		long k = strtol(p, &end, 10);

		if (end == p)
			break;
		if (k >= 0 && (size_t)k < r->n_items)
			r->item_new[k] = true;
		p = *end == ',' ? end + 1 : end;
	}
}

int ingest_store_insert(PGconn *conn, struct ingest_row *rows, size_t n, struct err *e)
{
	static const uint32_t oids[9] = { PGOID_UUID,  PGOID_TEXT,  PGOID_TEXT,
					  PGOID_JSONB, PGOID_BYTEA, PGOID_BOOL,
					  PGOID_INT8,  PGOID_INT4,  PGOID_TEXT };
	struct pgarr a[9];
	const char *values[9];
	int lengths[9];
	const int formats[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	PGresult *res = NULL;
	int rc = ERR_INVALID;

	for (int i = 0; i < 9; i++)
		pgarr_init(&a[i], oids[i]);
	for (size_t i = 0; i < n; i++) {
		if (pgarr_add_uuid_text(&a[0], rows[i].source_id) != 0) {
			err_set(e, ERR_INVALID, "malformed source id");
			goto out;
		}
		pgarr_add_text(&a[1], rows[i].dedup_key);
		pgarr_add_text(&a[2], rows[i].topic ? rows[i].topic : "");
		pgarr_add_jsonb(&a[3], rows[i].headers_json, rows[i].headers_len);
		pgarr_add_bytes(&a[4], rows[i].body, rows[i].body_len);
		pgarr_add_bool(&a[5], rows[i].n_items > 0);
		add_items(a, &rows[i], i);
		rows[i].raw_id = 0;
	}
	for (int i = 0; i < 9; i++)
		values[i] = pgarr_finish(&a[i], &lengths[i]);
	res = PQexecPrepared(conn, STMT_NAME, 9, values, lengths, formats, 0);
	rc = db_check(conn, res, "could not store webhooks", e);
	if (rc != 0) {
		if (is_data_error(conn, res))
			rc = ERR_INVALID;
		goto out;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		int64_t ord = db_get_int64(res, r, 0);

		if (ord < 1 || (size_t)ord > n)
			continue;
		rows[ord - 1].raw_id = db_get_int64(res, r, 1);
		if (rows[ord - 1].n_items > 0 && !PQgetisnull(res, r, 2))
			read_items_new(&rows[ord - 1], PQgetvalue(res, r, 2));
	}
out:
	PQclear(res);
	for (int i = 0; i < 9; i++)
		pgarr_cleanup(&a[i]);
	return rc;
}
