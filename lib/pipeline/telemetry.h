/*
 * telemetry.h - the daemon's Prometheus metrics (GET /metrics): which
 * families exist, the calls the hot paths make to count, and the cached
 * snapshot of the numbers that need SQL.
 *
 * In-process counters and histograms (core/metrics.h) are incremented by
 * the threads that see the event: the HTTP loop (webhooks answered), the
 * ingest writers (group commits), the workers (uploads, outcomes,
 * retries, stage 1 results).  Numbers that only the database knows
 * (deliveries by state, oldest due delivery, raw backlog, breakers,
 * paused destinations) come from one query the control thread runs every
 * [server] metrics_interval (15 s); its result is rendered to text once and swapped
 * in under a mutex, so a scrape only copies memory and never queries.
 * Every label value is data (a source kind from the registry, a
 * destination id from the catalog): nothing here names a platform.
 */
#ifndef ADSENG_PIPELINE_TELEMETRY_H
#define ADSENG_PIPELINE_TELEMETRY_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/svc_status.h"
#include "store/metrics_store.h"

struct oauth_cache;

/* Register every family and make the series known at start exist at
 * zero (each source kind × answer code).  Main thread, before the other
 * threads start; calling it again is harmless. */
void telemetry_init(void);

/* A webhook answered: kind is the route's kind when registered (anything
 * else is counted as "unknown", so a caller cannot grow the label set).
 * Loop thread. */
void telemetry_ingest_answered(const char *kind, int code);

/* A group commit of n rows took us microseconds.  Ingest writers. */
void telemetry_ingest_committed(size_t n, int64_t us);

/* One upload request to destination_id finished (transport_error or an
 * HTTP status) after latency_ms.  Workers. */
void telemetry_upload_finished(const char *destination_id, bool transport_error, long status,
			       int64_t latency_ms);

/* One event's outcome (dest.h outcome_kind_name) for destination_id, and
 * whether it was scheduled for a retry with backoff.  Workers. */
void telemetry_upload_outcome(const char *destination_id, const char *outcome, bool retry);

/* Stage 1 finished a raw event in state ("done", "ignored", "error"). */
void telemetry_raw_processed(const char *state);

/* Requests on the wire of one worker: +1 when one goes, -1 when it is
 * answered.  Workers. */
void telemetry_worker_inflight(int delta);

/*
 * Run the snapshot query on conn and swap in its rendered families; also
 * makes each destination's in-process series exist at zero.  Control
 * thread.  On failure the previous snapshot stays (its age shows in
 * adsengd_metrics_snapshot_age_seconds).  On success, when keep is not
 * NULL, the rows are handed to the caller (who calls
 * metrics_rows_cleanup()) for the other summaries built from them.
 */
int telemetry_refresh(PGconn *conn, struct metrics_rows *keep, struct err *e) WUR;

/* The service status line's numbers (core/svc_status.h) summed over the
 * snapshot's destinations: one query feeds /metrics, /status and
 * STATUS=.  Pure. */
void telemetry_svc_counts(const struct metrics_rows *r, struct svc_counts *out);

/* The q-quantile (0..1) of destination_id's upload latency in seconds,
 * from the in-process histogram adsengd_upload_duration_seconds (since
 * this process started; estimated from its buckets); NAN before the first
 * upload.  Any thread. */
double telemetry_upload_quantile(const char *destination_id, double q);

/* What a scrape adds from the HTTP loop's own state. */
struct telemetry_live {
	int64_t connections_open;
	size_t queue_requests, queue_bytes;
	int64_t worker_slots; /* threads × max_inflight: busy ratio's denominator */
	struct oauth_cache *oauth;
};

/* Write the whole exposition to f: in-process families, the live gauges,
 * then the cached snapshot.  Loop thread (any thread, in fact: it only
 * reads atomics and the snapshot under its mutex). */
void telemetry_render(FILE *f, const struct telemetry_live *live);

#endif
