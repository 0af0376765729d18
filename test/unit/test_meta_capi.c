/*
 * test_meta_capi.c - the Meta Conversions API destination: request building
 * against a fixture payload, the response classifier as a table, and
 * settings validation.
 *
 * The conversion is built by hand (not through the Shopify parser) so this
 * test pins the Meta payload alone: it is what the Shopify fixture order
 * test/fixtures/shopify_orders_create.json should become, with the Meta
 * hashes of its normalized identifiers.
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

extern const struct dest_ops meta_capi_dest_ops;

#define TOKEN "tok/en+1"

/* 2026-11-26T18:04:11-05:00, the fixture order's created_at. */
#define ORDER_US (INT64_C(1795734251) * 1000000 + 250000)

/* Meta hashes of the fixture order's normalized identifiers. */
static const char *const order_hashes[PII_FIELD__COUNT] = {
	[PII_EMAIL] = "7bda2560ce1bf126ff5df73ed84b6c9f8dd6064e33fc273eb05b7761e31c2b86",
	[PII_PHONE] = "11072303eb5c8cb5c5a1ebb762f11b37b07131265b46fdfe1276196bfbd3ca51",
	[PII_FIRST_NAME] = "24d4b96f58da6d4a8512313bbd02a28ebf0ca95dec6e4c86ef78ce7f01e788ac",
	[PII_LAST_NAME] = "d24e913a4107af875dc2ac3d419798f3794d00434e5059fbb68ac8d33626eaee",
	[PII_CITY] = "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac",
	[PII_REGION] = "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126",
	[PII_POSTAL] = "e73ac16e69f060ee98b0fda5f66f48c4648ee26950e9bab3a097389853fd859e",
	[PII_COUNTRY] = "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
	[PII_EXTERNAL_ID] = "4d8cde97d61f3c50205f809db95a04ef6b35977578ec43f33265b3bafed7158e",
};

/* ---- helpers ------------------------------------------------------------- */

static void add_item(struct conversion *c, const char *id, const char *price, int64_t qty)
{
	c->items = realloc(c->items, (c->n_items + 1) * sizeof(*c->items));
	assert_non_null(c->items);
	c->items[c->n_items].id = id ? xstrdup(id) : NULL;
	c->items[c->n_items].name = NULL;
	c->items[c->n_items].price = price ? xstrdup(price) : NULL;
	c->items[c->n_items].quantity = qty;
	c->n_items++;
}

/* The Shopify fixture order as a canonical conversion. */
static struct conversion *order_conversion(void)
{
	struct conversion *c = conv_new();

	c->event = xstrdup("purchase");
	c->event_id = xstrdup("shopify:order:5551234567890");
	c->occurred_us = ORDER_US;
	c->value = xstrdup("129.90");
	c->currency = xstrdup("USD");
	c->order_id = xstrdup("1042");
	c->page_url = xstrdup("https://shop.example/products/linen-shirt?utm_source=google&"
			      "utm_medium=cpc&gclid=Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	c->client_ip = xstrdup("203.0.113.24");
	c->user_agent = xstrdup("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) "
				"AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 "
				"Safari/605.1.15");
	for (int f = 0; f < PII_FIELD__COUNT; f++)
		c->ids[PII_SCHEME_META][f] = xstrdup(order_hashes[f]);
	/* Google's ids must not leak into Meta's payload. */
	c->ids[PII_SCHEME_GOOGLE][PII_EMAIL] = xstrdup("google-only");
	c->click[CLICK_GCLID] = xstrdup("Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz");
	c->click[CLICK_FBP] = xstrdup("fb.1.1732662000000.1098765432");
	c->click[CLICK_TTCLID] = xstrdup("E.C.P.v3Qx9k2LmN");
	add_item(c, "LIN-SHIRT-M", "49.95", 2);
	add_item(c, "CAP-01", "20.00", 1);
	return c;
}

/* A conversion with an event name, id and time only. */
static struct conversion *bare_conversion(const char *event, const char *event_id)
{
	struct conversion *c = conv_new();

	c->event = xstrdup(event);
	c->event_id = xstrdup(event_id);
	c->occurred_us = ORDER_US;
	return c;
}

static void dest_init(struct destination *d, const char *settings, const char *creds)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->kind, sizeof(d->kind), "meta_capi");
	d->base_url = xstrdup("http://127.0.0.1:1");
	d->api_version = xstrdup("v24.0");
	d->settings = cJSON_Parse(settings);
	assert_non_null(d->settings);
	d->creds = creds ? xstrdup(creds) : NULL;
	d->ops = &meta_capi_dest_ops;
}

