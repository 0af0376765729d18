/*
 * test_shopify.c - the Shopify source: HMAC verification over the exact
 * fixture bytes, dedup key and topic, and the parser on the fixture order,
 * checkouts, ignored topics, nulls and wrong types everywhere, bad JSON and
 * odd ids.  Expected signatures come from `openssl dgst -sha256 -hmac` and
 * expected hashes from `sha256sum`, not from the code under test.
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
#include <unistd.h>

#include "core/config.h"
#include "core/conversion.h"
#include "core/mem.h"
#include "sources/source.h"
#include "testutil.h"

extern const struct source_ops shopify_source_ops;

/* Without a config, Shopify's verify checks no Triggered-At window. */
static const struct source_ctx test_ctx = { .cfg = NULL, .now_us = 0 };

#define SECRET "shpss_test_secret"
/* openssl dgst -sha256 -hmac shpss_test_secret -binary shopify_orders_create.json | base64 */
#define SIG	       "xjjteMqKoGEntypF4QLxTuFOXVhIrIsfvMI34n/twX0="
#define SIG_EMPTY      "HyJw93NOq92jLVKWHFbzVpUOdSLpvhPt5VGe1MSVNn0="
#define DOMAIN_HEADERS "{\"x-shopify-shop-domain\":\"Shop.Example.myshopify.com\"}"
#define RECEIVED_US    1800000000000000LL
#define CREATED_US     1795734251000000LL /* 2026-11-26T18:04:11-05:00 */

/* sha256sum of the normalized fixture values */
#define H_EMAIL	   "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86"
#define H_PHONE_M  "11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51"
#define H_PHONE_G  "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462"
#define H_ANA	   "24d4b96f58da6d4a8512313bbd02a28ebf0ca95dec6e4c86ef78ce7f01e788ac"
#define H_SILVA	   "d24e913a4107af875dc2ac3d419798f3794d00434e5059fbb68ac8d33626eaee"
#define H_SF	   "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac"
#define H_CA	   "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"
#define H_94105	   "e73ac16e69f060ee98b0fda5f66f48c4648ee26950e9bab3a097389853fd859e"
#define H_US	   "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"
#define H_CUSTOMER "4d8cde97d61f3c50205f809db95a04ef6b35977578ec43f33265b3bafed7158e"

static char *fixture;
static size_t fixture_len;

static int setup(void **state)
{
	(void)state;
	fixture = test_read_fixture("shopify_orders_create.json", &fixture_len);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(fixture);
	return 0;
}

static struct source make_source(const char *s1, const char *s2)
{
	struct source src = { .kind = "shopify", .enabled = true, .ops = &shopify_source_ops };

	src.secret[0] = (const unsigned char *)s1;
	src.secret_len[0] = s1 ? strlen(s1) : 0;
	src.n_secrets = s1 ? 1 : 0;
	if (s2) {
		src.secret[1] = (const unsigned char *)s2;
		src.secret_len[1] = strlen(s2);
		src.n_secrets = 2;
	}
	return src;
}

static struct http_req make_req(const struct http_header *h, size_t n, const void *body, size_t len)
{
	struct http_req r = { .method = "POST",
			      .path = "/v1/webhooks/shopify/x",
			      .headers = h,
			      .n_headers = n,
			      .body = body,
			      .body_len = len };

	return r;
}

/* ---- verify ---- */

struct verify_case {
	const char *name;
	const char *header; /* name; NULL = no header */
	const char *value;
	const char *secret1, *secret2;
	bool tamper;
	int rc;
	const char *msg;
};

static const struct verify_case verify_cases[] = {
	{ "valid", "X-Shopify-Hmac-Sha256", SIG, SECRET, NULL, false, 0, NULL },
	{ "header name case", "x-shopify-hmac-sha256", SIG, SECRET, NULL, false, 0, NULL },
	{ "unprefixed header", "Shopify-Hmac-Sha256", SIG, SECRET, NULL, false, 0, NULL },
	{ "rotation: new secret second", "X-Shopify-Hmac-Sha256", SIG, "old_secret", SECRET, false,
	  0, NULL },
	{ "rotation: old secret still first", "X-Shopify-Hmac-Sha256", SIG, SECRET, "new_secret",
	  false, 0, NULL },
	{ "tampered body", "X-Shopify-Hmac-Sha256", SIG, SECRET, NULL, true, ERR_AUTH,
	  "does not match" },
	{ "wrong secret", "X-Shopify-Hmac-Sha256", SIG, "shpss_other", NULL, false, ERR_AUTH,
	  "does not match" },
	{ "neither rotation secret", "X-Shopify-Hmac-Sha256", SIG, "a", "b", false, ERR_AUTH,
	  "does not match" },
	{ "too short", "X-Shopify-Hmac-Sha256",
	  "xjjteMqKoGEntypF4QLxTuFOXVhIrIsfvMI34n/twQ==", SECRET, NULL, false, ERR_AUTH, "length" },
	{ "too long", "X-Shopify-Hmac-Sha256", "xjjteMqKoGEntypF4QLxTuFOXVhIrIsfvMI34n/twX0AAA==",
	  SECRET, NULL, false, ERR_AUTH, "length" },
	{ "not base64", "X-Shopify-Hmac-Sha256", "!!!not-base64!!!", SECRET, NULL, false, ERR_AUTH,
	  "base64" },
	{ "hex instead of base64", "X-Shopify-Hmac-Sha256",
	  "c638ed78ca8aa06127b72a45e102f14ee14e5d5848ac8b1fbcc237e27fedc17d", SECRET, NULL, false,
	  ERR_AUTH, NULL },
	{ "empty header", "X-Shopify-Hmac-Sha256", "", SECRET, NULL, false, ERR_AUTH, "missing" },
	{ "missing header", NULL, NULL, SECRET, NULL, false, ERR_AUTH, "missing" },
	{ "other platform's header", "X-WC-Webhook-Signature", SIG, SECRET, NULL, false, ERR_AUTH,
	  "missing" },
	{ "no secret configured", "X-Shopify-Hmac-Sha256", SIG, NULL, NULL, false, ERR_AUTH,
	  "no secret" },
};

