/*
 * test_ratelimit_map.c - the bounded bucket table (core/ratelimit_map.h):
 * keys have their own buckets, a key keeps its (empty) bucket while it is
 * in use, the table never holds more than its slots however many keys
 * come, the stalest key of a full probe window is the one evicted (and
 * starts full again), and a long key is cut, not overflowed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ratelimit_map.h"

#include <stdio.h>
#include <string.h>

#define T0  1000000000LL
#define SEC 1000000LL

static const struct ratelimit_policy one_per_s = { 1, 2 };

static void test_keys_apart(void **state)
{
	struct ratelimit_map *m = ratelimit_map_new(64);
	int64_t ra = 0;

	(void)state;
	assert_true(ratelimit_map_take(m, "0|alice", &one_per_s, T0, &ra));
	assert_true(ratelimit_map_take(m, "0|alice", &one_per_s, T0, &ra));
	assert_false(ratelimit_map_take(m, "0|alice", &one_per_s, T0, &ra));
	assert_int_equal(ra, 1);
	/* another key, another bucket; alice still empty */
	assert_true(ratelimit_map_take(m, "0|bob", &one_per_s, T0, &ra));
	assert_false(ratelimit_map_take(m, "0|alice", &one_per_s, T0, &ra));
	/* a second later alice has one again */
	assert_true(ratelimit_map_take(m, "0|alice", &one_per_s, T0 + SEC, &ra));
	assert_int_equal(ratelimit_map_count(m), 2);
	ratelimit_map_free(m);
	ratelimit_map_free(NULL);
}

static void test_bounded(void **state)
{
	struct ratelimit_map *m = ratelimit_map_new(16);
	char key[32];
	int64_t ra;

	(void)state;
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "%d|k", i);
		assert_true(ratelimit_map_take(m, key, &one_per_s, T0 + i, &ra));
	}
	assert_true(ratelimit_map_count(m) <= 16);
	ratelimit_map_free(m);
}

static void test_evicts_stalest(void **state)
{
	/* A table of exactly one probe window: every key competes. */
	struct ratelimit_map *m = ratelimit_map_new(RATELIMIT_MAP_PROBE);
	char key[32];
	int64_t ra;

	(void)state;
	/* "busy" is emptied and stays in use (seen last) */
	assert_true(ratelimit_map_take(m, "busy", &one_per_s, T0, &ra));
	assert_true(ratelimit_map_take(m, "busy", &one_per_s, T0, &ra));
	for (int i = 0; i < RATELIMIT_MAP_PROBE - 1; i++) {
		snprintf(key, sizeof(key), "idle%d", i);
		assert_true(ratelimit_map_take(m, key, &one_per_s, T0 + 1 + i, &ra));
	}
	assert_int_equal(ratelimit_map_count(m), RATELIMIT_MAP_PROBE);
	assert_false(ratelimit_map_take(m, "busy", &one_per_s, T0 + 100, &ra));
	/* a newcomer evicts the stalest (idle0), never busy: busy stays empty */
	assert_true(ratelimit_map_take(m, "new", &one_per_s, T0 + 200, &ra));
	assert_false(ratelimit_map_take(m, "busy", &one_per_s, T0 + 300, &ra));
	assert_int_equal(ratelimit_map_count(m), RATELIMIT_MAP_PROBE);
	ratelimit_map_free(m);
}

static void test_long_key(void **state)
{
	struct ratelimit_map *m = ratelimit_map_new(32);
	char key[1000];
	int64_t ra;

	(void)state;
	memset(key, 'x', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_true(ratelimit_map_take(m, key, &one_per_s, T0, &ra));
	assert_true(ratelimit_map_take(m, key, &one_per_s, T0, &ra));
	assert_false(ratelimit_map_take(m, key, &one_per_s, T0, &ra));
	ratelimit_map_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_apart),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_evicts_stalest),
		cmocka_unit_test(test_long_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
