/*
 * stage_normalize.c - stage 1: raw events → conversions + deliveries.
 *
 * One transaction per batch: lock pending raw events (SKIP LOCKED, so
 * workers share the backlog), parse each with its source's parser, write
 * the conversions (one per (source, event_id): orders/create and
 * orders/paid of one order make one conversion) and their deliveries, mark
 * the raw events, commit.  If the database refuses the rows themselves (a
 * data error by SQLSTATE, db_sqlstate_is_data_error), the batch is redone
 * one event at a time so only the offending event ends in state 'error'.
 * Any other failure (lost connection, deadlock, serialization failure,
 * lock or statement timeout, disk full, shutdown) is not the events'
 * fault: the transaction rolls back, the events stay queued, and the
 * batch is tried again on a later cycle.
 *
 * A source may also ask for something of itself through one of its events
 * (source_ops.action: Shopify's app/uninstalled disables the source, its
 * privacy webhooks erase or export a customer's data: privacy.c).  That
 * happens here rather than at ingest because here the event is already
 * durable and there is a database connection: the HTTP loop has neither
 * and must not block.  The action is applied in the transaction that marks
 * the event, so it happens once, and events of the source still queued
 * behind it stay queued (stage 1 passes over disabled sources): its data
 * is kept for when it is enabled again.
 *
 * Changes a source reports to conversions it sent before (source_ops.adjust:
 * a refund, an order edit) are applied after the batch's conversions are
 * written, in the same transaction and in event order, so a refund queued
 * behind its order in one batch finds the order's purchase
 * (adjustment_store.h decides what each change does).
 */
#include "core/clock.h"
#include "core/mem.h"
#include "core/quota.h"
#include "core/text.h"
#include "destinations/dest.h"
#include "pipeline/telemetry.h"
#include "pipeline/contacts.h"
#include "pipeline/privacy.h"
#include "pipeline/worker_int.h"
#include "sources/source.h"
#include "store/adjustment_store.h"
#include "store/billing_store.h"
#include "store/db.h"
#include "store/normalize_store.h"
#include "store/quota_store.h"
#include "store/source_action_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One source action asked by the batch's raw event rows[index]. */
struct noted_action {
	size_t index;
	enum source_action action;
	char key[SOURCE_CONTACT_KEY_MAX]; /* the person, for the privacy actions */
};

struct prepared {
	struct conv_row *rows;
	size_t n_rows, cap_rows;
	char **payloads; /* owned JSON texts, parallel to rows */
	struct conv_list convs;
	struct raw_mark *marks;
	char **errors; /* owned messages, parallel to marks */
	size_t n_marks;
	/* What raw events ask of their source (source_ops.action), applied
	 * before the marks are committed. */
	struct noted_action *acts;
	size_t n_acts;
	/* Reported changes (source_ops.adjust) and the batch index of the
	 * raw event each came from, parallel. */
	struct source_adjust_list adjs;
	size_t *adj_raw;
	size_t cap_adj_raw;
	size_t n_adj_before; /* adjs.n before the event being parsed */
	/* Per raw event: it reported changes, and one of them did something
	 * (else it is marked ignored with the reason). */
	bool *adj_listed, *adj_done;
	char **adj_why;
};

static void prepared_cleanup(struct prepared *p)
{
	for (size_t i = 0; i < p->n_rows; i++)
		free(p->payloads[i]);
	free(p->payloads);
	free(p->rows);
	conv_list_cleanup(&p->convs);
	for (size_t i = 0; i < p->n_marks; i++)
		free(p->errors[i]);
	free(p->errors);
	free(p->marks);
	free(p->acts);
	source_adjust_list_cleanup(&p->adjs);
	free(p->adj_raw);
	free(p->adj_listed);
	free(p->adj_done);
	for (size_t i = 0; i < p->n_marks && p->adj_why; i++)
		free(p->adj_why[i]);
	free(p->adj_why);
}

/* The message recorded with an 'error' mark.  A parser may quote input
 * cut at a byte count; text PostgreSQL refuses (invalid UTF-8) would fail
 * the mark, and with it the batch, on every retry. */
