/*
 * test_events_api.c - the server-side events API source: the item rules as
 * a table (each rule failing on its own, with its message, and the item
 * left as it was), an item made a conversion (hashes from `sha256sum`,
 * times from `date -u +%s`, not from the code under test), the body's
 * shape, Bearer key auth with rotation, the per-item verdicts and the
 * answer built from them, the parse converting exactly the stored
 * accepted positions, the generated key, the dedup key and the route.
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
#include "sources/events_api.h"
#include "sources/source.h"

extern const struct source_ops events_api_source_ops;
#define OPS events_api_source_ops

#define NOW_US	1795773600000000LL /* date -u -d 2026-11-27T10:00:00Z +%s */
#define AN_HOUR 3600000000LL
#define KEY	"ak_test_key_0123456789abcdefghijklmnopqrstuvw"
#define OLD_KEY "ak_old_key_0123456789abcdefghijklmnopqrstuvwx"
/* printf %s jane.doe@example.com | sha256sum */
#define H_EMAIL "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
/* printf %s 15550102000 | sha256sum (Meta: digits only) */
#define H_PHONE_META "261fef7f3470113bded647092f78b5a00bd138e06c710457637712bac6ff5d08"

static const struct source_ctx test_ctx = { .cfg = NULL, .now_us = NOW_US };

/* ---- the item rules ------------------------------------------------------------ */

struct rule_case {
	const char *json; /* the item */
	int64_t now_us;
	const char *error; /* NULL = valid; else a substring of the message */
};

#define T(x) "\"occurred_at\":\"" x "\""
#define BASE "\"event\":\"purchase\",\"event_id\":\"e-1\","
#define AT   T("2026-11-27T09:00:00Z")

