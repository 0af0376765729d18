/*
 * control.h - the daemon's housekeeping thread, with its own database
 * connection:
 *  - keeps the HTTP loop's source snapshot current: loads it at start, on
 *    NOTIFY adseng_catalog (sent by triggers when sources change) and every
 *    30 s as a safety net, and hands each new snapshot to the loop;
 *  - returns expired leases (a worker that crashed or hung) to pending;
 *  - creates upcoming monthly partitions of raw_events every hour;
 *  - runs the metrics snapshot query every [server] metrics_interval
 *    (pipeline/telemetry.h);
 *  - reads the numbers of the service status line every 5 s
 *    (runtime_get_counts; one bounded query).
 * Nothing here waits on a platform: that work is the platform thread's
 * (pipeline/platform_jobs.h).  The periodic jobs are safe to run from
 * several daemons at once.
 */
#ifndef ADSENG_PIPELINE_CONTROL_H
#define ADSENG_PIPELINE_CONTROL_H

#include "core/err.h"
#include "pipeline/runtime.h"
#include "pipeline/source_set.h"

struct event_base;
struct control;

/* Runs on the loop thread with a new snapshot it now owns. */
typedef void (*control_sources_cb)(struct source_set *set, void *arg);

int control_start(struct runtime *rt, struct event_base *loop, control_sources_cb cb, void *arg,
		  struct control **out, struct err *e) WUR;

/* Stop and join the thread; free everything.  Bounded by the runtime's
 * stop deadline (see worker_pool_stop): a thread still stuck in a
 * statement then is left behind with what it uses. */
void control_stop(struct control *c);

#endif
