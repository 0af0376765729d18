/*
 * test_google_ads.c - the Google Ads API destination: the click upload
 * request against a fixture body, accepts(), settings validation, the
 * classifier of Google's answers (partial failure rows and whole-request
 * errors, fixtures in test/fixtures/google/ads_*.json), the adjustments
 * builder and the conversion action request and answer.
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

#include "destinations/google_ads.h"
#include "destinations/google_common.h"
#include "testutil.h"

extern const struct dest_ops google_ads_dest_ops;

#define ACCESS "ya29.test-access"
#define DEVTOK "dev-token-123"

/* 2026-11-26T18:04:11-05:00 = 23:04:11 UTC (the Shopify fixture order). */
#define ORDER_US (INT64_C(1795734251) * 1000000 + 250000)

#define EMAIL_H "a6b1e5d9f2c3b4a5968776655443322110ffeeddccbbaa998877665544332211"
#define PHONE_H "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

#define STD_SETTINGS                                                                               \
	"{\"customer_id\":\"1234567890\",\"conversion_action\":\"555666777\","                     \
	"\"consent\":\"denied\"}"
#define STD_CREDS                                                                                  \
	"{\"client_id\":\"c\",\"client_secret\":\"s\",\"refresh_token\":\"r\","                    \
	"\"developer_token\":\"" DEVTOK "\"}"

/* ---- helpers ------------------------------------------------------------- */

static void dest_init(struct destination *d, const char *settings, const char *creds)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->kind, sizeof(d->kind), "google_ads");
	d->base_url = xstrdup("https://googleads.example/");
	d->api_version = xstrdup("v26");
	d->settings = cJSON_Parse(settings);
	assert_non_null(d->settings);
	d->creds = creds ? xstrdup(creds) : NULL;
	d->ops = &google_ads_dest_ops;
}

static void dest_cleanup(struct destination *d)
{
	free(d->base_url);
	free(d->api_version);
	cJSON_Delete(d->settings);
	free(d->creds);
}

static struct conversion *conv(const char *order, const char *value)
{
	struct conversion *c = conv_new();

	c->event = xstrdup("purchase");
	c->event_id = xasprintf("shopify:order:%s", order);
	c->occurred_us = ORDER_US;
	c->order_id = xstrdup(order);
	if (value) {
		c->value = xstrdup(value);
		c->currency = xstrdup("USD");
	}
	return c;
}

/* The order of the fixture: gclid, hashes (Meta's must not leak), consent
 * granted on the conversion. */
static struct conversion *order_conversion(void)
{
	struct conversion *c = conv("1042", "129.90");

	c->click[CLICK_GCLID] = xstrdup("Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	c->click[CLICK_FBP] = xstrdup("fb.1.1732662000000.1098765432");
	c->ids[PII_SCHEME_GOOGLE][PII_EMAIL] = xstrdup(EMAIL_H);
	c->ids[PII_SCHEME_GOOGLE][PII_PHONE] = xstrdup(PHONE_H);
	c->ids[PII_SCHEME_GOOGLE][PII_FIRST_NAME] = xstrdup(EMAIL_H); /* not sent */
	c->ids[PII_SCHEME_META][PII_EMAIL] =
		xstrdup("7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86");
	c->consent_ad_user_data = xstrdup("granted");
	c->client_ip = xstrdup("203.0.113.24");
	return c;
}

static cJSON *fixture_json(const char *name)
{
	char *text = test_read_fixture(name, NULL);
	cJSON *j = cJSON_Parse(text);

	free(text);
	assert_non_null(j);
	return j;
}

static void assert_body_is(const struct upload_req *req, const char *fixture)
{
	cJSON *want = fixture_json(fixture);
	cJSON *got = cJSON_Parse(req->body.data);

	assert_non_null(got);
	if (!cJSON_Compare(want, got, true)) {
		char *g = cJSON_Print(got);

		fprintf(stderr, "body:\n%s\n", g);
		cJSON_free(g);
		fail_msg("request body differs from %s", fixture);
	}
	cJSON_Delete(want);
	cJSON_Delete(got);
}

static bool has_header(const struct upload_req *req, const char *h)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcmp(req->headers[i], h) == 0)
			return true;
	}
	return false;
}

