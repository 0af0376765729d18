/*
 * stage_adjust.c - stage 2 for adjustments: claim due adjustment
 * deliveries (adjustment_store_claim), send them per destination through
 * the kind's dest_ops.build_adjustments with the worker's uploader and the
 * destination's access token, and record each one's outcome with the
 * kind's adjustments_result (partial failures name rows by index).
 *
 * Deliberately simpler than the conversion path (deliver_upload.c), since
 * adjustments are few and no upload of them is urgent: a destination
 * whose token is being refreshed, refused or unreachable gets its claimed
 * adjustments back unspent with a delay (the conversion path waits for
 * the refresh, pauses the destination and re-authorizes; the next claim
 * here then finds a cached token or a paused destination); a rejected
 * batch is not bisected (Google answers rows, not batches); a 401 drops
 * the cached token and gives the rows back, so the next claim refreshes.
 * Answers do not feed the circuit breaker, whose state the claim obeys.
 * Uploads use the worker's upload slots, and only while it has room.
 */
#include "core/backoff.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "net/oauth.h"
#include "pipeline/dest_cache.h"
#include "pipeline/worker_int.h"
#include "store/adjustment_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Delay of adjustments given back unspent (token refresh, no slot). */
#define ADJ_RELEASE_MS 2000

/* One request's worth of claimed adjustment deliveries of one destination. */
struct adj_upload {
	struct worker *w;
	struct dest_entry *dest; /* one reference */
	size_t n;
	int64_t *ids;
	int32_t *claimed;
	struct dest_adjustment *adj; /* strings owned, see adj_upload_free */
	char *token;
};

static void adj_upload_free(struct adj_upload *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free((char *)u->adj[i].order_id);
		free((char *)u->adj[i].event_id);
		free((char *)u->adj[i].value);
		free((char *)u->adj[i].currency);
	}
	free(u->adj);
	free(u->ids);
	free(u->claimed);
	if (u->token) {
		sodium_memzero(u->token, strlen(u->token));
		free(u->token);
	}
	dest_entry_unref(u->dest);
	free(u);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Record the same state for rows [0, n) of ids/claimed. */
static void record_all(struct worker *w, const int64_t *ids, const int32_t *claimed, size_t n,
		       const char *state, int64_t delay_ms, bool refund, const char *why)
{
	struct adj_record *r;
	struct err e = { 0 };
	int64_t applied;

	if (n == 0 || w->conn == NULL)
		return;
	r = xcalloc(n, sizeof(*r));
	for (size_t i = 0; i < n; i++)
		r[i] = (struct adj_record){ .id = ids[i],
					    .claimed = claimed[i],
					    .state = state,
					    .delay_ms = delay_ms,
					    .refund = refund,
					    .error = why };
	if (adjustment_store_record(w->conn, r, n, &applied, &e) != 0)
		worker_db_error(w, "could not record adjustment deliveries", &e);
	free(r);
}

/* The access token for u's destination into u->token: 0, or non-zero when
 * there is none now (u's rows were given back with the reason). */
static int adj_token(struct worker *w, struct adj_upload *u)
{
	const struct destination *d = &u->dest->d;
	struct oauth_grant g = { 0 };
	struct err e = { 0 };
	char tok[OAUTH_TOKEN_MAX + 1];
	char why[600];
	int rc;

	if (d->ops->auth_grant == NULL)
		return 0;
	rc = d->ops->auth_grant(d, w->cfg, &g, &e);
	if (rc == 0)
		rc = oauth_cache_get(w->rt->oauth, d->id, &g, w->up, w->auth_ev, tok, &e);
	oauth_grant_cleanup(&g);
	if (rc == 0) {
		u->token = xstrdup(tok);
		sodium_memzero(tok, sizeof(tok));
		return 0;
	}
	if (rc == OAUTH_PENDING)
		snprintf(why, sizeof(why), "waiting for an access token");
	else
		snprintf(why, sizeof(why), "no access token: %s", e.msg);
	record_all(w, u->ids, u->claimed, u->n, "pending", ADJ_RELEASE_MS, true, why);
	return -1;
}

/* One outcome → the record of one row. */
static void outcome_record(const struct worker *w, const struct outcome *o, int32_t claimed,
			   struct adj_record *r, char *msg, size_t msglen)
{
	struct backoff_policy pol = { w->cfg->retry_base_ms, w->cfg->retry_cap_ms,
				      w->cfg->retry_max_attempts };

	snprintf(msg, msglen, "%s", o->message);
	r->error = msg[0] ? msg : NULL;
	r->platform_code = o->platform_code[0] ? o->platform_code : NULL;
	switch (o->kind) {
	case OUTCOME_DELIVERED:
		r->state = "delivered";
		break;
	case OUTCOME_RETRY:
		if (backoff_should_retry(&pol, claimed)) {
			r->state = "pending";
			r->delay_ms = backoff_delay_ms(
				&pol, claimed, backoff_rand01(),
				o->retry_after_s >= 0 ? o->retry_after_s * 1000 : -1);
		} else {
			r->state = "dead";
			snprintf(msg, msglen, "gave up after %d attempts: %s", claimed, o->message);
		}
		break;
	case OUTCOME_DEAD:
		r->state = "dead";
		break;
	case OUTCOME_PAUSE:
	case OUTCOME_REAUTH:
	case OUTCOME_RESEND:
		/* Not the adjustment's fault: the conversion path pauses or
		 * re-authorizes the destination; try again later. */
		r->state = "pending";
		r->refund = true;
		r->delay_ms = ADJ_RELEASE_MS;
		break;
	case OUTCOME_SPLIT:
	case OUTCOME_FAILED:
		r->state = "failed";
		break;
	}
}

