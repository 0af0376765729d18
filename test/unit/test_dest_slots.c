/*
 * test_dest_slots.c - a worker's per-destination concurrency accounting
 * (pipeline/dest_slots.h): the limit holds, waiting requests leave in
 * order per destination, destinations take turns, full destinations are
 * named for the claim to skip, and a destination at its limit never holds
 * back another.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <string.h>

#include "destinations/dest.h"
#include "pipeline/dest_slots.h"

#define SLOW "11111111-1111-4111-8111-111111111111"
#define FAST "22222222-2222-4222-8222-222222222222"

static int items[64];

static void test_get_creates_once(void **state)
{
	struct dest_slots t;
	struct dest_slot *a, *b;

	(void)state;
	dest_slots_init(&t);
	a = dest_slots_get(&t, SLOW);
	b = dest_slots_get(&t, FAST);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(dest_slots_get(&t, SLOW), a);
	assert_string_equal(a->id, SLOW);
	assert_int_equal(a->limit, 1);
	assert_int_equal(a->inflight, 0);
	dest_slot_set_limit(a, 0);
	assert_int_equal(a->limit, 1); /* a limit of 0 would stall it for ever */
	dest_slots_cleanup(&t);
}

/* Started requests count against the limit until finished. */
static void test_limit(void **state)
{
	struct dest_slots t;
	struct dest_slot *s;

	(void)state;
	dest_slots_init(&t);
	s = dest_slots_get(&t, SLOW);
	dest_slot_set_limit(s, 2);
	assert_true(dest_slot_has_room(s));
	dest_slot_started(s);
	assert_true(dest_slot_has_room(s));
	dest_slot_started(s);
	assert_false(dest_slot_has_room(s));
	dest_slot_finished(s);
	assert_true(dest_slot_has_room(s));
	dest_slot_finished(s);
	dest_slot_finished(s); /* an extra finish never wraps below zero */
	assert_int_equal(s->inflight, 0);
	/* Lowering the limit under what is in flight: no room until enough
	 * answers came back. */
	dest_slot_started(s);
	dest_slot_started(s);
	dest_slot_set_limit(s, 1);
	assert_false(dest_slot_has_room(s));
	dest_slot_finished(s);
	assert_false(dest_slot_has_room(s));
	dest_slot_finished(s);
	assert_true(dest_slot_has_room(s));
	dest_slots_cleanup(&t);
}

/* A destination at its limit keeps its queue; another one's waiting
 * requests go first; its own leave in order (FIFO through ring growth). */
static void test_full_destination_does_not_block_others(void **state)
{
	struct dest_slots t;
	struct dest_slot *slow, *fast, *from = NULL;

	(void)state;
	dest_slots_init(&t);
	slow = dest_slots_get(&t, SLOW);
	fast = dest_slots_get(&t, FAST);
	dest_slot_set_limit(slow, 1);
	dest_slot_set_limit(fast, 4);
	dest_slot_started(slow);
	for (int i = 0; i < 20; i++)
		dest_slot_push(slow, &items[i]);
	dest_slot_push(fast, &items[40]);
	dest_slot_push(fast, &items[41]);
	assert_int_equal(dest_slot_queued(slow), 20);
	assert_true(dest_slots_any_ready(&t));
	assert_ptr_equal(dest_slots_pop_ready(&t, &from), &items[40]);
	assert_ptr_equal(from, fast);
	dest_slot_started(fast);
	assert_ptr_equal(dest_slots_pop_ready(&t, &from), &items[41]);
	dest_slot_started(fast);
	/* Only the slow one waits, and it is full. */
	assert_false(dest_slots_any_ready(&t));
	assert_null(dest_slots_pop_ready(&t, &from));
	/* Its answer frees one place: its requests leave one by one, oldest
	 * first. */
	for (int i = 0; i < 20; i++) {
		dest_slot_finished(slow);
		assert_ptr_equal(dest_slots_pop_ready(&t, &from), &items[i]);
		assert_ptr_equal(from, slow);
		dest_slot_started(slow);
		assert_null(dest_slots_pop_ready(&t, NULL));
	}
	assert_int_equal(dest_slot_queued(slow), 0);
	dest_slots_cleanup(&t);
}