static bool has_header_prefix(const struct upload_req *req, const char *p)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strncmp(req->headers[i], p, strlen(p)) == 0)
			return true;
	}
	return false;
}

/* ---- build --------------------------------------------------------------- */

static void test_build_matches_fixture(void **state)
{
	struct destination d;
	struct conversion *c[2] = { order_conversion(), conv("1043", NULL) };
	struct upload_req req;
	struct err e = { 0 };

	(void)state;
	dest_init(&d, STD_SETTINGS, STD_CREDS);
	c[1]->click[CLICK_GBRAID] = xstrdup("0AAAAAo-gbraid-1");
	c[1]->click[CLICK_WBRAID] = xstrdup("wbraid-never-with-gbraid");
	upload_req_init(&req);
	assert_int_equal(google_ads_dest_ops.build(&d, ACCESS, c, 2, &req, &e), 0);
	assert_string_equal(req.url, "https://googleads.example/v26/customers/1234567890:"
				     "uploadClickConversions");
	assert_string_equal(req.log_url, req.url);
	assert_true(has_header(&req, "Authorization: Bearer " ACCESS));
	assert_true(has_header(&req, "developer-token: " DEVTOK));
	assert_true(has_header(&req, "Content-Type: application/json"));
	assert_false(has_header_prefix(&req, "login-customer-id:"));
	assert_body_is(&req, "google/ads_upload_expected.json");
	/* Money goes through as text, never through a double. */
	assert_non_null(strstr(req.body.data, "\"conversionValue\":129.90"));
	assert_null(strstr(req.body.data, "wbraid"));
	assert_null(strstr(req.body.data, "validateOnly"));
	upload_req_cleanup(&req);
	conv_free(c[0]);
	conv_free(c[1]);
	dest_cleanup(&d);
}

static void test_build_login_test_mode_no_devtoken(void **state)
{
	struct destination d;
	struct conversion *c = conv("7", "1");
	struct upload_req req;
	struct err e = { 0 };
	cJSON *body;

	(void)state;
	dest_init(&d,
		  "{\"customer_id\":\"1234567890\",\"login_customer_id\":\"9876543210\","
		  "\"conversion_action\":\"5\"}",
		  "{\"refresh_token\":\"r\"}");
	d.test_mode = true;
	c->click[CLICK_WBRAID] = xstrdup("wb-1");
	upload_req_init(&req);
	assert_int_equal(google_ads_dest_ops.build(&d, ACCESS, &c, 1, &req, &e), 0);
	assert_true(has_header(&req, "login-customer-id: 9876543210"));
	assert_false(has_header_prefix(&req, "developer-token:"));
	body = cJSON_Parse(req.body.data);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(body, "validateOnly")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(body, "partialFailure")));
	{
		cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "conversions"), 0);

		assert_string_equal(cJSON_GetObjectItem(c0, "wbraid")->valuestring, "wb-1");
		/* No consent on the conversion nor the destination: omitted. */
		assert_null(cJSON_GetObjectItem(c0, "consent"));
		assert_null(cJSON_GetObjectItem(c0, "userIdentifiers"));
	}
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	conv_free(c);
	dest_cleanup(&d);
}

