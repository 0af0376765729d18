/*
 * test_ga4.c - the GA4 Measurement Protocol (`ga4`) and server-side GTM
 * (`sgtm`) destinations: the body against a fixture
 * (test/fixtures/ga4_expected.json, shaped as the Measurement Protocol
 * reference and its user-provided data page describe it), the URL with and
 * without the api_secret, client ids from the _ga cookie and derived ones,
 * the batch key, the classifiers of both kinds as tables, the validation
 * server's answer in test mode, the size fallback and settings validation.
 *
 * Hashes are opaque 64-hex strings here: the builder only passes the Google
 * scheme's values through (test_pii.c holds the hashing vectors).
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

extern const struct dest_ops ga4_dest_ops;
extern const struct dest_ops sgtm_dest_ops;

#define SECRET "aBc_123-XyZ"
#define MID    "G-ABC123XYZ"
#define BASE   "http://127.0.0.1:1/"

/* 2026-11-26T18:04:11.25-05:00, the fixture order's created_at. */
#define ORDER_US (INT64_C(1795734251) * 1000000 + 250000)

#define H_EMAIL "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86"
#define H_PHONE "9e1919ad78a34fd67a84bfbcf2fea14074065517bea32e92924771c3f92e5462"
#define H_EXT	"4d8cde97d61f3c50205f809db95a04ef6b35977578ec43f33265b3bafed7158e"
#define H_FN	"2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
#define H_LN	"1f2c7a2d4b2e5c3a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c"
#define H_META	"11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51"

#define GA4_SETTINGS  "{\"measurement_id\":\"" MID "\"}"
#define SGTM_SETTINGS "{\"url\":\"https://sgtm.example.com/\",\"gtm_preview\":\"ZW52LTF8abc=\"}"
#define STD_CREDS     "{\"api_secret\":\"" SECRET "\"}"

/* ---- helpers ------------------------------------------------------------- */

/* The Shopify fixture order as the canonical conversion, with a _ga
 * cookie in its note attributes (core/clickid.c strips "GA1.1."). */
static struct conversion *order_conversion(void)
{
	struct conversion *c = test_conversion("purchase", "shopify:order:5551234567890", ORDER_US);
	char **g = c->ids[PII_SCHEME_GOOGLE];

	c->value = xstrdup("129.90");
	c->currency = xstrdup("USD");
	c->order_id = xstrdup("1042");
	c->client_ip = xstrdup("203.0.113.24");
	g[PII_EMAIL] = xstrdup(H_EMAIL);
	g[PII_PHONE] = xstrdup(H_PHONE);
	g[PII_FIRST_NAME] = xstrdup(H_FN);
	g[PII_LAST_NAME] = xstrdup(H_LN);
	g[PII_CITY] = xstrdup("san francisco");
	g[PII_REGION] = xstrdup("ca");
	g[PII_POSTAL] = xstrdup("94103");
	g[PII_COUNTRY] = xstrdup("us");
	g[PII_EXTERNAL_ID] = xstrdup(H_EXT);
	/* Meta's values must not leak into GA4's payload. */
	c->ids[PII_SCHEME_META][PII_PHONE] = xstrdup(H_META);
	c->click[CLICK_GA_CLIENT_ID] = xstrdup("1234567890.1732662000");
	c->click[CLICK_GCLID] = xstrdup("Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	c->consent_ad_user_data = xstrdup("granted");
	c->consent_ad_personalization = xstrdup("denied");
	test_conversion_add_item(c, "LIN-SHIRT-M", "Linen shirt", "49.95", 2);
	test_conversion_add_item(c, "CAP-01", "Canvas cap", "20.00", 1);
	return c;
}

static void dest_init(struct destination *d, const struct dest_ops *ops, const char *settings,
		      const char *creds, bool test_mode)
{
	test_dest_init(d, ops, BASE, settings, creds);
	d->test_mode = test_mode;
}

/* Build with d; returns the body parsed (fails the test on an error). */
static cJSON *build_with(const struct destination *d, struct conversion **convs, size_t n,
			 struct upload_req *req)
{
	struct err e;
	cJSON *body;

