/*
 * dest_health.c - a worker's side of the circuit breakers (see
 * dest_health.h): the view, the report of an upload's answer, the probe.
 */
#include "pipeline/dest_health.h"
#include "core/backoff.h"
#include "core/breaker.h"
#include "core/clock.h"
#include "core/mem.h"
#include "pipeline/worker_int.h"
#include "store/breaker_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_TTL_MS    1000
#define PROBE_EVERY_MS 1000
/* Writers racing on one row: after this many lost races the failure is
 * simply charged to the events. */
#define WRITE_TRIES 4

void dest_health_cleanup(struct dest_health *h)
{
	free(h->rows);
	memset(h, 0, sizeof(*h));
}

static struct breaker_policy policy_of(const struct config *cfg)
{
	struct breaker_policy p = { cfg->breaker_failures, cfg->breaker_cooldown_ms,
				    cfg->breaker_cooldown_cap_ms };

	return p;
}

/* The database's clock, as estimated from ours at the last read. */
static int64_t db_now_ms(const struct dest_health *h)
{
	return clock_wall_ms() + h->skew_ms;
}

static int refresh(struct worker *w, bool force)
{
	struct dest_health *h = &w->health;
	struct breaker_row *rows;
	struct err e = { 0 };
	size_t n;
	int64_t now;

	if (!force && h->loaded_ms && clock_mono_ms() - h->loaded_ms < VIEW_TTL_MS)
		return 0;
	if (w->conn == NULL)
		return ERR_DB;
	if (breaker_store_load_active(w->conn, &rows, &n, &now, &e) != 0) {
		worker_db_error(w, "could not read circuit breakers", &e);
		return ERR_DB;
	}
	free(h->rows);
	h->rows = rows;
	h->n = n;
	h->loaded_ms = clock_mono_ms();
	h->skew_ms = now - clock_wall_ms();
	return 0;
}

static struct breaker_row *view_find(struct dest_health *h, const char *id)
{
	for (size_t i = 0; i < h->n; i++) {
		if (strcmp(h->rows[i].destination_id, id) == 0)
			return &h->rows[i];
	}
	return NULL;
}

/* Put what this worker just read or wrote into its view, which keeps only
 * breakers that are not plainly closed. */
static void view_put(struct dest_health *h, const struct breaker_row *row)
{
	struct breaker_row *r = view_find(h, row->destination_id);
	bool clean = row->b.state == BREAKER_CLOSED && row->b.failures == 0;

	if (r == NULL && clean)
		return;
	if (r == NULL) {
		h->rows = xrealloc(h->rows, (h->n + 1) * sizeof(*h->rows));
		r = &h->rows[h->n++];
	}
	if (clean)
		*r = h->rows[--h->n];
	else
		*r = *row;
}

bool dest_health_allows(struct worker *w, const char *destination_id, int64_t *delay_ms)
{
	struct breaker_policy pol = policy_of(w->cfg);
	struct breaker_row row;
	struct err e = { 0 };
	int64_t now;

	/* Read the row itself, not the view: a view a second old would let a
	 * just opened breaker's destination have a second of uploads. */
	if (w->conn == NULL)
		return true;
	if (breaker_store_load(w->conn, destination_id, &row, &now, &e) != 0) {
		worker_db_error(w, "could not read a circuit breaker", &e);
		return true; /* the upload's own failure will tell */
	}
	view_put(&w->health, &row);
	if (!breaker_blocks(&row.b))
		return true;
	*delay_ms = breaker_hold_ms(&row.b, &pol, BREAKER_SAME, now, backoff_rand01());
	return false;
}

static void log_change(const struct breaker_row *row, enum breaker_change change, const char *why)
{
	char until[32] = "";

	if (row->b.retry_at_ms > 0)
		clock_format_utc(row->b.retry_at_ms * 1000, until, sizeof(until));
	switch (change) {
	case BREAKER_OPENED:
		log_warn("circuit breaker opened", "destination=%s failures=%d until=%s err=\"%s\"",
			 row->destination_id, (int)row->b.failures, until, why);
		break;
	case BREAKER_REOPENED:
		log_warn("circuit breaker probe failed, open again",
			 "destination=%s opens=%d until=%s err=\"%s\"", row->destination_id,
			 (int)row->b.opens, until, why);
		break;
	case BREAKER_EXTENDED:
		log_info("circuit breaker open for longer (Retry-After)", "destination=%s until=%s",
			 row->destination_id, until);
		break;
	case BREAKER_CLOSED_NOW:
		log_info("circuit breaker closed", "destination=%s", row->destination_id);
		break;
	case BREAKER_SAME:
	case BREAKER_COUNTED:
		break;
	}
}

