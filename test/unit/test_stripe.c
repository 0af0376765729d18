/*
 * test_stripe.c - the Stripe source: the Stripe-Signature table (valid,
 * tampered body, wrong secret, missing or malformed header, stale and
 * future t, several v1 of which one matches, v0 ignored), the source ops
 * (verify against the config's secret, dedup key = event id, topic), the
 * event reader (each handled type, the plan map, bodies that are no
 * event) and that no Stripe event ever makes a conversion.  Expected
 * signatures come from `openssl dgst -sha256 -hmac SECRET` over "t.body",
 * not from the code under test.
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
#include "sources/source.h"
#include "sources/stripe.h"
#include "testutil.h"

extern const struct source_ops stripe_source_ops;

#define SECRET "whsec_test_secret"
#define T_SENT 1800000000LL
/* (printf 1800000000.; cat stripe_subscription_updated.json) |
 *   openssl dgst -sha256 -hmac whsec_test_secret */
#define SIG_GOOD "5b0377f7467b8288575a534990916abb2f37c136a3a434f32fa79bc731094ab7"
/* the same with -hmac whsec_other */
#define SIG_OTHER "b1f07c87eadffe97071f7e20534230cf6513ff1f76b512d2becfaf0c7d6283de"
#define PLANS	  "price_starter_monthly:starter, price_professional_monthly : professional"

static int verify_at(const char *header, const char *body, size_t len, const char *secret,
		     int64_t now_s)
{
	struct err e = { 0 };

	return stripe_sig_verify(header, (const uint8_t *)body, len, (const unsigned char *)secret,
				 secret ? strlen(secret) : 0, now_s, 300, &e);
}

static void test_signature_table(void **state)
{
	size_t len;
	char *body = test_read_fixture("stripe_subscription_updated.json", &len);
	static const struct {
		const char *header, *secret;
		int64_t now;
		int want;
	} cases[] = {
		{ "t=1800000000,v1=" SIG_GOOD, SECRET, T_SENT, 0 },
		/* Upper-case hex is the same signature. */
		{ "t=1800000000,v1="
		  "5B0377F7467B8288575A534990916ABB2F37C136A3A434F32FA79BC731094AB7",
		  SECRET, T_SENT, 0 },
		{ "t=1800000000,v1=" SIG_GOOD, "whsec_other", T_SENT, ERR_AUTH },
		{ "t=1800000000,v1=" SIG_OTHER, "whsec_other", T_SENT, 0 },
		{ NULL, SECRET, T_SENT, ERR_AUTH },
		{ "", SECRET, T_SENT, ERR_AUTH },
		{ "v1=" SIG_GOOD, SECRET, T_SENT, ERR_AUTH },
		{ "t=1800000000", SECRET, T_SENT, ERR_AUTH },
		{ "t=1800000000,v0=" SIG_GOOD, SECRET, T_SENT, ERR_AUTH },
		{ "t=1800000000,v1=" SIG_GOOD "00", SECRET, T_SENT, ERR_AUTH },
		{ "t=-1800000000,v1=" SIG_GOOD, SECRET, T_SENT, ERR_AUTH },
		{ "t=18e8,v1=" SIG_GOOD, SECRET, T_SENT, ERR_AUTH },
		/* 300 s either way is in; 301 is out. */
		{ "t=1800000000,v1=" SIG_GOOD, SECRET, T_SENT + 300, 0 },
		{ "t=1800000000,v1=" SIG_GOOD, SECRET, T_SENT + 301, ERR_AUTH },
		{ "t=1800000000,v1=" SIG_GOOD, SECRET, T_SENT - 301, ERR_AUTH },
		/* Rotation: any v1 may match, wherever it is; v0 is ignored. */
		{ "t=1800000000,v1=" SIG_OTHER ",v1=" SIG_GOOD, SECRET, T_SENT, 0 },
		{ "t=1800000000,v1=" SIG_GOOD ",v1=" SIG_OTHER, SECRET, T_SENT, 0 },
		{ "t=1800000000,v1=" SIG_OTHER ",v1=" SIG_OTHER, SECRET, T_SENT, ERR_AUTH },
		{ "t=1800000000,v0=abc,v1=zz,v1=" SIG_GOOD, SECRET, T_SENT, 0 },
		{ " t=1800000000 , v1=" SIG_GOOD " ", SECRET, T_SENT, 0 },
		/* The signed t is the one sent: another t in the header
		 * cannot sign the same bytes. */
		{ "t=1800000001,v1=" SIG_GOOD, SECRET, T_SENT, ERR_AUTH },
		/* No secret configured: refused. */
		{ "t=1800000000,v1=" SIG_GOOD, NULL, T_SENT, ERR_AUTH },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = verify_at(cases[i].header, body, len, cases[i].secret, cases[i].now);

		if (rc != cases[i].want)
			fail_msg("case %zu (%s): got %d, want %d", i,
				 cases[i].header ? cases[i].header : "(none)", rc, cases[i].want);
	}
	/* One byte of the body changed. */
	body[10] ^= 1;
	assert_int_equal(verify_at("t=1800000000,v1=" SIG_GOOD, body, len, SECRET, T_SENT),
			 ERR_AUTH);
	free(body);
}

