/*
 * test_google_datamanager.c - the Data Manager destination: the events:ingest
 * body against a fixture (test/fixtures/google/dm_ingest_expected.json),
 * every branch of the body (identifiers, click ids, EEA IPs, consent, test
 * mode), build errors, accepts(), validate, the answer classifier as a
 * table over Google-shaped error bodies (fixtures dm_error_*.json), and the
 * requestStatus:retrieve hooks (dm_status_*.json).
 *
 * The order conversion is built from the clear values of the Shopify
 * fixture order through conv_set_pii, so the Google hashes in the expected
 * body (sha256sum of the normalized values) also pin the Google hashing
 * rules end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "core/config.h"
#include "destinations/dest.h"
#include "destinations/google_datamanager.h"
#include "testutil.h"

extern const struct dest_ops google_datamanager_dest_ops;
#define OPS google_datamanager_dest_ops

#define TOKEN	 "ya29.a0-test_token"
#define DEST_ID	 "0f6c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5"
#define ORDER_US (INT64_C(1795734251) * 1000000) /* 2026-11-26T23:04:11Z */
#define GCLID	 "Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz"
#define EMAIL_H	 "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86"
#define FIRST_H	 "24d4b96f58da6d4a8512313bbd02a28ebf0ca95dec6e4c86ef78ce7f01e788ac"
#define LAST_H	 "d24e913a4107af875dc2ac3d419798f3794d00434e5059fbb68ac8d33626eaee"
#define STD_SET	 "{\"customer_id\":\"1234567890\",\"conversion_action\":\"555666777\"}"
#define LOGIN_SET                                                                                  \
	"{\"customer_id\":\"1234567890\",\"login_customer_id\":\"9876543210\","                    \
	"\"conversion_action\":\"555666777\"}"
#define TYPE_BAD_REQUEST_FOR_TEST "type.googleapis.com/google.rpc.BadRequest"
#define UA                                                                                         \
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "   \
	"Version/17.6 Safari/605.1.15"

/* ---- helpers ------------------------------------------------------------- */

/* The Shopify fixture order (test/fixtures/shopify_orders_create.json). */
static struct conversion *order_conversion(void)
{
	struct conversion *c = test_conversion("purchase", "shopify:order:5551234567890", ORDER_US);

	c->value = xstrdup("129.90");
	c->currency = xstrdup("USD");
	c->order_id = xstrdup("1042");
	c->client_ip = xstrdup("203.0.113.24");
	c->user_agent = xstrdup(UA);
	conv_set_pii(c, PII_EMAIL, "  Ana.Silva@Example.com");
	conv_set_pii(c, PII_PHONE, "+1 (415) 555-0132");
	conv_set_pii(c, PII_FIRST_NAME, "Ana");
	conv_set_pii(c, PII_LAST_NAME, "Silva");
	conv_set_pii(c, PII_CITY, "San Francisco");
	conv_set_pii(c, PII_REGION, "CA");
	conv_set_pii(c, PII_POSTAL, "94105");
	conv_set_pii(c, PII_COUNTRY, "US");
	conv_set_click(c, CLICK_GCLID, GCLID);
	conv_set_click(c, CLICK_FBP, "fb.1.1732662000000.1098765432");
	c->consent_ad_user_data = xstrdup("granted");
	c->consent_ad_personalization = xstrdup("denied");
	return c;
}

static void dest_init(struct destination *d, const char *settings)
{
	test_dest_init(d, &OPS, "https://dm.example/", settings, NULL);
	snprintf(d->id, sizeof(d->id), "%s", DEST_ID);
	d->api_version = xstrdup("v1");
}

/* Build convs with settings (test mode as given); the body parsed. */
static cJSON *build_with(const char *settings, bool test_mode, struct conversion **convs, size_t n,
			 struct upload_req *req)
{
	struct destination d;
	struct err e;
	cJSON *body;

	dest_init(&d, settings);
	d.test_mode = test_mode;
	upload_req_init(req);
	err_clear(&e);
	if (OPS.build(&d, TOKEN, convs, n, req, &e) != 0)
		fail_msg("build: %s", e.msg);
	test_dest_cleanup(&d);
	assert_int_equal(req->method, UPLOAD_POST);
	assert_string_equal(req->url, "https://dm.example/v1/events:ingest");
	assert_string_equal(req->log_url, req->url);
	assert_int_equal(req->n_headers, 2);
	assert_string_equal(req->headers[0], "Authorization: Bearer " TOKEN);
	assert_string_equal(req->headers[1], "Content-Type: application/json");
	assert_null(strstr(req->body.data, TOKEN));
	body = cJSON_Parse(req->body.data);
	assert_non_null(body);
	return body;
}

static cJSON *build_one(struct conversion *c, const char *settings, struct upload_req *req)
{
	return build_with(settings, false, &c, 1, req);
}

static void done(cJSON *body, struct upload_req *req, struct conversion *c)
{
	cJSON_Delete(body);
	upload_req_cleanup(req);
	conv_free(c);
}

/* ---- registration ------------------------------------------------------------ */

static void test_ops_registered(void **state)
{
	(void)state;
	assert_ptr_equal(dest_ops_find("google_datamanager"), &OPS);
	assert_string_equal(OPS.endpoint_key, "google_datamanager");
	assert_int_equal(OPS.max_batch, 2000);
	assert_int_equal(OPS.max_age_s, 90 * 24 * 3600);
	assert_true(OPS.age_from_click);
	assert_string_equal(OPS.oauth_scopes, "https://www.googleapis.com/auth/datamanager "
					      "https://www.googleapis.com/auth/adwords");
	assert_string_equal(OPS.oauth_provider, "google");
	assert_non_null(OPS.auth_grant);
	assert_non_null(OPS.prepare_settings);
	assert_non_null(OPS.accepts);
	/* The version key is the one it says it is (an index into the shared
	 * [google] table). */
	assert_non_null(OPS.api_version_key);
	assert_string_equal(OPS.api_version_key->section, "google");
	assert_string_equal(OPS.api_version_key->name, "datamanager_api_version");
	assert_string_equal(OPS.api_version_key->def, "v1");
	assert_ptr_equal(OPS.api_version_key,
			 &OPS.config_keys[OPS.api_version_key - OPS.config_keys]);
	assert_true((size_t)(OPS.api_version_key - OPS.config_keys) < OPS.n_config_keys);
	for (size_t i = 0; i < OPS.n_config_keys; i++)
		assert_non_null(OPS.config_keys[i].name);
}

/* ---- build ---------------------------------------------------------------------- */

