/*
 * shopify_int.h - what shopify.c and shopify_customer.c share: the id
 * reader and the customer / privacy hooks of the Shopify source ops.
 * Private to lib/sources.
 */
#ifndef ADSENG_SOURCES_SHOPIFY_INT_H
#define ADSENG_SOURCES_SHOPIFY_INT_H

#include "sources/source.h"

struct cJSON;

/*
 * A Shopify object's id as decimal text into out (24 bytes), from its
 * GraphQL id (gid_prefix + digits) or an exact "id" member.  0,
 * ERR_NOTFOUND (no id at all) or ERR_INVALID (one that cannot be trusted).
 */
int shopify_id(const struct cJSON *obj, const char *gid_prefix, char out[24]);

/* The privacy topics, which a disabled source still takes (NULL-terminated). */
extern const char *const shopify_privacy_topics[];

/* source_ops.contact: customers/create|update keep the customer record. */
void shopify_contact(const struct raw_event *ev, struct source_contact *out);

/* source_ops.names: whether ev is about the customer key. */
bool shopify_names(const struct raw_event *ev, const char *key);

/* The privacy action of ev's topic (customers/redact, shop/redact,
 * customers/data_request), key filled for the customer ones;
 * SOURCE_ACTION_NONE for any other topic. */
enum source_action shopify_privacy_action(const struct raw_event *ev, char *key);

/* parse for topics that make no conversion: 0, or ERR_INVALID when a
 * privacy topic names no usable customer (so it is marked error, visible,
 * rather than silently ignored). */
int shopify_parse_other(const struct raw_event *ev, struct err *e);

#endif
