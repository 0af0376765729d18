/*
 * test_tiktok.c - the TikTok Events API destination: request building
 * against a fixture payload (test/fixtures/tiktok_expected.json), event
 * name mapping and its per-destination override, the response classifier
 * as a table (every code family, HTTP statuses, transport), settings
 * preparation and validation.
 *
 * The conversion is built by hand, as the Shopify fixture order becomes it
 * (test_meta_capi.c does the same for Meta), with the TikTok scheme's
 * hashes: the phone hash is of "+14155550132", with the '+'.
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

#include "destinations/dest.h"
#include "testutil.h"

extern const struct dest_ops tiktok_dest_ops;

#define TOKEN "tt-token_0123abc"
#define PIXEL "COQDA8RC77U2TMR44LI0"

/* 2026-11-26T18:04:11-05:00, the fixture order's created_at. */
#define ORDER_US (INT64_C(1795734251) * 1000000 + 250000)

#define H_EMAIL	 "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86"
#define H_PHONE	 "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462"
#define H_EXT	 "4d8cde97d61f3c50205f809db95a04ef6b35977578ec43f33265b3bafed7158e"
#define H_META_P "11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51"

#define STD_SETTINGS "{\"pixel_id\":\"" PIXEL "\",\"test_event_code\":\"TEST1\"}"
#define STD_CREDS    "{\"access_token\":\"" TOKEN "\"}"

/* ---- helpers ------------------------------------------------------------- */

/* The Shopify fixture order as a canonical conversion. */
static struct conversion *order_conversion(void)
{
	struct conversion *c = test_conversion("purchase", "shopify:order:5551234567890", ORDER_US);

	c->value = xstrdup("129.90");
	c->currency = xstrdup("USD");
	c->order_id = xstrdup("1042");
	c->page_url = xstrdup("https://shop.example/products/linen-shirt?utm_source=google&"
			      "utm_medium=cpc&gclid=Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	c->client_ip = xstrdup("203.0.113.24");
	c->user_agent = xstrdup("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) "
				"AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 "
				"Safari/605.1.15");
	c->ids[PII_SCHEME_TIKTOK][PII_EMAIL] = xstrdup(H_EMAIL);
	c->ids[PII_SCHEME_TIKTOK][PII_PHONE] = xstrdup(H_PHONE);
	c->ids[PII_SCHEME_TIKTOK][PII_EXTERNAL_ID] = xstrdup(H_EXT);
	/* Other schemes' values must not leak into TikTok's payload. */
	c->ids[PII_SCHEME_META][PII_PHONE] = xstrdup(H_META_P);
	c->ids[PII_SCHEME_GOOGLE][PII_CITY] = xstrdup("san francisco");
	c->click[CLICK_TTCLID] = xstrdup("E.C.P.v3Qx9k2LmN");
	c->click[CLICK_TTP] = xstrdup("2F7h37YkS1j57AYSKTI7IHhJPYH");
	c->click[CLICK_FBP] = xstrdup("fb.1.1732662000000.1098765432");
	test_conversion_add_item(c, "LIN-SHIRT-M", "Linen shirt", "49.95", 2);
	test_conversion_add_item(c, "CAP-01", "Canvas cap", "20.00", 1);
	return c;
}

static void dest_init(struct destination *d, const char *settings, const char *creds)
{
	test_dest_init(d, &tiktok_dest_ops, "http://127.0.0.1:1", settings, creds);
}

/* Build n conversions; checks the URL and headers, returns the body parsed. */
static cJSON *build_ok(const char *settings, struct conversion **convs, size_t n,
		       struct upload_req *req)
{
	struct destination d;
	struct err e;
	cJSON *body;

