/*
 * test_shopify_adjust.c - the changes the Shopify source reports
 * (source_ops.adjust): orders/updated as the order's new total,
 * refunds/create as the money returned (full and partial refunds, failed
 * transactions left out, several transactions summed), and bodies that
 * are unusable.  The refund fixtures follow the Refund resource as Shopify
 * documents it (https://shopify.dev/docs/api/admin-rest/latest/resources/refund:
 * order_id, transactions[] with kind, status, amount, currency); the order
 * update is the order fixture with a new total and updated_at.  Expected
 * times are from `date -d`, not from the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "sources/source.h"
#include "testutil.h"

extern const struct source_ops shopify_source_ops;

#define RECEIVED_US 1800000000000000LL
#define REFUND_US   1795875302000000LL /* 2026-11-28T09:15:02-05:00 */
#define PARTIAL_US  1795878001000000LL /* 2026-11-28T10:00:01-05:00 */
#define UPDATED_US  1795786200000000LL /* 2026-11-27T08:30:00-05:00 */
#define ORDER_EVENT "shopify:order:5551234567890"

static int adjust(const char *topic, const char *body, size_t len, struct source_adjust_list *out,
		  struct err *e)
{
	struct raw_event ev = { .id = 7,
				.source_id = "00000000-0000-0000-0000-000000000001",
				.topic = topic,
				.body = (const uint8_t *)body,
				.body_len = len,
				.received_us = RECEIVED_US };

	source_adjust_list_init(out);
	return shopify_source_ops.adjust(&ev, out, e);
}

/* The one change body reports under topic (checked; free with the list). */
static const struct source_adjustment *adjust_one(const char *topic, const char *body,
						  struct source_adjust_list *l)
{
	struct err e = { 0 };

	if (adjust(topic, body, strlen(body), l, &e) != 0)
		fail_msg("adjust %s: %s", topic, e.msg);
	assert_int_equal(l->n, 1);
	return &l->v[0];
}

static void test_full_refund_fixture(void **state)
{
	size_t len;
	char *body = test_read_fixture("shopify_refunds_create.json", &len);
	struct source_adjust_list l;
	const struct source_adjustment *a;

	(void)state;
	a = adjust_one("refunds/create", body, &l);
	assert_int_equal(a->op, SOURCE_ADJUST_REFUND);
	assert_string_equal(a->event_id, ORDER_EVENT);
	/* The whole order total of the order fixture: stage 1 retracts. */
	assert_string_equal(a->amount, "129.90");
	assert_string_equal(a->currency, "USD");
	assert_string_equal(a->key, "shopify:refund:890123456789");
	assert_string_equal(a->reason, "refund: customer returned everything");
	assert_int_equal(a->occurred_us, REFUND_US);
	source_adjust_list_cleanup(&l);
	free(body);
}

static void test_partial_refund_fixture(void **state)
{
	size_t len;
	char *body = test_read_fixture("shopify_refunds_create_partial.json", &len);
	struct source_adjust_list l;
	const struct source_adjustment *a;

	(void)state;
	a = adjust_one("refunds/create", body, &l);
	assert_int_equal(a->op, SOURCE_ADJUST_REFUND);
	assert_string_equal(a->event_id, ORDER_EVENT);
	/* The failed transaction returned nothing. */
	assert_string_equal(a->amount, "20.00");
	assert_string_equal(a->key, "shopify:refund:890123456790");
	assert_string_equal(a->reason, "refund");
	assert_int_equal(a->occurred_us, PARTIAL_US);
	source_adjust_list_cleanup(&l);
	free(body);
}

