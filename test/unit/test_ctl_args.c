/*
 * test_ctl_args.c - the pure parts of adsengctl (lib/admin): the shared
 * option parser, TIME / id / event-list / state parsers, secret files, the
 * text table, and the exit codes of usage errors and --help, all without
 * a database (every case here fails or finishes before one is opened).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "admin/ctl.h"
#include "core/mem.h"
#include "testutil.h"

#define US 1000000LL
/* 2026-11-27T10:00:00Z */
#define NOW_US (1795773600LL * US)

/* ---- option parser ---------------------------------------------------------- */

static const struct ctl_optspec spec[] = {
	{ "tenant", CTL_OPT_VALUE, "T", true, "tenant" },
	{ "dry-run", CTL_OPT_FLAG, NULL, false, "flag" },
	{ "id", CTL_OPT_LIST, "ID", false, "ids" },
	{ NULL, 0, NULL, false, NULL },
};

static int parse(struct ctl_args *a, struct err *e, int argc, ...)
{
	char *argv[16];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	return ctl_args_parse(a, spec, argc, argv, e);
}

static void test_args_values(void **state)
{
	struct ctl_args a;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(parse(&a, &e, 5, "pos1", "--tenant", "acme", "--dry-run", "pos2"), 0);
	assert_string_equal(ctl_arg(&a, "tenant"), "acme");
	assert_true(ctl_flag(&a, "dry-run"));
	assert_int_equal(a.n_pos, 2);
	assert_string_equal(a.pos[0], "pos1");
	assert_string_equal(a.pos[1], "pos2");
	assert_false(a.help);
	assert_false(a.json);

	assert_int_equal(parse(&a, &e, 3, "--tenant=a=b", "--json", "-h"), 0);
	assert_string_equal(ctl_arg(&a, "tenant"), "a=b");
	assert_false(ctl_flag(&a, "dry-run"));
	assert_null(ctl_arg(&a, "id"));
	assert_true(a.json);
	assert_true(a.help);

	/* After "--" everything is positional; "-" alone is positional. */
	assert_int_equal(parse(&a, &e, 4, "-", "--", "--tenant", "-h"), 0);
	assert_int_equal(a.n_pos, 3);
	assert_string_equal(a.pos[1], "--tenant");
	assert_false(a.help);
	/* A value may start with a dash. */
	assert_int_equal(parse(&a, &e, 2, "--tenant", "--weird"), 0);
	assert_string_equal(ctl_arg(&a, "tenant"), "--weird");
}

static void test_args_errors(void **state)
{
	struct ctl_args a;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(parse(&a, &e, 1, "--nope"), ERR_INVALID);
	assert_string_equal(e.msg, "unrecognized option \"--nope\"");
	assert_int_equal(parse(&a, &e, 1, "--nope=3"), ERR_INVALID);
	assert_string_equal(e.msg, "unrecognized option \"--nope\"");
	assert_int_equal(parse(&a, &e, 1, "-x"), ERR_INVALID);
	assert_int_equal(parse(&a, &e, 1, "--tenant"), ERR_INVALID);
	assert_string_equal(e.msg, "option --tenant requires a value");
	assert_int_equal(parse(&a, &e, 4, "--tenant", "a", "--tenant", "b"), ERR_INVALID);
	assert_string_equal(e.msg, "option --tenant given twice");
	assert_int_equal(parse(&a, &e, 1, "--dry-run=yes"), ERR_INVALID);
	assert_string_equal(e.msg, "option --dry-run takes no value");
	/* A prefix is not an abbreviation. */
	assert_int_equal(parse(&a, &e, 2, "--ten", "x"), ERR_INVALID);
}