/* Read, apply, write back unless another writer came first (then again). */
static int64_t apply(struct worker *w, const char *destination_id, bool failed, int64_t ra_ms,
		     const char *why)
{
	struct breaker_policy pol = policy_of(w->cfg);
	struct err e = { 0 };

	for (int tries = 0; tries < WRITE_TRIES && w->conn; tries++) {
		struct breaker_row row;
		struct breaker_verdict v;
		int64_t now;
		bool won;

		if (breaker_store_load(w->conn, destination_id, &row, &now, &e) != 0)
			break;
		v = failed ? breaker_on_failure(&row.b, &pol, now, ra_ms, backoff_rand01())
			   : breaker_on_success(&row.b);
		if (v.change != BREAKER_SAME) {
			if (breaker_store_write(w->conn, &row, failed ? why : NULL, v.change,
						breaker_park_ms(&pol), &won, &e) != 0)
				break;
			if (!won)
				continue;
			log_change(&row, v.change, why);
		}
		view_put(&w->health, &row);
		return v.absorb ? breaker_hold_ms(&row.b, &pol, v.change, now, backoff_rand01())
				: -1;
	}
	if (e.msg[0])
		worker_db_error(w, "could not update a circuit breaker", &e);
	return -1;
}

int64_t dest_health_report(struct worker *w, const char *destination_id,
			   const struct upload_resp *resp)
{
	bool failed = breaker_is_failure(resp->transport_error, resp->status);
	char why[300];

	if (w->conn == NULL)
		return -1;
	if (!failed) {
		/* The common case, a success with nothing to reset: no query. */
		(void)refresh(w, false);
		if (view_find(&w->health, destination_id) == NULL)
			return -1;
	}
	if (resp->transport_error)
		snprintf(why, sizeof(why), "%s", resp->transport_msg);
	else
		snprintf(why, sizeof(why), "HTTP %ld", resp->status);
	return apply(w, destination_id, failed,
		     resp->retry_after_s >= 0 ? resp->retry_after_s * 1000 : -1, why);
}

static bool any_probe_due(struct dest_health *h)
{
	int64_t now = db_now_ms(h);

	for (size_t i = 0; i < h->n; i++) {
		if (breaker_probe_due(&h->rows[i].b, now))
			return true;
	}
	return false;
}

/* Stage 2 takes over the probes like claimed deliveries. */
static void start_probes(struct worker *w, const struct claim_batch *b)
{
	struct deliver_item *items = xcalloc(b->n, sizeof(*items));

	for (size_t i = 0; i < b->n; i++) {
		struct breaker_row *r = view_find(&w->health, b->rows[i].destination_id);

		log_info("circuit breaker half-open, sending a probe",
			 "worker=%d destination=%s delivery=%lld", w->index,
			 b->rows[i].destination_id, (long long)b->rows[i].id);
		if (r) {
			r->b.state = BREAKER_HALF_OPEN;
			r->b.probe_until_ms = db_now_ms(&w->health) + w->cfg->worker_lease_ms;
		}
		items[i].id = b->rows[i].id;
		items[i].attempts = b->rows[i].attempts;
		items[i].destination_id = b->rows[i].destination_id;
		items[i].conversion_id = b->rows[i].conversion_id;
		items[i].payload = b->rows[i].payload;
	}
	stage_deliver_items(w, items, b->n);
	free(items);
}

void dest_health_probe(struct worker *w)
{
	struct dest_health *h = &w->health;
	struct claim_batch b;
	struct err e = { 0 };

	if (w->conn == NULL || refresh(w, false) != 0 || !any_probe_due(h))
		return;
	if (h->probe_tried_ms && clock_mono_ms() - h->probe_tried_ms < PROBE_EVERY_MS)
		return;
	h->probe_tried_ms = clock_mono_ms();
	if (breaker_store_claim_probes(w->conn, w->cfg->worker_lease_ms, &b, &e) != 0) {
		worker_db_error(w, "could not claim circuit breaker probes", &e);
		return;
	}
	if (b.n > 0)
		start_probes(w, &b);
	claim_batch_cleanup(&b);
}