static void test_verify_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++) {
		const struct verify_case *t = &verify_cases[i];
		struct source src = make_source(t->secret1, t->secret2);
		struct http_header h[2] = { { "X-Shopify-Topic", "orders/create" },
					    { t->header, t->value } };
		char *body = malloc(fixture_len);
		struct http_req req;
		struct err e = { 0 };
		int rc;

		memcpy(body, fixture, fixture_len);
		if (t->tamper)
			body[fixture_len / 2] ^= 1;
		req = make_req(h, t->header ? 2 : 1, body, fixture_len);
		rc = shopify_source_ops.verify(&src, &test_ctx, &req, &e);
		if (rc != t->rc)
			fail_msg("%s: rc %d, want %d (%s)", t->name, rc, t->rc, e.msg);
		if (t->msg && strstr(e.msg, t->msg) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"", t->name, e.msg, t->msg);
		free(body);
	}
}

static void test_verify_empty_body_and_whitespace(void **state)
{
	struct source src = make_source(SECRET, NULL);
	struct http_header h[] = { { "X-Shopify-Hmac-Sha256", SIG_EMPTY } };
	struct http_req req = make_req(h, 1, "", 0);
	struct err e = { 0 };

	(void)state;
	assert_int_equal(shopify_source_ops.verify(&src, &test_ctx, &req, &e), 0);
	/* One byte of body changes everything. */
	req = make_req(h, 1, " ", 1);
	assert_int_equal(shopify_source_ops.verify(&src, &test_ctx, &req, &e), ERR_AUTH);
}

/* ---- freshness (X-Shopify-Triggered-At) and rotation overlap ---- */

#define NOW_US 1795734251000000LL /* 2026-11-26T23:04:11Z */

struct fresh_case {
	const char *name;
	const char *header; /* NULL = not sent */
	const char *value;
	int rc;
};

/* With [shopify] max_age = 1h at NOW_US. */
static const struct fresh_case fresh_cases[] = {
	{ "missing header (older API versions)", NULL, NULL, 0 },
	{ "now", "X-Shopify-Triggered-At", "2026-11-26T23:04:11Z", 0 },
	{ "nanoseconds, as Shopify sends them", "X-Shopify-Triggered-At",
	  "2026-11-26T22:30:00.877041743Z", 0 },
	{ "exactly max_age old", "X-Shopify-Triggered-At", "2026-11-26T22:04:11Z", 0 },
	{ "one microsecond too old", "X-Shopify-Triggered-At", "2026-11-26T22:04:10.999999Z",
	  ERR_AUTH },
	{ "a day old", "X-Shopify-Triggered-At", "2026-11-25T23:04:11Z", ERR_AUTH },
	{ "old, with an offset", "X-Shopify-Triggered-At", "2026-11-26T17:04:10-05:00", ERR_AUTH },
	{ "fresh, with an offset", "X-Shopify-Triggered-At", "2026-11-26T18:04:11-05:00", 0 },
	{ "unprefixed header, too old", "Shopify-Triggered-At", "2026-11-25T23:04:11Z", ERR_AUTH },
	{ "in the future (clock skew)", "X-Shopify-Triggered-At", "2026-11-27T00:00:00Z", 0 },
	{ "not a timestamp", "X-Shopify-Triggered-At", "yesterday", ERR_AUTH },
	{ "unix seconds", "X-Shopify-Triggered-At", "1795734251", ERR_AUTH },
	{ "empty", "X-Shopify-Triggered-At", "", ERR_AUTH },
};

static struct config *config_with_max_age(int64_t ms)
{
	struct config *cfg = NULL;
	struct err e = { 0 };
	char text[64], *path;

