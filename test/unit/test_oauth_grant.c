/*
 * test_oauth_grant.c - OAuth2 token requests and the classification of the
 * token endpoint's answers (core/oauth_grant.h), with Google's documented
 * shapes (https://developers.google.com/identity/protocols/oauth2/web-server
 * "Refreshing an access token", RFC 6749 §5.2 errors).  Pure: no network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/oauth_grant.h"

static void grant_init(struct oauth_grant *g)
{
	memset(g, 0, sizeof(*g));
	g->token_url = strdup("https://oauth2.example.test/token");
	g->client_id = strdup("1234.apps.googleusercontent.com");
	g->client_secret = strdup("GOCSPX-s&e=c r+t");
	g->refresh_token = strdup("1//0g-refresh/token");
}

static void test_refresh_request_is_a_form(void **state)
{
	struct oauth_grant g;
	struct upload_req req;
	struct err e = { 0 };

	(void)state;
	grant_init(&g);
	upload_req_init(&req);
	assert_int_equal(oauth_refresh_request(&g, &req, &e), 0);
	assert_int_equal(req.method, UPLOAD_POST);
	assert_string_equal(req.url, "https://oauth2.example.test/token");
	assert_string_equal(req.log_url, req.url);
	assert_string_equal(req.headers[0], "Content-Type: application/x-www-form-urlencoded");
	/* Reserved characters of the secret are encoded; '/' may stay. */
	assert_string_equal(req.body.data,
			    "grant_type=refresh_token&client_id=1234.apps.googleusercontent.com"
			    "&client_secret=GOCSPX-s%26e%3Dc%20r%2Bt"
			    "&refresh_token=1//0g-refresh/token");
	upload_req_cleanup(&req);
	oauth_grant_cleanup(&g);
	assert_null(g.client_secret);
}

static void test_refresh_needs_every_part(void **state)
{
	struct oauth_grant g;
	struct upload_req req;
	struct err e = { 0 };

	(void)state;
	grant_init(&g);
	free(g.refresh_token);
	g.refresh_token = NULL;
	upload_req_init(&req);
	assert_int_equal(oauth_refresh_request(&g, &req, &e), ERR_CONFIG);
	assert_non_null(strstr(e.msg, "not authorized"));
	assert_null(req.url);
	free(g.client_id);
	g.client_id = NULL;
	assert_int_equal(oauth_refresh_request(&g, &req, &e), ERR_CONFIG);
	assert_non_null(strstr(e.msg, "client_id"));
	oauth_grant_cleanup(&g);
}

static void test_code_request(void **state)
{
	struct oauth_grant g;
	struct upload_req req;
	struct err e = { 0 };

	(void)state;
	grant_init(&g);
	upload_req_init(&req);
	assert_int_equal(oauth_code_request(&g, "4/0Ab-c",
					    "https://d.example/oauth/google/callback", &req, &e),
			 0);
	assert_string_equal(req.body.data, "grant_type=authorization_code&code=4/0Ab-c"
					   "&redirect_uri=https://d.example/oauth/google/callback"
					   "&client_id=1234.apps.googleusercontent.com"
					   "&client_secret=GOCSPX-s%26e%3Dc%20r%2Bt");
	upload_req_cleanup(&req);
	assert_int_equal(oauth_code_request(&g, "", "https://x", &req, &e), ERR_INVALID);
	oauth_grant_cleanup(&g);
}

static void test_fingerprint_changes_with_the_refresh_token(void **state)
{
	struct oauth_grant g;
	char a[33], b[33], c[33];

	(void)state;
	grant_init(&g);
	oauth_grant_fingerprint(&g, a);
	oauth_grant_fingerprint(&g, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 32);
	free(g.refresh_token);
	g.refresh_token = strdup("1//another");
	oauth_grant_fingerprint(&g, c);
	assert_string_not_equal(a, c);
	oauth_grant_cleanup(&g);
}