static const struct rule_case rule_cases[] = {
	/* valid */
	{ "{" BASE AT "}", NOW_US, NULL },
	{ "{" BASE AT ",\"value\":\"19.90\",\"currency\":\"EUR\"}", NOW_US, NULL },
	{ "{" BASE AT ",\"value\":\"-5\",\"currency\":null}", NOW_US, NULL },
	{ "{" BASE T("2026-11-27t09:00:00.123z") "}", NOW_US, NULL },
	{ "{" BASE T("2026-11-27T10:00:00.5+01:00") "}", NOW_US, NULL },
	{ "{" BASE T("2026-11-27T10:05:00Z") "}", NOW_US, NULL }, /* exactly 5 min ahead */
	{ "{" BASE T("2030-01-01T00:00:00Z") "}", EVENTS_NO_CLOCK, NULL },
	{ "{" BASE AT ",\"user\":{\"email\":\" Jane.Doe@Example.com \"}}", NOW_US, NULL },
	{ "{" BASE AT ",\"user\":{\"email\":\"" H_EMAIL "\"}}", NOW_US, NULL },
	{ "{" BASE AT ",\"user\":{\"email\":\"\",\"ip\":null}}", NOW_US, NULL },
	{ "{" BASE AT ",\"user\":null}", NOW_US, NULL },
	{ "{" BASE AT ",\"user\":{\"ip\":\"2001:db8::1\",\"user_agent\":\"UA/1\"}}", NOW_US, NULL },
	/* event and event_id required */
	{ "{\"event_id\":\"e-1\"," AT "}", NOW_US, "event is required" },
	{ "{\"event\":null,\"event_id\":\"e-1\"," AT "}", NOW_US, "event is required" },
	{ "{\"event\":\"\",\"event_id\":\"e-1\"," AT "}", NOW_US, "event is required" },
	{ "{\"event\":7,\"event_id\":\"e-1\"," AT "}", NOW_US, "event must be a string" },
	{ "{\"event\":\"purchase\"," AT "}", NOW_US, "event_id is required" },
	{ "{\"event\":\"purchase\",\"event_id\":\"\"," AT "}", NOW_US, "event_id is required" },
	{ "{\"event\":\"purchase\",\"event_id\":[]," AT "}", NOW_US, "event_id must be a string" },
	/* value a decimal string */
	{ "{" BASE AT ",\"value\":19.9}", NOW_US, "value must be a decimal string" },
	{ "{" BASE AT ",\"value\":\"1e3\"}", NOW_US, "value must be a decimal string" },
	{ "{" BASE AT ",\"value\":\".5\"}", NOW_US, "value must be a decimal string" },
	{ "{" BASE AT ",\"value\":\"12,50\"}", NOW_US, "value must be a decimal string" },
	/* currency 3 upper-case letters */
	{ "{" BASE AT ",\"currency\":\"usd\"}", NOW_US, "currency must be ISO 4217" },
	{ "{" BASE AT ",\"currency\":\"EURO\"}", NOW_US, "currency must be ISO 4217" },
	{ "{" BASE AT ",\"currency\":\"US1\"}", NOW_US, "currency must be ISO 4217" },
	{ "{" BASE AT ",\"currency\":840}", NOW_US, "currency must be ISO 4217" },
	/* occurred_at RFC 3339, not over 5 minutes ahead */
	{ "{" BASE "\"value\":\"1\"}", NOW_US, "occurred_at is required" },
	{ "{" BASE T("2026-11-27T09:00:00") "}", NOW_US, "occurred_at must be RFC 3339" },
	{ "{" BASE T("2026-11-27 09:00:00Z") "}", NOW_US, "occurred_at must be RFC 3339" },
	{ "{" BASE T("2026-11-27T09:00:00+0100") "}", NOW_US, "occurred_at must be RFC 3339" },
	{ "{" BASE T("2026-13-01T00:00:00Z") "}", NOW_US, "occurred_at must be RFC 3339" },
	{ "{" BASE T("2026-02-30T00:00:00Z") "}", NOW_US, "occurred_at must be RFC 3339" },
	{ "{" BASE T("2026-11-27T09:00:00.Z") "}", NOW_US, "occurred_at must be RFC 3339" },
	{ "{" BASE T("yesterday") "}", NOW_US, "occurred_at must be RFC 3339" },
	{ "{" BASE "\"occurred_at\":1795773600}", NOW_US, "occurred_at must be a string" },
	{ "{" BASE T("2026-11-27T10:05:01Z") "}", NOW_US, "more than 5 minutes in the future" },
	{ "{" BASE T("2026-11-27T12:00:00+01:00") "}", NOW_US,
	  "more than 5 minutes in the future" },
	/* emails look like emails */
	{ "{" BASE AT ",\"user\":{\"email\":\"not-an-email\"}}", NOW_US, "user.email does not" },
	{ "{" BASE AT ",\"user\":{\"email\":\"a@b\"}}", NOW_US, "user.email does not" },
	{ "{" BASE AT ",\"user\":{\"email\":\"@b.co\"}}", NOW_US, "user.email does not" },
	{ "{" BASE AT ",\"user\":{\"email\":\"a@@b.co\"}}", NOW_US, "user.email does not" },
	{ "{" BASE AT ",\"user\":{\"email\":\"a b@c.co\"}}", NOW_US, "user.email does not" },
	{ "{" BASE AT ",\"user\":{\"email\":\"a@b..co\"}}", NOW_US, "user.email does not" },
	{ "{" BASE AT ",\"user\":{\"email\":\"a@.b.co\"}}", NOW_US, "user.email does not" },
	{ "{" BASE AT ",\"user\":{\"email\":\"a@b.co.\"}}", NOW_US, "user.email does not" },
	{ "{" BASE AT ",\"user\":{\"email\":\"a@b.co>\"}}", NOW_US, "user.email does not" },
	/* the rest of "user" */
	{ "{" BASE AT ",\"user\":{\"ip\":\"999.1.1.1\"}}", NOW_US, "user.ip must be" },
	{ "{" BASE AT ",\"user\":{\"shoe\":\"42\"}}", NOW_US, "user: unknown key \"shoe\"" },
	{ "{" BASE AT ",\"user\":{\"city\":\"A\",\"city\":\"B\"}}", NOW_US, "duplicate key" },
	{ "{" BASE AT ",\"user\":{\"phone\":5550100}}", NOW_US, "user.phone must be a string" },
	{ "{" BASE AT ",\"user\":[]}", NOW_US, "user must be an object" },
	{ "{" BASE AT ",\"user\":{},\"user\":{}}", NOW_US, "duplicate key \"user\"" },
	/* everything else as strictly as the stored form */
	{ "[]", NOW_US, "conversion must be a JSON object" },
	{ "\"purchase\"", NOW_US, "conversion must be a JSON object" },
	{ "{" BASE AT ",\"colour\":\"blue\"}", NOW_US, "unknown key \"colour\"" },
	{ "{\"event\":\"Purchase\",\"event_id\":\"e-1\"," AT "}", NOW_US, "event: invalid" },
	{ "{\"event\":\"purchase\",\"event_id\":\"e 1\"," AT "}", NOW_US, "event_id: invalid" },
	{ "{" BASE AT ",\"items\":[{\"id\":\"A\",\"price\":1.5}]}", NOW_US, "items[0].price" },
	{ "{" BASE AT ",\"test\":\"yes\"}", NOW_US, "test: must be true or false" },
};

