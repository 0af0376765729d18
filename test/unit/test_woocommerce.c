/*
 * test_woocommerce.c - the WooCommerce source: the activation ping,
 * HMAC verification over the exact fixture bytes, the dedup key (never the
 * delivery id), the topic, and the parser's paid gate, attribution from
 * meta_data (session entry, user agent, cookies, configured keys), GMT
 * times, PII and items.  Expected signatures come from `openssl dgst
 * -sha256 -hmac`, expected hashes from `sha256sum` and times from
 * `date -u +%s`, not from the code under test.
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

extern const struct source_ops woocommerce_source_ops;
#define OPS woocommerce_source_ops

static const struct source_ctx test_ctx = { .cfg = NULL, .now_us = 1800000000000000LL };

#define SECRET "wc_test_secret"
/* openssl dgst -sha256 -hmac wc_test_secret -binary FILE | base64 */
#define SIG_7311 "N1RXa0gXZgWKNExUXX3MH0mSgErwWa2+Z5+WtRBgsCY="
#define SIG_7402 "trNFY3tANFKSkZv+6ateNDAwNrNH/7ojQ+u0st9Gn+4="
/* sha256sum < woocommerce_order_created.json */
#define BODY_HASH_7311 "50c18233ccf63fdfdbd92a19cb983c66e80f1b022b4677e4374f8b6a5c07d738"
#define RECEIVED_US    1800000000000000LL
#define CREATED_7311   1795724102000000LL /* date -u -d 2026-11-26T20:15:02Z +%s */
#define CREATED_7402   1795789800000000LL /* date -u -d 2026-11-27T14:30:00Z +%s */
/* printf %s VALUE | sha256sum */
#define H_JOERG "b1fda88518f26607781ce777ebf23132af167ab2e03291664361cd24e0fdecde"
#define H_ZOE	"03db3ee7047945f120df41983abd49346a4f75afc4b30ba715efabdfb24503bf"
#define H_42	"73475cb40a568e8da8a045ced110137e159f890ac4da883b6b17dc651b3a8049"

static struct source make_source(const char *secret)
{
	struct source src = { .kind = "woocommerce", .enabled = true, .ops = &OPS };

	src.secret[0] = (const unsigned char *)secret;
	src.secret_len[0] = strlen(secret);
	src.n_secrets = 1;
	return src;
}

static struct http_req make_req(const struct http_header *h, size_t n, const void *body, size_t len)
{
	struct http_req r = { .method = "POST",
			      .path = "/v1/webhooks/woocommerce/x",
			      .headers = h,
			      .n_headers = n,
			      .body = body,
			      .body_len = len };

	return r;
}

/* ---- ping ---- */

struct ping_case {
	const char *body;
	bool signed_;
	bool answered;
};

static const struct ping_case ping_cases[] = {
	{ "webhook_id=12", false, true },
	{ "webhook_id=98765432109876543210", false, true },
	{ "webhook_id=12", true, false },      /* signed: a delivery, verify decides */
	{ "webhook_id=", false, false },       /* no id */
	{ "webhook_id=12&x=1", false, false }, /* more than the ping */
	{ "webhook_id=1a", false, false },
	{ "webhook_id=123456789012345678901", false, false }, /* 21 digits */
	{ "{\"id\":1}", false, false },
	{ "", false, false },
};

static void test_ping(void **state)
{
	struct source src = make_source(SECRET);

	(void)state;
	for (size_t i = 0; i < sizeof(ping_cases) / sizeof(ping_cases[0]); i++) {
		const struct ping_case *pc = &ping_cases[i];
		struct http_header h[] = { { "X-WC-Webhook-Signature", "AAAA" } };
		struct http_req req = make_req(h, pc->signed_ ? 1 : 0, pc->body, strlen(pc->body));
		struct source_answer ans = { 0 };
		bool got = OPS.answer_unstored(&src, &req, &ans);

		if (got != pc->answered)
			fail_msg("ping case %zu \"%s\": answered %d", i, pc->body, got);
		if (got) {
			assert_int_equal(ans.status, 200);
			assert_non_null(strstr(ans.body, "ping"));
		}
	}
}

