/*
 * test_clickid.c - click ids from landing URLs and cart attributes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clickid.h"
#include "core/conversion.h"
#include "testutil.h"

#define SEEN 1732662000000LL

struct url_case {
	const char *name;
	const char *url;
	const char *base;
	int64_t seen_ms;
	int rc;
	const char *want[CLICK__COUNT]; /* NULL = must stay absent */
};

static const struct url_case url_cases[] = {
	{ "relative Shopify landing_site",
	  "/products/"
	  "linen-shirt?utm_source=google&utm_medium=cpc&gclid=Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz",
	  "https://shop.example",
	  SEEN,
	  0,
	  { [CLICK_GCLID] = "Cj0KCQiA4L67BhDUARIsADWrl7Gq2xYz" } },
	{ "relative without base",
	  "/p?gbraid=0AAAAAD-abc",
	  NULL,
	  SEEN,
	  0,
	  { [CLICK_GBRAID] = "0AAAAAD-abc" } },
	{ "relative with unusable base",
	  "/p?wbraid=CjgKEAiA",
	  "not a url at all",
	  SEEN,
	  0,
	  { [CLICK_WBRAID] = "CjgKEAiA" } },
	{ "query only",
	  "?ttclid=E.C.P.v3Qx9k2LmN",
	  "https://shop.example/products/x",
	  SEEN,
	  0,
	  { [CLICK_TTCLID] = "E.C.P.v3Qx9k2LmN" } },
	{ "absolute, fbclid keeps its case in fbc",
	  "https://shop.example/?fbclid=IwAR3xYz_AbC-dEf&gclid=abc",
	  NULL,
	  SEEN,
	  0,
	  { [CLICK_GCLID] = "abc",
	    [CLICK_FBCLID] = "IwAR3xYz_AbC-dEf",
	    [CLICK_FBC] = "fb.1.1732662000000.IwAR3xYz_AbC-dEf" } },
	{ "absolute URL ignores base",
	  "http://other.example:8080/a/b?gclid=G1#frag",
	  "https://shop.example",
	  SEEN,
	  0,
	  { [CLICK_GCLID] = "G1" } },
	{ "percent-encoded value decoded once",
	  "/?gclid=Cj0%2DKC%5FQ&ttclid=a%252Db",
	  "https://shop.example",
	  SEEN,
	  0,
	  { [CLICK_GCLID] = "Cj0-KC_Q", [CLICK_TTCLID] = "a%2Db" } },
	{ "percent-encoded name", "/?gcl%69d=N1", NULL, SEEN, 0, { [CLICK_GCLID] = "N1" } },
	{ "duplicate parameter: first wins",
	  "/?gclid=first&gclid=second",
	  NULL,
	  SEEN,
	  0,
	  { [CLICK_GCLID] = "first" } },
	{ "invalid first value: first valid wins",
	  "/?gclid=bad%20value&gclid=&gclid=good",
	  NULL,
	  SEEN,
	  0,
	  { [CLICK_GCLID] = "good" } },
	{ "plus is kept, not a space", "/?gclid=a+b", NULL, SEEN, 0, { [CLICK_GCLID] = "a+b" } },
	{ "decoded NUL or bad escape refused",
	  "/?gclid=a%00b&fbclid=x%zz&ttclid=t%4",
	  NULL,
	  SEEN,
	  0,
	  { 0 } },
	{ "name without value, empty pieces",
	  "/?gclid&&=x&gbraid=B&",
	  NULL,
	  SEEN,
	  0,
	  { [CLICK_GBRAID] = "B" } },
	{ "fragment is not the query", "/p#gclid=frag", NULL, SEEN, 0, { 0 } },
	{ "no query", "https://shop.example/products/x", NULL, SEEN, 0, { 0 } },
	{ "names are case-sensitive", "/?GCLID=upper&FbClId=x", NULL, SEEN, 0, { 0 } },
	{ "no seen time: no fbc", "/?fbclid=F1", NULL, 0, 0, { [CLICK_FBCLID] = "F1" } },
	{ "raw space in query tolerated",
	  "/p?q=a b&gclid=S1",
	  NULL,
	  SEEN,
	  0,
	  { [CLICK_GCLID] = "S1" } },
	{ "malformed: bad IPv6 host", "http://[::1/?gclid=x", NULL, SEEN, ERR_INVALID, { 0 } },
	{ "malformed: bad port", "http://h:99999999/?gclid=x", NULL, SEEN, ERR_INVALID, { 0 } },
	{ "malformed: control character", "/p?gclid=x\ny", NULL, SEEN, ERR_INVALID, { 0 } },
	{ "malformed: empty", "", NULL, SEEN, ERR_INVALID, { 0 } },
};

