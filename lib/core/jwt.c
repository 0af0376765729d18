/*
 * jwt.c - HS256 compact JWS: sign and strictly verify (see jwt.h).
 *
 * Verification order: shape (three base64url parts, two dots, size cap),
 * header (a JSON object whose alg is exactly "HS256", typ absent or
 * "JWT", no crit), MAC over the first two parts as sent (constant time),
 * then the claims.  Only after the MAC do we believe anything in the
 * payload.  base64url is decoded by libsodium without padding
 * (RFC 7515 §2: "base64url ... with all trailing '=' characters
 * omitted"); JSON by cJSON, which must consume the whole text.  A claim
 * given twice is refused rather than guessing which one counts.
 */
#include "core/jwt.h"
#include "core/secret_file.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LEN	   crypto_auth_hmacsha256_BYTES
#define KEY_MIN	   32					  /* RFC 7518 §3.2: key >= hash output */
#define NUM_MAX	   9007199254740991.0			  /* 2^53 - 1: exact in a double */
#define HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" /* {"alg":"HS256","typ":"JWT"} */

int jwt_key_load(const char *path, char **key, size_t *keylen, struct err *e)
{
	const char *credsdir = getenv("CREDENTIALS_DIRECTORY");
	char full[1024];
	int rc;

	if (path == NULL || path[0] == '\0')
		return err_set(e, ERR_CONFIG, "[security] jwt_secret_file is not set");
	if (path[0] != '/' && credsdir != NULL)
		snprintf(full, sizeof(full), "%s/%s", credsdir, path);
	else
		snprintf(full, sizeof(full), "%s", path);
	rc = secret_file_read(full, 4096, key, keylen, e);
	if (rc != 0)
		return rc;
	if (*keylen < KEY_MIN) {
		sodium_free(*key);
		*key = NULL;
		return err_set(e, ERR_CONFIG,
			       "[security] jwt_secret_file %s is shorter than %d bytes", full,
			       KEY_MIN);
	}
	return 0;
}

bool jwt_sub_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= JWT_SUB_MAX)
		return false;
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
			return false;
	}
	return true;
}

const char *jwt_role_name(enum jwt_role r)
{
	return r == JWT_ROLE_ADMIN ? "admin" : "agency";
}

int jwt_role_parse(const char *s, enum jwt_role *out)
{
	if (s && strcmp(s, "agency") == 0)
		*out = JWT_ROLE_AGENCY;
	else if (s && strcmp(s, "admin") == 0)
		*out = JWT_ROLE_ADMIN;
	else
		return ERR_INVALID;
	return 0;
}

static void mac_of(const unsigned char *key, size_t keylen, const char *text, size_t n,
		   unsigned char mac[MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)text, n);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/* ---- signing ------------------------------------------------------------------- */

static char *claims_json(const struct jwt_claims *c)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;
	bool ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "sub", c->sub) != NULL;
	ok = ok && cJSON_AddStringToObject(o, "role", jwt_role_name(c->role)) != NULL;
	if (c->tenant)
		ok = ok && cJSON_AddNumberToObject(o, "tenant", (double)c->tenant) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "iat", (double)c->iat) != NULL;
	if (c->nbf)
		ok = ok && cJSON_AddNumberToObject(o, "nbf", (double)c->nbf) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "exp", (double)c->exp) != NULL;
	if (ok)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

int jwt_sign(const unsigned char *key, size_t keylen, const struct jwt_claims *c, char **out,
	     struct err *e)
{
	unsigned char mac[MAC_LEN];
	char *payload = NULL, *tok = NULL;
	size_t plen, b64len, cap, n;
	int rc = ERR_INVALID;

