-- 0011_adjustments: changes to a conversion after it was recorded (a refund,
-- an order edit), and their delivery per destination.
--
-- An adjustment is linked to its conversion and says what the conversion is
-- worth now: a 'retraction' (nothing: a full refund) or a 'restatement' with
-- the new value.  Besides the value sent, it keeps what it was computed from,
-- so the next one can be computed without the platform: `refunded` is the
-- money this refund returned (NULL for an order edit) and `order_value` the
-- order's new total of an edit (NULL for a refund).  The conversion's value
-- now is the newest order_value (else conversions.value) minus the sum of
-- refunded.
--
-- dedup_key is the sender's id of the change (Shopify: the refund's id): the
-- same refund delivered twice, even under two webhook ids, makes one row.
-- No foreign key to raw_events (partitioned, and purged before this) nor to
-- conversions (like deliveries: retention deletes both in its own order).
CREATE TABLE adjustments (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	conversion_id bigint NOT NULL,
	tenant_id     bigint NOT NULL,
	source_id     uuid NOT NULL,
	raw_event_id  bigint,
	kind          text NOT NULL CHECK (kind IN ('retraction', 'restatement')),
	value         numeric NOT NULL CHECK (value >= 0),
	currency      text,
	reason        text,
	refunded      numeric CHECK (refunded > 0),
	order_value   numeric CHECK (order_value >= 0),
	dedup_key     text NOT NULL,
	occurred_at   timestamptz NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	UNIQUE (conversion_id, dedup_key)
);

-- One row per destination the conversion was routed to (its deliveries,
-- except 'skipped' test orders), like deliveries: destinations whose kind
-- has no adjustment API are 'not_supported' at once and never sent.
CREATE TABLE adjustment_deliveries (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	adjustment_id   bigint NOT NULL REFERENCES adjustments (id) ON DELETE CASCADE,
	destination_id  uuid NOT NULL,
	tenant_id       bigint NOT NULL,
	state           text NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'dead',
	                                 'not_supported')),
	attempts        int NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	lease_until     timestamptz,
	last_status     int,
	platform_code   text,
	last_error      text,
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	delivered_at    timestamptz,
	UNIQUE (adjustment_id, destination_id)
);

CREATE INDEX adjustment_deliveries_due ON adjustment_deliveries (next_attempt_at)
	WHERE state = 'pending';
CREATE INDEX adjustment_deliveries_lease ON adjustment_deliveries (lease_until)
	WHERE state = 'in_flight';
CREATE INDEX adjustment_deliveries_destination ON adjustment_deliveries (destination_id);
