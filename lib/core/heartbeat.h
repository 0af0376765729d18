/*
 * heartbeat.h - proof of progress, for the service watchdog.
 *
 * Every thread whose wedging must get the daemon restarted (the HTTP loop,
 * each ingest writer, each worker) owns one slot and stamps it with the
 * monotonic clock each time its loop turns, also when idle (a timer or a
 * timed wait wakes it).  A thread stuck in a callback or a statement stops
 * stamping.  The pinger (the daemon's main loop) pings systemd's watchdog
 * only while every slot is recent, so one wedged thread is enough to have
 * the service restarted.  Stamps are atomics: no lock between threads.
 */
#ifndef ADSENG_CORE_HEARTBEAT_H
#define ADSENG_CORE_HEARTBEAT_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/err.h"

/* The loop, up to 16 ingest writers and 64 workers fit. */
#define HEARTBEAT_MAX	   96
#define HEARTBEAT_NAME_MAX 32
/* The stamp of a slot whose thread has ended on purpose: never stale. */
#define HEARTBEAT_RETIRED INT64_MAX

struct heartbeats {
	_Atomic int64_t at_ms[HEARTBEAT_MAX];
	char name[HEARTBEAT_MAX][HEARTBEAT_NAME_MAX];
	atomic_int n;
};

void heartbeats_init(struct heartbeats *h);

/*
 * Claim a slot named `name` ("worker-1"), stamped now; -1 when all are
 * taken (beats on -1 are no-ops, so the thread is simply not watched).
 * Main thread only, before the thread that beats it starts.
 */
int heartbeat_register(struct heartbeats *h, const char *name);

/* Stamp slot (any thread; the slot's own thread by convention). */
void heartbeat_beat(struct heartbeats *h, int slot);

/* The slot's thread ends on purpose (a stop): it is no longer watched. */
void heartbeat_retire(struct heartbeats *h, int slot);

/*
 * The pure check: the index of the first of at_ms[0..n) older than
 * max_age_ms at now_ms (a stamp in the future, or HEARTBEAT_RETIRED, is
 * fresh), or -1 when every one is fresh.
 */
int heartbeat_find_stale(const int64_t *at_ms, int n, int64_t now_ms, int64_t max_age_ms);

/*
 * heartbeat_find_stale over a snapshot of h's slots.  Returns the stale
 * slot or -1; *age_ms (when not NULL) gets that slot's age.
 */
int heartbeats_check(struct heartbeats *h, int64_t now_ms, int64_t max_age_ms, int64_t *age_ms);

/* The name a slot was registered with ("" for a bad slot). */
const char *heartbeat_name(const struct heartbeats *h, int slot);

#endif
