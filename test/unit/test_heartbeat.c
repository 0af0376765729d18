/*
 * test_heartbeat.c - the watchdog's progress check: a thread whose stamp
 * is older than the interval is found (the first one), fresh, future and
 * retired stamps are not, the boundary is inclusive, and the registry
 * names its slots and refuses more than HEARTBEAT_MAX.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "core/clock.h"
#include "core/heartbeat.h"

static void all_fresh_is_minus_one(void **state)
{
	const int64_t at[] = { 1000, 1500, 1999 };

	(void)state;
	assert_int_equal(heartbeat_find_stale(at, 3, 2000, 1000), -1);
	assert_int_equal(heartbeat_find_stale(at, 0, 2000, 1000), -1);
}

static void the_first_stale_one_is_found(void **state)
{
	const int64_t at[] = { 1900, 500, 100, 1950 };

	(void)state;
	assert_int_equal(heartbeat_find_stale(at, 4, 2000, 1000), 1);
	/* Only the last is fresh once time moves on. */
	assert_int_equal(heartbeat_find_stale(at, 4, 2901, 1000), 0);
}

static void the_boundary_is_fresh(void **state)
{
	const int64_t at[] = { 1000 };

	(void)state;
	assert_int_equal(heartbeat_find_stale(at, 1, 2000, 1000), -1);
	assert_int_equal(heartbeat_find_stale(at, 1, 2001, 1000), 0);
}

static void future_and_retired_stamps_are_fresh(void **state)
{
	/* A stamp written between the checker's clock read and its load. */
	const int64_t at[] = { 5000, HEARTBEAT_RETIRED, 0 };

	(void)state;
	assert_int_equal(heartbeat_find_stale(at, 2, 2000, 1000), -1);
	/* A never-stamped slot (0) is stale once the clock is past the age. */
	assert_int_equal(heartbeat_find_stale(at, 3, 2000, 1000), 2);
}

static void registry_names_checks_and_retires(void **state)
{
	struct heartbeats h;
	int64_t now = clock_mono_ms(), age = -1;
	int a, b;

	(void)state;
	heartbeats_init(&h);
	a = heartbeat_register(&h, "loop");
	b = heartbeat_register(&h, "worker-0");
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);
	assert_string_equal(heartbeat_name(&h, b), "worker-0");
	assert_string_equal(heartbeat_name(&h, -1), "");
	assert_int_equal(heartbeats_check(&h, now + 100, 1000, &age), -1);
	assert_int_equal(age, 0);
	/* worker-0 wedges: only the loop keeps beating. */
	atomic_store(&h.at_ms[a], now + 5000);
	assert_int_equal(heartbeats_check(&h, now + 5000, 1000, &age), b);
	assert_true(age >= 4000);
	/* A stop retires it: no longer watched. */
	heartbeat_retire(&h, b);
	assert_int_equal(heartbeats_check(&h, now + 5000, 1000, NULL), -1);
	/* Beats on a bad slot are no-ops. */
	heartbeat_beat(&h, -1);
	heartbeat_beat(&h, HEARTBEAT_MAX);
	heartbeat_beat(NULL, 0);
}

static void registry_is_bounded(void **state)
{
	struct heartbeats h;
	char name[32];

	(void)state;
	heartbeats_init(&h);
	for (int i = 0; i < HEARTBEAT_MAX; i++) {
		snprintf(name, sizeof(name), "t-%d", i);
		assert_int_equal(heartbeat_register(&h, name), i);
	}
	assert_int_equal(heartbeat_register(&h, "one too many"), -1);
	assert_string_equal(heartbeat_name(&h, HEARTBEAT_MAX - 1), "t-95");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(all_fresh_is_minus_one),
		cmocka_unit_test(the_first_stale_one_is_found),
		cmocka_unit_test(the_boundary_is_fresh),
		cmocka_unit_test(future_and_retired_stamps_are_fresh),
		cmocka_unit_test(registry_names_checks_and_retires),
		cmocka_unit_test(registry_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