static char *mark_text(const char *msg)
{
	char *copy = xstrdup(msg);

	if (!text_is_utf8(copy)) {
		for (char *p = copy; *p; p++) {
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		}
	}
	return copy;
}

static void add_row(struct prepared *p, const struct raw_row *r, const struct conversion *c)
{
	cJSON *j = conv_to_json(c);
	char *text = cJSON_PrintUnformatted(j);

	cJSON_Delete(j);
	if (text == NULL)
		abort(); /* cJSON only fails to print on allocation failure */
	if (p->n_rows == p->cap_rows) {
		p->cap_rows = p->cap_rows ? p->cap_rows * 2 : 64;
		p->rows = xrealloc(p->rows, p->cap_rows * sizeof(*p->rows));
		p->payloads = xrealloc(p->payloads, p->cap_rows * sizeof(*p->payloads));
	}
	p->payloads[p->n_rows] = text;
	p->rows[p->n_rows] = (struct conv_row){
		.raw_id = r->id,
		.source_id = r->source_id,
		.tenant_id = r->tenant_id,
		.event = c->event,
		.event_id = c->event_id,
		.occurred_us = c->occurred_us,
		.value = c->value,
		.currency = c->currency,
		.order_id = c->order_id,
		.payload = text,
		.payload_len = strlen(text),
		.test = c->test,
	};
	p->n_rows++;
}

/* Whether a parsed event asks something of its source (source_ops.action);
 * if so it is noted in p for apply_actions. */
static bool wants_action(const struct source_ops *ops, const struct raw_event *ev,
			 struct prepared *p, size_t i)
{
	struct noted_action *a = &p->acts[p->n_acts];

	if (ops->action == NULL)
		return false;
	a->key[0] = '\0';
	a->action = ops->action(ev, a->key);
	if (a->action == SOURCE_ACTION_NONE)
		return false;
	a->index = i;
	p->n_acts++;
	return true;
}

/* A billing change the raw event r reports (source_ops.billing), applied
 * to its tenant.  A body that cannot be read any more, or a change no
 * tenant is linked to, is logged and changes nothing: the event is still
 * marked, since retrying it would not make it apply. */
static int apply_billing(PGconn *conn, const struct config *cfg, const struct raw_row *r,
			 struct err *e)
{
	const struct source_ops *ops = r->kind ? source_ops_find(r->kind) : NULL;
	struct raw_event ev = { .id = r->id,
				.source_id = r->source_id,
				.topic = r->topic,
				.headers_json = r->headers_json,
				.body = r->body,
				.body_len = r->body_len,
				.received_us = r->received_us,
				.settings_json = r->settings_json };
	struct billing_change c = { 0 };
	struct err pe = { 0 };
	enum billing_outcome o;
	int64_t tenant, released = 0;
	int rc;

	if (ops == NULL || ops->billing == NULL || ops->billing(&ev, cfg, &c, &pe) != 0) {
		log_warn("could not read a billing event", "raw_event=%lld reason=\"%s\"",
			 (long long)r->id, pe.msg);
		return 0;
	}
	rc = billing_store_apply(conn, &c, r->id, &o, &tenant, e);
	/* A new plan may allow more this month: release what it now admits,
	 * in this transaction (quota_store.h). */
	if (rc == 0 && o == BILLING_APPLIED && c.op == BILLING_SUBSCRIPTION)
		rc = quota_release_tenant(conn, &cfg->plan_quotas, tenant, clock_wall_ms() / 1000,
					  "stripe", "plan", &released, e);
	if (rc != 0)
		return rc;
	if (o == BILLING_UNMATCHED)
		log_warn("a billing event names no tenant we know",
			 "raw_event=%lld event=%s type=%s", (long long)r->id, c.event_id, c.type);
	else
		log_info("billing event", "raw_event=%lld event=%s type=%s tenant=%lld outcome=%s",
			 (long long)r->id, c.event_id, c.type, (long long)tenant,
			 billing_outcome_name(o));
	return 0;
}

