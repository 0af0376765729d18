/*
 * status_view.c - build and publish the status page's snapshot (see
 * status_view.h).  The published pointer is swapped under a mutex; the
 * snapshot itself is immutable and reference-counted, so a page being
 * rendered keeps the one it took while a newer one is swapped in.
 */
#include "pipeline/status_view.h"
#include "core/log.h"
#include "pipeline/telemetry.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t view_mu = PTHREAD_MUTEX_INITIALIZER;
static struct activity_snapshot *view;

static const struct metrics_dest *find_row(const struct metrics_rows *r, const char *id)
{
	for (size_t i = 0; i < r->n_dests; i++) {
		if (strcmp(r->dests[i].id, id) == 0)
			return &r->dests[i];
	}
	return NULL;
}

void status_view_merge(struct activity_snapshot *s, const struct metrics_rows *rows)
{
	for (size_t i = 0; i < s->n_dests; i++) {
		struct activity_dest *d = &s->dests[i];
		const struct metrics_dest *m = rows ? find_row(rows, d->id) : NULL;

		d->p50_s = telemetry_upload_quantile(d->id, 0.5);
		d->p99_s = telemetry_upload_quantile(d->id, 0.99);
		if (m == NULL)
			continue; /* created since the metrics query: nothing queued yet */
		/* metrics_delivery_states: pending, in_flight, held, failed, dead */
		d->backlog = m->count[0] + m->count[1] + m->count[2];
		d->oldest_due_s = m->oldest_due_s;
		snprintf(d->breaker, sizeof(d->breaker), "%s", m->breaker);
	}
}

static void publish(struct activity_snapshot *s)
{
	struct activity_snapshot *old;

	pthread_mutex_lock(&view_mu);
	old = view;
	view = s;
	pthread_mutex_unlock(&view_mu);
	activity_snapshot_unref(old);
}

int status_view_refresh(PGconn *conn, const struct metrics_rows *rows, int window_minutes,
			struct err *e)
{
	struct activity_snapshot *s = NULL;
	bool done = false;
	int rc = activity_store_refresh(conn, window_minutes, &done, e);

	if (rc != 0)
		return rc;
	if (!done)
		log_debug("activity_minutes refreshed by another daemon", NULL);
	rc = activity_store_load(conn, &s, e);
	if (rc != 0)
		return rc;
	status_view_merge(s, rows);
	publish(s);
	return 0;
}

struct activity_snapshot *status_view_get(void)
{
	struct activity_snapshot *s;

	pthread_mutex_lock(&view_mu);
	s = view;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&view_mu);
	return s;
}
