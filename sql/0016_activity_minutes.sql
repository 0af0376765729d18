-- Per-minute activity behind the status page (GET /status on the metrics
-- listener; lib/store/activity_store.c, written by the control thread).
--
-- activity_minutes: one row per minute and object that saw activity.
--  minute:     the start of the minute (UTC, date_trunc('minute')).
--  scope:      'source' (object_id is a sources.id) or 'destination'
--              (a destinations.id).
--  ingested:   raw events received from the source in that minute.
--  delivered / failed / dead: deliveries of the destination that reached
--              that state in that minute (their updated_at), as the state
--              stood when the minute was last recomputed.
--  last_at:    the latest of those timestamps in the minute (a source's
--              last event time).
-- Rows older than 48 hours are pruned; the page reads 24 hours.
--
-- adseng_activity_refresh(window_minutes) recomputes the last
-- window_minutes minutes (and the current one) from the event tables and
-- replaces them: idempotent, so any number of daemons may call it; a
-- transaction-level advisory lock lets one do the work while the others
-- skip (returns false).  It reads only the recent window, through the BRIN
-- indexes below: a BRIN index costs next to nothing on insert (a block
-- range is summarized later by vacuum) and recent rows sit in the last,
-- unsummarized ranges of an append-mostly table.
CREATE TABLE activity_minutes (
	minute    timestamptz NOT NULL,
	scope     text NOT NULL CHECK (scope IN ('source', 'destination')),
	object_id uuid NOT NULL,
	ingested  bigint NOT NULL DEFAULT 0,
	delivered bigint NOT NULL DEFAULT 0,
	failed    bigint NOT NULL DEFAULT 0,
	dead      bigint NOT NULL DEFAULT 0,
	last_at   timestamptz,
	PRIMARY KEY (minute, scope, object_id)
);

CREATE INDEX raw_events_received_brin ON raw_events USING brin (received_at);
CREATE INDEX deliveries_updated_brin ON deliveries USING brin (updated_at);

CREATE FUNCTION adseng_activity_refresh(window_minutes int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	since timestamptz := date_trunc('minute', now()) - make_interval(mins => window_minutes);
BEGIN
	IF NOT pg_try_advisory_xact_lock(hashtext('adseng_activity_refresh')) THEN
		RETURN false;
	END IF;
	DELETE FROM activity_minutes WHERE minute >= since;
	INSERT INTO activity_minutes (minute, scope, object_id, ingested, last_at)
	SELECT date_trunc('minute', received_at), 'source', source_id, count(*), max(received_at)
	FROM raw_events WHERE received_at >= since
	GROUP BY 1, 3;
	INSERT INTO activity_minutes (minute, scope, object_id, delivered, failed, dead, last_at)
	SELECT date_trunc('minute', updated_at), 'destination', destination_id,
	       count(*) FILTER (WHERE state = 'delivered'),
	       count(*) FILTER (WHERE state = 'failed'),
	       count(*) FILTER (WHERE state = 'dead'), max(updated_at)
	FROM deliveries
	WHERE updated_at >= since AND state IN ('delivered', 'failed', 'dead')
	GROUP BY 1, 3;
	DELETE FROM activity_minutes WHERE minute < now() - interval '48 hours';
	RETURN true;
END $$;
