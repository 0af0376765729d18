/*
 * adjustment_store.h - adjustments of stored conversions (sql/0011): what
 * stage 1 does with a change a source reports (a refund, an order edit),
 * and the reports on them for `adsengctl adjustments list` and `stats`.
 *
 * A change either updates the value of a conversion no destination has
 * yet (its pending deliveries then send the new value), or becomes an
 * adjustment row with one adjustment_deliveries row per destination the
 * conversion was routed to, or changes nothing (same value, duplicate,
 * unknown order).  Functions take a connection the calling thread owns.
 */
#ifndef ADSENG_STORE_ADJUSTMENT_STORE_H
#define ADSENG_STORE_ADJUSTMENT_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;

/* One reported change, as stage 1 hands it over.  Strings borrowed. */
struct adjust_row {
	int64_t raw_id;
	const char *source_id;
	const char *event_id; /* the conversion changed (same source) */
	bool refund;	      /* amount was refunded; false: the order now totals amount */
	const char *amount;   /* non-negative decimal text */
	const char *currency; /* of amount, or NULL */
	const char *reason;   /* or NULL */
	const char *key;      /* dedup key within the conversion */
	int64_t occurred_us;
};

enum adjust_fate {
	ADJUST_NOTHING, /* no change: why says which */
	ADJUST_UPDATED, /* the conversion's value, before any delivery */
	ADJUST_STORED	/* an adjustment and its deliveries */
};

struct adjust_outcome {
	enum adjust_fate fate;
	int64_t conversion_id; /* 0 when there is none */
	int64_t adjustment_id; /* ADJUST_STORED */
	bool retraction;       /* ADJUST_STORED: retraction, else restatement */
	char value[48];	       /* the conversion's value after the change */
	int64_t n_pending;     /* ADJUST_STORED: deliveries to send */
	int64_t n_deliveries;  /* ADJUST_STORED: all of them */
	char why[192];	       /* ADJUST_NOTHING */
};

/*
 * Apply r inside the caller's open transaction: lock the conversion and
 * its deliveries (so no worker claims one of them meanwhile), then decide.
 * kinds[0..n_kinds) are the destination kinds that upload adjustments
 * (dest_adjustment_kinds); deliveries towards other kinds are created
 * 'not_supported'.  0 with *out filled; ERR_INVALID when the database
 * refused the data (db_sqlstate_is_data_error), ERR_DB otherwise.
 */
int adjustment_store_apply(PGconn *conn, const struct adjust_row *r, const char *const *kinds,
			   size_t n_kinds, struct adjust_outcome *out, struct err *e) WUR;

/*
 * Adjustments newest first as a JSON array (*out, caller frees), each with
 * its conversion's event id and its deliveries (destination, kind, state,
 * attempts, last_error); conversion_id > 0 narrows to one conversion,
 * state (or NULL) to adjustments with a delivery in that state.
 */
int adjustment_store_list(PGconn *conn, int64_t conversion_id, const char *state, int limit,
			  struct cJSON **out, struct err *e) WUR;

/*
 * Adjustment deliveries by state: {"pending": n, …, "not_supported": n,
 * "destinations": [{"id", "name", "kind", "<state>": n…}]} (*out, caller
 * frees; destinations with none are left out).
 */
int adjustment_store_stats(PGconn *conn, struct cJSON **out, struct err *e) WUR;

/* ---- delivery (stage 2) ---------------------------------------------------------- */

/* A claimed adjustment delivery.  Strings point into the batch's result. */
struct adj_claim_row {
	int64_t id;
	int32_t attempts; /* after the claim: the fence for the record */
	const char *destination_id;
	bool retraction;
	const char *value;    /* decimal text */
	const char *currency; /* or NULL */
	const char *order_id; /* the conversion's, or NULL */
	const char *event_id; /* the conversion's */
	int64_t occurred_us;
};

struct adj_claim {
	PGresult *res;
	struct adj_claim_row *rows;
	size_t n;
};

/*
 * Claim up to limit due 'pending' adjustment deliveries ('in_flight',
 * attempts + 1, leased for lease_ms; FOR UPDATE SKIP LOCKED so workers
 * share them), sorted by destination then adjustment.  Only those the
 * platform can take now: the destination is enabled with its circuit
 * breaker closed, the conversion's own delivery to it is 'delivered' (a
 * platform cannot adjust what it has not got), and no earlier adjustment
 * of the same conversion to it is still pending or in flight (they go in
 * order).  out->rows borrow from out->res; free with adj_claim_cleanup.
 */
int adjustment_store_claim(PGconn *conn, int limit, int64_t lease_ms, struct adj_claim *out,
			   struct err *e) WUR;
void adj_claim_cleanup(struct adj_claim *c);

/* The outcome of one claimed adjustment delivery. */
struct adj_record {
	int64_t id;
	int32_t claimed;   /* attempts as claimed: a lost lease is fenced off */
	const char *state; /* "delivered", "pending", "failed", "dead" */
	int64_t delay_ms;  /* pending: due after this */
	bool refund;	   /* give the attempt back (not the event's fault) */
	int32_t http_status;
	const char *platform_code; /* or NULL */
	const char *error;	   /* or NULL */
};

/* Write outcomes; rows whose lease was lost (no longer in flight with the
 * claimed attempts) are left alone.  *applied = rows changed. */
int adjustment_store_record(PGconn *conn, const struct adj_record *recs, size_t n, int64_t *applied,
			    struct err *e) WUR;

/* In-flight adjustment deliveries whose lease expired go back to pending
 * (dead after more than max_attempts); *n = how many. */
int adjustment_store_expire_leases(PGconn *conn, int64_t max_attempts, int64_t *n,
				   struct err *e) WUR;

#endif
