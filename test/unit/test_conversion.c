/*
 * test_conversion.c - the conversion's JSON form: lossless round trip,
 * the documented shape, and strict, field-naming errors on bad input;
 * plus conv_set_pii's per-scheme, first-wins behaviour.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "core/mem.h"
#include "testutil.h"

static void assert_str_eq_null(const char *a, const char *b, const char *what)
{
	if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
		fail_msg("%s: \"%s\" != \"%s\"", what, a ? a : "(null)", b ? b : "(null)");
}

static void assert_conv_equal(const struct conversion *a, const struct conversion *b)
{
	assert_str_eq_null(a->event, b->event, "event");
	assert_str_eq_null(a->event_id, b->event_id, "event_id");
	assert_int_equal(a->occurred_us, b->occurred_us);
	assert_str_eq_null(a->value, b->value, "value");
	assert_str_eq_null(a->currency, b->currency, "currency");
	assert_str_eq_null(a->order_id, b->order_id, "order_id");
	assert_str_eq_null(a->page_url, b->page_url, "page_url");
	assert_str_eq_null(a->client_ip, b->client_ip, "client_ip");
	assert_str_eq_null(a->user_agent, b->user_agent, "user_agent");
	for (int s = 0; s < PII_SCHEME__COUNT; s++) {
		for (int f = 0; f < PII_FIELD__COUNT; f++)
			assert_str_eq_null(a->ids[s][f], b->ids[s][f],
					   pii_field_key((enum pii_scheme)s, (enum pii_field)f));
	}
	for (int i = 0; i < CLICK__COUNT; i++)
		assert_str_eq_null(a->click[i], b->click[i], click_field_name((enum click_field)i));
	assert_int_equal(a->n_items, b->n_items);
	for (size_t i = 0; i < a->n_items; i++) {
		assert_str_eq_null(a->items[i].id, b->items[i].id, "item id");
		assert_str_eq_null(a->items[i].name, b->items[i].name, "item name");
		assert_str_eq_null(a->items[i].price, b->items[i].price, "item price");
		assert_int_equal(a->items[i].quantity, b->items[i].quantity);
	}
	assert_str_eq_null(a->consent_ad_user_data, b->consent_ad_user_data, "consent");
	assert_str_eq_null(a->consent_ad_personalization, b->consent_ad_personalization, "consent");
	assert_int_equal(a->test, b->test);
}

static struct conversion *full_conversion(void)
{
	struct conversion *c = conv_new();

	c->event = xstrdup("purchase");
	c->event_id = xstrdup("shopify:order:5551234567890");
	c->occurred_us = 1795734251123456LL;
	c->value = xstrdup("129.90");
	c->currency = xstrdup("USD");
	c->order_id = xstrdup("5551234567890");
	c->page_url = xstrdup("https://shop.example/products/linen-shirt?gclid=Cj0K&q=caf\xc3\xa9");
	c->client_ip = xstrdup("2001:db8::7");
	c->user_agent = xstrdup("Mozilla/5.0 (X11; Linux x86_64) \"quoted\" \\ back");
	conv_set_pii(c, PII_EMAIL, "  Ana.Silva@Example.com");
	conv_set_pii(c, PII_PHONE, "+1 (415) 555-0132");
	conv_set_pii(c, PII_FIRST_NAME, "Ana");
	conv_set_pii(c, PII_LAST_NAME, "Silva");
	conv_set_pii(c, PII_CITY, "San Francisco");
	conv_set_pii(c, PII_REGION, "CA");
	conv_set_pii(c, PII_POSTAL, "94105");
	conv_set_pii(c, PII_COUNTRY, "US");
	conv_set_pii(c, PII_EXTERNAL_ID, "7001122334455");
	for (int i = 0; i < CLICK__COUNT; i++) {
		char v[32];

		snprintf(v, sizeof(v), "v%d.Mixed-Case_%d", i, i);
		conv_set_click(c, (enum click_field)i, v);
	}
	c->n_items = 2;
	c->items = xcalloc(2, sizeof(*c->items));
	c->items[0].id = xstrdup("LIN-SHIRT-M");
	c->items[0].name = xstrdup("Linen shirt \xe2\x80\x94 M");
	c->items[0].price = xstrdup("49.95");
	c->items[0].quantity = 2;
	c->items[1].id = xstrdup("9102");
	c->items[1].quantity = 1000000000; /* the largest accepted */
	c->consent_ad_user_data = xstrdup("granted");
	c->consent_ad_personalization = xstrdup("denied");
	c->test = true;
	return c;
}

