/*
 * test_uploader_util.c - uploader_parse_retry_after: delta-seconds and HTTP
 * dates (RFC 9110 §10.2.3) into seconds from a given now; -1 when absent or
 * unparseable.  No network: only the pure helper of net/uploader.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>

#include "net/uploader.h"

/* 1700000000 = Tue, 14 Nov 2023 22:13:20 GMT (date -u -d @1700000000). */
#define NOW 1700000000LL

struct retry_case {
	const char *in;
	long want;
};

static const struct retry_case cases[] = {
	/* delta-seconds */
	{ "120", 120 },
	{ "0", 0 },
	{ "5", 5 },
	{ " 5 ", 5 },
	{ "\t7\r\n", 7 },
	{ "007", 7 },
	{ "86400", 86400 },
	/* not a non-negative integer */
	{ "-1", -1 },
	{ "-0", -1 },
	{ "+5", -1 },
	{ "abc", -1 },
	{ "", -1 },
	{ "   ", -1 },
	{ "5s", -1 },
	{ "5 6", -1 },
	{ "1.5", -1 },
	{ "0x10", -1 },
	{ "12abc", -1 },
	/* HTTP dates: IMF-fixdate, RFC 850 and asctime forms */
	{ "Tue, 14 Nov 2023 22:13:50 GMT", 30 },
	{ "Tuesday, 14-Nov-23 22:13:50 GMT", 30 },
	{ "Tue Nov 14 22:13:50 2023", 30 },
	{ "Wed, 15 Nov 2023 22:13:20 GMT", 86400 },
	{ "  Tue, 14 Nov 2023 22:13:50 GMT", 30 },
	/* now and the past give 0, not a negative delay */
	{ "Tue, 14 Nov 2023 22:13:20 GMT", 0 },
	{ "Tue, 14 Nov 2023 22:12:20 GMT", 0 },
	{ "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
	/* not a date */
	{ "Tue, 14 Foo 2023 22:13:50 GMT", -1 },
	{ "soon", -1 },
};

static void test_table(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = uploader_parse_retry_after(cases[i].in, NOW);

		if (got != cases[i].want) {
			print_error("uploader_parse_retry_after(\"%s\"): %ld, want %ld\n",
				    cases[i].in, got, cases[i].want);
			failed++;
		}
	}
	if (failed)
		fail_msg("%d case(s) failed", failed);
}

static void test_null(void **state)
{
	(void)state;
	assert_int_equal(uploader_parse_retry_after(NULL, NOW), -1);
}

/* The result is relative to the now passed in, not the clock. */
static void test_relative_to_now(void **state)
{
	static const char date[] = "Tue, 14 Nov 2023 22:13:50 GMT";

	(void)state;
	assert_int_equal(uploader_parse_retry_after(date, NOW - 100), 130);
	assert_int_equal(uploader_parse_retry_after(date, NOW + 29), 1);
	assert_int_equal(uploader_parse_retry_after(date, NOW + 30), 0);
	assert_int_equal(uploader_parse_retry_after(date, NOW + 31), 0);
	assert_int_equal(uploader_parse_retry_after("120", 0), 120);
}

/*
 * A delta too large for a long is unparseable, not LONG_MAX: the caller
 * (stage_deliver.c) multiplies the result by 1000 to get milliseconds.
 */
static void test_overflow(void **state)
{
	static const char *const huge[] = { "99999999999999999999", "9223372036854775808",
					    "18446744073709551616" };

	(void)state;
	/* Anything over a day (including what does not fit a long) is capped
	 * at a day, so the caller's "* 1000" cannot overflow. */
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		long got = uploader_parse_retry_after(huge[i], NOW);

		if (got != 86400)
			fail_msg("uploader_parse_retry_after(\"%s\"): %ld, want 86400", huge[i],
				 got);
	}
	assert_int_equal(uploader_parse_retry_after("86401", NOW), 86400);
	assert_int_equal(uploader_parse_retry_after("86400", NOW), 86400);
	assert_int_equal(uploader_parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", NOW), 86400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_relative_to_now),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
