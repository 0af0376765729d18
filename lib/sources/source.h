/*
 * source.h - what every inbound platform (Shopify, WooCommerce, GHL, …)
 * provides: an optional answer to requests that are not events (a ping),
 * signature verification over the raw request, the dedup key and topic the
 * ingest path stores, the status that tells the sender to retry, and a
 * parser from a stored raw event to canonical conversions.  A kind may
 * also have a route of its own and carry several events per request, each
 * answered and deduplicated on its own (the server-side events API).
 *
 * All of them are pure functions (no database, no network, no globals):
 * what they may depend on beyond the request (the configuration, the time)
 * is passed in a struct source_ctx, so the HTTP loop can call them without
 * blocking, and unit tests and fuzzers can drive every one of them with a
 * fixed clock.  The HTTP layer knows no platform: adding one is one file
 * defining a `const struct source_ops` plus one line in source.c.
 *
 * Besides conversions, a parser may report changes to a conversion already
 * recorded (a refund, an order edit) as struct source_adjustment records;
 * stage 1 decides what they do against what is stored (source_ops.adjust).
 */
#ifndef ADSENG_SOURCES_SOURCE_H
#define ADSENG_SOURCES_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/billing.h"
#include "core/conversion.h"
#include "core/err.h"
#include "core/httpreq.h"

struct config_platform_key;

#define SOURCE_MAX_SECRETS 2
#define SOURCE_DEDUP_MAX   256
#define SOURCE_TOPIC_MAX   128

#define SOURCE_CONTACT_KEY_MAX 129 /* with the NUL */
#define SOURCE_SECRET_NEW_MAX  128 /* a generated secret, with the NUL */

struct config;

/* A configured source as the daemon holds it (secrets decrypted). */
struct source {
	char id[37]; /* uuid, as text */
	int64_t tenant_id;
	char kind[32];
	bool enabled;
	/* Up to two secrets during rotation; each points into sodium_malloc
	 * memory owned by whoever built the struct (the source cache). */
	const unsigned char *secret[SOURCE_MAX_SECRETS];
	size_t secret_len[SOURCE_MAX_SECRETS];
	/* Unix microseconds after which secret[i] is refused; 0 = no end (the
	 * current secret; a previous one after `rotate-secret` has one). */
	int64_t secret_until_us[SOURCE_MAX_SECRETS];
	int n_secrets;
	/* The sources.settings jsonb as text ("{}" when empty), owned by
	 * whoever built the struct; NULL is read as "{}". */
	const char *settings_json;
	const struct source_ops *ops;
};

/* What a check may depend on besides the request, supplied by the caller
 * (the HTTP loop: its config snapshot and the wall clock at receipt). */
struct source_ctx {
	const struct config *cfg; /* borrowed; NULL in tests of sources needing none */
	int64_t now_us;		  /* unix microseconds */
};

/* An answer given at once to a request that is not an event. */
struct source_answer {
	int status;	  /* HTTP status */
	const char *body; /* JSON text, static */
};

/* A stored webhook, as stage 1 hands it to a parser.  Borrowed pointers. */
struct raw_event {
	int64_t id;
	const char *source_id;
	const char *topic;
	const char *headers_json; /* object of the stored headers; may be NULL */
	const uint8_t *body;
	size_t body_len;
	int64_t received_us;
	/* The source's settings as JSON text (the source's, now: a reprocess
	 * reads today's settings); may be NULL. */
	const char *settings_json;
	/* Kinds whose requests carry several events (source_ops.items): the
	 * positions (0-based, ascending) of the body's items that were new
	 * when the request was stored, i.e. the only ones to convert; the
	 * others were answered duplicate or invalid.  has_items is false for
	 * a raw event stored without that verdict (any other kind). */
	bool has_items;
	const int32_t *items_new;
	size_t n_items_new;
};

/* The verdict on one event of a request that carries several. */
enum source_item_status {
	/* Refused by the kind's checks: never keyed, never converted. */
	SOURCE_ITEM_INVALID,
	/* The first time this source sends the item's key: converted. */
	SOURCE_ITEM_NEW,
	/* The source sent this key before (or earlier in the same request):
	 * not converted again. */
	SOURCE_ITEM_DUPLICATE,
};

struct source_item {
	char *key;   /* the per-source dedup key (heap); NULL when invalid */
	char *error; /* why it is invalid (heap); NULL when valid */
	enum source_item_status status;
};

/* The events of one request, in body order; owns everything in it. */
struct source_items {
	struct source_item *v;
	size_t n;
};

