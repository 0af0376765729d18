/*
 * test_backoff.c - full-jitter exponential backoff: the delay stays in
 * [0, min(cap, base * 2^(n-1))], Retry-After is a floor, the attempt count
 * never overflows, and the CSPRNG sample is uniform in [0, 1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h> /* INFINITY, NAN */
#include <sodium.h>
#include <stdio.h>

#include "core/backoff.h"

/* The daemon's defaults: [retry] base 10s, cap 6h, max_attempts 20. */
static const struct backoff_policy defaults = { 10000, 6 * 3600000LL, 20 };

static int group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

/* min(cap, base * 2^(attempts-1)), doubled in long double (exact for
 * powers of two, 64-bit mantissa) so it cannot overflow. */
static int64_t ceiling_of(const struct backoff_policy *p, int64_t attempts)
{
	long double c = (long double)p->base_ms;

	for (int64_t i = 1; i < attempts && c < (long double)p->cap_ms; i++)
		c *= 2;
	return c > (long double)p->cap_ms ? p->cap_ms : (int64_t)c;
}

static long double abs_ld(long double x)
{
	return x < 0 ? -x : x;
}

static void test_range_table(void **state)
{
	static const double rands[] = { 0, 0.5, 0.999999 };
	static const struct backoff_policy policies[] = {
		{ 10000, 6 * 3600000LL, 20 },
		{ 1, 30 * 86400000LL, 1000 },
		{ 250, 1000, 5 },
		{ 7, 7, 3 },
	};

	(void)state;
	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		for (int64_t n = 1; n <= 30; n++) {
			int64_t ceil = ceiling_of(&policies[p], n);

			for (size_t r = 0; r < sizeof(rands) / sizeof(rands[0]); r++) {
				int64_t d = backoff_delay_ms(&policies[p], n, rands[r], -1);
				int64_t want = (int64_t)((long double)ceil * rands[r]);

				if (d < 0 || d > ceil)
					fail_msg("policy %zu attempt %lld rand %g: %lld not in [0, "
						 "%lld]",
						 p, (long long)n, rands[r], (long long)d,
						 (long long)ceil);
				/* truncation of ceil * rand, allowing one ms of rounding */
				if (d < want - 1 || d > want)
					fail_msg("policy %zu attempt %lld rand %g: %lld, want %lld",
						 p, (long long)n, rands[r], (long long)d,
						 (long long)want);
			}
		}
	}
}

struct exact_case {
	int64_t attempts;
	double rand01;
	int64_t retry_after_ms;
	int64_t want;
};

static const struct exact_case exact_cases[] = {
	{ 1, 0.5, -1, 5000 },
	{ 2, 0.5, -1, 10000 },
	{ 3, 0.5, -1, 20000 },
	{ 3, 0.0, -1, 0 },
	{ 3, 0.25, -1, 10000 },
	{ 12, 0.5, -1, 10240000 }, /* 10 s * 2^11 = 20480 s, under the 6 h cap */
	{ 13, 0.5, -1, 10800000 }, /* 40960 s: capped at 21600 s */
	{ 30, 0.5, -1, 10800000 },
	{ 30, 0.999999, -1, 21599978 },
	/* attempts below 1 count as 1 */
	{ 0, 0.5, -1, 5000 },
	{ -7, 0.5, -1, 5000 },
	{ INT64_MIN, 0.5, -1, 5000 },
	/* the cap holds for huge attempt counts */
	{ 1000000, 0.5, -1, 10800000 },
	{ 1000000, 0.999999, -1, 21599978 },
	{ INT64_MAX, 0.5, -1, 10800000 },
	/* Retry-After is a floor ... */
	{ 1, 0.0, 3000, 3000 },
	{ 1, 0.5, 3000, 5000 },
	{ 1, 0.5, 5000, 5000 },
	{ 1, 0.5, 0, 5000 },
	{ 1, 0.0, 0, 0 },
	/* ... even above the cap */
	{ 30, 0.5, 10 * 6 * 3600000LL, 10 * 6 * 3600000LL },
	{ 1, 0.0, 90LL * 86400000, 90LL * 86400000 },
	/* negative Retry-After means none */
	{ 1, 0.5, -1, 5000 },
	{ 1, 0.5, -5000, 5000 },
	{ 1, 0.5, INT64_MIN, 5000 },
	/* rand01 out of [0, 1) clamps */
	{ 1, -0.5, -1, 0 },
	{ 1, -1e300, -1, 0 },
	{ 1, 1.0, -1, 9999 },
	{ 1, 2.0, -1, 9999 },
	{ 1, 1e300, -1, 9999 },
	{ 3, 1.0, -1, 39999 },
};

