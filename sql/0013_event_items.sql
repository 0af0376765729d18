-- 0013_event_items: per-event dedup for requests that carry several events
-- (the server-side events API, POST /v1/events/{source_id}).
--
-- The request itself is one raw event, keyed in ingest_keys like every
-- webhook.  Each of its valid events is keyed here by (source, item_key =
-- the event's event_id) by the same statement that stores the raw event,
-- ON CONFLICT DO NOTHING: the rows that go in are the events this source
-- sends for the first time, decided atomically with the COMMIT and right
-- under concurrent requests (a transaction inserting a key another has
-- inserted but not committed waits for it, then finds it).  Small and
-- unpartitioned like ingest_keys, and kept as long.
CREATE TABLE ingest_item_keys (
	source_id    uuid NOT NULL,
	item_key     text NOT NULL,
	raw_event_id bigint NOT NULL,
	item         int NOT NULL,        -- 0-based position in that request's body
	received_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source_id, item_key)
);

-- The positions (ascending) of a request's events that were new when it
-- was stored: the ones stage 1 converts; the others were answered
-- duplicate or invalid.  NULL for a webhook of one event.  Written with the
-- raw event and never changed, so a reprocess converts the same events.
-- (A nullable column without a default: no rewrite of the partitions.)
ALTER TABLE raw_events ADD COLUMN items_new int[];