	upload_req_init(req);
	err_clear(&e);
	if (d->ops->build(d, NULL, convs, n, req, &e) != 0)
		fail_msg("build: %s", e.msg);
	assert_int_equal(req->method, UPLOAD_POST);
	assert_string_equal(req->headers[0], "Content-Type: application/json");
	/* The secret is never in the log URL, the body or a header. */
	assert_null(strstr(req->log_url, SECRET));
	assert_null(strstr(req->body.data, SECRET));
	for (size_t i = 0; i < req->n_headers; i++)
		assert_null(strstr(req->headers[i], SECRET));
	body = cJSON_Parse(req->body.data);
	assert_non_null(body);
	return body;
}

static cJSON *build_ga4(struct conversion **convs, size_t n, struct upload_req *req)
{
	struct destination d;
	cJSON *body;

	dest_init(&d, &ga4_dest_ops, GA4_SETTINGS, STD_CREDS, false);
	body = build_with(&d, convs, n, req);
	test_dest_cleanup(&d);
	return body;
}

static cJSON *params_at(cJSON *body, int i)
{
	return cJSON_GetObjectItemCaseSensitive(test_json_item(body, "events", i), "params");
}

static void result_of(const struct destination *d, long status, const char *body,
		      struct conversion **convs, size_t n, struct outcome *out)
{
	struct upload_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.retry_after_s = -1;
	resp.body = (char *)body;
	resp.body_len = body ? strlen(body) : 0;
	d->ops->result(d, &resp, convs, n, out);
}

/* ---- registration ---------------------------------------------------------- */

static void test_ops_registered(void **state)
{
	(void)state;
	assert_ptr_equal(dest_ops_find("ga4"), &ga4_dest_ops);
	assert_ptr_equal(dest_ops_find("sgtm"), &sgtm_dest_ops);
	assert_int_equal(ga4_dest_ops.max_batch, 25);
	assert_int_equal(ga4_dest_ops.max_age_s, 72 * 3600);
	assert_int_equal(sgtm_dest_ops.max_age_s, 72 * 3600);
	assert_false(ga4_dest_ops.age_from_click);
	assert_non_null(ga4_dest_ops.batch_key);
	assert_non_null(sgtm_dest_ops.batch_key);
	assert_null(ga4_dest_ops.auth_grant);
}

/* ---- build ------------------------------------------------------------------ */

static void test_build_matches_fixture(void **state)
{
	struct conversion *c = order_conversion();
	char *expected_text = test_read_fixture("ga4_expected.json", NULL);
	cJSON *expected = cJSON_Parse(expected_text);
	struct upload_req req;
	cJSON *body;

	(void)state;
	assert_non_null(expected);
	body = build_ga4(&c, 1, &req);
	if (!cJSON_Compare(body, expected, 1)) {
		char *got = cJSON_Print(body);

		fprintf(stderr, "body differs from the fixture:\n%s\n", got);
		cJSON_free(got);
		fail();
	}
	assert_string_equal(req.url, "http://127.0.0.1:1/mp/collect?measurement_id=" MID
				     "&api_secret=" SECRET);
	assert_string_equal(req.log_url, "http://127.0.0.1:1/mp/collect?measurement_id=" MID);
	assert_int_equal(req.n_headers, 1);
	/* Money keeps its exact text; timestamp an exact integer. */
	assert_non_null(strstr(req.body.data, "\"value\":129.90,"));
	assert_non_null(strstr(req.body.data, "\"price\":20.00,"));
	assert_non_null(strstr(req.body.data, "\"timestamp_micros\":1795734251250000,"));
	assert_null(strstr(req.body.data, H_META));
	assert_null(strstr(req.body.data, "203.0.113.24"));
	assert_null(strstr(req.body.data, "Cj0KCQ"));
	cJSON_Delete(body);
	cJSON_Delete(expected);
	free(expected_text);
	upload_req_cleanup(&req);
	conv_free(c);
}

/* One user's events in one request; the latest event time stands for the
 * request, and transaction_id is never empty. */
static void test_build_events_and_transaction_id(void **state)
{
	struct conversion *convs[3];
	struct upload_req req;
	cJSON *body;

	(void)state;
	convs[0] = order_conversion();
	convs[1] = test_conversion("purchase", "api:42", ORDER_US);
	convs[1]->order_id = xstrdup("");
	convs[1]->occurred_us = ORDER_US + 5000000;
	convs[2] = test_conversion("purchase", "api:43", ORDER_US);
	body = build_ga4(convs, 3, &req);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "events")), 3);
	assert_string_equal(test_json_str(params_at(body, 0), "transaction_id"), "1042");
	assert_string_equal(test_json_str(params_at(body, 1), "transaction_id"), "api:42");
	assert_string_equal(test_json_str(params_at(body, 2), "transaction_id"), "api:43");
	assert_null(cJSON_GetObjectItemCaseSensitive(params_at(body, 2), "value"));
	assert_null(cJSON_GetObjectItemCaseSensitive(params_at(body, 2), "items"));
	assert_non_null(strstr(req.body.data, "\"timestamp_micros\":1795734256250000,"));
	assert_null(strstr(req.body.data, "\"transaction_id\":\"\""));
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	for (int i = 0; i < 3; i++)
		conv_free(convs[i]);
}

