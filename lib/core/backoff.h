/*
 * backoff.h - when to try a failed delivery again.
 *
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"): the n-th retry waits a uniformly random time in
 * [0, min(cap, base * 2^(n-1))].  A platform's Retry-After is a floor.
 */
#ifndef ADSENG_CORE_BACKOFF_H
#define ADSENG_CORE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct backoff_policy {
	int64_t base_ms;
	int64_t cap_ms;
	int64_t max_attempts;
};

/*
 * Delay before the next try after `attempts` tries have failed (attempts
 * >= 1).  rand01 is a uniform sample in [0, 1) supplied by the caller so
 * the rule is testable; retry_after_ms (< 0: none) raises the result to at
 * least that.  The result never exceeds max(cap, retry_after_ms).
 */
/* min(cap, base * 2^(n-1)) for n >= 1 (n < 1 counts as 1), without
 * overflow: the ceiling of the n-th wait.  Shared by retries and the
 * circuit breaker's cool-down. */
int64_t backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, int64_t n);

/* r clamped into [0, 1); NaN gives 0. */
double backoff_clamp01(double r);

int64_t backoff_delay_ms(const struct backoff_policy *p, int64_t attempts, double rand01,
			 int64_t retry_after_ms);

/* Whether a delivery that has failed `attempts` times has attempts left. */
bool backoff_should_retry(const struct backoff_policy *p, int64_t attempts);

/* A uniform sample in [0, 1) from libsodium's CSPRNG (thread safe). */
double backoff_rand01(void);

#endif