static void check_clicks(const struct conversion *c, const char *const want[CLICK__COUNT],
			 const char *what)
{
	for (int f = 0; f < CLICK__COUNT; f++) {
		const char *got = c->click[f];

		if (want[f] == NULL && got != NULL)
			fail_msg("%s: %s should be absent, got \"%s\"", what,
				 click_field_name((enum click_field)f), got);
		if (want[f] != NULL && (got == NULL || strcmp(got, want[f]) != 0))
			fail_msg("%s: %s = \"%s\", want \"%s\"", what,
				 click_field_name((enum click_field)f), got ? got : "(null)",
				 want[f]);
	}
}

static void test_url_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *t = &url_cases[i];
		struct conversion *c = conv_new();
		int rc = clickid_from_url(c, t->url, t->base, t->seen_ms);

		if (rc != t->rc)
			fail_msg("%s: rc %d, want %d", t->name, rc, t->rc);
		check_clicks(c, t->want, t->name);
		conv_free(c);
	}
}

static void test_url_keeps_existing(void **state)
{
	struct conversion *c = conv_new();

	(void)state;
	conv_set_click(c, CLICK_GCLID, "earlier");
	conv_set_click(c, CLICK_FBC, "fb.1.1.cookie");
	assert_int_equal(clickid_from_url(c, "/?gclid=later&fbclid=F2", NULL, SEEN), 0);
	assert_string_equal(c->click[CLICK_GCLID], "earlier");
	assert_string_equal(c->click[CLICK_FBCLID], "F2");
	/* An fbc already known (from the _fbc cookie) is not rebuilt. */
	assert_string_equal(c->click[CLICK_FBC], "fb.1.1.cookie");
	conv_free(c);
	/* An fbc is only built from the fbclid the conversion keeps. */
	c = conv_new();
	conv_set_click(c, CLICK_FBCLID, "Kept");
	assert_int_equal(clickid_from_url(c, "/?fbclid=Other", NULL, SEEN), 0);
	assert_string_equal(c->click[CLICK_FBCLID], "Kept");
	assert_null(c->click[CLICK_FBC]);
	conv_free(c);
}

static void test_url_bounds(void **state)
{
	struct conversion *c = conv_new();
	size_t n = 20000;
	char *url = malloc(n + 1);
	char value[600];

	(void)state;
	/* Over-long URLs are refused without being parsed. */
	memcpy(url, "/?gclid=", 8);
	memset(url + 8, 'a', n - 8);
	url[n] = '\0';
	assert_int_equal(clickid_from_url(c, url, NULL, SEEN), ERR_INVALID);
	assert_int_equal(clickid_from_url(c, NULL, NULL, SEEN), ERR_INVALID);
	assert_int_equal(clickid_from_url(NULL, "/?gclid=x", NULL, SEEN), ERR_INVALID);
	/* A value over 512 bytes is no click id. */
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	snprintf(url, n, "/?gclid=%s&gbraid=ok", value);
	assert_int_equal(clickid_from_url(c, url, NULL, SEEN), 0);
	assert_null(c->click[CLICK_GCLID]);
	assert_string_equal(c->click[CLICK_GBRAID], "ok");
	/* An fbclid whose fbc would exceed the bound gets no fbc. */
	value[500] = '\0';
	snprintf(url, n, "/?fbclid=%s", value);
	assert_int_equal(clickid_from_url(c, url, NULL, SEEN), 0);
	assert_non_null(c->click[CLICK_FBCLID]);
	assert_null(c->click[CLICK_FBC]);
	free(url);
	conv_free(c);
}

