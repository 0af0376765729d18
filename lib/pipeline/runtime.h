/*
 * runtime.h - what every thread of the daemon shares: the current config
 * snapshot (swapped on SIGHUP, read under a short lock and then used
 * through a reference), the vault (immutable after start), the OAuth2
 * token cache (thread-safe), once the daemon stops, the deadline every
 * thread's stop is bounded by, and what the service manager is told: the
 * threads' progress stamps (core/heartbeat.h, for the watchdog) and the
 * numbers of the status line (core/svc_status.h).  No libsystemd here: the
 * daemon's main does the notifying.
 */
#ifndef ADSENG_PIPELINE_RUNTIME_H
#define ADSENG_PIPELINE_RUNTIME_H

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/heartbeat.h"
#include "core/svc_status.h"
#include "core/vault.h"
#include "net/oauth.h"

struct runtime {
	pthread_mutex_t cfg_mu;
	struct config *cfg;
	struct vault *vault;
	struct oauth_cache *oauth; /* access tokens of OAuth2 destinations */
	/* Monotonic ms, 0 until runtime_begin_stop(): wait for threads until
	 * cancel_at, then cancel their statements; give up at deadline. */
	_Atomic int64_t stop_cancel_at_ms;
	_Atomic int64_t stop_deadline_ms;
	atomic_int stuck; /* threads left running at the deadline */
	/* Loop, ingest writers and workers stamp their progress here. */
	struct heartbeats beats;
	/* Deliveries recorded delivered since start (workers add). */
	_Atomic int64_t delivered;
	pthread_mutex_t status_mu; /* guards counts */
	struct svc_counts counts;  /* written by the control thread */
};

/* Takes ownership of one reference to cfg; vault stays the caller's. */
void runtime_init(struct runtime *rt, struct config *cfg, struct vault *vault);
void runtime_cleanup(struct runtime *rt);

/* A new reference to the current config (config_unref when done). */
struct config *runtime_config(struct runtime *rt);

/* Publish a new config (takes ownership of one reference). */
void runtime_set_config(struct runtime *rt, struct config *cfg);

/* Main thread: the daemon stops; everything must be done within
 * timeout_ms from now (the last fifth, 0.5 to 3 s, is left for canceling
 * statements that hold threads up).  Only the first call counts. */
void runtime_begin_stop(struct runtime *rt, int64_t timeout_ms);

/* Main thread, a second stop signal: stop now.  The cancel point moves to
 * at most RUNTIME_HURRY_MS / 2 from now and the deadline to at most RUNTIME_HURRY_MS from now:
 * uploads are given up and their leases released at once, statements still running are canceled.
 * What is committed stays committed; a webhook whose COMMIT had not returned gets no answer, and
 * its sender retries it (the dedup key makes that safe).  Begins the stop if none was begun. */
#define RUNTIME_HURRY_MS 2000
void runtime_hurry(struct runtime *rt);

/* Control thread: publish fresh status numbers. */
void runtime_set_counts(struct runtime *rt, const struct svc_counts *c);

/* A copy of the last published status numbers (known = false before). */
void runtime_get_counts(struct runtime *rt, struct svc_counts *out);

/* Note a thread that did not stop by the deadline and was left behind:
 * the process must exit without freeing what threads share. */
void runtime_note_stuck(struct runtime *rt);

struct db_link;

/*
 * Join a thread whose database work goes through link, by the stop's
 * deadline: its statement is canceled at the cancel time, and at the
 * deadline it is left behind (logged as `what`, noted stuck).  true when
 * it was joined and what it uses may be freed.  rt may be NULL (no
 * deadline: wait).
 */
bool runtime_join_thread(struct runtime *rt, pthread_t thread, struct db_link *link,
			 const char *what);

#endif
