/*
 * jwt.h - the admin API's bearer tokens: compact JWS, HS256 only (RFC 7519,
 * RFC 7515), signed with the [security] jwt_secret_file key.
 *
 * The verifier is strict on purpose: the header must say "alg":"HS256"
 * (none and every other algorithm are refused before the MAC is looked
 * at, so a token cannot pick its own check), no "crit"; the payload must
 * carry exp, sub, role ("agency" or "admin") and, for agency, a tenant
 * id.  exp, nbf and iat are checked against the caller's clock with a
 * leeway for skew.  Tokens are issued by `adsengctl token create`, read
 * by http/admin_api.c.  Pure functions (no globals), but for
 * jwt_key_load, which reads the key file.
 */
#ifndef ADSENG_CORE_JWT_H
#define ADSENG_CORE_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define JWT_MAX	    4096 /* longest token accepted */
#define JWT_SUB_MAX 128	 /* with the NUL */
#define JWT_LEEWAY  60	 /* seconds of clock skew allowed on exp, nbf, iat */

enum jwt_role { JWT_ROLE_AGENCY, JWT_ROLE_ADMIN };

struct jwt_claims {
	char sub[JWT_SUB_MAX]; /* who: the audit actor */
	int64_t tenant;	       /* tenant id; 0 = none (admin only) */
	enum jwt_role role;
	int64_t iat, nbf, exp; /* unix seconds; nbf 0 = none */
};

/*
 * Read the [security] jwt_secret_file key (a relative path is looked up in
 * $CREDENTIALS_DIRECTORY when that is set, as for the master key) into
 * sodium_malloc memory: *key NUL-terminated, free with sodium_free.  At
 * least 32 bytes (ERR_CONFIG below), at most 4 KiB.  Blocking: a local file.
 */
int jwt_key_load(const char *path, char **key, size_t *keylen, struct err *e) WUR;

/* A subject we accept: 1..127 bytes, no control characters, no '"' or
 * '\\' (it goes into log lines and the audit log as the actor). */
bool jwt_sub_is_valid(const char *s);

/* "agency" / "admin"; jwt_role_parse: 0 or ERR_INVALID. */
const char *jwt_role_name(enum jwt_role r);
int jwt_role_parse(const char *s, enum jwt_role *out) WUR;

/*
 * Sign c with key (any length >= 32 bytes, per RFC 7518 §3.2) into *out
 * (malloc'd, caller frees).  iat and exp are written as given; nbf only
 * when non-zero; tenant only when non-zero.  0, ERR_INVALID (short key,
 * invalid sub, agency without tenant) or ERR_NOMEM.
 */
int jwt_sign(const unsigned char *key, size_t keylen, const struct jwt_claims *c, char **out,
	     struct err *e) WUR;

/*
 * Verify token (NUL-terminated, from anyone) with key at now_s (unix
 * seconds), allowing leeway_s of skew.  0 with *out filled, or ERR_AUTH
 * with a short reason that never quotes the token ("token expired", "alg
 * must be HS256", "bad signature", "malformed token", ...).
 */
int jwt_verify(const unsigned char *key, size_t keylen, const char *token, int64_t now_s,
	       int64_t leeway_s, struct jwt_claims *out, struct err *e) WUR;

#endif