/* ---- verify ---- */

static void test_verify(void **state)
{
	size_t len;
	char *body = test_read_fixture("woocommerce_order_created.json", &len);
	struct source src = make_source(SECRET), other = make_source("wc_other");
	struct http_header h[] = { { "x-wc-webhook-signature", SIG_7311 } };
	struct http_header wrong[] = { { "X-WC-Webhook-Signature", SIG_7402 } };
	struct http_req req = make_req(h, 1, body, len);
	struct err e = { 0 };

	(void)state;
	assert_int_equal(OPS.verify(&src, &test_ctx, &req, &e), 0);
	assert_int_equal(OPS.verify(&other, &test_ctx, &req, &e), ERR_AUTH);
	req = make_req(wrong, 1, body, len);
	assert_int_equal(OPS.verify(&src, &test_ctx, &req, &e), ERR_AUTH);
	req = make_req(h, 0, body, len);
	assert_int_equal(OPS.verify(&src, &test_ctx, &req, &e), ERR_AUTH);
	assert_non_null(strstr(e.msg, "missing"));
	body[10] ^= 1; /* tampered */
	req = make_req(h, 1, body, len);
	assert_int_equal(OPS.verify(&src, &test_ctx, &req, &e), ERR_AUTH);
	/* The unsigned ping never verifies: only answer_unstored lets it in. */
	req = make_req(h, 0, "webhook_id=12", 13);
	assert_int_equal(OPS.verify(&src, &test_ctx, &req, &e), ERR_AUTH);
	free(body);
}

/* ---- dedup key and topic ---- */

static void dedup_of(const char *fixture, const char *topic, const char *delivery, char *out)
{
	size_t len;
	char *body = test_read_fixture(fixture, &len);
	struct http_header h[] = { { "X-WC-Webhook-Topic", topic },
				   { "X-WC-Webhook-Delivery-ID", delivery } };
	struct http_req req = make_req(h, 2, body, len);
	struct err e = { 0 };

	assert_int_equal(OPS.dedup_key(&req, out, SOURCE_DEDUP_MAX, &e), 0);
	free(body);
}

static void test_dedup_key(void **state)
{
	char a[SOURCE_DEDUP_MAX], b[SOURCE_DEDUP_MAX];
	struct http_header none[] = { { "X-Other", "x" } };
	struct http_req req = make_req(none, 1, "{\"id\":5}", 8);
	struct err e = { 0 };

	(void)state;
	/* topic + id + date_modified_gmt, whatever the delivery id says */
	dedup_of("woocommerce/order_pending.json", "order.created", "d1", a);
	assert_string_equal(a, "order.created:7402:2026-11-27T14:30:01");
	dedup_of("woocommerce/order_pending.json", "order.created", "d2", b);
	assert_string_equal(a, b);
	/* a new version of the order is a new event */
	dedup_of("woocommerce/order_paid_update.json", "order.updated", "d1", b);
	assert_string_equal(b, "order.updated:7402:2026-11-27T14:31:11");
	/* no date_modified_gmt: the body's hash */
	dedup_of("woocommerce_order_created.json", "order.created", "d1", a);
	assert_string_equal(a, "order.created:sha256:" BODY_HASH_7311);
	/* no topic header, no usable date: still a key */
	assert_int_equal(OPS.dedup_key(&req, a, sizeof(a), &e), 0);
	assert_true(strncmp(a, "-:sha256:", 9) == 0);
	/* an output too small is refused, not cut */
	assert_int_equal(OPS.dedup_key(&req, a, 10, &e), ERR_INVALID);
}

