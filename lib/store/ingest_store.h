/*
 * ingest_store.h - the group-commit write of received webhooks: one
 * statement inserts a whole batch into ingest_keys and raw_events, so one
 * round trip and one COMMIT (fsync) cover every request in it.  A request
 * that carries several events also claims each event's key for its source
 * (ingest_item_keys) in that statement, so whether an item is new is
 * decided atomically with the COMMIT, whatever else runs concurrently.
 */
#ifndef ADSENG_STORE_INGEST_STORE_H
#define ADSENG_STORE_INGEST_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct ingest_row {
	const char *source_id; /* uuid text */
	const char *dedup_key;
	const char *topic;
	const char *headers_json; /* a JSON object */
	size_t headers_len;
	const uint8_t *body;
	size_t body_len;
	/* A request carrying several events: n_items > 0 and item_keys[k] is
	 * event k's per-source key, NULL for an event that is not keyed (it
	 * was invalid).  n_items 0 for a webhook of one event. */
	const char *const *item_keys;
	size_t n_items;
	/* out: raw_events.id when inserted, 0 when the key already existed */
	int64_t raw_id;
	/* out, with n_items > 0 (the caller's array of n_items): when the row
	 * was inserted, item_new[k] tells whether event k's key was new for
	 * the source (its first sending; an earlier event of the same request
	 * with the same key makes it not new).  All false otherwise. */
	bool *item_new;
};

/* Prepare the statement on a new connection. */
int ingest_store_prepare(PGconn *conn, struct err *e) WUR;

/*
 * Insert rows[0..n) in one autocommitted statement.  Keys must be unique
 * within the batch (the caller folds in-batch duplicates).  On success each
 * row's raw_id is set (0 = duplicate of an earlier delivery), and the
 * per-event verdicts of rows with events (item_new).  The raw event stores
 * the positions of its new events (raw_events.items_new) for stage 1.
 * On failure
 * nothing was stored: ERR_INVALID when a row's data was refused (SQLSTATE
 * class 22 or 23; retrying the rows on their own finds which), ERR_DB for
 * anything else (connection, locks, server trouble: retry later).
 */
int ingest_store_insert(PGconn *conn, struct ingest_row *rows, size_t n, struct err *e) WUR;

#endif