static void adj_done_cb(const struct upload_resp *resp, void *arg)
{
	struct adj_upload *u = arg;
	struct worker *w = u->w;
	struct outcome *out;
	struct adj_record *r;
	char(*msgs)[300];
	struct err e = { 0 };
	int64_t applied = 0;

	if (w->conn == NULL) {
		/* Released at shutdown or connection lost: the leases expire. */
		adj_upload_free(u);
		if (w->stopping)
			worker_check_stopped(w);
		return;
	}
	out = xcalloc(u->n, sizeof(*out));
	r = xcalloc(u->n, sizeof(*r));
	msgs = xcalloc(u->n, sizeof(*msgs));
	u->dest->d.ops->adjustments_result(&u->dest->d, resp, u->n, out);
	for (size_t i = 0; i < u->n; i++) {
		r[i].id = u->ids[i];
		r[i].claimed = u->claimed[i];
		r[i].http_status = resp->transport_error ? 0 : (int32_t)resp->status;
		outcome_record(w, &out[i], u->claimed[i], &r[i], msgs[i], sizeof(msgs[i]));
		if (out[i].kind == OUTCOME_REAUTH && u->token)
			oauth_cache_invalidate(w->rt->oauth, u->dest->d.id, u->token);
	}
	if (adjustment_store_record(w->conn, r, u->n, &applied, &e) != 0)
		worker_db_error(w, "could not record adjustment deliveries", &e);
	log_info("adjustments uploaded",
		 "worker=%d destination=%s n=%zu status=%ld outcome=%s recorded=%lld", w->index,
		 u->dest->d.id, u->n, resp->status, outcome_kind_name(out[0].kind),
		 (long long)applied);
	free(msgs);
	free(r);
	free(out);
	adj_upload_free(u);
	if (w->stopping)
		worker_check_stopped(w);
}

/* Build and send u; takes ownership of u. */
static void adj_send(struct worker *w, struct adj_upload *u)
{
	const struct destination *d = &u->dest->d;
	struct upload_req req;
	struct err e = { 0 };
	char why[600];

	if (adj_token(w, u) != 0)
		goto out;
	upload_req_init(&req);
	if (d->ops->build_adjustments(d, u->token, u->adj, u->n, &req, &e) != 0) {
		/* A row the builder refuses (no order id to find the
		 * conversion by) will never go. */
		snprintf(why, sizeof(why), "could not build a request: %s", e.msg);
		record_all(w, u->ids, u->claimed, u->n, "failed", 0, false, why);
		upload_req_cleanup(&req);
		goto out;
	}
	req.timeout_ms = (long)w->cfg->upload_timeout_ms;
	if (uploader_submit(w->up, &req, adj_done_cb, u, &e) != 0) {
		record_all(w, u->ids, u->claimed, u->n, "pending", ADJ_RELEASE_MS, true, e.msg);
		upload_req_cleanup(&req);
		goto out;
	}
	return;
out:
	adj_upload_free(u);
}

/* Rows [from, to) of one destination: cut into requests and send. */
static void adj_group(struct worker *w, const struct adj_claim *b, size_t from, size_t to)
{
	struct dest_entry *dest = NULL;
	struct err e = { 0 };
	size_t max;

	if (dest_cache_get(&w->dests, w->conn, w->cfg, w->rt->vault, b->rows[from].destination_id,
			   &dest, &e) != 0 ||
	    !dest_supports_adjustments(dest->d.ops)) {
		for (size_t i = from; i < to; i++)
			record_all(w, &b->rows[i].id, &b->rows[i].attempts, 1, "pending",
				   ADJ_RELEASE_MS * 5, true,
				   dest ? "the destination takes no adjustments" : e.msg);
		dest_entry_unref(dest);
		return;
	}
	max = dest->d.ops->max_adjustments ? dest->d.ops->max_adjustments : 1;
	while (from < to) {
		size_t n = to - from < max ? to - from : max;
		struct adj_upload *u = xcalloc(1, sizeof(*u));

		u->w = w;
		u->dest = dest;
		dest->refcnt++;
		u->ids = xcalloc(n, sizeof(*u->ids));
		u->claimed = xcalloc(n, sizeof(*u->claimed));
		u->adj = xcalloc(n, sizeof(*u->adj));
		for (size_t i = 0; i < n; i++) {
			const struct adj_claim_row *row = &b->rows[from + i];

			u->ids[i] = row->id;
			u->claimed[i] = row->attempts;
			u->adj[i].kind =
				row->retraction ? DEST_ADJ_RETRACTION : DEST_ADJ_RESTATEMENT;
			u->adj[i].order_id = dup_or_null(row->order_id);
			u->adj[i].event_id = dup_or_null(row->event_id);
			u->adj[i].value = dup_or_null(row->value);
			u->adj[i].currency = dup_or_null(row->currency);
			u->adj[i].adjusted_us = row->occurred_us;
		}
		u->n = n;
		adj_send(w, u);
		from += n;
	}
	dest_entry_unref(dest);
}

int stage_adjust_run(struct worker *w)
{
	struct adj_claim b;
	struct err e = { 0 };
	size_t i = 0;
	int rc;

	if (w->conn == NULL)
		return ERR_DB;
	rc = adjustment_store_claim(w->conn, (int)w->cfg->worker_batch, w->cfg->worker_lease_ms, &b,
				    &e);
	if (rc != 0) {
		worker_db_error(w, "could not claim adjustment deliveries", &e);
		return rc;
	}
	while (i < b.n && w->conn) {
		size_t j = i + 1;

		while (j < b.n && strcmp(b.rows[j].destination_id, b.rows[i].destination_id) == 0)
			j++;
		adj_group(w, &b, i, j);
		i = j;
	}
	rc = (int)b.n;
	adj_claim_cleanup(&b);
	return rc;
}