static void test_topic_and_headers(void **state)
{
	struct http_header h[] = { { "x-wc-webhook-topic", "order.updated" } };
	struct http_header bad[] = { { "X-WC-Webhook-Topic", "order updated" } };
	struct http_req req = make_req(h, 1, "", 0);
	char out[SOURCE_TOPIC_MAX];
	const char *const *sh;
	bool delivery = false;

	(void)state;
	assert_ptr_equal(source_ops_find("woocommerce"), &OPS);
	OPS.topic(&req, out, sizeof(out));
	assert_string_equal(out, "order.updated");
	req = make_req(bad, 1, "", 0);
	OPS.topic(&req, out, sizeof(out));
	assert_string_equal(out, "");
	req = make_req(h, 0, "", 0);
	OPS.topic(&req, out, sizeof(out));
	assert_string_equal(out, "");
	for (sh = OPS.stored_headers; *sh; sh++)
		delivery |= strcmp(*sh, "X-WC-Webhook-Delivery-ID") == 0;
	assert_true(delivery);
	assert_int_equal(source_unavailable_status(&OPS), 503);
	assert_int_equal(source_unavailable_status(NULL), 503);
}

/* ---- parse ---- */

static int parse(const char *topic, const char *fixture, const char *settings,
		 struct conv_list *out, struct err *e)
{
	size_t len;
	char *body = test_read_fixture(fixture, &len);
	struct raw_event ev = { .id = 1,
				.source_id = "00000000-0000-0000-0000-000000000001",
				.topic = topic,
				.body = (const uint8_t *)body,
				.body_len = len,
				.received_us = RECEIVED_US,
				.settings_json = settings };
	int rc;

	conv_list_init(out);
	rc = OPS.parse(&ev, out, e);
	free(body);
	return rc;
}

static void test_parse_fixture_paid(void **state)
{
	struct conv_list l;
	struct err e = { 0 };
	struct conversion *c;

	(void)state;
	assert_int_equal(parse("order.created", "woocommerce_order_created.json", NULL, &l, &e), 0);
	assert_int_equal(l.n, 1);
	c = l.v[0];
	assert_string_equal(c->event, "purchase");
	assert_string_equal(c->event_id, "woocommerce:order:7311");
	assert_string_equal(c->order_id, "7311");
	/* date_created_gmt, read as UTC (date_created is local time: +1 h) */
	assert_int_equal(c->occurred_us, CREATED_7311);
	assert_string_equal(c->value, "86.40");
	assert_string_equal(c->currency, "EUR");
	assert_string_equal(c->client_ip, "198.51.100.77");
	assert_string_equal(c->user_agent,
			    "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/132.0");
	assert_string_equal(c->page_url,
			    "https://shop.example.de/angebot/?fbclid=IwAR2xYZabcDEF_123");
	assert_string_equal(c->click[CLICK_FBCLID], "IwAR2xYZabcDEF_123");
	assert_string_equal(c->click[CLICK_FBC], "fb.1.1795724102000.IwAR2xYZabcDEF_123");
	assert_string_equal(c->click[CLICK_FBP], "fb.1.1732650000000.555444333");
	assert_null(c->click[CLICK_GCLID]);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EMAIL], H_JOERG);
	assert_string_equal(c->ids[PII_SCHEME_GOOGLE][PII_COUNTRY], "de");
	assert_string_equal(c->ids[PII_SCHEME_GOOGLE][PII_POSTAL], "10117");
	assert_non_null(c->ids[PII_SCHEME_META][PII_PHONE]);
	assert_non_null(c->ids[PII_SCHEME_META][PII_FIRST_NAME]);
	/* a guest (customer_id 0) has no external id */
	assert_null(c->ids[PII_SCHEME_META][PII_EXTERNAL_ID]);
	assert_int_equal(c->n_items, 1);
	assert_string_equal(c->items[0].id, "KM-88");
	assert_string_equal(c->items[0].name, "Kaffeem\xc3\xbchle");
	assert_int_equal(c->items[0].quantity, 1);
	/* no subtotal in this payload: the line's total, never the float price */
	assert_string_equal(c->items[0].price, "86.40");
	conv_list_cleanup(&l);
}

/* The paid gate, table-driven: topic, fixture, conversions expected. */
struct gate_case {
	const char *topic;
	const char *fixture;
	size_t n;
};

