/*
 * test_svc_status.c - the STATUS= line: numbers in place, the capped
 * backlog marked, an unknown backlog and an unmeasured rate said so,
 * truncation safe.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/svc_status.h"

static void full_line(void **state)
{
	struct svc_counts c = { .known = true,
				.due = 12,
				.in_flight = 2,
				.oldest_due_s = 3,
				.breakers_open = 1,
				.breakers_half = 0 };
	char buf[256];

	(void)state;
	assert_string_equal(svc_status_format(buf, sizeof(buf), &c, 4.54),
			    "backlog 12 due (oldest 3s), 2 in flight; 4.5 deliveries/s; "
			    "breakers: 1 open, 0 half-open");
	assert_null(strchr(buf, '\n'));
}

static void capped_backlog_says_over(void **state)
{
	struct svc_counts c = { .known = true, .due = SVC_DUE_CAP, .oldest_due_s = 7200 };
	char buf[256];

	(void)state;
	svc_status_format(buf, sizeof(buf), &c, 0);
	assert_non_null(strstr(buf, "backlog over 100000 due (oldest 7200s)"));
	assert_non_null(strstr(buf, "0.0 deliveries/s"));
}

static void unknown_and_unmeasured(void **state)
{
	struct svc_counts c = { 0 };
	char buf[256];

	(void)state;
	assert_string_equal(svc_status_format(buf, sizeof(buf), &c, -1),
			    "backlog unknown (database not read yet); rate not measured yet");
	assert_string_equal(svc_status_format(buf, sizeof(buf), NULL, 2),
			    "backlog unknown (database not read yet); 2.0 deliveries/s");
}

static void truncates_safely(void **state)
{
	struct svc_counts c = { .known = true, .due = 1 };
	char buf[10];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	svc_status_format(buf, sizeof(buf), &c, 1);
	assert_int_equal(strlen(buf), 9);
	assert_string_equal(buf, "backlog 1");
	/* size 0: nothing written. */
	buf[0] = 'z';
	svc_status_format(buf, 0, &c, 1);
	assert_int_equal(buf[0], 'z');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_line),
		cmocka_unit_test(capped_backlog_says_over),
		cmocka_unit_test(unknown_and_unmeasured),
		cmocka_unit_test(truncates_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
