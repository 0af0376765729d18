/*
 * test_stripe_session.c - the pure parts of Stripe sessions: the plan ->
 * price lookup (reverse of [stripe] plans), the Checkout and portal form
 * bodies (bracketed keys, optional fields left out, the separators in
 * values encoded), and reading Stripe's answers (a session's url and id, its
 * error object per HTTP status, malformed bodies).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "billing/stripe_session.h"

#define PLANS "price_s:starter, price_p : professional ,price_e:enterprise,price_p2:professional"

static void test_price_for_plan(void **state)
{
	char price[64];

	(void)state;
	assert_true(billing_price_for_plan(PLANS, "starter", price, sizeof(price)));
	assert_string_equal(price, "price_s");
	assert_true(billing_price_for_plan(PLANS, "professional", price, sizeof(price)));
	assert_string_equal(price, "price_p"); /* the first listed */
	assert_true(billing_price_for_plan(PLANS, "enterprise", price, sizeof(price)));
	assert_string_equal(price, "price_e");
	assert_false(billing_price_for_plan(PLANS, "gold", price, sizeof(price)));
	assert_string_equal(price, "");
	assert_false(billing_price_for_plan(PLANS, "start", price, sizeof(price)));
	assert_false(billing_price_for_plan(PLANS, "", price, sizeof(price)));
	assert_false(billing_price_for_plan(NULL, "starter", price, sizeof(price)));
	assert_false(billing_price_for_plan("", "starter", price, sizeof(price)));
	assert_false(billing_price_for_plan(":starter", "starter", price, sizeof(price)));
	/* Too long for the buffer: not truncated into another price. */
	assert_false(billing_price_for_plan(PLANS, "starter", price, 4));
}

static void test_checkout_form(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	billing_checkout_form(&b, "price_p", 42, "",
			      "https://app.example/ok?s={CHECKOUT_SESSION_ID}",
			      "https://app.example/x y");
	/* form.c leaves brackets, ':' '/' '?' '{' '}' as they are (a form
	 * parser splits only on '&' and '='), as Stripe's own curl examples
	 * send them; '=', '&', '+', '%' and spaces are encoded. */
	assert_string_equal(b.data, "mode=subscription&line_items[0][price]=price_p"
				    "&line_items[0][quantity]=1&client_reference_id=42"
				    "&subscription_data[metadata][tenant_id]=42"
				    "&success_url=https://app.example/ok?s%3D{CHECKOUT_SESSION_ID}"
				    "&cancel_url=https://app.example/x%20y");
	buf_reset(&b);
	billing_checkout_form(&b, "price_s", 7, "cus_A&B", "u1", "u2");
	assert_non_null(strstr(b.data, "&customer=cus_A%26B&"));
	buf_cleanup(&b);
}

static void test_portal_form(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	billing_portal_form(&b, "cus_1", "https://app.example/account");
	assert_string_equal(b.data, "customer=cus_1&return_url=https://app.example/account");
	buf_reset(&b);
	billing_portal_form(&b, "cus_1", "");
	assert_string_equal(b.data, "customer=cus_1");
	buf_reset(&b);
	billing_portal_form(&b, "cus_1", NULL);
	assert_string_equal(b.data, "customer=cus_1");
	buf_cleanup(&b);
}

struct read_case {
	long status;
	const char *body;
	int rc;
	const char *url;  /* when rc == 0 */
	const char *want; /* a substring of the message when rc != 0 */
};

static const struct read_case read_cases[] = {
	{ 200, "{\"id\":\"cs_1\",\"object\":\"checkout.session\",\"url\":\"https://c.example/p\"}",
	  0, "https://c.example/p", NULL },
	{ 200, "{\"url\":\"https://b.example/s\"}", 0, "https://b.example/s", NULL },
	{ 200, "{\"id\":\"cs_1\"}", ERR_IO, NULL, "without a session url" },
	{ 200, "{\"url\":\"\"}", ERR_IO, NULL, "without a session url" },
	{ 200, "{\"url\":5}", ERR_IO, NULL, "without a session url" },
	{ 200, "not json", ERR_IO, NULL, "without a session url" },
	{ 200, "", ERR_IO, NULL, "without a session url" },
	{ 400,
	  "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"No such price: 'p'\","
	  "\"param\":\"line_items[0][price]\"}}",
	  ERR_INVALID, NULL, "HTTP 400: invalid_request_error: No such price: 'p'" },
	{ 401, "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Invalid API Key\"}}",
	  ERR_AUTH, NULL, "Invalid API Key" },
	{ 429, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"rate_limit\"}}", ERR_BUSY,
	  NULL, "HTTP 429: invalid_request_error: no message" },
	{ 500, "{\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}", ERR_IO, NULL,
	  "api_error: boom" },
	{ 502, "<html>bad gateway</html>", ERR_IO, NULL, "no error type" },
	{ 400, "{\"error\":\"flat\"}", ERR_INVALID, NULL, "no error type: no message" },
	{ 302, "{\"url\":\"https://c.example/p\"}", ERR_INVALID, NULL, "HTTP 302" },
};

static void test_session_read(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(read_cases) / sizeof(read_cases[0]); i++) {
		const struct read_case *rc = &read_cases[i];
		struct err e = { 0 };
		char id[64];
		char *url = (char *)"sentinel";
		int got = billing_session_read(rc->status, rc->body, strlen(rc->body), &url, id,
					       sizeof(id), &e);

		if (got != rc->rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, got, rc->rc, e.msg);
		if (rc->rc == 0) {
			assert_string_equal(url, rc->url);
			free(url);
		} else {
			assert_null(url);
			if (strstr(e.msg, rc->want) == NULL)
				fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, rc->want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_price_for_plan),
		cmocka_unit_test(test_checkout_form),
		cmocka_unit_test(test_portal_form),
		cmocka_unit_test(test_session_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