	if (keylen < KEY_MIN)
		return err_set(e, ERR_INVALID, "the JWT secret is shorter than %d bytes", KEY_MIN);
	if (!jwt_sub_is_valid(c->sub) || (c->role == JWT_ROLE_AGENCY && c->tenant <= 0))
		return err_set(e, ERR_INVALID,
			       "a token needs a subject, and a tenant unless admin");
	payload = claims_json(c);
	if (payload == NULL) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	plen = strlen(payload);
	b64len = sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	cap = sizeof(HEADER_B64) + 1 + b64len + 1 +
	      sodium_base64_ENCODED_LEN(MAC_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	tok = malloc(cap);
	if (tok == NULL) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	n = (size_t)snprintf(tok, cap, "%s.", HEADER_B64);
	sodium_bin2base64(tok + n, cap - n, (const unsigned char *)payload, plen,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n += strlen(tok + n);
	mac_of(key, keylen, tok, n, mac);
	tok[n++] = '.';
	sodium_bin2base64(tok + n, cap - n, mac, sizeof(mac),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*out = tok;
	tok = NULL;
	rc = 0;
out:
	cJSON_free(payload);
	free(tok);
	return rc;
}

/* ---- verifying ------------------------------------------------------------------ */

/* Decode one base64url part into a NUL-terminated JSON object. */
static cJSON *part_json(const char *b64, size_t n)
{
	size_t cap = n * 3 / 4 + 2, len = 0;
	unsigned char *bin = malloc(cap);
	const char *end = NULL;
	cJSON *j = NULL;

	if (bin == NULL)
		return NULL;
	if (sodium_base642bin(bin, cap - 1, b64, n, NULL, &len, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != b64 + n)
		goto out;
	bin[len] = '\0';
	if (memchr(bin, '\0', len) != NULL)
		goto out; /* cJSON would stop there */
	j = cJSON_ParseWithOpts((const char *)bin, NULL, true);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = NULL;
	}
out:
	free(bin);
	return j;
}

/* The member name of o, NULL when absent; *dup when given twice. */
static cJSON *member(const cJSON *o, const char *name, bool *dup)
{
	cJSON *found = NULL, *it;

	cJSON_ArrayForEach (it, o) {
		if (it->string && strcmp(it->string, name) == 0) {
			if (found)
				*dup = true;
			found = it;
		}
	}
	return found;
}

static int check_header(const cJSON *h, struct err *e)
{
	bool dup = false;
	const cJSON *alg = member(h, "alg", &dup);
	const cJSON *typ = member(h, "typ", &dup);

	if (dup)
		return err_set(e, ERR_AUTH, "malformed token: repeated header field");
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0)
		return err_set(e, ERR_AUTH, "alg must be HS256");
	if (typ && (!cJSON_IsString(typ) || strcmp(typ->valuestring, "JWT") != 0))
		return err_set(e, ERR_AUTH, "typ must be JWT");
	if (member(h, "crit", &dup))
		return err_set(e, ERR_AUTH, "crit is not supported");
	return 0;
}

/* An integral number claim in [0, 2^53); *present false when absent. */
static int num_claim(const cJSON *p, const char *name, bool *present, int64_t *out, struct err *e)
{
	bool dup = false;
	const cJSON *v = member(p, name, &dup);

	*present = v != NULL;
	*out = 0;
	if (v == NULL)
		return 0;
	/* NaN fails both range comparisons. */
	if (dup || !cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= NUM_MAX) ||
	    (double)(int64_t)v->valuedouble != v->valuedouble)
		return err_set(e, ERR_AUTH, "claim %s must be a whole number", name);
	*out = (int64_t)v->valuedouble;
	return 0;
}

static int str_claim(const cJSON *p, const char *name, char *out, size_t outlen, struct err *e)
{
	bool dup = false;
	const cJSON *v = member(p, name, &dup);
	size_t n;

	if (dup || !cJSON_IsString(v))
		return err_set(e, ERR_AUTH, "claim %s must be one string", name);
	n = strlen(v->valuestring);
	if (n == 0 || n >= outlen)
		return err_set(e, ERR_AUTH, "claim %s is empty or too long", name);
	memcpy(out, v->valuestring, n + 1);
	return 0;
}

static int check_claims(const cJSON *p, int64_t now, int64_t leeway, struct jwt_claims *c,
			struct err *e)
{
	char role[16];
	bool has_exp, has_nbf, has_iat, has_tenant;
	int rc;

