/*
 * privacy.h - privacy (GDPR) requests about a source's people, shared by
 * stage 1 (a sender's request arriving as a raw event: Shopify's
 * customers/redact, shop/redact, customers/data_request) and the operator
 * (`adsengctl privacy export`, later the admin API).  The source's own
 * hooks say which stored events name a person; the store erases and
 * exports (store/privacy_store.h).  No platform is named here.
 */
#ifndef ADSENG_PIPELINE_PRIVACY_H
#define ADSENG_PIPELINE_PRIVACY_H

#include <libpq-fe.h>
#include <stdint.h>

#include "core/err.h"
#include "sources/source.h"

struct cJSON;

/*
 * Carry out action (a SOURCE_ACTION_REDACT_PERSON, _REDACT_SOURCE or
 * _DATA_REQUEST that raw event raw_id of source_id asked, about person
 * key) inside the caller's open transaction, with audit rows by actor.
 * The asking event's own body is erased with the person's (it names
 * them).  0, ERR_INVALID (the kind cannot name people), ERR_DB.  The
 * thread owning conn.
 */
int privacy_apply(PGconn *conn, const struct source_ops *ops, enum source_action action,
		  const char *source_id, const char *key, int64_t raw_id, const char *actor,
		  struct err *e) WUR;

/*
 * Everything held about person key of source_id as a JSON object
 * (privacy_store_export: raw events, conversions with identifiers and
 * deliveries, contact record), in *out (caller's, cJSON_Delete), with an
 * audit row (actor, "privacy.export").  ERR_NOTFOUND (no such source),
 * ERR_INVALID (its kind cannot name people, or an empty key), ERR_DB.
 */
int privacy_export(PGconn *conn, const char *source_id, const char *key, const char *actor,
		   struct cJSON **out, struct err *e) WUR;

#endif