	/* The key is shopify.c's own ([shopify] max_age), registered in main. */
	if (config_load(NULL, &cfg, &e) != 0)
		fail_msg("config_load: %s", e.msg);
	assert_int_equal(config_platform_ms(cfg, "shopify", "max_age", -1), 24LL * 3600 * 1000);
	config_unref(cfg);
	snprintf(text, sizeof(text), "[shopify]\nmax_age = %lldms\n", (long long)ms);
	path = test_write_temp(text);
	if (config_load(path, &cfg, &e) != 0)
		fail_msg("config_load: %s", e.msg);
	unlink(path);
	free(path);
	assert_int_equal(config_platform_ms(cfg, "shopify", "max_age", -1), ms);
	return cfg;
}

static void test_verify_freshness(void **state)
{
	struct config *cfg = config_with_max_age(3600 * 1000);
	const struct source_ctx ctx = { .cfg = cfg, .now_us = NOW_US };
	struct source src = make_source(SECRET, NULL);

	(void)state;
	for (size_t i = 0; i < sizeof(fresh_cases) / sizeof(fresh_cases[0]); i++) {
		const struct fresh_case *t = &fresh_cases[i];
		struct http_header h[2] = { { "X-Shopify-Hmac-Sha256", SIG },
					    { t->header, t->value } };
		struct http_req req = make_req(h, t->header ? 2 : 1, fixture, fixture_len);
		struct err e = { 0 };
		int rc = shopify_source_ops.verify(&src, &ctx, &req, &e);

		if (rc != t->rc)
			fail_msg("%s: rc %d, want %d (%s)", t->name, rc, t->rc, e.msg);
		if (rc != 0 && strstr(e.msg, "Triggered-At") == NULL)
			fail_msg("%s: message \"%s\" does not name the header", t->name, e.msg);
	}
	config_unref(cfg);
}

/* A fresh timestamp does not excuse a bad signature, and a stale one is
 * refused even with a good signature. */
static void test_verify_freshness_and_hmac(void **state)
{
	struct config *cfg = config_with_max_age(3600 * 1000);
	const struct source_ctx ctx = { .cfg = cfg, .now_us = NOW_US };
	struct source src = make_source("shpss_other", NULL);
	struct http_header h[2] = { { "X-Shopify-Hmac-Sha256", SIG },
				    { "X-Shopify-Triggered-At", "2026-11-26T23:04:11Z" } };
	struct http_req req = make_req(h, 2, fixture, fixture_len);
	struct err e = { 0 };

	(void)state;
	assert_int_equal(shopify_source_ops.verify(&src, &ctx, &req, &e), ERR_AUTH);
	assert_non_null(strstr(e.msg, "does not match"));
	config_unref(cfg);
}

/* The previous secret of a rotation is accepted up to and including its
 * end, refused after it; the current one has no end. */
static void test_verify_rotation_overlap(void **state)
{
	struct source old_signs = make_source("shpss_new", SECRET);
	struct source new_signs = make_source(SECRET, "shpss_old");
	struct http_header h[1] = { { "X-Shopify-Hmac-Sha256", SIG } };
	struct http_req req = make_req(h, 1, fixture, fixture_len);
	struct source_ctx ctx = { .cfg = NULL, .now_us = NOW_US };
	struct err e = { 0 };

	(void)state;
	old_signs.secret_until_us[1] = NOW_US;
	new_signs.secret_until_us[1] = NOW_US;
	assert_int_equal(shopify_source_ops.verify(&old_signs, &ctx, &req, &e), 0);
	assert_int_equal(shopify_source_ops.verify(&new_signs, &ctx, &req, &e), 0);
	ctx.now_us = NOW_US + 1;
	assert_int_equal(shopify_source_ops.verify(&old_signs, &ctx, &req, &e), ERR_AUTH);
	assert_int_equal(shopify_source_ops.verify(&new_signs, &ctx, &req, &e), 0);
	/* Without a clock, a secret with an end is never taken. */
	assert_int_equal(shopify_source_ops.verify(&old_signs, NULL, &req, &e), ERR_AUTH);
	assert_true(source_secret_is_live(&old_signs, 0, INT64_MAX));
	assert_false(source_secret_is_live(&old_signs, 1, NOW_US + 1));
}

/* ---- dedup key, topic, stored headers ---- */