/* What one raw event says about a person the sender names by its own id
 * (a CRM contact). */
struct source_contact {
	char key[SOURCE_CONTACT_KEY_MAX]; /* the sender's id; "" = names nobody */
	/* The identifiers and click ids the event carries about the person
	 * (only ids[] and click[] are read), owned by the caller once set;
	 * NULL = the event tells nothing about the person. */
	struct conversion *known;
};

/* A change to the source itself that one of its stored events asks for. */
enum source_action {
	SOURCE_ACTION_NONE = 0,
	/* The sender says it will send nothing more (Shopify: the shop
	 * uninstalled the app): stop accepting its webhooks, keep its data. */
	SOURCE_ACTION_DISABLE,
	/* Privacy (GDPR): the sender asks us to erase what we hold about one
	 * person, named by the key the action hook fills in (the same key as
	 * the contact hook's and the `names` hook's). */
	SOURCE_ACTION_REDACT_PERSON,
	/* Privacy: erase everything the source's sender sent (raw events,
	 * people); the source itself stays, as app/uninstalled left it. */
	SOURCE_ACTION_REDACT_SOURCE,
	/* Privacy: the person (key) asked what is held about them; recorded
	 * in the audit log for the operator (`adsengctl privacy export`). */
	SOURCE_ACTION_DATA_REQUEST,
	/* The event changes a tenant's billing state (the daemon's own
	 * billing provider): stage 1 asks source_ops.billing what, and
	 * applies it (store/billing_store.c). */
	SOURCE_ACTION_BILLING,
};

/* What an event says changed about a conversion the same source sent
 * before (a refund, an order edit).  The parser only reports the change;
 * stage 1 decides against what is stored whether it updates the value of
 * a conversion not yet delivered, becomes an adjustment (retraction or
 * restatement), or does nothing (the value did not change). */
enum source_adjust_op {
	/* The order now totals `amount` (an edit): a new value, not a
	 * refund.  The same total as known changes nothing. */
	SOURCE_ADJUST_TOTAL,
	/* `amount` of the order's money went back to the buyer: the value
	 * drops by it, to a retraction once nothing is left. */
	SOURCE_ADJUST_REFUND,
};

/* One reported change; every string is owned by the record (heap). */
struct source_adjustment {
	enum source_adjust_op op;
	char *event_id;	     /* the conversion it changes, as the parser names it */
	char *amount;	     /* decimal text, >= 0 */
	char *currency;	     /* ISO 4217 of amount, or NULL (the conversion's) */
	char *reason;	     /* short text for operators, or NULL */
	char *key;	     /* the sender's id of the change: the same key
			      * never makes two adjustments of a conversion;
			      * NULL = the raw event's id stands in */
	int64_t occurred_us; /* when it happened, unix microseconds */
};

struct source_adjust_list {
	struct source_adjustment *v;
	size_t n, cap;
};

void source_adjust_list_init(struct source_adjust_list *l);
/* Append a zeroed record and return it (the list owns what it is filled
 * with). */
struct source_adjustment *source_adjust_list_add(struct source_adjust_list *l);
/* Free the records from n on (an event whose parse failed after its
 * changes were listed); n <= l->n. */
void source_adjust_list_truncate(struct source_adjust_list *l, size_t n);
/* Free every record's strings and the array; the list is empty again. */
void source_adjust_list_cleanup(struct source_adjust_list *l);

/*
 * How a sender's own API is asked for the events its webhooks may have
 * missed (reconcile; WooCommerce never retries a failed delivery).  The
 * caller (pipeline/reconcile.c) pages through the list, stores each item
 * that its parser turns into a conversion not yet known, as a raw event
 * under `topic`, with the dedup key dedup_key() gives a request carrying
 * the item as body and `topic_header: topic`.
 */
struct source_rest {
	const char *topic;
	const char *topic_header;
	int per_page; /* a page shorter than this is the last one */
	/* Page `page` (from 1) of the items modified since since_gmt
	 * ("2026-11-27T10:00:00", UTC), from base_url (the source's
	 * settings.store_url); malloc'd. */
	char *(*page_url)(const char *base_url, const char *since_gmt, int page);
	/* The Authorization header's value from the source's opened REST
	 * credentials (JSON), into sodium_malloc'd *out. */
	int (*auth_header)(const char *creds_json, char **out, struct err *e);
};

