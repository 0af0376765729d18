/*
 * worker.h - the worker pool: N threads, each with its own PostgreSQL
 * connection, event_base and curl multi.  A worker runs stage 1
 * (normalize raw events into conversions and deliveries) and stage 2
 * (claim due deliveries, upload them in batches, record outcomes, schedule
 * retries) whenever LISTEN/NOTIFY says there is work, an upload finishes,
 * or the poll interval passes.
 */
#ifndef ADSENG_PIPELINE_WORKER_H
#define ADSENG_PIPELINE_WORKER_H

#include <stdbool.h>

#include "core/err.h"
#include "pipeline/runtime.h"

struct worker_pool;

/* Start `threads` workers (from the runtime's config).  Main thread only,
 * after library initialization. */
int worker_pool_start(struct runtime *rt, struct worker_pool **out, struct err *e) WUR;

/* Main thread: begin the stop described at worker_pool_stop without
 * waiting (the caller's loop keeps running meanwhile).  Idempotent. */
void worker_pool_begin_stop(struct worker_pool *p);

/* Main thread, a second stop signal (after runtime_hurry): end the grace
 * now; uploads still running are given up and their leases released. */
void worker_pool_hurry(struct worker_pool *p);

/* Whether every worker's loop has ended (all released; joins are quick). */
bool worker_pool_is_stopped(struct worker_pool *p);

/*
 * Stop, bounded by the runtime's stop deadline (runtime_begin_stop; none
 * set: no grace, wait for ever): each worker stops claiming, waits until
 * shortly before the cancel point for its uploads to finish and be
 * recorded, releases the leases of what is still in flight (back to
 * pending, attempt refunded), closes its connection; then the threads are
 * joined and everything freed.  A worker stuck in a statement past the
 * cancel point has it canceled; one still running at the deadline is left
 * behind (runtime_note_stuck) with what it uses.  Main thread only.
 */
void worker_pool_stop(struct worker_pool *p);

#endif
