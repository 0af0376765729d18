/*
 * test_db.c - the pure parts of store/db.c: the session limits taken from
 * the config (statement_timeout capped by the lease) and the keyword/value
 * arrays a daemon session connects with (issue 5, defect 4); and which
 * SQLSTATEs mean "the data is bad" (the raw event ends 'error') and which
 * mean "try again later" (defect 2).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "store/db.h"

/* The value of key in p, or NULL (also checks the arrays end in NULL). */
static const char *param(const struct db_params *p, const char *key)
{
	const char *found = NULL;
	size_t i;

	for (i = 0; p->keys[i]; i++) {
		assert_true(i < DB_PARAMS_MAX);
		if (strcmp(p->keys[i], key) == 0)
			found = p->vals[i];
	}
	assert_null(p->vals[i]);
	return found;
}

static const struct db_session limits = {
	.statement_timeout_ms = 15000,
	.lock_timeout_ms = 5000,
	.tcp_user_timeout_ms = 30000,
	.keepalives_idle_ms = 15000,
	.keepalives_interval_ms = 5000,
	.keepalives_count = 3,
};

static void test_params_without_session(void **state)
{
	struct db_params p;

	(void)state;
	assert_int_equal(db_params_build(&p, "postgresql:///x", "adsengctl", NULL, NULL), 0);
	assert_string_equal(param(&p, "dbname"), "postgresql:///x");
	assert_string_equal(param(&p, "application_name"), "adsengctl");
	assert_string_equal(param(&p, "connect_timeout"), "5");
	/* adsengctl (migrations) gets no limits. */
	assert_null(param(&p, "options"));
	assert_null(param(&p, "keepalives"));
	assert_null(param(&p, "tcp_user_timeout"));
}

static void test_params_with_session(void **state)
{
	struct db_params p;

	(void)state;
	assert_int_equal(db_params_build(&p, "dbname=x", "adsengd-worker-0", &limits, NULL), 0);
	/* dbname first: expand_dbname expands it, the later keywords win. */
	assert_string_equal(p.keys[0], "dbname");
	assert_string_equal(param(&p, "application_name"), "adsengd-worker-0");
	assert_string_equal(param(&p, "options"),
			    "-c statement_timeout=15000 -c lock_timeout=5000");
	assert_string_equal(param(&p, "keepalives"), "1");
	assert_string_equal(param(&p, "keepalives_idle"), "15");
	assert_string_equal(param(&p, "keepalives_interval"), "5");
	assert_string_equal(param(&p, "keepalives_count"), "3");
	assert_string_equal(param(&p, "tcp_user_timeout"), "30000");
}

static void test_params_round_keepalives_up(void **state)
{
	struct db_session s = limits;
	struct db_params p;

	(void)state;
	s.keepalives_idle_ms = 1500;
	s.keepalives_interval_ms = 1;
	s.statement_timeout_ms = 0;
	s.lock_timeout_ms = 0;
	s.tcp_user_timeout_ms = 0;
	assert_int_equal(db_params_build(&p, "dbname=x", "a", &s, ""), 0);
	assert_string_equal(param(&p, "keepalives_idle"), "2");
	assert_string_equal(param(&p, "keepalives_interval"), "1");
	assert_string_equal(param(&p, "tcp_user_timeout"), "0");
	/* "" options: no leading blank. */
	assert_string_equal(param(&p, "options"), "-c statement_timeout=0 -c lock_timeout=0");
}

static void test_params_keep_url_options(void **state)
{
	struct db_params p;
	char big[1100];

	(void)state;
	assert_int_equal(db_params_build(&p, "dbname=x", "a", &limits,
					 "-c search_path=adseng -c statement_timeout=0"),
			 0);
	/* The url's switches stay; ours come after them, so ours win. */
	assert_string_equal(param(&p, "options"),
			    "-c search_path=adseng -c statement_timeout=0 "
			    "-c statement_timeout=15000 -c lock_timeout=5000");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(db_params_build(&p, "dbname=x", "a", &limits, big), ERR_INVALID);
}

static void test_url_options(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "postgresql:///adseng?host=/run/postgresql", NULL },
		{ "postgresql:///adseng?options=-c%20search_path%3Dx", "-c search_path=x" },
		{ "dbname=adseng options='-c geqo=off'", "-c geqo=off" },
		{ "not a = valid 'conninfo", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = db_url_options(cases[i].url);

		if (cases[i].want == NULL && got != NULL)
			fail_msg("%s: got \"%s\", want none", cases[i].url, got);
		if (cases[i].want && (got == NULL || strcmp(got, cases[i].want) != 0))
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].url, got ? got : "(null)",
				 cases[i].want);
		free(got);
	}
}

static void test_session_from_config(void **state)
{
	struct config *c = NULL;
	struct db_session s;
	struct err e = { 0 };

	(void)state;
	unsetenv("ADSENGD_DATABASE_STATEMENT_TIMEOUT");
	unsetenv("ADSENGD_WORKERS_LEASE");
	assert_int_equal(config_load(NULL, &c, &e), 0);
	db_session_from_config(&s, c);
	assert_int_equal(s.statement_timeout_ms, 15000);
	assert_int_equal(s.lock_timeout_ms, 5000);
	assert_int_equal(s.tcp_user_timeout_ms, 30000);
	assert_int_equal(s.keepalives_idle_ms, 15000);
	assert_int_equal(s.keepalives_interval_ms, 5000);
	assert_int_equal(s.keepalives_count, 3);
	config_unref(c);

	/* A short lease caps the statement timeout at half of it... */
	setenv("ADSENGD_WORKERS_LEASE", "4s", 1);
	setenv("ADSENGD_WORKERS_UPLOAD_TIMEOUT", "2s", 1);
	assert_int_equal(config_load(NULL, &c, &e), 0);
	db_session_from_config(&s, c);
	assert_int_equal(s.statement_timeout_ms, 2000);
	config_unref(c);
	/* ...and 0 means that cap, never "wait for ever". */
	setenv("ADSENGD_DATABASE_STATEMENT_TIMEOUT", "0", 1);
	assert_int_equal(config_load(NULL, &c, &e), 0);
	db_session_from_config(&s, c);
	assert_int_equal(s.statement_timeout_ms, 2000);
	config_unref(c);
	unsetenv("ADSENGD_DATABASE_STATEMENT_TIMEOUT");
	unsetenv("ADSENGD_WORKERS_LEASE");
	unsetenv("ADSENGD_WORKERS_UPLOAD_TIMEOUT");
}

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
		cmocka_unit_test(test_params_without_session),
		cmocka_unit_test(test_params_with_session),
		cmocka_unit_test(test_params_round_keepalives_up),
		cmocka_unit_test(test_params_keep_url_options),
		cmocka_unit_test(test_url_options),
		cmocka_unit_test(test_session_from_config),
		cmocka_unit_test(test_sqlstate_is_data_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
