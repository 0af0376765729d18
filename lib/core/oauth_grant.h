/*
 * oauth_grant.h - the OAuth2 token endpoint as pure functions (RFC 6749
 * §4.1.3 and §6): what a client needs to get an access token, the request
 * that asks for one, and the classification of the answer.
 *
 * Destinations fill a grant from their credentials (dest_ops.auth_grant);
 * the daemon's token cache (net/oauth.h) sends the refresh request with the
 * uploader and caches the token; the consent callback sends the code
 * request.  No network here: unit tests and the fuzzer drive the parser.
 * Google's token endpoint is the reference
 * (https://developers.google.com/identity/protocols/oauth2/web-server#offline,
 * PLATFORMS.md "Google Ads API").
 */
#ifndef ADSENG_CORE_OAUTH_GRANT_H
#define ADSENG_CORE_OAUTH_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/upload.h"

/* Everything owned; secrets are wiped by oauth_grant_cleanup. */
struct oauth_grant {
	char *token_url; /* e.g. "https://oauth2.googleapis.com/token" */
	char *client_id;
	char *client_secret; /* secret */
	char *refresh_token; /* secret; NULL = not authorized yet */
};

void oauth_grant_cleanup(struct oauth_grant *g);

/* A short stable fingerprint of (token_url, client_id, refresh_token) as
 * 32 hex digits: the token cache's key part, so a destination that was
 * re-authorized (new refresh token) never gets the old grant's token. */
void oauth_grant_fingerprint(const struct oauth_grant *g, char out[33]);

/* The refresh request: POST token_url, form
 * grant_type=refresh_token&client_id&client_secret&refresh_token.
 * ERR_CONFIG when the grant lacks a part (refresh_token: "not authorized"). */
int oauth_refresh_request(const struct oauth_grant *g, struct upload_req *req, struct err *e) WUR;

/* The code exchange of the consent flow: POST token_url, form
 * grant_type=authorization_code&code&redirect_uri&client_id&client_secret. */
int oauth_code_request(const struct oauth_grant *g, const char *code, const char *redirect_uri,
		       struct upload_req *req, struct err *e) WUR;

/* A token endpoint's answer.  Owned; oauth_token_cleanup wipes. */
struct oauth_token {
	char *access_token;  /* secret */
	char *refresh_token; /* secret; only a code exchange returns one */
	int64_t expires_in_s;
	char *scope; /* granted scopes, may be NULL */
};

void oauth_token_cleanup(struct oauth_token *t);

/*
 * Classify the answer to a refresh or code request:
 *   0         a token (tok filled; expires_in defaults to 3600 when absent);
 *   ERR_AUTH  the grant itself is refused — invalid_grant (revoked or
 *             expired refresh token, used code), invalid_client,
 *             unauthorized_client, unsupported_grant_type, invalid_scope —
 *             so only an operator can help (re-authorize): the message
 *             names the error and the server's description;
 *   ERR_IO    anything else (transport error, 5xx, 429, garbage): retry
 *             later.
 * Messages never quote a token.
 */
int oauth_token_parse(const struct upload_resp *resp, struct oauth_token *tok, struct err *e);

#endif