static void test_exact_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(exact_cases) / sizeof(exact_cases[0]); i++) {
		const struct exact_case *c = &exact_cases[i];
		int64_t d = backoff_delay_ms(&defaults, c->attempts, c->rand01, c->retry_after_ms);

		if (d != c->want)
			fail_msg("case %zu: attempt %lld rand %g retry-after %lld: %lld, want %lld",
				 i, (long long)c->attempts, c->rand01, (long long)c->retry_after_ms,
				 (long long)d, (long long)c->want);
	}
}

/* Infinite and NaN samples are out of range too: the result must stay in
 * [0, ceiling] rather than become whatever (int64_t)NaN is. */
static void test_rand_non_finite(void **state)
{
	const double odd[] = { INFINITY, -INFINITY, NAN, -NAN };

	(void)state;
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		int64_t d = backoff_delay_ms(&defaults, 3, odd[i], -1);

		if (d < 0 || d > 40000)
			fail_msg("rand01 %g: %lld not in [0, 40000]", odd[i], (long long)d);
	}
}

/* A cap near INT64_MAX: doubling must stop before it overflows. */
static void test_large_cap_no_overflow(void **state)
{
	static const struct backoff_policy policies[] = {
		{ 1, INT64_MAX, 1000 },
		{ INT64_MAX / 2 + 1, INT64_MAX, 1000 },
		{ INT64_MAX / 3, INT64_MAX - 1, 1000 },
		{ INT64_MAX, INT64_MAX, 1000 },
	};
	static const int64_t attempts[] = { 1, 2, 3, 62, 63, 64, 65, 100, 1000000, INT64_MAX };

	(void)state;
	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		for (size_t a = 0; a < sizeof(attempts) / sizeof(attempts[0]); a++) {
			int64_t d = backoff_delay_ms(&policies[p], attempts[a], 0.5, -1);
			int64_t ceil = ceiling_of(&policies[p], attempts[a]);

			/* half the ceiling, give or take double rounding */
			if (d < 0 || d > policies[p].cap_ms ||
			    abs_ld((long double)d - (long double)ceil / 2) >
				    1 + (long double)ceil * 1e-9L)
				fail_msg("policy %zu attempt %lld: %lld, want about %lld", p,
					 (long long)attempts[a], (long long)d,
					 (long long)(ceil / 2));
		}
	}
}

/* The delay never decreases with the attempt count (same sample). */
static void test_monotonic(void **state)
{
	(void)state;
	for (int r = 0; r < 10; r++) {
		double rand01 = r / 10.0;
		int64_t prev = 0;

		for (int64_t n = 1; n <= 64; n++) {
			int64_t d = backoff_delay_ms(&defaults, n, rand01, -1);

			if (d < prev)
				fail_msg("rand %g: attempt %lld gives %lld < %lld", rand01,
					 (long long)n, (long long)d, (long long)prev);
			prev = d;
		}
	}
}

static void test_should_retry(void **state)
{
	static const struct {
		int64_t max_attempts, attempts;
		bool want;
	} cases[] = {
		{ 20, 0, true },     { 20, 1, true },	    { 20, 19, true }, { 20, 20, false },
		{ 20, 21, false },   { 20, 1000, false },   { 1, 0, true },   { 1, 1, false },
		{ 1000, 999, true }, { 1000, 1000, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct backoff_policy p = { 10000, 21600000, cases[i].max_attempts };

		if (backoff_should_retry(&p, cases[i].attempts) != cases[i].want)
			fail_msg("max_attempts %lld, %lld failed: want %s",
				 (long long)cases[i].max_attempts, (long long)cases[i].attempts,
				 cases[i].want ? "retry" : "give up");
	}
}

static void test_rand01(void **state)
{
	const int n = 10000;
	double sum = 0, lo = 1, hi = 0;
	int below_half = 0;

	(void)state;
	for (int i = 0; i < n; i++) {
		double r = backoff_rand01();

		if (!(r >= 0.0 && r < 1.0))
			fail_msg("sample %d: %.17g not in [0, 1)", i, r);
		sum += r;
		below_half += r < 0.5;
		if (r < lo)
			lo = r;
		if (r > hi)
			hi = r;
	}
	/* The mean of 10 000 uniform samples has a standard deviation of
	 * 0.0029; 0.02 is about seven of them. */
	assert_true(sum / n > 0.48 && sum / n < 0.52);
	assert_true(below_half > 4500 && below_half < 5500);
	assert_true(lo < 0.01);
	assert_true(hi > 0.99);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_table),
		cmocka_unit_test(test_exact_values),
		cmocka_unit_test(test_rand_non_finite),
		cmocka_unit_test(test_large_cap_no_overflow),
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_should_retry),
		cmocka_unit_test(test_rand01),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