static void test_build_refusals(void **state)
{
	struct destination d;
	struct conversion *c = conv("7", "1");
	struct upload_req req;
	struct err e = { 0 };

	(void)state;
	c->click[CLICK_GCLID] = xstrdup("g");
	dest_init(&d, "{\"customer_id\":\"1234567890\"}", STD_CREDS);
	upload_req_init(&req);
	/* No conversion action yet: says how to get one. */
	assert_int_equal(google_ads_dest_ops.build(&d, ACCESS, &c, 1, &req, &e), ERR_CONFIG);
	assert_non_null(strstr(e.msg, "create-conversion-action"));
	dest_cleanup(&d);
	dest_init(&d, STD_SETTINGS, STD_CREDS);
	assert_int_equal(google_ads_dest_ops.build(&d, NULL, &c, 1, &req, &e), ERR_CONFIG);
	assert_int_equal(google_ads_dest_ops.build(&d, ACCESS, &c, 0, &req, &e), ERR_INVALID);
	assert_int_equal(google_ads_dest_ops.build(&d, ACCESS, &c, 2001, &req, &e), ERR_INVALID);
	assert_null(req.url);
	upload_req_cleanup(&req);
	conv_free(c);
	dest_cleanup(&d);
}

static void test_accepts(void **state)
{
	struct destination d;
	struct conversion *c = conv("1", "1");
	char why[128] = "";

	(void)state;
	dest_init(&d, STD_SETTINGS, STD_CREDS);
	c->ids[PII_SCHEME_GOOGLE][PII_EMAIL] = xstrdup(EMAIL_H);
	assert_false(google_ads_dest_ops.accepts(&d, c, why, sizeof(why)));
	assert_non_null(strstr(why, "gclid"));
	c->click[CLICK_GBRAID] = xstrdup("gb");
	assert_true(google_ads_dest_ops.accepts(&d, c, why, sizeof(why)));
	conv_free(c);
	dest_cleanup(&d);
}

static int validate(const char *settings, const char *creds)
{
	cJSON *s = cJSON_Parse(settings), *c = cJSON_Parse(creds);
	struct err e = { 0 };
	int rc;

	assert_non_null(s);
	assert_non_null(c);
	rc = google_ads_dest_ops.prepare_settings(s, &e);
	if (rc == 0)
		rc = google_ads_dest_ops.validate(s, c, false, &e);
	cJSON_Delete(s);
	cJSON_Delete(c);
	return rc;
}

static void test_validate(void **state)
{
	(void)state;
	assert_int_equal(validate("{\"customer_id\":\"123-456-7890\"}", "{}"), 0);
	assert_int_equal(
		validate("{\"customer_id\":\"1234567890\",\"api_version\":\"v23\"}", STD_CREDS), 0);
	assert_int_equal(validate("{\"customer_id\":\"1234567890\",\"api_version\":\"v22\"}", "{}"),
			 ERR_CONFIG);
	assert_int_equal(
		validate("{\"customer_id\":\"1234567890\",\"api_version\":\"v26.0\"}", "{}"),
		ERR_CONFIG);
	assert_int_equal(validate("{\"customer_id\":\"1234567890\"}", "{\"developer_token\":\"\"}"),
			 ERR_CONFIG);
	assert_int_equal(validate("{\"customer_id\":\"1234567890\"}", "{\"developer_token\":7}"),
			 ERR_CONFIG);
	assert_int_equal(validate("{}", "{}"), ERR_CONFIG);
}

static void test_ops_wiring(void **state)
{
	(void)state;
	assert_ptr_equal(dest_ops_find("google_ads"), &google_ads_dest_ops);
	assert_string_equal(google_ads_dest_ops.endpoint_key, "google_ads");
	assert_int_equal(google_ads_dest_ops.max_batch, 2000);
	assert_int_equal(google_ads_dest_ops.max_age_s, 90 * 24 * 3600);
	assert_true(google_ads_dest_ops.age_from_click);
	assert_string_equal(google_ads_dest_ops.oauth_scopes, GOOGLE_SCOPE_ADWORDS);
	assert_string_equal(google_ads_dest_ops.api_version_key->name, "ads_api_version");
	assert_string_equal(google_ads_dest_ops.api_version_key->def, "v26");
	assert_int_equal(google_ads_dest_ops.n_config_keys, google_n_config_keys);
}

/* ---- result -------------------------------------------------------------- */

