/*
 * ratelimit.c - token bucket arithmetic (see ratelimit.h).  Tokens are
 * doubles so a slow rate (1/s) refills by fractions between requests
 * arriving milliseconds apart; the bucket is capped at its burst, also
 * when the burst shrank since the last call (a reload).
 */
#include "core/ratelimit.h"

#include <errno.h>
#include <stdlib.h>

#define RATE_MAX  1000000
#define BURST_MAX 10000000

static double cap_burst(const struct ratelimit_policy *p)
{
	return p->burst >= 1 ? p->burst : 1;
}

void ratelimit_init(struct ratelimit_bucket *b, const struct ratelimit_policy *p, int64_t now_us)
{
	b->tokens = cap_burst(p);
	b->last_us = now_us;
	b->burst = cap_burst(p);
}

/* Add the tokens earned since b->last_us.  A clock that stood still or
 * went back earns nothing and does not move last_us back (the time is
 * earned once, when the clock passes it again). */
static void refill(struct ratelimit_bucket *b, const struct ratelimit_policy *p, int64_t now_us)
{
	double burst = cap_burst(p);

	/* A bigger bucket is handed over with its extra room filled: an
	 * operator who raises a limit expects it to hold at once. */
	if (b->burst > 0 && burst > b->burst)
		b->tokens += burst - b->burst;
	b->burst = burst;
	if (now_us > b->last_us) {
		b->tokens += (double)(now_us - b->last_us) / 1e6 * p->rate;
		b->last_us = now_us;
	}
	if (b->tokens > burst)
		b->tokens = burst;
	if (!(b->tokens >= 0)) /* also NaN */
		b->tokens = 0;
}

int64_t ratelimit_retry_after_s(const struct ratelimit_bucket *b, const struct ratelimit_policy *p)
{
	double missing = 1.0 - b->tokens, s;
	int64_t whole;

	if (!(p->rate > 0) || !(missing > 0))
		return 1;
	s = missing / p->rate;
	if (!(s < 86400)) /* a day at most; also NaN */
		return 86400;
	whole = (int64_t)s; /* rounded up below, without libm */
	if ((double)whole < s)
		whole++;
	return whole < 1 ? 1 : whole;
}

bool ratelimit_take(struct ratelimit_bucket *b, const struct ratelimit_policy *p, int64_t now_us,
		    int64_t *retry_after_s)
{
	/* No limit: the bucket stays full, so a limit switched back on (a
	 * reload) starts with the whole burst, not with what was left. */
	if (!(p->rate > 0)) {
		ratelimit_init(b, p, now_us > b->last_us ? now_us : b->last_us);
		return true;
	}
	refill(b, p, now_us);
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return true;
	}
	if (retry_after_s)
		*retry_after_s = ratelimit_retry_after_s(b, p);
	return false;
}

/* A whole number in [lo, hi] from s up to *end; false if none. */
static bool parse_num(const char *s, char **end, long long lo, long long hi, long long *out)
{
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoll(s, end, 10);
	return errno == 0 && *out >= lo && *out <= hi;
}

int ratelimit_parse_spec(const char *s, int64_t *rate, int64_t *burst, struct err *e)
{
	long long r, b;
	char *end;

	if (s == NULL || !parse_num(s, &end, 1, RATE_MAX, &r))
		goto bad;
	if (*end == '\0') {
		b = r * 4;
	} else if (*end != '/' || !parse_num(end + 1, &end, 1, BURST_MAX, &b) || *end != '\0') {
		goto bad;
	}
	*rate = r;
	*burst = b;
	return 0;
bad:
	return err_set(e, ERR_INVALID,
		       "invalid rate limit \"%s\": RATE or RATE/BURST, whole numbers "
		       "(RATE 1..%d per second, BURST 1..%d)",
		       s ? s : "", RATE_MAX, BURST_MAX);
}