static void dest_cleanup(struct destination *d)
{
	free(d->base_url);
	free(d->api_version);
	cJSON_Delete(d->settings);
	free(d->creds);
}

#define STD_SETTINGS "{\"pixel_id\":\"123\",\"test_event_code\":\"TEST1\"}"
#define STD_CREDS    "{\"access_token\":\"" TOKEN "\"}"

/* %XX and '+' decoded; n bytes of s.  Caller frees. */
static char *url_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			unsigned int v = 0;

			assert_true(i + 2 < n);
			assert_int_equal(sscanf(s + i + 1, "%2x", &v), 1);
			out[o++] = (char)v;
			i += 2;
		} else {
			out[o++] = s[i] == '+' ? ' ' : s[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* The decoded value of field name in an application/x-www-form-urlencoded
 * body, or NULL when absent; a field may appear only once.  Caller frees. */
static char *form_field(const char *body, const char *name)
{
	size_t nlen = strlen(name);
	char *found = NULL;
	const char *p = body;

	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			assert_null(found);
			found = url_decode(p + nlen + 1, len - nlen - 1);
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return found;
}

/*
 * Replace req's form body by the JSON object it carries,
 * {"data": <data>, "test_event_code": …}, so the payload tests below read
 * (and compare with the fixture) the JSON Meta receives.  The credential
 * fields are checked by the callers and left out.
 */
static void form_to_json_body(struct upload_req *req)
{
	char *data = form_field(req->body.data, "data");
	char *tec = form_field(req->body.data, "test_event_code");

	assert_non_null(data);
	buf_cleanup(&req->body);
	buf_printf(&req->body, "{\"data\":%s", data);
	if (tec) {
		cJSON *item = cJSON_CreateString(tec);
		char *q = cJSON_PrintUnformatted(item);

		/* A string item prints as the quoted, escaped string. */
		buf_printf(&req->body, ",\"test_event_code\":%s", q);
		cJSON_free(q);
		cJSON_Delete(item);
	}
	buf_puts(&req->body, "}");
	free(data);
	free(tec);
}

/* The token never rides in the URL; it is the form's access_token field. */
static void assert_token_in_body_only(const struct upload_req *req, const char *token)
{
	char *tok = form_field(req->body.data, "access_token");

	assert_non_null(req->url);
	assert_null(strstr(req->url, "access_token"));
	assert_null(strchr(req->url, '?'));
	assert_string_equal(req->url, req->log_url);
	assert_non_null(tok);
	assert_string_equal(tok, token);
	free(tok);
	assert_int_equal(req->n_headers, 1);
	assert_string_equal(req->headers[0], "Content-Type: application/x-www-form-urlencoded");
}

/* Build n conversions with the standard destination; the body parsed. */
static cJSON *build_ok(const char *settings, struct conversion **convs, size_t n,
		       struct upload_req *req)
{
	struct destination d;
	struct err e;
	cJSON *body;

	dest_init(&d, settings, STD_CREDS);
	upload_req_init(req);
	err_clear(&e);
	assert_int_equal(meta_capi_dest_ops.build(&d, NULL, convs, n, req, &e), 0);
	dest_cleanup(&d);
	assert_non_null(req->body.data);
	assert_token_in_body_only(req, TOKEN);
	form_to_json_body(req);
	body = cJSON_Parse(req->body.data);
	assert_non_null(body);
	return body;
}

static cJSON *event_at(cJSON *body, int i)
{
	cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(body, "data"), i);

	assert_non_null(ev);
	return ev;
}

static const char *str_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- registration ---------------------------------------------------------- */

static void test_ops_registered(void **state)
{
	(void)state;
	assert_ptr_equal(dest_ops_find("meta_capi"), &meta_capi_dest_ops);
	assert_string_equal(meta_capi_dest_ops.kind, "meta_capi");
	assert_string_equal(meta_capi_dest_ops.endpoint_key, "meta");
	assert_int_equal(meta_capi_dest_ops.max_batch, 1000);
	assert_int_equal(meta_capi_dest_ops.max_age_s, 7 * 24 * 3600);
}

/* ---- build ------------------------------------------------------------------ */

static void test_build_matches_fixture(void **state)
{
	struct conversion *c = order_conversion();
	struct upload_req req;
	char *expected_text = test_read_fixture("meta_capi_expected.json", NULL);
	cJSON *expected = cJSON_Parse(expected_text);
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
	/* Defect 11: the token is a body field, never in the URL (build_ok
	 * checked the form before turning it into JSON). */
	assert_string_equal(req.url, "http://127.0.0.1:1/v24.0/123/events");
	assert_string_equal(req.log_url, "http://127.0.0.1:1/v24.0/123/events");
	/* Money keeps its exact text: never through a double. */
	assert_non_null(strstr(req.body.data, "\"value\":129.90,"));
	assert_non_null(strstr(req.body.data, "\"item_price\":20.00}"));
	assert_non_null(strstr(req.body.data, "\"item_price\":49.95}"));
	assert_null(strstr(req.body.data, "google-only"));
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
	cJSON *body, *ev, *ud;

	(void)state;
	convs[0] = order_conversion();
	convs[1] = bare_conversion("lead", "ghl:contact:1");
	convs[1]->ids[PII_SCHEME_META][PII_EMAIL] = xstrdup(order_hashes[PII_EMAIL]);
	convs[1]->occurred_us = INT64_C(1795000000) * 1000000 + 999999;
	convs[2] = bare_conversion("subscribe", "api:42");
	convs[2]->page_url = xstrdup("https://shop.example/thanks");
	body = build_ok(STD_SETTINGS, convs, 3, &req);

	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "data")), 3);
	assert_string_equal(str_at(event_at(body, 0), "event_id"), "shopify:order:5551234567890");
	assert_string_equal(str_at(event_at(body, 1), "event_id"), "ghl:contact:1");
	assert_string_equal(str_at(event_at(body, 2), "event_id"), "api:42");
	assert_string_equal(str_at(event_at(body, 0), "event_name"), "Purchase");
	assert_string_equal(str_at(event_at(body, 1), "event_name"), "Lead");
	assert_string_equal(str_at(event_at(body, 2), "event_name"), "subscribe");
	assert_string_equal(str_at(event_at(body, 0), "action_source"), "website");
	assert_string_equal(str_at(event_at(body, 1), "action_source"), "system_generated");
	/* A page URL without a user agent is not a valid website event. */
	assert_string_equal(str_at(event_at(body, 2), "action_source"), "system_generated");
	assert_string_equal(str_at(event_at(body, 2), "event_source_url"),
			    "https://shop.example/thanks");
	assert_non_null(strstr(req.body.data, "\"event_time\":1795000000,"));

	ev = event_at(body, 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "custom_data"));
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "event_source_url"));
	ud = cJSON_GetObjectItemCaseSensitive(ev, "user_data");
	assert_int_equal(cJSON_GetArraySize(ud), 1);
	assert_string_equal(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ud, "em"), 0)->valuestring,
		order_hashes[PII_EMAIL]);
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	for (int i = 0; i < 3; i++)
		conv_free(convs[i]);
}

