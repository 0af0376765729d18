/*
 * test_oauth_state.c - the consent state token (sign, verify, tampering of
 * each part, expiry, wrong key, size cap, layout), the key derivation it
 * is signed with, and the consent URL.
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

#include "core/mem.h"
#include "core/oauth_state.h"
#include "core/vault.h"

#define DEST "0b5e7c7e-3f0a-4c55-9a39-6c1d2f8e9a10"
#define EXP  1800000000LL

static unsigned char key[OAUTH_STATE_KEY_LEN];
static unsigned char other_key[OAUTH_STATE_KEY_LEN];

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	for (int i = 0; i < OAUTH_STATE_KEY_LEN; i++) {
		key[i] = (unsigned char)i;
		other_key[i] = (unsigned char)(i + 1);
	}
	return 0;
}

static void make_token(const char *dest, int64_t exp, struct oauth_state *st,
		       char tok[OAUTH_STATE_MAX + 1])
{
	struct err e = { 0 };

	assert_int_equal(oauth_state_new(dest, exp, st, &e), 0);
	oauth_state_sign(key, st, tok);
}

static void test_round_trip(void **state)
{
	struct oauth_state st, got;
	char tok[OAUTH_STATE_MAX + 1];

	(void)state;
	make_token(DEST, EXP, &st, tok);
	memset(&got, 0, sizeof(got));
	assert_int_equal(oauth_state_verify(key, tok, EXP - 1, &got), OAUTH_STATE_VALID);
	assert_string_equal(got.dest_id, DEST);
	assert_int_equal(got.expires_at, EXP);
	assert_memory_equal(got.nonce, st.nonce, OAUTH_STATE_NONCE_LEN);
}

/* base64url(41 bytes) "." base64url(32 bytes), no padding. */
static void test_token_shape(void **state)
{
	struct oauth_state st;
	char tok[OAUTH_STATE_MAX + 1];
	const char *dot;

	(void)state;
	make_token(DEST, EXP, &st, tok);
	assert_int_equal(strlen(tok), 55 + 1 + 43);
	dot = strchr(tok, '.');
	assert_non_null(dot);
	assert_int_equal(dot - tok, 55);
	assert_null(strchr(dot + 1, '.'));
	for (const char *p = tok; *p; p++)
		assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.');
}

static void test_uppercase_id_and_bad_ids(void **state)
{
	struct oauth_state st, got;
	struct err e = { 0 };
	char tok[OAUTH_STATE_MAX + 1];

	(void)state;
	make_token("0B5E7C7E-3F0A-4C55-9A39-6C1D2F8E9A10", EXP, &st, tok);
	assert_string_equal(st.dest_id, DEST);
	assert_int_equal(oauth_state_verify(key, tok, 0, &got), OAUTH_STATE_VALID);
	assert_string_equal(got.dest_id, DEST);
	assert_int_equal(oauth_state_new("not-a-uuid", EXP, &st, &e), ERR_INVALID);
	assert_int_equal(oauth_state_new(DEST "0", EXP, &st, &e), ERR_INVALID);
	assert_int_equal(oauth_state_new("0b5e7c7e-3f0a-4c55-9a39-6c1d2f8e9a1g", EXP, &st, &e),
			 ERR_INVALID);
	assert_int_equal(oauth_state_new("0b5e7c7e33f0a-4c55-9a39-6c1d2f8e9a10", EXP, &st, &e),
			 ERR_INVALID);
	assert_int_equal(oauth_state_new(NULL, EXP, &st, &e), ERR_INVALID);
}

static void test_nonce_is_random(void **state)
{
	struct oauth_state a, b;
	char ta[OAUTH_STATE_MAX + 1], tb[OAUTH_STATE_MAX + 1];
	char ha[33], hb[33];

	(void)state;
	make_token(DEST, EXP, &a, ta);
	make_token(DEST, EXP, &b, tb);
	assert_memory_not_equal(a.nonce, b.nonce, OAUTH_STATE_NONCE_LEN);
	assert_string_not_equal(ta, tb);
	oauth_state_nonce_hex(&a, ha);
	oauth_state_nonce_hex(&b, hb);
	assert_int_equal(strlen(ha), 32);
	assert_int_equal(strspn(ha, "0123456789abcdef"), 32);
	assert_string_not_equal(ha, hb);
}

