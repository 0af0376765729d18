/*
 * backoff.c - full-jitter exponential backoff.
 */
#include "core/backoff.h"

#include <sodium.h>

int64_t backoff_delay_ms(const struct backoff_policy *p, int64_t attempts, double rand01,
			 int64_t retry_after_ms)
{
	int64_t ceiling = p->base_ms;
	int64_t delay;

	if (attempts < 1)
		attempts = 1;
	/* Double up to the cap without overflowing: stop once past it. */
	for (int64_t i = 1; i < attempts && ceiling < p->cap_ms; i++)
		ceiling = ceiling > p->cap_ms / 2 ? p->cap_ms : ceiling * 2;
	if (ceiling > p->cap_ms)
		ceiling = p->cap_ms;
	if (!(rand01 >= 0)) /* also NaN */
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999999;
	delay = (int64_t)((double)ceiling * rand01);
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
