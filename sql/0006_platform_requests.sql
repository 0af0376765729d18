-- Requests a platform accepted for asynchronous processing and reports on
-- later (Google Data Manager: POST events:ingest answers a requestId, and
-- GET requestStatus:retrieve says, minutes later, whether the events were
-- processed: SUCCESS, PARTIAL_SUCCESS with error counts per reason, or
-- FAILED).  The delivery pipeline stores one row per accepted request and
-- the request id on each delivery it carried; the control thread polls due
-- rows until the platform gives a final answer (next_poll_at NULL).
CREATE TABLE platform_requests (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	destination_id uuid NOT NULL,
	request_id     text NOT NULL,
	sent_at        timestamptz NOT NULL DEFAULT now(),
	events         int NOT NULL DEFAULT 0,
	next_poll_at   timestamptz,
	polls          int NOT NULL DEFAULT 0,
	status         text,
	summary        text,
	checked_at     timestamptz,
	UNIQUE (destination_id, request_id)
);
CREATE INDEX platform_requests_due ON platform_requests (next_poll_at)
	WHERE next_poll_at IS NOT NULL;

ALTER TABLE deliveries ADD COLUMN request_id text;