static const struct gate_case gate_cases[] = {
	{ "order.created", "woocommerce/order_pending.json", 0 },	   /* no date_paid_gmt */
	{ "order.updated", "woocommerce/order_pending.json", 0 },	   /* still unpaid */
	{ "order.updated", "woocommerce/order_paid_update.json", 1 },	   /* processing */
	{ "order.updated", "woocommerce/order_onhold_paid_date.json", 1 }, /* date_paid_gmt */
	{ "order.updated", "woocommerce/order_cancelled_paid_date.json", 0 },
	{ "order.deleted", "woocommerce/order_paid_update.json", 0 },
	{ "product.updated", "woocommerce/order_paid_update.json", 0 },
	{ "", "woocommerce/order_paid_update.json", 0 },
};

static void test_paid_gate(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(gate_cases) / sizeof(gate_cases[0]); i++) {
		struct conv_list l;
		struct err e = { 0 };

		if (parse(gate_cases[i].topic, gate_cases[i].fixture, NULL, &l, &e) != 0)
			fail_msg("gate case %zu: %s", i, e.msg);
		if (l.n != gate_cases[i].n)
			fail_msg("gate case %zu (%s %s): %zu conversions", i, gate_cases[i].topic,
				 gate_cases[i].fixture, l.n);
		conv_list_cleanup(&l);
	}
}

/* Paid update after the unpaid create: the same event id as any other
 * delivery of the order, so the conversions table keeps one purchase. */
static void test_update_after_paid(void **state)
{
	struct conv_list a, b;
	struct err e = { 0 };
	struct conversion *c;

	(void)state;
	assert_int_equal(parse("order.updated", "woocommerce/order_paid_update.json", NULL, &a, &e),
			 0);
	assert_int_equal(
		parse("order.created", "woocommerce/order_onhold_paid_date.json", NULL, &b, &e), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	assert_string_equal(a.v[0]->event_id, "woocommerce:order:7402");
	assert_string_equal(a.v[0]->event_id, b.v[0]->event_id);
	c = a.v[0];
	assert_int_equal(c->occurred_us, CREATED_7402);
	assert_string_equal(c->value, "59.80");
	assert_string_equal(c->currency, "USD");
	assert_string_equal(c->client_ip, "2001:db8::17");
	/* customer_user_agent empty: the attribution script's */
	assert_string_equal(c->user_agent,
			    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148");
	assert_string_equal(c->click[CLICK_GCLID], "EAIaIQobChMI_session");
	/* the cookie beats an fbc rebuilt from a URL (there is none here) */
	assert_string_equal(c->click[CLICK_FBC], "fb.1.1732700000000.IwAR_cookie");
	/* a plugin's key is read only when the settings name it */
	assert_null(c->click[CLICK_TTCLID]);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EMAIL], H_ZOE);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EXTERNAL_ID], H_42);
	assert_string_equal(c->ids[PII_SCHEME_GOOGLE][PII_REGION], "ma");
	assert_int_equal(c->n_items, 2);
	assert_string_equal(c->items[0].id, "90"); /* empty SKU, no variation */
	assert_int_equal(c->items[0].quantity, 2);
	assert_string_equal(c->items[0].price, "19.90"); /* 39.80 / 2 */
	assert_string_equal(c->items[1].id, "93");	 /* the variation */
	assert_string_equal(c->items[1].price, "20.00");
	conv_list_cleanup(&a);
	conv_list_cleanup(&b);
}