	dest_init(&d, settings, STD_CREDS);
	upload_req_init(req);
	err_clear(&e);
	if (tiktok_dest_ops.build(&d, NULL, convs, n, req, &e) != 0)
		fail_msg("build: %s", e.msg);
	test_dest_cleanup(&d);
	assert_string_equal(req->url, "http://127.0.0.1:1/open_api/v1.3/event/track/");
	assert_string_equal(req->log_url, req->url);
	assert_int_equal(req->method, UPLOAD_POST);
	assert_int_equal(req->n_headers, 2);
	assert_string_equal(req->headers[0], "Content-Type: application/json");
	assert_string_equal(req->headers[1], "Access-Token: " TOKEN);
	/* The token rides in its header only. */
	assert_null(strstr(req->body.data, TOKEN));
	body = cJSON_Parse(req->body.data);
	assert_non_null(body);
	return body;
}

/* ---- registration ---------------------------------------------------------- */

static void test_ops_registered(void **state)
{
	(void)state;
	assert_ptr_equal(dest_ops_find("tiktok"), &tiktok_dest_ops);
	assert_string_equal(tiktok_dest_ops.endpoint_key, "tiktok");
	assert_int_equal(tiktok_dest_ops.max_batch, 1000);
	assert_int_equal(tiktok_dest_ops.max_age_s, 7 * 24 * 3600);
	assert_false(tiktok_dest_ops.age_from_click);
	assert_null(tiktok_dest_ops.auth_grant);
	assert_null(tiktok_dest_ops.api_version_key);
}

/* ---- build ------------------------------------------------------------------ */

static void test_build_matches_fixture(void **state)
{
	struct conversion *c = order_conversion();
	char *expected_text = test_read_fixture("tiktok_expected.json", NULL);
	cJSON *expected = cJSON_Parse(expected_text);
	struct upload_req req;
	cJSON *body;

	(void)state;
	assert_non_null(expected);
	body = build_ok(STD_SETTINGS, &c, 1, &req);
	if (!cJSON_Compare(body, expected, 1)) {
		char *got = cJSON_Print(body);

		fprintf(stderr, "body differs from the fixture:\n%s\n", got);
		cJSON_free(got);
		fail();
	}
	/* Money keeps its exact text: never through a double. */
	assert_non_null(strstr(req.body.data, "\"value\":129.90,"));
	assert_non_null(strstr(req.body.data, "\"price\":20.00,"));
	assert_non_null(strstr(req.body.data, "\"price\":49.95,"));
	/* Meta's phone hash (no '+') and Google's clear city stay out. */
	assert_null(strstr(req.body.data, H_META_P));
	assert_null(strstr(req.body.data, "san francisco"));
	assert_null(strstr(req.body.data, "fb.1."));
	cJSON_Delete(body);
	cJSON_Delete(expected);
	free(expected_text);
	upload_req_cleanup(&req);
	conv_free(c);
}

static void test_build_batch_of_three(void **state)
{
	struct conversion *convs[3];
	struct upload_req req;
	cJSON *body, *ev, *user;

	(void)state;
	convs[0] = order_conversion();
	convs[1] = test_conversion("lead", "ghl:contact:1", ORDER_US);
	convs[1]->ids[PII_SCHEME_TIKTOK][PII_EMAIL] = xstrdup(H_EMAIL);
	convs[1]->occurred_us = INT64_C(1795000000) * 1000000 + 999999;
	convs[2] = test_conversion("begin_checkout", "api:42", ORDER_US);
	convs[2]->occurred_us = -1; /* before 1970: floor, not truncation */
	body = build_ok("{\"pixel_id\":\"" PIXEL "\"}", convs, 3, &req);

	assert_null(cJSON_GetObjectItemCaseSensitive(body, "test_event_code"));
	assert_string_equal(test_json_str(body, "event_source"), "web");
	assert_string_equal(test_json_str(body, "event_source_id"), PIXEL);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "data")), 3);
	assert_string_equal(test_json_str(test_json_item(body, "data", 0), "event"),
			    "CompletePayment");
	assert_string_equal(test_json_str(test_json_item(body, "data", 1), "event"), "SubmitForm");
	assert_string_equal(test_json_str(test_json_item(body, "data", 2), "event"),
			    "InitiateCheckout");
	assert_string_equal(test_json_str(test_json_item(body, "data", 1), "event_id"),
			    "ghl:contact:1");
	assert_non_null(strstr(req.body.data, "\"event_time\":1795000000,"));
	assert_non_null(strstr(req.body.data, "\"event_time\":-1,"));
	ev = test_json_item(body, "data", 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "properties"));
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "page"));
	user = cJSON_GetObjectItemCaseSensitive(ev, "user");
	assert_int_equal(cJSON_GetArraySize(user), 1);
	assert_string_equal(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(user, "email"), 0)->valuestring,
		H_EMAIL);
	/* An event without identifiers still has its (empty) user object. */
	user = cJSON_GetObjectItemCaseSensitive(test_json_item(body, "data", 2), "user");
	assert_true(cJSON_IsObject(user));
	assert_int_equal(cJSON_GetArraySize(user), 0);
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	for (int i = 0; i < 3; i++)
		conv_free(convs[i]);
}

