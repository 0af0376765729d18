/*
 * dest_slots.h - a worker's per-destination concurrency accounting: how
 * many requests of each destination are in flight, the destination's limit
 * (settings.max_inflight, else its kind's default: dest_max_inflight), and
 * the requests waiting because that limit is reached.
 *
 * Stage 2 asks it before it sends (dest_slot_has_room), counts a request
 * from submit to answer (dest_slot_started / dest_slot_finished), queues
 * what must wait per destination (dest_slot_push), and when an upload slot
 * frees takes the next waiting request of a destination that has room,
 * going round the destinations so that none starves another
 * (dest_slots_pop_ready).  The claim skips destinations that are full
 * (dest_slots_full_ids): their due deliveries stay pending in the database
 * instead of piling up here, and the worker claims for the others.
 *
 * Queued items are opaque pointers (the worker's upload contexts), so the
 * accounting is unit tested on its own.  One table per worker thread; not
 * thread safe.
 */
#ifndef ADSENG_PIPELINE_DEST_SLOTS_H
#define ADSENG_PIPELINE_DEST_SLOTS_H

#include <stdbool.h>
#include <stddef.h>

struct dest_slot {
	struct dest_slot *next; /* the table's list */
	char id[37];		/* destination uuid as text */
	size_t limit;		/* requests in flight allowed (>= 1) */
	size_t inflight;	/* started, not answered yet */
	bool skipped;		/* a claim left it out (dest_slots_full_ids) */
	/* Waiting requests, oldest first: a ring of cap pointers. */
	void **q;
	size_t q_head, q_len, q_cap;
};

struct dest_slots {
	struct dest_slot *list;
	struct dest_slot *cursor; /* where the round of pop_ready resumes */
};

void dest_slots_init(struct dest_slots *t);
/* Free every record; items still queued are not freed (drain them first
 * with dest_slots_pop_any). */
void dest_slots_cleanup(struct dest_slots *t);

/* The record of destination id, created (limit 1, nothing in flight) on
 * first use.  Records live until cleanup, so the pointer stays valid. */
struct dest_slot *dest_slots_get(struct dest_slots *t, const char *id);

/* A limit below 1 counts as 1. */
void dest_slot_set_limit(struct dest_slot *s, size_t limit);

/* Whether one more request of s may start now: inflight < limit. */
bool dest_slot_has_room(const struct dest_slot *s);
void dest_slot_started(struct dest_slot *s);
/* A started request was answered (or abandoned).  Never below zero. */
void dest_slot_finished(struct dest_slot *s);

/* Queue item (not NULL) behind s's other waiting requests. */
void dest_slot_push(struct dest_slot *s, void *item);
size_t dest_slot_queued(const struct dest_slot *s);

/* The oldest waiting item of the next destination (round robin) that has
 * room, removed from its queue; NULL when none may start.  The caller
 * starts it (dest_slot_started) or pushes it back. */
void *dest_slots_pop_ready(struct dest_slots *t, struct dest_slot **from);
/* Whether pop_ready would return an item. */
bool dest_slots_any_ready(const struct dest_slots *t);
/* Any waiting item, room or not (shutdown); NULL when none wait. */
void *dest_slots_pop_any(struct dest_slots *t);

/*
 * Ids of destinations with no room for more work: in flight plus waiting
 * at least their limit.  Up to max pointers into the records (valid until
 * cleanup) in ids; returns how many.  Each one named is marked skipped.
 */
size_t dest_slots_full_ids(struct dest_slots *t, const char **ids, size_t max);

/*
 * Whether s was left out of a claim and has room again (its due
 * deliveries may be waiting in the database: time to claim); clears the
 * mark when it answers true.
 */
bool dest_slot_take_skipped(struct dest_slot *s);

#endif
