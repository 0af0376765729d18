/*
 * test_ratelimit.c - token bucket arithmetic: a new bucket holds its
 * burst, refill by elapsed time in fractions, the cap at the burst (also
 * after a reload shrank it; full again after no limit; a raised burst
 * adds its growth at once), Retry-After rounded up to whole seconds and
 * never below 1, a clock that stands still or goes back earns nothing,
 * rate 0 is no limit, and the RATE[/BURST] spec parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ratelimit.h"

#define T0  1000000000LL /* monotonic µs */
#define SEC 1000000LL

static void test_burst_then_refused(void **state)
{
	struct ratelimit_policy p = { 1, 3 };
	struct ratelimit_bucket b;
	int64_t ra = -1;

	(void)state;
	ratelimit_init(&b, &p, T0);
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(&b, &p, T0, &ra));
	assert_false(ratelimit_take(&b, &p, T0, &ra));
	assert_int_equal(ra, 1);
	/* A refusal takes nothing: still refused, still 1 s. */
	assert_false(ratelimit_take(&b, &p, T0, &ra));
	assert_int_equal(ra, 1);
}

static void test_refill_fractions(void **state)
{
	struct ratelimit_policy p = { 2, 2 };
	struct ratelimit_bucket b;
	int64_t ra = 0;

	(void)state;
	ratelimit_init(&b, &p, T0);
	assert_true(ratelimit_take(&b, &p, T0, &ra));
	assert_true(ratelimit_take(&b, &p, T0, &ra));
	assert_false(ratelimit_take(&b, &p, T0 + SEC / 4, &ra)); /* 0.5 token */
	assert_int_equal(ra, 1);
	assert_true(ratelimit_take(&b, &p, T0 + SEC / 2, &ra)); /* 1.0 token */
	assert_false(ratelimit_take(&b, &p, T0 + SEC / 2, &ra));
	/* Two quarter seconds add up to one token. */
	assert_false(ratelimit_take(&b, &p, T0 + SEC / 2 + SEC / 4, &ra));
	assert_true(ratelimit_take(&b, &p, T0 + SEC, &ra));
}

static void test_burst_cap(void **state)
{
	struct ratelimit_policy p = { 10, 5 }, small = { 10, 2 };
	struct ratelimit_bucket b;
	int n = 0;

	(void)state;
	ratelimit_init(&b, &p, T0);
	/* An hour idle still gives only the burst. */
	while (ratelimit_take(&b, &p, T0 + 3600 * SEC, NULL))
		n++;
	assert_int_equal(n, 5);
	/* A reload that shrinks the burst caps what is stored. */
	n = 0;
	while (ratelimit_take(&b, &small, T0 + 7200 * SEC, NULL))
		n++;
	assert_int_equal(n, 2);
}

static void test_raised_burst(void **state)
{
	struct ratelimit_policy p = { 1, 2 }, big = { 50, 200 };
	struct ratelimit_bucket b;
	int n = 0;

	(void)state;
	ratelimit_init(&b, &p, T0);
	while (ratelimit_take(&b, &p, T0, NULL))
		n++;
	assert_int_equal(n, 2);
	/* Raised to 50/200 with the bucket empty: the 198 extra are there at
	 * once, not after four seconds at 50/s. */
	n = 0;
	while (ratelimit_take(&b, &big, T0, NULL))
		n++;
	assert_int_equal(n, 198);
	/* Lowered, then raised: the growth again, nothing more. */
	assert_false(ratelimit_take(&b, &p, T0, NULL));
	n = 0;
	while (ratelimit_take(&b, &big, T0, NULL))
		n++;
	assert_int_equal(n, 198);
}

static void test_retry_after(void **state)
{
	struct ratelimit_policy slow = { 0.1, 1 }, fast = { 1000, 1 }, none = { 0, 1 };
	struct ratelimit_bucket b = { 0, T0, 0 };
	int64_t ra = 0;

	(void)state;
	/* 1 token at 0.1/s: 10 s. */
	assert_false(ratelimit_take(&b, &slow, T0, &ra));
	assert_int_equal(ra, 10);
	/* 0.95 of a token: 0.5 s, rounded up to 1. */
	b.tokens = 0.95;
	assert_int_equal(ratelimit_retry_after_s(&b, &slow), 1);
	b.tokens = 0.05;
	assert_int_equal(ratelimit_retry_after_s(&b, &slow), 10);
	/* A millisecond away is still 1 s. */
	b.tokens = 0;
	assert_int_equal(ratelimit_retry_after_s(&b, &fast), 1);
	/* A full bucket or no limit: 1. */
	b.tokens = 1;
	assert_int_equal(ratelimit_retry_after_s(&b, &slow), 1);
	b.tokens = 0;
	assert_int_equal(ratelimit_retry_after_s(&b, &none), 1);
	/* Capped at a day. */
	slow.rate = 1e-9;
	assert_int_equal(ratelimit_retry_after_s(&b, &slow), 86400);
}

static void test_clock_still_or_back(void **state)
{
	struct ratelimit_policy p = { 1, 1 };
	struct ratelimit_bucket b;
	int64_t ra = 0;

	(void)state;
	ratelimit_init(&b, &p, T0);
	assert_true(ratelimit_take(&b, &p, T0, &ra));
	/* Standing still, and going back, earn nothing... */
	assert_false(ratelimit_take(&b, &p, T0, &ra));
	assert_false(ratelimit_take(&b, &p, T0 - 10 * SEC, &ra));
	assert_int_equal(ra, 1);
	assert_int_equal(b.last_us, T0);
	/* ...and do not move the start back (no double credit). */
	assert_false(ratelimit_take(&b, &p, T0 + SEC / 2, &ra));
	assert_true(ratelimit_take(&b, &p, T0 + SEC, &ra));
	assert_false(ratelimit_take(&b, &p, T0 + SEC, &ra));
}

static void test_unlimited(void **state)
{
	struct ratelimit_policy p = { 0, 5 };
	struct ratelimit_bucket b = { 0, T0, 0 }; /* empty when the limit went */

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_true(ratelimit_take(&b, &p, T0, NULL));
	/* Limited again (a reload): the whole (new) burst, at once. */
	p.rate = 1;
	p.burst = 3;
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(&b, &p, T0, NULL));
	assert_false(ratelimit_take(&b, &p, T0, NULL));
}

static void test_parse_spec(void **state)
{
	static const char *const bad[] = { "",	  "0",	  "-1", "1/",	"1/0",	   "/3",	"a",
					   "1.5", "1/3x", " 1", "1 /3", "2000000", "1/99999999" };
	int64_t r = 0, b = 0;

	(void)state;
	assert_int_equal(ratelimit_parse_spec("1/3", &r, &b, NULL), 0);
	assert_int_equal(r, 1);
	assert_int_equal(b, 3);
	assert_int_equal(ratelimit_parse_spec("50", &r, &b, NULL), 0);
	assert_int_equal(r, 50);
	assert_int_equal(b, 200);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(ratelimit_parse_spec(bad[i], &r, &b, NULL), 0);
	assert_int_not_equal(ratelimit_parse_spec(NULL, &r, &b, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refused),
		cmocka_unit_test(test_refill_fractions),
		cmocka_unit_test(test_burst_cap),
		cmocka_unit_test(test_raised_burst),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_clock_still_or_back),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_parse_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
