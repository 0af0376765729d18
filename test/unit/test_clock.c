/*
 * test_clock.c - ISO-8601 parsing and UTC formatting.  Expected epoch
 * values come from `date -u -d … +%s`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "testutil.h"

#define T_2026 1795734251000000LL /* 2026-11-26T23:04:11Z */

struct parse_case {
	const char *in;
	int rc;
	int64_t want_us;
};

static const struct parse_case parse_cases[] = {
	/* offsets */
	{ "2026-11-26T18:04:11-05:00", 0, T_2026 },
	{ "2026-11-27T04:34:11+05:30", 0, T_2026 },
	{ "2026-11-27T04:34:11+0530", 0, T_2026 },
	{ "2026-11-26T23:04:11+00:00", 0, T_2026 },
	{ "2026-11-26T23:04:11-00:00", 0, T_2026 },
	{ "2026-11-26T12:04:11-11:00", 0, T_2026 },
	{ "2026-11-27T12:49:11+13:45", 0, T_2026 },
	/* Z, either case, and 't' */
	{ "2026-11-26T23:04:11Z", 0, T_2026 },
	{ "2026-11-26T23:04:11z", 0, T_2026 },
	{ "2026-11-26t23:04:11Z", 0, T_2026 },
	/* no offset = UTC (WooCommerce *_gmt), space separator */
	{ "2026-11-26T23:04:11", 0, T_2026 },
	{ "2026-11-26 23:04:11", 0, T_2026 },
	/* fractions */
	{ "2026-11-26T23:04:11.5Z", 0, T_2026 + 500000 },
	{ "2026-11-26T23:04:11,25Z", 0, T_2026 + 250000 },
	{ "2026-11-26T23:04:11.000001Z", 0, T_2026 + 1 },
	{ "2026-11-26T23:04:11.123456789Z", 0, T_2026 + 123456 },
	{ "2026-11-26T18:04:11.75-05:00", 0, T_2026 + 750000 },
	/* calendar edges */
	{ "2024-02-29T00:00:00Z", 0, 1709164800000000LL },
	{ "2000-02-29T00:00:00Z", 0, 951782400000000LL },
	{ "2000-03-01T00:00:00Z", 0, 951868800000000LL },
	{ "1970-01-01T00:00:00Z", 0, 0 },
	{ "1969-12-31T23:59:59Z", 0, -1000000 },
	{ "9999-12-31T23:59:59Z", 0, 253402300799000000LL },
	{ "0001-01-01T00:00:00Z", 0, -62135596800000000LL },
	{ "2026-11-26T23:59:59-01:00", 0, 1795737600000000LL + 3599000000LL },
	/* invalid dates */
	{ "2026-02-29T00:00:00Z", ERR_INVALID, 0 },
	{ "1900-02-29T00:00:00Z", ERR_INVALID, 0 },
	{ "2026-04-31T00:00:00Z", ERR_INVALID, 0 },
	{ "2026-13-01T00:00:00Z", ERR_INVALID, 0 },
	{ "2026-00-10T00:00:00Z", ERR_INVALID, 0 },
	{ "2026-01-00T00:00:00Z", ERR_INVALID, 0 },
	{ "2026-11-26T24:00:00Z", ERR_INVALID, 0 },
	{ "2026-11-26T23:60:00Z", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:61Z", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11+24:00", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11+05:60", ERR_INVALID, 0 },
	/* malformed and trailing garbage */
	{ "", ERR_INVALID, 0 },
	{ "2026-11-26", ERR_INVALID, 0 },
	{ "2026-11-26T23:04", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11Zjunk", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11 ", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11.", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11.Z", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11+05", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11+5:00", ERR_INVALID, 0 },
	{ "2026-11-26T23:04:11-05:00:00", ERR_INVALID, 0 },
	{ "2026/11/26T23:04:11Z", ERR_INVALID, 0 },
	{ "26-11-26T23:04:11Z", ERR_INVALID, 0 },
	{ "2026-11-26X23:04:11Z", ERR_INVALID, 0 },
	{ " 2026-11-26T23:04:11Z", ERR_INVALID, 0 },
	{ "2026-1-26T23:04:11Z", ERR_INVALID, 0 },
	{ "+2026-11-26T23:04:11Z", ERR_INVALID, 0 },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *t = &parse_cases[i];
		struct err e = { 0 };
		int64_t us = 42;
		int rc = clock_parse_iso8601(t->in, &us, &e);

		if (rc != t->rc)
			fail_msg("\"%s\": rc %d, want %d (%s)", t->in, rc, t->rc, e.msg);
		if (rc == 0 && us != t->want_us)
			fail_msg("\"%s\": %lld, want %lld", t->in, (long long)us,
				 (long long)t->want_us);
		if (rc != 0) {
			assert_int_equal(us, 42); /* untouched on error */
			assert_non_null(strstr(e.msg, "invalid timestamp"));
		}
	}
}

static void test_parse_null(void **state)
{
	struct err e = { 0 };
	int64_t us = 0;

	(void)state;
	assert_int_equal(clock_parse_iso8601(NULL, &us, &e), ERR_INVALID);
	assert_int_equal(clock_parse_iso8601("garbage", &us, NULL), ERR_INVALID);
}

struct format_case {
	int64_t us;
	const char *want;
};

static const struct format_case format_cases[] = {
	{ 0, "1970-01-01T00:00:00Z" },
	{ T_2026, "2026-11-26T23:04:11Z" },
	{ T_2026 + 500000, "2026-11-26T23:04:11.500000Z" },
	{ T_2026 + 1, "2026-11-26T23:04:11.000001Z" },
	{ 1500000, "1970-01-01T00:00:01.500000Z" },
	{ -1, "1969-12-31T23:59:59.999999Z" },
	{ -1000000, "1969-12-31T23:59:59Z" },
	{ 951782400000000LL, "2000-02-29T00:00:00Z" },
	{ 253402300799000000LL, "9999-12-31T23:59:59Z" },
	{ -62135596800000000LL, "0001-01-01T00:00:00Z" },
};

static void test_format_table(void **state)
{
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		clock_format_utc(format_cases[i].us, out, sizeof(out));
		assert_string_equal(out, format_cases[i].want);
	}
	/* A short buffer truncates, never overflows. */
	clock_format_utc(T_2026, out, 5);
	assert_string_equal(out, "2026");
}

/* format → parse is the identity over the whole 4-digit-year range. */
static void test_round_trip(void **state)
{
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	const int64_t lo = -62135596800000000LL, span = 253402300799999999LL - lo;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		char buf[32];
		int64_t us, back = 0;
		struct err e;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		us = lo + (int64_t)(x % (uint64_t)span);
		if (i % 3 == 0)
			us -= us % 1000000; /* whole seconds too */
		clock_format_utc(us, buf, sizeof(buf));
		if (clock_parse_iso8601(buf, &back, &e) != 0 || back != us)
			fail_msg("%lld -> %s -> %lld (%s)", (long long)us, buf, (long long)back,
				 e.msg);
	}
}

static void test_clocks_move(void **state)
{
	int64_t a = clock_mono_us(), b;

	(void)state;
	b = clock_mono_us();
	assert_true(b >= a);
	assert_true(clock_mono_ms() >= a / 1000);
	/* After 2025-01-01 and before 2100. */
	assert_true(clock_wall_ms() > 1735689600000LL);
	assert_true(clock_wall_ms() < 4102444800000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),  cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_format_table), cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_clocks_move),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
