/*
 * test_upload.c - the life cycle of an outbound platform request
 * (core/upload.h): init (a POST), headers, cleanup back to empty, and the
 * checks the uploader applies on submit.  Pure: no network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/upload.h"

static void test_init_is_empty(void **state)
{
	struct upload_req r;

	(void)state;
	memset(&r, 0xAB, sizeof(r));
	upload_req_init(&r);
	assert_null(r.url);
	assert_null(r.log_url);
	assert_int_equal(r.n_headers, 0);
	assert_int_equal(r.body.len, 0);
	assert_int_equal(r.timeout_ms, 0);
	assert_int_equal(r.method, UPLOAD_POST);
}

static void test_headers_and_cleanup(void **state)
{
	struct upload_req r;

	(void)state;
	upload_req_init(&r);
	r.url = strdup("https://example.test/x?access_token=secret");
	r.log_url = strdup("https://example.test/x");
	upload_req_add_header(&r, "Content-Type: %s", "application/json");
	upload_req_add_header(&r, "Authorization: Bearer %s", "tok");
	buf_puts(&r.body, "{\"a\":1}");
	r.timeout_ms = 500;
	assert_int_equal(r.n_headers, 2);
	assert_string_equal(r.headers[0], "Content-Type: application/json");
	assert_string_equal(r.headers[1], "Authorization: Bearer tok");
	upload_req_cleanup(&r);
	/* Back to what init leaves; a second cleanup is harmless. */
	assert_null(r.url);
	assert_null(r.log_url);
	assert_int_equal(r.n_headers, 0);
	assert_null(r.body.data);
	assert_int_equal(r.timeout_ms, 0);
	upload_req_cleanup(&r);
}

static void test_max_headers(void **state)
{
	struct upload_req r;
	char want[32];

	(void)state;
	upload_req_init(&r);
	for (int i = 0; i < UPLOAD_MAX_HEADERS; i++)
		upload_req_add_header(&r, "X-N%d: %d", i, i);
	assert_int_equal(r.n_headers, UPLOAD_MAX_HEADERS);
	snprintf(want, sizeof(want), "X-N%d: %d", UPLOAD_MAX_HEADERS - 1, UPLOAD_MAX_HEADERS - 1);
	assert_string_equal(r.headers[UPLOAD_MAX_HEADERS - 1], want);
	upload_req_cleanup(&r);
}

static void test_method_name(void **state)
{
	(void)state;
	assert_string_equal(upload_method_name(UPLOAD_POST), "POST");
	assert_string_equal(upload_method_name(UPLOAD_GET), "GET");
	assert_string_equal(upload_method_name((enum upload_method)42), "unknown");
}

struct check_case {
	const char *url;
	enum upload_method method;
	const char *body;
	int rc;
	const char *msg; /* part of the message when rc != 0 */
};

static const struct check_case check_cases[] = {
	{ "https://p.test/v1/events", UPLOAD_POST, "{}", 0, NULL },
	{ "https://p.test/v1/events", UPLOAD_POST, NULL, 0, NULL }, /* empty POST */
	{ "https://p.test/v1/status?id=1", UPLOAD_GET, NULL, 0, NULL },
	{ "https://p.test/v1/status?id=1", UPLOAD_GET, "x", ERR_INVALID, "GET" },
	{ NULL, UPLOAD_POST, "{}", ERR_INVALID, "no URL" },
	{ "", UPLOAD_GET, NULL, ERR_INVALID, "no URL" },
	{ "https://p.test/", (enum upload_method)7, NULL, ERR_INVALID, "unknown method" },
};

static void test_check(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		const struct check_case *c = &check_cases[i];
		struct upload_req r;
		struct err e = { 0 };
		int rc;

		upload_req_init(&r);
		r.url = c->url ? strdup(c->url) : NULL;
		r.method = c->method;
		if (c->body)
			buf_puts(&r.body, c->body);
		rc = upload_req_check(&r, &e);
		if (rc != c->rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, c->rc, e.msg);
		if (c->msg && strstr(e.msg, c->msg) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, e.msg, c->msg);
		upload_req_cleanup(&r);
		assert_int_equal(r.method, UPLOAD_POST); /* cleanup leaves a POST */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_empty), cmocka_unit_test(test_headers_and_cleanup),
		cmocka_unit_test(test_max_headers),   cmocka_unit_test(test_method_name),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
