/*
 * test_breaker.c - the circuit breaker's rules: what counts as a failure,
 * N consecutive failures open it, a success in between resets the count,
 * the failure that opens it and failures while open are absorbed (no
 * attempt spent), a Retry-After opens it at once for as long as asked, the
 * probe's outcome closes or reopens it with a longer cool-down, and the
 * cool-down stays within [ceiling/2, ceiling] of min(cap, base * 2^(n-1));
 * held deliveries wait for the probe, a failed probe's go to the back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h> /* NAN */
#include <string.h>

#include "core/breaker.h"

/* [breaker] failures 3, cooldown 5s, cooldown_cap 1m. */
static const struct breaker_policy pol = { 3, 5000, 60000 };

#define T0 1700000000000LL

static void test_what_is_a_failure(void **state)
{
	static const struct {
		bool transport;
		long status;
		bool failure;
	} cases[] = {
		{ true, 0, true },     { false, 500, true },  { false, 502, true },
		{ false, 503, true },  { false, 599, true },  { false, 429, true },
		{ false, 200, false }, { false, 400, false }, { false, 401, false },
		{ false, 403, false }, { false, 404, false }, { false, 408, false },
		{ false, 600, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(breaker_is_failure(cases[i].transport, cases[i].status),
				 cases[i].failure);
}

static void test_cooldown_range(void **state)
{
	static const double rands[] = { 0, 0.25, 0.5, 0.999999, 1.0, -1, NAN };

	(void)state;
	for (int32_t n = 1; n <= 40; n++) {
		int64_t ceil = 5000;

		for (int32_t i = 1; i < n && ceil < 60000; i++)
			ceil *= 2;
		if (ceil > 60000)
			ceil = 60000;
		for (size_t r = 0; r < sizeof(rands) / sizeof(rands[0]); r++) {
			int64_t d = breaker_cooldown_ms(&pol, n, rands[r]);

			assert_true(d >= ceil / 2);
			assert_true(d <= ceil);
		}
	}
	/* Exact points: half at 0, the whole doubled ceiling near 1. */
	assert_int_equal(breaker_cooldown_ms(&pol, 1, 0), 2500);
	assert_int_equal(breaker_cooldown_ms(&pol, 2, 0), 5000);
	assert_int_equal(breaker_cooldown_ms(&pol, 2, 0.5), 7500);
	assert_int_equal(breaker_cooldown_ms(&pol, 0, 0), 2500); /* taken as the first */
	assert_int_equal(breaker_cooldown_ms(&pol, 1000, 0), 30000);
	assert_int_equal(breaker_cooldown_ms(&pol, INT32_MAX, 0), 30000);
}

static void test_opens_after_n_consecutive_failures(void **state)
{
	struct breaker b = { 0 };
	struct breaker_verdict v;

	(void)state;
	v = breaker_on_failure(&b, &pol, T0, -1, 0);
	assert_int_equal(v.change, BREAKER_COUNTED);
	assert_false(v.absorb); /* an ordinary failed attempt */
	assert_false(breaker_blocks(&b));
	v = breaker_on_failure(&b, &pol, T0 + 10, -1, 0);
	assert_int_equal(v.change, BREAKER_COUNTED);
	assert_false(v.absorb);
	assert_int_equal(b.failures, 2);
	v = breaker_on_failure(&b, &pol, T0 + 20, -1, 0);
	assert_int_equal(v.change, BREAKER_OPENED);
	assert_true(v.absorb); /* the destination's fault from here on */
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.opens, 1);
	assert_int_equal(b.retry_at_ms, T0 + 20 + 2500);
	assert_true(breaker_blocks(&b));
	assert_false(breaker_probe_due(&b, T0 + 20 + 2499));
	assert_true(breaker_probe_due(&b, T0 + 20 + 2500));
}

static void test_success_resets_the_count(void **state)
{
	struct breaker b = { 0 };
	struct breaker_verdict v;

	(void)state;
	v = breaker_on_success(&b);
	assert_int_equal(v.change, BREAKER_SAME); /* nothing to write */
	(void)breaker_on_failure(&b, &pol, T0, -1, 0);
	(void)breaker_on_failure(&b, &pol, T0, -1, 0);
	v = breaker_on_success(&b);
	assert_int_equal(v.change, BREAKER_COUNTED);
	assert_int_equal(b.failures, 0);
	v = breaker_on_failure(&b, &pol, T0, -1, 0);
	assert_int_equal(v.change, BREAKER_COUNTED);
	assert_int_equal(b.state, BREAKER_CLOSED);
}

static void test_failures_while_open_are_absorbed(void **state)
{
	struct breaker b = { 0 };
	struct breaker_verdict v;
	int64_t until;

	(void)state;
	for (int i = 0; i < 3; i++)
		(void)breaker_on_failure(&b, &pol, T0, -1, 0.5);
	until = b.retry_at_ms;
	/* Requests sent before it opened come back failed. */
	v = breaker_on_failure(&b, &pol, T0 + 100, -1, 0.5);
	assert_int_equal(v.change, BREAKER_SAME);
	assert_true(v.absorb);
	assert_int_equal(b.retry_at_ms, until);
	/* …or succeeded: only the probe may close it. */
	v = breaker_on_success(&b);
	assert_int_equal(v.change, BREAKER_SAME);
	assert_int_equal(b.state, BREAKER_OPEN);
	/* A longer Retry-After pushes the probe back; a shorter one does not. */
	v = breaker_on_failure(&b, &pol, T0 + 100, 1000, 0.5);
	assert_int_equal(v.change, BREAKER_SAME);
	v = breaker_on_failure(&b, &pol, T0 + 100, 30000, 0.5);
	assert_int_equal(v.change, BREAKER_EXTENDED);
	assert_true(v.absorb);
	assert_int_equal(b.retry_at_ms, T0 + 100 + 30000);
}

static void test_retry_after_opens_at_once(void **state)
{
	struct breaker b = { 0 };
	struct breaker_verdict v;

	(void)state;
	v = breaker_on_failure(&b, &pol, T0, 7000, 0.9);
	assert_int_equal(v.change, BREAKER_OPENED);
	assert_true(v.absorb);
	/* For as long as asked, not the cool-down. */
	assert_int_equal(b.retry_at_ms, T0 + 7000);
	assert_true(breaker_blocks(&b));
	/* Retry-After: 0 is no pause. */
	memset(&b, 0, sizeof(b));
	v = breaker_on_failure(&b, &pol, T0, 0, 0.9);
	assert_int_equal(v.change, BREAKER_COUNTED);
	/* When the count opens it too, the longer of the two. */
	memset(&b, 0, sizeof(b));
	b.failures = 2;
	v = breaker_on_failure(&b, &pol, T0, 1000, 0);
	assert_int_equal(v.change, BREAKER_OPENED);
	assert_int_equal(b.retry_at_ms, T0 + 2500);
}

static void test_probe_closes_or_reopens_longer(void **state)
{
	struct breaker b = { 0 };
	struct breaker_verdict v;

	(void)state;
	for (int i = 0; i < 3; i++)
		(void)breaker_on_failure(&b, &pol, T0, -1, 0);
	/* What the probe claim does in SQL. */
	b.state = BREAKER_HALF_OPEN;
	b.retry_at_ms = 0;
	b.probe_until_ms = T0 + 120000;
	assert_true(breaker_blocks(&b)); /* nobody else claims meanwhile */
	assert_false(breaker_probe_due(&b, T0 + 119999));
	assert_true(breaker_probe_due(&b, T0 + 120000)); /* its worker died */
	v = breaker_on_failure(&b, &pol, T0 + 5000, -1, 0);
	assert_int_equal(v.change, BREAKER_REOPENED);
	assert_true(v.absorb);
	assert_int_equal(b.opens, 2);
	assert_int_equal(b.retry_at_ms, T0 + 5000 + 5000); /* doubled: 10s/2 */
	assert_int_equal(b.probe_until_ms, 0);
	/* A Retry-After longer than the cool-down wins. */
	b.state = BREAKER_HALF_OPEN;
	v = breaker_on_failure(&b, &pol, T0 + 20000, 45000, 0);
	assert_int_equal(v.change, BREAKER_REOPENED);
	assert_int_equal(b.retry_at_ms, T0 + 20000 + 45000);
	/* The probe succeeds: closed, counts forgotten. */
	b.state = BREAKER_HALF_OPEN;
	v = breaker_on_success(&b);
	assert_int_equal(v.change, BREAKER_CLOSED_NOW);
	assert_false(v.absorb);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(b.failures, 0);
	assert_int_equal(b.opens, 0);
	assert_int_equal(b.retry_at_ms, 0);
	assert_false(breaker_blocks(&b));
	assert_false(breaker_probe_due(&b, T0 + 999999));
	/* Next time it opens, the cool-down starts small again. */
	for (int i = 0; i < 3; i++)
		(void)breaker_on_failure(&b, &pol, T0, -1, 0);
	assert_int_equal(b.retry_at_ms, T0 + 2500);
}

static void test_hold_until_the_probe_or_to_the_back(void **state)
{
	struct breaker b = { BREAKER_OPEN, 3, 1, T0 + 4000, 0 };

	(void)state;
	assert_int_equal(breaker_park_ms(&pol), 600000); /* ten caps */
	/* Until the probe may go, spread over a second. */
	assert_int_equal(breaker_hold_ms(&b, &pol, BREAKER_OPENED, T0, 0), 4000);
	assert_int_equal(breaker_hold_ms(&b, &pol, BREAKER_SAME, T0, 0.5), 4500);
	assert_int_equal(breaker_hold_ms(&b, &pol, BREAKER_EXTENDED, T0 + 1000, 0.999), 3999);
	assert_int_equal(breaker_hold_ms(&b, &pol, BREAKER_SAME, T0, NAN), 4000);
	/* Past the probe time, or half-open: due now (the claim still skips
	 * it until the breaker closes). */
	assert_int_equal(breaker_hold_ms(&b, &pol, BREAKER_SAME, T0 + 9000, 0), 0);
	b.state = BREAKER_HALF_OPEN;
	assert_int_equal(breaker_hold_ms(&b, &pol, BREAKER_SAME, T0, 0.25), 250);
	/* A failed probe's deliveries go behind the backlog set aside. */
	b.state = BREAKER_OPEN;
	assert_int_equal(breaker_hold_ms(&b, &pol, BREAKER_REOPENED, T0, 0), 600000);
	assert_int_equal(breaker_hold_ms(&b, &pol, BREAKER_REOPENED, T0, 0.5), 600500);
}

static void test_state_names(void **state)
{
	enum breaker_state s;

	(void)state;
	for (int i = BREAKER_CLOSED; i <= BREAKER_HALF_OPEN; i++) {
		assert_int_equal(breaker_state_parse(breaker_state_name(i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
	assert_int_equal(breaker_state_parse("ajar", &s), -1);
	assert_int_equal(breaker_state_parse(NULL, &s), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_what_is_a_failure),
		cmocka_unit_test(test_cooldown_range),
		cmocka_unit_test(test_opens_after_n_consecutive_failures),
		cmocka_unit_test(test_success_resets_the_count),
		cmocka_unit_test(test_failures_while_open_are_absorbed),
		cmocka_unit_test(test_retry_after_opens_at_once),
		cmocka_unit_test(test_probe_closes_or_reopens_longer),
		cmocka_unit_test(test_hold_until_the_probe_or_to_the_back),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