static void test_build_matches_fixture(void **state)
{
	struct conversion *c = order_conversion();
	char *text = test_read_fixture("google/dm_ingest_expected.json", NULL);
	cJSON *expected = cJSON_Parse(text);
	struct upload_req req;
	cJSON *body;

	(void)state;
	assert_non_null(expected);
	body = build_one(c, LOGIN_SET, &req);
	if (!cJSON_Compare(body, expected, 1)) {
		char *got = cJSON_Print(body);

		fprintf(stderr, "body differs from the fixture:\n%s\n", got);
		cJSON_free(got);
		fail();
	}
	/* Money keeps its text: never through a double. */
	assert_non_null(strstr(req.body.data, "\"conversionValue\":129.90,"));
	/* Meta's identifiers stay out. */
	assert_null(strstr(req.body.data, "fb.1."));
	assert_null(strstr(req.body.data, c->ids[PII_SCHEME_META][PII_PHONE]));
	free(text);
	cJSON_Delete(expected);
	done(body, &req, c);
}

static void test_build_without_login_and_user_data(void **state)
{
	struct conversion *c = test_conversion("purchase", "api:7", ORDER_US);
	struct upload_req req;
	cJSON *body, *ev;

	(void)state;
	conv_set_click(c, CLICK_GBRAID, "gb-1");
	conv_set_click(c, CLICK_WBRAID, "wb-1");
	body = build_one(c, STD_SET, &req);
	assert_null(test_json_at(body, "encoding"));
	assert_true(cJSON_IsFalse(test_json_at(body, "validateOnly")));
	assert_null(test_json_at(cJSON_GetArrayItem(test_json_at(body, "destinations"), 0),
				 "loginAccount"));
	assert_string_equal(test_json_str(cJSON_GetArrayItem(test_json_at(body, "destinations"), 0),
					  "productDestinationId"),
			    "555666777");
	ev = test_json_item(body, "events", 0);
	/* No order id: the event id is the dedup key. */
	assert_string_equal(test_json_str(ev, "transactionId"), "api:7");
	assert_string_equal(test_json_str(ev, "eventTimestamp"), "2026-11-26T23:04:11Z");
	assert_string_equal(test_json_str(ev, "eventSource"), "WEB");
	/* One click id: gbraid before wbraid. */
	assert_string_equal(test_json_str(ev, "adIdentifiers.gbraid"), "gb-1");
	assert_null(test_json_at(ev, "adIdentifiers.wbraid"));
	assert_null(test_json_at(ev, "adIdentifiers.landingPageDeviceInfo"));
	assert_null(test_json_at(ev, "userData"));
	assert_null(test_json_at(ev, "consent"));
	assert_null(test_json_at(ev, "conversionValue"));
	assert_null(test_json_at(ev, "currency"));
	done(body, &req, c);
}

static void test_build_test_mode_validate_only(void **state)
{
	struct conversion *c = order_conversion();
	struct upload_req req;
	cJSON *body;

	(void)state;
	body = build_with(STD_SET, true, &c, 1, &req);
	assert_true(cJSON_IsTrue(test_json_at(body, "validateOnly")));
	done(body, &req, c);
}

/* Never an IP for EEA/UK/CH customers, nor when the country is unknown;
 * the user agent still goes. */
static void test_build_ip_by_country(void **state)
{
	static const struct {
		const char *country; /* clear, NULL = none */
		bool ip;
	} cases[] = {
		{ "US", true },	 { "BR", true },  { "JP", true },  { "DE", false }, { "FR", false },
		{ "GR", false }, { "SE", false }, { "IE", false }, { "NO", false }, { "IS", false },
		{ "LI", false }, { "GB", false }, { "CH", false }, { "RE", false }, { NULL, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conversion *c = test_conversion("purchase", "ip:1", ORDER_US);
		struct upload_req req;
		cJSON *body;

		c->client_ip = xstrdup("2001:db8::7");
		c->user_agent = xstrdup(UA);
		conv_set_pii(c, PII_COUNTRY, cases[i].country);
		body = build_one(c, STD_SET, &req);
		if ((test_json_str(test_json_item(body, "events", 0),
				   "adIdentifiers.landingPageDeviceInfo.ipAddress") != NULL) !=
		    cases[i].ip)
			fail_msg("country %s: %s", cases[i].country ? cases[i].country : "-",
				 req.body.data);
		assert_string_equal(test_json_str(test_json_item(body, "events", 0),
						  "adIdentifiers.landingPageDeviceInfo.userAgent"),
				    UA);
		done(body, &req, c);
	}
}

static void test_build_bad_ip_left_out(void **state)
{
	struct conversion *c = test_conversion("purchase", "ip:2", ORDER_US);
	struct upload_req req;
	cJSON *body;

	(void)state;
	conv_set_pii(c, PII_COUNTRY, "US");
	c->client_ip = xstrdup("not an ip");
	conv_set_click(c, CLICK_GCLID, "g");
	body = build_one(c, STD_SET, &req);
	assert_string_equal(test_json_str(test_json_item(body, "events", 0), "adIdentifiers.gclid"),
			    "g");
	assert_null(test_json_at(test_json_item(body, "events", 0),
				 "adIdentifiers.landingPageDeviceInfo"));
	done(body, &req, c);
}

/* One identifier per element; an address only with all four parts; only
 * 64-hex hashes; encoding whenever one event has userData. */
static void test_build_identifiers(void **state)
{
	struct conversion *convs[4];
	struct upload_req req;
	cJSON *body, *ids;

	(void)state;
	convs[0] = test_conversion("purchase", "id:0", ORDER_US); /* email only */
	conv_set_pii(convs[0], PII_EMAIL, "Ana.Silva@Example.com");
	convs[1] = test_conversion("purchase", "id:1", ORDER_US); /* address without postal code */
	conv_set_pii(convs[1], PII_FIRST_NAME, "Ana");
	conv_set_pii(convs[1], PII_LAST_NAME, "Silva");
	conv_set_pii(convs[1], PII_COUNTRY, "US");
	conv_set_pii(convs[1], PII_PHONE, "+1 415 555 0132");
	convs[2] = test_conversion("purchase", "id:2", ORDER_US); /* values that are not hashes */
	convs[2]->ids[PII_SCHEME_GOOGLE][PII_EMAIL] = xstrdup("ana@example.com");
	convs[2]->ids[PII_SCHEME_GOOGLE][PII_PHONE] =
		xstrdup("9E1919AD78A34FD67A84BFBCF2FEA14074065517BEA32E92924771C3F92E5462");
	conv_set_click(convs[2], CLICK_GCLID, "g2");
	convs[3] = test_conversion("purchase", "id:3", ORDER_US); /* address only */
	conv_set_pii(convs[3], PII_FIRST_NAME, "Mrs. Ana");
	conv_set_pii(convs[3], PII_LAST_NAME, "Silva Jr.");
	conv_set_pii(convs[3], PII_COUNTRY, "de");
	conv_set_pii(convs[3], PII_POSTAL, "10115");
	body = build_with(STD_SET, false, convs, 4, &req);

	assert_string_equal(test_json_str(body, "encoding"), "HEX");
	ids = test_json_at(test_json_item(body, "events", 0), "userData.userIdentifiers");
	assert_int_equal(cJSON_GetArraySize(ids), 1);
	assert_string_equal(test_json_str(cJSON_GetArrayItem(ids, 0), "emailAddress"), EMAIL_H);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(ids, 0)), 1);
	ids = test_json_at(test_json_item(body, "events", 1), "userData.userIdentifiers");
	assert_int_equal(cJSON_GetArraySize(ids), 1);
	assert_non_null(test_json_str(cJSON_GetArrayItem(ids, 0), "phoneNumber"));
	assert_null(test_json_at(test_json_item(body, "events", 2), "userData"));
	assert_null(strstr(req.body.data, "ana@example.com"));
	assert_null(strstr(req.body.data, "9E1919"));
	ids = test_json_at(test_json_item(body, "events", 3), "userData.userIdentifiers");
	assert_int_equal(cJSON_GetArraySize(ids), 1);
	assert_string_equal(test_json_str(cJSON_GetArrayItem(ids, 0), "address.givenName"),
			    FIRST_H);
	assert_string_equal(test_json_str(cJSON_GetArrayItem(ids, 0), "address.familyName"),
			    LAST_H);
	assert_string_equal(test_json_str(cJSON_GetArrayItem(ids, 0), "address.regionCode"), "DE");
	assert_string_equal(test_json_str(cJSON_GetArrayItem(ids, 0), "address.postalCode"),
			    "10115");
	assert_int_equal(cJSON_GetArraySize(test_json_at(cJSON_GetArrayItem(ids, 0), "address")),
			 4);
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	for (int i = 0; i < 4; i++)
		conv_free(convs[i]);
}

