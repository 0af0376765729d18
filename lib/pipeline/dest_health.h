/*
 * dest_health.h - a worker's side of the per-destination circuit breakers
 * (rules: core/breaker.h; rows: store/breaker_store.h).
 *
 * Stage 2 reports every finished upload here; a failure (or a success after
 * failures) is applied to the destination's row in the database under a
 * version check, so the workers of every daemon count the same failures
 * and one of them opens the breaker.  While it is open the claim skips the
 * destination (store/delivery_store.c), deliveries that stage 1 created in
 * flight are sent back to pending, and failures of requests already on the
 * wire no longer cost their events an attempt.  Once the cool-down is over,
 * one worker claims a probe; its outcome closes or reopens the breaker.
 *
 * Each worker keeps the breakers that are not plainly closed in a small
 * view, re-read at most once a second: it decides whether a success needs
 * writing and whether a probe may be due, without a query per upload.
 * Everything here runs on the worker's own thread.
 */
#ifndef ADSENG_PIPELINE_DEST_HEALTH_H
#define ADSENG_PIPELINE_DEST_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct upload_resp;
struct breaker_row;

/* Embedded in struct worker; all zero is a valid empty view. */
struct dest_health {
	struct breaker_row *rows; /* breakers not closed with zero failures */
	size_t n;
	int64_t loaded_ms;	/* clock_mono_ms() of the last read; 0 = never */
	int64_t skew_ms;	/* the database's clock minus clock_wall_ms() */
	int64_t probe_tried_ms; /* clock_mono_ms() of the last probe claim */
};

void dest_health_cleanup(struct dest_health *h);

/*
 * Whether deliveries created in flight by stage 1 may be uploaded to the
 * destination now (claimed ones passed the breaker in the claim).  When
 * not, *delay_ms receives how long they should wait: until its probe may
 * go, with jitter.  One query.
 */
bool dest_health_allows(struct worker *w, const char *destination_id, int64_t *delay_ms);

/*
 * Apply a finished upload's answer to the destination's breaker and log any
 * change of state.  Returns -1 when a failure is the events' own (record it
 * as usual), or >= 0 when the breaker absorbs it: give the attempt back and
 * retry no sooner than that many milliseconds from now.  Database trouble
 * is logged and gives -1.
 */
int64_t dest_health_report(struct worker *w, const char *destination_id,
			   const struct upload_resp *resp);

/* Claim the probes that are due (at most once a second) and start them
 * through stage 2. */
void dest_health_probe(struct worker *w);

#endif
