/*
 * test_jwt.c - the admin API's HS256 tokens (core/jwt.h): a token we sign
 * verifies; expired, not-yet-valid, future iat, alg none / HS512 / RS256,
 * a bad signature, a missing exp, wrongly typed claims, a tampered
 * payload, a short key and malformed shapes are refused.  Hand-made
 * tokens are signed here with libsodium so that only the checks after
 * the MAC can refuse them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jwt.h"

#define NOW 1800000000LL

static const unsigned char key[] = "0123456789abcdef0123456789abcdef-test-key";
#define KEYLEN (sizeof(key) - 1)

static int group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

/* base64url(header) "." base64url(payload) "." base64url(HMAC) */
static char *make_raw(const char *header, const char *payload, const unsigned char *k, size_t klen)
{
	static char out[4096];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	size_t n;

	sodium_bin2base64(out, sizeof(out), (const unsigned char *)header, strlen(header),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = strlen(out);
	out[n++] = '.';
	sodium_bin2base64(out + n, sizeof(out) - n, (const unsigned char *)payload, strlen(payload),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n += strlen(out + n);
	crypto_auth_hmacsha256_init(&st, k, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, n);
	crypto_auth_hmacsha256_final(&st, mac);
	out[n++] = '.';
	sodium_bin2base64(out + n, sizeof(out) - n, mac, sizeof(mac),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

static char *make(const char *payload)
{
	return make_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, key, KEYLEN);
}

static int verify(const char *tok, struct jwt_claims *c, struct err *e)
{
	return jwt_verify(key, KEYLEN, tok, NOW, JWT_LEEWAY, c, e);
}

static void expect_refused(const char *tok, const char *why)
{
	struct jwt_claims c;
	struct err e = { 0 };

	assert_int_equal(verify(tok, &c, &e), ERR_AUTH);
	if (strstr(e.msg, why) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", why, e.msg);
}

static void test_sign_verify(void **state)
{
	struct jwt_claims in = {
		.sub = "alice", .tenant = 7, .role = JWT_ROLE_AGENCY, .iat = NOW, .exp = NOW + 3600
	};
	struct jwt_claims out;
	struct err e = { 0 };
	char *tok = NULL;

	(void)state;
	assert_int_equal(jwt_sign(key, KEYLEN, &in, &tok, &e), 0);
	assert_int_equal(verify(tok, &out, &e), 0);
	assert_string_equal(out.sub, "alice");
	assert_int_equal(out.tenant, 7);
	assert_int_equal(out.role, JWT_ROLE_AGENCY);
	assert_int_equal(out.exp, NOW + 3600);
	/* Another key does not verify it. */
	assert_int_equal(jwt_verify((const unsigned char *)"another-key-another-key-another-key",
				    35, tok, NOW, JWT_LEEWAY, &out, &e),
			 ERR_AUTH);
	free(tok);
}

static void test_admin_without_tenant(void **state)
{
	struct jwt_claims in = {
		.sub = "root", .role = JWT_ROLE_ADMIN, .iat = NOW, .exp = NOW + 60
	};
	struct jwt_claims out;
	struct err e = { 0 };
	char *tok = NULL;

	(void)state;
	assert_int_equal(jwt_sign(key, KEYLEN, &in, &tok, &e), 0);
	assert_int_equal(verify(tok, &out, &e), 0);
	assert_int_equal(out.role, JWT_ROLE_ADMIN);
	assert_int_equal(out.tenant, 0);
	free(tok);
	/* agency needs one, at signing and at verifying */
	in.role = JWT_ROLE_AGENCY;
	assert_int_equal(jwt_sign(key, KEYLEN, &in, &tok, &e), ERR_INVALID);
	expect_refused(make("{\"sub\":\"a\",\"role\":\"agency\",\"exp\":1800000100}"),
		       "needs a tenant");
}

static void test_short_key(void **state)
{
	struct jwt_claims in = { .sub = "a", .role = JWT_ROLE_ADMIN, .exp = NOW + 60 };
	struct err e = { 0 };
	char *tok = NULL;

	(void)state;
	assert_int_equal(jwt_sign((const unsigned char *)"short", 5, &in, &tok, &e), ERR_INVALID);
	assert_null(tok);
}

static void test_hand_made_valid(void **state)
{
	struct jwt_claims c;
	struct err e = { 0 };

	(void)state;
	/* no typ, nbf and iat inside the leeway */
	assert_int_equal(
		verify(make_raw("{\"alg\":\"HS256\"}",
				"{\"sub\":\"x\",\"role\":\"agency\",\"tenant\":3,"
				"\"exp\":1800000100,\"nbf\":1800000030,\"iat\":1800000030}",
				key, KEYLEN),
		       &c, &e),
		0);
	assert_int_equal(c.tenant, 3);
}

static void test_time_claims(void **state)
{
	(void)state;
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1799999900}"), "expired");
	/* inside the leeway it is still good; at exp + leeway it is not */
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1799999940}"), "expired");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1800009999,"
			    "\"nbf\":1800000100}"),
		       "nbf");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1800009999,"
			    "\"iat\":1800000100}"),
		       "iat");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\"}"), "exp is required");
}