/* The conversion's consent wins, field by field; else the destination's
 * default; unspecified sends none. */
static void test_build_consent(void **state)
{
	static const struct {
		const char *setting; /* settings.consent, NULL = absent */
		const char *ud;	     /* conversion's ad_user_data */
		const char *ap;
		const char *want_ud; /* NULL = absent */
		const char *want_ap;
	} cases[] = {
		{ NULL, NULL, NULL, NULL, NULL },
		{ "unspecified", NULL, NULL, NULL, NULL },
		{ "granted", NULL, NULL, "CONSENT_GRANTED", "CONSENT_GRANTED" },
		{ "denied", NULL, NULL, "CONSENT_DENIED", "CONSENT_DENIED" },
		{ "denied", "granted", NULL, "CONSENT_GRANTED", "CONSENT_DENIED" },
		{ NULL, "denied", NULL, "CONSENT_DENIED", NULL },
		{ NULL, NULL, "granted", NULL, "CONSENT_GRANTED" },
		{ "granted", "denied", "denied", "CONSENT_DENIED", "CONSENT_DENIED" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conversion *c = test_conversion("purchase", "consent:1", ORDER_US);
		struct upload_req req;
		char settings[256];
		const char *ud, *ap;
		cJSON *body;

		conv_set_click(c, CLICK_GCLID, "g");
		c->consent_ad_user_data = cases[i].ud ? xstrdup(cases[i].ud) : NULL;
		c->consent_ad_personalization = cases[i].ap ? xstrdup(cases[i].ap) : NULL;
		snprintf(settings, sizeof(settings),
			 "{\"customer_id\":\"1234567890\",\"conversion_action\":\"1\"%s%s%s}",
			 cases[i].setting ? ",\"consent\":\"" : "",
			 cases[i].setting ? cases[i].setting : "", cases[i].setting ? "\"" : "");
		body = build_one(c, settings, &req);
		ud = test_json_str(test_json_item(body, "events", 0), "consent.adUserData");
		ap = test_json_str(test_json_item(body, "events", 0), "consent.adPersonalization");
		if ((ud == NULL) != (cases[i].want_ud == NULL) ||
		    (ud && strcmp(ud, cases[i].want_ud) != 0) ||
		    (ap == NULL) != (cases[i].want_ap == NULL) ||
		    (ap && strcmp(ap, cases[i].want_ap) != 0))
			fail_msg("case %zu: %s", i, req.body.data);
		if (!cases[i].want_ud && !cases[i].want_ap)
			assert_null(test_json_at(test_json_item(body, "events", 0), "consent"));
		/* No request-level consent: per event only. */
		assert_null(test_json_at(body, "consent"));
		done(body, &req, c);
	}
}

static void test_build_value_text(void **state)
{
	static const struct {
		const char *value;
		const char *text; /* NULL = left out */
	} cases[] = {
		{ "129.90", "\"conversionValue\":129.90," },
		{ "0", "\"conversionValue\":0," },
		{ "12345678901234567890.01", "\"conversionValue\":12345678901234567890.01," },
		{ "-5.00", "\"conversionValue\":-5.00," },
		{ "1e3", NULL },
		{ "007", NULL },
		{ "12,50", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conversion *c = test_conversion("purchase", "v:1", ORDER_US);
		struct upload_req req;
		cJSON *body;

		conv_set_click(c, CLICK_GCLID, "g");
		c->value = xstrdup(cases[i].value);
		c->currency = xstrdup("EUR");
		body = build_one(c, STD_SET, &req);
		if (cases[i].text ? strstr(req.body.data, cases[i].text) == NULL
				  : strstr(req.body.data, "conversionValue") != NULL)
			fail_msg("value \"%s\": %s", cases[i].value, req.body.data);
		assert_string_equal(test_json_str(test_json_item(body, "events", 0), "currency"),
				    "EUR");
		done(body, &req, c);
	}
}

static void test_build_errors(void **state)
{
	static const struct {
		const char *settings;
		const char *token;
		const char *base;
		const char *version;
		size_t n;
		int code;
		const char *msg_part;
	} cases[] = {
		{ "{\"customer_id\":\"1234567890\"}", TOKEN, "http://x", "v1", 1, ERR_CONFIG,
		  "no conversion action: run adsengctl google create-conversion-action" },
		{ "{\"customer_id\":\"1234567890\",\"conversion_action\":\"abc\"}", TOKEN,
		  "http://x", "v1", 1, ERR_CONFIG, "no conversion action" },
		{ "{\"conversion_action\":\"1\"}", TOKEN, "http://x", "v1", 1, ERR_CONFIG,
		  "customer id" },
		{ "{\"customer_id\":\"123\",\"conversion_action\":\"1\"}", TOKEN, "http://x", "v1",
		  1, ERR_CONFIG, "customer id" },
		{ "{\"customer_id\":\"1234567890\",\"login_customer_id\":\"12\","
		  "\"conversion_action\":\"1\"}",
		  TOKEN, "http://x", "v1", 1, ERR_CONFIG, "login customer id" },
		{ STD_SET, NULL, "http://x", "v1", 1, ERR_CONFIG, "access token" },
		{ STD_SET, "", "http://x", "v1", 1, ERR_CONFIG, "access token" },
		{ STD_SET, "ya29.x\r\nX-Evil: 1", "http://x", "v1", 1, ERR_CONFIG, "access token" },
		{ STD_SET, "ya29 x", "http://x", "v1", 1, ERR_CONFIG, "access token" },
		{ STD_SET, TOKEN, NULL, "v1", 1, ERR_CONFIG, "base URL" },
		{ STD_SET, TOKEN, "http://x", NULL, 1, ERR_CONFIG, "API version" },
		{ STD_SET, TOKEN, "http://x", "1", 1, ERR_CONFIG, "API version" },
		{ STD_SET, TOKEN, "http://x", "v1/../x", 1, ERR_CONFIG, "API version" },
		{ STD_SET, TOKEN, "http://x", "v1", 0, ERR_INVALID, "batch" },
		{ STD_SET, TOKEN, "http://x", "v1", 2001, ERR_INVALID, "batch" },
	};
	struct conversion *c = test_conversion("purchase", "e:1", ORDER_US);
	struct conversion **convs = calloc(2001, sizeof(*convs));

	(void)state;
	assert_non_null(convs);
	for (size_t i = 0; i < 2001; i++)
		convs[i] = c;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct destination d;
		struct upload_req req;
		struct err e;
		int rc;

		dest_init(&d, cases[i].settings);
		free(d.base_url);
		free(d.api_version);
		d.base_url = cases[i].base ? xstrdup(cases[i].base) : NULL;
		d.api_version = cases[i].version ? xstrdup(cases[i].version) : NULL;
		upload_req_init(&req);
		err_clear(&e);
		rc = OPS.build(&d, cases[i].token, convs, cases[i].n, &req, &e);
		if (rc != cases[i].code || strstr(e.msg, cases[i].msg_part) == NULL)
			fail_msg("case %zu: rc %d \"%s\"", i, rc, e.msg);
		assert_null(req.url);
		assert_int_equal(req.n_headers, 0);
		assert_int_equal(req.body.len, 0);
		upload_req_cleanup(&req);
		test_dest_cleanup(&d);
	}
	free(convs);
	conv_free(c);
}

/* A full batch builds (the limit is Google's 2000). */
static void test_build_max_batch(void **state)
{
	struct conversion *c = order_conversion();
	struct conversion **convs = calloc(2000, sizeof(*convs));
	struct upload_req req;
	cJSON *body;

	(void)state;
	assert_non_null(convs);
	for (size_t i = 0; i < 2000; i++)
		convs[i] = c;
	body = build_with(STD_SET, false, convs, 2000, &req);
	assert_int_equal(cJSON_GetArraySize(test_json_at(body, "events")), 2000);
	free(convs);
	done(body, &req, c);
}

/* ---- accepts, validate -------------------------------------------------------- */

static void test_accepts(void **state)
{
	struct destination d;
	char why[64];
	struct conversion *c;

	(void)state;
	dest_init(&d, STD_SET);
	c = test_conversion("purchase", "a:1", ORDER_US);
	why[0] = '\0';
	assert_false(OPS.accepts(&d, c, why, sizeof(why)));
	assert_string_equal(why, "no click id or user identifier");
	/* Meta's click ids and half an address match nothing at Google. */
	conv_set_click(c, CLICK_FBCLID, "fb");
	conv_set_pii(c, PII_FIRST_NAME, "Ana");
	conv_set_pii(c, PII_COUNTRY, "US");
	c->ids[PII_SCHEME_META][PII_EMAIL] = xstrdup(EMAIL_H);
	c->ids[PII_SCHEME_GOOGLE][PII_PHONE] = xstrdup("+14155550132"); /* not a hash */
	assert_false(OPS.accepts(&d, c, why, sizeof(why)));
	conv_set_pii(c, PII_LAST_NAME, "Silva");
	assert_false(OPS.accepts(&d, c, why, sizeof(why)));
	conv_set_pii(c, PII_POSTAL, "94105");
	assert_true(OPS.accepts(&d, c, why, sizeof(why)));
	conv_free(c);

	c = test_conversion("purchase", "a:2", ORDER_US);
	conv_set_click(c, CLICK_WBRAID, "wb");
	assert_true(OPS.accepts(&d, c, why, sizeof(why)));
	conv_free(c);
	c = test_conversion("purchase", "a:3", ORDER_US);
	conv_set_pii(c, PII_EMAIL, "x@example.com");
	assert_true(OPS.accepts(&d, c, why, sizeof(why)));
	conv_free(c);
	c = test_conversion("purchase", "a:4", ORDER_US);
	conv_set_pii(c, PII_PHONE, "+44 20 7946 0958");
	assert_true(OPS.accepts(&d, c, why, sizeof(why)));
	conv_free(c);
	test_dest_cleanup(&d);
}

static void test_validate(void **state)
{
	static const struct {
		const char *settings;
		const char *creds;
		bool ok;
	} cases[] = {
		{ STD_SET, "{}", true },
		/* The conversion action may come later (create-conversion-action). */
		{ "{\"customer_id\":\"1234567890\"}",
		  "{\"client_id\":\"c\",\"client_secret\":\"s\",\"refresh_token\":\"r\"}", true },
		{ "{\"customer_id\":\"1234567890\",\"api_version\":\"v2\"}", "{}", true },
		{ "{\"customer_id\":\"1234567890\",\"api_version\":\"2\"}", "{}", false },
		{ "{\"customer_id\":\"1234567890\",\"api_version\":7}", "{}", false },
		{ "{\"customer_id\":\"1234567890\",\"consent\":\"maybe\"}", "{}", false },
		{ "{}", "{}", false },
		{ "{\"customer_id\":\"1234567890\"}", "{\"refresh_token\":\"\"}", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *s = cJSON_Parse(cases[i].settings);
		cJSON *cr = cJSON_Parse(cases[i].creds);
		struct err e;
		int rc;

		err_clear(&e);
		rc = OPS.validate(s, cr, i % 2 == 0, &e);
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu: rc %d \"%s\"", i, rc, e.msg);
		if (rc != 0) {
			assert_int_equal(rc, ERR_CONFIG);
			assert_non_null(strstr(e.msg, "google_datamanager"));
		}
		cJSON_Delete(s);
		cJSON_Delete(cr);
	}
}

/* prepare_settings (google_common) then validate: ids with hyphens and a
 * conversion action's resource name are stored as plain ids. */
static void test_prepare_settings(void **state)
{
	cJSON *s = cJSON_Parse("{\"customer_id\":\"123-456-7890\","
			       "\"conversion_action\":\"customers/1234567890/conversionActions/"
			       "555666777\",\"consent\":\"GRANTED\"}");
	struct err e;

	(void)state;
	err_clear(&e);
	assert_int_equal(OPS.prepare_settings(s, &e), 0);
	assert_string_equal(dest_settings_str(s, "customer_id"), "1234567890");
	assert_string_equal(dest_settings_str(s, "conversion_action"), "555666777");
	assert_string_equal(dest_settings_str(s, "consent"), "granted");
	assert_int_equal(OPS.validate(s, NULL, false, &e), 0);
	cJSON_Delete(s);
}

/* ---- result ---------------------------------------------------------------------- */

struct rcase {
	const char *name;
	bool transport;
	long status;
	const char *fixture; /* google/…, or NULL: body */
	const char *body;
	long retry_after;
	size_t n;
	enum outcome_kind kind;
	const char *code;
	long want_retry_after;
	const char *msg_part;
};

static void run_result(const struct rcase *t, struct outcome *out)
{
	struct conversion *c = test_conversion("purchase", "r:1", ORDER_US);
	struct conversion *convs[4] = { c, c, c, c };
	char *text = t->fixture ? test_read_fixture(t->fixture, NULL) : NULL;
	struct upload_resp resp;
	struct destination d;

	dest_init(&d, STD_SET);
	memset(&resp, 0, sizeof(resp));
	memset(out, 0xA5, 5 * sizeof(*out));
	resp.transport_error = t->transport;
	if (t->transport)
		snprintf(resp.transport_msg, sizeof(resp.transport_msg),
			 "connection refused\n(port 1)");
	resp.status = t->status;
	resp.body = text ? text : t->body;
	resp.body_len = strlen(resp.body);
	resp.retry_after_s = t->retry_after;
	OPS.result(&d, &resp, convs, t->n, out);
	if (((unsigned char *)&out[t->n])[0] != 0xA5)
		fail_msg("%s: wrote past n", t->name);
	free(text);
	test_dest_cleanup(&d);
	conv_free(c);
}

static void test_result_table(void **state)
{
	static const struct rcase cases[] = {
		{ "transport", true, 0, NULL, "", 12, 2, OUTCOME_RETRY, "", 12,
		  "connection refused (port 1)" },
		{ "200 empty (validateOnly)", false, 200, NULL, "{}", -1, 2, OUTCOME_DELIVERED, "",
		  -1, "" },
		{ "200 not JSON", false, 200, NULL, "ok", -1, 1, OUTCOME_DELIVERED, "", -1, "" },
		{ "401", false, 401, "google/dm_error_401.json", NULL, -1, 3, OUTCOME_REAUTH,
		  "UNAUTHENTICATED", -1, "invalid authentication credentials" },
		{ "401 bare", false, 401, NULL, "", -1, 1, OUTCOME_REAUTH, "", -1, "HTTP 401" },
		{ "429 RetryInfo", false, 429, "google/dm_error_429.json", NULL, -1, 3,
		  OUTCOME_RETRY, "RESOURCE_EXHAUSTED", 30, "Quota exceeded" },
		{ "429 Retry-After wins", false, 429, "google/dm_error_429.json", NULL, 7, 1,
		  OUTCOME_RETRY, "RESOURCE_EXHAUSTED", 7, "Quota exceeded" },
		{ "503", false, 503, "google/dm_error_503.json", NULL, -1, 2, OUTCOME_RETRY,
		  "UNAVAILABLE", -1, "currently unavailable" },
		{ "504 html", false, 504, NULL, "<html>Gateway Timeout</html>", 5, 1, OUTCOME_RETRY,
		  "", 5, "HTTP 504: <html>Gateway Timeout</html>" },
		{ "500 garbage", false, 500, NULL, "{\"error\":", -1, 1, OUTCOME_RETRY, "", -1,
		  "HTTP 500" },
		{ "408", false, 408, NULL, "", -1, 1, OUTCOME_RETRY, "", -1, "HTTP 408" },
		{ "302", false, 302, NULL, "", -1, 1, OUTCOME_RETRY, "", -1, "HTTP 302" },
		{ "403", false, 403, "google/dm_error_403.json", NULL, -1, 3, OUTCOME_FAILED,
		  "PERMISSION_DENIED", -1, "The caller does not have permission" },
		{ "400 request level", false, 400, "google/dm_error_request_level.json", NULL, -1,
		  3, OUTCOME_FAILED, "INVALID_ARGUMENT", -1, "invalid argument" },
		{ "400 not JSON", false, 400, NULL, "Bad Request", -1, 2, OUTCOME_FAILED, "", -1,
		  "HTTP 400: Bad Request" },
		{ "400 JSON not an error", false, 400, NULL, "[1]", -1, 1, OUTCOME_FAILED, "", -1,
		  "HTTP 400" },
		{ "404", false, 404, NULL, "Not Found", -1, 1, OUTCOME_FAILED, "", -1,
		  "HTTP 404: Not Found" },
		/* Found by fuzz_google_dm_result: a status word with a newline. */
		{ "status with a newline", false, 403, NULL,
		  "{\"error\":{\"status\":\"A\\nB\",\"message\":\"m\"}}", -1, 1, OUTCOME_FAILED,
		  "A B", -1, "m" },
		/* events[1] and events[3] are out of range for n = 1: nobody is
		 * named, the request as a whole failed. */
		{ "400 violations out of range", false, 400,
		  "google/dm_error_field_violations.json", NULL, -1, 1, OUTCOME_FAILED,
		  "INVALID_ARGUMENT", -1, "invalid argument" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome out[5];

		run_result(&cases[i], out);
		for (size_t k = 0; k < cases[i].n; k++) {
			if (out[k].kind != cases[i].kind ||
			    strcmp(out[k].platform_code, cases[i].code) != 0 ||
			    out[k].retry_after_s != cases[i].want_retry_after ||
			    strstr(out[k].message, cases[i].msg_part) == NULL)
				fail_msg("case %s [%zu]: got %s code \"%s\" retry %ld msg \"%s\"",
					 cases[i].name, k, outcome_kind_name(out[k].kind),
					 out[k].platform_code, out[k].retry_after_s,
					 out[k].message);
			assert_null(strchr(out[k].message, '\n'));
			assert_string_equal(out[k].request_id, "");
		}
	}
}

static void test_result_request_id(void **state)
{
	static const struct rcase ok = { "200", false, 200, "google/dm_ingest_ok.json",
					 NULL,	-1,    3,   OUTCOME_DELIVERED,
					 "",	-1,    "" };
	static const char *const odd[] = {
		"{\"requestId\":\"a b\"}",
		"{\"requestId\":\"\"}",
		"{\"requestId\":7}",
		"{\"requestId\":\"x?y=1\"}",
		"{\"requestId\":"
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	};
	struct outcome out[5];

	(void)state;
	run_result(&ok, out);
	for (size_t k = 0; k < 3; k++) {
		assert_int_equal(out[k].kind, OUTCOME_DELIVERED);
		assert_string_equal(out[k].request_id, "126365e1-16d0-4c81-9de9-f362711e250a");
	}
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		struct rcase t = ok;

		t.fixture = NULL;
		t.body = odd[i];
		run_result(&t, out);
		assert_int_equal(out[0].kind, OUTCOME_DELIVERED);
		assert_string_equal(out[0].request_id, "");
	}
}

/* events[1] (two violations: the first wins) and events[3] fail with
 * Google's description and reason; the others are resent; events[7]
 * does not exist and is ignored. */
static void test_result_field_violations(void **state)
{
	static const struct rcase t = { "400 violations",
					false,
					400,
					"google/dm_error_field_violations.json",
					NULL,
					9,
					4,
					OUTCOME_FAILED,
					"",
					-1,
					"" };
	struct outcome out[5];

	(void)state;
	run_result(&t, out);
	assert_int_equal(out[0].kind, OUTCOME_RESEND);
	assert_int_equal(out[2].kind, OUTCOME_RESEND);
	assert_int_equal(out[1].kind, OUTCOME_FAILED);
	assert_int_equal(out[3].kind, OUTCOME_FAILED);
	assert_string_equal(out[1].platform_code, "INVALID_GCLID");
	assert_string_equal(out[1].message,
			    "The gclid could not be decoded. (field adIdentifiers.gclid)");
	assert_string_equal(out[3].platform_code, "INVALID_HEX_ENCODING");
	assert_string_equal(out[3].message, "Not a valid hex-encoded SHA-256 hash. (field "
					    "userData.userIdentifiers[0].emailAddress)");
	for (size_t k = 0; k < 4; k++) {
		assert_int_equal(out[k].retry_after_s, -1);
		assert_string_equal(out[k].request_id, "");
	}
	assert_non_null(strstr(out[0].message, "other events"));

	/* The same answer for two events: only events[1] exists of those named. */
	{
		struct rcase two = t;

		two.n = 2;
		run_result(&two, out);
		assert_int_equal(out[0].kind, OUTCOME_RESEND);
		assert_int_equal(out[1].kind, OUTCOME_FAILED);
	}
}

/* Violations without a description or with odd fields. */
static void test_result_violation_shapes(void **state)
{
	static const struct {
		const char *field;
		const char *extra; /* more members of the violation */
		int failed;	   /* index failed, -1 = none (all FAILED as a whole) */
		const char *msg;
	} cases[] = {
		{ "events[0]", "", 0, "invalid field (event)" },
		{ "events[1].consent", ",\"description\":\"d\"", 1, "d (field consent)" },
		{ "events[01].x", "", 1, "invalid field x" },
		{ "events[].x", "", -1, NULL },
		{ "events[-1].x", "", -1, NULL },
		{ "events[1", "", -1, NULL },
		{ "events[9999999].x", "", -1, NULL },
		{ "events[18446744073709551617].x", "", -1, NULL },
		{ "userData", "", -1, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512];
		struct rcase t = { "shape", false,	    400, NULL, body, -1,
				   3,	    OUTCOME_FAILED, "",	 -1,   "" };
		struct outcome out[5];

		snprintf(body, sizeof(body),
			 "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\",\"message\":"
			 "\"m\",\"details\":[{\"@type\":\"" TYPE_BAD_REQUEST_FOR_TEST
			 "\",\"fieldViolations\":[{\"field\":\"%s\"%s}]}]}}",
			 cases[i].field, cases[i].extra);
		run_result(&t, out);
		for (int k = 0; k < 3; k++) {
			bool want_failed = cases[i].failed < 0 || k == cases[i].failed;

			if ((out[k].kind == OUTCOME_FAILED) != want_failed ||
			    (!want_failed && out[k].kind != OUTCOME_RESEND))
				fail_msg("case %s [%d]: %s", cases[i].field, k,
					 outcome_kind_name(out[k].kind));
		}
		if (cases[i].failed >= 0)
			assert_string_equal(out[cases[i].failed].message, cases[i].msg);
		else
			assert_string_equal(out[0].message, "m");
	}
}

/* ---- diagnostics ------------------------------------------------------------------ */

static void test_status_request(void **state)
{
	static const char *const bad_ids[] = { "", "a b", "a&b=c", "a/b", "a\nb", NULL };
	struct destination d;
	struct upload_req req;
	struct err e;

	(void)state;
	dest_init(&d, STD_SET);
	upload_req_init(&req);
	assert_int_equal(gdm_build_status_request(&d, TOKEN, "126365e1-16d0-4c81-9de9-f362711e250a",
						  &req, &e),
			 0);
	assert_int_equal(req.method, UPLOAD_GET);
	assert_string_equal(req.url, "https://dm.example/v1/requestStatus:retrieve?requestId="
				     "126365e1-16d0-4c81-9de9-f362711e250a");
	assert_string_equal(req.log_url, req.url);
	assert_int_equal(req.n_headers, 1);
	assert_string_equal(req.headers[0], "Authorization: Bearer " TOKEN);
	assert_int_equal(req.body.len, 0);
	assert_int_equal(upload_req_check(&req, &e), 0);
	upload_req_cleanup(&req);

	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		upload_req_init(&req);
		err_clear(&e);
		assert_int_equal(gdm_build_status_request(&d, TOKEN, bad_ids[i], &req, &e),
				 ERR_INVALID);
		assert_null(req.url);
		upload_req_cleanup(&req);
	}
	upload_req_init(&req);
	assert_int_equal(gdm_build_status_request(&d, NULL, "r1", &req, &e), ERR_CONFIG);
	assert_int_equal(gdm_build_status_request(&d, "", "r1", &req, &e), ERR_CONFIG);
	free(d.api_version);
	d.api_version = NULL;
	assert_int_equal(gdm_build_status_request(&d, TOKEN, "r1", &req, &e), ERR_CONFIG);
	assert_null(req.url);
	upload_req_cleanup(&req);
	test_dest_cleanup(&d);
}