static void test_dedup_key(void **state)
{
	char out[SOURCE_DEDUP_MAX], long_id[400];
	struct err e = { 0 };
	struct http_header h[1];
	struct http_req req;

	(void)state;
	h[0] = (struct http_header){ "X-Shopify-Webhook-Id",
				     "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" };
	req = make_req(h, 1, "", 0);
	assert_int_equal(shopify_source_ops.dedup_key(&req, out, sizeof(out), &e), 0);
	assert_string_equal(out, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
	h[0] = (struct http_header){ "shopify-webhook-id", "evt-2" };
	assert_int_equal(shopify_source_ops.dedup_key(&req, out, sizeof(out), &e), 0);
	assert_string_equal(out, "evt-2");
	/* The event id is not the delivery id: it must not be used. */
	h[0] = (struct http_header){ "X-Shopify-Event-Id", "e1" };
	assert_int_equal(shopify_source_ops.dedup_key(&req, out, sizeof(out), &e), ERR_INVALID);
	req.n_headers = 0;
	assert_int_equal(shopify_source_ops.dedup_key(&req, out, sizeof(out), &e), ERR_INVALID);
	req.n_headers = 1;
	h[0] = (struct http_header){ "X-Shopify-Webhook-Id", "" };
	assert_int_equal(shopify_source_ops.dedup_key(&req, out, sizeof(out), &e), ERR_INVALID);
	h[0] = (struct http_header){ "X-Shopify-Webhook-Id", "a\tb" };
	assert_int_equal(shopify_source_ops.dedup_key(&req, out, sizeof(out), &e), ERR_INVALID);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	h[0] = (struct http_header){ "X-Shopify-Webhook-Id", long_id };
	assert_int_equal(shopify_source_ops.dedup_key(&req, out, sizeof(out), &e), ERR_INVALID);
	h[0] = (struct http_header){ "X-Shopify-Webhook-Id", "abcdef" };
	assert_int_equal(shopify_source_ops.dedup_key(&req, out, 4, &e), ERR_INVALID);
}

static void test_topic_and_headers(void **state)
{
	char out[SOURCE_TOPIC_MAX], long_topic[200];
	struct http_header h[1] = { { "X-Shopify-Topic", "orders/create" } };
	struct http_req req = make_req(h, 1, "", 0);
	const char *const *sh;
	int n = 0;
	bool seen_domain = false, seen_event = false, seen_unprefixed = false;

	(void)state;
	assert_ptr_equal(source_ops_find("shopify"), &shopify_source_ops);
	assert_string_equal(shopify_source_ops.kind, "shopify");
	shopify_source_ops.topic(&req, out, sizeof(out));
	assert_string_equal(out, "orders/create");
	h[0] = (struct http_header){ "Shopify-Topic", "checkouts/create" };
	shopify_source_ops.topic(&req, out, sizeof(out));
	assert_string_equal(out, "checkouts/create");
	req.n_headers = 0;
	shopify_source_ops.topic(&req, out, sizeof(out));
	assert_string_equal(out, "");
	req.n_headers = 1;
	memset(long_topic, 'x', sizeof(long_topic) - 1);
	long_topic[sizeof(long_topic) - 1] = '\0';
	h[0] = (struct http_header){ "X-Shopify-Topic", long_topic };
	shopify_source_ops.topic(&req, out, sizeof(out));
	assert_string_equal(out, "");
	for (sh = shopify_source_ops.stored_headers; *sh; sh++, n++) {
		seen_domain |= strcmp(*sh, "X-Shopify-Shop-Domain") == 0;
		seen_event |= strcmp(*sh, "X-Shopify-Event-Id") == 0;
		seen_unprefixed |= strcmp(*sh, "Shopify-Triggered-At") == 0;
	}
	assert_int_equal(n, 12);
	assert_true(seen_domain && seen_event && seen_unprefixed);
}

/* ---- parse ---- */

static int parse(const char *topic, const char *body, size_t len, const char *headers,
		 struct conv_list *out, struct err *e)
{
	struct raw_event ev = { .id = 1,
				.source_id = "00000000-0000-0000-0000-000000000001",
				.topic = topic,
				.headers_json = headers,
				.body = (const uint8_t *)body,
				.body_len = len,
				.received_us = RECEIVED_US };

	conv_list_init(out);
	return shopify_source_ops.parse(&ev, out, e);
}

/* Parse body expecting exactly one conversion (returned; free with the list). */
static struct conversion *parse_one(const char *topic, const char *body, const char *headers,
				    struct conv_list *l)
{
	struct err e = { 0 };

	if (parse(topic, body, strlen(body), headers, l, &e) != 0)
		fail_msg("parse %s: %s", topic, e.msg);
	assert_int_equal(l->n, 1);
	return l->v[0];
}

static void test_parse_fixture_order(void **state)
{
	struct conv_list l;
	struct err e = { 0 };
	struct conversion *c;
	const char *const *m, *const *g;

	(void)state;
	assert_int_equal(parse("orders/create", fixture, fixture_len, DOMAIN_HEADERS, &l, &e), 0);
	assert_int_equal(l.n, 1);
	c = l.v[0];
	assert_string_equal(c->event, "purchase");
	assert_string_equal(c->event_id, "shopify:order:5551234567890");
	assert_string_equal(c->order_id, "5551234567890");
	assert_int_equal(c->occurred_us, CREATED_US);
	assert_string_equal(c->value, "129.90");
	assert_string_equal(c->currency, "USD");
	assert_false(c->test);
	assert_string_equal(c->client_ip, "203.0.113.24");
	assert_string_equal(c->user_agent,
			    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 "
			    "(KHTML, like Gecko) Version/17.6 Safari/605.1.15");
	assert_string_equal(c->page_url,
			    "https://shop.example.myshopify.com/products/linen-shirt?utm_source="
			    "google&utm_medium=cpc&gclid=Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	assert_string_equal(c->click[CLICK_GCLID], "Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	assert_string_equal(c->click[CLICK_FBP], "fb.1.1732662000000.1098765432");
	assert_string_equal(c->click[CLICK_TTCLID], "E.C.P.v3Qx9k2LmN");
	assert_null(c->click[CLICK_FBCLID]);
	assert_null(c->click[CLICK_FBC]);
	assert_null(c->click[CLICK_GBRAID]);
	m = (const char *const *)c->ids[PII_SCHEME_META];
	g = (const char *const *)c->ids[PII_SCHEME_GOOGLE];
	assert_string_equal(m[PII_EMAIL], H_EMAIL);
	assert_string_equal(m[PII_PHONE], H_PHONE_M);
	assert_string_equal(m[PII_FIRST_NAME], H_ANA);
	assert_string_equal(m[PII_LAST_NAME], H_SILVA);
	assert_string_equal(m[PII_CITY], H_SF);
	assert_string_equal(m[PII_REGION], H_CA);
	assert_string_equal(m[PII_POSTAL], H_94105);
	assert_string_equal(m[PII_COUNTRY], H_US);
	assert_string_equal(m[PII_EXTERNAL_ID], H_CUSTOMER);
	assert_string_equal(g[PII_EMAIL], H_EMAIL);
	assert_string_equal(g[PII_PHONE], H_PHONE_G);
	assert_string_equal(g[PII_FIRST_NAME], H_ANA);
	assert_string_equal(g[PII_LAST_NAME], H_SILVA);
	assert_string_equal(g[PII_CITY], "san francisco");
	assert_string_equal(g[PII_REGION], "ca");
	assert_string_equal(g[PII_POSTAL], "94105");
	assert_string_equal(g[PII_COUNTRY], "us");
	assert_string_equal(g[PII_EXTERNAL_ID], H_CUSTOMER);
	assert_int_equal(c->n_items, 2);
	assert_string_equal(c->items[0].id, "LIN-SHIRT-M");
	assert_string_equal(c->items[0].name, "Linen shirt");
	assert_string_equal(c->items[0].price, "49.95");
	assert_int_equal(c->items[0].quantity, 2);
	assert_string_equal(c->items[1].id, "CAP-01");
	assert_string_equal(c->items[1].name, "Canvas cap");
	assert_string_equal(c->items[1].price, "20.00");
	assert_int_equal(c->items[1].quantity, 1);
	assert_null(c->consent_ad_user_data);
	conv_list_cleanup(&l);
}

/* What a parser produces must survive the database's JSON round trip. */
static void test_parse_output_round_trips(void **state)
{
	struct conv_list l;
	struct err e = { 0 };
	struct conversion *back = NULL;
	cJSON *j;

	(void)state;
	assert_int_equal(parse("orders/paid", fixture, fixture_len, DOMAIN_HEADERS, &l, &e), 0);
	j = conv_to_json(l.v[0]);
	assert_non_null(j);
	if (conv_from_json(j, &back, &e) != 0)
		fail_msg("%s", e.msg);
	assert_string_equal(back->event_id, l.v[0]->event_id);
	assert_string_equal(back->ids[PII_SCHEME_GOOGLE][PII_CITY], "san francisco");
	conv_free(back);
	cJSON_Delete(j);
	conv_list_cleanup(&l);
}

static void test_parse_paid_same_event(void **state)
{
	struct conv_list a, b;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(parse("orders/create", fixture, fixture_len, NULL, &a, &e), 0);
	assert_int_equal(parse("orders/paid", fixture, fixture_len, NULL, &b, &e), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(a.v[0]->event_id, b.v[0]->event_id);
	assert_string_equal(b.v[0]->event, "purchase");
	assert_int_equal(a.v[0]->occurred_us, b.v[0]->occurred_us);
	/* Without a known shop domain, the landing path is kept as is. */
	assert_string_equal(b.v[0]->page_url, "/products/linen-shirt?utm_source=google&utm_medium="
					      "cpc&gclid=Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	assert_string_equal(b.v[0]->click[CLICK_GCLID], "Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	conv_list_cleanup(&a);
	conv_list_cleanup(&b);
}

static void test_parse_checkout(void **state)
{
	struct conv_list l;
	struct err e = { 0 };
	struct conversion *c;
	const char *body =
		"{\"id\":90001,\"token\":\"7f9c1e5a0b3d4c6e\",\"email\":\"B.Buyer@Gmail.com\","
		"\"created_at\":\"2026-11-26T23:04:11Z\",\"total_price\":\"10.00\","
		"\"currency\":\"eur\",\"landing_site\":\"/?fbclid=IwAR_Mixed\","
		"\"line_items\":[{\"variant_id\":123,\"title\":\"X\",\"price\":\"10.00\","
		"\"quantity\":1}]}";

	(void)state;
	c = parse_one("checkouts/create", body, DOMAIN_HEADERS, &l);
	assert_string_equal(c->event, "begin_checkout");
	assert_string_equal(c->event_id, "shopify:checkout:7f9c1e5a0b3d4c6e");
	assert_null(c->order_id);
	assert_string_equal(c->currency, "EUR");
	assert_string_equal(c->value, "10.00");
	assert_string_equal(c->items[0].id, "123");
	assert_string_equal(c->click[CLICK_FBCLID], "IwAR_Mixed");
	assert_string_equal(c->click[CLICK_FBC], "fb.1.1795734251000.IwAR_Mixed");
	/* Google drops gmail dots, Meta does not: sha256sum of each. */
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EMAIL],
			    "32ab9449779e4b43d9993d438025ad47a6dc75de1e1ebb8e03f5003ead2b7b73");
	assert_string_equal(c->ids[PII_SCHEME_GOOGLE][PII_EMAIL],
			    "171ba542db85c1bd05cef9adaab586c83c396e7cca6a5daa66c163d3f1bca342");
	conv_list_cleanup(&l);
	/* Without a token the id is used; with neither, the body is unusable. */
	c = parse_one("checkouts/create", "{\"id\":42,\"token\":null}", NULL, &l);
	assert_string_equal(c->event_id, "shopify:checkout:42");
	conv_list_cleanup(&l);
	assert_int_equal(parse("checkouts/create", "{\"token\":\"a b\"}", 15, NULL, &l, &e),
			 ERR_INVALID);
	assert_int_equal(l.n, 0);
	conv_list_cleanup(&l);
}

static void test_parse_ignored_topics(void **state)
{
	const char *topics[] = { "orders/updated",  "customers/create", "refunds/create",
				 "app/uninstalled", "checkouts/update", "",
				 "ORDERS/CREATE",   "orders/create ",	NULL };
	struct conv_list l;
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		/* Not even the body is looked at. */
		assert_int_equal(parse(topics[i], "not json", 8, NULL, &l, &e), 0);
		assert_int_equal(l.n, 0);
		conv_list_cleanup(&l);
	}
}

/* app/uninstalled asks to disable the source, whatever its body; its
 * parse gives no conversion (above).  shop/redact needs no body either;
 * the customer privacy topics need one (test_shopify_privacy.c). */
static void test_action(void **state)
{
	const struct {
		const char *topic;
		enum source_action want;
	} cases[] = {
		{ "app/uninstalled", SOURCE_ACTION_DISABLE },
		{ "orders/create", SOURCE_ACTION_NONE },
		{ "shop/redact", SOURCE_ACTION_REDACT_SOURCE },
		{ "customers/redact", SOURCE_ACTION_NONE },
		{ "APP/UNINSTALLED", SOURCE_ACTION_NONE },
		{ "app/uninstalled ", SOURCE_ACTION_NONE },
		{ "", SOURCE_ACTION_NONE },
		{ NULL, SOURCE_ACTION_NONE },
	};

	(void)state;
	assert_non_null(shopify_source_ops.action);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct raw_event ev = { .id = 1,
					.source_id = "s",
					.topic = cases[i].topic,
					.body = (const uint8_t *)"not json",
					.body_len = 8 };
		char key[SOURCE_CONTACT_KEY_MAX];

		if (shopify_source_ops.action(&ev, key) != cases[i].want || key[0] != '\0')
			fail_msg("topic \"%s\"", cases[i].topic ? cases[i].topic : "(null)");
	}
}