static void test_expiry(void **state)
{
	struct oauth_state st, got;
	char tok[OAUTH_STATE_MAX + 1];

	(void)state;
	make_token(DEST, EXP, &st, tok);
	assert_int_equal(oauth_state_verify(key, tok, EXP - 1, &got), OAUTH_STATE_VALID);
	memset(&got, 0, sizeof(got));
	assert_int_equal(oauth_state_verify(key, tok, EXP, &got), OAUTH_STATE_EXPIRED);
	assert_string_equal(got.dest_id, DEST); /* filled: says whose link expired */
	assert_int_equal(oauth_state_verify(key, tok, EXP + 86400, &got), OAUTH_STATE_EXPIRED);
}

static void test_wrong_key(void **state)
{
	struct oauth_state st, got;
	char tok[OAUTH_STATE_MAX + 1];

	(void)state;
	make_token(DEST, EXP, &st, tok);
	assert_int_equal(oauth_state_verify(other_key, tok, 0, &got), OAUTH_STATE_FORGED);
	/* Even an expired token with a bad MAC is forged, not expired. */
	assert_int_equal(oauth_state_verify(other_key, tok, EXP + 1, &got), OAUTH_STATE_FORGED);
}

/* Every character changed to every other base64url character: never
 * valid (each part is canonical base64, so no two spellings decode to
 * the same bytes). */
static void test_tamper_every_char(void **state)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct oauth_state st, got;
	char tok[OAUTH_STATE_MAX + 1], t[OAUTH_STATE_MAX + 1];
	size_t n;

	(void)state;
	make_token(DEST, EXP, &st, tok);
	n = strlen(tok);
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '.')
			continue;
		for (const char *c = alphabet; *c; c++) {
			if (*c == tok[i])
				continue;
			memcpy(t, tok, n + 1);
			t[i] = *c;
			if (oauth_state_verify(key, t, 0, &got) == OAUTH_STATE_VALID)
				fail_msg("changing char %zu to '%c' still verifies", i, *c);
		}
	}
}

/* The payload re-encoded with one byte changed and the old MAC: forged. */
static void test_tamper_payload_part(void **state)
{
	struct oauth_state st, got;
	char tok[OAUTH_STATE_MAX + 1], t[OAUTH_STATE_MAX + 1];
	unsigned char payload[41];
	size_t len = 0;
	const char *dot;

	(void)state;
	make_token(DEST, EXP, &st, tok);
	dot = strchr(tok, '.');
	assert_int_equal(sodium_base642bin(payload, sizeof(payload), tok, (size_t)(dot - tok), NULL,
					   &len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			 0);
	assert_int_equal(len, sizeof(payload));
	for (size_t i = 0; i < sizeof(payload); i++) {
		payload[i] ^= 0x01;
		sodium_bin2base64(t, sizeof(t), payload, sizeof(payload),
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		strcat(t, dot);
		assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_FORGED);
		payload[i] ^= 0x01;
	}
	/* The MAC of another state does not fit this payload either. */
	{
		struct oauth_state st2;
		char tok2[OAUTH_STATE_MAX + 1];

		make_token(DEST, EXP, &st2, tok2);
		memcpy(t, tok, (size_t)(dot - tok));
		strcpy(t + (dot - tok), strchr(tok2, '.'));
		assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_FORGED);
	}
}