static void test_meta_keys_from_settings(void **state)
{
	static const char *const with_key[] = {
		"{\"click_meta_keys\":{\"_ttclid_plugin\":\"ttclid\"}}",
		"{\"store_url\":\"https://shop.example\",\"click_meta_keys\":{\"_ttclid_plugin\":"
		"\"ttclid\",\"_other\":\"gclid\"}}",
	};
	static const char *const without[] = {
		"{}",
		"not json",
		"{\"click_meta_keys\":\"_ttclid_plugin\"}",
		/* a bare key names the field without its underscores: unknown */
		"{\"click_meta_keys\":[\"_ttclid_plugin\"]}",
		"{\"click_meta_keys\":{\"_ttclid_plugin\":7}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(with_key) / sizeof(with_key[0]); i++) {
		struct conv_list l;
		struct err e = { 0 };

		assert_int_equal(parse("order.updated", "woocommerce/order_paid_update.json",
				       with_key[i], &l, &e),
				 0);
		assert_int_equal(l.n, 1);
		assert_string_equal(l.v[0]->click[CLICK_TTCLID], "E.C.P.plugin-ttclid");
		/* the session entry's gclid is still there */
		assert_string_equal(l.v[0]->click[CLICK_GCLID], "EAIaIQobChMI_session");
		conv_list_cleanup(&l);
	}
	for (size_t i = 0; i < sizeof(without) / sizeof(without[0]); i++) {
		struct conv_list l;
		struct err e = { 0 };

		assert_int_equal(parse("order.updated", "woocommerce/order_paid_update.json",
				       without[i], &l, &e),
				 0);
		assert_int_equal(l.n, 1);
		assert_null(l.v[0]->click[CLICK_TTCLID]);
		conv_list_cleanup(&l);
	}
}

/* Bodies written inline: wrong types and missing members. */
struct body_case {
	const char *body;
	int rc;
	size_t n;
};

static const struct body_case body_cases[] = {
	{ "", ERR_INVALID, 0 },
	{ "[1]", ERR_INVALID, 0 },
	{ "{\"id\":1} x", ERR_INVALID, 0 },
	{ "{\"status\":\"processing\"}", ERR_INVALID, 0 },		/* no id */
	{ "{\"id\":\"7\",\"status\":\"processing\"}", ERR_INVALID, 0 }, /* id as text */
	{ "{\"id\":1.5,\"status\":\"processing\"}", ERR_INVALID, 0 },
	{ "{\"id\":7,\"status\":\"processing\",\"total\":86.4}", ERR_INVALID, 0 }, /* float */
	{ "{\"id\":7,\"status\":\"processing\"}  \n", 0, 1 },
	{ "{\"id\":7,\"status\":\"pending\",\"date_paid_gmt\":\"\"}", 0, 0 },
	{ "{\"id\":7,\"status\":\"pending\",\"date_paid_gmt\":\"garbage\"}", 0, 0 },
	{ "{\"id\":7,\"status\":null,\"date_paid_gmt\":\"2026-11-27T14:31:10\"}", 0, 1 },
	{ "{\"id\":7,\"status\":\"completed\",\"billing\":null,\"meta_data\":{},"
	  "\"line_items\":[null,1,{\"quantity\":3}],\"customer_ip_address\":\"x\"}",
	  0, 1 },
};

static void test_parse_bodies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *bc = &body_cases[i];
		struct raw_event ev = { .topic = "order.updated",
					.body = (const uint8_t *)bc->body,
					.body_len = strlen(bc->body),
					.received_us = RECEIVED_US };
		struct conv_list l;
		struct err e = { 0 };
		int rc;

		conv_list_init(&l);
		rc = OPS.parse(&ev, &l, &e);
		if (rc != bc->rc || l.n != bc->n)
			fail_msg("body case %zu: rc %d (%s), %zu conversions", i, rc, e.msg, l.n);
		if (l.n == 1) {
			/* no creation date: when it was paid (date -u -d
			 * 2026-11-27T14:31:10Z +%s), else when we heard of it */
			assert_int_equal(l.v[0]->occurred_us, strstr(bc->body, "date_paid_gmt")
								      ? 1795789870000000LL
								      : RECEIVED_US);
			assert_null(l.v[0]->client_ip);
			assert_int_equal(l.v[0]->n_items, 0);
		}
		conv_list_cleanup(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_dedup_key),
		cmocka_unit_test(test_topic_and_headers),
		cmocka_unit_test(test_parse_fixture_paid),
		cmocka_unit_test(test_paid_gate),
		cmocka_unit_test(test_update_after_paid),
		cmocka_unit_test(test_meta_keys_from_settings),
		cmocka_unit_test(test_parse_bodies),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
