/*
 * test_ghl.c - the GoHighLevel source: Ed25519 and legacy RSA signatures
 * over the exact fixture bytes (valid, tampered, wrong key, missing header,
 * X-GHL-Signature taking precedence over X-WH-Signature), the timestamp
 * window, the location check, the webhookId dedup key and the topic; the
 * parser on the fixtures (lead with the contact's hashes, won opportunity →
 * one purchase with the source's currency) and the stage/event mapping.
 * Signatures come from `openssl pkeyutl -sign -rawin` (Ed25519) and
 * `openssl dgst -sha256 -sign` (RSA) with the test keys in
 * test/fixtures/keys, hashes from `sha256sum`, times from `date -u +%s`:
 * none of them from the code under test.
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
#include <unistd.h>

#include "core/config.h"
#include "core/conversion.h"
#include "sources/source.h"
#include "testutil.h"

extern const struct source_ops ghl_source_ops;
#define OPS ghl_source_ops

/* openssl pkeyutl -sign -inkey keys/ghl_test_ed25519.key -rawin -in FILE | base64 */
#define ED_CONTACT                                                                                 \
	"eeJtI/0aWin+Dz8FTNFFqP5rnegbIvyqb0BaZ6sdRxyDjdmhz7DhaUhDa4MQNQLd/ZLsmvz1z+g/1xWPFTVjBA=="
#define ED_OPP                                                                                     \
	"bEcp4nDDJ331bWRigx7QDAmDKT2wskqfhuVcmNa4ap/h4ZmW63jf6/KZa3q5ZSWbhH7CuycqBzWMX9T9E/BgBw=="
/* openssl dgst -sha256 -sign keys/ghl_test_rsa.key FILE | base64 */
#define RSA_CONTACT                                                                                \
	"auRTRYV6MKmIxuX3/"                                                                        \
	"onVk88dWawFsJwxHbqoGWUXuYSIUw1509oi7SZng5DuQ++dp3wWQAL2Lq6eaMiiwTGOMLlp5w4u"              \
	"SiifpEYERPRBE4melUphCWGvTvhwJzMkFI9ShUPrwboJyR63sybLXQg4DQgjmGT7GM+"                      \
	"kD1CE9L4xlU1QH5nuu0Zbj0SX"                                                                \
	"fRWfbPPIKGI7BkxQN9RlcXCW7rVqMAYUI5kYlRC9xVq0yQNesJBHNRBeY+aai2z1gmTJtc2Zp2iPsti8uJP+"     \
	"hCsPzJ3e"                                                                                 \
	"v8TEZkoKVSkGYZcnVsd18J72w4jvgIp6QLpTj/3o91bf1mqDK9W9FC3G0nXKYfaMHA=="

#define TS_CONTACT_US 1795685401120000LL /* date -u -d 2026-11-26T09:30:01Z +%s, + .120 */
#define TS_OPP_US     1795705200000000LL /* date -u -d 2026-11-26T15:00:00Z +%s */
#define ADDED_US      1795685400000000LL /* date -u -d 2026-11-26T09:30:00Z +%s */
/* printf %s VALUE | sha256sum */
#define H_EMAIL "3e8dbcd296bb6b72eb0b7cbde29e91952542baf4c417e4053cf4ae69a8156004"
#define H_PHONE                                                                                    \
	"033134b911b137918338415ee3d20a064b24773d36a3b02e8b99fdd3fcd6b4cd" /* 447700900123 */
#define H_SAM "e96e02d8e47f2a7c03be5117b3ed175c52aa30fb22028cf9c96f261563577605"

static struct config *cfg;
static char *contact, *opp;
static size_t contact_len, opp_len;

/* A config whose [ghl] key files are these fixtures, loaded as the daemon
 * loads one (the keys are read and checked by ghl.c's load hooks). */
static int load_keys(const char *ed, const char *rsa, struct config **out, struct err *e)
{
	char text[1024], *path;
	int rc;

	snprintf(text, sizeof(text),
		 "[ghl]\ned25519_public_key_file = %s/keys/%s\n"
		 "rsa_public_key_file = %s/keys/%s\nmax_age = 5m\n",
		 FIXTURES_DIR, ed, FIXTURES_DIR, rsa);
	path = test_write_temp(text);
	rc = config_load(path, out, e);
	unlink(path);
	free(path);
	return rc;
}

