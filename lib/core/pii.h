/*
 * pii.h - normalization and SHA-256 hashing of personal identifiers, per
 * platform hashing scheme (PLATFORMS.md).
 *
 * Meta's rules are the reference (its official SDK's outputs are the test
 * vectors in fixtures/meta_pii_vectors.json); Google's (Google Ads, GA4,
 * Data Manager) differ on phones (E.164 with '+'), gmail dots, and which
 * address fields stay in the clear.  TikTok's (Events API) carry only
 * email, phone (E.164 with '+', as Google's) and external_id, all hashed.
 * A new scheme is one more enum value and one more rule table in pii.c.
 */
#ifndef ADSENG_CORE_PII_H
#define ADSENG_CORE_PII_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

enum pii_scheme { PII_SCHEME_META, PII_SCHEME_GOOGLE, PII_SCHEME_TIKTOK, PII_SCHEME__COUNT };

enum pii_field {
	PII_EMAIL,
	PII_PHONE,
	PII_FIRST_NAME,
	PII_LAST_NAME,
	PII_CITY,
	PII_REGION,
	PII_POSTAL,
	PII_COUNTRY,
	PII_EXTERNAL_ID,
	PII_FIELD__COUNT
};

#define PII_HASH_HEX_LEN 64

/* "meta" / "google" / "tiktok". */
const char *pii_scheme_name(enum pii_scheme s);
/* The key a scheme uses for a field: Meta "em","ph","fn","ln","ct","st",
 * "zp","country","external_id"; Google and TikTok "email","phone",
 * "first_name","last_name","city","region","postal_code","country",
 * "external_id". */
const char *pii_field_key(enum pii_scheme s, enum pii_field f);
/* Look up a field by its scheme key; -1 if unknown. */
int pii_field_by_key(enum pii_scheme s, const char *key);

/* Whether the scheme sends this field hashed (else normalized clear text). */
bool pii_is_hashed(enum pii_scheme s, enum pii_field f);

/* Whether the scheme carries this field at all (TikTok: email, phone and
 * external_id only).  pii_normalize and pii_prepare refuse the others. */
bool pii_scheme_carries(enum pii_scheme s, enum pii_field f);

/*
 * Normalize `in` per the scheme's rules into out (NUL-terminated).
 * ERR_INVALID when the value cannot be a valid identifier (Meta: an email
 * without '@', a phone with fewer than 7 digits).  A value that already is
 * 64 hex characters is passed through lower-cased (already hashed).
 */
int pii_normalize(enum pii_scheme s, enum pii_field f, const char *in, char *out, size_t outlen,
		  struct err *e) WUR;

/*
 * Normalize and, if the scheme hashes this field, SHA-256 to lowercase hex.
 * out must hold 65 bytes for hashed fields; outlen bounds clear output.
 */
int pii_prepare(enum pii_scheme s, enum pii_field f, const char *in, char *out, size_t outlen,
		struct err *e) WUR;

/* SHA-256 of a string as 64 lowercase hex + NUL. */
void pii_sha256_hex(const char *in, size_t len, char out[PII_HASH_HEX_LEN + 1]);

/* True if s is exactly 64 hex digits. */
bool pii_is_sha256_hex(const char *s);

#endif
