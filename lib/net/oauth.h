/*
 * oauth.h - the daemon's OAuth2 access-token cache: one per daemon, shared
 * by every worker thread, keyed by destination.
 *
 * A worker asks for a destination's token before it builds a request.  A
 * fresh cached token is copied out at once.  Otherwise one refresh is
 * started (on the asking worker's uploader, so it never blocks a loop) and
 * every later asker for the same key — on any thread — joins it instead of
 * starting its own: no thundering herd when a token expires under load.
 * When the refresh ends, each waiter's wake event is activated (libevent's
 * event_active is thread-safe once evthread_use_pthreads ran) and the
 * waiter asks again.
 *
 * Tokens are cached until expires_in minus a margin (a few minutes, less
 * for short-lived tokens).  A refused grant (invalid_grant) is remembered
 * until the grant changes (a new refresh token after re-authorization:
 * the key includes the grant's fingerprint); a transient failure for a few
 * seconds, so a dead token server is not hammered by every claim.
 */
#ifndef ADSENG_NET_OAUTH_H
#define ADSENG_NET_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/oauth_grant.h"

struct event;
struct oauth_cache;
struct uploader;

#define OAUTH_PENDING	   1	/* oauth_cache_get: a refresh is under way */
#define OAUTH_TOKEN_MAX	   4096 /* bytes of an access token, without the NUL */
#define OAUTH_FAIL_HOLD_MS 3000 /* a transient failure is answered for this long */

/* Counters for stats and metrics. */
struct oauth_stats {
	uint64_t refreshes;	 /* refresh requests sent */
	uint64_t refresh_failed; /* of which failed (any reason) */
	uint64_t grants_refused; /* of which refused the grant (invalid_grant …) */
	uint64_t joined;	 /* askers that waited for another's refresh */
	uint64_t invalidated;	 /* tokens dropped after a 401 */
};

int oauth_cache_new(struct oauth_cache **out, struct err *e) WUR;
/* After every user is gone (workers joined).  NULL is a no-op. */
void oauth_cache_free(struct oauth_cache *c);

/*
 * An access token for key (a destination id) and grant g.  Any thread.
 *   0              a fresh token, copied into tok (NUL-terminated);
 *   OAUTH_PENDING  a refresh is under way (started now on up, or joined):
 *                  wake will be activated once when it ends; ask again;
 *   ERR_AUTH       the token server refused the grant (e says why): only
 *                  a new refresh token helps;
 *   ERR_CONFIG     the grant is incomplete (no refresh token yet);
 *   ERR_IO         the last refresh failed transiently (e says why), or
 *                  the refresh could not be started: try later.
 * tok must hold OAUTH_TOKEN_MAX + 1 bytes.  up and wake belong to the
 * calling thread's loop.
 */
int oauth_cache_get(struct oauth_cache *c, const char *key, const struct oauth_grant *g,
		    struct uploader *up, struct event *wake, char *tok, struct err *e);

/*
 * oauth_cache_get for threads without an event loop (the control thread):
 * waits up to timeout_ms for a refresh, its own (sent on a private
 * uploader) or another thread's.  0 with the token, or ERR_AUTH /
 * ERR_CONFIG / ERR_IO as oauth_cache_get (ERR_IO also on timeout).
 */
int oauth_cache_get_wait(struct oauth_cache *c, const char *key, const struct oauth_grant *g,
			 int64_t timeout_ms, char *tok, struct err *e);

/* The platform refused tok (HTTP 401): drop it if it is still the cached
 * token of key, so the next get refreshes.  Any thread. */
void oauth_cache_invalidate(struct oauth_cache *c, const char *key, const char *tok);

/* Never activate wake again (its worker is stopping).  Any thread. */
void oauth_cache_forget_waiter(struct oauth_cache *c, struct event *wake);

void oauth_cache_stats(struct oauth_cache *c, struct oauth_stats *out);

#endif
