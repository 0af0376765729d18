/*
 * status_view.c - build and publish the status page's snapshot (see
 * status_view.h).  The published pointer is swapped under a mutex; the
 * snapshot itself is immutable and reference-counted, so a page being
 * rendered keeps the one it took while a newer one is swapped in.
 */
#include "pipeline/status_view.h"
#include "core/log.h"
#include "core/mem.h"
#include "pipeline/telemetry.h"
#include "store/quota_store.h"

#include <cjson/cJSON.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

static int64_t num_or(const cJSON *o, const char *key, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

static void copy_str(char *out, size_t outlen, const cJSON *o, const char *key)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	snprintf(out, outlen, "%s", v ? v : "");
}

void status_view_set_usage(struct activity_snapshot *s, const cJSON *usage)
{
	const cJSON *u;
	size_t n = (size_t)cJSON_GetArraySize(usage), i = 0;

	free(s->usage);
	s->usage = n ? xcalloc(n, sizeof(*s->usage)) : NULL;
	s->n_usage = 0;
	cJSON_ArrayForEach (u, usage) {
		struct activity_usage *a;

		if (i == n)
			break;
		a = &s->usage[i++];
		copy_str(a->tenant, sizeof(a->tenant), u, "tenant");
		copy_str(a->plan, sizeof(a->plan), u, "plan");
		copy_str(a->month, sizeof(a->month), u, "month");
		a->used = num_or(u, "used", 0);
		a->quota = num_or(u, "quota", -1); /* null: unlimited */
		a->held = num_or(u, "held", 0);
	}
	s->n_usage = i;
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

int status_view_refresh(PGconn *conn, const struct config *cfg, const struct metrics_rows *rows,
			int window_minutes, struct err *e)
{
	struct activity_snapshot *s = NULL;
	cJSON *usage = NULL;
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
	rc = admin_usage_list(conn, cfg, 0, &usage, e);
	if (rc != 0) {
		activity_snapshot_unref(s);
		return rc;
	}
	status_view_set_usage(s, usage);
	cJSON_Delete(usage);
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