static void test_item_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
		const struct rule_case *rc = &rule_cases[i];
		cJSON *item = cJSON_Parse(rc->json);
		char *before = cJSON_PrintUnformatted(item), *after;
		struct conversion *c = NULL;
		struct err e = { 0 };
		int r;

		if (item == NULL)
			fail_msg("case %zu: bad JSON in the test", i);
		r = events_item_check(item, rc->now_us, &c, &e);
		if (rc->error == NULL && r != 0)
			fail_msg("case %zu: %s refused: %s", i, rc->json, e.msg);
		if (rc->error && (r != ERR_INVALID || strstr(e.msg, rc->error) == NULL))
			fail_msg("case %zu: %s gave %d \"%s\", want \"%s\"", i, rc->json, r, e.msg,
				 rc->error);
		assert_true((r == 0) == (c != NULL));
		/* the same verdict without a conversion (the ingest's call) */
		assert_int_equal(events_item_check(item, rc->now_us, NULL, &e), r);
		/* and the item as it was */
		after = cJSON_PrintUnformatted(item);
		assert_string_equal(before, after);
		conv_free(c);
		free(before);
		free(after);
		cJSON_Delete(item);
	}
}

/* A whole item in the canonical shape becomes the conversion sources make. */
static void test_item_conversion(void **state)
{
	static const char json[] =
		"{\"event\":\"purchase\",\"event_id\":\"ord-1\","
		"\"occurred_at\":\"2026-11-27T10:00:00+01:00\",\"value\":\"49.90\","
		"\"currency\":\"EUR\",\"order_id\":\"1001\","
		"\"user\":{\"email\":\" Jane.Doe@Example.com \",\"phone\":\"+1 (555) 010-2000\","
		"\"ip\":\"203.0.113.7\",\"user_agent\":\"Mozilla/5.0\",\"country\":\"US\"},"
		"\"click\":{\"gclid\":\"Cj0KCQ\",\"fbc\":\"fb.1.1.abc\"},"
		"\"page_url\":\"https://shop.example/done\","
		"\"items\":[{\"id\":\"SKU-1\",\"price\":\"10.00\",\"quantity\":2}],"
		"\"consent\":{\"ad_user_data\":\"granted\"},\"test\":true}";
	cJSON *item = cJSON_Parse(json);
	struct conversion *c = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(events_item_check(item, NOW_US, &c, &e), 0);
	assert_string_equal(c->event, "purchase");
	assert_string_equal(c->event_id, "ord-1");
	assert_int_equal(c->occurred_us, NOW_US - AN_HOUR);
	assert_string_equal(c->value, "49.90");
	assert_string_equal(c->currency, "EUR");
	assert_string_equal(c->order_id, "1001");
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EMAIL], H_EMAIL);
	assert_string_equal(c->ids[PII_SCHEME_GOOGLE][PII_EMAIL], H_EMAIL);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_PHONE], H_PHONE_META);
	assert_non_null(c->ids[PII_SCHEME_META][PII_COUNTRY]);
	assert_string_equal(c->client_ip, "203.0.113.7");
	assert_string_equal(c->user_agent, "Mozilla/5.0");
	assert_string_equal(c->click[CLICK_GCLID], "Cj0KCQ");
	assert_string_equal(c->click[CLICK_FBC], "fb.1.1.abc");
	assert_string_equal(c->page_url, "https://shop.example/done");
	assert_int_equal(c->n_items, 1);
	assert_int_equal(c->items[0].quantity, 2);
	assert_string_equal(c->consent_ad_user_data, "granted");
	assert_true(c->test);
	/* no clear identifier is kept */
	{
		cJSON *j = conv_to_json(c);
		char *text = cJSON_PrintUnformatted(j);

		assert_null(strstr(text, "jane"));
		assert_null(strstr(text, "Jane"));
		free(text);
		cJSON_Delete(j);
	}
	conv_free(c);
	cJSON_Delete(item);
}