static void test_parse_nulls_everywhere(void **state)
{
	struct conv_list l;
	struct conversion *c;
	const char *body =
		"{\"id\":1,\"admin_graphql_api_id\":null,\"email\":null,\"contact_email\":null,"
		"\"phone\":null,\"customer\":null,\"billing_address\":null,\"client_details\":null,"
		"\"landing_site\":null,\"note_attributes\":null,\"line_items\":null,"
		"\"total_price\":null,\"currency\":null,\"created_at\":null,\"test\":null,"
		"\"browser_ip\":null}";

	(void)state;
	c = parse_one("orders/create", body, "null", &l);
	assert_string_equal(c->event_id, "shopify:order:1");
	assert_int_equal(c->occurred_us, RECEIVED_US);
	assert_null(c->value);
	assert_null(c->currency);
	assert_null(c->page_url);
	assert_null(c->client_ip);
	assert_null(c->user_agent);
	for (int s = 0; s < PII_SCHEME__COUNT; s++) {
		for (int f = 0; f < PII_FIELD__COUNT; f++)
			assert_null(c->ids[s][f]);
	}
	for (int i = 0; i < CLICK__COUNT; i++)
		assert_null(c->click[i]);
	assert_int_equal(c->n_items, 0);
	conv_list_cleanup(&l);
	/* Null inside the nested objects too. */
	c = parse_one(
		"orders/create",
		"{\"id\":2,\"customer\":{\"id\":null,\"email\":null,\"first_name\":null},"
		"\"billing_address\":{\"first_name\":null,\"city\":null,\"zip\":null},"
		"\"client_details\":{\"browser_ip\":null,\"user_agent\":null},"
		"\"note_attributes\":[null,{\"name\":null,\"value\":null}],"
		"\"line_items\":[null,{\"sku\":null,\"variant_id\":null,\"product_id\":null}]}",
		NULL, &l);
	assert_null(c->ids[PII_SCHEME_META][PII_EXTERNAL_ID]);
	assert_int_equal(c->n_items, 0);
	conv_list_cleanup(&l);
}

