/*
 * worker_int.h - the worker's state, shared by worker.c (loop, connection,
 * LISTEN) and the two stages (stage_normalize.c, stage_deliver.c).
 * Everything here is touched only from the worker's own thread.
 */
#ifndef ADSENG_PIPELINE_WORKER_INT_H
#define ADSENG_PIPELINE_WORKER_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/log.h"
#include "net/uploader.h"
#include "pipeline/dest_cache.h"
#include "pipeline/dest_health.h"
#include "pipeline/dest_slots.h"
#include "pipeline/runtime.h"
#include "store/db.h"

struct event;
struct event_base;
struct upload_ctx;

struct worker {
	struct runtime *rt;
	int index;
	pthread_t thread;
	struct event_base *base;
	struct uploader *up;
	PGconn *conn;		/* link.conn, or NULL while disconnected */
	struct db_link link;	/* connects, reconnects, cancels on stop */
	struct event *pg_ev;	/* LISTEN socket readable */
	struct event *poll_ev;	/* poll interval */
	struct event *kick_ev;	/* run a cycle soon */
	struct event *retry_ev; /* reconnect timer */
	struct event *stop_ev;	/* activated by the main thread */
	struct event *grace_ev; /* shutdown deadline */
	struct event *beat_ev;	/* stamps the heartbeat, also when idle */
	int beat;		/* heartbeat slot (runtime beats) */
	atomic_bool ended;	/* the loop has returned (main thread reads) */
	struct config *cfg;	/* snapshot for the current cycle */
	struct dest_cache dests;
	struct upload_ctx *live; /* uploads in flight (for release on stop) */
	/* Requests in flight per destination, and the built groups waiting
	 * for an upload slot ([workers] max_inflight) or for room under their
	 * destination's limit (dest_max_inflight), per destination, oldest
	 * first; their deliveries are claimed (in_flight). */
	struct dest_slots slots;
	/* Built groups waiting for an access token (OAuth2 destinations);
	 * auth_ev is activated (from any thread) when a refresh ends. */
	struct upload_ctx *authwait_head, *authwait_tail;
	struct event *auth_ev;
	struct dest_health health;
	bool stopping;
	bool more_raw; /* last stage 1 batch was full */
	bool more_due; /* last claim was full */
	bool in_cycle;
	struct log_ratelimit rl_db;
	struct log_ratelimit rl_up;
	/* When stage_adjust may claim again (clock_mono_ms): once per poll
	 * interval, not on every cycle of the conversion path. */
	int64_t next_adjust_ms;
};

/* Ask for a cycle on the next loop iteration (coalesced). */
void worker_kick(struct worker *w);

/* Note a failed statement: logs, rate limited; drops the connection if it
 * is broken (a reconnect is scheduled), else rolls back a transaction the
 * failure aborted (a statement or lock timeout is not fatal to it). */
void worker_db_error(struct worker *w, const char *what, const struct err *e);

/* During shutdown: once no upload is left, release and leave the loop. */
void worker_check_stopped(struct worker *w);

/* Stage 1: normalize up to one batch.  Returns the number of raw events
 * handled, or a negative error (connection trouble). */
int stage_normalize_run(struct worker *w);

/* One delivery ready to be uploaded: claimed from the queue (payload set)
 * or just created by stage 1 (conv set, a reference the item owns). */
struct deliver_item {
	int64_t id;
	int32_t attempts; /* as claimed */
	const char *destination_id;
	int64_t conversion_id;
	struct conversion *conv;
	const char *payload;
};

/* Filter, batch and start uploads for items (sorted by destination);
 * takes every item's conversion reference. */
void stage_deliver_items(struct worker *w, struct deliver_item *items, size_t n);

/* Stage 2: claim one batch and start its uploads.  Returns the number of
 * deliveries claimed, or a negative error. */
int stage_deliver_run(struct worker *w);

/* Stage 2 for adjustments (stage_adjust.c): claim one batch of due
 * adjustment deliveries and start their uploads.  Returns how many were
 * claimed, or a negative error. */
int stage_adjust_run(struct worker *w);

/* Whether another upload may start now: a free slot under max_inflight
 * and no waiting request that could take it (requests of a destination at
 * its own limit do not count).  Claim only while this is true. */
bool stage_deliver_has_room(const struct worker *w);

/* Start waiting uploads while slots are free (not while stopping or
 * without a connection). */
void stage_deliver_start_queued(struct worker *w);

/* A token refresh ended (auth_ev): send the groups that waited for it. */
void stage_deliver_auth_ready(struct worker *w);

/* Stage 2 shutdown, at once: give back the leases of what waits for a
 * slot or a token (another daemon may take them now).  The connection
 * stays. */
void stage_deliver_release_waiting(struct worker *w);

/* Stage 2 shutdown, at the end: give back the leases of everything still
 * in flight or waiting; closes the connection. */
void stage_deliver_release_all(struct worker *w);

#endif