static void parse_fixture(const char *name, struct gdm_status *st)
{
	size_t len;
	char *text = test_read_fixture(name, &len);
	struct err e;

	err_clear(&e);
	if (gdm_parse_status(text, len, st, &e) != 0)
		fail_msg("%s: %s", name, e.msg);
	free(text);
}

static void test_status_parse_fixtures(void **state)
{
	struct gdm_status st;
	char line[256];

	(void)state;
	parse_fixture("google/dm_status_partial.json", &st);
	assert_int_equal(st.status, GDM_PARTIAL_SUCCESS);
	assert_int_equal(st.n_destinations, 1);
	assert_int_equal(st.record_count, 5);
	assert_int_equal(st.n_errors, 3);
	assert_string_equal(st.errors[0].reason, "PROCESSING_ERROR_REASON_INVALID_GCLID");
	assert_int_equal(st.errors[0].records, 2);
	assert_string_equal(st.errors[1].reason, "PROCESSING_ERROR_REASON_DUPLICATE_GCLID");
	assert_int_equal(st.errors[1].records, 1);
	/* proto3 leaves the zero enum value out */
	assert_string_equal(st.errors[2].reason, "PROCESSING_ERROR_REASON_UNSPECIFIED");
	gdm_status_summary(&st, line, sizeof(line));
	assert_string_equal(line, "PARTIAL_SUCCESS: 5 records; errors: 2 "
				  "PROCESSING_ERROR_REASON_INVALID_GCLID, 1 "
				  "PROCESSING_ERROR_REASON_DUPLICATE_GCLID, 1 "
				  "PROCESSING_ERROR_REASON_UNSPECIFIED");

	parse_fixture("google/dm_status_success.json", &st);
	assert_int_equal(st.status, GDM_SUCCESS);
	assert_int_equal(st.record_count, 3);
	assert_int_equal(st.n_errors, 0);
	gdm_status_summary(&st, line, sizeof(line));
	assert_string_equal(line, "SUCCESS: 3 records");
	/* A short buffer is cut, still terminated. */
	gdm_status_summary(&st, line, 8);
	assert_string_equal(line, "SUCCESS");
}

