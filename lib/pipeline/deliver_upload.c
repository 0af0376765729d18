/*
 * deliver_upload.c - stage 2's requests: get the destination's access
 * token (OAuth2 kinds, through the daemon's token cache), build, send with
 * the worker's uploader within [workers] max_inflight, and turn the
 * platform's answer into one record per delivery.
 *
 * A batch the platform rejects as a whole (Meta: one bad event fails the
 * request) is bisected so the good events still go and only the bad ones
 * end failed; a request refused for some of its events (Data Manager field
 * violations) is sent again at once without them; a refused access token
 * (401) is dropped and the same request sent once more with a fresh one.
 * None of these spends an attempt.  Where the kind samples requests for
 * validation (GA4's debug endpoint), a sampled request goes there first:
 * invalid events end failed unsent, warnings stay on the deliveries.
 * Credential errors pause the
 * destination and hold its deliveries without spending their attempts.
 * Every answer also goes to the destination's circuit breaker
 * (dest_health.h).
 *
 * Requests wait in two places: for an upload slot or for room under their
 * destination's own limit (--max-inflight: one slow platform must not hold
 * every slot of the worker), in one FIFO per destination (pipeline/
 * dest_slots.h; so a bisected batch's halves do not overtake older groups),
 * and for an access token (a refresh under way, possibly on another
 * worker: auth_ev wakes this one).
 * A stop gives everything queued or unfinished back to pending.
 */
#include "core/backoff.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "net/oauth.h"
#include "pipeline/deliver_int.h"
#include "pipeline/telemetry.h"
#include "store/db.h"

#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* c's request was submitted: it counts against its destination's limit
 * until its answer (live_unlink). */
static void live_link(struct worker *w, struct upload_ctx *c)
{
	telemetry_worker_inflight(1);
	dest_slot_started(c->slot);
	c->prev = NULL;
	c->next = w->live;
	if (w->live)
		w->live->prev = c;
	w->live = c;
}