/* One noted action.  The privacy ones are the sender's: the audit rows
 * name "<kind>-webhook" as the actor. */
static int apply_one(PGconn *conn, const struct config *cfg, const struct raw_row *r,
		     const struct noted_action *a, struct err *e)
{
	char actor[48];

	if (a->action == SOURCE_ACTION_DISABLE)
		return source_action_disable(conn, r->source_id, r->id, r->topic, e);
	if (a->action == SOURCE_ACTION_BILLING)
		return apply_billing(conn, cfg, r, e);
	snprintf(actor, sizeof(actor), "%s-webhook", r->kind ? r->kind : "source");
	return privacy_apply(conn, source_ops_find(r->kind), a->action, r->source_id, a->key, r->id,
			     actor, e);
}

static const char *action_name(enum source_action a)
{
	switch (a) {
	case SOURCE_ACTION_DISABLE:
		return "disable";
	case SOURCE_ACTION_REDACT_PERSON:
		return "redact_person";
	case SOURCE_ACTION_REDACT_SOURCE:
		return "redact_source";
	case SOURCE_ACTION_DATA_REQUEST:
		return "data_request";
	case SOURCE_ACTION_BILLING:
		return "billing";
	default:
		return "none";
	}
}

/* Carry out the noted source actions in the open transaction. */
static int apply_actions(PGconn *conn, const struct config *cfg, const struct raw_batch *b,
			 const struct prepared *p, struct err *e)
{
	for (size_t k = 0; k < p->n_acts; k++) {
		const struct raw_row *r = &b->rows[p->acts[k].index];
		int rc = apply_one(conn, cfg, r, &p->acts[k], e);

		if (rc != 0)
			return rc;
		log_info("carried out a request of a source's sender",
			 "source=%s raw_event=%lld topic=%s action=%s", r->source_id,
			 (long long)r->id, r->topic ? r->topic : "",
			 action_name(p->acts[k].action));
	}
	return 0;
}

/* The changes ev reports (source_ops.adjust), noted as raw event i's.
 * 0, or the parser's ERR_INVALID (the caller drops what was listed). */
static int list_changes(const struct source_ops *ops, const struct raw_event *ev,
			struct prepared *p, size_t i, struct err *pe)
{
	int rc;

	p->n_adj_before = p->adjs.n;
	if (ops->adjust == NULL)
		return 0;
	rc = ops->adjust(ev, &p->adjs, pe);
	if (rc != 0)
		return rc;
	if (p->adjs.n > p->cap_adj_raw) {
		p->cap_adj_raw = p->adjs.cap;
		p->adj_raw = xrealloc(p->adj_raw, p->cap_adj_raw * sizeof(*p->adj_raw));
	}
	for (size_t k = p->n_adj_before; k < p->adjs.n; k++)
		p->adj_raw[k] = i;
	p->adj_listed[i] = p->adjs.n > p->n_adj_before;
	return 0;
}

/* Apply one reported change in the open transaction (adjustment_store). */
static int apply_change(PGconn *conn, const struct raw_row *r, const struct source_adjustment *a,
			const char *const *kinds, size_t n_kinds, struct adjust_outcome *o,
			struct err *e)
{
	char key[40];
	struct adjust_row row = {
		.raw_id = r->id,
		.source_id = r->source_id,
		.event_id = a->event_id,
		.refund = a->op == SOURCE_ADJUST_REFUND,
		.amount = a->amount,
		.currency = a->currency,
		.reason = a->reason,
		.key = a->key,
		.occurred_us = a->occurred_us,
	};

	if (row.key == NULL) {
		/* The sender names no change: the raw event does, so only a
		 * reprocess of the same event is the same change. */
		snprintf(key, sizeof(key), "raw:%lld", (long long)r->id);
		row.key = key;
	}
	return adjustment_store_apply(conn, &row, kinds, n_kinds, o, e);
}

/*
 * Apply the batch's reported changes in event order, after its
 * conversions are written.  An event whose changes all did nothing is
 * marked ignored with the reason.  0, or the store's error (the batch
 * fails like a failed conversion write).
 */
