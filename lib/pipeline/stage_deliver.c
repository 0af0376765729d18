/*
 * stage_deliver.c - stage 2: claimed deliveries, grouped by destination
 * and cut into requests (deliver_upload.c sends them and records the
 * outcomes).
 *
 * A claim returns due deliveries sorted by destination.  Each destination's
 * group is filtered (paused destination → held, open circuit breaker →
 * back to pending unspent, too old for the platform's age window → dead,
 * nothing the platform could match → failed, unreadable → failed) and cut
 * into requests of the platform's batch size, and where the platform wants
 * one request per key (dest_ops.batch_key: GA4's one user per request) at
 * every change of key.  Stage 1 hands deliveries it
 * just created to the same path, so a fresh conversion need not wait for a
 * claim.
 */
#include "core/clock.h"
#include "core/mem.h"
#include "pipeline/deliver_int.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for a destination's batch key (dest_ops.batch_key). */
#define BATCH_KEY_MAX 128
/* Destinations a claim may skip for being at their limit; beyond that many
 * the rest are claimed and wait in their queues. */
#define CLAIM_SKIP_MAX 256

/* The conversion of an item: its own reference, or parsed from the
 * stored payload.  NULL with a message in e when unreadable. */
static struct conversion *item_conversion(struct deliver_item *it, struct err *e)
{
	struct conversion *conv = NULL;
	cJSON *j;

	if (it->conv) {
		conv = it->conv;
		it->conv = NULL;
		return conv;
	}
	j = cJSON_Parse(it->payload);
	if (j == NULL) {
		err_set(e, ERR_INVALID, "not JSON");
		return NULL;
	}
	if (conv_from_json(j, &conv, e) != 0)
		conv = NULL;
	cJSON_Delete(j);
	return conv;
}

/* Deliveries that stage 1 created in flight (conv set; claimed ones passed
 * the breaker in the claim) for a destination whose circuit breaker is open
 * go back to pending, attempt refunded, due when its probe may go. */
static bool breaker_holds_fresh(struct worker *w, struct deliver_item *items, size_t from,
				size_t to)
{
	struct recs r = { 0 };
	int64_t delay_ms;

	if (items[from].conv == NULL ||
	    dest_health_allows(w, items[from].destination_id, &delay_ms))
		return false;
	for (size_t i = from; i < to; i++) {
		recs_add(&r, items[i].id, items[i].attempts, "pending", "breaker_open",
			 "not sent: the destination's circuit breaker is open");
		r.v[r.n - 1].refund = true;
		r.v[r.n - 1].delay_ms = delay_ms;
	}
	recs_write(w, &r, NULL, NULL);
	recs_cleanup(&r);
	return true;
}

/* Whether conv is past the kind's age window.  A window from the click
 * falls back on the event time when the click time is unknown: the click
 * came first, so that never drops what is still inside the window. */
static bool too_old(const struct dest_ops *ops, const struct conversion *conv, int64_t now_us)
{
	int64_t from = conv->occurred_us;

	if (ops->max_age_s <= 0)
		return false;
	if (ops->age_from_click && conv->clicked_us != 0 && conv->clicked_us < from)
		from = conv->clicked_us;
	return now_us - from > ops->max_age_s * 1000000;
}

/* Whether conv's batch key (dest_ops.batch_key) differs from the one in
 * key, the key of the request being filled; key becomes conv's. */
static bool batch_key_changes(const struct destination *d, const struct conversion *conv, char *key,
			      size_t len)
{
	char next[BATCH_KEY_MAX];
	bool changed;

	next[0] = '\0';
	d->ops->batch_key(d, conv, next, sizeof(next));
	changed = strcmp(next, key) != 0;
	memcpy(key, next, len < sizeof(next) ? len : sizeof(next));
	key[len - 1] = '\0';
	return changed;
}

