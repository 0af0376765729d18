/*
 * testutil.h - helpers shared by the cmocka unit tests.
 */
#ifndef ADSENG_TESTUTIL_H
#define ADSENG_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct conversion;
struct destination;
struct dest_ops;

/* Read FIXTURES_DIR/name into a NUL-terminated heap buffer (free()), or
 * abort the test run if it is missing. */
char *test_read_fixture(const char *name, size_t *len);

/* Write text to a new temporary file in /tmp and return its path (free());
 * the caller removes the file. */
char *test_write_temp(const char *text);

/* ---- destination tests (builders and classifiers against tables) ---- */

/* A conversion with only event, event_id and occurred_us set (conv_free()). */
struct conversion *test_conversion(const char *event, const char *event_id, int64_t occurred_us);

/* Append an item to c; the strings are copied (NULL stays NULL). */
void test_conversion_add_item(struct conversion *c, const char *id, const char *name,
			      const char *price, int64_t quantity);

/* Fill d for ops: kind from ops->kind, copies of base_url and creds (NULL =
 * none), settings parsed from JSON text (fails the test if it does not
 * parse).  The caller sets what else its kind needs (id, test_mode,
 * api_version, heap copies) and ends with test_dest_cleanup(). */
void test_dest_init(struct destination *d, const struct dest_ops *ops, const char *base_url,
		    const char *settings, const char *creds);
void test_dest_cleanup(struct destination *d);

/* The value at a dotted path of obj ("user_data.address"), or NULL. */
struct cJSON *test_json_at(const struct cJSON *obj, const char *path);
/* The string at a dotted path, or NULL when absent or not a string. */
const char *test_json_str(const struct cJSON *obj, const char *path);
/* Element i of obj's array member key; fails the test when there is none. */
struct cJSON *test_json_item(const struct cJSON *obj, const char *key, int i);

#endif