static void test_args_list(void **state)
{
	struct ctl_args a;
	struct err e = { 0 };
	const char *out[8];
	char buf[128];

	(void)state;
	assert_int_equal(parse(&a, &e, 5, "--id", "1,2", "--id=3", "--id", " 4 ,, 5 "), 0);
	assert_int_equal(ctl_arg_list(&a, "id", buf, sizeof(buf), out, 8), 5);
	assert_string_equal(out[0], "1");
	assert_string_equal(out[1], "2");
	assert_string_equal(out[2], "3");
	assert_string_equal(out[3], "4");
	assert_string_equal(out[4], "5");
	/* More than max, or a buffer too small: -1. */
	assert_int_equal(ctl_arg_list(&a, "id", buf, sizeof(buf), out, 4), -1);
	assert_int_equal(ctl_arg_list(&a, "id", buf, 4, out, 8), -1);
	assert_int_equal(parse(&a, &e, 0), 0);
	assert_int_equal(ctl_arg_list(&a, "id", buf, sizeof(buf), out, 8), 0);
}

/* ---- value parsers ----------------------------------------------------------------- */

static void test_parse_time(void **state)
{
	static const struct {
		const char *in;
		int64_t want; /* microseconds; -1 = invalid */
	} cases[] = {
		{ "30m", NOW_US - 30 * 60 * US },
		{ "2h", NOW_US - 2 * 3600 * US },
		{ "7d", NOW_US - 7 * 86400 * US },
		{ "45s", NOW_US - 45 * US },
		{ "1w", NOW_US - 7 * 86400 * US },
		{ "2026-11-27T10:00:00Z", NOW_US },
		{ "2026-11-27T05:00:00-05:00", NOW_US },
		{ "2026-11-27T10:00:00.5Z", NOW_US + 500000 },
		{ "2026-11-27 10:00:00Z", NOW_US },
		{ "2026-11-27", NOW_US - 10 * 3600 * US },
		{ "", -1 },
		{ "m", -1 },
		{ "30", -1 },
		{ "30x", -1 },
		{ "-5m", -1 },
		{ "0m", -1 },
		{ "5 m", -1 },
		{ "1.5h", -1 },
		{ "9999999999d", -1 },
		{ "2026-13-01T00:00:00Z", -1 },
		{ "2026-11-27T25:00:00Z", -1 },
		{ "yesterday", -1 },
	};
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = 0;
		int rc = ctl_parse_time(cases[i].in, NOW_US, &got, &e);

		if (cases[i].want == -1) {
			if (rc != ERR_INVALID)
				fail_msg("\"%s\" should be invalid", cases[i].in);
			assert_non_null(strstr(e.msg, "invalid time"));
		} else {
			if (rc != 0)
				fail_msg("\"%s\": %s", cases[i].in, e.msg);
			assert_int_equal(got, cases[i].want);
		}
	}
	assert_int_equal(ctl_parse_time(NULL, NOW_US, &(int64_t){ 0 }, &e), ERR_INVALID);
}

