/*
 * platform_jobs.h - the daemon's thread for periodic work that talks to
 * the platforms and may wait on them for a while, kept off the control
 * thread so that leases, partitions and the source snapshot never wait
 * behind a slow platform:
 *  - diagnostics of accepted uploads (pipeline/request_poll.h), every
 *    [workers] status_check;
 *  - customer-list audiences (pipeline/audience_sync.h), every
 *    [audiences] sync_interval;
 *  - periodic reconciles of sources with a reconcile interval
 *    (pipeline/reconcile.h), looked for every minute.
 * Its own database connection; every job is safe with several daemons.
 */
#ifndef ADSENG_PIPELINE_PLATFORM_JOBS_H
#define ADSENG_PIPELINE_PLATFORM_JOBS_H

#include "core/err.h"
#include "pipeline/runtime.h"

struct platform_jobs;

int platform_jobs_start(struct runtime *rt, struct platform_jobs **out, struct err *e) WUR;

/* Stop and join the thread; free everything.  Bounded by the runtime's
 * stop deadline like control_stop. */
void platform_jobs_stop(struct platform_jobs *p);

#endif
