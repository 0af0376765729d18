/*
 * fuzz_ratelimit.c - libFuzzer target: arbitrary bytes as a --rate-limit
 * spec (RATE[/BURST]), and the bucket driven by the parsed limits over
 * times taken from the input (forward, still, backward).  A spec that
 * parses must be in range; the bucket must stay within 0..burst and every
 * Retry-After within 1..86400.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ratelimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drive(const struct ratelimit_policy *p, const uint8_t *data, size_t size)
{
	struct ratelimit_bucket b;
	int64_t now = 1000000000LL, ra;

	ratelimit_init(&b, p, now);
	for (size_t i = 0; i < size; i++) {
		/* Each byte moves the clock by -64..+63 ms. */
		now += ((int64_t)data[i] - 64) * 1000;
		ra = 0;
		if (!ratelimit_take(&b, p, now, &ra) && (ra < 1 || ra > 86400))
			abort();
		if (!(b.tokens >= 0) || b.tokens > p->burst)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t rate, burst;
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (ratelimit_parse_spec(s, &rate, &burst, NULL) == 0) {
		if (rate < 1 || rate > 1000000 || burst < 1 || burst > 10000000)
			abort();
		drive(&(struct ratelimit_policy){ (double)rate, (double)burst }, data, size);
	}
	drive(&(struct ratelimit_policy){ 1, 3 }, data, size);
	free(s);
	return 0;
}