/* to_json → text → parse → from_json gives back the same conversion, and
 * serializing that again gives the same text. */
static void round_trip(const struct conversion *c)
{
	cJSON *j = conv_to_json(c), *j2, *j3;
	struct conversion *back = NULL;
	char *text, *text2;
	struct err e = { 0 };

	assert_non_null(j);
	text = cJSON_PrintUnformatted(j);
	j2 = cJSON_Parse(text);
	assert_non_null(j2);
	if (conv_from_json(j2, &back, &e) != 0)
		fail_msg("from_json of own output: %s\n%s", e.msg, text);
	assert_conv_equal(c, back);
	j3 = conv_to_json(back);
	text2 = cJSON_PrintUnformatted(j3);
	assert_string_equal(text, text2);
	cJSON_Delete(j);
	cJSON_Delete(j2);
	cJSON_Delete(j3);
	free(text);
	free(text2);
	conv_free(back);
}

static void test_round_trip_full(void **state)
{
	struct conversion *c = full_conversion();

	(void)state;
	round_trip(c);
	c->test = false;
	c->occurred_us = -1; /* fraction on a pre-epoch time */
	round_trip(c);
	conv_free(c);
}

static void test_round_trip_minimal(void **state)
{
	struct conversion *c = conv_new();
	cJSON *j;
	char *text;

	(void)state;
	c->event = xstrdup("lead");
	c->event_id = xstrdup("ghl:contact:abc");
	c->occurred_us = 1795734251000000LL;
	round_trip(c);
	/* Absent fields are omitted, not written as null or "". */
	j = conv_to_json(c);
	text = cJSON_PrintUnformatted(j);
	assert_string_equal(text, "{\"event\":\"lead\",\"event_id\":\"ghl:contact:abc\","
				  "\"occurred_at\":\"2026-11-26T23:04:11Z\",\"test\":false}");
	free(text);
	cJSON_Delete(j);
	conv_free(c);
}

static void test_json_shape(void **state)
{
	struct conversion *c = full_conversion();
	cJSON *j = conv_to_json(c);
	const cJSON *ids, *items, *q;

	(void)state;
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "occurred_at")),
			    "2026-11-26T23:04:11.123456Z");
	assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "value")));
	ids = cJSON_GetObjectItem(j, "ids");
	/* sha256("ana.silva@example.com"), computed with sha256sum */
	assert_string_equal(
		cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(ids, "meta"), "em")),
		"7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				    cJSON_GetObjectItem(ids, "google"), "city")),
			    "san francisco");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				    cJSON_GetObjectItem(ids, "google"), "phone")),
			    "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462");
	assert_string_equal(
		cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "click"), "fbc")),
		"v4.Mixed-Case_4");
	items = cJSON_GetObjectItem(j, "items");
	assert_int_equal(cJSON_GetArraySize(items), 2);
	q = cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "quantity");
	assert_true(cJSON_IsNumber(q));
	assert_int_equal((int)q->valuedouble, 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				    cJSON_GetObjectItem(j, "consent"), "ad_personalization")),
			    "denied");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "test")));
	cJSON_Delete(j);
	conv_free(c);
}

#define BASE "\"event\":\"purchase\",\"event_id\":\"x:1\",\"occurred_at\":\"2026-11-26T23:04:11Z\""
#define H64  "\"973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b\""

struct bad_case {
	const char *json;
	const char *msg; /* substring of the error */
};