/* Classify a fixture (or literal body when fixture is NULL) answered with
 * status for n conversions. */
static void classify(long status, const char *fixture, const char *body, size_t n,
		     struct outcome *out)
{
	struct destination d;
	struct upload_resp resp;
	struct conversion *convs[8] = { 0 };
	char *text = fixture ? test_read_fixture(fixture, NULL) : xstrdup(body ? body : "");

	dest_init(&d, STD_SETTINGS, STD_CREDS);
	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.body = text;
	resp.body_len = strlen(text);
	resp.retry_after_s = 17;
	google_ads_dest_ops.result(&d, &resp, convs, n, out);
	free(text);
	dest_cleanup(&d);
}

static void test_result_partial_failure_rows(void **state)
{
	struct outcome out[5];

	(void)state;
	classify(200, "google/ads_partial_failure.json", NULL, 5, out);
	assert_int_equal(out[0].kind, OUTCOME_DELIVERED);
	assert_int_equal(out[1].kind, OUTCOME_FAILED);
	assert_string_equal(out[1].platform_code, "CLICK_NOT_FOUND");
	assert_non_null(strstr(out[1].message, "The click was not found."));
	assert_non_null(strstr(out[1].message, "Xq2nU8rM3b0fQ1"));
	assert_int_equal(out[2].kind, OUTCOME_DELIVERED); /* already exists */
	assert_int_equal(out[3].kind, OUTCOME_RETRY);	  /* too recent: 6 h */
	assert_int_equal(out[3].retry_after_s, 6 * 3600);
	assert_string_equal(out[3].platform_code, "TOO_RECENT_CONVERSION_ACTION");
	assert_int_equal(out[4].kind, OUTCOME_DELIVERED); /* order id in use */
}

static void test_result_success_and_transport(void **state)
{
	struct outcome out[3];
	struct destination d;
	struct upload_resp resp;

	(void)state;
	classify(200, NULL, "{\"results\":[{},{},{}],\"jobId\":\"42\"}", 3, out);
	for (int i = 0; i < 3; i++)
		assert_int_equal(out[i].kind, OUTCOME_DELIVERED);
	classify(200, NULL, "", 3, out);
	assert_int_equal(out[2].kind, OUTCOME_DELIVERED);
	dest_init(&d, STD_SETTINGS, STD_CREDS);
	memset(&resp, 0, sizeof(resp));
	resp.transport_error = true;
	snprintf(resp.transport_msg, sizeof(resp.transport_msg), "connection refused");
	resp.retry_after_s = -1;
	google_ads_dest_ops.result(&d, &resp, NULL, 2, out);
	assert_int_equal(out[1].kind, OUTCOME_RETRY);
	assert_string_equal(out[1].message, "connection refused");
	dest_cleanup(&d);
}