static void test_sig_parse_limits(void **state)
{
	struct stripe_sig sig;
	struct err e = { 0 };
	char header[2048];
	size_t at;

	(void)state;
	at = (size_t)snprintf(header, sizeof(header), "t=1");
	for (int i = 0; i < STRIPE_MAX_V1 + 3; i++)
		at += (size_t)snprintf(header + at, sizeof(header) - at, ",v1=" SIG_GOOD);
	assert_int_equal(stripe_sig_parse(header, &sig, &e), 0);
	assert_int_equal(sig.n_v1, STRIPE_MAX_V1);
	assert_int_equal(sig.t, 1);
	/* The first t counts. */
	assert_int_equal(stripe_sig_parse("t=5,t=6,v1=" SIG_GOOD, &sig, &e), 0);
	assert_int_equal(sig.t, 5);
	assert_int_equal(stripe_sig_parse("t=1234567890123456789,v1=" SIG_GOOD, &sig, &e),
			 ERR_AUTH);
	assert_int_equal(stripe_sig_parse(",,,=,t=,v1=", &sig, &e), ERR_AUTH);
}

static struct http_req make_req(const struct http_header *h, size_t n, const char *body, size_t len)
{
	struct http_req r = { .method = "POST", .headers = h, .n_headers = n };

	r.body = (const uint8_t *)body;
	r.body_len = len;
	return r;
}

/* A config with this [stripe] text, loaded as the daemon loads one (the
 * secret file is read by stripe.c's load hook). */
static struct config *stripe_config(const char *fmt, const char *secret_path)
{
	char text[512], *path;
	struct config *c = NULL;
	struct err e = { 0 };

	snprintf(text, sizeof(text), fmt, secret_path);
	path = test_write_temp(text);
	if (config_load(path, &c, &e) != 0)
		fail_msg("config_load: %s", e.msg);
	unlink(path);
	free(path);
	return c;
}

static void test_source_ops(void **state)
{
	size_t len;
	char *body = test_read_fixture("stripe_subscription_updated.json", &len);
	struct http_header h[] = { { "stripe-signature", "t=1800000000,v1=" SIG_GOOD } };
	struct http_req req = make_req(h, 1, body, len);
	char *secret_path = test_write_temp(SECRET "\n");
	struct config *cfg =
		stripe_config("[stripe]\nwebhook_secret_file = %s\ntolerance = 5m\n", secret_path);
	struct config *strict =
		stripe_config("[stripe]\nwebhook_secret_file = %s\ntolerance = 5s\n", secret_path);
	struct config *none = stripe_config("[stripe]\ntolerance = 5m%s\n", "");
	struct source_ctx ctx = { .cfg = cfg, .now_us = (T_SENT + 10) * 1000000 };
	struct source src = { .kind = "stripe", .enabled = true, .ops = &stripe_source_ops };
	char key[SOURCE_DEDUP_MAX], topic[SOURCE_TOPIC_MAX];
	struct err e = { 0 };

	(void)state;
	assert_true(stripe_source_ops.no_secret);
	assert_int_equal(stripe_source_ops.verify(&src, &ctx, &req, &e), 0);
	/* A shorter tolerance makes the same request stale. */
	ctx.cfg = strict;
	assert_int_equal(stripe_source_ops.verify(&src, &ctx, &req, &e), ERR_AUTH);
	/* No secret configured. */
	ctx.cfg = none;
	assert_int_equal(stripe_source_ops.verify(&src, &ctx, &req, &e), ERR_AUTH);
	req.n_headers = 0;
	ctx.cfg = cfg;
	assert_int_equal(stripe_source_ops.verify(&src, &ctx, &req, &e), ERR_AUTH);
	config_unref(cfg);
	config_unref(strict);
	config_unref(none);
	unlink(secret_path);
	free(secret_path);
	assert_int_equal(stripe_source_ops.dedup_key(&req, key, sizeof(key), &e), 0);
	assert_string_equal(key, "evt_1QxAdsEng0001");
	stripe_source_ops.topic(&req, topic, sizeof(topic));
	assert_string_equal(topic, "customer.subscription.updated");
	req = make_req(h, 1, "[]", 2);
	assert_int_equal(stripe_source_ops.dedup_key(&req, key, sizeof(key), &e), ERR_INVALID);
	free(body);
}

