/*
 * fuzz_oauth_state.c - libFuzzer target: the consent state verifier
 * (oauth_state_verify), which reads the `state` of any request to the
 * OAuth callback.
 *
 * The input is tried twice: as a token (it can only verify if it is the
 * canonical signature of its own payload: then signing what was read
 * must give the same text back), and as a payload that we sign, to reach
 * the layout checks behind the MAC (version, expiry); a payload that
 * parses must come back out of a fresh signature unchanged.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/oauth_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char key[OAUTH_STATE_KEY_LEN];

/* Signed payload of data: base64url(payload) "." base64url(MAC). */
static void sign_raw(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	size_t len;

	crypto_auth_hmacsha256(mac, p, n, key);
	sodium_bin2base64(out, outlen, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	len = strlen(out);
	out[len++] = '.';
	sodium_bin2base64(out + len, outlen - len, mac, sizeof(mac),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void check_round_trip(const char *token, const struct oauth_state *st)
{
	char again[OAUTH_STATE_MAX + 1];

	oauth_state_sign(key, st, again);
	if (strcmp(again, token) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct oauth_state st;
	char *s, signed_tok[512];
	enum oauth_state_verdict v;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		for (size_t i = 0; i < sizeof(key); i++)
			key[i] = (unsigned char)(i * 7);
		inited = 1;
	}
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	v = oauth_state_verify(key, s, (int64_t)size, &st);
	if (v == OAUTH_STATE_VALID || v == OAUTH_STATE_EXPIRED)
		check_round_trip(s, &st);
	free(s);
	if (size <= 200) {
		sign_raw(data, size, signed_tok, sizeof(signed_tok));
		v = oauth_state_verify(key, signed_tok, 1000, &st);
		if (v == OAUTH_STATE_FORGED)
			abort(); /* we signed it */
		if (v == OAUTH_STATE_VALID || v == OAUTH_STATE_EXPIRED)
			check_round_trip(signed_tok, &st);
	}
	return 0;
}