	if ((rc = num_claim(p, "exp", &has_exp, &c->exp, e)) != 0 ||
	    (rc = num_claim(p, "nbf", &has_nbf, &c->nbf, e)) != 0 ||
	    (rc = num_claim(p, "iat", &has_iat, &c->iat, e)) != 0 ||
	    (rc = num_claim(p, "tenant", &has_tenant, &c->tenant, e)) != 0)
		return rc;
	if (!has_exp)
		return err_set(e, ERR_AUTH, "claim exp is required");
	if (now - leeway >= c->exp)
		return err_set(e, ERR_AUTH, "token expired");
	if (has_nbf && c->nbf > now + leeway)
		return err_set(e, ERR_AUTH, "token not valid yet (nbf)");
	if (has_iat && c->iat > now + leeway)
		return err_set(e, ERR_AUTH, "token issued in the future (iat)");
	if ((rc = str_claim(p, "sub", c->sub, sizeof(c->sub), e)) != 0 ||
	    (rc = str_claim(p, "role", role, sizeof(role), e)) != 0)
		return rc;
	if (!jwt_sub_is_valid(c->sub))
		return err_set(e, ERR_AUTH, "claim sub has control characters or quotes");
	if (jwt_role_parse(role, &c->role) != 0)
		return err_set(e, ERR_AUTH, "claim role must be agency or admin");
	if (c->role == JWT_ROLE_AGENCY && c->tenant <= 0)
		return err_set(e, ERR_AUTH, "an agency token needs a tenant");
	return 0;
}

/* Split at the two dots; false unless exactly three non-empty parts. */
static bool split3(const char *t, size_t *dot1, size_t *dot2)
{
	const char *a = strchr(t, '.'), *b = a ? strchr(a + 1, '.') : NULL;

	if (a == NULL || b == NULL || strchr(b + 1, '.') != NULL || a == t || b == a + 1 ||
	    b[1] == '\0')
		return false;
	*dot1 = (size_t)(a - t);
	*dot2 = (size_t)(b - t);
	return true;
}

static int check_mac(const unsigned char *key, size_t keylen, const char *t, size_t dot2,
		     struct err *e)
{
	unsigned char want[MAC_LEN], got[MAC_LEN + 1];
	const char *sig = t + dot2 + 1, *end = NULL;
	size_t len = 0;
	int rc = 0;

	if (sodium_base642bin(got, sizeof(got), sig, strlen(sig), NULL, &len, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != sig + strlen(sig) || len != MAC_LEN)
		return err_set(e, ERR_AUTH, "malformed token signature");
	mac_of(key, keylen, t, dot2, want);
	if (crypto_verify_32(want, got) != 0)
		rc = err_set(e, ERR_AUTH, "bad signature");
	sodium_memzero(want, sizeof(want));
	return rc;
}

int jwt_verify(const unsigned char *key, size_t keylen, const char *token, int64_t now_s,
	       int64_t leeway_s, struct jwt_claims *out, struct err *e)
{
	struct jwt_claims c = { 0 };
	cJSON *h = NULL, *p = NULL;
	size_t dot1, dot2;
	int rc = ERR_AUTH;

	if (token == NULL || strnlen(token, JWT_MAX + 1) > JWT_MAX || !split3(token, &dot1, &dot2))
		return err_set(e, ERR_AUTH, "malformed token");
	h = part_json(token, dot1);
	if (h == NULL) {
		rc = err_set(e, ERR_AUTH, "malformed token header");
		goto out;
	}
	rc = check_header(h, e);
	if (rc == 0)
		rc = check_mac(key, keylen, token, dot2, e);
	if (rc != 0)
		goto out;
	p = part_json(token + dot1 + 1, dot2 - dot1 - 1);
	if (p == NULL) {
		rc = err_set(e, ERR_AUTH, "malformed token payload");
		goto out;
	}
	rc = check_claims(p, now_s, leeway_s, &c, e);
	if (rc == 0)
		*out = c;
out:
	cJSON_Delete(h);
	cJSON_Delete(p);
	return rc;
}
