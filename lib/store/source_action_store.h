/*
 * source_action_store.h - applying what a stored event asks of its source
 * (enum source_action in sources/source.h) inside stage 1's transaction.
 */
#ifndef ADSENG_STORE_SOURCE_ACTION_STORE_H
#define ADSENG_STORE_SOURCE_ACTION_STORE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "core/err.h"

/*
 * Disable source_id because raw event raw_id (topic `topic`, may be NULL)
 * says its sender is gone, with an audit_log row (actor "adsengd", action
 * "source.disable").  A source already disabled is left alone, without a
 * second audit row.  Runs in the caller's open transaction; the UPDATE
 * fires the catalog NOTIFY at its COMMIT, so the HTTP loop then answers
 * the source's webhooks as for any disabled source.  0 or ERR_DB.
 */
int source_action_disable(PGconn *conn, const char *source_id, int64_t raw_id, const char *topic,
			  struct err *e) WUR;

#endif