static void test_ref_kind(void **state)
{
	(void)state;
	assert_int_equal(ctl_ref_kind("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), CTL_REF_UUID);
	assert_int_equal(ctl_ref_kind("3F2504E0-4F89-41D3-9A0C-0305E82C3301"), CTL_REF_UUID);
	assert_int_equal(ctl_ref_kind("3f2504e04f8941d39a0c0305e82c3301"), CTL_REF_NAME);
	assert_int_equal(ctl_ref_kind("3f2504e0-4f89-41d3-9a0c-0305e82c330g"), CTL_REF_NAME);
	assert_int_equal(ctl_ref_kind("3f2504e0-4f89-41d3-9a0c-0305e82c33011"), CTL_REF_NAME);
	assert_int_equal(ctl_ref_kind("42"), CTL_REF_INT);
	assert_int_equal(ctl_ref_kind("007"), CTL_REF_INT);
	assert_int_equal(ctl_ref_kind("123456789012345678"), CTL_REF_INT);
	assert_int_equal(ctl_ref_kind("1234567890123456789"), CTL_REF_NAME); /* > bigint-safe */
	assert_int_equal(ctl_ref_kind("42a"), CTL_REF_NAME);
	assert_int_equal(ctl_ref_kind("-42"), CTL_REF_NAME);
	assert_int_equal(ctl_ref_kind("acme shop"), CTL_REF_NAME);
	assert_int_equal(ctl_ref_kind(""), CTL_REF_NAME);
}

static void test_parse_int64(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_int_equal(ctl_parse_int64("50", 1, 100, &v), 0);
	assert_int_equal(v, 50);
	assert_int_equal(ctl_parse_int64("9223372036854775807", 1, INT64_MAX, &v), 0);
	assert_int_equal(v, INT64_MAX);
	assert_int_equal(ctl_parse_int64("9223372036854775808", 1, INT64_MAX, &v), ERR_INVALID);
	assert_int_equal(ctl_parse_int64("0", 1, 100, &v), ERR_INVALID);
	assert_int_equal(ctl_parse_int64("101", 1, 100, &v), ERR_INVALID);
	assert_int_equal(ctl_parse_int64("", 1, 100, &v), ERR_INVALID);
	assert_int_equal(ctl_parse_int64(" 5", 1, 100, &v), ERR_INVALID);
	assert_int_equal(ctl_parse_int64("+5", 1, 100, &v), ERR_INVALID);
	assert_int_equal(ctl_parse_int64("5x", 1, 100, &v), ERR_INVALID);
	assert_int_equal(ctl_parse_int64(NULL, 1, 100, &v), ERR_INVALID);
}

static void test_parse_events(void **state)
{
	struct ctl_events ev;
	struct err e = { 0 };
	char many[40 * 4 + 1] = "", long_name[CTL_EVENT_MAX + 2];

	(void)state;
	assert_int_equal(ctl_parse_events("purchase,lead", &ev, &e), 0);
	assert_int_equal(ev.n, 2);
	assert_string_equal(ev.v[0], "purchase");
	assert_string_equal(ev.v[1], "lead");
	assert_int_equal(ctl_parse_events(" purchase , lead,purchase,,begin_checkout ", &ev, &e),
			 0);
	assert_int_equal(ev.n, 3);
	assert_string_equal(ev.v[2], "begin_checkout");

	assert_int_equal(ctl_parse_events("", &ev, &e), ERR_INVALID);
	assert_string_equal(e.msg, "the event list is empty");
	assert_int_equal(ctl_parse_events(" , ,", &ev, &e), ERR_INVALID);
	assert_int_equal(ctl_parse_events("Purchase", &ev, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "invalid event name \"Purchase\""));
	assert_int_equal(ctl_parse_events("purchase;drop table", &ev, &e), ERR_INVALID);
	assert_int_equal(ctl_parse_events("a-b", &ev, &e), ERR_INVALID);

	memset(long_name, 'a', CTL_EVENT_MAX);
	long_name[CTL_EVENT_MAX] = '\0';
	assert_int_equal(ctl_parse_events(long_name, &ev, &e), 0);
	long_name[CTL_EVENT_MAX] = 'a';
	long_name[CTL_EVENT_MAX + 1] = '\0';
	assert_int_equal(ctl_parse_events(long_name, &ev, &e), ERR_INVALID);

	for (int i = 0; i < CTL_MAX_EVENTS + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%se%d", i ? "," : "",
			 i);
	assert_int_equal(ctl_parse_events(many, &ev, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "too many events"));
}

static void test_replay_states(void **state)
{
	struct err e = { 0 };
	unsigned mask = 0;

	(void)state;
	assert_int_equal(ctl_parse_replay_state("failed", &mask, &e), 0);
	assert_int_equal(ctl_parse_replay_state("held", &mask, &e), 0);
	assert_int_equal(mask, CTL_STATE_FAILED | CTL_STATE_HELD);
	assert_int_equal(ctl_parse_replay_state("dead", &mask, &e), 0);
	assert_int_equal(mask, CTL_STATE_FAILED | CTL_STATE_HELD | CTL_STATE_DEAD);
	assert_int_equal(ctl_parse_replay_state("pending", &mask, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "never replayed"));
	assert_int_equal(ctl_parse_replay_state("delivered", &mask, &e), ERR_INVALID);
	assert_int_equal(ctl_parse_replay_state("in_flight", &mask, &e), ERR_INVALID);
	assert_int_equal(ctl_parse_replay_state("FAILED", &mask, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "unknown state"));

	assert_true(ctl_is_delivery_state("in_flight"));
	assert_true(ctl_is_delivery_state("held"));
	assert_false(ctl_is_delivery_state("done"));
}

static void test_format_age(void **state)
{
	static const struct {
		int64_t secs;
		const char *want;
	} cases[] = { { -1, "-" },	   { 0, "0s" },	       { 59, "59s" },
		      { 60, "1m0s" },	   { 3599, "59m59s" }, { 3600, "1h0m" },
		      { 86399, "23h59m" }, { 86400, "1d0h" },  { 90061, "1d1h" } };
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ctl_format_age(cases[i].secs, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
}

static void test_actor(void **state)
{
	(void)state;
	setenv("SUDO_USER", "alice", 1);
	setenv("USER", "root", 1);
	assert_string_equal(ctl_actor(), "alice");
	setenv("SUDO_USER", "", 1);
	assert_string_equal(ctl_actor(), "root");
	unsetenv("SUDO_USER");
	unsetenv("USER");
	assert_string_equal(ctl_actor(), "adsengctl");
}

/* ---- secret files -------------------------------------------------------------- */

static void test_secret_file(void **state)
{
	struct err e = { 0 };
	char *path, *s = NULL;
	size_t n = 0;

	(void)state;
	path = test_write_temp("s3cr3t value\n\n \t");
	assert_int_equal(secret_file_read(path, 64, &s, &n, &e), 0);
	assert_string_equal(s, "s3cr3t value");
	assert_int_equal(n, 12);
	sodium_free(s);
	free(path);

	path = test_write_temp(" \n\t\n");
	assert_int_equal(secret_file_read(path, 64, &s, &n, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "is empty"));
	free(path);

	path = test_write_temp("0123456789abcdefX");
	assert_int_equal(secret_file_read(path, 16, &s, &n, &e), ERR_TOOBIG);
	assert_null(strstr(e.msg, "0123")); /* never the content */
	assert_int_equal(secret_file_read(path, 17, &s, &n, &e), 0);
	assert_int_equal(n, 17);
	sodium_free(s);
	free(path);

	assert_int_equal(secret_file_read("/nonexistent/secret", 64, &s, &n, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "could not open file \"/nonexistent/secret\""));
}

/* ---- output ---------------------------------------------------------------------- */

static void test_table(void **state)
{
	static const struct ctl_col cols[] = {
		{ "id", "ID", 0 },	   { "name", "NAME", 8 }, { "ok", "OK", 0 },
		{ "events", "EVENTS", 0 }, { "err", "ERROR", 0 }, { NULL, NULL, 0 },
	};
	const char *json = "[{\"id\":1,\"name\":\"short\",\"ok\":true,\"events\":[\"a\",\"b\"],"
			   "\"err\":\"line1\\nline2\"},"
			   "{\"id\":12345,\"name\":\"much longer name\",\"ok\":false,"
			   "\"events\":null,\"err\":null}]";
	const char *want = "ID     NAME      OK   EVENTS  ERROR\n"
			   "1      short     yes  a,b     line1 line2\n"
			   "12345  much ...  no\n";
	cJSON *rows = cJSON_Parse(json);
	struct ctl c;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(rows);
	ctl_init(&c, out, stderr);
	ctl_print_table(&c, cols, rows);
	fclose(out);
	assert_string_equal(buf, want);
	free(buf);
	cJSON_Delete(rows);
}

static void test_value_text(void **state)
{
	cJSON *v = cJSON_Parse("{\"n\":1.5,\"big\":4294967296,\"o\":{\"a\":1},\"m\":[1,2]}");
	char *t;

	(void)state;
	t = ctl_value_text(cJSON_GetObjectItem(v, "n"));
	assert_string_equal(t, "1.5");
	free(t);
	t = ctl_value_text(cJSON_GetObjectItem(v, "big"));
	assert_string_equal(t, "4294967296");
	free(t);
	t = ctl_value_text(cJSON_GetObjectItem(v, "o"));
	assert_string_equal(t, "{\"a\":1}");
	free(t);
	t = ctl_value_text(cJSON_GetObjectItem(v, "m"));
	assert_string_equal(t, "[1,2]");
	free(t);
	t = ctl_value_text(NULL);
	assert_string_equal(t, "");
	free(t);
	cJSON_Delete(v);
}

/* ---- exit codes ------------------------------------------------------------------- */

struct run {
	int rc;
	char *out, *err;
};

/* Run ctl_dispatch on a NULL-terminated word list, capturing output. */
static struct run dispatch(const char *const *words)
{
	struct run r = { 0 };
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&r.out, &olen), *err = open_memstream(&r.err, &elen);
	char *argv[32];
	int argc = 0;
	struct ctl c;

	for (; words[argc]; argc++)
		argv[argc] = (char *)words[argc];
	ctl_init(&c, out, err);
	r.rc = ctl_dispatch(&c, argc, argv);
	ctl_cleanup(&c);
	fclose(out);
	fclose(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void test_usage_errors(void **state)
{
	const char *const *const cases[] = {
		(const char *const[]){ NULL },
		(const char *const[]){ "bogus", NULL },
		(const char *const[]){ "tenant", NULL },
		(const char *const[]){ "tenant", "bogus", NULL },
		(const char *const[]){ "tenant", "add", NULL },
		(const char *const[]){ "tenant", "add", "a", "b", NULL },
		(const char *const[]){ "tenant", "add", "x", "--plan", "gold", NULL },
		(const char *const[]){ "tenant", "add", "x", "--quota", "-1", NULL },
		(const char *const[]){ "tenant", "add", "x", "--bogus", NULL },
		(const char *const[]){ "tenant", "add", "bad\nname", NULL },
		(const char *const[]){ "tenant", "list", "extra", NULL },
		(const char *const[]){ "source", "add", "--tenant", "t", NULL },
		(const char *const[]){ "source", "add", "--tenant", "t", "--kind", "nope", "--name",
				       "n", "--secret-file", "/nonexistent", NULL },
		(const char *const[]){ "source", "disable", NULL },
		(const char *const[]){ "destination", "add", "--tenant", "t", "--kind", "nope",
				       "--name", "n", "--credentials-file", "/nonexistent", NULL },
		(const char *const[]){ "destination", "pause", NULL },
		(const char *const[]){ "route", "add", "s", NULL },
		(const char *const[]){ "route", "add", "s", "d", "--events", "Bad!", NULL },
		(const char *const[]){ "deliveries", "list", "--limit", "0", NULL },
		(const char *const[]){ "deliveries", "list", "--state", "lost", NULL },
		(const char *const[]){ "deliveries", "list", "--since", "soon", NULL },
		(const char *const[]){ "deliveries", "show", NULL },
		(const char *const[]){ "deliveries", "show", "abc", NULL },
		(const char *const[]){ "replay", "--state", "pending", NULL },
		(const char *const[]){ "replay", "--id", "x", NULL },
		(const char *const[]){ "replay", "0", NULL },
		(const char *const[]){ "replay", "--until", "later", NULL },
		(const char *const[]){ "config", "show", "--json", NULL },
		(const char *const[]){ "config", NULL },
		(const char *const[]){ "keygen", NULL },
		(const char *const[]){ "migrate", "now", NULL },
		(const char *const[]){ "reprocess", NULL },
		(const char *const[]){ "reprocess", "7", NULL },
		(const char *const[]){ "reprocess", "--raw-event", "x", NULL },
		(const char *const[]){ "reprocess", "--raw-event", "0", NULL },
		(const char *const[]){ "reprocess", "--raw-event", "1", "--source", "s", "--since",
				       "1h", NULL },
		(const char *const[]){ "reprocess", "--raw-event", "1", "--since", "1h", NULL },
		(const char *const[]){ "reprocess", "--source", "s", NULL },
		(const char *const[]){ "reprocess", "--source", "s", "--since", "soon", NULL },
		(const char *const[]){ "reprocess", "--source", "s", "--since", "1h", "--until",
				       "x", NULL },
		(const char *const[]){ "reprocess", "--since", "1h", NULL },
		(const char *const[]){ "reprocess", "--state", "error", NULL },
		(const char *const[]){ "deliveries", "list", "--state", "skip", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r = dispatch(cases[i]);

		if (r.rc != CTL_EXIT_USAGE)
			fail_msg("case %zu (%s ...): exit %d, stderr: %s", i,
				 cases[i][0] ? cases[i][0] : "", r.rc, r.err);
		assert_true(str_has_prefix(r.err, "adsengctl: "));
		assert_non_null(strstr(r.err, "usage: adsengctl"));
		assert_string_equal(r.out, "");
		run_free(&r);
	}
}

/* reprocess: --raw-event ID... or --source S --since T, never both; the
 * message says which rule was broken, exit 2, before any database. */
static void test_reprocess_args(void **state)
{
	static const struct {
		const char *words[12];
		const char *msg;
	} cases[] = {
		{ { "reprocess", NULL }, "give --raw-event ID or --source S --since TIME" },
		{ { "reprocess", "--dry-run", NULL }, "give --raw-event ID or --source" },
		{ { "reprocess", "--raw-event", "5", "--source", "shop", "--since", "1d", NULL },
		  "either --raw-event or --source, not both" },
		{ { "reprocess", "--raw-event", "5", "--until", "1d", NULL },
		  "--since and --until go with --source" },
		{ { "reprocess", "--source", "shop", NULL }, "--source needs --since TIME" },
		{ { "reprocess", "--source", "shop", "--until", "1h", NULL },
		  "--source needs --since TIME" },
		{ { "reprocess", "--raw-event", "5,abc", NULL }, "invalid raw event id \"abc\"" },
		{ { "reprocess", "--raw-event", "-3", NULL }, "invalid raw event id \"-3\"" },
		{ { "reprocess", "--source", "shop", "--since", "yesterday", NULL }, "--since: " },
		{ { "reprocess", "--raw-event", "1", "--raw-event", "2", "extra", NULL },
		  "unexpected argument \"extra\"" },
	};
	struct run r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = dispatch(cases[i].words);
		if (r.rc != CTL_EXIT_USAGE || strstr(r.err, cases[i].msg) == NULL)
			fail_msg("case %zu: exit %d, stderr: %s", i, r.rc, r.err);
		assert_non_null(strstr(r.err, "usage: adsengctl reprocess"));
		assert_string_equal(r.out, "");
		run_free(&r);
	}
	r = dispatch((const char *const[]){ "reprocess", "--help", NULL });
	assert_int_equal(r.rc, CTL_EXIT_OK);
	assert_non_null(strstr(r.out, "--raw-event ID"));
	assert_non_null(strstr(r.out, "--dry-run"));
	assert_non_null(strstr(r.out, "--json"));
	run_free(&r);
}

/* --help on the top level, every group and every command: usage, exit 0. */
static void test_help(void **state)
{
	const struct ctl_cmd *tables[] = { ctl_misc_cmds, ctl_catalog_cmds, ctl_deliveries_cmds,
					   ctl_raw_cmds };
	struct run r;

	(void)state;
	r = dispatch((const char *const[]){ "--help", NULL });
	assert_int_equal(r.rc, 0);
	assert_true(str_has_prefix(r.out, "usage: adsengctl [-c FILE] [--json] COMMAND"));
	run_free(&r);
	r = dispatch((const char *const[]){ "destination", "-h", NULL });
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "destination pause ID"));
	run_free(&r);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct ctl_cmd *cmd = tables[t]; cmd->group; cmd++) {
			const char *words[4] = { cmd->group, cmd->name ? cmd->name : "--help",
						 cmd->name ? "--help" : NULL, NULL };
			char want[128];

			snprintf(want, sizeof(want), "usage: adsengctl %s%s%s", cmd->group,
				 cmd->name ? " " : "", cmd->name ? cmd->name : "");
			r = dispatch(words);
			assert_int_equal(r.rc, 0);
			assert_true(str_has_prefix(r.out, want));
			assert_non_null(strstr(r.out, "-h, --help"));
			assert_string_equal(r.err, "");
			run_free(&r);
		}
	}
	/* --help wins over missing arguments and is accepted anywhere. */
	r = dispatch((const char *const[]){ "source", "add", "--tenant", "x", "-h", NULL });
	assert_int_equal(r.rc, 0);
	run_free(&r);
}

