/*
 * json_build.h - small helpers for building and reading cJSON trees, shared
 * by every payload builder (destinations, the conversion model, admin
 * output) so none keeps a private copy.
 *
 * The adders attach to a cJSON tree.  On an allocation failure they set
 * *ok to false (cJSON frees an item it failed to attach) and later calls do
 * nothing, so a builder checks *ok once at the end.  A NULL value means
 * "absent" and adds nothing.
 */
#ifndef ADSENG_CORE_JSON_BUILD_H
#define ADSENG_CORE_JSON_BUILD_H

#include <stdbool.h>
#include <stdint.h>

struct cJSON;

void json_add_string(struct cJSON *obj, const char *key, const char *val, bool *ok);
/* raw is the exact JSON text of a number (validated by the caller). */
void json_add_raw(struct cJSON *obj, const char *key, const char *raw, bool *ok);
/* Integers as text: cJSON's doubles would print large ones as 1e+18. */
void json_add_int(struct cJSON *obj, const char *key, int64_t v, bool *ok);
void json_add_bool(struct cJSON *obj, const char *key, bool v, bool *ok);
/* key: [val], the one-element array form platforms take for customer
 * identifiers (Meta's user_data, TikTok's user). */
void json_add_string_array1(struct cJSON *obj, const char *key, const char *val, bool *ok);
/* Attach item to parent under key (an array element when key is NULL);
 * a NULL item (allocation failed) sets *ok false; frees item if it cannot
 * be attached. */
void json_attach(struct cJSON *parent, const char *key, struct cJSON *item, bool *ok);

/* obj[key] when it is a non-empty string, else NULL. */
const char *json_str(const struct cJSON *obj, const char *key);

/* An error code sent as a number or as a string of digits (platforms do
 * both), from 0 to max; -1 when absent or anything else. */
long json_code(const struct cJSON *v, long max);

/* Wipe (sodium_memzero) every string in a tree, e.g. parsed credentials,
 * before it is freed. */
void json_wipe_strings(struct cJSON *node);

#endif
