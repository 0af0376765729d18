/*
 * test_quota.c - plan quotas: the UTC calendar month of a unix second at
 * its edges (first and last second of a month, Dec -> Jan, leap and
 * common Februaries, before 1970), the [plans] quotas parser (good and bad
 * items), the plan lookup (unlisted = unlimited) and the arrays stage 1
 * passes to SQL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/quota.h"

struct month_case {
	int64_t t;
	const char *month;
	int64_t start, end;
};

/* Values checked with `date -u -d @T` and `date -u -d 2026-12-01 +%s`. */
static const struct month_case month_cases[] = {
	{ 0, "1970-01-01", 0, 2678400 },
	{ 1796083199, "2026-11-01", 1793491200, 1796083200 }, /* 2026-11-30T23:59:59Z */
	{ 1796083200, "2026-12-01", 1796083200, 1798761600 }, /* 2026-12-01T00:00:00Z */
	{ 1798761599, "2026-12-01", 1796083200, 1798761600 }, /* 2026-12-31T23:59:59Z */
	{ 1798761600, "2027-01-01", 1798761600, 1801440000 }, /* 2027-01-01T00:00:00Z */
	{ 1709251199, "2024-02-01", 1706745600, 1709251200 }, /* 2024-02-29T23:59:59Z (leap) */
	{ 1709251200, "2024-03-01", 1709251200, 1711929600 },
	{ 1677628799, "2023-02-01", 1675209600, 1677628800 }, /* 2023-02-28T23:59:59Z */
	{ 951868800, "2000-03-01", 951868800, 954547200 },    /* 2000 is a leap year */
	{ 951782400, "2000-02-01", 949363200, 951868800 },    /* 2000-02-29T00:00:00Z */
	{ -1, "1969-12-01", -2678400, 0 },		      /* 1969-12-31T23:59:59Z */
};

static void test_month_edges(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(month_cases) / sizeof(month_cases[0]); i++) {
		const struct month_case *mc = &month_cases[i];
		char out[QUOTA_MONTH_TEXT];
		int64_t s = 0, e = 0;

		quota_month_of(mc->t, &s, &e, out);
		if (strcmp(out, mc->month) != 0 || s != mc->start || e != mc->end)
			fail_msg("t=%lld: got %s [%lld, %lld), want %s [%lld, %lld)",
				 (long long)mc->t, out, (long long)s, (long long)e, mc->month,
				 (long long)mc->start, (long long)mc->end);
		assert_true(s <= mc->t && mc->t < e);
	}
}

/* Every second of a span lies in [start, end) of its month, and months
 * tile the line: a month's end is the next month's start. */
static void test_months_tile(void **state)
{
	char out[QUOTA_MONTH_TEXT], prev_out[QUOTA_MONTH_TEXT] = "";
	int64_t s, e, prev_end = 0;

	(void)state;
	for (int64_t t = 1672531200; t < 1672531200 + 3LL * 366 * 86400; t += 3 * 3600) {
		quota_month_of(t, &s, &e, out);
		assert_true(s <= t && t < e);
		if (strcmp(out, prev_out) != 0) {
			if (prev_end != 0)
				assert_int_equal(s, prev_end);
			strcpy(prev_out, out);
		}
		prev_end = e;
	}
}

static void test_parse_good(void **state)
{
	struct plan_quotas q;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(quota_parse("starter:1000, professional : 50000,enterprise:0", &q, &e), 0);
	assert_int_equal(q.n, 3);
	assert_int_equal(quota_for_plan(&q, "starter"), 1000);
	assert_int_equal(quota_for_plan(&q, "professional"), 50000);
	assert_int_equal(quota_for_plan(&q, "enterprise"), 0);
	assert_int_equal(quota_parse("", &q, &e), 0);
	assert_int_equal(q.n, 0);
	assert_int_equal(quota_for_plan(&q, "starter"), 0);
	assert_int_equal(quota_parse("  ", &q, &e), 0);
	assert_int_equal(quota_parse(NULL, &q, &e), 0);
	assert_int_equal(quota_parse("enterprise:0", &q, &e), 0);
	/* Unlisted plans are unlimited. */
	assert_int_equal(quota_parse("starter:5", &q, &e), 0);
	assert_int_equal(quota_for_plan(&q, "professional"), 0);
	assert_int_equal(quota_for_plan(&q, NULL), 0);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"starter",
		"starter:",
		"starter:x",
		"starter:-1",
		"starter:1.5",
		"gold:10",
		"starter:1,starter:2",
		":5",
		"starter:1,",
		"starter:1 2",
		"starter:99999999999999999999",
		"starter:1099511627777",
	};
	struct plan_quotas q;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err e = { 0 };

		if (quota_parse(bad[i], &q, &e) != ERR_CONFIG)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_non_null(strstr(e.msg, "[plans] quotas"));
		assert_int_equal(q.n, 0);
	}
}

static void test_sql_arrays(void **state)
{
	struct plan_quotas q;
	struct err e = { 0 };
	char plans[256], limits[256];

	(void)state;
	assert_int_equal(quota_parse("starter:10, enterprise:0, professional:20", &q, &e), 0);
	quota_sql_arrays(&q, plans, limits, sizeof(plans));
	assert_string_equal(plans, "{starter,professional}");
	assert_string_equal(limits, "{10,20}");
	quota_sql_arrays(NULL, plans, limits, sizeof(plans));
	assert_string_equal(plans, "{}");
	assert_string_equal(limits, "{}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_month_edges), cmocka_unit_test(test_months_tile),
		cmocka_unit_test(test_parse_good),  cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_sql_arrays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
