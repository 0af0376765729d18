/*
 * breaker.h - the per-destination circuit breaker's rules (DESIGN §5), as
 * pure functions over a small state struct.
 *
 * closed ──N consecutive failures, or a Retry-After──▶ open
 * open ──cool-down over: one worker claims a probe──▶ half-open
 * half-open ──the probe succeeds──▶ closed
 * half-open ──the probe fails──▶ open again, with a longer cool-down
 *
 * A failure is a request that got no HTTP answer, a 5xx or a 429: the
 * platform's trouble, not the events'.  Any other answer, 400 included,
 * proves the platform is up and counts as a success.  The cool-down is
 * exponential with jitter, min(cap, base * 2^(opens-1)) scaled by a
 * uniform factor in [0.5, 1): never near zero, and daemons that opened
 * together do not probe together.  A Retry-After pauses the destination for
 * at least that long.
 *
 * The state lives in the database (store/breaker_store.c) so that every
 * worker of every daemon agrees; the pipeline reads it, applies these
 * functions and writes it back with a version check.  Times are
 * milliseconds since the epoch on the database's clock.
 */
#ifndef ADSENG_CORE_BREAKER_H
#define ADSENG_CORE_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

struct breaker_policy {
	int64_t failures;	 /* consecutive failures that open it (>= 1) */
	int64_t cooldown_ms;	 /* the first cool-down */
	int64_t cooldown_cap_ms; /* the longest */
};

struct breaker {
	enum breaker_state state;
	int32_t failures;	/* consecutive failed requests */
	int32_t opens;		/* openings since it last closed: the cool-down exponent */
	int64_t retry_at_ms;	/* open: when a probe may go; 0 otherwise */
	int64_t probe_until_ms; /* half-open: the probe's lease; 0 otherwise */
};

enum breaker_change {
	BREAKER_SAME,	  /* nothing to write */
	BREAKER_COUNTED,  /* only the failure count changed */
	BREAKER_OPENED,	  /* closed → open */
	BREAKER_REOPENED, /* half-open → open: the probe failed */
	BREAKER_EXTENDED, /* still open, until later: a longer Retry-After */
	BREAKER_CLOSED_NOW
};

struct breaker_verdict {
	enum breaker_change change;
	/* The failure is the destination's, not the events': give the
	 * attempt back (it opened the breaker, or came while it was open). */
	bool absorb;
};

/* Whether an upload's answer counts as a failure of the destination:
 * no HTTP answer, 5xx or 429. */
bool breaker_is_failure(bool transport_error, long http_status);

/* The cool-down after the opens-th opening (opens >= 1); rand01 is a
 * uniform sample in [0, 1) supplied by the caller so the rule is testable. */
int64_t breaker_cooldown_ms(const struct breaker_policy *p, int32_t opens, double rand01);

/* A failed request finished at now_ms; retry_after_ms < 0 when the
 * platform sent no Retry-After.  Updates *b and says what changed. */
struct breaker_verdict breaker_on_failure(struct breaker *b, const struct breaker_policy *p,
					  int64_t now_ms, int64_t retry_after_ms, double rand01);

/* A request that the platform answered finished.  A success while open
 * (a request sent before it opened) changes nothing: only the probe may
 * close it. */
struct breaker_verdict breaker_on_success(struct breaker *b);

/*
 * How far ahead an opening sets the destination's backlog aside (closing
 * brings it back): ten cool-down caps, far enough that a long outage does
 * not rewrite it at every failed probe, near enough that a lost wake-up
 * only delays it.
 */
int64_t breaker_park_ms(const struct breaker_policy *p);

/*
 * How long, from now_ms, deliveries held back by b should wait: until its
 * probe may go, spread over a second by rand01.  After a failed probe
 * (change BREAKER_REOPENED) they go to the back, set aside with the
 * backlog: the next probe is another delivery, so one that the platform
 * chokes on cannot keep the breaker open.
 */
int64_t breaker_hold_ms(const struct breaker *b, const struct breaker_policy *p,
			enum breaker_change change, int64_t now_ms, double rand01);

/* Whether the destination's deliveries may not be claimed now. */
bool breaker_blocks(const struct breaker *b);

/* Whether a probe should be claimed at now_ms: open and cooled down, or
 * half-open with the last probe's lease run out (its worker died). */
bool breaker_probe_due(const struct breaker *b, int64_t now_ms);

/* "closed", "open", "half_open" (the database's spelling). */
const char *breaker_state_name(enum breaker_state s);
/* The reverse; 0 or -1 for an unknown name. */
int breaker_state_parse(const char *s, enum breaker_state *out) WUR;

#endif
