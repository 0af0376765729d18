/*
 * ratelimit.h - a token bucket, as pure arithmetic over a small struct.
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens a second,
 * fractions included; a request takes one whole token or is refused with
 * the whole seconds until one is there (a Retry-After).  The caller owns
 * the bucket, passes the time (monotonic microseconds) and the limits on
 * every call, so limits can change between calls (a config reload) and
 * the same code serves any key: a source on ingest, a token on the admin
 * API.  No clock, no locks, no allocation here; a bucket is touched by one
 * thread at a time (its owner's).
 */
#ifndef ADSENG_CORE_RATELIMIT_H
#define ADSENG_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct ratelimit_bucket {
	double tokens;	 /* available now, 0..burst */
	int64_t last_us; /* monotonic time of the last refill */
	double burst;	 /* the burst it was last refilled under; 0 = not known */
};

/* The limits of one bucket: rate tokens per second, at most burst stored.
 * A rate of 0 means no limit. */
struct ratelimit_policy {
	double rate;
	double burst;
};

/* A full bucket (a new key starts with its whole burst) as of now_us. */
void ratelimit_init(struct ratelimit_bucket *b, const struct ratelimit_policy *p, int64_t now_us);

/*
 * Refill b for the time since its last call (none when the clock did not
 * move or went back), then take one token.  When p->burst grew since the
 * last call (a raised limit), the growth is added at once, so a raised
 * limit applies now rather than after a refill at the old pace; a shrunk
 * burst caps what is stored.  True when taken; false when
 * the bucket is short, with *retry_after_s (may be NULL) set to the whole
 * seconds until a token is there, at least 1.  A refused request takes
 * nothing.  Always true when p->rate is 0 (unlimited), which keeps the
 * bucket full.
 */
bool ratelimit_take(struct ratelimit_bucket *b, const struct ratelimit_policy *p, int64_t now_us,
		    int64_t *retry_after_s);

/* The whole seconds (>= 1) until b, refilled at p->rate, holds one token;
 * 1 when it already does or the rate is 0. */
int64_t ratelimit_retry_after_s(const struct ratelimit_bucket *b, const struct ratelimit_policy *p);

/*
 * Parse "RATE" or "RATE/BURST" (whole numbers, RATE 1..1000000, BURST
 * 1..10000000; BURST defaults to max(RATE, 1) * 4) into *rate and *burst.
 * 0 or ERR_INVALID with a message naming the text.
 */
int ratelimit_parse_spec(const char *s, int64_t *rate, int64_t *burst, struct err *e) WUR;

#endif