static void test_result_whole_request(void **state)
{
	struct outcome out[2];

	(void)state;
	classify(401, "google/ads_error_401.json", NULL, 2, out);
	assert_int_equal(out[0].kind, OUTCOME_REAUTH);
	classify(429, "google/ads_error_429.json", NULL, 2, out);
	assert_int_equal(out[1].kind, OUTCOME_RETRY);
	assert_int_equal(out[1].retry_after_s, 17); /* Retry-After */
	assert_string_equal(out[1].platform_code, "RESOURCE_EXHAUSTED");
	classify(503, NULL, "<html>unavailable</html>", 2, out);
	assert_int_equal(out[0].kind, OUTCOME_RETRY);
	assert_non_null(strstr(out[0].message, "HTTP 503"));
	classify(400, "google/ads_error_transient.json", NULL, 2, out);
	assert_int_equal(out[0].kind, OUTCOME_RETRY);
	classify(403, "google/ads_error_devtoken.json", NULL, 2, out);
	assert_int_equal(out[0].kind, OUTCOME_PAUSE);
	assert_string_equal(out[0].platform_code, "DEVELOPER_TOKEN_NOT_APPROVED");
	assert_non_null(strstr(out[0].message, "test accounts"));
	assert_non_null(strstr(out[0].message, "developer_token"));
	classify(400, "google/ads_error_not_allowlisted.json", NULL, 2, out);
	assert_int_equal(out[1].kind, OUTCOME_PAUSE);
	assert_non_null(strstr(out[1].message, "google_datamanager"));
	classify(400, "google/ads_error_400.json", NULL, 2, out);
	assert_int_equal(out[0].kind, OUTCOME_FAILED);
	assert_string_equal(out[0].platform_code, "INVALID_CUSTOMER_ID");
	assert_non_null(strstr(out[0].message, "Customer id is invalid."));
	assert_non_null(strstr(out[0].message, "rq-400"));
	/* A 404 without Google's error object: a wrong base URL, retried. */
	classify(404, NULL, "Not Found", 2, out);
	assert_int_equal(out[0].kind, OUTCOME_RETRY);
	classify(403, NULL,
		 "{\"error\":{\"code\":403,\"status\":\"PERMISSION_DENIED\","
		 "\"message\":\"denied\"}}",
		 2, out);
	assert_int_equal(out[0].kind, OUTCOME_PAUSE);
}

static void test_result_too_many_and_allowlist_row(void **state)
{
	struct outcome out[3];

	(void)state;
	classify(200, "google/ads_error_too_many.json", NULL, 3, out);
	assert_int_equal(out[0].kind, OUTCOME_SPLIT);
	assert_int_equal(out[2].kind, OUTCOME_SPLIT);
	classify(200, "google/ads_error_too_many.json", NULL, 1, out);
	assert_int_equal(out[0].kind, OUTCOME_FAILED); /* never SPLIT one event */
	/* A row refused for the allowlist pauses; its neighbour stays delivered;
	 * an index out of range is ignored for the rows (applies to none). */
	classify(200, NULL,
		 "{\"partialFailureError\":{\"details\":[{\"errors\":["
		 "{\"errorCode\":{\"notAllowlistedError\":"
		 "\"CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE\"},\"message\":\"no\","
		 "\"location\":{\"fieldPathElements\":[{\"fieldName\":\"conversions\","
		 "\"index\":1}]}},"
		 "{\"errorCode\":{\"conversionUploadError\":\"CLICK_NOT_FOUND\"},"
		 "\"message\":\"x\",\"location\":{\"fieldPathElements\":[{\"fieldName\":"
		 "\"conversions\",\"index\":1}]}}]}]}}",
		 3, out);
	assert_int_equal(out[0].kind, OUTCOME_DELIVERED);
	assert_int_equal(out[1].kind, OUTCOME_PAUSE); /* the worse of its two errors */
	assert_non_null(strstr(out[1].message, "google_datamanager"));
	assert_int_equal(out[2].kind, OUTCOME_DELIVERED);
}

/* ---- adjustments ----------------------------------------------------------- */

static void test_adjustments(void **state)
{
	struct destination d;
	struct upload_req req;
	struct err e = { 0 };
	/* 2026-11-27T09:30:00Z */
	const int64_t at = INT64_C(1795771800) * 1000000;
	struct google_ads_adjustment adj[2] = {
		{ GOOGLE_ADS_RETRACTION, "1042", at, NULL, NULL },
		{ GOOGLE_ADS_RESTATEMENT, "1043", at, "79.95", "EUR" },
	};

	(void)state;
	dest_init(&d, STD_SETTINGS, STD_CREDS);
	upload_req_init(&req);
	assert_int_equal(google_ads_build_adjustments(&d, ACCESS, adj, 2, &req, &e), 0);
	assert_string_equal(req.url, "https://googleads.example/v26/customers/1234567890:"
				     "uploadConversionAdjustments");
	assert_true(has_header(&req, "developer-token: " DEVTOK));
	assert_body_is(&req, "google/ads_adjustments_expected.json");
	assert_non_null(strstr(req.body.data, "\"adjustedValue\":79.95"));
	upload_req_cleanup(&req);
	adj[1].value = "1e3";
	upload_req_init(&req);
	assert_int_equal(google_ads_build_adjustments(&d, ACCESS, adj, 2, &req, &e), ERR_INVALID);
	adj[1].value = "5";
	adj[0].order_id = NULL;
	assert_int_equal(google_ads_build_adjustments(&d, ACCESS, adj, 2, &req, &e), ERR_INVALID);
	assert_int_equal(google_ads_build_adjustments(&d, ACCESS, adj, 0, &req, &e), ERR_INVALID);
	assert_null(req.url);
	upload_req_cleanup(&req);
	dest_cleanup(&d);
}

