/*
 * telemetry.c - the daemon's metric families (see telemetry.h).
 *
 * Naming follows https://prometheus.io/docs/practices/naming/: a
 * "adsengd_" prefix, base units in the name (_seconds, _bytes), counters
 * ending in _total, and a state set (one series per state, the current
 * one 1) for the breaker.  Label values are bounded: source kinds come
 * from the registry ("unknown" for anything else on the wire), answer
 * codes are the server's own, destinations come from the catalog, and
 * the core table drops what would overflow it.
 */
#include "pipeline/telemetry.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "destinations/dest.h"
#include "net/oauth.h"
#include "sources/source.h"
#include "store/metrics_store.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const double batch_buckets[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 };
static const double commit_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					 0.1,	0.25,	0.5,   1,    2.5,   10 };
static const double upload_buckets[] = { 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };

static const struct metric_def ingest_requests_def = {
	.name = "adsengd_ingest_requests_total",
	.help = "Webhooks answered, by source kind and HTTP status code.",
	.type = METRIC_COUNTER,
	.labels = { "kind", "code" },
};
static const struct metric_def batch_def = {
	.name = "adsengd_ingest_commit_batch_size",
	.help = "Webhooks stored per group commit.",
	.type = METRIC_HISTOGRAM,
	.buckets = batch_buckets,
	.n_buckets = sizeof(batch_buckets) / sizeof(batch_buckets[0]),
};
static const struct metric_def commit_def = {
	.name = "adsengd_ingest_commit_duration_seconds",
	.help = "Time of one group commit (insert and COMMIT).",
	.type = METRIC_HISTOGRAM,
	.buckets = commit_buckets,
	.n_buckets = sizeof(commit_buckets) / sizeof(commit_buckets[0]),
};
static const struct metric_def raw_processed_def = {
	.name = "adsengd_raw_events_processed_total",
	.help = "Raw events stage 1 finished, by the state it left them in.",
	.type = METRIC_COUNTER,
	.labels = { "state" },
};
static const struct metric_def upload_duration_def = {
	.name = "adsengd_upload_duration_seconds",
	.help = "Latency of upload requests to a destination, answered or not.",
	.type = METRIC_HISTOGRAM,
	.labels = { "destination" },
	.buckets = upload_buckets,
	.n_buckets = sizeof(upload_buckets) / sizeof(upload_buckets[0]),
};
static const struct metric_def uploads_def = {
	.name = "adsengd_uploads_total",
	.help = "Upload requests finished, by destination and answer class "
		"(2xx, 3xx, 4xx, 5xx, transport).",
	.type = METRIC_COUNTER,
	.labels = { "destination", "class" },
};
static const struct metric_def outcomes_def = {
	.name = "adsengd_upload_outcomes_total",
	.help = "Events' outcomes of upload requests, by destination and outcome "
		"(delivered, retry, failed, split, pause, dead, reauth, resend).",
	.type = METRIC_COUNTER,
	.labels = { "destination", "outcome" },
};
static const struct metric_def retries_def = {
	.name = "adsengd_delivery_retries_total",
	.help = "Deliveries scheduled for another attempt with backoff, by destination.",
	.type = METRIC_COUNTER,
	.labels = { "destination" },
};

static struct metric *m_ingest, *m_batch, *m_commit, *m_raw, *m_updur, *m_uploads, *m_outcomes,
	*m_retries;
static atomic_llong inflight;

static const char *const answer_codes[] = { "200", "400", "401", "404", "429", "500", "503" };
static const char *const upload_classes[] = { "2xx", "3xx", "4xx", "5xx", "transport" };
static const char *const raw_states[] = { "done", "ignored", "error" };

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The snapshot: rendered text, swapped whole. */
static pthread_mutex_t snap_mu = PTHREAD_MUTEX_INITIALIZER;
static char *snap_text;
static size_t snap_len;
static int64_t snap_at_ms; /* clock_mono_ms() of the last good refresh; 0 = none */

