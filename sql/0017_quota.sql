-- Plan quotas ([plans] quotas; lib/core/quota.c, lib/store/quota_store.c).
--  deliveries.hold_reason: why a 'held' delivery waits.  NULL = its
--      destination is paused (the only reason before this migration;
--      `destination resume` releases those); 'quota' = its conversion
--      arrived after the tenant had used up the month's quota (a plan
--      upgrade or the next month releases those, never `resume`).
--  tenant_usage: conversions per tenant per calendar month (UTC), kept by
--      stage 1 in the transaction that writes them, so usage is never
--      counted from rows.  admitted: conversions whose deliveries went
--      ahead this month (within quota on arrival, or released into this
--      month); over_quota: conversions that arrived this month over the
--      quota (held).  Test conversions are not counted.
ALTER TABLE deliveries ADD COLUMN hold_reason text CHECK (hold_reason IN ('quota'));

CREATE INDEX deliveries_quota_held ON deliveries (tenant_id, conversion_id)
	WHERE state = 'held' AND hold_reason = 'quota';

CREATE TABLE tenant_usage (
	tenant_id  bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
	month      date NOT NULL CHECK (extract(day FROM month) = 1),
	admitted   bigint NOT NULL DEFAULT 0,
	over_quota bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, month)
);