static void test_parse_wrong_types(void **state)
{
	struct conv_list l;
	struct conversion *c;
	const char *body =
		"{\"id\":3,\"email\":5,\"contact_email\":[],\"phone\":{},\"customer\":\"x\","
		"\"billing_address\":[1],\"client_details\":7,\"landing_site\":{},"
		"\"note_attributes\":[5,\"s\",{\"name\":5,\"value\":\"x\"},"
		"{\"name\":\"gclid\",\"value\":7},{\"name\":\"_fbp\",\"value\":\"fb.1.2.3\"}],"
		"\"line_items\":[null,5,{\"title\":\"no id\"},"
		"{\"sku\":7,\"variant_id\":\"abc\",\"product_id\":77,\"title\":9,\"price\":1.5,"
		"\"quantity\":\"2\"},{\"sku\":\"\",\"variant_id\":1.5,\"product_id\":\"88\","
		"\"quantity\":-3}],"
		"\"currency\":12,\"created_at\":5,\"test\":\"yes\",\"browser_ip\":[]}";

	(void)state;
	c = parse_one("orders/create", body, "[1,2]", &l);
	assert_string_equal(c->event_id, "shopify:order:3");
	assert_int_equal(c->occurred_us, RECEIVED_US);
	assert_false(c->test);
	assert_null(c->currency);
	assert_null(c->ids[PII_SCHEME_META][PII_EMAIL]);
	assert_null(c->click[CLICK_GCLID]);
	assert_string_equal(c->click[CLICK_FBP], "fb.1.2.3");
	assert_int_equal(c->n_items, 2);
	assert_string_equal(c->items[0].id, "77");
	assert_null(c->items[0].name);
	assert_null(c->items[0].price);
	assert_int_equal(c->items[0].quantity, 1);
	assert_string_equal(c->items[1].id, "88");
	assert_int_equal(c->items[1].quantity, 1);
	conv_list_cleanup(&l);
}

