/*
 * breaker.c - the circuit breaker's transitions and cool-down (see
 * breaker.h for the state machine).  No clock, no randomness and no I/O
 * here: the caller passes the time and the random sample.
 */
#include "core/breaker.h"
#include "core/backoff.h"

#include <string.h>

/* Enough doublings to reach any cap; keeps the exponent bounded. */
#define MAX_OPENS 1000
#define PARK_CAPS 10
/* Held deliveries come due spread over this, not all at once. */
#define HOLD_SPREAD_MS 1000

bool breaker_is_failure(bool transport_error, long http_status)
{
	return transport_error || http_status == 429 || (http_status >= 500 && http_status <= 599);
}

int64_t breaker_cooldown_ms(const struct breaker_policy *p, int32_t opens, double rand01)
{
	int64_t ceiling = backoff_ceiling_ms(p->cooldown_ms, p->cooldown_cap_ms, opens);

	/* Half fixed, half random: a cool-down is never close to zero. */
	return ceiling / 2 + (int64_t)((double)(ceiling - ceiling / 2) * backoff_clamp01(rand01));
}

static void open_until(struct breaker *b, int64_t now_ms, int64_t delay_ms)
{
	b->state = BREAKER_OPEN;
	b->retry_at_ms = now_ms + delay_ms;
	b->probe_until_ms = 0;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

struct breaker_verdict breaker_on_failure(struct breaker *b, const struct breaker_policy *p,
					  int64_t now_ms, int64_t retry_after_ms, double rand01)
{
	struct breaker_verdict v = { BREAKER_SAME, true };
	bool pause = retry_after_ms > 0;

	switch (b->state) {
	case BREAKER_CLOSED:
		b->failures++;
		if (b->failures < p->failures && !pause) {
			v.change = BREAKER_COUNTED;
			v.absorb = false; /* an ordinary failed attempt */
			break;
		}
		b->opens = 1;
		/* A Retry-After alone pauses for just as long as asked. */
		open_until(
			b, now_ms,
			b->failures < p->failures
				? retry_after_ms
				: max64(breaker_cooldown_ms(p, b->opens, rand01), retry_after_ms));
		v.change = BREAKER_OPENED;
		break;
	case BREAKER_OPEN:
		/* Sent before it opened: already absorbed, unless the platform
		 * asks for a longer pause. */
		if (pause && now_ms + retry_after_ms > b->retry_at_ms) {
			b->retry_at_ms = now_ms + retry_after_ms;
			v.change = BREAKER_EXTENDED;
		}
		break;
	case BREAKER_HALF_OPEN:
		b->failures++;
		if (b->opens < MAX_OPENS)
			b->opens++;
		open_until(b, now_ms,
			   max64(breaker_cooldown_ms(p, b->opens, rand01), retry_after_ms));
		v.change = BREAKER_REOPENED;
		break;
	}
	return v;
}

struct breaker_verdict breaker_on_success(struct breaker *b)
{
	struct breaker_verdict v = { BREAKER_SAME, false };

	switch (b->state) {
	case BREAKER_CLOSED:
		if (b->failures > 0) {
			b->failures = 0;
			v.change = BREAKER_COUNTED;
		}
		break;
	case BREAKER_OPEN:
		break;
	case BREAKER_HALF_OPEN:
		memset(b, 0, sizeof(*b));
		b->state = BREAKER_CLOSED;
		v.change = BREAKER_CLOSED_NOW;
		break;
	}
	return v;
}

int64_t breaker_park_ms(const struct breaker_policy *p)
{
	return PARK_CAPS * p->cooldown_cap_ms;
}

int64_t breaker_hold_ms(const struct breaker *b, const struct breaker_policy *p,
			enum breaker_change change, int64_t now_ms, double rand01)
{
	int64_t spread, d;

	if (!(rand01 >= 0) || rand01 >= 1) /* also NaN */
		rand01 = 0;
	spread = (int64_t)(rand01 * HOLD_SPREAD_MS);
	if (change == BREAKER_REOPENED)
		return breaker_park_ms(p) + spread;
	d = b->state == BREAKER_OPEN ? b->retry_at_ms - now_ms : 0;
	return (d > 0 ? d : 0) + spread;
}

bool breaker_blocks(const struct breaker *b)
{
	return b->state != BREAKER_CLOSED;
}

bool breaker_probe_due(const struct breaker *b, int64_t now_ms)
{
	if (b->state == BREAKER_OPEN)
		return now_ms >= b->retry_at_ms;
	if (b->state == BREAKER_HALF_OPEN)
		return now_ms >= b->probe_until_ms;
	return false;
}

static const char *const state_names[] = { "closed", "open", "half_open" };

const char *breaker_state_name(enum breaker_state s)
{
	if ((unsigned)s < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[s];
	return "closed";
}

int breaker_state_parse(const char *s, enum breaker_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (s && strcmp(s, state_names[i]) == 0) {
			*out = (enum breaker_state)i;
			return 0;
		}
	}
	return -1;
}
