/*
 * test_shopify_privacy.c - the Shopify topics about customers
 * (shopify_customer.c): the contact hook on customers/create|update
 * (the record kept for Customer Match: hashes of the fixture's values,
 * unicode names, missing email, null and unusable ids), the names hook
 * that privacy requests use to find a customer's events, the action hook
 * and parse on the three privacy webhooks, and the HMAC check on a privacy
 * body (an invalid one must give 401).  Fixtures follow the payloads of
 * https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance;
 * expected hashes come from sha256sum and the signature from
 * `openssl dgst -sha256 -hmac`, not from the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "sources/source.h"
#include "testutil.h"

extern const struct source_ops shopify_source_ops;

#define CUSTOMER "7001122334455"
#define SECRET	 "shpss_test_secret"
/* openssl dgst -sha256 -hmac shpss_test_secret -binary shopify_customers_redact.json | base64 */
#define SIG_REDACT "UoXaWSAAdkn0NGUxIIFzC5F5gTNiV2t9U/Ye7k9cAk0="

/* sha256sum of the normalized values (as in test_shopify.c) */
#define H_EMAIL	   "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86"
#define H_PHONE_M  "11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51"
#define H_PHONE_G  "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462"
#define H_ANA	   "24d4b96f58da6d4a8512313bbd02a28ebf0ca95dec6e4c86ef78ce7f01e788ac"
#define H_SILVA	   "d24e913a4107af875dc2ac3d419798f3794d00434e5059fbb68ac8d33626eaee"
#define H_SF	   "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac"
#define H_94105	   "e73ac16e69f060ee98b0fda5f66f48c4648ee26950e9bab3a097389853fd859e"
#define H_CUSTOMER "4d8cde97d61f3c50205f809db95a04ef6b35977578ec43f33265b3bafed7158e"
#define H_ZOE	   "2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450" /* zoë */
#define H_ANGSTROM "d792fdbd024c6c8239fbb1d588beab4a614f12fb166e006c32cb85bceb2881ac"
#define H_SE_PHONE "8e24a4b21e0264bc681a90b358fcbd7c07502e036204986b1b6280917b0faa67"

static struct raw_event event(const char *topic, const char *body, size_t len)
{
	struct raw_event ev = { .id = 1,
				.source_id = "00000000-0000-0000-0000-000000000001",
				.topic = topic,
				.body = (const uint8_t *)body,
				.body_len = len,
				.received_us = 1800000000000000LL };

	return ev;
}

/* The contact hook on body as topic; *sc is the caller's to free. */
static void contact_of(const char *topic, const char *body, struct source_contact *sc)
{
	struct raw_event ev = event(topic, body, strlen(body));

	memset(sc, 0, sizeof(*sc));
	assert_non_null(shopify_source_ops.contact);
	shopify_source_ops.contact(&ev, sc);
}

static void test_contact_customer_create(void **state)
{
	size_t len;
	char *body = test_read_fixture("shopify_customers_create.json", &len);
	struct source_contact sc;
	const char *const *m, *const *g;

	(void)state;
	contact_of("customers/create", body, &sc);
	assert_string_equal(sc.key, CUSTOMER);
	assert_non_null(sc.known);
	m = (const char *const *)sc.known->ids[PII_SCHEME_META];
	g = (const char *const *)sc.known->ids[PII_SCHEME_GOOGLE];
	/* "Ana.Silva@Example.com" normalizes like the order's email */
	assert_string_equal(m[PII_EMAIL], H_EMAIL);
	assert_string_equal(m[PII_PHONE], H_PHONE_M);
	assert_string_equal(g[PII_PHONE], H_PHONE_G);
	assert_string_equal(m[PII_FIRST_NAME], H_ANA);
	assert_string_equal(m[PII_LAST_NAME], H_SILVA);
	assert_string_equal(m[PII_CITY], H_SF);
	assert_string_equal(m[PII_POSTAL], H_94105);
	assert_string_equal(g[PII_CITY], "san francisco");
	assert_string_equal(g[PII_REGION], "ca");
	assert_string_equal(g[PII_POSTAL], "94105");
	assert_string_equal(g[PII_COUNTRY], "us");
	assert_string_equal(m[PII_EXTERNAL_ID], H_CUSTOMER);
	/* no clear data and no click ids come with a customer record */
	assert_null(sc.known->client_ip);
	assert_null(sc.known->click[CLICK_GCLID]);
	conv_free(sc.known);
	/* customers/update is the same record */
	contact_of("customers/update", body, &sc);
	assert_string_equal(sc.key, CUSTOMER);
	assert_non_null(sc.known);
	conv_free(sc.known);
	free(body);
}

/* Unicode names hash in their lowercase UTF-8 form; a null email and
 * phone fall back to what the default address has. */