/* A correctly signed payload of another version or length. */
static void test_signed_but_wrong_layout(void **state)
{
	unsigned char payload[42], mac[32];
	char t[256];
	struct oauth_state got;
	size_t n;

	(void)state;
	memset(payload, 0x11, sizeof(payload));
	payload[0] = 2; /* a version we do not read */
	crypto_auth_hmacsha256(mac, payload, 41, key);
	sodium_bin2base64(t, sizeof(t), payload, 41, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = strlen(t);
	t[n++] = '.';
	sodium_bin2base64(t + n, sizeof(t) - n, mac, sizeof(mac),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
	/* 42 bytes of payload, correctly signed: the wrong length. */
	payload[0] = 1;
	crypto_auth_hmacsha256(mac, payload, 42, key);
	sodium_bin2base64(t, sizeof(t), payload, 42, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = strlen(t);
	t[n++] = '.';
	sodium_bin2base64(t + n, sizeof(t) - n, mac, sizeof(mac),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
}

static void test_malformed(void **state)
{
	struct oauth_state st, got;
	char tok[OAUTH_STATE_MAX + 1], t[512];
	const char *dot;

	(void)state;
	make_token(DEST, EXP, &st, tok);
	dot = strchr(tok, '.');
	assert_int_equal(oauth_state_verify(key, NULL, 0, &got), OAUTH_STATE_MALFORMED);
	assert_int_equal(oauth_state_verify(key, "", 0, &got), OAUTH_STATE_MALFORMED);
	assert_int_equal(oauth_state_verify(key, ".", 0, &got), OAUTH_STATE_MALFORMED);
	/* No dot; a second dot; the parts swapped. */
	snprintf(t, sizeof(t), "%.*s%s", (int)(dot - tok), tok, dot + 1);
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
	snprintf(t, sizeof(t), "%s.", tok);
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
	snprintf(t, sizeof(t), "%s.%.*s", dot + 1, (int)(dot - tok), tok);
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
	/* Padding, standard base64 characters, spaces. */
	snprintf(t, sizeof(t), "%s=", tok);
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
	snprintf(t, sizeof(t), "%s", tok);
	t[3] = '+';
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
	t[3] = '/';
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
	snprintf(t, sizeof(t), " %s", tok);
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
	/* Truncated by one character. */
	snprintf(t, sizeof(t), "%s", tok);
	t[strlen(t) - 1] = '\0';
	assert_int_equal(oauth_state_verify(key, t, 0, &got), OAUTH_STATE_MALFORMED);
}

/* Anything over OAUTH_STATE_MAX is refused before decoding, at any size. */
static void test_size_cap(void **state)
{
	struct oauth_state got;
	char *big = xmalloc(1 << 20);

	(void)state;
	memset(big, 'A', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	big[60] = '.';
	assert_int_equal(oauth_state_verify(key, big, 0, &got), OAUTH_STATE_MALFORMED);
	big[OAUTH_STATE_MAX + 1] = '\0';
	assert_int_equal(oauth_state_verify(key, big, 0, &got), OAUTH_STATE_MALFORMED);
	free(big);
}

static void test_derive_key(void **state)
{
	unsigned char master[32], a[32], b[32], c[32];
	struct vault *v = NULL;
	struct err e = { 0 };

	(void)state;
	for (int i = 0; i < 32; i++)
		master[i] = (unsigned char)(0xa0 + i);
	assert_int_equal(vault_open_key(master, &v, &e), 0);
	assert_int_equal(vault_derive_key(v, OAUTH_STATE_KDF_CONTEXT, a, &e), 0);
	assert_int_equal(vault_derive_key(v, OAUTH_STATE_KDF_CONTEXT, b, &e), 0);
	assert_memory_equal(a, b, 32); /* stable: links survive a restart */
	assert_memory_not_equal(a, master, 32);
	assert_int_equal(vault_derive_key(v, "othercon", c, &e), 0);
	assert_memory_not_equal(a, c, 32);
	assert_int_equal(vault_derive_key(v, "oauth-state", c, &e), ERR_INVALID);
	assert_int_equal(vault_derive_key(v, "short", c, &e), ERR_INVALID);
	assert_int_equal(vault_derive_key(v, NULL, c, &e), ERR_INVALID);
	vault_free(v);
}

static void test_provider_names(void **state)
{
	(void)state;
	assert_true(oauth_provider_is_valid("google"));
	assert_true(oauth_provider_is_valid("a_1"));
	assert_true(oauth_provider_is_valid("abcdefghijklmno")); /* 15 */
	assert_false(oauth_provider_is_valid("abcdefghijklmnop"));
	assert_false(oauth_provider_is_valid(""));
	assert_false(oauth_provider_is_valid(NULL));
	assert_false(oauth_provider_is_valid("Google"));
	assert_false(oauth_provider_is_valid("a/b"));
	assert_false(oauth_provider_is_valid(".."));
}

static void test_redirect_uri(void **state)
{
	char *u;

	(void)state;
	u = oauth_redirect_uri("https://ads.example", "google");
	assert_string_equal(u, "https://ads.example/oauth/google/callback");
	free(u);
	u = oauth_redirect_uri("https://ads.example/base//", "google");
	assert_string_equal(u, "https://ads.example/base/oauth/google/callback");
	free(u);
}

static void test_scopes_granted(void **state)
{
	const char *dm = "https://www.googleapis.com/auth/datamanager";
	const char *both = "https://www.googleapis.com/auth/datamanager "
			   "https://www.googleapis.com/auth/adwords";

	(void)state;
	assert_true(oauth_scopes_granted(dm, dm));
	assert_true(oauth_scopes_granted(dm, both));
	assert_true(oauth_scopes_granted(both,
					 "https://www.googleapis.com/auth/adwords "
					 "openid https://www.googleapis.com/auth/datamanager"));
	assert_false(oauth_scopes_granted(both, dm)); /* adwords unticked */
	/* Whole words only: a prefix or an extension is another scope. */
	assert_false(
		oauth_scopes_granted(dm, "https://www.googleapis.com/auth/datamanager.readonly"));
	assert_false(oauth_scopes_granted(dm, "https://www.googleapis.com/auth/data"));
	assert_false(oauth_scopes_granted(dm, ""));
	assert_true(oauth_scopes_granted("", "anything"));
	assert_true(oauth_scopes_granted(" a  b ", "b a"));
}

static const struct oauth_consent consent = {
	.auth_url = "https://accounts.google.com/o/oauth2/v2/auth",
	.client_id = "1234-abc.apps.googleusercontent.com",
	.redirect_uri = "https://ads.example/oauth/google/callback",
	.scopes = "https://www.googleapis.com/auth/datamanager "
		  "https://www.googleapis.com/auth/adwords",
	.state = "AbC-_1.xY_z",
};

/* Every parameter Google's web server flow documents for an offline
 * grant, values form-encoded (the space between scopes as %20). */
static void test_consent_url(void **state)
{
	struct buf b;
	struct err e = { 0 };

	(void)state;
	buf_init(&b);
	assert_int_equal(oauth_consent_url(&b, &consent, &e), 0);
	assert_string_equal(b.data, "https://accounts.google.com/o/oauth2/v2/auth"
				    "?client_id=1234-abc.apps.googleusercontent.com"
				    "&redirect_uri=https://ads.example/oauth/google/callback"
				    "&response_type=code"
				    "&scope=https://www.googleapis.com/auth/datamanager"
				    "%20https://www.googleapis.com/auth/adwords"
				    "&access_type=offline&prompt=consent"
				    "&include_granted_scopes=true&state=AbC-_1.xY_z");
	buf_cleanup(&b);
}

static void test_consent_url_query_and_encoding(void **state)
{
	struct oauth_consent c = consent;
	struct buf b;
	struct err e = { 0 };

	(void)state;
	c.auth_url = "http://127.0.0.1:9/auth?hl=en";
	c.redirect_uri = "https://ads.example/cb?x=1&y=2";
	buf_init(&b);
	assert_int_equal(oauth_consent_url(&b, &c, &e), 0);
	assert_true(str_has_prefix(b.data, "http://127.0.0.1:9/auth?hl=en&client_id="));
	/* '&' and '=' inside a value are encoded, so it stays one parameter. */
	assert_non_null(strstr(b.data, "&redirect_uri=https://ads.example/cb?x%3D1%26y%3D2&"));
	buf_cleanup(&b);
}

static void test_consent_url_refuses(void **state)
{
	struct oauth_consent c;
	struct buf b;
	struct err e = { 0 };

	(void)state;
	buf_init(&b);
	c = consent;
	c.client_id = NULL;
	assert_int_equal(oauth_consent_url(&b, &c, &e), ERR_INVALID);
	c = consent;
	c.scopes = "";
	assert_int_equal(oauth_consent_url(&b, &c, &e), ERR_INVALID);
	c = consent;
	c.state = NULL;
	assert_int_equal(oauth_consent_url(&b, &c, &e), ERR_INVALID);
	c = consent;
	c.redirect_uri = "";
	assert_int_equal(oauth_consent_url(&b, &c, &e), ERR_INVALID);
	c = consent;
	c.auth_url = "javascript:alert(1)";
	assert_int_equal(oauth_consent_url(&b, &c, &e), ERR_INVALID);
	assert_int_equal(b.len, 0);
	buf_cleanup(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_token_shape),
		cmocka_unit_test(test_uppercase_id_and_bad_ids),
		cmocka_unit_test(test_nonce_is_random),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_tamper_every_char),
		cmocka_unit_test(test_tamper_payload_part),
		cmocka_unit_test(test_signed_but_wrong_layout),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_derive_key),
		cmocka_unit_test(test_provider_names),
		cmocka_unit_test(test_redirect_uri),
		cmocka_unit_test(test_scopes_granted),
		cmocka_unit_test(test_consent_url),
		cmocka_unit_test(test_consent_url_query_and_encoding),
		cmocka_unit_test(test_consent_url_refuses),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