static int setup(void **state)
{
	struct err e = { 0 };

	(void)state;
	if (sodium_init() < 0)
		return -1;
	source_register_config_keys(); /* as the daemons' main() does */
	if (load_keys("ghl_test_ed25519.pub", "ghl_test_rsa.pub", &cfg, &e) != 0) {
		fprintf(stderr, "config_load: %s\n", e.msg);
		return -1;
	}
	contact = test_read_fixture("ghl_contact_create.json", &contact_len);
	opp = test_read_fixture("ghl_opportunity_won.json", &opp_len);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_unref(cfg);
	free(contact);
	free(opp);
	return 0;
}

static struct source make_source(const char *settings)
{
	struct source src = { .kind = "ghl", .enabled = true, .ops = &OPS };

	src.settings_json = settings;
	return src;
}

/* verify with up to two signature headers (NULL = absent). */
static int verify(const char *body, size_t len, const char *ed, const char *rsa,
		  const struct config *c, int64_t now_us, const char *settings)
{
	struct http_header h[2];
	size_t n = 0;
	struct http_req req = { .method = "POST", .headers = h, .body = (const uint8_t *)body };
	struct source src = make_source(settings);
	struct source_ctx ctx = { .cfg = c, .now_us = now_us };
	struct err e = { 0 };

	if (ed)
		h[n++] = (struct http_header){ "x-ghl-signature", ed };
	if (rsa)
		h[n++] = (struct http_header){ "X-WH-Signature", rsa };
	req.n_headers = n;
	req.body_len = len;
	return OPS.verify(&src, &ctx, &req, &e);
}

static void test_signatures(void **state)
{
	int64_t now = TS_CONTACT_US + 10 * 1000000LL;
	char *tampered = strdup(contact);
	struct config *other = NULL;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(verify(contact, contact_len, ED_CONTACT, NULL, cfg, now, NULL), 0);
	assert_int_equal(verify(contact, contact_len, NULL, RSA_CONTACT, cfg, now, NULL), 0);
	/* Missing both, and a signature of another body. */
	assert_int_equal(verify(contact, contact_len, NULL, NULL, cfg, now, NULL), ERR_AUTH);
	assert_int_equal(verify(contact, contact_len, ED_OPP, NULL, cfg, now, NULL), ERR_AUTH);
	/* One byte changed ("Sam" → "Pam"). */
	strstr(tampered, "\"Sam\"")[1] = 'P';
	assert_int_equal(verify(tampered, contact_len, ED_CONTACT, NULL, cfg, now, NULL), ERR_AUTH);
	assert_int_equal(verify(tampered, contact_len, NULL, RSA_CONTACT, cfg, now, NULL),
			 ERR_AUTH);
	free(tampered);
	/* The published keys (no config) did not sign the test bodies. */
	assert_int_equal(verify(contact, contact_len, ED_CONTACT, NULL, NULL, now, NULL), ERR_AUTH);
	assert_int_equal(verify(contact, contact_len, NULL, RSA_CONTACT, NULL, now, NULL),
			 ERR_AUTH);
	/* Keys swapped: the wrong kind of key fails the load (start or
	 * reload), naming the key, rather than every webhook with 401. */
	assert_int_equal(load_keys("ghl_test_rsa.pub", "ghl_test_ed25519.pub", &other, &e),
			 ERR_CONFIG);
	assert_non_null(strstr(e.msg, "[ghl] ed25519_public_key_file: key file"));
	assert_non_null(strstr(e.msg, "is not a PEM Ed25519 public key"));
	assert_int_equal(load_keys("ghl_test_ed25519.pub", "ghl_test_ed25519.pub", &other, &e),
			 ERR_CONFIG);
	assert_non_null(strstr(e.msg, "is not a PEM RSA public key"));
	assert_int_equal(load_keys("ghl_test_ed25519.pub", "no_such.pub", &other, &e), ERR_CONFIG);
	assert_non_null(strstr(e.msg, "could not open key file"));
	assert_null(other);
	/* Garbage and truncated signatures. */
	assert_int_equal(verify(contact, contact_len, "!!!", NULL, cfg, now, NULL), ERR_AUTH);
	assert_int_equal(verify(contact, contact_len, "eeJtI/0a", NULL, cfg, now, NULL), ERR_AUTH);
	assert_int_equal(verify(contact, contact_len, NULL, "", cfg, now, NULL), ERR_AUTH);
}

