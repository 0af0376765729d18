/*
 * dest_slots.c - per-destination in-flight counts and wait queues of one
 * worker (dest_slots.h).  A worker sees a handful of destinations, so a
 * list searched by id is enough.
 */
#include "pipeline/dest_slots.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dest_slots_init(struct dest_slots *t)
{
	memset(t, 0, sizeof(*t));
}

void dest_slots_cleanup(struct dest_slots *t)
{
	struct dest_slot *s = t->list, *next;

	for (; s; s = next) {
		next = s->next;
		free(s->q);
		free(s);
	}
	memset(t, 0, sizeof(*t));
}

struct dest_slot *dest_slots_get(struct dest_slots *t, const char *id)
{
	struct dest_slot *s;

	for (s = t->list; s; s = s->next) {
		if (strcmp(s->id, id) == 0)
			return s;
	}
	s = xcalloc(1, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->limit = 1;
	s->next = t->list;
	t->list = s;
	return s;
}

void dest_slot_set_limit(struct dest_slot *s, size_t limit)
{
	s->limit = limit ? limit : 1;
}

bool dest_slot_has_room(const struct dest_slot *s)
{
	return s->inflight < s->limit;
}

void dest_slot_started(struct dest_slot *s)
{
	s->inflight++;
}

void dest_slot_finished(struct dest_slot *s)
{
	if (s->inflight > 0)
		s->inflight--;
}

void dest_slot_push(struct dest_slot *s, void *item)
{
	if (s->q_len == s->q_cap) {
		size_t cap = s->q_cap ? s->q_cap * 2 : 8;
		void **q = xcalloc(cap, sizeof(*q));

		/* Unroll the ring into the new array, oldest first. */
		for (size_t i = 0; i < s->q_len; i++)
			q[i] = s->q[(s->q_head + i) % s->q_cap];
		free(s->q);
		s->q = q;
		s->q_cap = cap;
		s->q_head = 0;
	}
	s->q[(s->q_head + s->q_len) % s->q_cap] = item;
	s->q_len++;
}

size_t dest_slot_queued(const struct dest_slot *s)
{
	return s->q_len;
}

static void *slot_pop(struct dest_slot *s)
{
	void *item;

	if (s->q_len == 0)
		return NULL;
	item = s->q[s->q_head];
	s->q_head = (s->q_head + 1) % s->q_cap;
	s->q_len--;
	return item;
}

static bool slot_ready(const struct dest_slot *s)
{
	return s->q_len > 0 && dest_slot_has_room(s);
}

void *dest_slots_pop_ready(struct dest_slots *t, struct dest_slot **from)
{
	struct dest_slot *start = t->cursor && t->cursor->next ? t->cursor->next : t->list;
	struct dest_slot *s = start;

	if (s == NULL)
		return NULL;
	/* One round from just after the last destination served. */
	do {
		if (slot_ready(s)) {
			t->cursor = s;
			if (from)
				*from = s;
			return slot_pop(s);
		}
		s = s->next ? s->next : t->list;
	} while (s != start);
	return NULL;
}

bool dest_slots_any_ready(const struct dest_slots *t)
{
	for (const struct dest_slot *s = t->list; s; s = s->next) {
		if (slot_ready(s))
			return true;
	}
	return false;
}

void *dest_slots_pop_any(struct dest_slots *t)
{
	for (struct dest_slot *s = t->list; s; s = s->next) {
		if (s->q_len > 0)
			return slot_pop(s);
	}
	return NULL;
}

size_t dest_slots_full_ids(struct dest_slots *t, const char **ids, size_t max)
{
	size_t n = 0;

	for (struct dest_slot *s = t->list; s && n < max; s = s->next) {
		if (s->inflight + s->q_len >= s->limit) {
			s->skipped = true;
			ids[n++] = s->id;
		}
	}
	return n;
}

bool dest_slot_take_skipped(struct dest_slot *s)
{
	if (!s->skipped || s->inflight + s->q_len >= s->limit)
		return false;
	s->skipped = false;
	return true;
}
