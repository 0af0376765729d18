/*
 * deliver_ctx.c - stage 2's request contexts and outcome records
 * (deliver_int.h).
 */
#include "destinations/dest.h"
#include "pipeline/deliver_int.h"

#include <stdlib.h>
#include <string.h>

void recs_add(struct recs *r, int64_t id, int32_t claimed, const char *state, const char *outcome,
	      const char *error)
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

void recs_cleanup(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->owned[i]);
	free(r->owned);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

void recs_write(struct worker *w, struct recs *r, const char *pause_dest, const char *pause_reason)
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

void ctx_free(struct upload_ctx *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		conv_free(c->convs[i]);
	free(c->convs);
	free(c->ids);
	free(c->claimed);
	dest_secret_free(c->token);
	free(c->check_note);
	dest_entry_unref(c->dest);
	free(c);
}

struct upload_ctx *ctx_new(struct worker *w, struct dest_entry *dest, size_t cap)
{
	struct upload_ctx *c = xcalloc(1, sizeof(*c));

	c->w = w;
	c->dest = dest;
	dest->refcnt++;
	/* The limit follows the destination as last loaded: a changed
	 * --max-inflight applies from the next request on. */
	c->slot = dest_slots_get(&w->slots, dest->d.id);
	dest_slot_set_limit(c->slot, dest_max_inflight(&dest->d));
	c->convs = xcalloc(cap ? cap : 1, sizeof(*c->convs));
	c->ids = xcalloc(cap ? cap : 1, sizeof(*c->ids));
	c->claimed = xcalloc(cap ? cap : 1, sizeof(*c->claimed));
	return c;
}

void ctx_push(struct upload_ctx *c, struct conversion *conv, int64_t id, int32_t claimed)
{
	c->convs[c->n] = conv;
	c->ids[c->n] = id;
	c->claimed[c->n] = claimed;
	c->n++;
}