static void test_contact_unicode_no_email(void **state)
{
	size_t len;
	char *body = test_read_fixture("shopify_customers_update_unicode.json", &len);
	struct source_contact sc;
	const char *const *m, *const *g;

	(void)state;
	contact_of("customers/update", body, &sc);
	assert_string_equal(sc.key, "7001122334466");
	assert_non_null(sc.known);
	m = (const char *const *)sc.known->ids[PII_SCHEME_META];
	g = (const char *const *)sc.known->ids[PII_SCHEME_GOOGLE];
	assert_null(m[PII_EMAIL]);
	assert_null(g[PII_EMAIL]);
	assert_string_equal(m[PII_FIRST_NAME], H_ZOE);
	assert_string_equal(m[PII_LAST_NAME], H_ANGSTROM);
	assert_string_equal(g[PII_FIRST_NAME], H_ZOE);
	assert_string_equal(m[PII_PHONE], H_SE_PHONE);
	assert_string_equal(g[PII_CITY], "göteborg");
	assert_string_equal(g[PII_COUNTRY], "se");
	assert_null(g[PII_REGION]);
	conv_free(sc.known);
	free(body);
}

/* Only the customer topics keep a record, and only with a usable id. */
static void test_contact_nobody(void **state)
{
	static const struct {
		const char *topic, *body;
	} cases[] = {
		{ "orders/create", "{\"id\":1,\"customer\":{\"id\":7001122334455}}" },
		{ "customers/redact", "{\"customer\":{\"id\":7001122334455}}" },
		{ "customers/create", "{\"id\":null,\"email\":\"a@b.example\"}" },
		{ "customers/create", "{\"email\":\"a@b.example\"}" },
		{ "customers/create", "{\"id\":1.5,\"email\":\"a@b.example\"}" },
		{ "customers/create", "{\"id\":\"12ab\"}" },
		{ "customers/create", "{\"id\":99999999999999999999}" },
		{ "customers/create", "[1,2]" },
		{ "customers/create", "not json" },
		{ "customers/create", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct source_contact sc;

		contact_of(cases[i].topic, cases[i].body, &sc);
		if (sc.key[0] != '\0' || sc.known != NULL)
			fail_msg("case %zu (%s %s) named \"%s\"", i, cases[i].topic, cases[i].body,
				 sc.key);
	}
}

/* A record without email still names its customer (phone only). */
static void test_contact_missing_email(void **state)
{
	struct source_contact sc;

	(void)state;
	contact_of("customers/create",
		   "{\"admin_graphql_api_id\":\"gid://shopify/Customer/42\",\"id\":42,"
		   "\"phone\":\"+14155550132\",\"default_address\":null}",
		   &sc);
	assert_string_equal(sc.key, "42");
	assert_non_null(sc.known);
	assert_null(sc.known->ids[PII_SCHEME_META][PII_EMAIL]);
	assert_string_equal(sc.known->ids[PII_SCHEME_META][PII_PHONE], H_PHONE_M);
	conv_free(sc.known);
}

static bool names(const char *topic, const char *body, const char *key)
{
	struct raw_event ev = event(topic, body, strlen(body));

	return shopify_source_ops.names(&ev, key);
}

static void test_names(void **state)
{
	size_t lo, lr, lc;
	char *order = test_read_fixture("shopify_orders_create.json", &lo);
	char *redact = test_read_fixture("shopify_customers_redact.json", &lr);
	char *cust = test_read_fixture("shopify_customers_create.json", &lc);

	(void)state;
	assert_non_null(shopify_source_ops.names);
	assert_true(names("orders/create", order, CUSTOMER));
	assert_true(names("orders/paid", order, CUSTOMER));
	assert_false(names("orders/create", order, "7001122334456"));
	/* the order's own id is not a customer */
	assert_false(names("orders/create", order, "5551234567890"));
	assert_true(names("customers/create", cust, CUSTOMER));
	assert_true(names("customers/redact", redact, CUSTOMER));
	assert_true(names("customers/data_request", redact, CUSTOMER));
	assert_false(names("shop/redact", "{\"shop_id\":954889}", "954889"));
	assert_false(names("orders/create", "{\"id\":1,\"customer\":null}", CUSTOMER));
	assert_false(names("orders/create", "not json " CUSTOMER, CUSTOMER));
	assert_false(names("orders/create", order, ""));
	assert_true(names("orders/create", "{\"customer\":{\"id\":\"7001122334455\"}}", CUSTOMER));
	free(order);
	free(redact);
	free(cust);
}

static enum source_action action(const char *topic, const char *body, char *key)
{
	struct raw_event ev = event(topic, body, strlen(body));

	return shopify_source_ops.action(&ev, key);
}

static int parse_n(const char *topic, const char *body, size_t *n, struct err *e)
{
	struct raw_event ev = event(topic, body, strlen(body));
	struct conv_list l;
	int rc;

	conv_list_init(&l);
	rc = shopify_source_ops.parse(&ev, &l, e);
	*n = l.n;
	conv_list_cleanup(&l);
	return rc;
}

static void test_privacy_topics(void **state)
{
	size_t lr, ld, ls, lc, n;
	char *redact = test_read_fixture("shopify_customers_redact.json", &lr);
	char *dreq = test_read_fixture("shopify_customers_data_request.json", &ld);
	char *shop = test_read_fixture("shopify_shop_redact.json", &ls);
	char *cust = test_read_fixture("shopify_customers_create.json", &lc);
	char key[SOURCE_CONTACT_KEY_MAX];
	struct err e = { 0 };

	(void)state;
	assert_int_equal(action("customers/redact", redact, key), SOURCE_ACTION_REDACT_PERSON);
	assert_string_equal(key, CUSTOMER);
	assert_int_equal(action("customers/data_request", dreq, key), SOURCE_ACTION_DATA_REQUEST);
	assert_string_equal(key, CUSTOMER);
	assert_int_equal(action("shop/redact", shop, key), SOURCE_ACTION_REDACT_SOURCE);
	assert_string_equal(key, "");
	assert_int_equal(action("customers/create", cust, key), SOURCE_ACTION_NONE);
	assert_string_equal(key, "");
	/* a redact that names nobody asks nothing, and is an error */
	assert_int_equal(action("customers/redact", "{\"customer\":null}", key),
			 SOURCE_ACTION_NONE);
	assert_int_equal(parse_n("customers/redact", "{\"customer\":null}", &n, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "names no customer"));
	assert_int_equal(parse_n("customers/data_request", "{}", &n, &e), ERR_INVALID);
	/* none of them is a conversion */
	assert_int_equal(parse_n("customers/redact", redact, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(parse_n("customers/data_request", dreq, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(parse_n("shop/redact", shop, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(parse_n("customers/create", cust, &n, &e), 0);
	assert_int_equal(n, 0);
	free(redact);
	free(dreq);
	free(shop);
	free(cust);
}

/* Privacy bodies are verified like every topic: a bad HMAC is ERR_AUTH
 * (the HTTP layer's 401, which Shopify requires for these). */
static void test_verify_privacy_body(void **state)
{
	size_t len;
	char *body = test_read_fixture("shopify_customers_redact.json", &len);
	struct source src = { .kind = "shopify", .enabled = true, .ops = &shopify_source_ops };
	struct source_ctx ctx = { .cfg = NULL, .now_us = 0 };
	struct http_header h[2] = { { "X-Shopify-Hmac-Sha256", SIG_REDACT },
				    { "X-Shopify-Topic", "customers/redact" } };
	struct http_req req = { .method = "POST", .headers = h, .n_headers = 2 };
	struct err e = { 0 };

	(void)state;
	src.secret[0] = (const unsigned char *)SECRET;
	src.secret_len[0] = strlen(SECRET);
	src.n_secrets = 1;
	req.body = (const uint8_t *)body;
	req.body_len = len;
	assert_int_equal(shopify_source_ops.verify(&src, &ctx, &req, &e), 0);
	body[len - 3] ^= 1;
	assert_int_equal(shopify_source_ops.verify(&src, &ctx, &req, &e), ERR_AUTH);
	body[len - 3] ^= 1;
	h[0].value = "UoXaWSAAdkn0NGUxIIFzC5F5gTNiV2t9U/Ye7k9cAk1=";
	assert_int_equal(shopify_source_ops.verify(&src, &ctx, &req, &e), ERR_AUTH);
	free(body);
}

/* A disabled source still takes the privacy topics, and nothing else;
 * stage 1's claim gets them as a text[] literal. */
static void test_disabled_topics(void **state)
{
	static const struct {
		const char *topic;
		bool taken;
	} cases[] = {
		{ "shop/redact", true },
		{ "customers/redact", true },
		{ "customers/data_request", true },
		{ "orders/create", false },
		{ "app/uninstalled", false },
		{ "customers/create", false },
		{ "SHOP/REDACT", false },
		{ "", false },
	};
	char lit[512], small[8];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_header h[1] = { { "X-Shopify-Topic", cases[i].topic } };
		struct http_req req = { .method = "POST", .headers = h, .n_headers = 1 };

		if (source_takes_when_disabled(&shopify_source_ops, &req) != cases[i].taken)
			fail_msg("topic \"%s\"", cases[i].topic);
	}
	assert_false(source_takes_when_disabled(NULL, NULL));
	assert_true(source_disabled_topics_literal(lit, sizeof(lit)));
	assert_string_equal(lit,
			    "{\"customers/data_request\",\"customers/redact\",\"shop/redact\"}");
	assert_false(source_disabled_topics_literal(small, sizeof(small)));
	assert_string_equal(small, "{}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contact_customer_create),
		cmocka_unit_test(test_contact_unicode_no_email),
		cmocka_unit_test(test_contact_nobody),
		cmocka_unit_test(test_contact_missing_email),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_privacy_topics),
		cmocka_unit_test(test_verify_privacy_body),
		cmocka_unit_test(test_disabled_topics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
