/*
 * test_db.c - the pure parts of lib/store/db.c: which SQLSTATEs mean "the
 * data is bad" (the raw event ends 'error') and which mean "try again
 * later" (the batch rolls back and stays queued).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "store/db.h"

static void test_sqlstate_is_data_error(void **state)
{
	static const struct {
		const char *sqlstate;
		bool data;
	} cases[] = {
		/* class 22: data exceptions */
		{ "22000", true }, /* data_exception */
		{ "22001", true }, /* string_data_right_truncation */
		{ "22003", true }, /* numeric_value_out_of_range */
		{ "22021", true }, /* character_not_in_repertoire (bad UTF-8) */
		{ "22P02", true }, /* invalid_text_representation (bad JSON) */
		{ "22023", true }, /* invalid_parameter_value */
		{ "2200N", true }, /* invalid_xml_content */
		/* class 23: integrity, except the conflicts of concurrent writers */
		{ "23000", true },  /* integrity_constraint_violation */
		{ "23502", true },  /* not_null_violation */
		{ "23503", true },  /* foreign_key_violation */
		{ "23514", true },  /* check_violation */
		{ "23505", false }, /* unique_violation: a concurrent insert */
		{ "23P01", false }, /* exclusion_violation */
		/* class 54: program limits (index row too large) */
		{ "54000", true },
		{ "54001", true }, /* statement_too_complex (nesting too deep) */
		/* transient: not the data's fault */
		{ "40P01", false }, /* deadlock_detected */
		{ "40001", false }, /* serialization_failure */
		{ "55P03", false }, /* lock_not_available (lock_timeout) */
		{ "57014", false }, /* query_canceled (statement_timeout) */
		{ "53100", false }, /* disk_full */
		{ "53200", false }, /* out_of_memory */
		{ "53300", false }, /* too_many_connections */
		{ "57P01", false }, /* admin_shutdown */
		{ "57P03", false }, /* cannot_connect_now */
		{ "08006", false }, /* connection_failure */
		{ "25P02", false }, /* in_failed_sql_transaction */
		{ "42P01", false }, /* undefined_table: our bug, not the event's */
		{ "42501", false }, /* insufficient_privilege */
		{ "XX000", false }, /* internal_error */
		{ "P0001", false }, /* raise_exception */
		/* malformed or absent */
		{ "", false },
		{ "22", false },
		{ "220000", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (db_sqlstate_is_data_error(cases[i].sqlstate) != cases[i].data)
			fail_msg("SQLSTATE \"%s\": want %s", cases[i].sqlstate,
				 cases[i].data ? "data error" : "transient");
	}
	assert_false(db_sqlstate_is_data_error(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlstate_is_data_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