/* Handle the items [from, to) of one destination. */
static void handle_group(struct worker *w, struct deliver_item *items, size_t from, size_t to)
{
	struct dest_entry *dest = NULL;
	struct recs r = { 0 };
	struct upload_ctx *c = NULL;
	struct err e = { 0 };
	const char *pause_reason = NULL;
	char why[600];
	char key[BATCH_KEY_MAX] = "";
	int64_t now_us = clock_wall_ms() * 1000;
	int rc;

	if (breaker_holds_fresh(w, items, from, to))
		goto out;
	rc = dest_cache_get(&w->dests, w->conn, w->cfg, w->rt->vault, items[from].destination_id,
			    &dest, &e);
	if (rc != 0) {
		bool transient = rc == ERR_DB || rc == ERR_NOMEM;

		snprintf(why, sizeof(why), "%s", e.msg);
		for (size_t i = from; i < to; i++) {
			recs_add(&r, items[i].id, items[i].attempts, transient ? "pending" : "held",
				 transient ? "released" : "paused", why);
			r.v[r.n - 1].refund = true;
			r.v[r.n - 1].delay_ms = RELEASE_DELAY_MS;
		}
		if (!transient && rc != ERR_NOTFOUND)
			pause_reason = why;
		recs_write(w, &r, pause_reason ? items[from].destination_id : NULL, pause_reason);
		goto out;
	}
	for (size_t i = from; i < to; i++) {
		const struct dest_ops *ops = dest->d.ops;
		struct conversion *conv;

		if (!dest->d.enabled) {
			recs_add(&r, items[i].id, items[i].attempts, "held", "held",
				 "destination is paused");
			r.v[r.n - 1].refund = true;
			continue;
		}
		conv = item_conversion(&items[i], &e);
		if (conv == NULL) {
			snprintf(why, sizeof(why), "stored conversion is unreadable: %s", e.msg);
			recs_add(&r, items[i].id, items[i].attempts, "failed", "failed", why);
			continue;
		}
		conv->id = items[i].conversion_id;
		if (too_old(ops, conv, now_us)) {
			snprintf(why, sizeof(why),
				 "older than %s accepts (%lld days after the %s): not sent",
				 dest->d.kind, (long long)(ops->max_age_s / 86400),
				 ops->age_from_click ? "click" : "event");
			recs_add(&r, items[i].id, items[i].attempts, "dead", "dead", why);
			conv_free(conv);
			continue;
		}
		if (ops->accepts && !ops->accepts(&dest->d, conv, why, sizeof(why))) {
			recs_add(&r, items[i].id, items[i].attempts, "failed", "failed", why);
			conv_free(conv);
			continue;
		}
		if (ops->batch_key && batch_key_changes(&dest->d, conv, key, sizeof(key)) &&
		    c != NULL) {
			deliver_submit(w, c);
			c = NULL;
		}
		if (c == NULL)
			c = ctx_new(w, dest, ops->max_batch);
		ctx_push(c, conv, items[i].id, items[i].attempts);
		if (c->n == ops->max_batch) {
			deliver_submit(w, c);
			c = NULL;
		}
	}
	recs_write(w, &r, NULL, NULL);
	if (c)
		deliver_submit(w, c);
out:
	for (size_t i = from; i < to; i++) {
		conv_free(items[i].conv);
		items[i].conv = NULL;
	}
	recs_cleanup(&r);
	dest_entry_unref(dest);
}

void stage_deliver_items(struct worker *w, struct deliver_item *items, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i + 1;

		while (j < n && strcmp(items[j].destination_id, items[i].destination_id) == 0)
			j++;
		if (w->conn)
			handle_group(w, items, i, j);
		for (size_t k = i; k < j; k++)
			conv_free(items[k].conv);
		i = j;
	}
}

int stage_deliver_run(struct worker *w)
{
	struct claim_batch b;
	struct deliver_item *items;
	const char *full[CLAIM_SKIP_MAX];
	size_t n_full;
	struct err e = { 0 };
	int rc;

	dest_health_probe(w);
	if (w->conn == NULL)
		return ERR_DB;
	/* Destinations at their own limit are left out: their due
	 * deliveries wait in the database (for this worker's next claim or
	 * another worker) instead of piling up here, and this claim takes
	 * the others' work. */
	n_full = dest_slots_full_ids(&w->slots, full, CLAIM_SKIP_MAX);
	rc = delivery_store_claim(w->conn, (int)w->cfg->worker_batch, w->cfg->worker_lease_ms, full,
				  n_full, &b, &e);
	if (rc != 0) {
		worker_db_error(w, "could not claim deliveries", &e);
		return rc;
	}
	items = xcalloc(b.n ? b.n : 1, sizeof(*items));
	for (size_t i = 0; i < b.n; i++) {
		items[i].id = b.rows[i].id;
		items[i].attempts = b.rows[i].attempts;
		items[i].destination_id = b.rows[i].destination_id;
		items[i].conversion_id = b.rows[i].conversion_id;
		items[i].payload = b.rows[i].payload;
	}
	stage_deliver_items(w, items, b.n);
	free(items);
	rc = (int)b.n;
	claim_batch_cleanup(&b);
	return rc;
}