static void test_leeway_accepts(void **state)
{
	struct jwt_claims c;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(
		verify(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1799999950}"), &c, &e), 0);
}

static void test_alg(void **state)
{
	const char *p = "{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1800009999}";
	char tok[4096];
	char *dot;

	(void)state;
	expect_refused(make_raw("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", p, key, KEYLEN), "HS256");
	expect_refused(make_raw("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p, key, KEYLEN), "HS256");
	expect_refused(make_raw("{\"alg\":\"hs256\"}", p, key, KEYLEN), "HS256");
	expect_refused(make_raw("{\"typ\":\"JWT\"}", p, key, KEYLEN), "HS256");
	expect_refused(make_raw("{\"alg\":\"HS256\",\"alg\":\"none\"}", p, key, KEYLEN),
		       "repeated");
	expect_refused(make_raw("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", p, key, KEYLEN), "crit");
	expect_refused(make_raw("{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}", p, key, KEYLEN),
		       "typ");
	/* alg none: with an empty signature, and with one left in */
	snprintf(tok, sizeof(tok), "%s", make_raw("{\"alg\":\"none\"}", p, key, KEYLEN));
	expect_refused(tok, "HS256");
	dot = strrchr(tok, '.');
	dot[1] = '\0';
	expect_refused(tok, "malformed");
}

static void test_signature(void **state)
{
	const char *p = "{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1800009999}";
	char tok[4096], *dot;
	size_t n;

	(void)state;
	/* signed with another key */
	expect_refused(make_raw("{\"alg\":\"HS256\"}", p,
				(const unsigned char *)"another-key-another-key-another-key", 35),
		       "bad signature");
	/* one signature character changed */
	snprintf(tok, sizeof(tok), "%s", make(p));
	n = strlen(tok);
	tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
	expect_refused(tok, "signature");
	/* signature cut short */
	snprintf(tok, sizeof(tok), "%s", make(p));
	tok[strlen(tok) - 4] = '\0';
	expect_refused(tok, "signature");
	/* tampered payload: the role raised, old signature kept */
	snprintf(tok, sizeof(tok), "%s",
		 make("{\"sub\":\"x\",\"role\":\"agency\",\"tenant\":1,\"exp\":1800009999}"));
	{
		char sig[128], hdr[128], body[512];

		dot = strrchr(tok, '.');
		snprintf(sig, sizeof(sig), "%s", dot + 1);
		*strchr(tok, '.') = '\0';
		snprintf(hdr, sizeof(hdr), "%s", tok);
		sodium_bin2base64(body, sizeof(body), (const unsigned char *)p, strlen(p),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		snprintf(tok, sizeof(tok), "%s.%s.%s", hdr, body, sig);
	}
	expect_refused(tok, "bad signature");
}

static void test_types(void **state)
{
	(void)state;
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":\"1800009999\"}"), "exp");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1800009999.5}"), "exp");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":-1}"), "exp");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1e300}"), "exp");
	expect_refused(make("{\"sub\":7,\"role\":\"admin\",\"exp\":1800009999}"), "sub");
	expect_refused(make("{\"sub\":\"\",\"role\":\"admin\",\"exp\":1800009999}"), "sub");
	expect_refused(make("{\"role\":\"admin\",\"exp\":1800009999}"), "sub");
	expect_refused(make("{\"sub\":\"a\\nb\",\"role\":\"admin\",\"exp\":1800009999}"), "sub");
	expect_refused(make("{\"sub\":\"a\\\"b\",\"role\":\"admin\",\"exp\":1800009999}"), "sub");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"root\",\"exp\":1800009999}"), "role");
	expect_refused(make("{\"sub\":\"x\",\"role\":[\"admin\"],\"exp\":1800009999}"), "role");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"agency\",\"tenant\":\"1\","
			    "\"exp\":1800009999}"),
		       "tenant");
	expect_refused(make("{\"sub\":\"x\",\"role\":\"admin\",\"exp\":1800009999,"
			    "\"exp\":1900000000}"),
		       "exp");
	expect_refused(make("[1,2]"), "malformed token payload");
	expect_refused(make("{\"sub\":\"x\"} trailing"), "malformed token payload");
}

static void test_shapes(void **state)
{
	(void)state;
	expect_refused("", "malformed");
	expect_refused("abc", "malformed");
	expect_refused("a.b", "malformed");
	expect_refused("a.b.c.d", "malformed");
	expect_refused("..", "malformed");
	expect_refused("eyJhbGciOiJIUzI1NiJ9..abc", "malformed");
	expect_refused("eyJhbGciOiJIUzI1NiJ9=.e30.abc", "malformed");
	expect_refused("!!!.e30.abc", "malformed");
	{
		char *big = malloc(JWT_MAX + 10);

		memset(big, 'a', JWT_MAX + 9);
		big[JWT_MAX + 9] = '\0';
		big[10] = '.';
		big[20] = '.';
		expect_refused(big, "malformed");
		free(big);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify), cmocka_unit_test(test_admin_without_tenant),
		cmocka_unit_test(test_short_key),   cmocka_unit_test(test_hand_made_valid),
		cmocka_unit_test(test_time_claims), cmocka_unit_test(test_leeway_accepts),
		cmocka_unit_test(test_alg),	    cmocka_unit_test(test_signature),
		cmocka_unit_test(test_types),	    cmocka_unit_test(test_shapes),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
