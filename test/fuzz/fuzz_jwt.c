/*
 * fuzz_jwt.c - libFuzzer target: the admin API's bearer token verifier
 * (jwt_verify), which reads the Authorization header of any request to
 * the admin listener.
 *
 * The input is tried twice: as a whole token (it may only verify if it
 * carries a true MAC, i.e. it re-signs to itself when it is our own
 * layout), and split at its first newline into a header and a payload
 * that we encode and sign, to reach the checks behind the MAC (alg,
 * claims, types, times).  A token that verifies must satisfy every
 * promise of jwt.h.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[] = "fuzz-key-fuzz-key-fuzz-key-fuzz-key";
#define KEYLEN (sizeof(key) - 1)
#define NOW    1800000000LL

static void check(const struct jwt_claims *c)
{
	if (c->sub[0] == '\0' || strlen(c->sub) >= JWT_SUB_MAX)
		abort();
	if (c->role == JWT_ROLE_AGENCY && c->tenant <= 0)
		abort();
	if (NOW - JWT_LEEWAY >= c->exp || c->nbf > NOW + JWT_LEEWAY || c->iat > NOW + JWT_LEEWAY)
		abort();
}

static void b64(char *out, size_t outlen, const uint8_t *p, size_t n)
{
	sodium_bin2base64(out, outlen, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header "\n" payload → a signed token in out. */
static void sign_parts(const uint8_t *data, size_t size, char *out, size_t outlen)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hn = nl ? (size_t)(nl - data) : 0, n;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	b64(out, outlen, data, hn);
	n = strlen(out);
	out[n++] = '.';
	b64(out + n, outlen - n, nl ? nl + 1 : data, nl ? size - hn - 1 : size);
	n += strlen(out + n);
	crypto_auth_hmacsha256_init(&st, key, KEYLEN);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, n);
	crypto_auth_hmacsha256_final(&st, mac);
	out[n++] = '.';
	b64(out + n, outlen - n, mac, sizeof(mac));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	static char signed_tok[8192];
	struct jwt_claims c;
	struct err e = { 0 };
	char *s;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = 1;
	}
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (jwt_verify(key, KEYLEN, s, NOW, JWT_LEEWAY, &c, &e) == 0)
		check(&c);
	free(s);
	if (size <= 2000) {
		sign_parts(data, size, signed_tok, sizeof(signed_tok));
		if (jwt_verify(key, KEYLEN, signed_tok, NOW, JWT_LEEWAY, &c, &e) == 0)
			check(&c);
		else if (strcmp(e.msg, "bad signature") == 0)
			abort(); /* we signed it */
	}
	return 0;
}