/* ---- the body ------------------------------------------------------------------ */

static void test_body_parse(void **state)
{
	static const struct {
		const char *body;
		const char *error; /* NULL = ok */
	} cases[] = {
		{ "[{}]", NULL },
		{ " [1, \"x\"] \r\n", NULL },
		{ "", "empty body" },
		{ "{\"event\":\"purchase\"}", "must be a JSON array" },
		{ "\"purchase\"", "must be a JSON array" },
		{ "null", "must be a JSON array" },
		{ "[", "not valid JSON" },
		{ "[1] x", "not valid JSON" },
		{ "[1][2]", "not valid JSON" },
		{ "[]", "1 to 1000 conversions, not 0" },
	};
	char *big;
	size_t at = 0;
	cJSON *root;
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = events_body_parse((const uint8_t *)cases[i].body, strlen(cases[i].body),
					  &root, &e);

		if (cases[i].error == NULL) {
			assert_int_equal(r, 0);
			assert_true(cJSON_IsArray(root));
		} else if (r != ERR_INVALID || strstr(e.msg, cases[i].error) == NULL) {
			fail_msg("case %zu: %d \"%s\"", i, r, e.msg);
		} else {
			assert_null(root);
		}
		cJSON_Delete(root);
	}
	/* 1000 items pass, 1001 do not */
	big = malloc(4 * 1001 + 2);
	big[at++] = '[';
	for (int i = 0; i < 1001; i++) {
		memcpy(big + at, i ? ",{}" : "{}", i ? 3 : 2);
		at += i ? 3 : 2;
		big[at] = ']';
		if (i == 999) {
			assert_int_equal(events_body_parse((uint8_t *)big, at + 1, &root, &e), 0);
			assert_int_equal(cJSON_GetArraySize(root), 1000);
			cJSON_Delete(root);
		}
	}
	assert_int_equal(events_body_parse((uint8_t *)big, at + 1, &root, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "not 1001"));
	free(big);
}

/* ---- auth ---------------------------------------------------------------------- */

static struct http_req auth_req(const struct http_header *h, size_t n)
{
	return (struct http_req){ .method = "POST", .headers = h, .n_headers = n, .body = NULL };
}

static int verify_with(const struct source *src, const char *authorization, int64_t now_us)
{
	struct http_header h = { "authorization", authorization };
	struct http_req req = auth_req(&h, authorization ? 1 : 0);
	struct source_ctx ctx = { .now_us = now_us };
	struct err e = { 0 };

	return OPS.verify(src, &ctx, &req, &e);
}

static void test_verify(void **state)
{
	struct source src = { .kind = "api", .enabled = true, .ops = &OPS };

	(void)state;
	src.secret[0] = (const unsigned char *)KEY;
	src.secret_len[0] = strlen(KEY);
	src.n_secrets = 1;
	assert_int_equal(verify_with(&src, "Bearer " KEY, NOW_US), 0);
	assert_int_equal(verify_with(&src, "bearer  " KEY, NOW_US), 0);
	assert_int_equal(verify_with(&src, NULL, NOW_US), ERR_AUTH);
	assert_int_equal(verify_with(&src, "", NOW_US), ERR_AUTH);
	assert_int_equal(verify_with(&src, KEY, NOW_US), ERR_AUTH);
	assert_int_equal(verify_with(&src, "Basic " KEY, NOW_US), ERR_AUTH);
	assert_int_equal(verify_with(&src, "Bearer", NOW_US), ERR_AUTH);
	assert_int_equal(verify_with(&src, "Bearer ", NOW_US), ERR_AUTH);
	assert_int_equal(verify_with(&src, "Bearer " OLD_KEY, NOW_US), ERR_AUTH);
	/* a prefix, an extension, one character changed */
	assert_int_equal(verify_with(&src, "Bearer ak_test_key_0123456789", NOW_US), ERR_AUTH);
	assert_int_equal(verify_with(&src, "Bearer " KEY "x", NOW_US), ERR_AUTH);
	assert_int_equal(
		verify_with(&src, "Bearer ak_test_key_0123456789abcdefghijklmnopqrstuvW", NOW_US),
		ERR_AUTH);
	/* rotation: the previous key until its end, then not */
	src.secret[1] = (const unsigned char *)OLD_KEY;
	src.secret_len[1] = strlen(OLD_KEY);
	src.secret_until_us[1] = NOW_US + AN_HOUR;
	src.n_secrets = 2;
	assert_int_equal(verify_with(&src, "Bearer " OLD_KEY, NOW_US), 0);
	assert_int_equal(verify_with(&src, "Bearer " KEY, NOW_US), 0);
	assert_int_equal(verify_with(&src, "Bearer " OLD_KEY, NOW_US + 2 * AN_HOUR), ERR_AUTH);
	assert_int_equal(verify_with(&src, "Bearer " KEY, NOW_US + 2 * AN_HOUR), 0);
	/* an empty secret is no key, even for an empty token */
	src.secret[0] = (const unsigned char *)"";
	src.secret_len[0] = 0;
	src.n_secrets = 1;
	assert_int_equal(verify_with(&src, "Bearer ", NOW_US), ERR_AUTH);
	src.n_secrets = 0;
	assert_int_equal(verify_with(&src, "Bearer " KEY, NOW_US), ERR_AUTH);
}