static void test_order_updated_fixture(void **state)
{
	size_t len;
	char *body = test_read_fixture("shopify_orders_updated.json", &len);
	struct source_adjust_list l;
	const struct source_adjustment *a;
	struct conv_list convs;
	struct err e = { 0 };
	struct raw_event ev = { .id = 7,
				.source_id = "00000000-0000-0000-0000-000000000001",
				.topic = "orders/updated",
				.body = (const uint8_t *)body,
				.body_len = len,
				.received_us = RECEIVED_US };

	(void)state;
	a = adjust_one("orders/updated", body, &l);
	assert_int_equal(a->op, SOURCE_ADJUST_TOTAL);
	assert_string_equal(a->event_id, ORDER_EVENT);
	assert_string_equal(a->amount, "99.90");
	assert_string_equal(a->currency, "USD");
	assert_string_equal(a->key, "shopify:order_update:2026-11-27T08:30:00-05:00:99.90");
	assert_int_equal(a->occurred_us, UPDATED_US);
	/* Never a second purchase: the update is no conversion. */
	conv_list_init(&convs);
	assert_int_equal(shopify_source_ops.parse(&ev, &convs, &e), 0);
	assert_int_equal(convs.n, 0);
	conv_list_cleanup(&convs);
	source_adjust_list_cleanup(&l);
	free(body);
}

/* An update with the order's recorded value reports that same total
 * (stage 1 then does nothing): the reported amount equals the purchase's
 * value, as text. */
static void test_order_updated_same_value(void **state)
{
	size_t len;
	char *body = test_read_fixture("shopify_orders_create.json", &len);
	struct source_adjust_list l;
	struct conv_list convs;
	struct err e = { 0 };
	struct raw_event ev = { .id = 7,
				.source_id = "00000000-0000-0000-0000-000000000001",
				.topic = "orders/create",
				.body = (const uint8_t *)body,
				.body_len = len,
				.received_us = RECEIVED_US };

	(void)state;
	conv_list_init(&convs);
	assert_int_equal(shopify_source_ops.parse(&ev, &convs, &e), 0);
	assert_int_equal(convs.n, 1);
	assert_int_equal(adjust("orders/updated", body, len, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].amount, convs.v[0]->value);
	assert_string_equal(l.v[0].event_id, convs.v[0]->event_id);
	/* No updated_at: no key of its own (the raw event's stands in). */
	assert_null(l.v[0].key);
	assert_int_equal(l.v[0].occurred_us, RECEIVED_US);
	/* orders/create itself reports no change. */
	source_adjust_list_cleanup(&l);
	assert_int_equal(adjust("orders/create", body, len, &l, &e), 0);
	assert_int_equal(l.n, 0);
	source_adjust_list_cleanup(&l);
	conv_list_cleanup(&convs);
	free(body);
}

/* Amounts are summed exactly and written with at least two decimals. */
static void test_amounts(void **state)
{
	static const struct {
		const char *txs;
		const char *sum;
	} cases[] = {
		{ "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"129.9\"}", "129.90" },
		{ "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"5\"}", "5.00" },
		{ "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"10.10\"},"
		  "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"0.005\"}",
		  "10.105" },
		{ "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"0.1\"},"
		  "{\"kind\":\"sale\",\"status\":\"success\",\"amount\":\"99.00\"},"
		  "{\"kind\":\"refund\",\"status\":\"pending\",\"amount\":\"99.00\"},"
		  "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"0.2\"}",
		  "0.30" },
		{ "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"999999999999.999999\"}",
		  "999999999999.999999" },
	};
	struct source_adjust_list l;
	char body[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "{\"id\":1,\"order_id\":2,\"transactions\":[%s]}",
			 cases[i].txs);
		assert_string_equal(adjust_one("refunds/create", body, &l)->amount, cases[i].sum);
		assert_null(l.v[0].currency);
		source_adjust_list_cleanup(&l);
	}
}

/* Changes that report nothing: a refund that moved no money (a restock),
 * an update without a total, topics that are no change. */