/* No identifiers, no consent: no user_data, consent or user_id, never
 * null or "" values; clear (unhashed) values never leave. */
static void test_build_omits_absent(void **state)
{
	struct conversion *c = test_conversion("purchase", "x:1", ORDER_US);
	struct upload_req req;
	cJSON *body;

	(void)state;
	c->ids[PII_SCHEME_GOOGLE][PII_EMAIL] = xstrdup("ana@example.com");
	c->ids[PII_SCHEME_GOOGLE][PII_CITY] = xstrdup("lisbon"); /* no hashed name */
	c->consent_ad_user_data = xstrdup("maybe");
	test_conversion_add_item(c, NULL, NULL, "5.00", 2);
	body = build_ga4(&c, 1, &req);
	assert_null(cJSON_GetObjectItemCaseSensitive(body, "user_data"));
	assert_null(cJSON_GetObjectItemCaseSensitive(body, "consent"));
	assert_null(cJSON_GetObjectItemCaseSensitive(body, "user_id"));
	assert_null(cJSON_GetObjectItemCaseSensitive(params_at(body, 0), "items"));
	assert_null(strstr(req.body.data, "ana@example.com"));
	assert_null(strstr(req.body.data, "lisbon"));
	assert_null(strstr(req.body.data, "null"));
	assert_null(strstr(req.body.data, "\"\""));
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	conv_free(c);
}