static void test_parse_fallbacks(void **state)
{
	struct conv_list l;
	struct conversion *c;

	(void)state;
	/* The first email Meta refuses falls through to the next candidate;
	 * customer gid gives the external id; billing then customer names. */
	c = parse_one("orders/create",
		      "{\"id\":4,\"email\":\"not-an-email\",\"contact_email\":\"\","
		      "\"customer\":{\"admin_graphql_api_id\":\"gid://shopify/Customer/123\","
		      "\"id\":999,\"email\":\"ana.silva@example.com\",\"first_name\":\"Ana\"},"
		      "\"billing_address\":{\"first_name\":\"\",\"phone\":\"+14155550132\"},"
		      "\"client_details\":{\"browser_ip\":\"not-an-ip\"},"
		      "\"browser_ip\":\"2001:db8::1\","
		      "\"note_attributes\":[{\"name\":\"_fbc\",\"value\":\"fb.1.5.FromCookie\"}],"
		      "\"landing_site\":\"https://elsewhere.example/x?fbclid=FromUrl\"}",
		      DOMAIN_HEADERS, &l);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EMAIL], H_EMAIL);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_PHONE], H_PHONE_M);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_FIRST_NAME], H_ANA);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EXTERNAL_ID],
			    "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3");
	assert_string_equal(c->client_ip, "2001:db8::1");
	/* The cookie's fbc wins over one rebuilt from the landing fbclid. */
	assert_string_equal(c->click[CLICK_FBC], "fb.1.5.FromCookie");
	assert_string_equal(c->click[CLICK_FBCLID], "FromUrl");
	/* Absolute landing URLs are kept as they are. */
	assert_string_equal(c->page_url, "https://elsewhere.example/x?fbclid=FromUrl");
	conv_list_cleanup(&l);
	/* A shop domain that is not a host name is not put into a URL. */
	c = parse_one("orders/create", "{\"id\":5,\"landing_site\":\"/p?gclid=G\"}",
		      "{\"X-Shopify-Shop-Domain\":\"evil.example/x?\"}", &l);
	assert_string_equal(c->page_url, "/p?gclid=G");
	assert_string_equal(c->click[CLICK_GCLID], "G");
	conv_list_cleanup(&l);
	c = parse_one("orders/create", "{\"id\":6,\"landing_site\":\"/p\"}",
		      "{\"Shopify-Shop-Domain\":\"b.myshopify.com\"}", &l);
	assert_string_equal(c->page_url, "https://b.myshopify.com/p");
	conv_list_cleanup(&l);
}

struct bad_body {
	const char *body;
	const char *msg;
};

