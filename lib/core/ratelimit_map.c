/*
 * ratelimit_map.c - a bounded table of token buckets by key
 * (ratelimit_map.h): open addressing over a short probe window, FNV-1a.
 */
#include "core/ratelimit_map.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	bool used;
	char key[RATELIMIT_MAP_KEY_MAX];
	struct ratelimit_bucket bucket;
	int64_t seen_us;
};

struct ratelimit_map {
	size_t n;
	struct slot *slots;
};

struct ratelimit_map *ratelimit_map_new(size_t slots)
{
	struct ratelimit_map *m = xcalloc(1, sizeof(*m));

	m->n = slots < RATELIMIT_MAP_PROBE ? RATELIMIT_MAP_PROBE : slots;
	m->slots = xcalloc(m->n, sizeof(*m->slots));
	return m;
}

void ratelimit_map_free(struct ratelimit_map *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* key's slot, or the one to give it: a free one first, else the stalest. */
static struct slot *find(struct ratelimit_map *m, const char *key, bool *found)
{
	uint64_t h = hash(key);
	struct slot *victim = NULL;

	*found = false;
	for (size_t i = 0; i < RATELIMIT_MAP_PROBE; i++) {
		struct slot *s = &m->slots[(h + i) % m->n];

		if (s->used && strcmp(s->key, key) == 0) {
			*found = true;
			return s;
		}
		if (victim == NULL || (victim->used && !s->used) ||
		    (victim->used == s->used && s->seen_us < victim->seen_us))
			victim = s;
	}
	return victim;
}

bool ratelimit_map_take(struct ratelimit_map *m, const char *key, const struct ratelimit_policy *p,
			int64_t now_us, int64_t *retry_after_s)
{
	char k[RATELIMIT_MAP_KEY_MAX];
	struct slot *s;
	bool found;

	snprintf(k, sizeof(k), "%s", key);
	s = find(m, k, &found);
	if (!found) {
		s->used = true;
		memcpy(s->key, k, sizeof(k));
		ratelimit_init(&s->bucket, p, now_us);
	}
	s->seen_us = now_us;
	return ratelimit_take(&s->bucket, p, now_us, retry_after_s);
}

size_t ratelimit_map_count(const struct ratelimit_map *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += m->slots[i].used;
	return n;
}