/* A body past GA4's 130 KB goes without its items. */
static void test_build_size_fallback(void **state)
{
	struct conversion *convs[25];
	struct upload_req req;
	cJSON *body;
	char id[64];

	(void)state;
	for (int i = 0; i < 25; i++) {
		convs[i] = order_conversion();
		for (int k = 0; k < 60; k++) {
			snprintf(id, sizeof(id), "SKU-%04d-%04d-with-a-long-product-code", i, k);
			test_conversion_add_item(
				convs[i], id, "A product with a long descriptive name", "10.00", 1);
		}
	}
	body = build_ga4(convs, 25, &req);
	assert_true(req.body.len < 130 * 1000);
	assert_null(cJSON_GetObjectItemCaseSensitive(params_at(body, 24), "items"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(params_at(body, 24), "value"));
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	for (int i = 0; i < 25; i++)
		conv_free(convs[i]);
}

static void test_build_refuses(void **state)
{
	struct conversion *c = order_conversion();
	struct destination d;
	struct upload_req req;
	struct err e;

	(void)state;
	dest_init(&d, &ga4_dest_ops, "{}", STD_CREDS, false);
	upload_req_init(&req);
	assert_int_equal(ga4_dest_ops.build(&d, NULL, &c, 1, &req, &e), ERR_CONFIG);
	test_dest_cleanup(&d);
	dest_init(&d, &ga4_dest_ops, GA4_SETTINGS, "{\"api_secret\":\"a&b=c\"}", false);
	assert_int_equal(ga4_dest_ops.build(&d, NULL, &c, 1, &req, &e), ERR_CONFIG);
	assert_null(strstr(e.msg, "a&b"));
	assert_int_equal(ga4_dest_ops.build(&d, NULL, &c, 0, &req, &e), ERR_INVALID);
	test_dest_cleanup(&d);
	assert_null(req.url);
	conv_free(c);
}

/* ---- client id and batch key ------------------------------------------------ */

static void test_client_id_from_cookie_or_derived(void **state)
{
	struct conversion *a = test_conversion("purchase", "shopify:order:1", ORDER_US);
	struct conversion *a2 = test_conversion("purchase", "shopify:order:2", ORDER_US);
	struct conversion *b = test_conversion("purchase", "shopify:order:3", ORDER_US);
	struct conversion *o = test_conversion("purchase", "shopify:order:4", ORDER_US);
	struct conversion *ga = order_conversion();
	struct destination d;
	char k1[128], k2[128], k3[128], k4[128];
	unsigned long x, y;
	char tail;

	(void)state;
	dest_init(&d, &ga4_dest_ops, GA4_SETTINGS, STD_CREDS, false);
	ga4_dest_ops.batch_key(&d, ga, k1, sizeof(k1));
	assert_string_equal(k1, "1234567890.1732662000");
	/* Same customer (email hash): same derived id; another: another. */
	a->ids[PII_SCHEME_GOOGLE][PII_EMAIL] = xstrdup(H_EMAIL);
	a2->ids[PII_SCHEME_GOOGLE][PII_EMAIL] = xstrdup(H_EMAIL);
	b->ids[PII_SCHEME_GOOGLE][PII_EMAIL] = xstrdup(H_PHONE);
	ga4_dest_ops.batch_key(&d, a, k1, sizeof(k1));
	ga4_dest_ops.batch_key(&d, a2, k2, sizeof(k2));
	ga4_dest_ops.batch_key(&d, b, k3, sizeof(k3));
	assert_string_equal(k1, k2);
	assert_string_not_equal(k1, k3);
	/* Cookie-shaped: two numbers. */
	assert_int_equal(sscanf(k1, "%lu.%lu%c", &x, &y, &tail), 2);
	/* Nothing but the order: stable across calls. */
	o->order_id = xstrdup("1001");
	ga4_dest_ops.batch_key(&d, o, k3, sizeof(k3));
	ga4_dest_ops.batch_key(&d, o, k4, sizeof(k4));
	assert_string_equal(k3, k4);
	/* A junk cookie value is not a client id. */
	o->click[CLICK_GA_CLIENT_ID] = xstrdup("1234\"} ,x");
	ga4_dest_ops.batch_key(&d, o, k4, sizeof(k4));
	assert_string_equal(k3, k4);
	test_dest_cleanup(&d);
	conv_free(a);
	conv_free(a2);
	conv_free(b);
	conv_free(o);
	conv_free(ga);
}

/* A delivered event with a derived id says so; one with a cookie does not. */
static void test_result_flags_derived(void **state)
{
	struct conversion *convs[2];
	struct destination d;
	struct outcome out[2];
	struct upload_req req;
	cJSON *body;

	(void)state;
	convs[0] = order_conversion();
	convs[1] = test_conversion("purchase", "shopify:order:9", ORDER_US);
	convs[1]->order_id = xstrdup("9");
	dest_init(&d, &ga4_dest_ops, GA4_SETTINGS, STD_CREDS, false);
	result_of(&d, 204, NULL, convs, 2, out);
	assert_int_equal(out[0].kind, OUTCOME_DELIVERED);
	assert_string_equal(out[0].message, "");
	assert_int_equal(out[1].kind, OUTCOME_DELIVERED);
	assert_non_null(strstr(out[1].message, "derived_client_id "));
	/* The request carries the same derived id. */
	body = build_with(&d, &convs[1], 1, &req);
	assert_non_null(strstr(out[1].message, test_json_str(body, "client_id")));
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	test_dest_cleanup(&d);
	conv_free(convs[0]);
	conv_free(convs[1]);
}

/* ---- classifiers -------------------------------------------------------------- */

static void test_classify_tables(void **state)
{
	static const struct {
		const struct dest_ops *ops;
		long status;
		enum outcome_kind kind;
	} cases[] = {
		{ &ga4_dest_ops, 200, OUTCOME_DELIVERED },
		{ &ga4_dest_ops, 204, OUTCOME_DELIVERED },
		{ &ga4_dest_ops, 500, OUTCOME_RETRY },
		{ &ga4_dest_ops, 503, OUTCOME_RETRY },
		{ &ga4_dest_ops, 429, OUTCOME_FAILED },
		{ &ga4_dest_ops, 400, OUTCOME_FAILED },
		{ &ga4_dest_ops, 302, OUTCOME_FAILED },
		{ &sgtm_dest_ops, 200, OUTCOME_DELIVERED },
		{ &sgtm_dest_ops, 503, OUTCOME_RETRY },
		{ &sgtm_dest_ops, 429, OUTCOME_RETRY },
		{ &sgtm_dest_ops, 408, OUTCOME_RETRY },
		{ &sgtm_dest_ops, 400, OUTCOME_FAILED },
		{ &sgtm_dest_ops, 404, OUTCOME_FAILED },
		{ &sgtm_dest_ops, 301, OUTCOME_FAILED },
	};
	struct conversion *c = order_conversion();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct destination d;
		struct outcome out[1];

		dest_init(&d, cases[i].ops,
			  cases[i].ops == &ga4_dest_ops ? GA4_SETTINGS : SGTM_SETTINGS, STD_CREDS,
			  false);
		result_of(&d, cases[i].status, "oops\nline", &c, 1, out);
		if (out[0].kind != cases[i].kind)
			fail_msg("%s %ld: %s", cases[i].ops->kind, cases[i].status,
				 outcome_kind_name(out[0].kind));
		if (cases[i].kind != OUTCOME_DELIVERED) {
			assert_non_null(strstr(out[0].message, "HTTP "));
			assert_null(strchr(out[0].message, '\n'));
		}
		test_dest_cleanup(&d);
	}
	conv_free(c);
}