static const struct bad_case bad_cases[] = {
	{ "[]", "must be a JSON object" },
	{ "\"purchase\"", "must be a JSON object" },
	{ "{\"event_id\":\"x:1\",\"occurred_at\":\"2026-11-26T23:04:11Z\"}", "event: missing" },
	{ "{\"event\":\"purchase\",\"occurred_at\":\"2026-11-26T23:04:11Z\"}",
	  "event_id: missing" },
	{ "{\"event\":\"purchase\",\"event_id\":\"x:1\"}", "occurred_at: missing" },
	{ "{\"event\":\"purchase\",\"event_id\":\"x:1\",\"occurred_at\":null}",
	  "occurred_at: missing" },
	{ "{\"event\":5,\"event_id\":\"x:1\",\"occurred_at\":\"2026-11-26T23:04:11Z\"}",
	  "event: must be a string" },
	{ "{\"event\":\"Purchase\",\"event_id\":\"x:1\",\"occurred_at\":\"2026-11-26T23:04:11Z\"}",
	  "event: invalid value" },
	{ "{\"event\":\"purchase\",\"event_id\":\"\",\"occurred_at\":\"2026-11-26T23:04:11Z\"}",
	  "event_id: invalid value" },
	{ "{\"event\":\"purchase\",\"event_id\":\"a b\",\"occurred_at\":\"2026-11-26T23:04:11Z\"}",
	  "event_id: invalid value" },
	{ "{\"event\":\"purchase\",\"event_id\":\"x:1\",\"occurred_at\":\"yesterday\"}",
	  "occurred_at: invalid timestamp" },
	{ "{\"event\":\"purchase\",\"event_id\":\"x:1\",\"occurred_at\":1795734251}",
	  "occurred_at: must be a string" },
	{ "{" BASE ",\"value\":12.5}", "value: must be a string" },
	{ "{" BASE ",\"value\":\"12,50\"}", "value: invalid value" },
	{ "{" BASE ",\"value\":\"1e3\"}", "value: invalid value" },
	{ "{" BASE ",\"value\":\".5\"}", "value: invalid value" },
	{ "{" BASE ",\"currency\":\"US\"}", "currency: invalid value" },
	{ "{" BASE ",\"currency\":\"US$\"}", "currency: invalid value" },
	{ "{" BASE ",\"client_ip\":\"999.1.1.1\"}", "client_ip: invalid value" },
	{ "{" BASE ",\"page_url\":\"a\\u0001b\"}", "page_url: invalid value" },
	{ "{" BASE ",\"user_agent\":\"\xff\xfe\"}", "user_agent: invalid value" },
	{ "{" BASE ",\"order_id\":[1]}", "order_id: must be a string" },
	{ "{" BASE ",\"ids\":[]}", "ids: must be an object" },
	{ "{" BASE ",\"ids\":{\"snapchat\":{}}}", "ids: unknown key \"snapchat\"" },
	/* TikTok carries no names: a stored first_name is refused. */
	{ "{" BASE ",\"ids\":{\"tiktok\":{\"first_name\":\"ana\"}}}", "ids.tiktok.first_name" },
	{ "{" BASE ",\"ids\":{\"meta\":{\"email\":" H64 "}}}", "ids.meta: unknown key \"email\"" },
	{ "{" BASE ",\"ids\":{\"meta\":{\"em\":\"ana@example.com\"}}}",
	  "ids.meta.em: not a SHA-256 hex digest" },
	{ "{" BASE ",\"ids\":{\"meta\":{\"em\":5}}}", "ids.meta.em: must be a string" },
	{ "{" BASE ",\"ids\":{\"meta\":{\"em\":" H64 ",\"em\":" H64 "}}}",
	  "ids.meta: duplicate key \"em\"" },
	{ "{" BASE ",\"ids\":{\"google\":{\"city\":\"San Francisco\"}}}",
	  "ids.google.city: not in normalized form" },
	{ "{" BASE ",\"ids\":{\"google\":{\"country\":\"xx\"}}}",
	  "ids.google.country: not an ISO" },
	{ "{" BASE ",\"ids\":{\"google\":{\"email\":\"a@b.c\"}}}",
	  "ids.google.email: not a SHA-256 hex digest" },
	{ "{" BASE ",\"click\":{\"gclid\":5}}", "click.gclid: must be a string" },
	{ "{" BASE ",\"click\":{\"msclkid\":\"x\"}}", "click: unknown key \"msclkid\"" },
	{ "{" BASE ",\"click\":{\"gclid\":\"has space\"}}", "click.gclid: invalid value" },
	{ "{" BASE ",\"items\":{}}", "items: must be an array" },
	{ "{" BASE ",\"items\":[5]}", "items[0]: must be an object" },
	{ "{" BASE ",\"items\":[{\"id\":\"a\"},{\"sku\":\"b\"}]}",
	  "items[1]: unknown key \"sku\"" },
	{ "{" BASE ",\"items\":[{\"id\":\"a\",\"quantity\":1.5}]}",
	  "items[0].quantity: must be a whole number" },
	{ "{" BASE ",\"items\":[{\"id\":\"a\",\"quantity\":-1}]}",
	  "items[0].quantity: must be a whole number" },
	{ "{" BASE ",\"items\":[{\"id\":\"a\",\"quantity\":1000000001}]}",
	  "items[0].quantity: must be a whole number" },
	{ "{" BASE ",\"items\":[{\"id\":\"a\",\"quantity\":1e300}]}",
	  "items[0].quantity: must be a whole number" },
	{ "{" BASE ",\"items\":[{\"id\":\"a\",\"quantity\":\"2\"}]}",
	  "items[0].quantity: must be a number" },
	{ "{" BASE ",\"items\":[{\"id\":\"a\",\"price\":\"abc\"}]}",
	  "items[0].price: invalid value" },
	{ "{" BASE ",\"items\":[{\"id\":7}]}", "items[0].id: must be a string" },
	{ "{" BASE ",\"consent\":{\"ad_user_data\":\"yes\"}}",
	  "consent.ad_user_data: invalid value" },
	{ "{" BASE ",\"consent\":{\"analytics\":\"granted\"}}", "consent: unknown key" },
	{ "{" BASE ",\"test\":\"true\"}", "test: must be true or false" },
	{ "{" BASE ",\"test\":1}", "test: must be true or false" },
	{ "{" BASE ",\"user\":{}}", "conversion: unknown key \"user\"" },
	{ "{" BASE ",\"event\":\"lead\"}", "conversion: duplicate key \"event\"" },
};