/* Absent, unusable or clear values are left out, never sent as "" or null;
 * only 64-hex hashes leave the process. */
static void test_build_omits_absent(void **state)
{
	struct conversion *c = test_conversion("purchase", "x:1", ORDER_US);
	struct upload_req req;
	cJSON *body, *props, *item;

	(void)state;
	c->currency = xstrdup("EUR");
	c->value = xstrdup("1e3");
	c->ids[PII_SCHEME_TIKTOK][PII_EMAIL] = xstrdup("ana@example.com"); /* not hashed */
	c->ids[PII_SCHEME_TIKTOK][PII_PHONE] = xstrdup("+14155550132");	   /* not hashed */
	c->ids[PII_SCHEME_TIKTOK][PII_EXTERNAL_ID] =
		xstrdup("9E1919AD78A34FD67A84BFBCF2FEA14074065517BEA32E92924771C3F92E5462");
	test_conversion_add_item(c, NULL, "no id", "5.00", 2); /* no id: not listed */
	test_conversion_add_item(c, "SKU", NULL, "abc", 0);    /* no name, bad price, no quantity */
	body = build_ok(STD_SETTINGS, &c, 1, &req);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
				 test_json_item(body, "data", 0), "user")),
			 0);
	props = cJSON_GetObjectItemCaseSensitive(test_json_item(body, "data", 0), "properties");
	assert_non_null(props);
	assert_null(cJSON_GetObjectItemCaseSensitive(props, "value"));
	assert_null(cJSON_GetObjectItemCaseSensitive(props, "order_id"));
	assert_string_equal(test_json_str(props, "currency"), "EUR");
	assert_string_equal(test_json_str(props, "content_type"), "product");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(props, "contents")),
			 1);
	item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(props, "contents"), 0);
	assert_string_equal(test_json_str(item, "content_id"), "SKU");
	assert_int_equal(cJSON_GetArraySize(item), 1);
	assert_null(strstr(req.body.data, "ana@example.com"));
	assert_null(strstr(req.body.data, "+1415"));
	assert_null(strstr(req.body.data, "null"));
	assert_null(strstr(req.body.data, "\"\""));
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	conv_free(c);

	/* Items without ids only: no contents, no content_type. */
	c = test_conversion("purchase", "x:2", ORDER_US);
	test_conversion_add_item(c, NULL, "gift", "1.00", 1);
	body = build_ok(STD_SETTINGS, &c, 1, &req);
	assert_null(
		cJSON_GetObjectItemCaseSensitive(test_json_item(body, "data", 0), "properties"));
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	conv_free(c);
}

