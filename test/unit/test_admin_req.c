/*
 * test_admin_req.c - the admin API's request parsing (http/admin_req.c):
 * path matching against the real route table ({params}, trailing slashes,
 * a known path with another method gives its Allow set), query strings
 * (limit bounds, filters only where the route takes them, RFC 3339
 * times), cursors (encode → decode round trip for each key shape, a
 * cursor of another list's shape refused) and bodies (objects only, no
 * NUL inside, size bound).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/admin_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define UUID1 "0b0f4a3e-2c1d-4e5f-8a9b-0c1d2e3f4a5b"
#define UUID2 "ffffffff-2c1d-4e5f-8a9b-0c1d2e3f4a5b"

static enum admin_match match(unsigned method, const char *rest, const struct admin_route **r,
			      char params[ADMIN_PARAMS][ADMIN_PARAM_MAX], unsigned *allow)
{
	size_t n;
	const struct admin_route *t = admin_routes(&n);

	return admin_route_match(t, n, method, rest, r, params, allow);
}

static void test_paths(void **state)
{
	char params[ADMIN_PARAMS][ADMIN_PARAM_MAX];
	const struct admin_route *r = NULL;
	unsigned allow;
	char text[64];

	(void)state;
	assert_int_equal(match(ADMIN_GET, "tenants", &r, params, &allow), ADMIN_MATCH_OK);
	assert_string_equal(r->path, "tenants");
	assert_int_equal(match(ADMIN_GET, "tenants/42", &r, params, &allow), ADMIN_MATCH_OK);
	assert_string_equal(params[0], "42");
	assert_int_equal(match(ADMIN_DELETE, "routes/" UUID1 "/" UUID2, &r, params, &allow),
			 ADMIN_MATCH_OK);
	assert_string_equal(params[0], UUID1);
	assert_string_equal(params[1], UUID2);
	assert_int_equal(match(ADMIN_POST, "destinations/" UUID1 "/pause", &r, params, &allow),
			 ADMIN_MATCH_OK);
	assert_string_equal(r->path, "destinations/{id}/pause");
	/* known path, other method: the methods it has */
	assert_int_equal(match(ADMIN_DELETE, "sources/" UUID1, &r, params, &allow),
			 ADMIN_MATCH_NO_METHOD);
	admin_methods_text(allow, text, sizeof(text));
	assert_string_equal(text, "GET, PATCH");
	/* not paths of ours */
	static const char *const bad[] = { "",		 "tenants/",	"/tenants",    "tenants//x",
					   "tenants/1/", "tenants/1/x", "nothing",     "routes/a",
					   "tenantsx",	 "stats/1",	"routes/a/b/c" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(match(ADMIN_GET, bad[i], &r, params, &allow), ADMIN_MATCH_NO_PATH);
	/* a {param} longer than its buffer matches nothing */
	char longp[200] = "tenants/";
	memset(longp + 8, '1', 150);
	assert_int_equal(match(ADMIN_GET, longp, &r, params, &allow), ADMIN_MATCH_NO_PATH);
}