/* X-GHL-Signature present: only it counts, even when the legacy one is
 * valid; absent: the legacy one is checked. */
static void test_precedence(void **state)
{
	int64_t now = TS_CONTACT_US;

	(void)state;
	assert_int_equal(verify(contact, contact_len, ED_OPP, RSA_CONTACT, cfg, now, NULL),
			 ERR_AUTH);
	assert_int_equal(
		verify(contact, contact_len, ED_CONTACT, "bm90IGEgc2lnbmF0dXJl", cfg, now, NULL),
		0);
	assert_int_equal(verify(contact, contact_len, "", RSA_CONTACT, cfg, now, NULL), ERR_AUTH);
}

static void test_freshness(void **state)
{
	const int64_t s = 1000000LL;

	(void)state;
	assert_int_equal(
		verify(contact, contact_len, ED_CONTACT, NULL, cfg, TS_CONTACT_US + 299 * s, NULL),
		0);
	assert_int_equal(
		verify(contact, contact_len, ED_CONTACT, NULL, cfg, TS_CONTACT_US + 301 * s, NULL),
		ERR_AUTH);
	assert_int_equal(
		verify(contact, contact_len, ED_CONTACT, NULL, cfg, TS_CONTACT_US - 301 * s, NULL),
		ERR_AUTH);
	/* No config: the default window is 5 minutes too. */
	assert_int_equal(
		verify(contact, contact_len, ED_CONTACT, NULL, NULL, TS_CONTACT_US + 301 * s, NULL),
		ERR_AUTH);
	/* An old event stays refused with the legacy signature. */
	assert_int_equal(verify(opp, opp_len, NULL, RSA_CONTACT, cfg, TS_OPP_US + 3600 * s, NULL),
			 ERR_AUTH);
	assert_int_equal(verify(opp, opp_len, ED_OPP, NULL, cfg, TS_OPP_US + 3600 * s, NULL),
			 ERR_AUTH);
	assert_int_equal(verify(opp, opp_len, ED_OPP, NULL, cfg, TS_OPP_US + 60 * s, NULL), 0);
}

static void test_location(void **state)
{
	(void)state;
	assert_int_equal(verify(contact, contact_len, ED_CONTACT, NULL, cfg, TS_CONTACT_US,
				"{\"location_id\":\"ve9EPM428h8vShlRW1KT\"}"),
			 0);
	assert_int_equal(verify(contact, contact_len, ED_CONTACT, NULL, cfg, TS_CONTACT_US,
				"{\"location_id\":\"someOtherLocation\"}"),
			 ERR_AUTH);
}

static void test_dedup_topic(void **state)
{
	struct http_req req = { .method = "POST",
				.body = (const uint8_t *)contact,
				.body_len = contact_len };
	char key[SOURCE_DEDUP_MAX], topic[SOURCE_TOPIC_MAX];
	struct err e = { 0 };
	static const char nokey[] = "{\"type\":\"ContactCreate\"}";

	(void)state;
	assert_int_equal(OPS.dedup_key(&req, key, sizeof(key), &e), 0);
	assert_string_equal(key, "webhook:7b3e0b0e-5f0c-4b8e-9d3a-2f1c8a9b1c01");
	OPS.topic(&req, topic, sizeof(topic));
	assert_string_equal(topic, "ContactCreate");
	req.body = (const uint8_t *)nokey;
	req.body_len = sizeof(nokey) - 1;
	assert_int_equal(OPS.dedup_key(&req, key, sizeof(key), &e), 0);
	/* printf %s '{"type":"ContactCreate"}' | sha256sum */
	assert_string_equal(
		key, "sha256:b5616616ff9cf98788cc00aeac0ebe395998d42a1d68f3b4674d5e857fa30edc");
	req.body = (const uint8_t *)"[1]";
	req.body_len = 3;
	OPS.topic(&req, topic, sizeof(topic));
	assert_string_equal(topic, "");
	assert_int_equal(OPS.unavailable_status, 429);
	assert_true(OPS.no_secret);
}

static struct raw_event event(const char *body, size_t len, const char *settings)
{
	struct raw_event ev = { .id = 1,
				.source_id = "s",
				.body = (const uint8_t *)body,
				.body_len = len,
				.received_us = 1800000000000000LL,
				.settings_json = settings };

	return ev;
}