struct source_ops {
	const char *kind; /* "shopify" */
	/* Signed with the platform's own keys (from the configuration), not a
	 * per-source secret: `source add` takes no --secret-file and the
	 * source's secret is empty. */
	bool no_secret;
	/*
	 * Optional.  true when the request is not an event but must still be
	 * answered, with *ans, before anything is verified or stored (the
	 * WooCommerce ping: unsigned, wants exactly 200).  Must recognise
	 * only requests that carry no event, since nothing checks them.
	 */
	bool (*answer_unstored)(const struct source *src, const struct http_req *req,
				struct source_answer *ans);
	/* 0 if the request is authentic, ERR_AUTH with a reason otherwise. */
	int (*verify)(const struct source *src, const struct source_ctx *ctx,
		      const struct http_req *req, struct err *e);
	/* The per-source dedup key of this delivery (NUL-terminated, at most
	 * SOURCE_DEDUP_MAX bytes with the NUL).  0 or ERR_INVALID. */
	int (*dedup_key)(const struct http_req *req, char *out, size_t outlen, struct err *e);
	/* The topic/event type (e.g. "orders/create"); "" when none. */
	void (*topic)(const struct http_req *req, char *out, size_t outlen);
	/* Request headers worth storing with the raw event (NULL-terminated,
	 * case-insensitive names). */
	const char *const *stored_headers;
	/* What to answer when the request cannot be stored now (database
	 * down, queue full): the status the platform retries on.  0 = 503. */
	int unavailable_status;
	/*
	 * Parse a stored raw event into zero or more conversions appended to
	 * out (which owns them).  0 with nothing appended = the topic is not a
	 * conversion (the raw event is marked ignored); ERR_INVALID with a
	 * message = the body is unusable (marked error, kept for reprocess).
	 */
	int (*parse)(const struct raw_event *ev, struct conv_list *out, struct err *e);
	/*
	 * Optional.  Changes the stored event reports to conversions of the
	 * same source, appended to out (which owns them); stage 1 asks it of
	 * every event besides parse.  0 with nothing appended = no change;
	 * ERR_INVALID with a message = the body is unusable (nothing
	 * appended; the raw event is marked error).
	 */
	int (*adjust)(const struct raw_event *ev, struct source_adjust_list *out, struct err *e);
	/*
	 * Optional, for senders whose later events name a person only by the
	 * sender's id (a GHL opportunity carries a contactId, the contact's
	 * details came with ContactCreate).  Fills *out (zeroed by the caller)
	 * from a stored raw event; never fails (a bad body names nobody).
	 * The pipeline keeps what is known per source and key, newest value
	 * of each field winning, and fills in the identifiers and click ids
	 * that this event's conversions lack.
	 */
	void (*contact)(const struct raw_event *ev, struct source_contact *out);
	/*
	 * Optional.  What the stored event asks of the source as a whole
	 * (SOURCE_ACTION_NONE for almost every event).  Stage 1 asks it of
	 * every raw event it takes, after a successful parse (an event marked
	 * error acts when it is reprocessed), and applies the answer in
	 * the transaction that marks the event, so the action happens exactly
	 * when the event counts as processed.  Decided from the event alone
	 * (topic, headers, body); the event must already be authentic.  For
	 * an action about a person, key (SOURCE_CONTACT_KEY_MAX bytes) gets
	 * that person's key; an event asking it without a usable key must
	 * have failed parse instead.  key is "" otherwise.
	 */
	enum source_action (*action)(const struct raw_event *ev, char *key);
	/*
	 * Optional, needed by kinds whose events can be asked to be erased
	 * (SOURCE_ACTION_REDACT_PERSON) or exported: whether the stored event
	 * names the person key (an order placed by that customer, the
	 * customer record itself).  Pure; a bad body names nobody.  The
	 * privacy code calls it only on events whose body contains key's
	 * bytes, so a kind must name people by keys written literally.
	 */
	bool (*names)(const struct raw_event *ev, const char *key);
	/*
	 * Optional, NULL-terminated: topics a disabled source still takes
	 * and stage 1 still processes (Shopify's privacy webhooks: shop/redact
	 * comes 48 h after the app/uninstalled that disabled the source, and
	 * the erasure is owed all the same).  Everything else of a disabled
	 * source is refused.
	 */
	const char *const *disabled_topics;
	/*
	 * Optional.  The URL path prefix this kind is served under, followed
	 * by the source id, instead of /v1/webhooks/{kind}/{id} (where it is
	 * then not served): "/v1/events/".
	 */
	const char *route;
	/*
	 * Also served at /v1/webhooks/{kind} with no source id, by the one
	 * enabled source of the kind (404 when there is none or more than
	 * one): for a sender that is the daemon's own rather than a
	 * tenant's (Stripe billing), whose URL should not depend on a row.
	 */
	bool kind_route;
	/*
	 * Optional, for requests that carry several events, each answered
	 * and deduplicated on its own.  Checks the body (after verify) and
	 * fills *out with one entry per event, in body order: its key, which
	 * the ingest path claims for the source in the transaction that
	 * stores the request (so the verdict new/duplicate is atomic with
	 * the COMMIT), or the reason it is invalid.  parse then sees the
	 * positions that were new (raw_event.items_new) and must convert
	 * exactly those.  ERR_INVALID when the body as a whole is unusable
	 * (answered 400, nothing stored); *out is then empty.
	 */
	int (*items)(const struct source_ctx *ctx, const struct http_req *req,
		     struct source_items *out, struct err *e);
	/* With items: the 200 answer once every item's status is set, as
	 * malloc'd JSON text; NULL when memory is short. */
	char *(*items_answer)(const struct source_items *items);
	/*
	 * Optional.  The kind's secret is made here rather than given (an API
	 * key that the sender presents as it is): writes a fresh random one,
	 * NUL-terminated, into out (SOURCE_SECRET_NEW_MAX bytes).  `source
	 * add` and `source rotate-secret` print it once; only its sealed form
	 * is stored.
	 */
	void (*new_secret)(char out[SOURCE_SECRET_NEW_MAX]);
	/*
	 * Optional, with action answering SOURCE_ACTION_BILLING: the billing
	 * change the stored event reports, into *out (zeroed by the caller),
	 * with cfg for what maps the provider's ids to ours (prices to plans).
	 * 0, or ERR_INVALID with a message (the raw event is marked error).
	 */
	int (*billing)(const struct raw_event *ev, const struct config *cfg,
		       struct billing_change *out, struct err *e);
	/* Optional: the sender's API for reconcile; NULL = not reconcilable. */
	const struct source_rest *rest;
	/* Daemon-wide settings of this kind ([ghl] max_age, [endpoints]
	 * stripe): source_register_config_keys makes them known to
	 * core/config, which names no platform. */
	const struct config_platform_key *config_keys;
	size_t n_config_keys;
};

