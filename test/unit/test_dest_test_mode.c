/*
 * test_dest_test_mode.c - each kind's `destination test` hooks
 * (dest_ops.test_prepare, test_note): Meta and TikTok refuse without a
 * test event code and put the given one in the request, GA4 goes to the
 * validation server, Google sends validateOnly, sGTM sends the preview
 * header and warns about an empty 2xx only.  Every kind has a test mode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conversion.h"
#include "core/mem.h"
#include "destinations/dest.h"

#define BASE "https://platform.test"

static void dest_init(struct destination *d, const char *kind, const char *settings,
		      const char *creds)
{
	memset(d, 0, sizeof(*d));
	d->ops = dest_ops_find(kind);
	assert_non_null(d->ops);
	snprintf(d->kind, sizeof(d->kind), "%s", kind);
	snprintf(d->id, sizeof(d->id), "11111111-1111-4111-8111-111111111111");
	d->base_url = xstrdup(BASE);
	d->api_version = xstrdup("v24.0");
	d->settings = cJSON_Parse(settings);
	assert_non_null(d->settings);
	d->creds = xstrdup(creds);
}

static void dest_cleanup(struct destination *d)
{
	free(d->base_url);
	free(d->api_version);
	cJSON_Delete(d->settings);
	free(d->creds);
}

static struct conversion *purchase(void)
{
	struct conversion *c = conv_new();

	c->event = xstrdup("purchase");
	c->event_id = xstrdup("adseng-test:1");
	c->occurred_us = 1732662000000000LL;
	c->value = xstrdup("1.00");
	c->currency = xstrdup("USD");
	c->order_id = xstrdup("adseng-test:1");
	conv_set_pii(c, PII_EMAIL, "adseng-test@example.com");
	conv_set_click(c, CLICK_GA_CLIENT_ID, "1234567890.1700000000");
	return c;
}

/* Build one request for the test purchase; the body as text (free). */
static char *build_body(const struct destination *d, struct upload_req *req)
{
	struct conversion *c = purchase();
	struct err e = { 0 };
	int rc;

	upload_req_init(req);
	rc = d->ops->build(d, "ya29.test-token", &c, 1, req, &e);
	conv_free(c);
	if (rc != 0)
		fail_msg("build: %s", e.msg);
	return xstrndup(req->body.data ? req->body.data : "", req->body.len);
}

static bool has_header(const struct upload_req *req, const char *h)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcmp(req->headers[i], h) == 0)
			return true;
	}
	return false;
}

static void test_every_kind_has_a_test_mode(void **state)
{
	static const char *const kinds[] = { "meta_capi",	   "tiktok", "google_ads",
					     "google_datamanager", "ga4",    "sgtm" };

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		assert_non_null(dest_ops_find(kinds[i])->test_prepare);
}

/* TikTok: no code configured and none given → refused; given → sent. */
static void test_tiktok(void **state)
{
	struct destination d;
	struct dest_test_opts none = { 0 }, code = { "TEST12345", NULL };
	struct upload_req req;
	struct err e = { 0 };
	char *body;

	(void)state;
	dest_init(&d, "tiktok", "{\"pixel_id\":\"COQDA8RC77U2TMR44LI0\"}",
		  "{\"access_token\":\"tok\"}");
	assert_int_equal(d.ops->test_prepare(&d, &none, &e), ERR_CONFIG);
	assert_non_null(strstr(e.msg, "--test-event-code"));
	assert_false(d.test_mode);
	assert_int_equal(d.ops->test_prepare(&d, &code, &e), 0);
	assert_true(d.test_mode);
	body = build_body(&d, &req);
	assert_non_null(strstr(body, "\"test_event_code\":\"TEST12345\""));
	free(body);
	upload_req_cleanup(&req);
	dest_cleanup(&d);

	/* A configured code is used when none is given. */
	dest_init(&d, "tiktok",
		  "{\"pixel_id\":\"COQDA8RC77U2TMR44LI0\",\"test_event_code\":\"CONF1\"}",
		  "{\"access_token\":\"tok\"}");
	assert_int_equal(d.ops->test_prepare(&d, NULL, &e), 0);
	body = build_body(&d, &req);
	assert_non_null(strstr(body, "\"test_event_code\":\"CONF1\""));
	free(body);
	upload_req_cleanup(&req);
	dest_cleanup(&d);
}