/* ---- per-item verdicts and the answer ------------------------------------------ */

#define GOOD(id) "{\"event\":\"lead\",\"event_id\":\"" id "\"," AT "}"

static const char three[] =
	"[" GOOD("a-1") "," GOOD("a-1") ",{\"event\":\"lead\",\"event_id\":\"a-2\"," AT
					",\"currency\":\"eur\"}," GOOD("a-3") "]";

static void test_items_and_answer(void **state)
{
	struct http_req req = { .method = "POST",
				.body = (const uint8_t *)three,
				.body_len = strlen(three) };
	struct source_items items = { 0 };
	struct err e = { 0 };
	char *answer;

	(void)state;
	assert_int_equal(OPS.items(&test_ctx, &req, &items, &e), 0);
	assert_int_equal(items.n, 4);
	assert_string_equal(items.v[0].key, "a-1");
	assert_string_equal(items.v[1].key, "a-1"); /* in-request duplicates: the store's call */
	assert_null(items.v[2].key);
	assert_int_equal(items.v[2].status, SOURCE_ITEM_INVALID);
	assert_non_null(strstr(items.v[2].error, "currency must be ISO 4217"));
	assert_string_equal(items.v[3].key, "a-3");
	/* what the ingest path decided */
	items.v[0].status = SOURCE_ITEM_NEW;
	items.v[1].status = SOURCE_ITEM_DUPLICATE;
	items.v[3].status = SOURCE_ITEM_DUPLICATE;
	answer = OPS.items_answer(&items);
	assert_string_equal(answer,
			    "{\"results\":[{\"status\":\"accepted\",\"event_id\":\"a-1\"},"
			    "{\"status\":\"duplicate\",\"event_id\":\"a-1\"},"
			    "{\"status\":\"invalid\",\"error\":\"currency must be ISO 4217 (3 "
			    "upper-case letters)\"},"
			    "{\"status\":\"duplicate\",\"event_id\":\"a-3\"}]}");
	free(answer);
	source_items_cleanup(&items);
	assert_int_equal(items.n, 0);
	/* a body that is no array: refused whole, nothing listed */
	req.body = (const uint8_t *)"{}";
	req.body_len = 2;
	assert_int_equal(OPS.items(&test_ctx, &req, &items, &e), ERR_INVALID);
	assert_int_equal(items.n, 0);
	assert_null(items.v);
	/* the clock rule is the receipt's */
	{
		static const char ahead[] = "[{\"event\":\"lead\",\"event_id\":\"f\","
					    "\"occurred_at\":\"2026-11-27T11:00:00Z\"}]";

		req.body = (const uint8_t *)ahead;
		req.body_len = strlen(ahead);
		assert_int_equal(OPS.items(&test_ctx, &req, &items, &e), 0);
		assert_int_equal(items.v[0].status, SOURCE_ITEM_INVALID);
		assert_string_equal(items.v[0].error,
				    "occurred_at is more than 5 minutes in the future");
		source_items_cleanup(&items);
	}
}

/* ---- the parse ----------------------------------------------------------------- */