void telemetry_init(void)
{
	m_ingest = metric_register(&ingest_requests_def);
	m_batch = metric_register(&batch_def);
	m_commit = metric_register(&commit_def);
	m_raw = metric_register(&raw_processed_def);
	m_updur = metric_register(&upload_duration_def);
	m_uploads = metric_register(&uploads_def);
	m_outcomes = metric_register(&outcomes_def);
	m_retries = metric_register(&retries_def);
	metric_add(m_batch, NULL, 0);
	metric_add(m_commit, NULL, 0);
	for (size_t i = 0; i < N_OF(raw_states); i++)
		metric_add(m_raw, (const char *const[]){ raw_states[i] }, 0);
	for (size_t k = 0; source_ops_at(k); k++) {
		for (size_t c = 0; c < N_OF(answer_codes); c++)
			metric_add(m_ingest,
				   (const char *const[]){ source_ops_at(k)->kind, answer_codes[c] },
				   0);
	}
}

void telemetry_ingest_answered(const char *kind, int code)
{
	char c[8];

	if (m_ingest == NULL)
		return; /* not the daemon (a test, the CLI): nothing to count */
	if (kind == NULL || source_ops_find(kind) == NULL)
		kind = "unknown";
	snprintf(c, sizeof(c), "%d", code >= 100 && code <= 599 ? code : 0);
	metric_add(m_ingest, (const char *const[]){ kind, c }, 1);
}

void telemetry_ingest_committed(size_t n, int64_t us)
{
	if (m_batch == NULL)
		return;
	metric_observe(m_batch, NULL, (double)n);
	metric_observe(m_commit, NULL, (double)us / 1e6);
}

static const char *upload_class(bool transport_error, long status)
{
	if (transport_error || status < 200 || status > 599)
		return "transport";
	return upload_classes[status / 100 - 2];
}

void telemetry_upload_finished(const char *destination_id, bool transport_error, long status,
			       int64_t latency_ms)
{
	if (m_uploads == NULL)
		return;
	metric_add(m_uploads,
		   (const char *const[]){ destination_id, upload_class(transport_error, status) },
		   1);
	metric_observe(m_updur, (const char *const[]){ destination_id },
		       (double)latency_ms / 1000.0);
}

void telemetry_upload_outcome(const char *destination_id, const char *outcome, bool retry)
{
	if (m_outcomes == NULL)
		return;
	metric_add(m_outcomes, (const char *const[]){ destination_id, outcome }, 1);
	if (retry)
		metric_add(m_retries, (const char *const[]){ destination_id }, 1);
}

void telemetry_raw_processed(const char *state)
{
	if (m_raw)
		metric_add(m_raw, (const char *const[]){ state }, 1);
}

void telemetry_worker_inflight(int delta)
{
	atomic_fetch_add(&inflight, delta);
}

/* A destination's in-process series, at zero until something happens. */
static void declare_destination(const char *id)
{
	if (m_uploads == NULL)
		return;
	for (size_t c = 0; c < N_OF(upload_classes); c++)
		metric_add(m_uploads, (const char *const[]){ id, upload_classes[c] }, 0);
	for (int k = OUTCOME_DELIVERED; k <= OUTCOME_RESEND; k++)
		metric_add(m_outcomes,
			   (const char *const[]){ id, outcome_kind_name((enum outcome_kind)k) }, 0);
	metric_add(m_retries, (const char *const[]){ id }, 0);
	metric_add(m_updur, (const char *const[]){ id }, 0);
}

