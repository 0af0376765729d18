/*
 * source_json.h - typed access to an untrusted webhook body, shared by the
 * source parsers (Shopify, WooCommerce, GHL): strings and objects that are
 * what they claim to be, ids that a double has not rounded, and the line
 * items every commerce platform sends in nearly the same shape.
 */
#ifndef ADSENG_SOURCES_SOURCE_JSON_H
#define ADSENG_SOURCES_SOURCE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conversion.h"
#include "core/err.h"

struct cJSON;

#define SOURCE_MAX_ITEMS 1000 /* line items kept; the rest are dropped */
#define SOURCE_MAX_TEXT	 4096 /* URLs, user agents, titles */
#define SOURCE_MAX_TOKEN 256  /* ids, SKUs, tokens */

/* The body as one JSON object (trailing white space allowed), or NULL;
 * the caller frees it with cJSON_Delete.  NULL/0 is no object. */
struct cJSON *source_json_parse_object(const uint8_t *body, size_t len);

/* obj[key] when obj is an object and the member a string, else NULL. */
const char *source_json_str(const struct cJSON *obj, const char *key);
/* obj[key] when obj is an object and the member an object, else NULL. */
const struct cJSON *source_json_obj(const struct cJSON *obj, const char *key);

/*
 * An id as decimal text into out (24 bytes): a JSON number that is a whole
 * number in [min, 2^53) (above it a double has lost digits), or, when
 * strings_ok, a string of at most 19 digits (int64 range).
 */
bool source_json_exact_id(const struct cJSON *v, bool strings_ok, int64_t min, char out[24]);

/*
 * The order's money: root[value_key] must be a decimal string (money is
 * never guessed nor read from a double: anything else is ERR_INVALID, the
 * event kept for reprocessing); absent or null is no value.  The currency
 * from root["currency"] when it is three letters, upper-cased.
 */
int source_json_money(const struct cJSON *root, const char *value_key, struct conversion *c,
		      struct err *e);

/* The unit price of a line item with quantity qty as a decimal string
 * (heap), or NULL when unknown. */
typedef char *(*source_item_price_fn)(const struct cJSON *li, int64_t qty);

/*
 * Fill c->items from the array root[key] (at most SOURCE_MAX_ITEMS): the
 * id is the SKU when it is a usable token, else the first of id_keys
 * (NULL-terminated) holding an exact id — items with none are useless to
 * the platforms and skipped; the name from name_key; the quantity a whole
 * number ≥ qmin (default 1); the price from price_fn.
 */
void source_items_collect(const struct cJSON *root, const char *key, const char *const *id_keys,
			  const char *name_key, int64_t qmin, source_item_price_fn price_fn,
			  struct conversion *c);

#endif
