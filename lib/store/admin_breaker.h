/*
 * admin_breaker.h - the circuit breakers as the admin CLI shows them: a
 * "breaker" object added to destinations listed by admin_stats() and
 * admin_delivery_show() (store/admin.h).
 *
 * Kept apart from admin.c because the breaker has its own table
 * (destination_health, sql/0003_breaker.sql), written by the workers.
 */
#ifndef ADSENG_STORE_ADMIN_BREAKER_H
#define ADSENG_STORE_ADMIN_BREAKER_H

#include <libpq-fe.h>

#include "core/err.h"

struct cJSON;

/*
 * Add to each destination object in dests (an array of objects, or one
 * object; its "id" is the destination's id) a key "breaker":
 *   {"state": "closed"|"open"|"half_open", "failures": N,
 *    "retry_at": RFC 3339 or null (open: when the probe may go),
 *    "probe_until": … (half-open: the probe's lease), "last_error": …,
 *    "changed_at": …}
 * A destination without a row is closed with no failures.  Runs in the
 * caller's transaction, if any.  0, ERR_DB or ERR_NOMEM.
 */
int admin_breaker_annotate(PGconn *conn, struct cJSON *dests, struct err *e) WUR;

#endif