static int apply_changes(PGconn *conn, const struct raw_batch *b, struct prepared *p, struct err *e)
{
	const char *kinds[16];
	size_t n_kinds = dest_adjustment_kinds(kinds, 16);

	if (n_kinds > 16)
		n_kinds = 16;
	for (size_t k = 0; k < p->adjs.n; k++) {
		size_t i = p->adj_raw[k];
		const struct raw_row *r = &b->rows[i];
		struct adjust_outcome o;
		int rc = apply_change(conn, r, &p->adjs.v[k], kinds, n_kinds, &o, e);

		if (rc != 0)
			return rc;
		if (o.fate == ADJUST_NOTHING) {
			free(p->adj_why[i]);
			p->adj_why[i] = mark_text(o.why);
			continue;
		}
		p->adj_done[i] = true;
		log_info(o.fate == ADJUST_UPDATED ? "updated a conversion's value before delivery"
						  : "stored an adjustment",
			 "raw_event=%lld conversion=%lld adjustment=%lld kind=%s value=%s "
			 "deliveries=%lld pending=%lld",
			 (long long)r->id, (long long)o.conversion_id, (long long)o.adjustment_id,
			 o.fate == ADJUST_UPDATED ? "update"
			 : o.retraction		  ? "retraction"
						  : "restatement",
			 o.value, (long long)o.n_deliveries, (long long)o.n_pending);
	}
	return 0;
}

/* Whether raw event i of the batch made a conversion or acted on its
 * source. */
static bool event_made_rows(const struct prepared *p, size_t i, int64_t raw_id)
{
	for (size_t k = 0; k < p->n_rows; k++) {
		if (p->rows[k].raw_id == raw_id)
			return true;
	}
	for (size_t k = 0; k < p->n_acts; k++) {
		if (p->acts[k].index == i)
			return true;
	}
	return false;
}

/* An event whose changes all came to nothing, and that made no conversion
 * and asked nothing of its source, is ignored, with the reason. */
static void mark_changes(const struct raw_batch *b, struct prepared *p)
{
	for (size_t i = 0; i < b->n; i++) {
		if (!p->adj_listed[i] || p->adj_done[i] || p->adj_why[i] == NULL)
			continue;
		if (p->errors[i] != NULL || strcmp(p->marks[i].state, "done") != 0)
			continue;
		if (event_made_rows(p, i, b->rows[i].id))
			continue;
		p->marks[i].state = "ignored";
		p->errors[i] = p->adj_why[i];
		p->adj_why[i] = NULL;
		p->marks[i].error = p->errors[i];
	}
}

/* Parse every claimed raw event; fills rows and marks.  Kinds that keep
 * contacts read and write them on conn, in the batch's transaction: a
 * failure there fails the batch (0 or the contact store's error). */