static void test_parse_contact(void **state)
{
	struct raw_event ev = event(contact, contact_len, NULL);
	struct conv_list out;
	struct err e = { 0 };
	struct conversion *c;

	(void)state;
	conv_list_init(&out);
	assert_int_equal(OPS.parse(&ev, &out, &e), 0);
	assert_int_equal(out.n, 1);
	c = out.v[0];
	assert_string_equal(c->event, "lead");
	assert_string_equal(c->event_id, "ghl:contact:nmFmQEsNgz6AVpgLVUJ0:lead");
	assert_true(c->occurred_us == ADDED_US);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_EMAIL], H_EMAIL);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_PHONE], H_PHONE);
	assert_string_equal(c->ids[PII_SCHEME_META][PII_FIRST_NAME], H_SAM);
	assert_non_null(c->ids[PII_SCHEME_META][PII_EXTERNAL_ID]);
	assert_null(c->value);
	conv_list_cleanup(&out);
}

static void test_parse_won(void **state)
{
	struct raw_event ev = event(opp, opp_len, "{\"currency\":\"eur\"}");
	struct conv_list out;
	struct err e = { 0 };
	struct conversion *c;

	(void)state;
	conv_list_init(&out);
	assert_int_equal(OPS.parse(&ev, &out, &e), 0);
	assert_int_equal(out.n, 1);
	c = out.v[0];
	assert_string_equal(c->event, "purchase");
	assert_string_equal(c->event_id, "ghl:opportunity:bCdEfGhIjK123:won");
	assert_string_equal(c->value, "2500");
	assert_string_equal(c->currency, "EUR");
	assert_string_equal(c->order_id, "bCdEfGhIjK123");
	assert_true(c->occurred_us == TS_OPP_US);
	assert_non_null(c->ids[PII_SCHEME_META][PII_EXTERNAL_ID]);
	conv_list_cleanup(&out);
}

struct body_case {
	const char *body;
	const char *settings;
	int rc;
	const char *events; /* "event=event_id;…" of the conversions, in order */
};

static const struct body_case body_cases[] = {
	/* Not won: nothing; won: a purchase in USD by default, cents kept. */
	{ "{\"type\":\"OpportunityStatusUpdate\",\"id\":\"o1\",\"status\":\"open\"}", NULL, 0, "" },
	{ "{\"type\":\"OpportunityStatusUpdate\",\"id\":\"o1\",\"status\":\"won\","
	  "\"monetaryValue\":19.99}",
	  NULL, 0, "purchase=ghl:opportunity:o1:won/19.99 USD;" },
	{ "{\"type\":\"OpportunityCreate\",\"id\":\"o1\",\"status\":\"won\"}", NULL, 0,
	  "purchase=ghl:opportunity:o1:won/-;" },
	/* A later update of the won opportunity: the same event id. */
	{ "{\"type\":\"OpportunityStageUpdate\",\"id\":\"o1\",\"status\":\"won\","
	  "\"pipelineStageId\":\"s2\",\"monetaryValue\":5}",
	  NULL, 0, "purchase=ghl:opportunity:o1:won/5 USD;" },
	/* The stage map, with and without a won status. */
	{ "{\"type\":\"OpportunityStageUpdate\",\"id\":\"o1\",\"status\":\"open\","
	  "\"pipelineStageId\":\"abc\"}",
	  "{\"stage_map\":{\"abc\":\"qualified_lead\"}}", 0,
	  "qualified_lead=ghl:opportunity:o1:stage:abc/-;" },
	{ "{\"type\":\"OpportunityStageUpdate\",\"id\":\"o1\",\"status\":\"won\","
	  "\"pipelineStageId\":\"abc\",\"monetaryValue\":10}",
	  "{\"stage_map\":{\"abc\":\"qualified_lead\"},\"currency\":\"GBP\"}", 0,
	  "qualified_lead=ghl:opportunity:o1:stage:abc/10 GBP;purchase=ghl:opportunity:o1:won/10 "
	  "GBP;" },
	{ "{\"type\":\"OpportunityStageUpdate\",\"id\":\"o1\",\"pipelineStageId\":\"zzz\"}",
	  "{\"stage_map\":{\"abc\":\"qualified_lead\"}}", 0, "" },
	/* The event map: a new type, a renamed and a switched-off default. */
	{ "{\"type\":\"InvoicePaid\",\"id\":\"i9\",\"contactId\":\"c1\"}",
	  "{\"event_map\":{\"InvoicePaid\":\"purchase\"}}", 0, "purchase=ghl:InvoicePaid:i9/-;" },
	{ "{\"type\":\"InvoicePaid\",\"id\":\"i9\"}", NULL, 0, "" },
	{ "{\"type\":\"ContactCreate\",\"id\":\"c1\"}",
	  "{\"event_map\":{\"ContactCreate\":\"sign_up\"}}", 0, "sign_up=ghl:contact:c1:lead/-;" },
	{ "{\"type\":\"ContactCreate\",\"id\":\"c1\"}", "{\"event_map\":{\"ContactCreate\":\"\"}}",
	  0, "" },
	{ "{\"type\":\"OpportunityStatusUpdate\",\"id\":\"o1\",\"status\":\"won\"}",
	  "{\"event_map\":{\"won\":\"close\"}}", 0, "close=ghl:opportunity:o1:won/-;" },
	/* ContactUpdate / Delete: no second lead. */
	{ "{\"type\":\"ContactUpdate\",\"id\":\"c1\",\"email\":\"a@b.example\"}", NULL, 0, "" },
	{ "{\"type\":\"ContactDelete\",\"id\":\"c1\"}", NULL, 0, "" },
	/* Unusable bodies. */
	{ "{\"type\":\"OpportunityStatusUpdate\",\"status\":\"won\"}", NULL, ERR_INVALID, "" },
	{ "{\"type\":\"OpportunityStatusUpdate\",\"id\":\"o1\",\"status\":\"won\","
	  "\"monetaryValue\":1.001}",
	  NULL, ERR_INVALID, "" },
	{ "{\"type\":\"OpportunityStatusUpdate\",\"id\":\"o1\",\"status\":\"won\","
	  "\"monetaryValue\":\"x\"}",
	  NULL, ERR_INVALID, "" },
	{ "{\"type\":\"ContactCreate\"}", NULL, ERR_INVALID, "" },
	{ "{\"id\":\"c1\"}", NULL, ERR_INVALID, "" },
	{ "[]", NULL, ERR_INVALID, "" },
	{ "", NULL, ERR_INVALID, "" },
};