static void test_plan_map(void **state)
{
	char plan[32];

	(void)state;
	assert_true(stripe_plan_for_price(PLANS, "price_starter_monthly", plan, sizeof(plan)));
	assert_string_equal(plan, "starter");
	assert_true(stripe_plan_for_price(PLANS, "price_professional_monthly", plan, sizeof(plan)));
	assert_string_equal(plan, "professional");
	/* A prefix of a listed price is another price. */
	assert_false(stripe_plan_for_price(PLANS, "price_starter", plan, sizeof(plan)));
	assert_string_equal(plan, "");
	assert_false(stripe_plan_for_price(PLANS, "", plan, sizeof(plan)));
	assert_false(stripe_plan_for_price(NULL, "price_starter_monthly", plan, sizeof(plan)));
	assert_false(stripe_plan_for_price("price_x:", "price_x", plan, sizeof(plan)));
	assert_false(stripe_plan_for_price("price_x:abc", "price_x", plan, 3));
}

static void test_read_fixture_update(void **state)
{
	size_t len;
	char *body = test_read_fixture("stripe_subscription_updated.json", &len);
	struct billing_change c;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(stripe_event_read((uint8_t *)body, len, PLANS, &c, &e), 0);
	assert_int_equal(c.op, BILLING_SUBSCRIPTION);
	assert_string_equal(c.event_id, "evt_1QxAdsEng0001");
	assert_int_equal(c.event_at, 1795700000);
	assert_string_equal(c.subscription, "sub_1QxAdsEng");
	assert_string_equal(c.customer, "cus_AdsEng001");
	assert_string_equal(c.status, "active");
	assert_string_equal(c.price, "price_professional_monthly");
	assert_string_equal(c.plan, "professional");
	assert_string_equal(c.tenant_ref, "1");
	assert_false(c.deleted);
	/* Without a plan map the price is known but buys no plan. */
	assert_int_equal(stripe_event_read((uint8_t *)body, len, NULL, &c, &e), 0);
	assert_string_equal(c.plan, "");
	free(body);
}

static int read_text(const char *body, struct billing_change *c)
{
	struct err e = { 0 };

	return stripe_event_read((const uint8_t *)body, strlen(body), PLANS, c, &e);
}

static void test_read_types(void **state)
{
	struct billing_change c;

	(void)state;
	assert_int_equal(read_text("{\"id\":\"evt_1\",\"type\":\"checkout.session.completed\","
				   "\"created\":10,\"data\":{\"object\":{\"client_reference_id\":"
				   "\"acme\",\"customer\":\"cus_1\",\"subscription\":\"sub_1\"}}}",
				   &c),
			 0);
	assert_int_equal(c.op, BILLING_LINK);
	assert_string_equal(c.tenant_ref, "acme");
	assert_string_equal(c.customer, "cus_1");
	assert_string_equal(c.subscription, "sub_1");
	/* A checkout we did not start (no reference) changes nothing. */
	assert_int_equal(read_text("{\"id\":\"evt_1\",\"type\":\"checkout.session.completed\","
				   "\"created\":10,\"data\":{\"object\":{\"client_reference_id\":"
				   "null,\"customer\":\"cus_1\"}}}",
				   &c),
			 0);
	assert_int_equal(c.op, BILLING_NONE);
	assert_int_equal(read_text("{\"id\":\"evt_2\",\"type\":\"customer.subscription.deleted\","
				   "\"created\":11,\"data\":{\"object\":{\"id\":\"sub_1\","
				   "\"customer\":\"cus_1\",\"status\":\"canceled\"}}}",
				   &c),
			 0);
	assert_int_equal(c.op, BILLING_SUBSCRIPTION);
	assert_true(c.deleted);
	assert_int_equal(read_text("{\"id\":\"evt_3\",\"type\":\"invoice.payment_failed\","
				   "\"created\":12,\"data\":{\"object\":{\"customer\":\"cus_1\"}}}",
				   &c),
			 0);
	assert_int_equal(c.op, BILLING_PAYMENT_FAILED);
	assert_int_equal(read_text("{\"id\":\"evt_4\",\"type\":\"invoice.paid\","
				   "\"created\":13,\"data\":{\"object\":{\"customer\":\"cus_1\"}}}",
				   &c),
			 0);
	assert_int_equal(c.op, BILLING_PAID);
	assert_int_equal(c.event_at, 13);
	/* Other types are events that change nothing. */
	assert_int_equal(read_text("{\"id\":\"evt_5\",\"type\":\"customer.subscription.paused\","
				   "\"created\":13,\"data\":{\"object\":{}}}",
				   &c),
			 0);
	assert_int_equal(c.op, BILLING_NONE);
	assert_int_equal(read_text("{\"id\":\"evt_6\",\"type\":\"charge.succeeded\","
				   "\"created\":13,\"data\":{\"object\":{}}}",
				   &c),
			 0);
	assert_int_equal(c.op, BILLING_NONE);
}

