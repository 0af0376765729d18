/*
 * billing_store.h - applying a billing change (core/billing.h, reported
 * by the billing provider's webhook) to the tenant it concerns, inside
 * stage 1's transaction, with an audit_log row (actor "stripe").
 */
#ifndef ADSENG_STORE_BILLING_STORE_H
#define ADSENG_STORE_BILLING_STORE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "core/billing.h"
#include "core/err.h"

enum billing_outcome {
	BILLING_APPLIED,   /* the tenant's state changed (audited) */
	BILLING_UNCHANGED, /* nothing to change (already so) */
	BILLING_STALE,	   /* older than what was applied last: ignored */
	BILLING_UNMATCHED, /* no tenant is linked to it: ignored */
};

/*
 * Apply c (raw event raw_id) in the caller's open transaction: find the
 * tenant (subscription id, else customer id, else the tenant reference;
 * a link only by its reference), lock its row, and change it unless an
 * event of the same family (subscription / invoice) with a later
 * `event_at` was applied already.  *outcome says what happened, *tenant_id
 * the tenant (0 when unmatched).  0 or ERR_DB (the batch rolls back).
 */
int billing_store_apply(PGconn *conn, const struct billing_change *c, int64_t raw_id,
			enum billing_outcome *outcome, int64_t *tenant_id, struct err *e) WUR;

/* "applied", "unchanged", "stale" or "unmatched". */
const char *billing_outcome_name(enum billing_outcome o);

/*
 * The Stripe customer of tenant_id into customer (customerlen bytes; ""
 * when it has none yet), for billing sessions.  0, ERR_NOTFOUND (no such
 * tenant) or ERR_DB.  Blocking; any thread with its own connection.
 */
int billing_store_customer(PGconn *conn, int64_t tenant_id, char *customer, size_t customerlen,
			   struct err *e) WUR;

#endif