static void test_status_parse_table(void **state)
{
	static const struct {
		const char *body;
		int rc;
		enum gdm_request_status status;
		int64_t records;
		const char *summary; /* NULL = not checked */
	} cases[] = {
		{ "", ERR_INVALID, GDM_UNKNOWN, -1, "UNKNOWN" },
		{ "nope", ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{}", ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{\"requestStatusPerDestination\":[]}", ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{\"requestStatusPerDestination\":{}}", ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{\"requestStatusPerDestination\":[7]}", ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{\"requestStatusPerDestination\":[{}]}", 0, GDM_UNKNOWN, -1, "UNKNOWN" },
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"PROCESSING\"}]}", 0,
		  GDM_PROCESSING, -1, "PROCESSING" },
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"FAILED\","
		  "\"eventsIngestionStatus\":{}}]}",
		  0, GDM_FAILED, 0, "FAILED: 0 records" },
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"SUCCESS\"},"
		  "{\"requestStatus\":\"FAILED\"}]}",
		  0, GDM_PARTIAL_SUCCESS, -1, NULL },
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"SUCCESS\"},"
		  "{\"requestStatus\":\"PROCESSING\"}]}",
		  0, GDM_PROCESSING, -1, NULL },
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"SUCCESS\"},"
		  "{\"requestStatus\":\"SUCCESS\"}]}",
		  0, GDM_SUCCESS, -1, NULL },
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"NEW_THING\"}]}", 0,
		  GDM_UNKNOWN, -1, NULL },
		/* int64 as a string, or a plain integer; anything else is refused */
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"SUCCESS\","
		  "\"eventsIngestionStatus\":{\"recordCount\":12}}]}",
		  0, GDM_SUCCESS, 12, NULL },
		{ "{\"requestStatusPerDestination\":[{\"eventsIngestionStatus\":{\"recordCount\":"
		  "\"999999999999999999\"}},{\"eventsIngestionStatus\":{\"recordCount\":"
		  "\"999999999999999999\"}}]}",
		  0, GDM_UNKNOWN, INT64_C(1999999999999999998), NULL },
		{ "{\"requestStatusPerDestination\":[{\"eventsIngestionStatus\":{\"recordCount\":"
		  "\"-1\"}}]}",
		  ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{\"requestStatusPerDestination\":[{\"eventsIngestionStatus\":{\"recordCount\":"
		  "1.5}}]}",
		  ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{\"requestStatusPerDestination\":[{\"eventsIngestionStatus\":{\"recordCount\":"
		  "\"9999999999999999999\"}}]}",
		  ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{\"requestStatusPerDestination\":[{\"errorInfo\":{\"errorCounts\":["
		  "{\"recordCount\":\"x\",\"reason\":\"R\"}]}}]}",
		  ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		{ "{\"requestStatusPerDestination\":[{\"errorInfo\":{\"errorCounts\":[5]}}]}",
		  ERR_INVALID, GDM_UNKNOWN, -1, NULL },
		/* one reason over two destinations is summed */
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"FAILED\",\"errorInfo\":"
		  "{\"errorCounts\":[{\"recordCount\":\"2\",\"reason\":\"R\"}]}},"
		  "{\"requestStatus\":\"FAILED\",\"errorInfo\":{\"errorCounts\":[{\"recordCount\":"
		  "\"3\",\"reason\":\"R\"}]}}]}",
		  0, GDM_FAILED, -1, "FAILED; errors: 5 R" },
		/* a reason with a newline stays one line */
		{ "{\"requestStatusPerDestination\":[{\"requestStatus\":\"FAILED\",\"errorInfo\":"
		  "{\"errorCounts\":[{\"recordCount\":\"1\",\"reason\":\"A\\nB\"}]}}]}",
		  0, GDM_FAILED, -1, "FAILED; errors: 1 A B" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gdm_status st;
		struct err e;
		char line[256];
		int rc;

		err_clear(&e);
		rc = gdm_parse_status(cases[i].body, strlen(cases[i].body), &st, &e);
		if (rc != cases[i].rc || st.status != cases[i].status ||
		    st.record_count != cases[i].records)
			fail_msg("case %zu: rc %d status %s records %lld (%s)", i, rc,
				 gdm_request_status_name(st.status), (long long)st.record_count,
				 e.msg);
		gdm_status_summary(&st, line, sizeof(line));
		if (cases[i].summary)
			assert_string_equal(line, cases[i].summary);
		if (rc != 0)
			assert_int_equal(st.n_errors, 0);
	}
}

/* dest_ops.status_parse: the whole answer to the status query. */
static void test_status_parse_hook(void **state)
{
	static const struct {
		bool transport;
		long status;
		const char *fixture; /* google/…, or NULL: body */
		const char *body;
		enum dest_request_state want;
		const char *word;
		const char *summary_part;
	} cases[] = {
		{ true, 0, NULL, "", DEST_REQ_RETRY, "", "timed out" },
		{ false, 200, "google/dm_status_partial.json", NULL, DEST_REQ_PARTIAL,
		  "PARTIAL_SUCCESS", "2 PROCESSING_ERROR_REASON_INVALID_GCLID" },
		{ false, 200, "google/dm_status_success.json", NULL, DEST_REQ_SUCCESS, "SUCCESS",
		  "SUCCESS: 3 records" },
		{ false, 200, NULL,
		  "{\"requestStatusPerDestination\":[{\"requestStatus\":\"FAILED\"}]}",
		  DEST_REQ_FAILED, "FAILED", "FAILED" },
		{ false, 200, NULL,
		  "{\"requestStatusPerDestination\":[{\"requestStatus\":\"PROCESSING\"}]}",
		  DEST_REQ_PROCESSING, "PROCESSING", "PROCESSING" },
		{ false, 200, NULL, "{\"requestStatusPerDestination\":[{}]}", DEST_REQ_PROCESSING,
		  "UNKNOWN", "UNKNOWN" },
		{ false, 200, NULL, "<html>", DEST_REQ_RETRY, "", "requestStatusPerDestination" },
		{ false, 401, "google/dm_error_401.json", NULL, DEST_REQ_REAUTH, "",
		  "invalid authentication credentials" },
		{ false, 404, NULL,
		  "{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"message\":\"Request id "
		  "not found.\"}}",
		  DEST_REQ_GONE, "NOT_FOUND", "Request id not found." },
		{ false, 404, NULL, "", DEST_REQ_GONE, "NOT_FOUND", "HTTP 404" },
		{ false, 400, "google/dm_error_request_level.json", NULL, DEST_REQ_GONE,
		  "INVALID_ARGUMENT", "invalid argument" },
		{ false, 403, "google/dm_error_403.json", NULL, DEST_REQ_RETRY, "",
		  "does not have permission" },
		{ false, 503, "google/dm_error_503.json", NULL, DEST_REQ_RETRY, "", "unavailable" },
		{ false, 429, "google/dm_error_429.json", NULL, DEST_REQ_RETRY, "", "Quota" },
	};

	(void)state;
	assert_non_null(OPS.status_build);
	assert_non_null(OPS.status_parse);
	assert_string_equal(OPS.status_delay_key->name, "datamanager_status_delay");
	assert_string_equal(OPS.status_delay_key->def, "30m");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = cases[i].fixture ? test_read_fixture(cases[i].fixture, NULL) : NULL;
		struct dest_request_status st;
		struct upload_resp resp;

		memset(&resp, 0, sizeof(resp));
		memset(&st, 0xA5, sizeof(st));
		resp.transport_error = cases[i].transport;
		snprintf(resp.transport_msg, sizeof(resp.transport_msg), "timed out");
		resp.status = cases[i].status;
		resp.body = text ? text : cases[i].body;
		resp.body_len = strlen(resp.body);
		resp.retry_after_s = -1;
		OPS.status_parse(&resp, &st);
		if (st.state != cases[i].want || strcmp(st.status, cases[i].word) != 0 ||
		    strstr(st.summary, cases[i].summary_part) == NULL)
			fail_msg("case %zu: state %d status \"%s\" summary \"%s\"", i, st.state,
				 st.status, st.summary);
		free(text);
	}
}

/* More distinct reasons than the struct keeps are counted, not lost. */
static void test_status_many_reasons(void **state)
{
	struct buf b;
	struct gdm_status st;
	struct err e;
	char line[512];

	(void)state;
	buf_init(&b);
	buf_puts(&b, "{\"requestStatusPerDestination\":[{\"requestStatus\":\"PARTIAL_SUCCESS\","
		     "\"errorInfo\":{\"errorCounts\":[");
	for (int i = 0; i < GDM_MAX_ERROR_REASONS + 3; i++)
		buf_printf(&b, "%s{\"recordCount\":\"1\",\"reason\":\"R%d\"}", i ? "," : "", i);
	buf_puts(&b, "]}}]}");
	assert_int_equal(gdm_parse_status(b.data, b.len, &st, &e), 0);
	assert_int_equal(st.n_errors, GDM_MAX_ERROR_REASONS);
	assert_int_equal(st.n_reasons_dropped, 3);
	gdm_status_summary(&st, line, sizeof(line));
	assert_non_null(strstr(line, " and 3 more reasons"));
	buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_registered),
		cmocka_unit_test(test_build_matches_fixture),
		cmocka_unit_test(test_build_without_login_and_user_data),
		cmocka_unit_test(test_build_test_mode_validate_only),
		cmocka_unit_test(test_build_ip_by_country),
		cmocka_unit_test(test_build_bad_ip_left_out),
		cmocka_unit_test(test_build_identifiers),
		cmocka_unit_test(test_build_consent),
		cmocka_unit_test(test_build_value_text),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_build_max_batch),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_prepare_settings),
		cmocka_unit_test(test_result_table),
		cmocka_unit_test(test_result_request_id),
		cmocka_unit_test(test_result_field_violations),
		cmocka_unit_test(test_result_violation_shapes),
		cmocka_unit_test(test_status_request),
		cmocka_unit_test(test_status_parse_fixtures),
		cmocka_unit_test(test_status_parse_table),
		cmocka_unit_test(test_status_many_reasons),
		cmocka_unit_test(test_status_parse_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