static void render_destinations(FILE *f, const struct metrics_rows *r)
{
	static const char *const breaker_states[] = { "closed", "half_open", "open" };

	metrics_write_header(f, "adsengd_destination_info",
			     "Each destination of the catalog (always 1), with its kind and name.",
			     METRIC_GAUGE);
	for (size_t i = 0; i < r->n_dests; i++)
		metrics_write_sample(
			f, "adsengd_destination_info",
			(const char *const[]){ "destination", "kind", "name", NULL },
			(const char *const[]){ r->dests[i].id, r->dests[i].kind, r->dests[i].name },
			1);
	metrics_write_header(f, "adsengd_deliveries",
			     "Deliveries in an unfinished state, by destination and state.",
			     METRIC_GAUGE);
	for (size_t i = 0; i < r->n_dests; i++) {
		for (size_t s = 0; s < METRICS_DELIVERY_STATES; s++)
			metrics_write_sample(
				f, "adsengd_deliveries",
				(const char *const[]){ "destination", "state", NULL },
				(const char *const[]){ r->dests[i].id, metrics_delivery_states[s] },
				r->dests[i].count[s]);
	}
	metrics_write_header(f, "adsengd_delivery_oldest_due_age_seconds",
			     "Age of the oldest pending delivery that is due, by destination "
			     "(0 when none is due).",
			     METRIC_GAUGE);
	for (size_t i = 0; i < r->n_dests; i++)
		metrics_write_sample(f, "adsengd_delivery_oldest_due_age_seconds",
				     (const char *const[]){ "destination", NULL },
				     (const char *const[]){ r->dests[i].id },
				     r->dests[i].oldest_due_s);
	metrics_write_header(f, "adsengd_breaker_state",
			     "Circuit breaker state by destination: 1 for the current state.",
			     METRIC_GAUGE);
	for (size_t i = 0; i < r->n_dests; i++) {
		for (size_t s = 0; s < N_OF(breaker_states); s++)
			metrics_write_sample(
				f, "adsengd_breaker_state",
				(const char *const[]){ "destination", "state", NULL },
				(const char *const[]){ r->dests[i].id, breaker_states[s] },
				strcmp(r->dests[i].breaker, breaker_states[s]) == 0);
	}
	metrics_write_header(f, "adsengd_destination_paused",
			     "1 while a destination is paused (its deliveries held).",
			     METRIC_GAUGE);
	for (size_t i = 0; i < r->n_dests; i++)
		metrics_write_sample(f, "adsengd_destination_paused",
				     (const char *const[]){ "destination", NULL },
				     (const char *const[]){ r->dests[i].id }, r->dests[i].paused);
	metrics_write_header(f, "adsengd_destination_reauthorization_needed",
			     "1 while a destination is paused until an operator authorizes it "
			     "again (adsengctl destination authorize).",
			     METRIC_GAUGE);
	for (size_t i = 0; i < r->n_dests; i++)
		metrics_write_sample(f, "adsengd_destination_reauthorization_needed",
				     (const char *const[]){ "destination", NULL },
				     (const char *const[]){ r->dests[i].id },
				     r->dests[i].reauthorize);
}

static void render_snapshot(FILE *f, const struct metrics_rows *r)
{
	render_destinations(f, r);
	metrics_write_header(f, "adsengd_raw_events_pending",
			     "Raw events stored and waiting for stage 1.", METRIC_GAUGE);
	metrics_write_sample(f, "adsengd_raw_events_pending", NULL, NULL, r->raw_pending);
	metrics_write_header(f, "adsengd_raw_events_oldest_pending_age_seconds",
			     "Age of the oldest raw event waiting for stage 1 (0 when none).",
			     METRIC_GAUGE);
	metrics_write_sample(f, "adsengd_raw_events_oldest_pending_age_seconds", NULL, NULL,
			     r->raw_oldest_s);
}

int telemetry_refresh(PGconn *conn, struct metrics_rows *keep, struct err *e)
{
	struct metrics_rows r;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc = metrics_store_load(conn, &r, e);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < r.n_dests; i++)
		declare_destination(r.dests[i].id);
	f = open_memstream(&text, &len);
	if (f == NULL) {
		metrics_rows_cleanup(&r);
		return err_set(e, ERR_IO, "could not render the metrics snapshot");
	}
	render_snapshot(f, &r);
	fclose(f);
	if (keep)
		*keep = r;
	else
		metrics_rows_cleanup(&r);
	pthread_mutex_lock(&snap_mu);
	free(snap_text);
	snap_text = text;
	snap_len = len;
	snap_at_ms = clock_mono_ms();
	pthread_mutex_unlock(&snap_mu);
	return 0;
}

/* Resident set size from /proc/self/statm (pages); 0 if unreadable. */
void telemetry_svc_counts(const struct metrics_rows *r, struct svc_counts *out)
{
	memset(out, 0, sizeof(*out));
	out->known = true;
	for (size_t i = 0; i < r->n_dests; i++) {
		const struct metrics_dest *d = &r->dests[i];

		out->due += (int64_t)d->due;
		out->in_flight += (int64_t)d->count[1]; /* metrics_delivery_states[1] */
		if ((int64_t)d->oldest_due_s > out->oldest_due_s)
			out->oldest_due_s = (int64_t)d->oldest_due_s;
		if (strcmp(d->breaker, "open") == 0)
			out->breakers_open++;
		else if (strcmp(d->breaker, "half_open") == 0)
			out->breakers_half++;
	}
	if (out->due > SVC_DUE_CAP)
		out->due = SVC_DUE_CAP; /* "over 100000": the line keeps its length */
}