/* The ops for a kind ("shopify"), or NULL. */
const struct source_ops *source_ops_find(const char *kind);

/* Register every kind's config_keys with core/config
 * (config_add_platform_key); main thread, before any config_load. */
void source_register_config_keys(void);

/* The i-th registered kind, or NULL past the last (metrics declare a
 * series per kind). */
const struct source_ops *source_ops_at(size_t i);

/* Whether a request to a disabled source of ops is one of its
 * disabled_topics (by ops->topic), so it is verified and stored anyway. */
bool source_takes_when_disabled(const struct source_ops *ops, const struct http_req *req);

/*
 * Every registered kind's disabled_topics as a PostgreSQL text[] literal
 * ("{\"a/b\",\"c/d\"}") into out, for stage 1's claim.  Returns false
 * (out "{}") if they do not fit in outlen.
 */
bool source_disabled_topics_literal(char *out, size_t outlen);

/* The ops of the kind whose own route (source_ops.route) path starts
 * with, and in *rest what follows that prefix; NULL when none. */
const struct source_ops *source_ops_find_route(const char *path, const char **rest);

/* Free what items holds and empty it (an empty one is a no-op). */
void source_items_cleanup(struct source_items *items);

/* The status for "not stored, retry later" of ops (NULL: an unknown
 * kind): ops->unavailable_status, or 503. */
int source_unavailable_status(const struct source_ops *ops);

/*
 * Shared helper for HMAC-SHA256 webhook signatures sent as standard base64
 * (Shopify, WooCommerce): decodes the header and compares it in constant
 * time against HMAC(secret, body) for each of the source's secrets that
 * is still valid at ctx->now_us (source_secret_is_live).  0 on a match,
 * ERR_AUTH otherwise (missing, malformed, wrong length, or no live secret
 * matches).
 */
int source_verify_hmac_b64(const struct source *src, const struct source_ctx *ctx,
			   const char *header_value, const uint8_t *body, size_t body_len,
			   struct err *e) WUR;

/* Whether src->secret[i] may still sign at now_us: it has no end, or its
 * end (the overlap of a rotation) has not passed. */
bool source_secret_is_live(const struct source *src, int i, int64_t now_us);

#endif
