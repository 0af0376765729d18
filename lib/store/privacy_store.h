/*
 * privacy_store.h - the SQL of privacy (GDPR) requests about a source's
 * people: find what is held about one person, export it as JSON, erase
 * it, erase a whole source's data, and record the requests in audit_log.
 *
 * Nothing here knows a platform: which raw events name a person is decided
 * by a callback (pipeline/privacy.c passes the source's `names` hook), and
 * a person is the key the source uses for them (Shopify: the customer id).
 */
#ifndef ADSENG_STORE_PRIVACY_STORE_H
#define ADSENG_STORE_PRIVACY_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cJSON;

/* One stored raw event as the callback sees it (borrowed for the call). */
struct privacy_raw {
	int64_t id;
	const char *topic;
	const char *headers_json;
	const uint8_t *body;
	size_t body_len;
	int64_t received_us;
};

/* Whether r names the person being looked for. */
typedef bool (*privacy_names_cb)(const struct privacy_raw *r, void *arg);

/* The raw events of a source that name one person. */
struct privacy_hits {
	int64_t *ids;	    /* ascending */
	struct cJSON *json; /* [{id, received_at, topic, body}] for an export */
	size_t n;
};
void privacy_hits_cleanup(struct privacy_hits *h);

/* The kind of source_id into kind (32 bytes).  ERR_NOTFOUND, ERR_DB. */
int privacy_store_source_kind(PGconn *conn, const char *source_id, char kind[32],
			      struct err *e) WUR;

/*
 * The raw events of source_id whose body contains key's bytes (a cheap
 * filter in SQL) and that cb says name the person.  With want_json, the
 * events are also described in out->json (a body that is JSON as a JSON
 * value, other UTF-8 as a string, the rest as null).  key must not be
 * empty.  out is filled on success and cleaned by the caller either way.
 */
int privacy_store_find_raw(PGconn *conn, const char *source_id, const char *key,
			   privacy_names_cb cb, void *arg, bool want_json, struct privacy_hits *out,
			   struct err *e) WUR;

/*
 * Everything held about the person: {"source": {...}, "customer": key,
 * "raw_events": hits->json (taken), "conversions": [conversions made from
 * those events, with payload and deliveries], "contact": the stored
 * contact record or null}.  *out is the caller's (cJSON_Delete).  Reads
 * only; the caller writes the audit row (privacy_store_audit).
 */
int privacy_store_export(PGconn *conn, const char *source_id, const char *key,
			 struct privacy_hits *hits, struct cJSON **out, struct err *e) WUR;

/*
 * Erase the person from source_id, in the caller's transaction: the
 * bodies of the raw events hits->ids (emptied; a queued one is taken off
 * the queue and marked ignored), the clear identifiers of the
 * conversions made from them (adseng_redact_payload, redacted_at set:
 * hashes already sent stay), their deliveries not yet delivered (skipped,
 * never sent now), and the contact record (source_id, key).  Then an
 * audit row (actor, "privacy.redact_customer") with the counts and
 * raw_id, the raw event that asked (0: none).  0 or ERR_DB.
 */
int privacy_store_redact_person(PGconn *conn, const char *actor, const char *source_id,
				const char *key, const struct privacy_hits *hits, int64_t raw_id,
				struct err *e) WUR;

/*
 * Erase the whole source's data, in the caller's transaction: its raw
 * events deleted (and queue rows), every conversion's clear identifiers
 * as above, deliveries not yet delivered skipped, every contact record
 * deleted; the source row, its routes and the delivered counts stay.
 * Audit row (actor, "privacy.redact_source").  0 or ERR_DB.
 */
int privacy_store_redact_source(PGconn *conn, const char *actor, const char *source_id,
				int64_t raw_id, struct err *e) WUR;

/* An audit row (actor, action) {"source_id", "customer", "raw_event_id"
 * (when raw_id > 0)}: a data request received, an export made. */
int privacy_store_audit(PGconn *conn, const char *actor, const char *action, const char *source_id,
			const char *key, int64_t raw_id, struct err *e) WUR;

#endif