/* The generic adjustments hook (dest.h) builds the same request, and
 * reads a partial failure located at conversionAdjustments[i]; google_ads
 * is the one kind that uploads adjustments. */
static void test_adjustments_hook(void **state)
{
	static const char pfe[] =
		"{\"results\":[{},{}],\"partialFailureError\":{\"code\":3,\"message\":\"x\","
		"\"details\":[{\"@type\":\"type.googleapis.com/google.ads.googleads.v26.errors."
		"GoogleAdsFailure\",\"errors\":[{\"errorCode\":{"
		"\"conversionAdjustmentUploadError\":"
		"\"CONVERSION_ALREADY_RETRACTED\"},\"message\":\"The conversion was already "
		"retracted.\",\"location\":{\"fieldPathElements\":[{\"fieldName\":"
		"\"conversionAdjustments\",\"index\":1}]}}]}]}}";
	struct destination d;
	struct upload_req req;
	struct upload_resp resp = { .status = 200, .body = pfe, .body_len = sizeof(pfe) - 1 };
	struct outcome out[2];
	struct err e = { 0 };
	const int64_t at = INT64_C(1795771800) * 1000000;
	const struct dest_adjustment adj[2] = {
		{ DEST_ADJ_RETRACTION, "1042", "shopify:order:1042", at, NULL, NULL },
		{ DEST_ADJ_RESTATEMENT, "1043", "shopify:order:1043", at, "79.95", "EUR" },
	};
	const char *kinds[4];

	(void)state;
	assert_true(dest_supports_adjustments(&google_ads_dest_ops));
	assert_false(dest_supports_adjustments(dest_ops_find("meta_capi")));
	assert_false(dest_supports_adjustments(dest_ops_find("tiktok")));
	assert_false(dest_supports_adjustments(dest_ops_find("ga4")));
	assert_false(dest_supports_adjustments(dest_ops_find("google_datamanager")));
	assert_int_equal(dest_adjustment_kinds(kinds, 4), 1);
	assert_string_equal(kinds[0], "google_ads");
	assert_int_equal(google_ads_dest_ops.max_adjustments, GOOGLE_ADS_MAX_ADJUSTMENTS);
	dest_init(&d, STD_SETTINGS, STD_CREDS);
	upload_req_init(&req);
	assert_int_equal(google_ads_dest_ops.build_adjustments(&d, ACCESS, adj, 2, &req, &e), 0);
	assert_body_is(&req, "google/ads_adjustments_expected.json");
	upload_req_cleanup(&req);
	upload_req_init(&req);
	assert_int_equal(google_ads_dest_ops.build_adjustments(&d, ACCESS, adj, 0, &req, &e),
			 ERR_INVALID);
	upload_req_cleanup(&req);
	google_ads_dest_ops.adjustments_result(&d, &resp, 2, out);
	assert_int_equal(out[0].kind, OUTCOME_DELIVERED);
	assert_int_equal(out[1].kind, OUTCOME_FAILED);
	assert_string_equal(out[1].platform_code, "CONVERSION_ALREADY_RETRACTED");
	dest_cleanup(&d);
}

/* ---- conversion actions ------------------------------------------------------ */

