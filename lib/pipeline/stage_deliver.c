/*
 * stage_deliver.c - stage 2: claimed deliveries → platform requests →
 * recorded outcomes.
 *
 * A claim returns due deliveries sorted by destination.  Each destination's
 * group is filtered (paused destination → held, too old for the platform →
 * dead, unreadable → failed), cut into requests of the platform's batch
 * size, built by the destination's pure build() and sent with the
 * uploader.  When a request finishes, the destination's result() gives one
 * outcome per conversion, which becomes one record per delivery: state,
 * next attempt (full-jitter backoff, Retry-After as a floor), and a
 * delivery_attempts row.  A batch the platform rejects as a whole (Meta:
 * one bad event fails the request) is bisected so the good events still go
 * and only the bad ones end failed.  Credential errors pause the destination
 * and hold its deliveries without spending their attempts.  Every answer
 * also goes to the destination's circuit breaker (dest_health.h): while it
 * is open, failures and deliveries stage 1 hands over go back to pending
 * without spending an attempt.
 *
 * [workers] max_inflight bounds the uploads a worker has running: one
 * claim (or one stage 1 batch) can make more requests than there are free
 * slots, so the surplus waits in the worker's queue, in order, and starts
 * as uploads finish.  Its leases are refreshed when it starts.  A stop
 * gives queued deliveries back to pending like unfinished ones.
 */
#include "core/backoff.h"
#include "core/clock.h"
#include "core/mem.h"
#include "core/oauth_grant.h"
#include "net/oauth.h"
#include "pipeline/worker_int.h"
#include "store/db.h"
#include "store/delivery_store.h"

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELEASE_DELAY_MS 5000

struct upload_ctx {
	struct upload_ctx *next, *prev; /* the worker's live list or queue */
	struct worker *w;
	struct dest_entry *dest; /* one reference */
	size_t n;
	struct conversion **convs; /* owned */
	int64_t *ids;
	int32_t *claimed;
	int64_t breaker_hold_ms; /* dest_health_report() of its answer */
	char *token;		 /* the access token it is sent with (OAuth2 kinds) */
	bool reauthed;		 /* already resent once with a fresh token */
};

/* A growing list of records and the strings they point at. */
struct recs {
	struct delivery_record *v;
	char **owned;
	size_t n, cap;
};

static void recs_add(struct recs *r, int64_t id, int32_t claimed, const char *state,
		     const char *outcome, const char *error)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 32;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
		r->owned = xrealloc(r->owned, r->cap * sizeof(*r->owned));
	}
	r->owned[r->n] = xstrdup_opt(error);
	r->v[r->n] = (struct delivery_record){ .id = id,
					       .claimed_attempts = claimed,
					       .state = state,
					       .outcome = outcome,
					       .error = r->owned[r->n] };
	r->n++;
}

static void recs_cleanup(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->owned[i]);
	free(r->owned);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void recs_write(struct worker *w, struct recs *r, const char *pause_dest,
		       const char *pause_reason)
{
	struct err e = { 0 };
	int64_t applied = 0;

	if (r->n == 0 || w->conn == NULL)
		return;
	if (delivery_store_record(w->conn, r->v, r->n, pause_dest, pause_reason, &applied, &e) !=
	    0) {
		/* The leases will expire and the deliveries be sent again: the
		 * platforms deduplicate on event_id. */
		worker_db_error(w, "could not record delivery outcomes", &e);
		return;
	}
	if (pause_dest)
		log_warn("destination paused", "destination=%s reason=\"%s\"", pause_dest,
			 pause_reason);
}

static void ctx_free(struct upload_ctx *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		conv_free(c->convs[i]);
	free(c->convs);
	free(c->ids);
	free(c->claimed);
	dest_secret_free(c->token);
	dest_entry_unref(c->dest);
	free(c);
}

static struct upload_ctx *ctx_new(struct worker *w, struct dest_entry *dest, size_t cap)
{
	struct upload_ctx *c = xcalloc(1, sizeof(*c));

	c->w = w;
	c->dest = dest;
	dest->refcnt++;
	c->convs = xcalloc(cap ? cap : 1, sizeof(*c->convs));
	c->ids = xcalloc(cap ? cap : 1, sizeof(*c->ids));
	c->claimed = xcalloc(cap ? cap : 1, sizeof(*c->claimed));
	return c;
}

static void ctx_push(struct upload_ctx *c, struct conversion *conv, int64_t id, int32_t claimed)
{
	c->convs[c->n] = conv;
	c->ids[c->n] = id;
	c->claimed[c->n] = claimed;
	c->n++;
}

static void live_link(struct worker *w, struct upload_ctx *c)
{
	c->prev = NULL;
	c->next = w->live;
	if (w->live)
		w->live->prev = c;
	w->live = c;
}