static void test_transport_error_retries(void **state)
{
	struct conversion *c = order_conversion();
	struct destination d;
	struct upload_resp resp;
	struct outcome out[1];

	(void)state;
	memset(&resp, 0, sizeof(resp));
	resp.transport_error = true;
	resp.retry_after_s = -1;
	snprintf(resp.transport_msg, sizeof(resp.transport_msg), "connection refused");
	dest_init(&d, &ga4_dest_ops, GA4_SETTINGS, STD_CREDS, false);
	ga4_dest_ops.result(&d, &resp, &c, 1, out);
	assert_int_equal(out[0].kind, OUTCOME_RETRY);
	assert_string_equal(out[0].message, "connection refused");
	test_dest_cleanup(&d);
	conv_free(c);
}

/* Test mode: the validation server, and its messages on the outcome. */
static void test_test_mode_validation(void **state)
{
	static const struct {
		const char *body;
		enum outcome_kind kind;
		const char *msg; /* a substring of the message; "" = empty */
	} cases[] = {
		{ "{\"validationMessages\":[]}", OUTCOME_DELIVERED, "" },
		{ "", OUTCOME_DELIVERED, "" },
		{ "{\"validationMessages\":[{\"fieldPath\":\"events\",\"description\":\"Event at "
		  "index: [0] has invalid name [_bad].\",\"validationCode\":\"NAME_INVALID\"}]}",
		  OUTCOME_FAILED, "NAME_INVALID events: Event at index: [0] has invalid name" },
		{ "{\"validationMessages\":[{\"fieldPath\":\"events.params.value\",\"description\":"
		  "\"bad\",\"validationCode\":\"VALUE_INVALID\"}]}",
		  OUTCOME_FAILED, "VALUE_INVALID events.params.value: bad" },
		{ "{\"validationMessages\":[{\"fieldPath\":\"client_id\",\"description\":\"x\","
		  "\"validationCode\":\"VALUE_REQUIRED\"},{\"validationCode\":\"NAME_RESERVED\"}]}",
		  OUTCOME_DELIVERED, "VALUE_REQUIRED client_id: x; NAME_RESERVED : " },
		{ "{\"validationMessages\":{\"a\":1}}", OUTCOME_DELIVERED, "" },
	};
	struct conversion *c = order_conversion();
	struct destination d;
	struct upload_req req;
	cJSON *body;

	(void)state;
	dest_init(&d, &ga4_dest_ops, GA4_SETTINGS, STD_CREDS, true);
	body = build_with(&d, &c, 1, &req);
	assert_string_equal(req.log_url, "http://127.0.0.1:1/debug/mp/collect?measurement_id=" MID);
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome out[1];

		result_of(&d, 200, cases[i].body, &c, 1, out);
		if (out[0].kind != cases[i].kind ||
		    (cases[i].msg[0] ? strstr(out[0].message, cases[i].msg) == NULL
				     : out[0].message[0] != '\0'))
			fail_msg("case %zu: %s \"%s\"", i, outcome_kind_name(out[0].kind),
				 out[0].message);
	}
	test_dest_cleanup(&d);
	/* Outside test mode the same answer is not read (production GA4 sends
	 * none). */
	dest_init(&d, &ga4_dest_ops, GA4_SETTINGS, STD_CREDS, false);
	{
		struct outcome out[1];

		result_of(&d, 200, cases[2].body, &c, 1, out);
		assert_int_equal(out[0].kind, OUTCOME_DELIVERED);
	}
	test_dest_cleanup(&d);
	conv_free(c);
}