/* ctl_parse_global on a NULL-terminated word list (argv[0] included). */
static int global(struct ctl *c, int *next, const char *const *words)
{
	char *argv[16];
	int argc = 0;

	for (; words[argc]; argc++)
		argv[argc] = (char *)words[argc];
	return ctl_parse_global(c, argc, argv, next);
}

static void test_global_options(void **state)
{
	struct ctl c;
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&obuf, &olen), *err = open_memstream(&ebuf, &elen);
	int next = 0;

	(void)state;
	ctl_init(&c, out, err);
	assert_int_equal(global(&c, &next,
				(const char *const[]){ "adsengctl", "-c", "/x.conf", "--json",
						       "tenant", "list", NULL }),
			 -1);
	assert_int_equal(next, 4);
	assert_string_equal(c.config_path, "/x.conf");
	assert_true(c.json);
	assert_int_equal(global(&c, &next,
				(const char *const[]){ "adsengctl", "--config=/y", "stats", NULL }),
			 -1);
	assert_string_equal(c.config_path, "/y");
	assert_int_equal(global(&c, &next, (const char *const[]){ "adsengctl", NULL }),
			 CTL_EXIT_USAGE);
	assert_int_equal(global(&c, &next, (const char *const[]){ "adsengctl", "-c", NULL }),
			 CTL_EXIT_USAGE);
	assert_int_equal(
		global(&c, &next, (const char *const[]){ "adsengctl", "--bogus", "stats", NULL }),
		CTL_EXIT_USAGE);
	assert_int_equal(global(&c, &next, (const char *const[]){ "adsengctl", "--help", NULL }),
			 CTL_EXIT_OK);
	assert_int_equal(global(&c, &next, (const char *const[]){ "adsengctl", "--version", NULL }),
			 CTL_EXIT_OK);
	ctl_cleanup(&c);
	fclose(out);
	fclose(err);
	assert_non_null(strstr(ebuf, "unrecognized option \"--bogus\""));
	assert_non_null(strstr(obuf, "Commands:"));
	free(obuf);
	free(ebuf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_values),    cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_args_list),      cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_ref_kind),       cmocka_unit_test(test_parse_int64),
		cmocka_unit_test(test_parse_events),   cmocka_unit_test(test_replay_states),
		cmocka_unit_test(test_format_age),     cmocka_unit_test(test_actor),
		cmocka_unit_test(test_secret_file),    cmocka_unit_test(test_table),
		cmocka_unit_test(test_value_text),     cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help),	       cmocka_unit_test(test_global_options),
		cmocka_unit_test(test_reprocess_args),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
