/*
 * oauth_state.h - the OAuth2 consent flow as pure functions: the signed,
 * expiring `state` parameter that carries a destination through the
 * platform's consent page and back to our callback, and the consent URL.
 *
 *   state   = base64url(payload) "." base64url(HMAC-SHA256(key, payload))
 *             (no padding; 99 characters)
 *   payload = version 1 (1 byte) | destination uuid (16 bytes)
 *             | expiry, unix seconds (8 bytes, big endian)
 *             | nonce (16 random bytes)
 *
 * The key is derived from the master key (vault_derive_key with
 * OAUTH_STATE_KDF_CONTEXT), so the master key itself never signs.  The
 * signature and the expiry are checked here, fast and without I/O, so the
 * HTTP loop thread can refuse a forged or stale state at once; single use
 * is the database's part: the nonce is a row of oauth_states that
 * `adsengctl destination authorize` inserts and the callback consumes.
 * The state also is the CSRF protection of RFC 6749 §10.12: a callback
 * whose state we did not issue is refused.
 *
 * Google's authorization request (the consent URL):
 * https://developers.google.com/identity/protocols/oauth2/web-server#creatingclient
 */
#ifndef ADSENG_CORE_OAUTH_STATE_H
#define ADSENG_CORE_OAUTH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

/* vault_derive_key context of the state's MAC key (8 characters). */
#define OAUTH_STATE_KDF_CONTEXT "oauthsta"
#define OAUTH_STATE_KEY_LEN	32
#define OAUTH_STATE_NONCE_LEN	16
/* Longer input is refused before it is decoded (the token is 99). */
#define OAUTH_STATE_MAX 128

struct oauth_state {
	char dest_id[37];   /* lowercase uuid text */
	int64_t expires_at; /* unix seconds */
	unsigned char nonce[OAUTH_STATE_NONCE_LEN];
};

enum oauth_state_verdict {
	OAUTH_STATE_VALID,
	OAUTH_STATE_MALFORMED, /* not a state of ours: size, base64, layout */
	OAUTH_STATE_FORGED,    /* well-formed, but the MAC does not match */
	OAUTH_STATE_EXPIRED    /* ours and intact, but past its expiry */
};

/*
 * A new state for destination dest_id (a uuid, any case) expiring at
 * expires_at, with a fresh random nonce.  ERR_INVALID when dest_id is not
 * a uuid.  Any thread (libsodium initialized).
 */
int oauth_state_new(const char *dest_id, int64_t expires_at, struct oauth_state *st,
		    struct err *e) WUR;

/* The token of st signed with key, NUL-terminated in out. */
void oauth_state_sign(const unsigned char key[OAUTH_STATE_KEY_LEN], const struct oauth_state *st,
		      char out[OAUTH_STATE_MAX + 1]);

/*
 * Check token: size, encoding, the MAC (constant time, before anything of
 * the payload is read), the layout, then the expiry against now (unix
 * seconds; expired when now >= expires_at).  *out is filled only for
 * OAUTH_STATE_VALID and OAUTH_STATE_EXPIRED.  Any thread.
 */
enum oauth_state_verdict oauth_state_verify(const unsigned char key[OAUTH_STATE_KEY_LEN],
					    const char *token, int64_t now,
					    struct oauth_state *out);

/* The nonce as 32 lowercase hex digits (the oauth_states key). */
void oauth_state_nonce_hex(const struct oauth_state *st, char out[2 * OAUTH_STATE_NONCE_LEN + 1]);

/* A provider name as it appears in the callback path (/oauth/NAME/callback)
 * and as a config section: 1 to 15 of [a-z0-9_]. */
bool oauth_provider_is_valid(const char *name);

/* {public_url}/oauth/{provider}/callback, public_url's trailing slashes
 * dropped (malloc'd). */
char *oauth_redirect_uri(const char *public_url, const char *provider);

/* Whether every scope of need is among granted (both space separated, as
 * in the consent URL and the token answer's "scope"): with granular
 * consent the user may untick a scope, and a token without it is useless
 * to the destination. */
bool oauth_scopes_granted(const char *need, const char *granted);

/* What a consent URL is made of; every string borrowed. */
struct oauth_consent {
	const char *auth_url; /* [google] auth_url; may already carry a query */
	const char *client_id;
	const char *redirect_uri;
	const char *scopes; /* space separated */
	const char *state;
};

/*
 * The consent URL: auth_url ? client_id & redirect_uri & response_type=code
 * & scope & access_type=offline & prompt=consent & include_granted_scopes=true
 * & state, every value form-encoded, appended to out.  access_type=offline
 * asks for a refresh token and prompt=consent makes Google issue one again
 * for an account that consented before.  ERR_INVALID when a part is missing
 * or empty, or auth_url is not http(s).
 */
int oauth_consent_url(struct buf *out, const struct oauth_consent *c, struct err *e) WUR;

#endif
