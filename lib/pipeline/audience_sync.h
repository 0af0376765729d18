/*
 * audience_sync.h - the customer-list audience sync engine: who the
 * members are now, what changed since the last accepted upload, and the
 * requests that send the change, through a platform's audience ops
 * (destinations/audience.h).  It names no platform.
 *
 * Everything blocks (libpq, net_fetch): for adsengctl and the daemon's
 * control thread, never an event loop thread.  The OAuth2 access token is
 * obtained with a blocking refresh through the destination's auth hook
 * (dest_ops.auth_grant) and used for one sync only; the daemon's token
 * cache (net/oauth.h) belongs to the workers' loops.
 */
#ifndef ADSENG_PIPELINE_AUDIENCE_SYNC_H
#define ADSENG_PIPELINE_AUDIENCE_SYNC_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/vault.h"

/* What a sync runs with; everything borrowed. */
struct oauth_cache;

struct audience_sync_ctx {
	PGconn *conn;
	const struct config *cfg;
	const struct vault *vault;
	/* The daemon's token cache (shared with its workers); NULL = one of
	 * the sync's own (the CLI). */
	struct oauth_cache *oauth;
	/* Optional: members sent so far of those to send, after each chunk
	 * (a CLI's progress line). */
	void (*progress)(void *arg, size_t done, size_t total);
	void *progress_arg;
	/* Asked between requests; true stops the sync where it is (what was
	 * accepted so far is recorded; the rest goes next time).  NULL = never. */
	bool (*should_stop)(void *arg);
	void *stop_arg;
};

struct audience_sync_counts {
	size_t added;	  /* members sent and accepted */
	size_t removed;	  /* removals sent and accepted */
	size_t unchanged; /* members already sent as they are */
	size_t skipped;	  /* customers with nothing to match on */
};

/*
 * Sync one audience now: take its advisory lock (ERR_BUSY when another
 * session syncs it), compute additions (members never sent, removed
 * before, or changed) and removals (sent members no longer customers of
 * its sources, or whose latest conversion denies ad_user_data), send them
 * in chunks of the platform's size, and record each chunk only after the
 * platform accepted it, so a failed sync sends the rest again next time.
 * The audience's last_sync_at and last_error are updated: a refused grant
 * (invalid_grant, not authorized) leaves "reauthorize: …" and stops.
 * *out counts what was done even on failure.  0, or the failure (its
 * message in e).
 */
int audience_sync_one(const struct audience_sync_ctx *ctx, int64_t audience_id,
		      struct audience_sync_counts *out, struct err *e) WUR;

/*
 * The daemon's periodic round: when no other daemon runs one (a session
 * advisory lock), sync every audience whose last sync ended interval_ms
 * ago or more.  Failures of single audiences are logged and recorded on
 * them; the return value is 0 unless the round itself failed (database).
 */
int audience_sync_due(const struct audience_sync_ctx *ctx, int64_t interval_ms, struct err *e) WUR;

/* Create a customer list named name on destination dest_id's platform;
 * its id goes to list_id[0..len).  ERR_CONFIG when the destination's kind
 * has no audiences. */
int audience_sync_create_list(const struct audience_sync_ctx *ctx, const char *dest_id,
			      const char *name, char *list_id, size_t len, struct err *e) WUR;

#endif
