/*
 * heartbeat.c - the progress stamps of the watchdog (heartbeat.h).
 */
#include "core/heartbeat.h"
#include "core/clock.h"

#include <stdio.h>

void heartbeats_init(struct heartbeats *h)
{
	for (int i = 0; i < HEARTBEAT_MAX; i++) {
		atomic_init(&h->at_ms[i], 0);
		h->name[i][0] = '\0';
	}
	atomic_init(&h->n, 0);
}

int heartbeat_register(struct heartbeats *h, const char *name)
{
	int slot = atomic_load(&h->n);

	if (slot >= HEARTBEAT_MAX)
		return -1;
	snprintf(h->name[slot], sizeof(h->name[slot]), "%s", name);
	atomic_store(&h->at_ms[slot], clock_mono_ms());
	/* Published last: a checker sees the slot only once it is stamped. */
	atomic_store(&h->n, slot + 1);
	return slot;
}

void heartbeat_beat(struct heartbeats *h, int slot)
{
	if (h == NULL || slot < 0 || slot >= HEARTBEAT_MAX)
		return;
	atomic_store_explicit(&h->at_ms[slot], clock_mono_ms(), memory_order_relaxed);
}

void heartbeat_retire(struct heartbeats *h, int slot)
{
	if (h == NULL || slot < 0 || slot >= HEARTBEAT_MAX)
		return;
	atomic_store(&h->at_ms[slot], HEARTBEAT_RETIRED);
}

int heartbeat_find_stale(const int64_t *at_ms, int n, int64_t now_ms, int64_t max_age_ms)
{
	for (int i = 0; i < n; i++) {
		if (at_ms[i] == HEARTBEAT_RETIRED || at_ms[i] >= now_ms)
			continue;
		if (now_ms - at_ms[i] > max_age_ms)
			return i;
	}
	return -1;
}

int heartbeats_check(struct heartbeats *h, int64_t now_ms, int64_t max_age_ms, int64_t *age_ms)
{
	int64_t snap[HEARTBEAT_MAX];
	int n = atomic_load(&h->n);
	int stale;

	for (int i = 0; i < n; i++)
		snap[i] = atomic_load_explicit(&h->at_ms[i], memory_order_relaxed);
	stale = heartbeat_find_stale(snap, n, now_ms, max_age_ms);
	if (age_ms)
		*age_ms = stale >= 0 ? now_ms - snap[stale] : 0;
	return stale;
}

const char *heartbeat_name(const struct heartbeats *h, int slot)
{
	if (slot < 0 || slot >= HEARTBEAT_MAX)
		return "";
	return h->name[slot];
}
