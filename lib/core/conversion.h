/*
 * conversion.h - the canonical conversion (DESIGN §4) as C sees it.
 *
 * Sources produce these from raw events; the store writes them to the
 * `conversions` table; destinations build platform payloads from them.
 * Clear PII never lives here: identifiers are already normalized and, where
 * the scheme says so, SHA-256 hashed, one set per hashing scheme (Meta's
 * and Google's rules differ, PLATFORMS.md).  IP and user agent are kept in
 * the clear because Meta needs them so.
 *
 * Every string is heap-owned by the conversion (conv_free frees them);
 * NULL means absent.  Money is a decimal string end to end.
 */
#ifndef ADSENG_CORE_CONVERSION_H
#define ADSENG_CORE_CONVERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/pii.h"

struct cJSON;

enum click_field {
	CLICK_GCLID,
	CLICK_GBRAID,
	CLICK_WBRAID,
	CLICK_FBCLID,
	CLICK_FBC,
	CLICK_FBP,
	CLICK_TTCLID,
	CLICK_TTP,
	CLICK_GA_CLIENT_ID,
	CLICK__COUNT
};

/* JSON key of a click field ("gclid", "fbc", …). */
const char *click_field_name(enum click_field f);

struct conv_item {
	char *id;    /* SKU or product id */
	char *name;  /* may be NULL */
	char *price; /* decimal string, may be NULL */
	int64_t quantity;
};

struct conversion {
	int refcnt;	     /* conv_new gives 1; conv_free drops one (one thread) */
	int64_t id;	     /* conversions.id once stored, else 0 */
	char *event;	     /* canonical name: "purchase", "begin_checkout", "lead" */
	char *event_id;	     /* stable idempotency key, e.g. "shopify:order:5551234" */
	int64_t occurred_us; /* unix microseconds, UTC */
	/* When the ad click happened, when a source knows it (the events
	 * API's clicked_at); 0 = unknown.  Google's age window counts from
	 * it. */
	int64_t clicked_us;
	char *value;	/* decimal string */
	char *currency; /* ISO 4217, upper case */
	char *order_id;
	char *page_url;	  /* absolute landing/event URL when known */
	char *client_ip;  /* clear: platforms need it so */
	char *user_agent; /* clear */
	/* ids[scheme][field]: normalized value; hashed (64 lowercase hex) when
	 * pii_is_hashed(scheme, field). */
	char *ids[PII_SCHEME__COUNT][PII_FIELD__COUNT];
	char *click[CLICK__COUNT];
	struct conv_item *items;
	size_t n_items;
	char *consent_ad_user_data;	  /* "granted"/"denied"/NULL */
	char *consent_ad_personalization; /* "granted"/"denied"/NULL */
	bool test;
};

struct conversion *conv_new(void);
/* Another owner of c (not thread safe: a conversion lives on one thread). */
struct conversion *conv_ref(struct conversion *c);
/* Drop one reference; the last frees everything.  NULL is a no-op. */
void conv_free(struct conversion *c);

/*
 * Fill c->ids for every scheme from one clear value of `field`: normalizes
 * and hashes per scheme.  A value a scheme rejects (Meta: "not-an-email")
 * is left absent for that scheme, not an error: one bad field must not lose
 * the conversion.  Does nothing when clear is NULL or empty, or when the
 * field already has a value for a scheme (the first source field wins).
 */
void conv_set_pii(struct conversion *c, enum pii_field field, const char *clear);

/* Set a click id if not already set (first wins); copies value. */
void conv_set_click(struct conversion *c, enum click_field f, const char *value);

/*
 * Serialize to / from the JSON stored in the database and used by the
 * server-side events API: the canonical shape of DESIGN §4 except that
 * "user" is replaced by "ids": {"meta": {"em": …}, "google": {…}}.
 * conv_to_json returns a new cJSON tree the caller frees.
 */
struct cJSON *conv_to_json(const struct conversion *c);
int conv_from_json(const struct cJSON *j, struct conversion **out, struct err *e) WUR;

/* A growable list of owned conversions. */
struct conv_list {
	struct conversion **v;
	size_t n;
	size_t cap;
};
void conv_list_init(struct conv_list *l);
void conv_list_push(struct conv_list *l, struct conversion *c); /* takes ownership */
void conv_list_cleanup(struct conv_list *l);			/* frees the conversions */

#endif