static void test_strict_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		cJSON *j = cJSON_Parse(bad_cases[i].json);
		static struct conversion dummy;
		struct conversion *c = &dummy; /* must come back NULL */
		struct err e = { 0 };
		int rc;

		if (j == NULL)
			fail_msg("case %zu: test JSON does not parse: %s", i, bad_cases[i].json);
		rc = conv_from_json(j, &c, &e);
		if (rc != ERR_INVALID)
			fail_msg("case %zu: rc %d for %s", i, rc, bad_cases[i].json);
		assert_null(c);
		if (strstr(e.msg, bad_cases[i].msg) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, e.msg,
				 bad_cases[i].msg);
		cJSON_Delete(j);
	}
}

static void test_lenient_where_documented(void **state)
{
	const char *json =
		"{" BASE ",\"value\":null,\"currency\":\"usd\",\"ids\":{\"meta\":{\"em\":"
		"\"973DFE463EC85785F5F95AF5BA3906EEDB2D931C24E69824A89EA65DBA4E813B\"},"
		"\"google\":null},\"click\":null,\"items\":[{\"id\":\"a\"}],"
		"\"consent\":{\"ad_user_data\":null},\"client_ip\":\"203.0.113.7\"}";
	cJSON *j = cJSON_Parse(json);
	struct conversion *c = NULL;
	struct err e = { 0 };

	(void)state;
	assert_non_null(j);
	if (conv_from_json(j, &c, &e) != 0)
		fail_msg("%s", e.msg);
	assert_null(c->value);
	assert_string_equal(c->currency, "USD");
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EMAIL],
			    "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b");
	assert_int_equal(c->n_items, 1);
	assert_int_equal(c->items[0].quantity, 1); /* default */
	assert_null(c->consent_ad_user_data);
	assert_false(c->test);
	conv_free(c);
	cJSON_Delete(j);
}