double telemetry_upload_quantile(const char *destination_id, double q)
{
	if (m_updur == NULL)
		return NAN;
	return metric_quantile(m_updur, (const char *const[]){ destination_id }, q);
}

static double rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static void render_gauge(FILE *f, const char *name, const char *help, double v)
{
	metrics_write_header(f, name, help, METRIC_GAUGE);
	metrics_write_sample(f, name, NULL, NULL, v);
}

static void render_tokens(FILE *f, struct oauth_cache *oauth)
{
	static const char *const result[] = { "result", NULL };
	struct oauth_stats st = { 0 };

	if (oauth)
		oauth_cache_stats(oauth, &st);
	metrics_write_header(f, "adsengd_token_refreshes_total",
			     "OAuth2 access token refreshes, by result (ok, failed, refused: "
			     "the grant itself was refused and needs re-authorization).",
			     METRIC_COUNTER);
	metrics_write_sample(f, "adsengd_token_refreshes_total", result,
			     (const char *const[]){ "ok" },
			     (double)(st.refreshes - st.refresh_failed));
	metrics_write_sample(f, "adsengd_token_refreshes_total", result,
			     (const char *const[]){ "failed" },
			     (double)(st.refresh_failed - st.grants_refused));
	metrics_write_sample(f, "adsengd_token_refreshes_total", result,
			     (const char *const[]){ "refused" }, (double)st.grants_refused);
	metrics_write_header(f, "adsengd_token_invalidations_total",
			     "Access tokens dropped because a platform refused them (401).",
			     METRIC_COUNTER);
	metrics_write_sample(f, "adsengd_token_invalidations_total", NULL, NULL,
			     (double)st.invalidated);
}

static void render_live(FILE *f, const struct telemetry_live *live)
{
	long long busy = atomic_load(&inflight);

	render_gauge(f, "adsengd_process_resident_memory_bytes", "Resident memory of the daemon.",
		     rss_bytes());
	render_gauge(f, "adsengd_http_connections_open", "Client connections open.",
		     (double)live->connections_open);
	render_gauge(f, "adsengd_ingest_queue_requests",
		     "Webhooks queued or being committed, not yet answered.",
		     (double)live->queue_requests);
	render_gauge(f, "adsengd_ingest_queue_bytes",
		     "Bytes of webhook bodies and headers held until their COMMIT is answered.",
		     (double)live->queue_bytes);
	render_gauge(f, "adsengd_worker_uploads_in_flight",
		     "Upload requests on the wire, over every worker.", (double)busy);
	render_gauge(f, "adsengd_worker_busy_ratio",
		     "Share of the workers' upload slots ([workers] threads x max_inflight) "
		     "in use.",
		     live->worker_slots > 0 ? (double)busy / (double)live->worker_slots : 0);
	render_tokens(f, live->oauth);
	metrics_write_header(f, "adsengd_build_info", "The daemon's version (always 1).",
			     METRIC_GAUGE);
	metrics_write_sample(f, "adsengd_build_info", (const char *const[]){ "version", NULL },
			     (const char *const[]){ ADSENG_VERSION }, 1);
}

void telemetry_render(FILE *f, const struct telemetry_live *live)
{
	metrics_render(f);
	render_live(f, live);
	metrics_write_header(f, "adsengd_metrics_snapshot_age_seconds",
			     "Seconds since the database snapshot behind the SQL-based families "
			     "was taken ([server] metrics_interval; growing when the query fails).",
			     METRIC_GAUGE);
	pthread_mutex_lock(&snap_mu);
	if (snap_at_ms) {
		metrics_write_sample(f, "adsengd_metrics_snapshot_age_seconds", NULL, NULL,
				     (double)(clock_mono_ms() - snap_at_ms) / 1000.0);
		fwrite(snap_text, 1, snap_len, f);
	}
	pthread_mutex_unlock(&snap_mu);
}