/* ---- validation sampling ------------------------------------------------------------ */

static void test_check_wanted_samples(void **state)
{
	struct conversion *convs[200];
	struct destination d;
	char id[32];
	int hits = 0;

	(void)state;
	for (int i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "shopify:order:%d", 1000 + i);
		convs[i] = test_conversion("purchase", id, ORDER_US);
	}
	dest_init(&d, &ga4_dest_ops, GA4_SETTINGS, STD_CREDS, false);
	assert_false(ga4_dest_ops.check_wanted(&d, convs, 1)); /* no sample set */
	test_dest_cleanup(&d);
	dest_init(&d, &ga4_dest_ops, "{\"measurement_id\":\"" MID "\",\"validate_sample\":1}",
		  STD_CREDS, true);
	assert_false(ga4_dest_ops.check_wanted(&d, convs, 1)); /* test mode: debug anyway */
	d.test_mode = false;
	assert_true(ga4_dest_ops.check_wanted(&d, convs, 1));
	test_dest_cleanup(&d);
	dest_init(&d, &ga4_dest_ops, "{\"measurement_id\":\"" MID "\",\"validate_sample\":0.5}",
		  STD_CREDS, false);
	for (int i = 0; i < 200; i++) {
		bool a = ga4_dest_ops.check_wanted(&d, &convs[i], 1);

		hits += a;
		/* Stable: a retry is sampled the same way. */
		assert_int_equal(a, ga4_dest_ops.check_wanted(&d, &convs[i], 1));
	}
	assert_in_range(hits, 60, 140);
	test_dest_cleanup(&d);
	for (int i = 0; i < 200; i++)
		conv_free(convs[i]);
}

