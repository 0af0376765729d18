/*
 * delivery_store.h - stage 2 in SQL: claim due deliveries under a lease,
 * record what each upload did to them, expire leases of workers that died,
 * and pause a destination whose credentials the platform refused.
 *
 * The lease is the claim: no transaction stays open across an upload.  A
 * claimed delivery carries the attempts count it was claimed with; a record
 * only applies while the row is still in_flight with that count, so a
 * worker whose lease expired (and whose delivery someone else re-claimed)
 * cannot overwrite the newer attempt's outcome.
 */
#ifndef ADSENG_STORE_DELIVERY_STORE_H
#define ADSENG_STORE_DELIVERY_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct claim_row {
	int64_t id;
	int64_t conversion_id;
	const char *destination_id; /* uuid text */
	int32_t attempts;	    /* after the claim's increment */
	const char *payload;	    /* conversion JSON */
};

struct claim_batch {
	PGresult *res;
	struct claim_row *rows; /* sorted by destination, then id */
	size_t n;
};

/* What happened to one delivery in one upload. */
struct delivery_record {
	int64_t id;
	int32_t claimed_attempts;
	const char *state;   /* new state, or NULL to only log the attempt */
	int64_t delay_ms;    /* for state "pending": when to try again */
	bool refund;	     /* give the attempt back (pause, hold, release) */
	const char *outcome; /* attempt row: "delivered", "retry", "failed", … */
	int32_t http_status; /* 0 = none */
	const char *platform_code;
	const char *error;
	int32_t latency_ms;
	/* The platform's id of the accepted request (state "delivered"):
	 * stored on the delivery, and a platform_requests row due for its
	 * first status query after poll_after_ms.  NULL = none. */
	const char *request_id;
	int64_t poll_after_ms;
};

int delivery_store_prepare(PGconn *conn, struct err *e) WUR;

/* Claim up to `limit` due deliveries of enabled destinations whose circuit
 * breaker is closed (store/breaker_store.h claims the probes of the
 * others), leased for lease_ms, leaving out the destinations skip[0..n_skip)
 * (uuids as text: those at their in-flight limit).  One autocommitted
 * statement. */
int delivery_store_claim(PGconn *conn, int limit, int64_t lease_ms, const char *const *skip,
			 size_t n_skip, struct claim_batch *out, struct err *e) WUR;
void claim_batch_cleanup(struct claim_batch *b);
/* Fill b from the result of a claiming statement (columns: id,
 * conversion_id, destination_id, attempts, payload); b takes res. */
void claim_batch_take(struct claim_batch *b, PGresult *res);

/*
 * Apply records (state changes guarded by lease ownership) and insert a
 * delivery_attempts row for each record that passed the fence: its state
 * change applied, or (state NULL) its lease is still held.  When pause_destination is not NULL the
 * same transaction pauses that destination with pause_reason and holds its
 * other pending deliveries.  *applied receives how many state changes took
 * effect (fewer than asked = leases lost).
 */
int delivery_store_record(PGconn *conn, const struct delivery_record *recs, size_t n,
			  const char *pause_destination, const char *pause_reason, int64_t *applied,
			  struct err *e) WUR;

/* Extend the lease of claimed rows (bisecting takes several requests). */
int delivery_store_extend(PGconn *conn, const int64_t *ids, const int32_t *claimed, size_t n,
			  int64_t lease_ms, struct err *e) WUR;

/* Return expired leases to pending, logging an attempt row for each: the
 * outcome is unknown, so even the last attempt is sent once more.  Dead only
 * when that extra attempt (attempts > max_attempts) expired too.  *n
 * receives how many. */
int delivery_store_expire_leases(PGconn *conn, int64_t max_attempts, int64_t *n, struct err *e) WUR;

#endif