static void live_unlink(struct worker *w, struct upload_ctx *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

static void upload_done_cb(const struct upload_resp *resp, void *arg);

/* FIFO lists of contexts: the slot queue and the token wait list. */
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

static struct ctx_fifo slot_queue(struct worker *w)
{
	return (struct ctx_fifo){ &w->queued_head, &w->queued_tail };
}

static struct ctx_fifo auth_queue(struct worker *w)
{
	return (struct ctx_fifo){ &w->authwait_head, &w->authwait_tail };
}

static void queue_push(struct worker *w, struct upload_ctx *c)
{
	fifo_push(slot_queue(w), c);
}

static struct upload_ctx *queue_pop(struct worker *w)
{
	return fifo_pop(slot_queue(w));
}

static bool slot_free(const struct worker *w)
{
	return uploader_inflight(w->up) < (size_t)w->cfg->worker_max_inflight;
}

bool stage_deliver_has_room(const struct worker *w)
{
	return w->queued_head == NULL && slot_free(w);
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

/* Build and send one request; takes ownership of c. */
static void start_upload(struct worker *w, struct upload_ctx *c)
{
	struct upload_req req;
	struct err e = { 0 };
	const struct destination *d = &c->dest->d;

	if (d->ops->auth_grant && c->token == NULL && get_token(w, c) != 0)
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

/* Send c now if a slot is free and nobody is waiting, else queue it (FIFO,
 * so a bisected batch's halves do not overtake older groups); takes
 * ownership of c. */
static void submit_upload(struct worker *w, struct upload_ctx *c)
{
	if (stage_deliver_has_room(w)) {
		start_upload(w, c);
		return;
	}
	queue_push(w, c);
}

void stage_deliver_start_queued(struct worker *w)
{
	struct upload_ctx *c;
	struct err e = { 0 };

	while (w->queued_head && !w->stopping && w->conn && slot_free(w)) {
		c = queue_pop(w);
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
		submit_upload(w, c);
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
	submit_upload(w, again);
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
	submit_upload(w, again);
}

/* Split c into halves and send both (a whole-batch rejection). */
static void bisect(struct worker *w, struct upload_ctx *c, const struct upload_resp *resp,
		   const struct outcome *out)
{
	struct upload_ctx *half[2];
	size_t mid = c->n / 2;
	struct recs r = { 0 };
	struct err e = { 0 };

	for (size_t i = 0; i < c->n; i++) {
		recs_add(&r, c->ids[i], c->claimed[i], NULL, "split", out[i].message);
		r.v[r.n - 1].http_status = resp->transport_error ? 0 : (int32_t)resp->status;
		r.v[r.n - 1].platform_code = out[i].platform_code;
		r.v[r.n - 1].latency_ms = (int32_t)resp->latency_ms;
	}
	recs_write(w, &r, NULL, NULL);
	recs_cleanup(&r);
	if (w->conn && delivery_store_extend(w->conn, c->ids, c->claimed, c->n,
					     w->cfg->worker_lease_ms, &e) != 0)
		worker_db_error(w, "could not extend leases", &e);
	half[0] = ctx_new(w, c->dest, mid);
	half[1] = ctx_new(w, c->dest, c->n - mid);
	for (size_t i = 0; i < c->n; i++)
		ctx_push(half[i < mid ? 0 : 1], c->convs[i], c->ids[i], c->claimed[i]);
	c->n = 0; /* the halves own the conversions now */
	submit_upload(w, half[0]);
	submit_upload(w, half[1]);
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
	int64_t poll_after_ms = status_delay_ms(c->dest->d.ops, w->cfg);

	for (size_t i = 0; i < c->n; i++) {
		struct outcome *o = &out[i];
		const char *state = "failed";
		int64_t delay = 0;
		bool refund = false;
		char msg[400];

		snprintf(msg, sizeof(msg), "%s", o->message);
		switch (o->kind) {
		case OUTCOME_DELIVERED:
			state = "delivered";
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
		log_debug("outcomes recorded", "worker=%d n=%zu ms=%lld", w->index, r.n,
			  (long long)(clock_mono_us() - t0) / 1000);
	}
	recs_cleanup(&r);
}

static void upload_done_cb(const struct upload_resp *resp, void *arg)
{
	struct upload_ctx *c = arg;
	struct worker *w = c->w;
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
	if (w->more_due && stage_deliver_has_room(w))
		worker_kick(w);
}

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

/* Handle the items [from, to) of one destination. */
static void handle_group(struct worker *w, struct deliver_item *items, size_t from, size_t to)
{
	struct dest_entry *dest = NULL;
	struct recs r = { 0 };
	struct upload_ctx *c = NULL;
	struct err e = { 0 };
	const char *pause_reason = NULL;
	char why[600];
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
		if (c == NULL)
			c = ctx_new(w, dest, ops->max_batch);
		ctx_push(c, conv, items[i].id, items[i].attempts);
		if (c->n == ops->max_batch) {
			submit_upload(w, c);
			c = NULL;
		}
	}
	recs_write(w, &r, NULL, NULL);
	if (c)
		submit_upload(w, c);
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
	struct err e = { 0 };
	int rc;

	dest_health_probe(w);
	if (w->conn == NULL)
		return ERR_DB;
	rc = delivery_store_claim(w->conn, (int)w->cfg->worker_batch, w->cfg->worker_lease_ms, &b,
				  &e);
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

void stage_deliver_release_all(struct worker *w)
{
	struct recs r = { 0 };
	struct upload_ctx *c;
	size_t n;

	for (c = w->live; c; c = c->next) {
		for (size_t i = 0; i < c->n; i++) {
			recs_add(&r, c->ids[i], c->claimed[i], "pending", "released",
				 "daemon stopped before the platform answered");
			r.v[r.n - 1].refund = true;
		}
	}
	for (c = w->queued_head; c; c = c->next) {
		for (size_t i = 0; i < c->n; i++) {
			recs_add(&r, c->ids[i], c->claimed[i], "pending", "released",
				 "daemon stopped before it was sent");
			r.v[r.n - 1].refund = true;
		}
	}
	for (c = w->authwait_head; c; c = c->next) {
		for (size_t i = 0; i < c->n; i++) {
			recs_add(&r, c->ids[i], c->claimed[i], "pending", "released",
				 "daemon stopped while waiting for an access token");
			r.v[r.n - 1].refund = true;
		}
	}
	recs_write(w, &r, NULL, NULL);
	n = r.n;
	recs_cleanup(&r);
	while ((c = queue_pop(w)) != NULL)
		ctx_free(c);
	while ((c = fifo_pop(auth_queue(w))) != NULL)
		ctx_free(c);
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
