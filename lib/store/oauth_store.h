/*
 * oauth_store.h - the database side of the OAuth2 consent flow: the
 * single-use nonces of consent states (sql/0004_oauth_state.sql) and the
 * storing of a new refresh token.
 *
 * `adsengctl destination authorize` records a state (oauth_store_state_add);
 * the callback thread of the HTTP server consumes it
 * (oauth_store_state_consume), exchanges the code, and stores the refresh
 * token (oauth_store_refresh_token), which also releases a destination
 * paused because its old grant was refused.
 *
 * Blocking; the connection belongs to the calling thread.
 */
#ifndef ADSENG_STORE_OAUTH_STORE_H
#define ADSENG_STORE_OAUTH_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/oauth_state.h"
#include "core/vault.h"

/* The paused_reason prefix the pipeline sets when the platform refuses the
 * refresh token (invalid_grant); a new token releases such a pause. */
#define OAUTH_PAUSE_REASON_PREFIX "reauthorize"

/* How long a used or expired state is kept (to say "already used"). */
#define OAUTH_STATE_KEEP "1 day"

/*
 * One transaction: purge states that expired over OAUTH_STATE_KEEP ago,
 * insert st's nonce for st->dest_id with its expiry and redirect_uri, and
 * write the audit row ("destination.authorize").  0 or ERR_DB.
 */
int oauth_store_state_add(PGconn *conn, const char *actor, const struct oauth_state *st,
			  const char *redirect_uri, struct err *e) WUR;

/*
 * Consume st's nonce in one statement (used once, unexpired, for that
 * destination): 0 with *redirect_uri (malloc'd) the one the consent URL
 * named.  ERR_NOTFOUND when the state cannot be used, with a message fit
 * for the user: "this link was already used", "this link expired", "this
 * link is not known"; nothing changes then.  ERR_DB when the database
 * failed.
 */
int oauth_store_state_consume(PGconn *conn, const struct oauth_state *st, char **redirect_uri,
			      struct err *e) WUR;

/* What storing a refresh token did. */
struct oauth_stored {
	bool resumed;	  /* it was paused for reauthorization and now runs */
	int64_t released; /* held deliveries moved back to pending */
};

/*
 * One transaction: lock destination dest_id, open its credentials with v,
 * set "refresh_token" to refresh_token (every other field kept), seal and
 * store them (the destinations trigger NOTIFYs adseng_catalog, so workers
 * drop their cached copy at COMMIT); when the destination is paused with a
 * reason starting with OAUTH_PAUSE_REASON_PREFIX, resume it and release its
 * held deliveries (admin_destination_resume_in_tx, as `adsengctl
 * destination resume`); write the audit row ("destination.authorized",
 * never the token).  ERR_NOTFOUND when the destination is gone, ERR_CRYPTO
 * when its credentials do not open, ERR_DB.
 */
int oauth_store_refresh_token(PGconn *conn, const struct vault *v, const char *actor,
			      const char *dest_id, const char *refresh_token,
			      struct oauth_stored *out, struct err *e) WUR;

#endif