struct attr_case {
	const char *name;
	const char *value;
	enum click_field field;
	const char *want; /* NULL = nothing set */
};

static const struct attr_case attr_cases[] = {
	{ "_fbp", "fb.1.1732662000000.1098765432", CLICK_FBP, "fb.1.1732662000000.1098765432" },
	{ "fbp", "fb.1.1.2", CLICK_FBP, "fb.1.1.2" },
	{ "_fbc", "fb.1.1732662000000.IwAR", CLICK_FBC, "fb.1.1732662000000.IwAR" },
	{ "fbc", "fb.1.5.X", CLICK_FBC, "fb.1.5.X" },
	{ "_ttp", "2Qx_ttp", CLICK_TTP, "2Qx_ttp" },
	{ "ttp", "ttpvalue", CLICK_TTP, "ttpvalue" },
	{ "ttclid", "E.C.P.v3Qx9k2LmN", CLICK_TTCLID, "E.C.P.v3Qx9k2LmN" },
	{ "gclid", "Cj0Attr", CLICK_GCLID, "Cj0Attr" },
	{ "GCLID", "Cj0Upper", CLICK_GCLID, "Cj0Upper" },
	{ "gbraid", "GB", CLICK_GBRAID, "GB" },
	{ "wbraid", "WB", CLICK_WBRAID, "WB" },
	{ "_ga", "GA1.1.1234567890.1732662000", CLICK_GA_CLIENT_ID, "1234567890.1732662000" },
	{ "_ga", "GA1.2.99.88", CLICK_GA_CLIENT_ID, "99.88" },
	{ "ga_client_id", "1234.5678", CLICK_GA_CLIENT_ID, "1234.5678" },
	{ "_ga", "GAx.1.2.3", CLICK_GA_CLIENT_ID, "GAx.1.2.3" },
	{ "gclid", "  padded\t", CLICK_GCLID, "padded" },
	{ "gclid", "inner space", CLICK_GCLID, NULL },
	{ "gclid", "", CLICK_GCLID, NULL },
	{ "gclid", "caf\xc3\xa9", CLICK_GCLID, NULL },
	{ "utm_source", "google", CLICK_GCLID, NULL },
};

static void test_attribute_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(attr_cases) / sizeof(attr_cases[0]); i++) {
		const struct attr_case *t = &attr_cases[i];
		struct conversion *c = conv_new();
		const char *want[CLICK__COUNT] = { 0 };
		char what[128];

		want[t->field] = t->want;
		snprintf(what, sizeof(what), "attribute %s=\"%s\"", t->name, t->value);
		clickid_from_attribute(c, t->name, t->value, SEEN);
		check_clicks(c, want, what);
		conv_free(c);
	}
}

static void test_attribute_fbclid_and_order(void **state)
{
	struct conversion *c = conv_new();

	(void)state;
	clickid_from_attribute(c, "fbclid", "IwAR_MiXeD", SEEN);
	assert_string_equal(c->click[CLICK_FBCLID], "IwAR_MiXeD");
	assert_string_equal(c->click[CLICK_FBC], "fb.1.1732662000000.IwAR_MiXeD");
	/* First value wins; NULLs are ignored. */
	clickid_from_attribute(c, "fbclid", "second", SEEN);
	clickid_from_attribute(c, "_fbp", NULL, SEEN);
	clickid_from_attribute(c, NULL, "x", SEEN);
	clickid_from_attribute(NULL, "gclid", "x", SEEN);
	assert_string_equal(c->click[CLICK_FBCLID], "IwAR_MiXeD");
	assert_null(c->click[CLICK_FBP]);
	conv_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_table),
		cmocka_unit_test(test_url_keeps_existing),
		cmocka_unit_test(test_url_bounds),
		cmocka_unit_test(test_attribute_table),
		cmocka_unit_test(test_attribute_fbclid_and_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