static const struct bad_body bad_bodies[] = {
	{ "", "empty body" },
	{ "{", "not a JSON object" },
	{ "[]", "not a JSON object" },
	{ "null", "not a JSON object" },
	{ "{\"id\":1} trailing", "not a JSON object" },
	{ "{}", "order has no id" },
	{ "{\"id\":null}", "order has no id" },
	{ "{\"id\":9007199254740993}", "unusable" },
	{ "{\"id\":1e300}", "unusable" },
	{ "{\"id\":1.5}", "unusable" },
	{ "{\"id\":-1}", "unusable" },
	{ "{\"id\":true}", "unusable" },
	{ "{\"id\":\"12a\"}", "unusable" },
	{ "{\"id\":\"12345678901234567890\"}", "unusable" },
	{ "{\"admin_graphql_api_id\":\"gid://shopify/Order/12abc\"}", "order has no id" },
	{ "{\"id\":1,\"total_price\":12.5}", "total_price" },
	{ "{\"id\":1,\"total_price\":\"12,50\"}", "total_price" },
	{ "{\"id\":1,\"total_price\":\"\"}", "total_price" },
};

static void test_parse_bad_bodies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
		struct conv_list l;
		struct err e = { 0 };
		int rc = parse("orders/create", bad_bodies[i].body, strlen(bad_bodies[i].body),
			       NULL, &l, &e);

		if (rc != ERR_INVALID)
			fail_msg("case %zu (%s): rc %d", i, bad_bodies[i].body, rc);
		assert_int_equal(l.n, 0);
		if (strstr(e.msg, bad_bodies[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, bad_bodies[i].msg);
		conv_list_cleanup(&l);
	}
}

struct id_case {
	const char *body;
	const char *event_id;
};

static const struct id_case id_cases[] = {
	/* int64 beyond 2^53: only the GraphQL id has the exact digits */
	{ "{\"id\":9223372036854775807,"
	  "\"admin_graphql_api_id\":\"gid://shopify/Order/9223372036854775807\"}",
	  "shopify:order:9223372036854775807" },
	{ "{\"id\":9007199254740991}", "shopify:order:9007199254740991" },
	{ "{\"id\":\"5551234567890123456\"}", "shopify:order:5551234567890123456" },
	{ "{\"id\":0}", "shopify:order:0" },
	/* a gid of another type is ignored, the number is used */
	{ "{\"id\":5,\"admin_graphql_api_id\":\"gid://shopify/Product/6\"}", "shopify:order:5" },
	{ "{\"id\":7,\"admin_graphql_api_id\":12}", "shopify:order:7" },
};

static void test_parse_odd_ids(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
		struct conv_list l;
		struct conversion *c = parse_one("orders/paid", id_cases[i].body, NULL, &l);

		assert_string_equal(c->event_id, id_cases[i].event_id);
		assert_string_equal(c->order_id, id_cases[i].event_id + strlen("shopify:order:"));
		conv_list_cleanup(&l);
	}
}

static void test_parse_bounds(void **state)
{
	struct buf b;
	struct conv_list l;
	struct conversion *c;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "{\"id\":8,\"line_items\":[");
	for (int i = 0; i < 1200; i++)
		buf_printf(&b, "%s{\"sku\":\"S%d\",\"quantity\":1}", i ? "," : "", i);
	buf_puts(&b, "],\"client_details\":{\"user_agent\":\"");
	for (int i = 0; i < 5000; i++)
		buf_putc(&b, 'u');
	buf_puts(&b, "\"}}");
	c = parse_one("orders/create", b.data, NULL, &l);
	assert_int_equal(c->n_items, 1000);
	assert_string_equal(c->items[999].id, "S999");
	assert_null(c->user_agent);
	conv_list_cleanup(&l);
	buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_table),
		cmocka_unit_test(test_verify_empty_body_and_whitespace),
		cmocka_unit_test(test_verify_freshness),
		cmocka_unit_test(test_verify_freshness_and_hmac),
		cmocka_unit_test(test_verify_rotation_overlap),
		cmocka_unit_test(test_dedup_key),
		cmocka_unit_test(test_topic_and_headers),
		cmocka_unit_test(test_parse_fixture_order),
		cmocka_unit_test(test_parse_output_round_trips),
		cmocka_unit_test(test_parse_paid_same_event),
		cmocka_unit_test(test_parse_checkout),
		cmocka_unit_test(test_parse_ignored_topics),
		cmocka_unit_test(test_action),
		cmocka_unit_test(test_parse_nulls_everywhere),
		cmocka_unit_test(test_parse_wrong_types),
		cmocka_unit_test(test_parse_fallbacks),
		cmocka_unit_test(test_parse_bad_bodies),
		cmocka_unit_test(test_parse_odd_ids),
		cmocka_unit_test(test_parse_bounds),
	};

	if (sodium_init() < 0)
		return 1;
	source_register_config_keys(); /* as the daemons' main() does */
	return cmocka_run_group_tests(tests, setup, teardown);
}