static int parse_batch(PGconn *conn, const struct raw_batch *b, struct prepared *p, struct err *e)
{
	p->marks = xcalloc(b->n ? b->n : 1, sizeof(*p->marks));
	p->errors = xcalloc(b->n ? b->n : 1, sizeof(*p->errors));
	p->n_marks = b->n;
	p->acts = xcalloc(b->n ? b->n : 1, sizeof(*p->acts));
	p->adj_listed = xcalloc(b->n ? b->n : 1, sizeof(*p->adj_listed));
	p->adj_done = xcalloc(b->n ? b->n : 1, sizeof(*p->adj_done));
	p->adj_why = xcalloc(b->n ? b->n : 1, sizeof(*p->adj_why));
	conv_list_init(&p->convs);
	source_adjust_list_init(&p->adjs);
	for (size_t i = 0; i < b->n; i++) {
		const struct raw_row *r = &b->rows[i];
		const struct source_ops *ops = r->kind ? source_ops_find(r->kind) : NULL;
		struct raw_event ev = { .id = r->id,
					.source_id = r->source_id,
					.topic = r->topic,
					.headers_json = r->headers_json,
					.body = r->body,
					.body_len = r->body_len,
					.received_us = r->received_us,
					.settings_json = r->settings_json,
					.has_items = r->has_items,
					.items_new = r->items_new,
					.n_items_new = r->n_items_new };
		struct err pe = { 0 };
		size_t before = p->convs.n;
		int rc;

		p->marks[i].id = r->id;
		p->marks[i].received_us = r->received_us;
		if (r->kind == NULL) {
			/* Not 'error': nothing is wrong with the event, and no
			 * parser fix would give it a destination. */
			p->marks[i].state = "ignored";
			p->errors[i] = xasprintf("source %s no longer exists", r->source_id);
		} else if (ops == NULL) {
			p->marks[i].state = "error";
			p->errors[i] = xasprintf("no parser for source kind \"%s\"", r->kind);
		} else if (list_changes(ops, &ev, p, i, &pe) != 0 ||
			   ops->parse(&ev, &p->convs, &pe) != 0) {
			source_adjust_list_truncate(&p->adjs, p->n_adj_before);
			p->adj_listed[i] = false;
			p->marks[i].state = "error";
			p->errors[i] = mark_text(pe.msg);
		} else if ((rc = contacts_apply(conn, ops, &ev, &p->convs, before, e)) != 0) {
			return rc;
		} else {
			bool acted = wants_action(ops, &ev, p, i);

			/* An event that only acts on its source did something;
			 * one that only reports changes is decided later
			 * (apply_changes). */
			p->marks[i].state = p->convs.n == before && !acted && !p->adj_listed[i]
						    ? "ignored"
						    : "done";
		}
		p->marks[i].error = p->errors[i];
		for (size_t k = before; k < p->convs.n; k++)
			add_row(p, r, p->convs.v[k]);
	}
	return 0;
}

static int cmp_item_dest(const void *a, const void *b)
{
	return strcmp(((const struct deliver_item *)a)->destination_id,
		      ((const struct deliver_item *)b)->destination_id);
}

/* Hand the deliveries created in flight to stage 2, with the conversions
 * already in memory (no claim, no re-parse). */
static void start_fresh(struct worker *w, struct prepared *p, const struct fresh_batch *fresh)
{
	struct deliver_item *items;

	if (fresh->n == 0)
		return;
	items = xcalloc(fresh->n, sizeof(*items));
	for (size_t i = 0; i < fresh->n; i++) {
		const struct fresh_delivery *f = &fresh->v[i];

		items[i].id = f->id;
		items[i].attempts = f->attempts;
		items[i].destination_id = f->destination_id;
		items[i].conversion_id = f->conversion_id;
		/* rows[k] was made from convs.v[k] (add_row) */
		items[i].conv = conv_ref(p->convs.v[f->ord - 1]);
	}
	qsort(items, fresh->n, sizeof(*items), cmp_item_dest);
	stage_deliver_items(w, items, fresh->n);
	free(items);
}

/* One transaction over up to `limit` raw events.  *write_failed is set
 * when the database refused the rows themselves (a data error), never for
 * a transient failure. */