static void live_unlink(struct worker *w, struct upload_ctx *c)
{
	telemetry_worker_inflight(-1);
	dest_slot_finished(c->slot);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void upload_done_cb(const struct upload_resp *resp, void *arg);

/* FIFO lists of contexts: the token wait list, and the slot queues as
 * they are emptied at a stop. */
struct ctx_fifo {
	struct upload_ctx **head, **tail;
};

static void fifo_push(struct ctx_fifo q, struct upload_ctx *c)
{
	c->next = c->prev = NULL;
	if (*q.tail)
		(*q.tail)->next = c;
	else
		*q.head = c;
	*q.tail = c;
}

static struct upload_ctx *fifo_pop(struct ctx_fifo q)
{
	struct upload_ctx *c = *q.head;

	if (c == NULL)
		return NULL;
	*q.head = c->next;
	if (*q.head == NULL)
		*q.tail = NULL;
	c->next = NULL;
	return c;
}

static struct ctx_fifo auth_queue(struct worker *w)
{
	return (struct ctx_fifo){ &w->authwait_head, &w->authwait_tail };
}

static bool slot_free(const struct worker *w)
{
	return uploader_inflight(w->up) < (size_t)w->cfg->worker_max_inflight;
}

bool stage_deliver_has_room(const struct worker *w)
{
	return slot_free(w) && !dest_slots_any_ready(&w->slots);
}

/* Hold every delivery of c and pause its destination (build failures). */
static void hold_and_pause(struct worker *w, struct upload_ctx *c, const char *why)
{
	struct recs r = { 0 };

	for (size_t i = 0; i < c->n; i++) {
		recs_add(&r, c->ids[i], c->claimed[i], "held", "paused", why);
		r.v[r.n - 1].refund = true;
	}
	recs_write(w, &r, c->dest->d.id, why);
	recs_cleanup(&r);
}

/* Give every delivery of c back to pending, attempt refunded, due after a
 * short delay (a transient problem before the request could go). */
static void release_soon(struct worker *w, struct upload_ctx *c, const char *why)
{
	struct recs r = { 0 };

	for (size_t i = 0; i < c->n; i++) {
		recs_add(&r, c->ids[i], c->claimed[i], "pending", "released", why);
		r.v[r.n - 1].refund = true;
		r.v[r.n - 1].delay_ms = RELEASE_DELAY_MS;
	}
	recs_write(w, &r, NULL, NULL);
	recs_cleanup(&r);
}

/*
 * The auth hook: put c's access token in c->token.  0 when it is there;
 * 1 when c was taken care of — waiting for a refresh (the worker's
 * auth_ev wakes it), held with its destination paused (the grant is
 * refused or missing: an operator must re-authorize) or released (the
 * token server is unreachable).  Takes ownership of c when it returns 1.
 */
static int get_token(struct worker *w, struct upload_ctx *c)
{
	const struct destination *d = &c->dest->d;
	struct oauth_grant g = { 0 };
	struct err e = { 0 };
	char tok[OAUTH_TOKEN_MAX + 1];
	char why[600];
	int rc;

	rc = d->ops->auth_grant(d, w->cfg, &g, &e);
	if (rc != 0) {
		snprintf(why, sizeof(why), "no OAuth client: %s", e.msg);
		hold_and_pause(w, c, why);
		ctx_free(c);
		return 1;
	}
	rc = oauth_cache_get(w->rt->oauth, d->id, &g, w->up, w->auth_ev, tok, &e);
	oauth_grant_cleanup(&g);
	switch (rc) {
	case 0:
		c->token = xstrdup(tok);
		sodium_memzero(tok, sizeof(tok));
		return 0;
	case OAUTH_PENDING:
		fifo_push(auth_queue(w), c);
		return 1;
	case ERR_AUTH:
	case ERR_CONFIG:
		/* "reauthorize" starts the reason: stats, deliveries show and
		 * the consent callback (which resumes such a pause) key on it. */
		snprintf(why, sizeof(why),
			 "reauthorize: %s; run adsengctl destination authorize %s", e.msg, d->id);
		hold_and_pause(w, c, why);
		break;
	default:
		snprintf(why, sizeof(why), "could not get an access token: %s", e.msg);
		release_soon(w, c, why);
		break;
	}
	ctx_free(c);
	return 1;
}

static void check_done_cb(const struct upload_resp *resp, void *arg);

/*
 * Validation sampling (dest_ops.check_*): send c to the platform's
 * validation endpoint first when the kind samples it.  Returns whether c
 * went (check_done_cb takes it from there).  A check that cannot be built
 * or submitted is skipped: sampling is a diagnosis, never a reason to hold
 * an event back.
 */
static bool start_check(struct worker *w, struct upload_ctx *c)
{
	const struct destination *d = &c->dest->d;
	struct upload_req req;
	struct err e = { 0 };

	if (d->ops->check_build == NULL || c->checked || !d->ops->check_wanted(d, c->convs, c->n))
		return false;
	c->checked = true;
	upload_req_init(&req);
	if (d->ops->check_build(d, c->token, c->convs, c->n, &req, &e) != 0)
		goto skip;
	req.timeout_ms = (long)w->cfg->upload_timeout_ms;
	if (uploader_submit(w->up, &req, check_done_cb, c, &e) != 0)
		goto skip;
	live_link(w, c);
	return true;
skip:
	log_warn("validation check skipped", "worker=%d destination=%s err=\"%s\"", w->index, d->id,
		 e.msg);
	upload_req_cleanup(&req);
	return false;
}

/* Build and send one request; takes ownership of c. */
static void start_upload(struct worker *w, struct upload_ctx *c)
{
	struct upload_req req;
	struct err e = { 0 };
	const struct destination *d = &c->dest->d;

	if (d->ops->auth_grant && c->token == NULL && get_token(w, c) != 0)
		return;
	if (start_check(w, c))
		return;
	upload_req_init(&req);
	if (d->ops->build(d, c->token, c->convs, c->n, &req, &e) != 0) {
		char why[600];

		snprintf(why, sizeof(why), "could not build a request: %s", e.msg);
		hold_and_pause(w, c, why);
		upload_req_cleanup(&req);
		ctx_free(c);
		return;
	}
	req.timeout_ms = (long)w->cfg->upload_timeout_ms;
	log_debug("uploading", "worker=%d destination=%s events=%zu url=\"%s\"", w->index, d->id,
		  c->n, req.log_url ? req.log_url : "");
	if (uploader_submit(w->up, &req, upload_done_cb, c, &e) != 0) {
		release_soon(w, c, e.msg);
		upload_req_cleanup(&req);
		ctx_free(c);
		return;
	}
	live_link(w, c);
}

/* Send c now if an upload slot is free, its destination is under its
 * limit and none of its requests waits, else queue it behind them (FIFO
 * per destination, so a bisected batch's halves do not overtake older
 * groups); takes ownership of c.  A destination at its limit queues only
 * its own requests: the others still start. */
void deliver_submit(struct worker *w, struct upload_ctx *c)
{
	if (slot_free(w) && dest_slot_has_room(c->slot) && dest_slot_queued(c->slot) == 0) {
		start_upload(w, c);
		return;
	}
	dest_slot_push(c->slot, c);
}

void stage_deliver_start_queued(struct worker *w)
{
	struct upload_ctx *c;
	struct err e = { 0 };

	/* Round robin over the destinations with room, so a destination
	 * with a long queue does not keep the others waiting. */
	while (!w->stopping && w->conn && slot_free(w) &&
	       (c = dest_slots_pop_ready(&w->slots, NULL)) != NULL) {
		/* Its lease ran while it waited.  Where it was lost already the
		 * record will be fenced off; the send is then a duplicate the
		 * platform drops by event_id. */
		if (delivery_store_extend(w->conn, c->ids, c->claimed, c->n,
					  w->cfg->worker_lease_ms, &e) != 0)
			worker_db_error(w, "could not extend leases", &e);
		start_upload(w, c);
	}
}

void stage_deliver_auth_ready(struct worker *w)
{
	struct upload_ctx *list = w->authwait_head;
	struct upload_ctx *c;
	struct err e = { 0 };

	/* While stopping they stay listed: stage_deliver_release_all gives
	 * them back. */
	if (w->stopping || w->conn == NULL)
		return;
	w->authwait_head = w->authwait_tail = NULL;
	while ((c = list) != NULL) {
		list = c->next;
		c->next = NULL;
		/* The lease ran while the token was fetched. */
		if (delivery_store_extend(w->conn, c->ids, c->claimed, c->n,
					  w->cfg->worker_lease_ms, &e) != 0)
			worker_db_error(w, "could not extend leases", &e);
		deliver_submit(w, c);
	}
}

/* Write an attempt row (state unchanged, lease kept) for each delivery of
 * c: a request that is about to be sent again in another shape. */
static void log_interim(struct worker *w, struct upload_ctx *c, const struct upload_resp *resp,
			const struct outcome *out, const char *outcome)
{
	struct recs r = { 0 };
	struct err e = { 0 };

	for (size_t i = 0; i < c->n; i++) {
		recs_add(&r, c->ids[i], c->claimed[i], NULL, outcome, out[i].message);
		if (strcmp(outcome, "validation_warning") != 0)
			telemetry_upload_outcome(c->dest->d.id, outcome, false);
		r.v[r.n - 1].http_status = resp->transport_error ? 0 : (int32_t)resp->status;
		r.v[r.n - 1].platform_code = out[i].platform_code;
		r.v[r.n - 1].latency_ms = (int32_t)resp->latency_ms;
	}
	recs_write(w, &r, NULL, NULL);
	recs_cleanup(&r);
	if (w->conn && delivery_store_extend(w->conn, c->ids, c->claimed, c->n,
					     w->cfg->worker_lease_ms, &e) != 0)
		worker_db_error(w, "could not extend leases", &e);
}

/*
 * The platform refused the access token (401): drop it from the cache and
 * send the same events once more with a fresh one.  The claimed attempt
 * is the one the resend uses, so a refresh burns nothing.  Only once per
 * request: a second refusal is recorded (held, reauthorize).  Returns
 * whether c was resent (its conversions moved to the new request).
 */
static bool reauth_resend(struct worker *w, struct upload_ctx *c, const struct upload_resp *resp,
			  const struct outcome *out)
{
	struct upload_ctx *again;
	bool reauth = false;

	for (size_t i = 0; i < c->n; i++)
		reauth |= out[i].kind == OUTCOME_REAUTH;
	if (!reauth || c->reauthed)
		return false;
	oauth_cache_invalidate(w->rt->oauth, c->dest->d.id, c->token);
	log_interim(w, c, resp, out, "reauth");
	again = ctx_new(w, c->dest, c->n);
	for (size_t i = 0; i < c->n; i++)
		ctx_push(again, c->convs[i], c->ids[i], c->claimed[i]);
	again->reauthed = true;
	c->n = 0;
	deliver_submit(w, again);
	return true;
}

/*
 * A request refused because of some of its events (Data Manager field
 * violations): the events marked RESEND were not at fault and go again at
 * once, without the others and without spending an attempt; c keeps the
 * rest, compacted with their outcomes, for record_outcomes.  Nothing is
 * resent when no event was at fault (that would loop): record_outcomes
 * then gives them back to pending.
 */
static void resend_innocent(struct worker *w, struct upload_ctx *c, const struct upload_resp *resp,
			    struct outcome *out)
{
	struct upload_ctx *again = NULL;
	size_t n_resend = 0, kept = 0;

	for (size_t i = 0; i < c->n; i++)
		n_resend += out[i].kind == OUTCOME_RESEND;
	if (n_resend == 0 || n_resend == c->n)
		return;
	again = ctx_new(w, c->dest, n_resend);
	again->reauthed = c->reauthed;
	for (size_t i = 0; i < c->n; i++) {
		if (out[i].kind == OUTCOME_RESEND) {
			ctx_push(again, c->convs[i], c->ids[i], c->claimed[i]);
			continue;
		}
		c->convs[kept] = c->convs[i];
		c->ids[kept] = c->ids[i];
		c->claimed[kept] = c->claimed[i];
		out[kept] = out[i];
		kept++;
	}
	c->n = kept;
	{
		struct outcome *rout = xcalloc(again->n, sizeof(*rout));

		outcome_fill(rout, again->n, OUTCOME_RESEND, -1, "",
			     "sent again without the events the platform refused");
		log_interim(w, again, resp, rout, "resend");
		free(rout);
	}
	deliver_submit(w, again);
}

/* Split c into halves and send both (a whole-batch rejection). */
static void bisect(struct worker *w, struct upload_ctx *c, const struct upload_resp *resp,
		   const struct outcome *out)
{
	struct upload_ctx *half[2];
	size_t mid = c->n / 2;

	log_interim(w, c, resp, out, "split");
	half[0] = ctx_new(w, c->dest, mid);
	half[1] = ctx_new(w, c->dest, c->n - mid);
	for (size_t i = 0; i < c->n; i++)
		ctx_push(half[i < mid ? 0 : 1], c->convs[i], c->ids[i], c->claimed[i]);
	c->n = 0; /* the halves own the conversions now */
	deliver_submit(w, half[0]);
	deliver_submit(w, half[1]);
}

/* When to ask the platform first about a request it accepted; -1 when
 * the kind has no status query. */
static int64_t status_delay_ms(const struct dest_ops *ops, const struct config *cfg)
{
	const struct config_platform_key *k = ops->status_delay_key;
	const char *v;
	int64_t ms = 30 * 60 * 1000;

	if (ops->status_build == NULL || ops->status_parse == NULL)
		return -1;
	v = k ? config_platform_value(cfg, k->section, k->name) : NULL;
	if (v && config_parse_duration_ms(v, &ms) != 0)
		ms = 30 * 60 * 1000; /* platform keys are plain strings */
	return ms;
}

static void record_outcomes(struct worker *w, struct upload_ctx *c, const struct upload_resp *resp,
			    struct outcome *out)
{
	struct backoff_policy pol = { w->cfg->retry_base_ms, w->cfg->retry_cap_ms,
				      w->cfg->retry_max_attempts };
	struct recs r = { 0 };
	const char *pause_reason = NULL;
	char reauth_reason[400];
	int64_t delivered = 0;
	int64_t poll_after_ms = status_delay_ms(c->dest->d.ops, w->cfg);

	for (size_t i = 0; i < c->n; i++) {
		struct outcome *o = &out[i];
		const char *state = "failed";
		int64_t delay = 0;
		bool refund = false, retry = false;
		char msg[400];

		snprintf(msg, sizeof(msg), "%s", o->message);
		switch (o->kind) {
		case OUTCOME_DELIVERED:
			state = "delivered";
			delivered++;
			break;
		case OUTCOME_RETRY:
			if (c->breaker_hold_ms >= 0) {
				/* The destination failed, not the event: the
				 * breaker takes the attempt back. */
				state = "pending";
				refund = true;
				delay = c->breaker_hold_ms;
			} else if (backoff_should_retry(&pol, c->claimed[i])) {
				state = "pending";
				retry = true;
				delay = backoff_delay_ms(
					&pol, c->claimed[i], backoff_rand01(),
					o->retry_after_s >= 0 ? o->retry_after_s * 1000 : -1);
			} else {
				state = "dead";
				snprintf(msg, sizeof(msg), "gave up after %d attempts: %s",
					 c->claimed[i], o->message);
			}
			break;
		case OUTCOME_SPLIT:
			if (c->n > 1) {
				/* Only while stopping (otherwise bisected): the
				 * bad event is not known yet, so none of them
				 * is failed.  Back to pending, attempt given
				 * back; the next run bisects. */
				state = "pending";
				refund = true;
				snprintf(msg, sizeof(msg),
					 "batch rejected while stopping, not split: %s",
					 o->message);
				break;
			}
			/* A single event rejected: it is the bad one. */
			state = "failed";
			break;
		case OUTCOME_FAILED:
			state = "failed";
			break;
		case OUTCOME_DEAD:
			state = "dead";
			break;
		case OUTCOME_REAUTH:
			if (w->stopping) {
				/* Not the time to judge the grant: the next
				 * run refreshes and resends. */
				state = "pending";
				refund = true;
				break;
			}
			/* Refused again right after a refresh: the grant
			 * lacks access (scope, account).  "reauthorize"
			 * starts the pause reason, as for invalid_grant. */
			state = "held";
			refund = true;
			snprintf(msg, sizeof(msg),
				 "reauthorize: a fresh access token was refused too: %s",
				 o->message);
			snprintf(reauth_reason, sizeof(reauth_reason), "%s", msg);
			pause_reason = reauth_reason;
			break;
		case OUTCOME_PAUSE:
			state = "held";
			refund = true;
			pause_reason = o->message;
			break;
		case OUTCOME_RESEND:
			/* Here only while stopping, or when no event of the
			 * request was at fault: due again at once. */
			state = "pending";
			refund = true;
			break;
		}
		recs_add(&r, c->ids[i], c->claimed[i], state, outcome_kind_name(o->kind), msg);
		telemetry_upload_outcome(c->dest->d.id, outcome_kind_name(o->kind), retry);
		r.v[r.n - 1].delay_ms = delay;
		r.v[r.n - 1].refund = refund;
		r.v[r.n - 1].http_status = resp->transport_error ? 0 : (int32_t)resp->status;
		r.v[r.n - 1].platform_code = o->platform_code;
		r.v[r.n - 1].latency_ms = (int32_t)resp->latency_ms;
		if (o->kind == OUTCOME_DELIVERED && o->request_id[0] && poll_after_ms >= 0) {
			r.v[r.n - 1].request_id = o->request_id; /* out outlives r */
			r.v[r.n - 1].poll_after_ms = poll_after_ms;
		}
	}
	{
		int64_t t0 = clock_mono_us();

		recs_write(w, &r, pause_reason ? c->dest->d.id : NULL, pause_reason);
		/* For the rate in the service status line. */
		atomic_fetch_add(&w->rt->delivered, delivered);
		log_debug("outcomes recorded", "worker=%d n=%zu ms=%lld", w->index, r.n,
			  (long long)(clock_mono_us() - t0) / 1000);
	}
	recs_cleanup(&r);
}

/*
 * The validation endpoint answered for c: events it found invalid end
 * failed unsent; the others go for real, with its warning noted (an
 * attempt row "validation_warning", and c->check_note for their delivered
 * outcomes).  Takes ownership of c.
 */
static void check_done_cb(const struct upload_resp *resp, void *arg)
{
	struct upload_ctx *c = arg;
	struct worker *w = c->w;
	struct outcome *out;
	struct recs r = { 0 };
	size_t kept = 0;

	live_unlink(w, c);
	if (w->conn == NULL || w->stopping) {
		/* As for an unanswered upload: released by the stop, or the
		 * leases expire. */
		if (w->conn)
			release_soon(w, c, "daemon stopped before the events were sent");
		ctx_free(c);
		if (w->stopping)
			worker_check_stopped(w);
		return;
	}
	out = xcalloc(c->n, sizeof(*out));
	c->dest->d.ops->check_result(&c->dest->d, resp, c->convs, c->n, out);
	for (size_t i = 0; i < c->n; i++) {
		if (out[i].kind == OUTCOME_FAILED) {
			recs_add(&r, c->ids[i], c->claimed[i], "failed", "failed", out[i].message);
			r.v[r.n - 1].http_status =
				resp->transport_error ? 0 : (int32_t)resp->status;
			r.v[r.n - 1].platform_code = out[i].platform_code;
			conv_free(c->convs[i]);
			continue;
		}
		if (out[i].message[0] && c->check_note == NULL)
			c->check_note = xstrdup(out[i].message);
		c->convs[kept] = c->convs[i];
		c->ids[kept] = c->ids[i];
		c->claimed[kept] = c->claimed[i];
		out[kept] = out[i];
		kept++;
	}
	recs_write(w, &r, NULL, NULL);
	recs_cleanup(&r);
	c->n = kept;
	if (kept > 0 && c->check_note)
		log_interim(w, c, resp, out, "validation_warning");
	free(out);
	if (kept == 0) {
		ctx_free(c);
		stage_deliver_start_queued(w);
		return;
	}
	deliver_submit(w, c);
}

/* Prefix the validation check's warning to c's delivered outcomes. */
static void add_check_note(const struct upload_ctx *c, struct outcome *out)
{
	char tmp[sizeof(out->message)];

	for (size_t i = 0; i < c->n && c->check_note; i++) {
		if (out[i].kind != OUTCOME_DELIVERED)
			continue;
		snprintf(tmp, sizeof(tmp), "%s%s%s", c->check_note, out[i].message[0] ? "; " : "",
			 out[i].message);
		memcpy(out[i].message, tmp, sizeof(tmp));
	}
}

static void upload_done_cb(const struct upload_resp *resp, void *arg)
{
	struct upload_ctx *c = arg;
	struct worker *w = c->w;
	struct dest_slot *slot = c->slot; /* outlives c */
	struct outcome *out;
	bool split = false;
	int suppressed;

	live_unlink(w, c);
	if (w->conn == NULL) {
		/* No connection to record on (lost, or released at shutdown):
		 * the leases expire and the events are sent again, which the
		 * platform deduplicates by event_id. */
		ctx_free(c);
		if (w->stopping)
			worker_check_stopped(w);
		return;
	}
	out = xcalloc(c->n, sizeof(*out));
	c->dest->d.ops->result(&c->dest->d, resp, c->convs, c->n, out);
	telemetry_upload_finished(c->dest->d.id, resp->transport_error, resp->status,
				  resp->latency_ms);
	add_check_note(c, out);
	c->breaker_hold_ms = dest_health_report(w, c->dest->d.id, resp);
	for (size_t i = 0; i < c->n && c->n > 1; i++)
		split |= out[i].kind == OUTCOME_SPLIT;
	log_debug("upload finished", "worker=%d events=%zu status=%ld latency_ms=%lld", w->index,
		  c->n, resp->status, (long long)resp->latency_ms);
	if (resp->transport_error || resp->status >= 300) {
		if (log_ratelimit_allow(&w->rl_up, 30, &suppressed))
			log_warn("upload not accepted",
				 "worker=%d destination=%s events=%zu status=%ld outcome=%s "
				 "err=\"%s\" suppressed=%d",
				 w->index, c->dest->d.id, c->n, resp->status,
				 outcome_kind_name(out[0].kind),
				 resp->transport_error ? resp->transport_msg : out[0].message,
				 suppressed);
	}
	if (split && !w->stopping) {
		bisect(w, c, resp, out);
	} else if (w->stopping || !reauth_resend(w, c, resp, out)) {
		if (!w->stopping)
			resend_innocent(w, c, resp, out);
		record_outcomes(w, c, resp, out);
	}
	free(out);
	ctx_free(c);
	if (w->stopping) {
		worker_check_stopped(w);
		return;
	}
	stage_deliver_start_queued(w);
	/* A destination the last claim skipped for being full has room now:
	 * its due deliveries wait in the database, claim them. */
	if (stage_deliver_has_room(w) && (w->more_due || dest_slot_take_skipped(slot)))
		worker_kick(w);
}

/* Add a "released" record (attempt refunded) for every delivery of every
 * context of list. */
static void add_released(struct recs *r, struct upload_ctx *list, const char *why)
{
	for (struct upload_ctx *c = list; c; c = c->next) {
		for (size_t i = 0; i < c->n; i++) {
			recs_add(r, c->ids[i], c->claimed[i], "pending", "released", why);
			r->v[r->n - 1].refund = true;
		}
	}
}

void stage_deliver_release_waiting(struct worker *w)
{
	struct recs r = { 0 };
	struct upload_ctx *c, *head = NULL, *tail = NULL;
	struct ctx_fifo waiting = { &head, &tail };
	size_t n;

	while ((c = dest_slots_pop_any(&w->slots)) != NULL) {
		for (size_t i = 0; i < c->n; i++) {
			recs_add(&r, c->ids[i], c->claimed[i], "pending", "released",
				 "daemon stopped before it was sent");
			r.v[r.n - 1].refund = true;
		}
		fifo_push(waiting, c);
	}
	add_released(&r, w->authwait_head, "daemon stopped while waiting for an access token");
	recs_write(w, &r, NULL, NULL);
	n = r.n;
	recs_cleanup(&r);
	while ((c = fifo_pop(waiting)) != NULL)
		ctx_free(c);
	while ((c = fifo_pop(auth_queue(w))) != NULL)
		ctx_free(c);
	if (n)
		log_info("released deliveries that were waiting to be sent", "worker=%d n=%zu",
			 w->index, n);
}

void stage_deliver_release_all(struct worker *w)
{
	struct recs r = { 0 };
	size_t n;

	stage_deliver_release_waiting(w);
	add_released(&r, w->live, "daemon stopped before the platform answered");
	recs_write(w, &r, NULL, NULL);
	n = r.n;
	recs_cleanup(&r);
	if (n)
		log_info("released unfinished deliveries", "worker=%d n=%zu", w->index, n);
	/* Their transfers are aborted by uploader_free; make the callbacks
	 * only free their contexts. */
	db_link_drop(&w->link);
	w->conn = NULL;
	if (w->pg_ev) {
		event_free(w->pg_ev);
		w->pg_ev = NULL;
	}
}