/* Absent, unusable or clear values are left out, never sent as "" or null. */
static void test_build_omits_absent(void **state)
{
	struct conversion *c = bare_conversion("purchase", "x:1");
	struct upload_req req;
	cJSON *body, *ev, *cd;

	(void)state;
	c->currency = xstrdup("EUR");
	c->value = xstrdup("1e3");
	c->ids[PII_SCHEME_META][PII_EMAIL] = xstrdup("ana@example.com"); /* not hashed */
	c->ids[PII_SCHEME_META][PII_PHONE] = xstrdup(
		"11072303EB5C8CB5C5A1EBB762F11B37B07131265B46FDFE1276196BFBD3CA51"); /* not ours */
	add_item(c, NULL, "5.00", 2); /* no id: counted, not listed */
	add_item(c, "SKU", "abc", 0); /* no quantity, bad price */
	body = build_ok("{\"pixel_id\":\"123\"}", &c, 1, &req);

	assert_null(cJSON_GetObjectItemCaseSensitive(body, "test_event_code"));
	ev = event_at(body, 0);
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "event_source_url"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ev, "user_data")), 0);
	assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(ev, "user_data")));
	cd = cJSON_GetObjectItemCaseSensitive(ev, "custom_data");
	assert_non_null(cd);
	assert_null(cJSON_GetObjectItemCaseSensitive(cd, "value"));
	assert_null(cJSON_GetObjectItemCaseSensitive(cd, "order_id"));
	assert_string_equal(str_at(cd, "currency"), "EUR");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cd, "num_items")->valueint, 2);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cd, "contents")), 1);
	assert_string_equal(
		str_at(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cd, "contents"), 0),
		       "id"),
		"SKU");
	assert_null(strstr(req.body.data, "quantity"));
	assert_null(strstr(req.body.data, "item_price"));
	assert_null(strstr(req.body.data, "ana@example.com"));
	assert_null(strstr(req.body.data, "null"));
	assert_null(strstr(req.body.data, "\"\""));
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	conv_free(c);
}