static int normalize_once(struct worker *w, int limit, bool *write_failed)
{
	struct raw_batch b;
	struct prepared p = { 0 };
	struct err e = { 0 };
	struct fresh_batch fresh = { 0 };
	int64_t n_conv = 0;
	/* Upload new deliveries at once (no claim round trip) while this
	 * worker has room; otherwise leave them pending for any worker. */
	int64_t lease = uploader_inflight(w->up) < (size_t)w->cfg->worker_max_inflight
				? w->cfg->worker_lease_ms
				: 0;
	int rc;
	/* Topics of disabled sources still processed (a few, fixed at build
	 * time; rebuilt per batch, which costs nothing next to the claim). */
	char topics[512];
	/* The month this batch's conversions count in (tenant_usage). */
	char month[QUOTA_MONTH_TEXT];
	int64_t m_start, m_end;

	int64_t t0 = clock_mono_us(), t1, t2, t3;

	quota_month_of(clock_wall_ms() / 1000, &m_start, &m_end, month);

	*write_failed = false;
	if (!source_disabled_topics_literal(topics, sizeof(topics)))
		log_warn("the topics disabled sources take do not fit; none taken", "len=%zu",
			 sizeof(topics));
	rc = normalize_store_begin(w->conn, limit, topics, &b, &e);
	if (rc != 0) {
		worker_db_error(w, "could not claim raw events", &e);
		return rc;
	}
	if (b.n == 0) {
		raw_batch_cleanup(&b);
		rc = db_exec(w->conn, "COMMIT", &e);
		if (rc != 0)
			worker_db_error(w, "could not end a transaction", &e);
		return rc;
	}
	t1 = clock_mono_us();
	rc = parse_batch(w->conn, &b, &p, &e);
	t2 = clock_mono_us();
	if (rc == 0)
		rc = normalize_store_write(w->conn, p.rows, p.n_rows, lease, &w->cfg->plan_quotas,
					   month, &fresh, &n_conv, &e);
	if (rc == 0)
		rc = apply_changes(w->conn, &b, &p, &e);
	if (rc != 0) {
		*write_failed = rc == ERR_INVALID;
		normalize_store_rollback(w->conn);
		if (*write_failed && limit == 1) {
			/* The one event the database refuses: record why. */
			char *why = mark_text(e.msg);
			char *msg = xasprintf("could not store what it reports: %s", why);

			free(why);
			free(p.errors[0]);
			p.errors[0] = msg;
			p.marks[0].state = "error";
			p.marks[0].error = msg;
			raw_batch_cleanup(&b);
			rc = normalize_store_begin(w->conn, 1, topics, &b, &e);
			if (rc == 0 && b.n == 1 && b.rows[0].id == p.marks[0].id) {
				rc = normalize_store_commit(w->conn, p.marks, 1, &e);
				if (rc == 0)
					telemetry_raw_processed("error");
			} else if (rc == 0)
				normalize_store_rollback(w->conn);
			*write_failed = false;
		}
		if (rc != 0)
			worker_db_error(w, "could not write conversions", &e);
		goto out;
	}
	t3 = clock_mono_us();
	rc = apply_actions(w->conn, w->cfg, &b, &p, &e);
	if (rc != 0) {
		normalize_store_rollback(w->conn);
		worker_db_error(w, "could not apply a source action", &e);
		goto out;
	}
	mark_changes(&b, &p);
	rc = normalize_store_commit(w->conn, p.marks, b.n, &e);
	if (rc != 0) {
		worker_db_error(w, "could not commit normalized events", &e);
		goto out;
	}
	for (size_t i = 0; i < b.n; i++)
		telemetry_raw_processed(p.marks[i].state);
	log_debug("normalized raw events",
		  "worker=%d raw=%zu conversions=%lld deliveries=%lld claim_ms=%lld parse_ms=%lld "
		  "write_ms=%lld mark_commit_ms=%lld",
		  w->index, b.n, (long long)n_conv, (long long)fresh.n_deliveries,
		  (long long)(t1 - t0) / 1000, (long long)(t2 - t1) / 1000,
		  (long long)(t3 - t2) / 1000, (long long)(clock_mono_us() - t3) / 1000);
	rc = (int)b.n;
	start_fresh(w, &p, &fresh);
out:
	free(fresh.v);
	prepared_cleanup(&p);
	raw_batch_cleanup(&b);
	return rc;
}

int stage_normalize_run(struct worker *w)
{
	bool write_failed;
	int limit = (int)w->cfg->worker_batch;
	int n = normalize_once(w, limit, &write_failed);

	if (n >= 0 || !write_failed || w->conn == NULL)
		return n;
	/* Isolate the event the database refuses: one at a time, so the good
	 * ones of the batch still go through. */
	log_warn("a batch of raw events failed to store; retrying one by one", "worker=%d",
		 w->index);
	for (int i = 0; i < limit && w->conn; i++) {
		n = normalize_once(w, 1, &write_failed);
		if (n <= 0)
			return n;
	}
	return limit;
}
