/*
 * stripe.h - the pure pieces of Stripe's webhooks (sources/stripe.c),
 * exported for unit tests and fuzzers: the Stripe-Signature check, the
 * event reader and the price → plan map.
 */
#ifndef ADSENG_SOURCES_STRIPE_H
#define ADSENG_SOURCES_STRIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/billing.h"
#include "core/err.h"

#define STRIPE_MAX_V1 8 /* v1 signatures looked at per header */

/* A Stripe-Signature header, parsed. */
struct stripe_sig {
	int64_t t;		       /* the signed timestamp, unix seconds */
	char t_text[24];	       /* t exactly as sent (it is what was signed) */
	uint8_t v1[STRIPE_MAX_V1][32]; /* the v1 signatures that are 64 hex digits */
	size_t n_v1;
};

/*
 * Parse "t=…,v1=…[,v1=…][,v0=…]" into *out: elements split on ',', each
 * "key=value"; unknown keys (v0, future schemes) and malformed v1 values
 * are skipped.  0, or ERR_AUTH when there is no usable t or no v1.
 */
int stripe_sig_parse(const char *header, struct stripe_sig *out, struct err *e) WUR;

/*
 * Whether header signs body with secret (the whole whsec_… string as the
 * HMAC key) at now_s: HMAC-SHA256 of "t.body" equals any of its v1 (each
 * compared in constant time) and |now_s - t| <= tolerance_s.  0, or
 * ERR_AUTH with the reason (missing or malformed header, stale, mismatch).
 */
int stripe_sig_verify(const char *header, const uint8_t *body, size_t body_len,
		      const unsigned char *secret, size_t secret_len, int64_t now_s,
		      int64_t tolerance_s, struct err *e) WUR;

/*
 * The plan that price buys per plans ("price_a:starter, price_b:pro"),
 * into plan (planlen bytes); false (plan "") when none is listed.
 */
bool stripe_plan_for_price(const char *plans, const char *price, char *plan, size_t planlen);

/*
 * Read an event body into *out (zeroed here): BILLING_NONE for the types
 * that change nothing, else the change, with the plan from plans.  0, or
 * ERR_INVALID when the body is no event (no id, type or created) or a
 * handled type lacks what it needs.
 */
int stripe_event_read(const uint8_t *body, size_t len, const char *plans,
		      struct billing_change *out, struct err *e) WUR;

#endif
