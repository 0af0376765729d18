-- 0002_stage1: test orders never reach a destination as real events.
--
-- conversions.test copies the canonical conversion's "test" flag (Shopify's
-- test orders and checkouts) beside the payload, so stage 1 can decide per
-- route in SQL.  A test conversion routed to a destination that is not in
-- test mode gets a delivery in the new state 'skipped' with last_error
-- 'test': visible in `deliveries list/show` and counted by `stats`, never
-- claimed, never replayed.  (Adding a column with a constant default does
-- not rewrite the table.)

ALTER TABLE conversions ADD COLUMN test boolean NOT NULL DEFAULT false;

ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
	CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'dead', 'held', 'skipped'));
