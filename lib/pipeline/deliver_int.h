/*
 * deliver_int.h - what stage 2's two halves share: stage_deliver.c (claim,
 * filter and batch deliveries per destination) and deliver_upload.c (get a
 * token, build, send, and turn the platform's answer into records).
 * Everything here is touched only from the worker's own thread.
 */
#ifndef ADSENG_PIPELINE_DELIVER_INT_H
#define ADSENG_PIPELINE_DELIVER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/worker_int.h"
#include "store/delivery_store.h"

/* Delay of a delivery given back because of a transient local problem. */
#define RELEASE_DELAY_MS 5000

/* One request's worth of claimed deliveries of one destination. */
struct upload_ctx {
	struct upload_ctx *next, *prev; /* the worker's live list or queue */
	struct worker *w;
	struct dest_entry *dest; /* one reference */
	struct dest_slot *slot;	 /* its destination's in-flight count (w->slots) */
	size_t n;
	struct conversion **convs; /* owned */
	int64_t *ids;
	int32_t *claimed;
	int64_t breaker_hold_ms; /* dest_health_report() of its answer */
	char *token;		 /* the access token it is sent with (OAuth2 kinds) */
	bool reauthed;		 /* already resent once with a fresh token */
	bool checked;		 /* went through the validation check already */
	char *check_note;	 /* the check's warning, added to delivered outcomes */
};

/* A growing list of records and the strings they point at. */
struct recs {
	struct delivery_record *v;
	char **owned;
	size_t n, cap;
};

/* Append a record; error is copied. */
void recs_add(struct recs *r, int64_t id, int32_t claimed, const char *state, const char *outcome,
	      const char *error);
void recs_cleanup(struct recs *r);
/* Write the records (pausing pause_dest with pause_reason in the same
 * transaction when not NULL); a failure is logged, the leases then expire. */
void recs_write(struct worker *w, struct recs *r, const char *pause_dest, const char *pause_reason);

/* A context for up to cap deliveries of dest (takes a reference). */
struct upload_ctx *ctx_new(struct worker *w, struct dest_entry *dest, size_t cap);
void ctx_push(struct upload_ctx *c, struct conversion *conv, int64_t id, int32_t claimed);
/* Free c, its conversions and its token; NULL is a no-op. */
void ctx_free(struct upload_ctx *c);

/* Send c now if an upload slot is free and its destination has room and
 * no older request of it waits, else queue it; takes ownership of c
 * (deliver_upload.c). */
void deliver_submit(struct worker *w, struct upload_ctx *c);

#endif