static void test_build_no_custom_data_without_money_or_items(void **state)
{
	struct conversion *c = bare_conversion("lead", "x:2");
	struct upload_req req;
	cJSON *body;

	(void)state;
	c->value = xstrdup("not money");
	body = build_ok(STD_SETTINGS, &c, 1, &req);
	assert_null(cJSON_GetObjectItemCaseSensitive(event_at(body, 0), "custom_data"));
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
		{ "0", "\"value\":0," },
		{ "12345678901234567890.01", "\"value\":12345678901234567890.01," },
		{ "1e3", NULL },
		{ "007", NULL },
		{ "12.", NULL },
		{ ".5", NULL },
		{ "12,50", NULL },
		{ " 1", NULL },
		{ "1 ", NULL },
		{ "NaN", NULL },
		{ "-", NULL },
		{ "", NULL },
		{ "+1", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conversion *c = bare_conversion("purchase", "v:1");
		struct upload_req req;
		cJSON *body;

		c->value = xstrdup(cases[i].value);
		c->currency = xstrdup("USD");
		body = build_ok(STD_SETTINGS, &c, 1, &req);
		if (cases[i].text) {
			if (strstr(req.body.data, cases[i].text) == NULL) {
				fprintf(stderr, "value %s: body %s\n", cases[i].value,
					req.body.data);
				fail();
			}
		} else if (strstr(req.body.data, "\"value\"")) {
			fprintf(stderr, "value %s should be omitted: %s\n", cases[i].value,
				req.body.data);
			fail();
		}
		cJSON_Delete(body);
		upload_req_cleanup(&req);
		conv_free(c);
	}
}