static void test_value_text_exact(void **state)
{
	static const struct {
		const char *value;
		const char *text; /* expected "value":… text, NULL = omitted */
	} cases[] = {
		{ "129.90", "\"value\":129.90," },
		{ "0.10", "\"value\":0.10," },
		{ "-5.00", "\"value\":-5.00," },
		{ "12345678901234567890.01", "\"value\":12345678901234567890.01," },
		{ "1e3", NULL },
		{ "007", NULL },
		{ ".5", NULL },
		{ "12,50", NULL },
		{ "NaN", NULL },
		{ "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conversion *c = test_conversion("purchase", "v:1", ORDER_US);
		struct upload_req req;
		cJSON *body;

		c->value = xstrdup(cases[i].value);
		c->currency = xstrdup("USD");
		body = build_ok(STD_SETTINGS, &c, 1, &req);
		if (cases[i].text ? strstr(req.body.data, cases[i].text) == NULL
				  : strstr(req.body.data, "\"value\"") != NULL)
			fail_msg("value %s: body %s", cases[i].value, req.body.data);
		cJSON_Delete(body);
		upload_req_cleanup(&req);
		conv_free(c);
	}
}

/* Defaults, then settings.event_map overriding and extending them. */
static void test_event_name_mapping(void **state)
{
	static const struct {
		const char *settings;
		const char *event;
		const char *tiktok; /* NULL = not accepted */
	} cases[] = {
		{ STD_SETTINGS, "purchase", "CompletePayment" },
		{ STD_SETTINGS, "lead", "SubmitForm" },
		{ STD_SETTINGS, "begin_checkout", "InitiateCheckout" },
		{ STD_SETTINGS, "add_to_cart", "AddToCart" },
		{ STD_SETTINGS, "complete_registration", "CompleteRegistration" },
		{ STD_SETTINGS, "subscribe", NULL },
		{ STD_SETTINGS, "Purchase", NULL },
		{ "{\"pixel_id\":\"P1\",\"event_map\":{\"purchase\":\"Purchase\"}}", "purchase",
		  "Purchase" },
		{ "{\"pixel_id\":\"P1\",\"event_map\":{\"purchase\":\"Purchase\"}}", "lead",
		  "SubmitForm" },
		{ "{\"pixel_id\":\"P1\",\"event_map\":{\"subscribe\":\"Subscribe\"}}", "subscribe",
		  "Subscribe" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conversion *c = test_conversion(cases[i].event, "n:1", ORDER_US);
		struct destination d;
		char why[256] = "";
		bool ok;

		dest_init(&d, cases[i].settings, STD_CREDS);
		ok = tiktok_dest_ops.accepts(&d, c, why, sizeof(why));
		test_dest_cleanup(&d);
		if (cases[i].tiktok == NULL) {
			if (ok)
				fail_msg("case %zu: %s accepted", i, cases[i].event);
			assert_non_null(strstr(why, cases[i].event));
			assert_non_null(strstr(why, "--event-map"));
		} else {
			struct upload_req req;
			cJSON *body;

			if (!ok)
				fail_msg("case %zu: %s refused: %s", i, cases[i].event, why);
			body = build_ok(cases[i].settings, &c, 1, &req);
			assert_string_equal(test_json_str(test_json_item(body, "data", 0), "event"),
					    cases[i].tiktok);
			cJSON_Delete(body);
			upload_req_cleanup(&req);
		}
		conv_free(c);
	}
}

static void test_build_base_url_and_errors(void **state)
{
	static const struct {
		const char *settings;
		const char *creds; /* NULL = none */
		const char *base;
		size_t n;
		int code;
	} cases[] = {
		{ "{}", STD_CREDS, "http://x", 1, ERR_CONFIG },
		{ "{\"pixel_id\":12}", STD_CREDS, "http://x", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"a/b\"}", STD_CREDS, "http://x", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", NULL, "http://x", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "{}", "http://x", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "not json", "http://x", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "{\"access_token\":\"\"}", "http://x", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "{\"access_token\":\"a\\r\\nX-Evil: 1\"}", "http://x", 1,
		  ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", STD_CREDS, "", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", STD_CREDS, NULL, 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", STD_CREDS, "http://x", 0, ERR_INVALID },
		{ "{\"pixel_id\":\"P1\"}", STD_CREDS, "http://x", 1001, ERR_INVALID },
	};
	struct conversion *c = test_conversion("lead", "e:1", ORDER_US);
	struct conversion **convs = calloc(1001, sizeof(*convs));
	struct destination d;
	struct upload_req req;
	struct err e;

	(void)state;
	for (size_t i = 0; i < 1001; i++)
		convs[i] = c;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		dest_init(&d, cases[i].settings, cases[i].creds);
		free(d.base_url);
		d.base_url = cases[i].base ? xstrdup(cases[i].base) : NULL;
		upload_req_init(&req);
		err_clear(&e);
		rc = tiktok_dest_ops.build(&d, NULL, convs, cases[i].n, &req, &e);
		if (rc != cases[i].code)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].code, e.msg);
		assert_true(strlen(e.msg) > 0);
		assert_null(strstr(e.msg, TOKEN));
		assert_null(req.url);
		assert_int_equal(req.n_headers, 0);
		upload_req_cleanup(&req);
		test_dest_cleanup(&d);
	}
	/* A full batch builds; trailing slashes of the base are dropped. */
	dest_init(&d, "{\"pixel_id\":\"P1\"}", STD_CREDS);
	free(d.base_url);
	d.base_url = xstrdup("https://business-api.tiktok.com//");
	upload_req_init(&req);
	assert_int_equal(tiktok_dest_ops.build(&d, NULL, convs, 1000, &req, &e), 0);
	assert_string_equal(req.url, "https://business-api.tiktok.com/open_api/v1.3/event/track/");
	upload_req_cleanup(&req);
	test_dest_cleanup(&d);
	free(convs);
	conv_free(c);
}