static int parse_with(const char *body, bool has_items, const int32_t *pos, size_t n,
		      struct conv_list *out, struct err *e)
{
	struct raw_event ev = { .id = 1,
				.source_id = "00000000-0000-0000-0000-000000000001",
				.topic = "events",
				.body = (const uint8_t *)body,
				.body_len = strlen(body),
				.received_us = NOW_US,
				.has_items = has_items,
				.items_new = pos,
				.n_items_new = n };

	conv_list_init(out);
	return OPS.parse(&ev, out, e);
}

static void test_parse_accepted_only(void **state)
{
	static const char ahead[] = "[" GOOD("p-0") ",{\"event\":\"lead\",\"event_id\":\"p-1\","
						    "\"occurred_at\":\"2030-01-01T00:00:00Z\"}]";
	const int32_t first_last[] = { 0, 3 }, invalid[] = { 0, 2 }, outside[] = { 4 },
		      one[] = { 1 };
	struct conv_list l;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(parse_with(three, true, first_last, 2, &l, &e), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0]->event_id, "a-1");
	assert_string_equal(l.v[1]->event_id, "a-3");
	conv_list_cleanup(&l);
	/* nothing new: nothing converted (the raw event is then ignored) */
	assert_int_equal(parse_with(three, true, NULL, 0, &l, &e), 0);
	assert_int_equal(l.n, 0);
	conv_list_cleanup(&l);
	/* a listed item that no longer checks out: error, and nothing half */
	assert_int_equal(parse_with(three, true, invalid, 2, &l, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "item 2"));
	assert_int_equal(l.n, 0);
	conv_list_cleanup(&l);
	assert_int_equal(parse_with(three, true, outside, 1, &l, &e), ERR_INVALID);
	assert_int_equal(l.n, 0);
	conv_list_cleanup(&l);
	/* stored without verdicts: never guess */
	assert_int_equal(parse_with(three, false, NULL, 0, &l, &e), ERR_INVALID);
	conv_list_cleanup(&l);
	/* time was judged at receipt: a listed item is converted whenever */
	assert_int_equal(parse_with(ahead, true, one, 1, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0]->event_id, "p-1");
	conv_list_cleanup(&l);
}

/* ---- key, dedup key, topic, route ---------------------------------------------- */

static void test_new_secret(void **state)
{
	char a[SOURCE_SECRET_NEW_MAX], b[SOURCE_SECRET_NEW_MAX];

	(void)state;
	assert_non_null(OPS.new_secret);
	OPS.new_secret(a);
	OPS.new_secret(b);
	assert_int_equal(strlen(a), 3 + 43); /* "ak_" + 32 bytes in base64 */
	assert_memory_equal(a, "ak_", 3);
	assert_int_equal(strspn(a + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_"),
			 43);
	assert_string_not_equal(a, b);
	assert_false(OPS.no_secret);
}

static void test_dedup_topic_route(void **state)
{
	static const char body[] = "[{\"event\":\"lead\"}]";
	struct http_req req = { .method = "POST",
				.body = (const uint8_t *)body,
				.body_len = strlen(body) };
	char out[SOURCE_DEDUP_MAX];
	const char *rest = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(OPS.dedup_key(&req, out, sizeof(out), &e), 0);
	/* printf %s '[{"event":"lead"}]' | sha256sum */
	assert_string_equal(
		out, "body:e1e2078183016afbbfc5339667cb01042f8408750c2baa5b387bde60a5cf6b23");
	OPS.topic(&req, out, sizeof(out));
	assert_string_equal(out, "events");
	assert_ptr_equal(source_ops_find("api"), &OPS);
	assert_ptr_equal(source_ops_find_route("/v1/events/abc", &rest), &OPS);
	assert_string_equal(rest, "abc");
	assert_null(source_ops_find_route("/v1/webhooks/api/abc", &rest));
	assert_null(source_ops_find_route("/v1/event", &rest));
	/* the key never goes into the stored headers */
	for (const char *const *h = OPS.stored_headers; h && *h; h++)
		assert_string_not_equal(*h, "Authorization");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_item_rules),	 cmocka_unit_test(test_item_conversion),
		cmocka_unit_test(test_body_parse),	 cmocka_unit_test(test_verify),
		cmocka_unit_test(test_items_and_answer), cmocka_unit_test(test_parse_accepted_only),
		cmocka_unit_test(test_new_secret),	 cmocka_unit_test(test_dedup_topic_route),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