static int parse(long status, const char *body, struct oauth_token *t, struct err *e)
{
	struct upload_resp r = {
		.status = status, .body = body, .body_len = strlen(body), .retry_after_s = -1
	};

	return oauth_token_parse(&r, t, e);
}

static void test_parse_token(void **state)
{
	struct oauth_token t;
	struct err e = { 0 };

	(void)state;
	/* Google's documented answer to a refresh. */
	assert_int_equal(parse(200,
			       "{\"access_token\": \"ya29.a0AfB_byC\", \"expires_in\": 3920, "
			       "\"scope\": \"https://www.googleapis.com/auth/datamanager\", "
			       "\"token_type\": \"Bearer\"}",
			       &t, &e),
			 0);
	assert_string_equal(t.access_token, "ya29.a0AfB_byC");
	assert_null(t.refresh_token);
	assert_int_equal(t.expires_in_s, 3920);
	assert_string_equal(t.scope, "https://www.googleapis.com/auth/datamanager");
	oauth_token_cleanup(&t);
	/* A code exchange carries a refresh token; expires_in defaults. */
	assert_int_equal(parse(200, "{\"access_token\":\"a\",\"refresh_token\":\"1//r\"}", &t, &e),
			 0);
	assert_string_equal(t.refresh_token, "1//r");
	assert_int_equal(t.expires_in_s, 3600);
	oauth_token_cleanup(&t);
	assert_int_equal(parse(200, "{\"access_token\":\"a\",\"expires_in\":\"120\"}", &t, &e), 0);
	assert_int_equal(t.expires_in_s, 120);
	oauth_token_cleanup(&t);
}

static void test_parse_errors(void **state)
{
	struct oauth_token t;
	struct err e = { 0 };
	struct upload_resp down = { .transport_error = true, .transport_msg = "refused" };

	(void)state;
	assert_int_equal(parse(400,
			       "{\"error\": \"invalid_grant\", \"error_description\": \"Token has "
			       "been expired or revoked.\"}",
			       &t, &e),
			 ERR_AUTH);
	assert_string_equal(e.msg, "oauth: invalid_grant: Token has been expired or revoked.");
	assert_null(t.access_token);
	assert_int_equal(parse(401, "{\"error\":\"invalid_client\"}", &t, &e), ERR_AUTH);
	assert_int_equal(parse(400, "{\"error\":\"unauthorized_client\"}", &t, &e), ERR_AUTH);
	/* The server's trouble, whatever the body says: retry later. */
	assert_int_equal(parse(503, "{\"error\":\"invalid_grant\"}", &t, &e), ERR_IO);
	assert_int_equal(parse(429, "{\"error\":\"rate_limit_exceeded\"}", &t, &e), ERR_IO);
	assert_int_equal(parse(500, "<html>oops</html>", &t, &e), ERR_IO);
	assert_int_equal(parse(400, "{\"error\":\"something_new\"}", &t, &e), ERR_IO);
	assert_int_equal(oauth_token_parse(&down, &t, &e), ERR_IO);
	assert_non_null(strstr(e.msg, "refused"));
	/* 200 without a usable token, or not JSON. */
	assert_int_equal(parse(200, "{\"token_type\":\"Bearer\"}", &t, &e), ERR_IO);
	assert_int_equal(parse(200, "{\"access_token\":\"\"}", &t, &e), ERR_IO);
	assert_int_equal(parse(200, "{\"access_token\":\"a\\nb\"}", &t, &e), ERR_IO);
	assert_int_equal(parse(200, "nope", &t, &e), ERR_IO);
	/* Never quote a token in a message. */
	assert_int_equal(
		parse(200, "{\"access_token\":\"ya29.secret\",\"refresh_token\":5}", &t, &e),
		ERR_IO);
	assert_null(strstr(e.msg, "ya29"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refresh_request_is_a_form),
		cmocka_unit_test(test_refresh_needs_every_part),
		cmocka_unit_test(test_code_request),
		cmocka_unit_test(test_fingerprint_changes_with_the_refresh_token),
		cmocka_unit_test(test_parse_token),
		cmocka_unit_test(test_parse_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