/* ---- result ------------------------------------------------------------------ */

#define TT(code, msg) "{\"code\":" #code ",\"message\":\"" msg "\",\"request_id\":\"rq1\"}"

static void test_result_table(void **state)
{
	static const struct {
		const char *name;
		bool transport;
		long status;
		const char *body;
		long retry_after;
		size_t n;
		enum outcome_kind kind;
		const char *code;
		long want_retry_after;
		const char *msg_part;
	} cases[] = {
		{ "transport", true, 0, "", 5, 3, OUTCOME_RETRY, "", 5, "connection refused" },
		{ "ok", false, 200, TT(0, "OK"), -1, 3, OUTCOME_DELIVERED, "", -1, "" },
		{ "ok string code", false, 200, "{\"code\":\"0\",\"message\":\"OK\"}", -1, 2,
		  OUTCOME_DELIVERED, "", -1, "" },
		{ "rate limit", false, 200, TT(40100, "Too many requests"), -1, 3, OUTCOME_RETRY,
		  "40100", -1, "Too many requests (request_id rq1)" },
		{ "rate limit retry-after", false, 200, TT(40100, "slow down"), 9, 1, OUTCOME_RETRY,
		  "40100", 9, "slow down" },
		{ "40002 batch", false, 200, TT(40002, "Invalid event"), -1, 3, OUTCOME_SPLIT,
		  "40002", -1, "Invalid event" },
		{ "40002 single", false, 200, TT(40002, "Invalid value of event_time"), -1, 1,
		  OUTCOME_FAILED, "40002", -1, "Invalid value of event_time (request_id rq1)" },
		{ "40001 batch", false, 200, TT(40001, "No permission"), -1, 2, OUTCOME_SPLIT,
		  "40001", -1, "No permission" },
		{ "40001 single", false, 200, TT(40001, "No permission"), -1, 1, OUTCOME_FAILED,
		  "40001", -1, "No permission" },
		{ "other 4xxxx", false, 200, TT(40007, "Not found"), -1, 1, OUTCOME_FAILED, "40007",
		  -1, "Not found" },
		{ "token", false, 200, TT(40105, "Access token is incorrect"), 4, 3, OUTCOME_PAUSE,
		  "40105", -1, "Access token is incorrect" },
		{ "token single", false, 200, TT(40105, "Access token is incorrect"), -1, 1,
		  OUTCOME_PAUSE, "40105", -1, "Access token" },
		{ "50000", false, 200, TT(50000, "System error"), -1, 3, OUTCOME_RETRY, "50000", -1,
		  "System error" },
		{ "51021", false, 200, TT(51021, "Busy"), -1, 1, OUTCOME_RETRY, "51021", -1,
		  "Busy" },
		{ "unknown family", false, 200, TT(61000, "Odd"), -1, 2, OUTCOME_RETRY, "61000", -1,
		  "Odd" },
		{ "code no message", false, 200, "{\"code\":40002}", -1, 1, OUTCOME_FAILED, "40002",
		  -1, "TikTok code 40002" },
		{ "200 not JSON", false, 200, "<html>hi</html>", -1, 2, OUTCOME_RETRY, "", -1,
		  "HTTP 200: <html>hi</html>" },
		{ "200 empty", false, 200, "", -1, 2, OUTCOME_RETRY, "", -1, "HTTP 200" },
		{ "200 no code", false, 200, "{\"message\":\"OK\"}", -1, 1, OUTCOME_RETRY, "", -1,
		  "HTTP 200" },
		{ "200 negative code", false, 200, "{\"code\":-1}", -1, 1, OUTCOME_RETRY, "", -1,
		  "HTTP 200" },
		{ "200 huge code", false, 200, "{\"code\":1e300}", -1, 1, OUTCOME_RETRY, "", -1,
		  "HTTP 200" },
		{ "200 array", false, 200, "[0]", -1, 1, OUTCOME_RETRY, "", -1, "HTTP 200" },
		{ "401", false, 401, "", -1, 3, OUTCOME_PAUSE, "", -1, "HTTP 401" },
		{ "403 with code", false, 403, TT(40001, "No permission"), -1, 3, OUTCOME_PAUSE,
		  "40001", -1, "No permission" },
		{ "429", false, 429, "", 7, 3, OUTCOME_RETRY, "", 7, "HTTP 429" },
		{ "503", false, 503, "Service Unavailable", 30, 2, OUTCOME_RETRY, "", 30,
		  "HTTP 503: Service Unavailable" },
		{ "500 code 0", false, 500, TT(0, "OK"), -1, 1, OUTCOME_RETRY, "0", -1, "OK" },
		{ "408", false, 408, "", -1, 1, OUTCOME_RETRY, "", -1, "HTTP 408" },
		{ "404 proxy", false, 404, "Not Found", -1, 3, OUTCOME_RETRY, "", -1,
		  "HTTP 404: Not Found" },
		{ "400 with code", false, 400, TT(40002, "Bad body"), -1, 3, OUTCOME_SPLIT, "40002",
		  -1, "Bad body" },
		{ "302", false, 302, "", -1, 1, OUTCOME_RETRY, "", -1, "HTTP 302" },
	};
	struct conversion *c = test_conversion("lead", "r:1", ORDER_US);
	struct conversion *convs[3] = { c, c, c };
	struct destination d;

	(void)state;
	dest_init(&d, STD_SETTINGS, STD_CREDS);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct upload_resp resp;
		struct outcome out[3];

		memset(&resp, 0, sizeof(resp));
		memset(out, 0xA5, sizeof(out));
		resp.transport_error = cases[i].transport;
		if (cases[i].transport)
			snprintf(resp.transport_msg, sizeof(resp.transport_msg),
				 "connection refused\n(port 1)");
		resp.status = cases[i].status;
		resp.body = cases[i].body;
		resp.body_len = strlen(cases[i].body);
		resp.retry_after_s = cases[i].retry_after;
		tiktok_dest_ops.result(&d, &resp, convs, cases[i].n, out);
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
		}
		if (cases[i].n < 3)
			assert_int_equal(((unsigned char *)&out[cases[i].n])[0], 0xA5);
	}
	test_dest_cleanup(&d);
	conv_free(c);
}