static void test_bounds(void **state)
{
	struct buf b;
	cJSON *j;
	struct conversion *c = NULL;
	struct err e = { 0 };

	(void)state;
	/* 1001 items */
	buf_init(&b);
	buf_puts(&b, "{" BASE ",\"items\":[");
	for (int i = 0; i < 1001; i++)
		buf_printf(&b, "%s{\"id\":\"i%d\"}", i ? "," : "", i);
	buf_puts(&b, "]}");
	j = cJSON_Parse(b.data);
	assert_int_equal(conv_from_json(j, &c, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "more than 1000 items"));
	cJSON_Delete(j);
	/* over-long event id */
	buf_reset(&b);
	buf_puts(
		&b,
		"{\"event\":\"purchase\",\"occurred_at\":\"2026-11-26T23:04:11Z\",\"event_id\":\"");
	for (int i = 0; i < 300; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "\"}");
	j = cJSON_Parse(b.data);
	assert_int_equal(conv_from_json(j, &c, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "event_id: longer than 256 bytes"));
	cJSON_Delete(j);
	buf_cleanup(&b);
	assert_int_equal(conv_from_json(NULL, &c, &e), ERR_INVALID);
	assert_null(c);
}

static void test_set_pii(void **state)
{
	struct conversion *c = conv_new();

	(void)state;
	/* Too short for either scheme: nothing set. */
	conv_set_pii(c, PII_PHONE, "555");
	assert_null(c->ids[PII_SCHEME_META][PII_PHONE]);
	assert_null(c->ids[PII_SCHEME_GOOGLE][PII_PHONE]);
	/* A national number with a trunk zero: Meta takes it, Google does not. */
	conv_set_pii(c, PII_PHONE, "020 7946 0958");
	assert_string_equal(c->ids[PII_SCHEME_META][PII_PHONE],
			    "ca968f1474c2b2b1c9a1b153ff13163f54ef65300544af913f591f11cd4d80b1");
	assert_null(c->ids[PII_SCHEME_GOOGLE][PII_PHONE]);
	/* The next candidate fills only the scheme still missing. */
	conv_set_pii(c, PII_PHONE, "+1 650 555 1234");
	assert_string_equal(c->ids[PII_SCHEME_META][PII_PHONE],
			    "ca968f1474c2b2b1c9a1b153ff13163f54ef65300544af913f591f11cd4d80b1");
	assert_string_equal(c->ids[PII_SCHEME_GOOGLE][PII_PHONE],
			    "a2996076d3ad4af5dc818b908b3d8e354f26ededf7df0e0aa6ac354143805ee0");
	/* Invalid email: absent everywhere; NULL and "" do nothing. */
	conv_set_pii(c, PII_EMAIL, "not-an-email");
	conv_set_pii(c, PII_EMAIL, NULL);
	conv_set_pii(c, PII_EMAIL, "");
	assert_null(c->ids[PII_SCHEME_META][PII_EMAIL]);
	assert_null(c->ids[PII_SCHEME_GOOGLE][PII_EMAIL]);
	/* First wins. */
	conv_set_pii(c, PII_CITY, "San Francisco");
	conv_set_pii(c, PII_CITY, "Oakland");
	assert_string_equal(c->ids[PII_SCHEME_META][PII_CITY],
			    "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac");
	assert_string_equal(c->ids[PII_SCHEME_GOOGLE][PII_CITY], "san francisco");
	conv_set_pii(c, (enum pii_field)99, "x");
	conv_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_full),
		cmocka_unit_test(test_round_trip_minimal),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_strict_errors),
		cmocka_unit_test(test_lenient_where_documented),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_set_pii),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