static void test_check_result(void **state)
{
	struct conversion *convs[3];
	struct destination d;
	struct upload_req req;
	struct outcome out[3];
	struct err e;

	(void)state;
	for (int i = 0; i < 3; i++)
		convs[i] = order_conversion();
	dest_init(&d, &ga4_dest_ops, "{\"measurement_id\":\"" MID "\",\"validate_sample\":1}",
		  STD_CREDS, false);
	/* The check goes to the validation server, the real build does not. */
	upload_req_init(&req);
	assert_int_equal(ga4_dest_ops.check_build(&d, NULL, convs, 3, &req, &e), 0);
	assert_string_equal(req.log_url, "http://127.0.0.1:1/debug/mp/collect?measurement_id=" MID);
	upload_req_cleanup(&req);
	upload_req_init(&req);
	assert_int_equal(ga4_dest_ops.build(&d, NULL, convs, 3, &req, &e), 0);
	assert_string_equal(req.log_url, "http://127.0.0.1:1/mp/collect?measurement_id=" MID);
	upload_req_cleanup(&req);
	/* A named event fails alone; the others go with the warning. */
	{
		struct upload_resp resp = { .status = 200, .retry_after_s = -1 };
		const char *b =
			"{\"validationMessages\":[{\"fieldPath\":\"events\",\"description\":"
			"\"Event at index: [1] has invalid name [x y].\",\"validationCode\":"
			"\"NAME_INVALID\"}]}";

		resp.body = (char *)b;
		resp.body_len = strlen(b);
		ga4_dest_ops.check_result(&d, &resp, convs, 3, out);
		assert_int_equal(out[0].kind, OUTCOME_DELIVERED);
		assert_int_equal(out[1].kind, OUTCOME_FAILED);
		assert_int_equal(out[2].kind, OUTCOME_DELIVERED);
		assert_string_equal(out[1].platform_code, "validation");
		assert_non_null(
			strstr(out[0].message, "validation: NAME_INVALID events: Event at"));
		/* Without an index: the whole request. */
		b = "{\"validationMessages\":[{\"fieldPath\":\"user_id\",\"description\":\"bad\","
		    "\"validationCode\":\"VALUE_INVALID\"}]}";
		resp.body = (char *)b;
		resp.body_len = strlen(b);
		ga4_dest_ops.check_result(&d, &resp, convs, 3, out);
		for (int i = 0; i < 3; i++)
			assert_int_equal(out[i].kind, OUTCOME_FAILED);
		/* An index out of range is not trusted either. */
		b = "{\"validationMessages\":[{\"description\":\"index: [7]\","
		    "\"validationCode\":\"NAME_INVALID\"}]}";
		resp.body = (char *)b;
		resp.body_len = strlen(b);
		ga4_dest_ops.check_result(&d, &resp, convs, 3, out);
		for (int i = 0; i < 3; i++)
			assert_int_equal(out[i].kind, OUTCOME_FAILED);
		/* A warning only: all go, noted. */
		b = "{\"validationMessages\":[{\"fieldPath\":\"x\",\"description\":\"d\","
		    "\"validationCode\":\"VALUE_REQUIRED\"}]}";
		resp.body = (char *)b;
		resp.body_len = strlen(b);
		ga4_dest_ops.check_result(&d, &resp, convs, 3, out);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(out[i].kind, OUTCOME_DELIVERED);
			assert_string_equal(out[i].message, "validation: VALUE_REQUIRED x: d");
		}
		/* No answer from the validation server: all go, silently. */
		resp.status = 503;
		ga4_dest_ops.check_result(&d, &resp, convs, 3, out);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(out[i].kind, OUTCOME_DELIVERED);
			assert_string_equal(out[i].message, "");
		}
	}
	test_dest_cleanup(&d);
	for (int i = 0; i < 3; i++)
		conv_free(convs[i]);
}

static void test_validate_sample_setting(void **state)
{
	cJSON *s = cJSON_Parse("{\"measurement_id\":\"" MID "\",\"validate_sample\":\"0.01\"}");
	cJSON *c = cJSON_Parse(STD_CREDS);
	const cJSON *v;
	struct err e;

	(void)state;
	assert_int_equal(ga4_dest_ops.prepare_settings(s, &e), 0);
	v = cJSON_GetObjectItemCaseSensitive(s, "validate_sample");
	assert_true(cJSON_IsNumber(v));
	assert_true(v->valuedouble > 0.0099 && v->valuedouble < 0.0101);
	assert_int_equal(ga4_dest_ops.validate(s, c, false, &e), 0);
	cJSON_ReplaceItemInObjectCaseSensitive(s, "validate_sample", cJSON_CreateNumber(1.5));
	assert_int_equal(ga4_dest_ops.validate(s, c, false, &e), ERR_CONFIG);
	cJSON_ReplaceItemInObjectCaseSensitive(s, "validate_sample", cJSON_CreateString("1%"));
	assert_int_equal(ga4_dest_ops.prepare_settings(s, &e), ERR_CONFIG);
	cJSON_Delete(s);
	cJSON_Delete(c);
}

/* ---- sgtm ------------------------------------------------------------------------ */

