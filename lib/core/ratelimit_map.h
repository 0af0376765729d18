/*
 * ratelimit_map.h - token buckets (core/ratelimit.h) by string key in a
 * fixed amount of memory: the admin API's per-token limit, where the keys
 * come from whoever holds a token and must not grow a table without end.
 *
 * A key lives in one of RATELIMIT_MAP_PROBE slots from its hash; when they
 * are all taken by other keys, the one seen longest ago is evicted and the
 * new key starts with a full bucket.  So an evicted key gets its burst
 * again: the price of the bound, and why the table should be much larger
 * than the number of keys in use.  One thread owns a map (no locks).
 */
#ifndef ADSENG_CORE_RATELIMIT_MAP_H
#define ADSENG_CORE_RATELIMIT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ratelimit.h"

#define RATELIMIT_MAP_PROBE   8
#define RATELIMIT_MAP_KEY_MAX 160 /* longer keys are cut (and may share a bucket) */

struct ratelimit_map;

/* A map of slots buckets (slots >= RATELIMIT_MAP_PROBE); aborts when out
 * of memory (startup).  _free(NULL) is a no-op. */
struct ratelimit_map *ratelimit_map_new(size_t slots);
void ratelimit_map_free(struct ratelimit_map *m);

/* ratelimit_take on key's bucket at now_us (a new key starts full). */
bool ratelimit_map_take(struct ratelimit_map *m, const char *key, const struct ratelimit_policy *p,
			int64_t now_us, int64_t *retry_after_s);

/* Keys with a bucket now (at most slots). */
size_t ratelimit_map_count(const struct ratelimit_map *m);

#endif
