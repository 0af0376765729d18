/*
 * reconcile_store.h - which sources are due for a periodic reconcile, and
 * the claim that makes one daemon, not several, run each (sql/0014).
 */
#ifndef ADSENG_STORE_RECONCILE_STORE_H
#define ADSENG_STORE_RECONCILE_STORE_H

#include "core/err.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* A source claimed for a run. */
struct reconcile_claim {
	char source_id[37];
	/* Fetch what changed since this (unix µs): where the last good run
	 * started, less an overlap for items saved while it ran; for a
	 * first run, two intervals back. */
	int64_t since_us;
	int64_t claimed_us; /* the claim's time: the next since once it succeeds */
};

/*
 * Claim the enabled source whose settings.reconcile_interval_s has passed
 * since its last run (longest waiting first): its reconciled_at becomes
 * now, committed at once, so it is not due again for an interval whatever
 * the run's outcome.  *found false when none is due.
 */
int reconcile_store_claim(PGconn *conn, struct reconcile_claim *out, bool *found,
			  struct err *e) WUR;

/* Record a good run: the next one fetches from where this one started.
 * (A failed run records nothing: the next one covers its window.) */
int reconcile_store_done(PGconn *conn, const struct reconcile_claim *c, struct err *e) WUR;

/*
 * Set (interval_s > 0) or clear (0) source_id's reconcile interval, with
 * an audit_log row by actor.  ERR_NOTFOUND when there is no such source.
 */
int reconcile_store_set_interval(PGconn *conn, const char *actor, const char *source_id,
				 int64_t interval_s, struct err *e) WUR;

#endif