/* ---- settings ------------------------------------------------------------------ */

static void test_prepare_event_map(void **state)
{
	static const struct {
		const char *in;	  /* settings before */
		const char *want; /* event_map after, NULL = an error */
	} cases[] = {
		{ "{\"event_map\":\"purchase=Purchase\"}", "{\"purchase\":\"Purchase\"}" },
		{ "{\"event_map\":\"purchase=Purchase,lead=Contact\"}",
		  "{\"purchase\":\"Purchase\",\"lead\":\"Contact\"}" },
		{ "{\"event_map\":\"purchase=Purchase,\"}", "{\"purchase\":\"Purchase\"}" },
		{ "{\"event_map\":{\"lead\":\"Contact\"}}", "{\"lead\":\"Contact\"}" },
		{ "{\"event_map\":\"\"}", NULL },
		{ "{\"event_map\":\"purchase\"}", NULL },
		{ "{\"event_map\":\"=Purchase\"}", NULL },
		{ "{\"event_map\":\"purchase=\"}", NULL },
		{ "{\"event_map\":\"a=B,a=C\"}", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *s = cJSON_Parse(cases[i].in);
		cJSON *want = cases[i].want ? cJSON_Parse(cases[i].want) : NULL;
		struct err e;
		int rc;

		err_clear(&e);
		rc = tiktok_dest_ops.prepare_settings(s, &e);
		if (want == NULL) {
			if (rc != ERR_CONFIG)
				fail_msg("case %zu: rc %d, want ERR_CONFIG", i, rc);
			assert_non_null(strstr(e.msg, "event-map"));
		} else {
			if (rc != 0)
				fail_msg("case %zu: %s", i, e.msg);
			assert_true(cJSON_Compare(cJSON_GetObjectItem(s, "event_map"), want, 1));
		}
		cJSON_Delete(s);
		cJSON_Delete(want);
	}
}

static void test_validate(void **state)
{
	static const struct {
		const char *settings;
		const char *creds;
		bool test_mode;
		int code;
	} cases[] = {
		{ "{\"pixel_id\":\"" PIXEL "\"}", STD_CREDS, false, 0 },
		{ STD_SETTINGS, STD_CREDS, true, 0 },
		{ "{\"pixel_id\":\"P1\",\"event_map\":{\"purchase\":\"Purchase\"}}", STD_CREDS,
		  false, 0 },
		{ "{}", STD_CREDS, false, ERR_CONFIG },
		{ "[]", STD_CREDS, false, ERR_CONFIG },
		{ "{\"pixel_id\":\"\"}", STD_CREDS, false, ERR_CONFIG },
		{ "{\"pixel_id\":7}", STD_CREDS, false, ERR_CONFIG },
		{ "{\"pixel_id\":\"CO QD\"}", STD_CREDS, false, ERR_CONFIG },
		{ "{\"pixel_id\":\"" PIXEL PIXEL PIXEL PIXEL "X\"}", STD_CREDS, false, ERR_CONFIG },
		/* Test mode and a test event code go together, as for Meta. */
		{ "{\"pixel_id\":\"P1\"}", STD_CREDS, true, ERR_CONFIG },
		{ STD_SETTINGS, STD_CREDS, false, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\",\"test_event_code\":\"\"}", STD_CREDS, true, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\",\"test_event_code\":5}", STD_CREDS, true, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\",\"event_map\":\"purchase=Purchase\"}", STD_CREDS, false,
		  ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\",\"event_map\":{\"purchase\":\"Complete Payment\"}}",
		  STD_CREDS, false, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\",\"event_map\":{\"purchase\":5}}", STD_CREDS, false,
		  ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\",\"event_map\":{\"purchase\":\"1Purchase\"}}", STD_CREDS,
		  false, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "{}", false, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "{\"access_token\":\"\"}", false, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "{\"access_token\":\"a b\"}", false, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "{\"access_token\":\"a\\nb\"}", false, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", "{\"access_token\":1}", false, ERR_CONFIG },
		{ "{\"pixel_id\":\"P1\"}", NULL, false, ERR_CONFIG },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *settings = cJSON_Parse(cases[i].settings);
		cJSON *creds = cases[i].creds ? cJSON_Parse(cases[i].creds) : NULL;
		struct err e;
		int rc;

		err_clear(&e);
		rc = tiktok_dest_ops.validate(settings, creds, cases[i].test_mode, &e);
		if (rc != cases[i].code)
			fail_msg("case %zu (%s): rc %d, want %d (%s)", i, cases[i].settings, rc,
				 cases[i].code, e.msg);
		if (rc != 0) {
			assert_true(strlen(e.msg) > 0);
			assert_null(strstr(e.msg, TOKEN));
		}
		cJSON_Delete(settings);
		cJSON_Delete(creds);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_registered),
		cmocka_unit_test(test_build_matches_fixture),
		cmocka_unit_test(test_build_batch_of_three),
		cmocka_unit_test(test_build_omits_absent),
		cmocka_unit_test(test_value_text_exact),
		cmocka_unit_test(test_event_name_mapping),
		cmocka_unit_test(test_build_base_url_and_errors),
		cmocka_unit_test(test_result_table),
		cmocka_unit_test(test_prepare_event_map),
		cmocka_unit_test(test_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