static void test_parse_bodies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *bc = &body_cases[i];
		struct raw_event ev = event(bc->body, strlen(bc->body), bc->settings);
		struct conv_list out;
		struct err e = { 0 };
		char got[512] = "";
		size_t o = 0;

		conv_list_init(&out);
		assert_int_equal(OPS.parse(&ev, &out, &e), bc->rc);
		for (size_t k = 0; k < out.n; k++) {
			const struct conversion *c = out.v[k];

			o += (size_t)snprintf(got + o, sizeof(got) - o, "%s=%s/", c->event,
					      c->event_id);
			if (c->value)
				o += (size_t)snprintf(got + o, sizeof(got) - o, "%s %s;", c->value,
						      c->currency);
			else
				o += (size_t)snprintf(got + o, sizeof(got) - o, "-;");
		}
		if (strcmp(got, bc->events) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, got, bc->events);
		conv_list_cleanup(&out);
	}
}

/* Click ids from the contact's attribution, when a body carries them. */
static void test_parse_clicks(void **state)
{
	static const char body[] =
		"{\"type\":\"ContactCreate\",\"id\":\"c1\",\"email\":\"x@y.example\","
		"\"attributionSource\":{\"gclid\":\"G123\"},"
		"\"lastAttributionSource\":{\"fbclid\":\"IwAR2xyz\"}}";
	struct raw_event ev = event(body, sizeof(body) - 1, NULL);
	struct conv_list out;
	struct err e = { 0 };

	(void)state;
	conv_list_init(&out);
	assert_int_equal(OPS.parse(&ev, &out, &e), 0);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.v[0]->click[CLICK_GCLID], "G123");
	assert_string_equal(out.v[0]->click[CLICK_FBCLID], "IwAR2xyz");
	assert_non_null(out.v[0]->click[CLICK_FBC]);
	conv_list_cleanup(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signatures),   cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_freshness),    cmocka_unit_test(test_location),
		cmocka_unit_test(test_dedup_topic),  cmocka_unit_test(test_parse_contact),
		cmocka_unit_test(test_parse_won),    cmocka_unit_test(test_parse_bodies),
		cmocka_unit_test(test_parse_clicks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
