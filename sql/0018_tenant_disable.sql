-- A tenant can be disabled (POST /v1/admin/tenants/{id}/disable): the flag
-- is shown by the admin API, and disabling also disables the tenant's
-- sources in the same transaction, so its webhooks are refused.  Nothing
-- is deleted: rows stay for audit and replay.
ALTER TABLE tenants ADD COLUMN disabled boolean NOT NULL DEFAULT false;
