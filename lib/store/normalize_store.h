/*
 * normalize_store.h - stage 1 in SQL: take pending raw events, write the
 * conversions parsed from them and their deliveries, mark the raw events
 * done/ignored/error — all in the one transaction the caller opens with
 * normalize_store_begin() and closes with normalize_store_commit(), so a
 * crash half way leaves the raw events pending.
 */
#ifndef ADSENG_STORE_NORMALIZE_STORE_H
#define ADSENG_STORE_NORMALIZE_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/quota.h"

/* A claimed raw event.  Pointers borrow from the result held in the batch. */
struct raw_row {
	int64_t id;
	int64_t received_us;
	char source_id[37];
	int64_t tenant_id; /* 0 when the source no longer exists */
	const char *kind;  /* NULL when the source no longer exists */
	const char *topic;
	const char *headers_json;
	const uint8_t *body;
	size_t body_len;
	const char *settings_json; /* the source's settings; NULL when it is gone */
	/* raw_events.items_new (source.h, raw_event.items_new): has_items
	 * when the column is set; the positions are owned by the batch. */
	bool has_items;
	int32_t *items_new;
	size_t n_items_new;
};

struct raw_batch {
	PGresult *res;
	struct raw_row *rows;
	size_t n;
};

/* One conversion to write: the JSON payload plus the indexed columns. */
struct conv_row {
	int64_t raw_id;
	const char *source_id;
	int64_t tenant_id;
	const char *event;
	const char *event_id;
	int64_t occurred_us;
	const char *value;    /* decimal text or NULL */
	const char *currency; /* or NULL */
	const char *order_id; /* or NULL */
	const char *payload;  /* JSON text */
	size_t payload_len;
	bool test; /* a test order: only for destinations in test mode */
};

/* The fate of one raw event. */
struct raw_mark {
	int64_t id;
	int64_t received_us;
	const char *state; /* "done", "ignored", "error" */
	const char *error; /* or NULL */
};

/* A delivery created 'in_flight' for the caller to upload at once. */
struct fresh_delivery {
	int64_t id;
	int64_t conversion_id;
	size_t ord; /* 1-based index into the conv_row array */
	char destination_id[37];
	int32_t attempts;
};

struct fresh_batch {
	struct fresh_delivery *v; /* malloc'd */
	size_t n;		  /* in flight, returned in v */
	int64_t n_deliveries;	  /* created in any state */
};

int normalize_store_prepare(PGconn *conn, struct err *e) WUR;

/* BEGIN, then lock up to `limit` pending raw events (oldest first,
 * SKIP LOCKED), passing over those of disabled sources (they stay queued)
 * unless their topic is in disabled_topics (a text[] literal, NULL = none:
 * source_disabled_topics_literal).  Events of a deleted source come back
 * with kind NULL: the caller must mark them.  batch->n may be 0. */
int normalize_store_begin(PGconn *conn, int limit, const char *disabled_topics,
			  struct raw_batch *batch, struct err *e) WUR;

/*
 * Insert conversions (duplicates of (source_id, event_id) are skipped: the
 * first in the batch wins) and one delivery per matching route.  With
 * lease_ms > 0, deliveries of enabled destinations are created already
 * claimed ('in_flight', attempt 1, leased) and returned in *out so the
 * caller uploads them without a separate claim; else they are 'pending'.
 * Deliveries of paused destinations are 'held'.  A test conversion's
 * delivery to a destination not in test mode is 'skipped' (last_error
 * 'test') and never sent.  *n_conv receives how
 * many conversions were new.  out->v is the caller's to free.
 * Quotas (core/quota.h; NULL = none): new non-test conversions are counted
 * in tenant_usage for month ("YYYY-MM-01", quota_month_of); those beyond
 * the tenant's limit get 'held' deliveries with hold_reason 'quota'.
 * ERR_INVALID when the database refused the rows themselves (a data error
 * in the sense of db_sqlstate_is_data_error: the same rows would fail
 * again); ERR_DB for anything else (lost connection, deadlock, timeout,
 * ...), which a later retry of the same rows may get past.
 */
int normalize_store_write(PGconn *conn, const struct conv_row *rows, size_t n, int64_t lease_ms,
			  const struct plan_quotas *quotas, const char *month,
			  struct fresh_batch *out, int64_t *n_conv, struct err *e) WUR;

/* Record the raw events that did not simply succeed ('ignored', 'error';
 * 'done' ones are left as they are), then COMMIT. */
int normalize_store_commit(PGconn *conn, const struct raw_mark *marks, size_t n, struct err *e) WUR;

/* ROLLBACK (best effort) and free the batch. */
void normalize_store_rollback(PGconn *conn);
void raw_batch_cleanup(struct raw_batch *b);

#endif