static void test_event_name_mapping(void **state)
{
	static const char *const cases[][2] = {
		{ "purchase", "Purchase" },
		{ "begin_checkout", "InitiateCheckout" },
		{ "lead", "Lead" },
		{ "add_to_cart", "AddToCart" },
		{ "complete_registration", "CompleteRegistration" },
		{ "view_content", "ViewContent" },
		{ "Subscribe", "Subscribe" },
		{ "custom_thing", "custom_thing" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conversion *c = bare_conversion(cases[i][0], "n:1");
		struct upload_req req;
		cJSON *body = build_ok(STD_SETTINGS, &c, 1, &req);

		assert_string_equal(str_at(event_at(body, 0), "event_name"), cases[i][1]);
		cJSON_Delete(body);
		upload_req_cleanup(&req);
		conv_free(c);
	}
}

static void test_action_source_setting_wins(void **state)
{
	struct conversion *c = order_conversion();
	struct upload_req req;
	cJSON *body;

	(void)state;
	body = build_ok("{\"pixel_id\":\"123\",\"action_source\":\"physical_store\"}", &c, 1, &req);
	assert_string_equal(str_at(event_at(body, 0), "action_source"), "physical_store");
	cJSON_Delete(body);
	upload_req_cleanup(&req);
	conv_free(c);
}

/* Build one bare event with creds; req filled. */
static void build_with_creds(const char *creds, struct upload_req *req)
{
	struct conversion *c = bare_conversion("lead", "u:1");
	struct destination d;
	struct err e;

	dest_init(&d, "{\"pixel_id\":\"987654321012345\",\"test_event_code\":\"T 1&x+y;z=%\"}",
		  creds);
	free(d.base_url);
	d.base_url = xstrdup("https://graph.example//");
	free(d.api_version);
	d.api_version = xstrdup("v27.0");
	upload_req_init(req);
	err_clear(&e);
	assert_int_equal(meta_capi_dest_ops.build(&d, NULL, &c, 1, req, &e), 0);
	dest_cleanup(&d);
	conv_free(c);
}

/*
 * Defect 11: the URL carries no token; the form body does, percent-encoded,
 * after the data; with an app_secret, appsecret_proof follows.  The proof
 * was computed independently:
 *   python3 -c 'import hmac,hashlib; print(hmac.new(b"s",
 *     "a b&c=d%\u00e9~_.-Z9".encode(), hashlib.sha256).hexdigest())'
 */
static void test_token_in_body(void **state)
{
	struct upload_req req;
	char *proof;
	char *tec;

	(void)state;
	build_with_creds("{\"access_token\":\"a b&c=d%\\u00e9~_.-Z9\",\"app_secret\":\"s\"}", &req);
	assert_string_equal(req.url, "https://graph.example/v27.0/987654321012345/events");
	assert_string_equal(req.log_url, req.url);
	assert_token_in_body_only(&req, "a b&c=d%\xc3\xa9~_.-Z9");
	assert_non_null(strstr(req.body.data, "&access_token=a%20b%26c%3Dd%25%C3%A9~_.-Z9&"));
	/* JSON punctuation passes; what a form parser splits on or decodes
	 * (& = + % ; space) is encoded. */
	assert_memory_equal(req.body.data, "data=[{\"event_name\":\"Lead\",", 27);
	assert_non_null(strstr(req.body.data, "&test_event_code=T%201%26x%2By%3Bz%3D%25&"));
	tec = form_field(req.body.data, "test_event_code");
	assert_string_equal(tec, "T 1&x+y;z=%");
	free(tec);
	proof = form_field(req.body.data, "appsecret_proof");
	assert_non_null(proof);
	assert_string_equal(proof,
			    "76b3f8aa8f0b67c1f62114556587e681a9c4e4af7b4996c8bcbe61de09e17b44");
	free(proof);
	upload_req_cleanup(&req);

	/* Without an app_secret: no proof. */
	build_with_creds("{\"access_token\":\"t0k\"}", &req);
	assert_token_in_body_only(&req, "t0k");
	assert_null(form_field(req.body.data, "appsecret_proof"));
	assert_null(strstr(req.body.data, "appsecret_proof"));
	upload_req_cleanup(&req);
}

/*
 * appsecret_proof against a published vector: HMAC-SHA256 keyed "key" of
 * "The quick brown fox jumps over the lazy dog" is f7bc83f4…3cd8 (the
 * RFC 2104 example of Wikipedia's HMAC article; also
 * python3 -c 'import hmac,hashlib; print(hmac.new(b"key", b"The quick
 * brown fox jumps over the lazy dog", hashlib.sha256).hexdigest())').
 */
static void test_appsecret_proof_vector(void **state)
{
	struct upload_req req;
	char *proof;

	(void)state;
	build_with_creds("{\"access_token\":\"The quick brown fox jumps over the lazy dog\","
			 "\"app_secret\":\"key\"}",
			 &req);
	proof = form_field(req.body.data, "appsecret_proof");
	assert_non_null(proof);
	assert_string_equal(proof,
			    "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
	free(proof);
	/* The secret itself never leaves. */
	assert_null(strstr(req.body.data, "app_secret="));
	upload_req_cleanup(&req);
}

static void test_build_errors(void **state)
{
	static const struct {
		const char *settings;
		const char *creds; /* NULL = none */
		const char *api_version;
		size_t n;
		int code;
	} cases[] = {
		{ "{}", STD_CREDS, "v24.0", 1, ERR_CONFIG },
		{ "{\"pixel_id\":123}", STD_CREDS, "v24.0", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"12a\"}", STD_CREDS, "v24.0", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"../1\"}", STD_CREDS, "v24.0", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", NULL, "v24.0", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{}", "v24.0", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"\"}", "v24.0", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":42}", "v24.0", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"" TOKEN "\"", "v24.0", 1,
		  ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"t\",\"app_secret\":\"\"}", "v24.0",
		  1, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"t\",\"app_secret\":7}", "v24.0", 1,
		  ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", STD_CREDS, NULL, 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", STD_CREDS, "24", 1, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", STD_CREDS, "v24.0", 0, ERR_INVALID },
		{ "{\"pixel_id\":\"123\"}", STD_CREDS, "v24.0", 1001, ERR_INVALID },
	};
	struct conversion *c = bare_conversion("lead", "e:1");
	struct conversion **convs = calloc(1001, sizeof(*convs));

	(void)state;
	for (size_t i = 0; i < 1001; i++)
		convs[i] = c;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct destination d;
		struct upload_req req;
		struct err e;
		int rc;

		dest_init(&d, cases[i].settings, cases[i].creds);
		free(d.api_version);
		d.api_version = cases[i].api_version ? xstrdup(cases[i].api_version) : NULL;
		upload_req_init(&req);
		err_clear(&e);
		rc = meta_capi_dest_ops.build(&d, NULL, convs, cases[i].n, &req, &e);
		if (rc != cases[i].code) {
			fprintf(stderr, "case %zu: rc %d, want %d (%s)\n", i, rc, cases[i].code,
				e.msg);
			fail();
		}
		assert_int_equal(e.code, cases[i].code);
		assert_true(strlen(e.msg) > 0);
		assert_null(strstr(e.msg, TOKEN));
		assert_null(req.url);
		assert_int_equal(req.n_headers, 0);
		upload_req_cleanup(&req);
		dest_cleanup(&d);
	}
	free(convs);
	conv_free(c);
}

/* ---- result ------------------------------------------------------------------ */

#define META_ERR(code, extra)                                                                      \
	"{\"error\":{\"message\":\"msg " #code                                                     \
	"\",\"type\":\"OAuthException\",\"code\":" #code extra ",\"fbtrace_id\":\"AbC\"}}"

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
		{ "transport", true, 0, "", -1, 3, OUTCOME_RETRY, "", -1, "connection refused" },
		{ "200", false, 200, "{\"events_received\":3,\"messages\":[],\"fbtrace_id\":\"x\"}",
		  -1, 3, OUTCOME_DELIVERED, "", -1, "" },
		{ "500", false, 500, META_ERR(2, ""), -1, 3, OUTCOME_RETRY, "2", -1, "msg 2" },
		{ "503 retry-after", false, 503, "Service Unavailable", 30, 3, OUTCOME_RETRY, "",
		  30, "HTTP 503: Service Unavailable" },
		{ "429", false, 429, META_ERR(4, ""), 7, 2, OUTCOME_RETRY, "4", 7, "msg 4" },
		{ "400/1", false, 400, META_ERR(1, ""), -1, 3, OUTCOME_RETRY, "1", -1, "msg 1" },
		{ "400/2", false, 400, META_ERR(2, ""), -1, 3, OUTCOME_RETRY, "2", -1, "msg 2" },
		{ "400/4", false, 400, META_ERR(4, ""), 60, 3, OUTCOME_RETRY, "4", 60, "msg 4" },
		{ "400/17", false, 400, META_ERR(17, ",\"error_subcode\":2446079"), -1, 3,
		  OUTCOME_RETRY, "17/2446079", -1, "msg 17" },
		{ "400/341", false, 400, META_ERR(341, ""), -1, 3, OUTCOME_RETRY, "341", -1,
		  "msg 341" },
		{ "400/613", false, 400, META_ERR(613, ""), -1, 1, OUTCOME_RETRY, "613", -1,
		  "msg 613" },
		{ "is_transient", false, 400, META_ERR(100, ",\"is_transient\":true"), -1, 3,
		  OUTCOME_RETRY, "100", -1, "msg 100" },
		{ "400/190", false, 400, META_ERR(190, ",\"error_subcode\":463"), -1, 3,
		  OUTCOME_PAUSE, "190/463", -1, "msg 190" },
		{ "400/10", false, 400, META_ERR(10, ""), 5, 3, OUTCOME_PAUSE, "10", -1, "msg 10" },
		{ "403/200", false, 403, META_ERR(200, ""), -1, 3, OUTCOME_PAUSE, "200", -1,
		  "msg 200" },
		{ "400/299", false, 400, META_ERR(299, ""), -1, 1, OUTCOME_PAUSE, "299", -1,
		  "msg 299" },
		{ "400/300", false, 400, META_ERR(300, ""), -1, 1, OUTCOME_FAILED, "300", -1,
		  "msg 300" },
		{ "401", false, 401, "", -1, 3, OUTCOME_PAUSE, "", -1, "HTTP 401" },
		{ "403", false, 403, "<html>Forbidden</html>", -1, 3, OUTCOME_PAUSE, "", -1,
		  "HTTP 403: <html>Forbidden</html>" },
		{ "400/100 pixel", false, 400, META_ERR(100, ",\"error_subcode\":33"), -1, 3,
		  OUTCOME_PAUSE, "100/33", -1, "msg 100" },
		{ "400/100 n=1", false, 400,
		  META_ERR(100, ",\"error_subcode\":2804003,"
				"\"error_user_msg\":\"event_time too old\""),
		  -1, 1, OUTCOME_FAILED, "100/2804003", -1,
		  "msg 100: event_time too old (fbtrace_id AbC)" },
		{ "400/100 n=3", false, 400, META_ERR(100, ""), -1, 3, OUTCOME_SPLIT, "100", -1,
		  "msg 100" },
		{ "400/368", false, 400, META_ERR(368, ""), -1, 1, OUTCOME_FAILED, "368", -1,
		  "msg 368" },
		{ "non-JSON 400 n=1", false, 400, "Bad Request", -1, 1, OUTCOME_RETRY, "", -1,
		  "HTTP 400: Bad Request" },
		{ "non-JSON 400 n=2", false, 400, "Bad Request", -1, 2, OUTCOME_RETRY, "", -1,
		  "HTTP 400" },
		{ "JSON not an error", false, 400, "[1,2]", -1, 1, OUTCOME_RETRY, "", -1,
		  "HTTP 400" },
		{ "408", false, 408, "", 3, 3, OUTCOME_RETRY, "", 3, "HTTP 408" },
		{ "404", false, 404, "", -1, 1, OUTCOME_RETRY, "", -1, "HTTP 404" },
		{ "302", false, 302, "", -1, 3, OUTCOME_RETRY, "", -1, "HTTP 302" },
		{ "string code", false, 400, "{\"error\":{\"message\":\"m\",\"code\":\"190\"}}", -1,
		  1, OUTCOME_PAUSE, "190", -1, "m" },
		{ "huge code", false, 400, "{\"error\":{\"message\":\"m\",\"code\":1e300}}", -1, 1,
		  OUTCOME_FAILED, "", -1, "m" },
	};
	struct conversion *c = bare_conversion("lead", "r:1");
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
		meta_capi_dest_ops.result(&d, &resp, convs, cases[i].n, out);
		for (size_t k = 0; k < cases[i].n; k++) {
			if (out[k].kind != cases[i].kind ||
			    strcmp(out[k].platform_code, cases[i].code) != 0 ||
			    out[k].retry_after_s != cases[i].want_retry_after ||
			    strstr(out[k].message, cases[i].msg_part) == NULL) {
				fprintf(stderr,
					"case %s [%zu]: got %s code \"%s\" retry %ld msg \"%s\"\n",
					cases[i].name, k, outcome_kind_name(out[k].kind),
					out[k].platform_code, out[k].retry_after_s, out[k].message);
				fail();
			}
			assert_null(strchr(out[k].message, '\n'));
		}
		/* Outcomes past n are not touched. */
		if (cases[i].n < 3)
			assert_int_equal(((unsigned char *)&out[cases[i].n])[0], 0xA5);
	}
	dest_cleanup(&d);
	conv_free(c);
}

