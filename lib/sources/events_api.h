/*
 * events_api.h - the server-side events API (source kind "api",
 * POST /v1/events/{source_id}): a sender's own server posts a JSON array of
 * canonical conversions (DESIGN §4) with the source's API key as a Bearer
 * token, and gets one verdict per item.
 *
 * The check of one item is a single pure function, used both when the
 * request arrives (to answer) and when stage 1 parses the stored request
 * (to convert), so the two never disagree about what an item says.  The
 * one rule that depends on the clock (occurred_at not in the future) is
 * judged at receipt only: stage 1 converts exactly the items the receipt
 * found valid and new, whose positions are stored with the raw event.
 */
#ifndef ADSENG_SOURCES_EVENTS_API_H
#define ADSENG_SOURCES_EVENTS_API_H

#include <stddef.h>
#include <stdint.h>

#include "core/conversion.h"
#include "core/err.h"

struct cJSON;

#define EVENTS_MAX_ITEMS 1000
/* How far ahead of the receiving clock occurred_at may be (clock skew of
 * the sender's server). */
#define EVENTS_MAX_FUTURE_US (5LL * 60 * 1000000)
/* now_us for events_item_check: skip the clock rule (see above). */
#define EVENTS_NO_CLOCK INT64_MIN

/*
 * The request body as a JSON array of 1 to EVENTS_MAX_ITEMS elements
 * (*out, the caller frees it with cJSON_Delete).  ERR_INVALID with a
 * message for the sender otherwise: not JSON, not an array, empty, too
 * many.  The elements themselves are not checked here.
 */
int events_body_parse(const uint8_t *body, size_t len, struct cJSON **out, struct err *e) WUR;

/*
 * Check one item of the array and, when out is not NULL, make it a
 * conversion (*out, the caller's; clear identifiers normalized and hashed
 * per scheme).  The rules, each with its own message: an object; "event"
 * and "event_id" present; "value" a decimal string; "currency" three
 * upper-case letters; "occurred_at" RFC 3339 with an offset and, unless
 * now_us is EVENTS_NO_CLOCK, at most EVENTS_MAX_FUTURE_US after now_us;
 * "user.email" that looks like an email (or is a SHA-256 hex digest);
 * then everything else as strictly as the stored form (conv_from_json:
 * known keys only, typed, bounded, UTF-8).  0 or ERR_INVALID.
 *
 * item is taken apart and put back together while it is read ("user" is
 * detached and re-inserted at its place): it is as it was on return.
 * Pure: no clock, no globals.
 */
int events_item_check(struct cJSON *item, int64_t now_us, struct conversion **out,
		      struct err *e) WUR;

#endif