static void test_sgtm_build(void **state)
{
	struct conversion *c = order_conversion();
	struct destination d;
	struct upload_req req;
	cJSON *body;

	(void)state;
	/* No measurement id, no secret: the container's own settings. */
	dest_init(&d, &sgtm_dest_ops, SGTM_SETTINGS, "{}", false);
	body = build_with(&d, &c, 1, &req);
	assert_string_equal(req.url, "https://sgtm.example.com/mp/collect");
	assert_int_equal(req.n_headers, 1); /* no preview header outside test mode */
	assert_string_equal(test_json_str(body, "client_id"), "1234567890.1732662000");
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	test_dest_cleanup(&d);
	/* With both, in test mode: the preview header. */
	dest_init(&d, &sgtm_dest_ops,
		  "{\"url\":\"https://sgtm.example.com\",\"measurement_id\":\"" MID
		  "\",\"gtm_preview\":\"ZW52LTF8abc=\"}",
		  STD_CREDS, true);
	body = build_with(&d, &c, 1, &req);
	assert_string_equal(req.url, "https://sgtm.example.com/mp/collect?measurement_id=" MID
				     "&api_secret=" SECRET);
	assert_string_equal(req.log_url, "https://sgtm.example.com/mp/collect?measurement_id=" MID);
	assert_int_equal(req.n_headers, 2);
	assert_string_equal(req.headers[1], "X-Gtm-Server-Preview: ZW52LTF8abc=");
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	test_dest_cleanup(&d);
	conv_free(c);
}

/* ---- validate ---------------------------------------------------------------------- */

static void test_validate(void **state)
{
	static const struct {
		const struct dest_ops *ops;
		const char *settings, *creds;
		bool ok;
	} cases[] = {
		{ &ga4_dest_ops, GA4_SETTINGS, STD_CREDS, true },
		{ &ga4_dest_ops, "{}", STD_CREDS, false },
		{ &ga4_dest_ops, "{\"measurement_id\":\"UA-1234\"}", STD_CREDS, false },
		{ &ga4_dest_ops, "{\"measurement_id\":\"G-AB&x=1\"}", STD_CREDS, false },
		{ &ga4_dest_ops, GA4_SETTINGS, "{}", false },
		{ &ga4_dest_ops, GA4_SETTINGS, "{\"api_secret\":\"\"}", false },
		{ &ga4_dest_ops, GA4_SETTINGS, "{\"api_secret\":\"a b\"}", false },
		{ &sgtm_dest_ops, SGTM_SETTINGS, "{}", true },
		{ &sgtm_dest_ops, SGTM_SETTINGS, STD_CREDS, true },
		{ &sgtm_dest_ops, "{\"url\":\"ftp://x.example\"}", "{}", false },
		{ &sgtm_dest_ops, "{\"url\":\"https://x.example/?a=1\"}", "{}", false },
		{ &sgtm_dest_ops, "{}", "{}", false },
		{ &sgtm_dest_ops, "{\"url\":\"https://x.example\",\"measurement_id\":\"x\"}", "{}",
		  false },
		{ &sgtm_dest_ops, "{\"url\":\"https://x.example\",\"gtm_preview\":\"a\\r\\nb\"}",
		  "{}", false },
		{ &sgtm_dest_ops, SGTM_SETTINGS, "{\"api_secret\":7}", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *s = cJSON_Parse(cases[i].settings);
		cJSON *c = cJSON_Parse(cases[i].creds);
		struct err e;
		int rc;

		err_clear(&e);
		rc = cases[i].ops->validate(s, c, false, &e);
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu (%s %s): rc %d %s", i, cases[i].ops->kind,
				 cases[i].settings, rc, e.msg);
		cJSON_Delete(s);
		cJSON_Delete(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_registered),
		cmocka_unit_test(test_build_matches_fixture),
		cmocka_unit_test(test_build_events_and_transaction_id),
		cmocka_unit_test(test_build_omits_absent),
		cmocka_unit_test(test_build_size_fallback),
		cmocka_unit_test(test_build_refuses),
		cmocka_unit_test(test_client_id_from_cookie_or_derived),
		cmocka_unit_test(test_result_flags_derived),
		cmocka_unit_test(test_classify_tables),
		cmocka_unit_test(test_transport_error_retries),
		cmocka_unit_test(test_test_mode_validation),
		cmocka_unit_test(test_check_wanted_samples),
		cmocka_unit_test(test_check_result),
		cmocka_unit_test(test_validate_sample_setting),
		cmocka_unit_test(test_sgtm_build),
		cmocka_unit_test(test_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