/* Destinations with room take turns rather than the first draining. */
static void test_round_robin(void **state)
{
	struct dest_slots t;
	struct dest_slot *a, *b, *from = NULL;
	int from_a = 0, from_b = 0;

	(void)state;
	dest_slots_init(&t);
	a = dest_slots_get(&t, SLOW);
	b = dest_slots_get(&t, FAST);
	dest_slot_set_limit(a, 100);
	dest_slot_set_limit(b, 100);
	for (int i = 0; i < 4; i++) {
		dest_slot_push(a, &items[i]);
		dest_slot_push(b, &items[10 + i]);
	}
	for (int i = 0; i < 4; i++) {
		assert_non_null(dest_slots_pop_ready(&t, &from));
		from_a += from == a;
		from_b += from == b;
	}
	assert_int_equal(from_a, 2);
	assert_int_equal(from_b, 2);
	dest_slots_cleanup(&t);
}

/* Full = in flight plus waiting reaches the limit: the claim skips it. */
static void test_full_ids(void **state)
{
	struct dest_slots t;
	struct dest_slot *slow, *fast;
	const char *ids[4];

	(void)state;
	dest_slots_init(&t);
	slow = dest_slots_get(&t, SLOW);
	fast = dest_slots_get(&t, FAST);
	dest_slot_set_limit(slow, 2);
	dest_slot_set_limit(fast, 3);
	assert_int_equal(dest_slots_full_ids(&t, ids, 4), 0);
	dest_slot_started(slow);
	assert_int_equal(dest_slots_full_ids(&t, ids, 4), 0);
	dest_slot_push(slow, &items[0]);
	assert_int_equal(dest_slots_full_ids(&t, ids, 4), 1);
	assert_string_equal(ids[0], SLOW);
	dest_slot_started(fast);
	dest_slot_started(fast);
	dest_slot_started(fast);
	assert_int_equal(dest_slots_full_ids(&t, ids, 4), 2);
	assert_int_equal(dest_slots_full_ids(&t, ids, 1), 1); /* bounded by max */
	/* Skipped by the claim: once it has room, it asks for a claim, once. */
	assert_false(dest_slot_take_skipped(fast)); /* still full */
	dest_slot_finished(fast);
	assert_true(dest_slot_take_skipped(fast));
	assert_false(dest_slot_take_skipped(fast));
	/* pop_any drains regardless of room (shutdown). */
	assert_ptr_equal(dest_slots_pop_any(&t), &items[0]);
	assert_null(dest_slots_pop_any(&t));
	dest_slots_cleanup(&t);
}

/* Limits: settings.max_inflight, else the kind's default. */
static void test_dest_max_inflight(void **state)
{
	struct destination d = { 0 };

	(void)state;
	d.ops = dest_ops_find("meta_capi");
	assert_non_null(d.ops);
	d.settings = NULL;
	assert_int_equal(dest_max_inflight(&d), d.ops->default_max_inflight);
	assert_true(dest_ops_find("ga4")->default_max_inflight >
		    dest_ops_find("meta_capi")->default_max_inflight);
	assert_true(dest_ops_find("sgtm")->default_max_inflight >
		    dest_ops_find("meta_capi")->default_max_inflight);
	for (const char *const *k =
		     (const char *const[]){ "meta_capi", "tiktok", "google_ads",
					    "google_datamanager", "ga4", "sgtm", NULL };
	     *k; k++)
		assert_true(dest_ops_find(*k)->default_max_inflight >= 1);
}

static void test_prepare_max_inflight(void **state)
{
	struct err e = { 0 };
	struct cJSON *s;
	struct destination d = { 0 };
	static const char *const bad[] = { "0", "-1", "x", "", "4.5", "1001", "99999999999" };

	(void)state;
	d.ops = dest_ops_find("meta_capi");
	s = cJSON_Parse("{\"max_inflight\":\"7\"}");
	assert_int_equal(dest_prepare_common_settings(s, &e), 0);
	d.settings = s;
	assert_int_equal(dest_max_inflight(&d), 7);
	cJSON_Delete(s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "max_inflight", bad[i]);
		assert_int_not_equal(dest_prepare_common_settings(s, &e), 0);
		assert_non_null(strstr(e.msg, "--max-inflight"));
		cJSON_Delete(s);
	}
	s = cJSON_Parse("{}");
	assert_int_equal(dest_prepare_common_settings(s, &e), 0);
	cJSON_Delete(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_creates_once),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_full_destination_does_not_block_others),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_full_ids),
		cmocka_unit_test(test_dest_max_inflight),
		cmocka_unit_test(test_prepare_max_inflight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