/* A long multi-byte message is cut at a character boundary. */
static void test_result_message_truncation(void **state)
{
	struct conversion *c = bare_conversion("lead", "t:1");
	struct destination d;
	struct upload_resp resp;
	struct outcome out;
	struct buf body;
	size_t len;

	(void)state;
	buf_init(&body);
	buf_puts(&body, "{\"error\":{\"code\":100,\"message\":\"x");
	for (int i = 0; i < 200; i++)
		buf_puts(&body, "\xc3\xa9\xe2\x82\xac"); /* é€ */
	buf_puts(&body, "\"}}");
	memset(&resp, 0, sizeof(resp));
	resp.status = 400;
	resp.body = body.data;
	resp.body_len = body.len;
	resp.retry_after_s = -1;
	dest_init(&d, STD_SETTINGS, STD_CREDS);
	meta_capi_dest_ops.result(&d, &resp, &c, 1, &out);
	assert_int_equal(out.kind, OUTCOME_FAILED);
	len = strlen(out.message);
	assert_true(len > 200 && len < sizeof(out.message));
	/* "x" then whole 2+3-byte pairs, then possibly one whole "é". */
	assert_true((len - 1) % 5 == 0 || (len - 1) % 5 == 2);
	dest_cleanup(&d);
	buf_cleanup(&body);
	conv_free(c);
}