static void test_query(void **state)
{
	struct admin_query q;
	struct err e = { 0 };
	unsigned dl = AQ_LIST | AQ_STATE | AQ_DESTINATION | AQ_SINCE | AQ_UNTIL;

	(void)state;
	assert_int_equal(admin_query_parse(NULL, AQ_LIST, ADMIN_KEY_INT, &q, &e), 0);
	assert_int_equal(q.limit, ADMIN_LIMIT_DEFAULT);
	assert_int_equal(admin_query_parse("limit=1000", AQ_LIST, ADMIN_KEY_INT, &q, &e), 0);
	assert_int_equal(q.limit, 1000);
	static const char *const bad_limits[] = { "limit=0",  "limit=1001",
						  "limit=-1", "limit=x",
						  "limit=",   "limit=99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]); i++) {
		assert_int_equal(admin_query_parse(bad_limits[i], AQ_LIST, ADMIN_KEY_INT, &q, &e),
				 ERR_INVALID);
		assert_true(strncmp(e.msg, "limit", 5) == 0);
	}
	assert_int_equal(admin_query_parse("state=failed&destination=" UUID1
					   "&since=2026-11-28T10:00:00Z",
					   dl, ADMIN_KEY_INT, &q, &e),
			 0);
	assert_string_equal(q.state, "failed");
	assert_string_equal(q.destination, UUID1);
	assert_true(q.has_since && !q.has_until);
	/* a filter of another list, a bad value: 400 naming it */
	assert_int_equal(admin_query_parse("state=failed", AQ_LIST, ADMIN_KEY_INT, &q, &e),
			 ERR_INVALID);
	assert_true(strncmp(e.msg, "state", 5) == 0);
	assert_int_equal(admin_query_parse("state=gone", dl, ADMIN_KEY_INT, &q, &e), ERR_INVALID);
	assert_int_equal(admin_query_parse("until=tomorrow", dl, ADMIN_KEY_INT, &q, &e),
			 ERR_INVALID);
	assert_true(strncmp(e.msg, "until", 5) == 0);
	/* unknown parameters are nobody's: ignored */
	assert_int_equal(admin_query_parse("utm=x", AQ_LIST, ADMIN_KEY_INT, &q, &e), 0);
}

static void cursor_round_trip(enum admin_key key, const char *a, const char *b)
{
	char query[256];
	struct admin_query q;
	struct err e = { 0 };
	char *c = admin_cursor_encode(a, b);

	assert_non_null(c);
	snprintf(query, sizeof(query), "cursor=%s", c);
	assert_int_equal(admin_query_parse(query, AQ_LIST, key, &q, &e), 0);
	assert_true(q.has_cursor);
	assert_string_equal(q.after, a);
	assert_string_equal(q.after2, b ? b : "");
	/* the same cursor for a list of another key shape: refused */
	for (enum admin_key other = ADMIN_KEY_NONE; other <= ADMIN_KEY_UUID2; other++) {
		if (other != key)
			assert_int_equal(admin_query_parse(query, AQ_LIST, other, &q, &e),
					 ERR_INVALID);
	}
	free(c);
}

static void test_cursors(void **state)
{
	struct admin_query q;
	struct err e = { 0 };

	(void)state;
	cursor_round_trip(ADMIN_KEY_INT, "42", NULL);
	cursor_round_trip(ADMIN_KEY_UUID, UUID1, NULL);
	cursor_round_trip(ADMIN_KEY_UUID2, UUID1, UUID2);
	static const char *const bad[] = { "cursor=", "cursor=%%%",
					   "cursor=AAAA=", "cursor=LTE" /* "-1" */,
					   "cursor=MAA" /* "0" */ };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(admin_query_parse(bad[i], AQ_LIST, ADMIN_KEY_INT, &q, &e),
				 ERR_INVALID);
}

static void test_bodies(void **state)
{
	struct err e = { 0 };
	cJSON *b = NULL;

	(void)state;
	assert_int_equal(admin_body_parse("", 0, 100, &b, &e), 0);
	assert_null(b);
	assert_int_equal(admin_body_parse("{\"a\":1}", 7, 100, &b, &e), 0);
	assert_true(cJSON_IsObject(b));
	cJSON_Delete(b);
	assert_int_equal(admin_body_parse("[1]", 3, 100, &b, &e), ERR_INVALID);
	assert_int_equal(admin_body_parse("{\"a\":1} x", 9, 100, &b, &e), ERR_INVALID);
	assert_int_equal(admin_body_parse("{\"a\":1}\0{", 9, 100, &b, &e), ERR_INVALID);
	assert_int_equal(admin_body_parse("{\"a\":1}", 7, 6, &b, &e), ERR_TOOBIG);
	/* not NUL-terminated at n: only n bytes are read */
	assert_int_equal(admin_body_parse("{}garbage", 2, 100, &b, &e), 0);
	cJSON_Delete(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_cursors),
		cmocka_unit_test(test_bodies),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