static void test_read_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"type\":\"invoice.paid\",\"created\":1,\"data\":{\"object\":{}}}",
		"{\"id\":\"evt\",\"created\":1,\"data\":{\"object\":{}}}",
		"{\"id\":\"evt\",\"type\":\"invoice.paid\",\"data\":{\"object\":{}}}",
		"{\"id\":\"evt\",\"type\":\"invoice.paid\",\"created\":\"1\",\"data\":{}}",
		"{\"id\":\"evt\",\"type\":\"invoice.paid\",\"created\":-1,\"data\":{\"object\":{}}"
		"}",
		"{\"id\":\"evt\",\"type\":\"invoice.paid\",\"created\":1}",
		/* Handled types without what they need. */
		"{\"id\":\"evt\",\"type\":\"invoice.paid\",\"created\":1,\"data\":{\"object\":{}}}",
		"{\"id\":\"evt\",\"type\":\"customer.subscription.updated\",\"created\":1,"
		"\"data\":{\"object\":{\"id\":\"sub_1\"}}}",
	};
	struct billing_change c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (read_text(bad[i], &c) != ERR_INVALID)
			fail_msg("case %zu accepted: %s", i, bad[i]);
		assert_int_equal(c.op, BILLING_NONE);
	}
}

/* No Stripe event is a conversion; the handled ones are billing actions,
 * a body that is no event fails parse (marked error). */
static void test_parse_and_action(void **state)
{
	size_t len;
	char *body = test_read_fixture("stripe_subscription_updated.json", &len);
	struct raw_event ev = { .body = (uint8_t *)body, .body_len = len };
	struct conv_list out;
	struct err e = { 0 };
	char key[SOURCE_CONTACT_KEY_MAX] = "";

	(void)state;
	conv_list_init(&out);
	assert_int_equal(stripe_source_ops.parse(&ev, &out, &e), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(stripe_source_ops.action(&ev, key), SOURCE_ACTION_BILLING);
	ev.body = (const uint8_t *)"{}";
	ev.body_len = 2;
	assert_int_equal(stripe_source_ops.parse(&ev, &out, &e), ERR_INVALID);
	assert_int_equal(stripe_source_ops.action(&ev, key), SOURCE_ACTION_NONE);
	conv_list_cleanup(&out);
	free(body);
}

/* [stripe] webhook_secret_file is read at load, under
 * $CREDENTIALS_DIRECTORY when relative; a missing file fails the load. */
static void test_config_secret(void **state)
{
	char *secret_path = test_write_temp(SECRET "\n");
	const char *slash = strrchr(secret_path, '/');
	char dir[256], conf[512];
	char *conf_path;
	struct config *c = NULL;
	struct err e = { 0 };

	(void)state;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - secret_path), secret_path);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	snprintf(conf, sizeof(conf), "[stripe]\nwebhook_secret_file = %s\ntolerance = 2m\n",
		 slash + 1);
	conf_path = test_write_temp(conf);
	if (config_load(conf_path, &c, &e) != 0)
		fail_msg("config_load: %s", e.msg);
	{
		size_t n = 0;
		const void *got = config_platform_data(c, "stripe", "webhook_secret_file", &n);

		assert_int_equal(n, strlen(SECRET));
		assert_memory_equal(got, SECRET, strlen(SECRET));
	}
	assert_int_equal(config_platform_ms(c, "stripe", "tolerance", -1), 120000);
	config_unref(c);
	unlink(conf_path);
	free(conf_path);
	snprintf(conf, sizeof(conf), "[stripe]\nwebhook_secret_file = %s.missing\n", slash + 1);
	conf_path = test_write_temp(conf);
	assert_int_equal(config_load(conf_path, &c, &e), ERR_CONFIG);
	assert_non_null(strstr(e.msg, "webhook_secret_file"));
	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(conf_path);
	free(conf_path);
	unlink(secret_path);
	free(secret_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_table),	    cmocka_unit_test(test_sig_parse_limits),
		cmocka_unit_test(test_source_ops),	    cmocka_unit_test(test_plan_map),
		cmocka_unit_test(test_read_fixture_update), cmocka_unit_test(test_read_types),
		cmocka_unit_test(test_read_invalid),	    cmocka_unit_test(test_parse_and_action),
		cmocka_unit_test(test_config_secret),
	};

	if (sodium_init() < 0)
		return 1;
	source_register_config_keys(); /* as the daemons' main() does */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
