-- 0003_breaker: the per-destination circuit breaker (DESIGN §5).
--
-- One row per destination that has failed at least once; no row is the
-- same as closed with no failures.  It is a table of its own rather than
-- columns of destinations because it changes on every outage, and every
-- UPDATE of destinations NOTIFYs adseng_catalog, which makes every worker
-- of every daemon drop its destination cache.
--
-- Workers read a row, apply the rules of lib/core/breaker.c and write it
-- back only if `version` is unchanged, so workers of several daemons agree.
-- The stage 2 claim skips destinations whose row is not closed; one
-- UPDATE … WHERE state = 'open' AND retry_at <= now() turns an open breaker
-- half-open and claims one delivery as its probe, so exactly one worker
-- sends it.

CREATE TABLE destination_health (
	destination_id uuid PRIMARY KEY REFERENCES destinations (id) ON DELETE CASCADE,
	state          text NOT NULL DEFAULT 'closed'
	               CHECK (state IN ('closed', 'open', 'half_open')),
	failures       int NOT NULL DEFAULT 0,      -- consecutive failed requests
	opens          int NOT NULL DEFAULT 0,      -- openings since it last closed
	retry_at       timestamptz,                 -- open: when the probe may go
	probe_until    timestamptz,                 -- half_open: the probe's lease
	last_error     text,                        -- what the last failure was
	version        bigint NOT NULL DEFAULT 1,   -- bumped by every write
	changed_at     timestamptz NOT NULL DEFAULT now(),  -- last change of state
	updated_at     timestamptz NOT NULL DEFAULT now()
);