static void test_nothing_reported(void **state)
{
	static const struct {
		const char *topic, *body;
	} cases[] = {
		{ "refunds/create", "{\"id\":1,\"order_id\":2,\"transactions\":[]}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":2}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":2,\"transactions\":{}}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":2,\"transactions\":[{\"kind\":"
				    "\"refund\",\"status\":\"success\",\"amount\":\"0.00\"}]}" },
		{ "orders/updated", "{\"id\":1,\"total_price\":null}" },
		{ "orders/updated", "{\"id\":1}" },
		{ "orders/create", "not json" },
		{ "orders/paid", "not json" },
		{ "customers/create", "not json" },
		{ "REFUNDS/CREATE", "not json" },
		{ "", "not json" },
	};
	struct source_adjust_list l;
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (adjust(cases[i].topic, cases[i].body, strlen(cases[i].body), &l, &e) != 0)
			fail_msg("case %zu: %s", i, e.msg);
		assert_int_equal(l.n, 0);
		source_adjust_list_cleanup(&l);
	}
}

static void test_unusable_bodies(void **state)
{
	static const struct {
		const char *topic, *body;
	} cases[] = {
		{ "refunds/create", "not json" },
		{ "refunds/create", "[]" },
		{ "refunds/create", "{\"id\":1,\"transactions\":[]}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":1.5,\"transactions\":[]}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":\"x1\",\"transactions\":[]}" },
		{ "refunds/create", "{\"order_id\":2,\"transactions\":[]}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":2,\"transactions\":[{\"kind\":"
				    "\"refund\",\"status\":\"success\",\"amount\":\"abc\"}]}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":2,\"transactions\":[{\"kind\":"
				    "\"refund\",\"status\":\"success\",\"amount\":\"-5.00\"}]}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":2,\"transactions\":[{\"kind\":"
				    "\"refund\",\"status\":\"success\",\"amount\":5}]}" },
		{ "refunds/create",
		  "{\"id\":1,\"order_id\":2,\"transactions\":[{\"kind\":"
		  "\"refund\",\"status\":\"success\",\"amount\":\"9999999999999.00\"}]}" },
		{ "refunds/create",
		  "{\"id\":1,\"order_id\":2,\"transactions\":[{\"kind\":"
		  "\"refund\",\"status\":\"success\",\"amount\":\"1.0000001\"}]}" },
		{ "refunds/create", "{\"id\":1,\"order_id\":2,\"transactions\":["
				    "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"1\","
				    "\"currency\":\"USD\"},"
				    "{\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"1\","
				    "\"currency\":\"EUR\"}]}" },
		{ "orders/updated", "{\"total_price\":\"1.00\"}" },
		{ "orders/updated", "{\"id\":1,\"total_price\":1}" },
		{ "orders/updated", "{\"id\":1,\"total_price\":\"-1.00\"}" },
		{ "orders/updated", "{\"id\":1.5,\"total_price\":\"1.00\"}" },
		{ "orders/updated", "" },
	};
	struct source_adjust_list l;
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e.code = 0;
		if (adjust(cases[i].topic, cases[i].body, strlen(cases[i].body), &l, &e) !=
		    ERR_INVALID)
			fail_msg("case %zu was accepted", i);
		assert_int_equal(l.n, 0);
		assert_true(e.msg[0] != '\0');
		source_adjust_list_cleanup(&l);
	}
}

/* The list truncates (stage 1 drops what an event listed when its parse
 * fails afterwards) without leaking. */
static void test_list_truncate(void **state)
{
	struct source_adjust_list l;
	struct source_adjustment *a;

	(void)state;
	source_adjust_list_init(&l);
	for (int i = 0; i < 9; i++) {
		a = source_adjust_list_add(&l);
		a->event_id = strdup("e");
		a->amount = strdup("1.00");
		a->key = i % 2 ? strdup("k") : NULL;
	}
	assert_int_equal(l.n, 9);
	source_adjust_list_truncate(&l, 4);
	assert_int_equal(l.n, 4);
	source_adjust_list_truncate(&l, 8); /* beyond n: nothing */
	assert_int_equal(l.n, 4);
	source_adjust_list_cleanup(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_refund_fixture),
		cmocka_unit_test(test_partial_refund_fixture),
		cmocka_unit_test(test_order_updated_fixture),
		cmocka_unit_test(test_order_updated_same_value),
		cmocka_unit_test(test_amounts),
		cmocka_unit_test(test_nothing_reported),
		cmocka_unit_test(test_unusable_bodies),
		cmocka_unit_test(test_list_truncate),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
