/*
 * breaker_store.h - the circuit breakers' rows (table destination_health,
 * sql/0003_breaker.sql): read them, write one back under a version check,
 * and claim probes.
 *
 * The rules live in core/breaker.c; this module only moves struct breaker
 * in and out of the database.  Every time is milliseconds since the epoch
 * on the database's clock, and every read also returns that clock's now,
 * so daemons on machines whose clocks differ still agree.  Statements are
 * sent unprepared: they run once per failed request or per second, not per
 * event.  Any thread with its own connection may call these.
 */
#ifndef ADSENG_STORE_BREAKER_STORE_H
#define ADSENG_STORE_BREAKER_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/breaker.h"
#include "core/err.h"
#include "store/delivery_store.h"

struct breaker_row {
	char destination_id[37];
	struct breaker b;
	int64_t version; /* of the stored row; 0 = there is none yet */
};

/*
 * Every breaker that is not closed with zero failures, into *rows (an array
 * the caller frees with free(), NULL when *n is 0), and the database's
 * clock into *now_ms.
 */
int breaker_store_load_active(PGconn *conn, struct breaker_row **rows, size_t *n, int64_t *now_ms,
			      struct err *e) WUR;

/* One destination's breaker (closed, version 0 when it has no row) and the
 * database's clock. */
int breaker_store_load(PGconn *conn, const char *destination_id, struct breaker_row *out,
		       int64_t *now_ms, struct err *e) WUR;

/*
 * Store row->b if the stored row still has row->version (0: if there is
 * still no row).  *won says whether it did; then row->version is the new
 * version.  last_error (NULL = keep the stored one) says what the last
 * failure was, for `adsengctl stats`.  change is what breaker_on_*() said;
 * the same transaction also:
 *   BREAKER_OPENED, BREAKER_REOPENED: sets the destination's pending
 *     deliveries due before its probe park_ms ahead (up to 100000 of them),
 *     so that claims need not scan past them while it is open;
 *   BREAKER_CLOSED_NOW: makes every pending delivery of it due within a
 *     second and NOTIFYs adseng_deliveries (idle workers claim at once).
 */
int breaker_store_write(PGconn *conn, struct breaker_row *row, const char *last_error,
			enum breaker_change change, int64_t park_ms, bool *won, struct err *e) WUR;

/*
 * Turn every breaker whose probe is due (open past its retry_at, or
 * half-open past its probe's lease) half-open for lease_ms, and claim one
 * pending delivery of each — the oldest, due or not — as its probe, leased
 * for lease_ms.  A breaker with no pending delivery stays as it is.  Rows as
 * delivery_store_claim() returns them, one per destination.  Concurrent
 * callers (other workers, other daemons) never claim the same probe.
 */
int breaker_store_claim_probes(PGconn *conn, int64_t lease_ms, struct claim_batch *out,
			       struct err *e) WUR;

#endif