static void test_meta(void **state)
{
	struct destination d;
	struct dest_test_opts code = { "TEST999", NULL }, bad = { "a\nb", NULL };
	struct upload_req req;
	struct err e = { 0 };
	char *body;

	(void)state;
	dest_init(&d, "meta_capi", "{\"pixel_id\":\"1234567890\"}", "{\"access_token\":\"tok\"}");
	assert_int_equal(d.ops->test_prepare(&d, NULL, &e), ERR_CONFIG);
	assert_int_equal(d.ops->test_prepare(&d, &bad, &e), ERR_CONFIG);
	assert_int_equal(d.ops->test_prepare(&d, &code, &e), 0);
	body = build_body(&d, &req);
	assert_non_null(strstr(body, "test_event_code=TEST999"));
	free(body);
	upload_req_cleanup(&req);
	dest_cleanup(&d);
}

static void test_ga4_validation_server(void **state)
{
	struct destination d;
	struct upload_req req;
	struct err e = { 0 };
	char *body;

	(void)state;
	dest_init(&d, "ga4", "{\"measurement_id\":\"G-TEST123\"}", "{\"api_secret\":\"s3cr3t\"}");
	assert_int_equal(d.ops->test_prepare(&d, NULL, &e), 0);
	body = build_body(&d, &req);
	assert_string_equal(req.log_url, BASE "/debug/mp/collect?measurement_id=G-TEST123");
	free(body);
	upload_req_cleanup(&req);
	dest_cleanup(&d);
}

static void test_google_validate_only(void **state)
{
	struct destination d;
	struct upload_req req;
	struct err e = { 0 };
	char *body;

	(void)state;
	dest_init(&d, "google_datamanager",
		  "{\"customer_id\":\"1234567890\",\"conversion_action\":\"555\"}",
		  "{\"client_id\":\"c\",\"client_secret\":\"s\",\"refresh_token\":\"r\"}");
	free(d.api_version);
	d.api_version = xstrdup("v1");
	assert_int_equal(d.ops->test_prepare(&d, NULL, &e), 0);
	body = build_body(&d, &req);
	assert_non_null(strstr(body, "\"validateOnly\":true"));
	free(body);
	upload_req_cleanup(&req);
	dest_cleanup(&d);
}

static void test_sgtm(void **state)
{
	struct destination d;
	struct dest_test_opts prev = { NULL, "ZW52LTV8dGVzdA==" }, bad = { NULL, "a b" };
	struct upload_req req;
	struct upload_resp empty = { .status = 200, .body = "", .retry_after_s = -1 };
	struct upload_resp with_body = { .status = 200, .body = "{}", .body_len = 2 };
	struct upload_resp err503 = { .status = 503, .body = "" };
	struct upload_resp nothing = { .transport_error = true };
	struct err e = { 0 };
	char note[256];
	char *body;

	(void)state;
	dest_init(&d, "sgtm", "{\"url\":\"https://sgtm.example.com\"}", "{}");
	assert_int_equal(d.ops->test_prepare(&d, &bad, &e), ERR_CONFIG);
	assert_int_equal(d.ops->test_prepare(&d, &prev, &e), 0);
	body = build_body(&d, &req);
	assert_true(has_header(&req, "X-Gtm-Server-Preview: ZW52LTV8dGVzdA=="));
	assert_string_equal(req.log_url, "https://sgtm.example.com/mp/collect");
	free(body);
	upload_req_cleanup(&req);

	d.ops->test_note(&d, &empty, note, sizeof(note));
	assert_non_null(strstr(note, "empty body"));
	d.ops->test_note(&d, &with_body, note, sizeof(note));
	assert_string_equal(note, "");
	d.ops->test_note(&d, &err503, note, sizeof(note));
	assert_string_equal(note, "");
	d.ops->test_note(&d, &nothing, note, sizeof(note));
	assert_string_equal(note, "");
	dest_cleanup(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_has_a_test_mode),
		cmocka_unit_test(test_tiktok),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_ga4_validation_server),
		cmocka_unit_test(test_google_validate_only),
		cmocka_unit_test(test_sgtm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