static void test_conversion_action_request(void **state)
{
	struct google_ads_action_req r = {
		.base_url = "https://googleads.example",
		.api_version = "v26",
		.customer_id = "1234567890",
		.login_customer_id = "9876543210",
		.access_token = ACCESS,
		.developer_token = DEVTOK,
		.name = "AdsEngineer purchases",
		.category = "LEAD",
	};
	struct upload_req req;
	struct err e = { 0 };

	(void)state;
	upload_req_init(&req);
	assert_int_equal(google_ads_build_conversion_action(&r, &req, &e), 0);
	assert_string_equal(req.url, "https://googleads.example/v26/customers/1234567890/"
				     "conversionActions:mutate");
	assert_true(has_header(&req, "login-customer-id: 9876543210"));
	assert_true(has_header(&req, "developer-token: " DEVTOK));
	assert_true(has_header(&req, "Authorization: Bearer " ACCESS));
	assert_body_is(&req, "google/ads_conversion_action_expected.json");
	upload_req_cleanup(&req);
	r.category = "NOT_A_CATEGORY";
	upload_req_init(&req);
	assert_int_equal(google_ads_build_conversion_action(&r, &req, &e), ERR_INVALID);
	r.category = NULL;
	r.name = "bad\nname";
	assert_int_equal(google_ads_build_conversion_action(&r, &req, &e), ERR_INVALID);
	r.name = "ok";
	r.developer_token = NULL;
	assert_int_equal(google_ads_build_conversion_action(&r, &req, &e), ERR_CONFIG);
	upload_req_cleanup(&req);
	assert_true(google_ads_is_category("PURCHASE"));
	assert_false(google_ads_is_category("purchase"));
}

static int parse_action(long status, const char *fixture, const char *body, char id[24],
			struct err *e)
{
	struct upload_resp resp;
	char rn[128];
	char *text = fixture ? test_read_fixture(fixture, NULL) : xstrdup(body);
	int rc;

	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.body = text;
	resp.body_len = strlen(text);
	resp.retry_after_s = -1;
	rc = google_ads_parse_conversion_action(&resp, id, rn, e);
	if (rc == 0)
		assert_string_equal(rn, "customers/1234567890/conversionActions/987654321");
	free(text);
	return rc;
}

static void test_conversion_action_answer(void **state)
{
	struct err e = { 0 };
	char id[24];

	(void)state;
	assert_int_equal(
		parse_action(200, "google/ads_conversion_action_response.json", NULL, id, &e), 0);
	assert_string_equal(id, "987654321");
	assert_int_equal(
		parse_action(400, "google/ads_conversion_action_duplicate.json", NULL, id, &e),
		ERR_INVALID);
	assert_non_null(strstr(e.msg, "A conversion action with this name already exists."));
	assert_non_null(strstr(e.msg, "DUPLICATE_NAME"));
	assert_int_equal(parse_action(401, "google/ads_error_401.json", NULL, id, &e), ERR_AUTH);
	assert_int_equal(parse_action(503, NULL, "busy", id, &e), ERR_IO);
	assert_int_equal(parse_action(200, NULL, "{\"results\":[{}]}", id, &e), ERR_INVALID);
	assert_int_equal(parse_action(200, NULL,
				      "{\"results\":[{\"resourceName\":"
				      "\"customers/1/conversionActions/x\"}]}",
				      id, &e),
			 ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_matches_fixture),
		cmocka_unit_test(test_build_login_test_mode_no_devtoken),
		cmocka_unit_test(test_build_refusals),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_ops_wiring),
		cmocka_unit_test(test_result_partial_failure_rows),
		cmocka_unit_test(test_result_success_and_transport),
		cmocka_unit_test(test_result_whole_request),
		cmocka_unit_test(test_result_too_many_and_allowlist_row),
		cmocka_unit_test(test_adjustments),
		cmocka_unit_test(test_adjustments_hook),
		cmocka_unit_test(test_conversion_action_request),
		cmocka_unit_test(test_conversion_action_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
