/*
 * backoff.c - full-jitter exponential backoff.
 */
#include "core/backoff.h"

#include <sodium.h>

int64_t backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, int64_t n)
{
	int64_t ceiling = base_ms;

	if (n < 1)
		n = 1;
	/* Double up to the cap without overflowing: stop once past it. */
	for (int64_t i = 1; i < n && ceiling < cap_ms; i++)
		ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
	return ceiling > cap_ms ? cap_ms : ceiling;
}

double backoff_clamp01(double r)
{
	if (!(r >= 0)) /* also NaN */
		return 0;
	return r >= 1 ? 0.999999999 : r;
}

int64_t backoff_delay_ms(const struct backoff_policy *p, int64_t attempts, double rand01,
			 int64_t retry_after_ms)
{
	int64_t ceiling = backoff_ceiling_ms(p->base_ms, p->cap_ms, attempts);
	int64_t delay = (int64_t)((double)ceiling * backoff_clamp01(rand01));

	if (retry_after_ms >= 0 && delay < retry_after_ms)
		delay = retry_after_ms;
	return delay;
}

bool backoff_should_retry(const struct backoff_policy *p, int64_t attempts)
{
	return attempts < p->max_attempts;
}

double backoff_rand01(void)
{
	uint64_t r;

	randombytes_buf(&r, sizeof(r));
	return (double)(r >> 11) / (double)(1ULL << 53);
}