/* ---- validate ------------------------------------------------------------------ */

static void test_validate(void **state)
{
	static const struct {
		const char *settings;
		const char *creds;
		int code;
	} cases[] = {
		{ "{\"pixel_id\":\"123\"}", STD_CREDS, 0 },
		{ "{\"pixel_id\":\"123456789012345\",\"test_event_code\":\"TEST1\","
		  "\"api_version\":\"v24.0\",\"action_source\":\"website\"}",
		  STD_CREDS, 0 },
		{ "{\"pixel_id\":\"1\",\"action_source\":\"system_generated\"}", STD_CREDS, 0 },
		{ "{}", STD_CREDS, ERR_CONFIG },
		{ "[]", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"\"}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":123}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"12 3\"}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"123456789012345678901234567890123\"}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\",\"test_event_code\":\"\"}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\",\"test_event_code\":5}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\",\"api_version\":\"24.0\"}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\",\"api_version\":\"v24\"}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\",\"api_version\":\"v24.0/x\"}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\",\"action_source\":\"web\"}", STD_CREDS, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{}", ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"\"}", ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":true}", ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", NULL, ERR_CONFIG },
		/* app_secret is optional; when present, a non-empty string. */
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"t\",\"app_secret\":\"s3cr3t\"}",
		  0 },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"t\",\"app_secret\":\"\"}",
		  ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"t\",\"app_secret\":5}",
		  ERR_CONFIG },
		{ "{\"pixel_id\":\"123\"}", "{\"access_token\":\"t\",\"app_secret\":null}",
		  ERR_CONFIG },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *settings = cJSON_Parse(cases[i].settings);
		cJSON *creds = cases[i].creds ? cJSON_Parse(cases[i].creds) : NULL;
		struct err e;
		int rc;

		err_clear(&e);
		/* A test event code goes with test mode (test_validate_test_mode). */
		rc = meta_capi_dest_ops.validate(
			settings, creds, cJSON_HasObjectItem(settings, "test_event_code"), &e);
		if (rc != cases[i].code) {
			fprintf(stderr, "case %zu (%s): rc %d, want %d (%s)\n", i,
				cases[i].settings, rc, cases[i].code, e.msg);
			fail();
		}
		if (rc != 0) {
			assert_true(strlen(e.msg) > 0);
			assert_null(strstr(e.msg, TOKEN));
		}
		cJSON_Delete(settings);
		cJSON_Delete(creds);
	}
}

