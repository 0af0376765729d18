/*
 * test_ctl_progress.c - the progress line of long-running CLI commands:
 * count, rate and ETA when the total is known, rate alone when not, and
 * nothing at all off a terminal or with --json.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "admin/ctl.h"
#include "admin/ctl_progress.h"

static void test_format(void **state)
{
	char line[160];

	(void)state;
	ctl_progress_format(line, sizeof(line), "members sent", 1000, 5000, 2000);
	assert_string_equal(line, "members sent: 1000/5000 (500/s, ETA 8s)");
	ctl_progress_format(line, sizeof(line), "orders examined", 300, 0, 1500);
	assert_string_equal(line, "orders examined: 300 (200/s)");
	/* Nothing done yet: no rate to divide by. */
	ctl_progress_format(line, sizeof(line), "members sent", 0, 10, 0);
	assert_string_equal(line, "members sent: 0/10");
}

/* Not a terminal (a file), or --json: nothing is written. */
static void test_quiet_off_a_terminal(void **state)
{
	FILE *f = tmpfile();
	struct ctl c;
	struct ctl_progress p;

	(void)state;
	assert_non_null(f);
	ctl_init(&c, stdout, f);
	ctl_progress_init(&p, &c, "x");
	assert_false(p.on);
	ctl_progress_update(&p, 5, 10);
	ctl_progress_end(&p);
	assert_int_equal(ftell(f), 0);
	c.json = true;
	ctl_progress_init(&p, &c, "x");
	assert_false(p.on);
	ctl_cleanup(&c);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_quiet_off_a_terminal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
