/*
 * test_upload.c - the life cycle of an outbound platform request
 * (core/upload.h): init, headers, cleanup back to empty.  Pure: no network.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_empty),
		cmocka_unit_test(test_headers_and_cleanup),
		cmocka_unit_test(test_max_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