/* Test mode lets test orders through: only with a test_event_code, so Meta
 * never counts them as real purchases. */
static void test_validate_test_mode(void **state)
{
	static const struct {
		const char *settings;
		bool test_mode;
		int code;
	} cases[] = {
		{ "{\"pixel_id\":\"123\"}", false, 0 },
		{ "{\"pixel_id\":\"123\"}", true, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\",\"test_event_code\":\"TEST1\"}", true, 0 },
		{ "{\"pixel_id\":\"123\",\"test_event_code\":\"TEST1\"}", false, ERR_CONFIG },
		{ "{\"pixel_id\":\"123\",\"test_event_code\":\"\"}", true, ERR_CONFIG },
	};
	cJSON *creds = cJSON_Parse(STD_CREDS);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *settings = cJSON_Parse(cases[i].settings);
		struct err e;
		int rc;

		err_clear(&e);
		rc = meta_capi_dest_ops.validate(settings, creds, cases[i].test_mode, &e);
		if (rc != cases[i].code)
			fail_msg("case %zu (%s, test mode %d): rc %d, want %d (%s)", i,
				 cases[i].settings, cases[i].test_mode, rc, cases[i].code, e.msg);
		if (rc != 0)
			assert_non_null(strstr(e.msg, "test"));
		cJSON_Delete(settings);
	}
	cJSON_Delete(creds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_registered),
		cmocka_unit_test(test_build_matches_fixture),
		cmocka_unit_test(test_build_batch_of_three),
		cmocka_unit_test(test_build_omits_absent),
		cmocka_unit_test(test_build_no_custom_data_without_money_or_items),
		cmocka_unit_test(test_value_text_exact),
		cmocka_unit_test(test_event_name_mapping),
		cmocka_unit_test(test_action_source_setting_wins),
		cmocka_unit_test(test_token_in_body),
		cmocka_unit_test(test_appsecret_proof_vector),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_result_table),
		cmocka_unit_test(test_result_message_truncation),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_validate_test_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
