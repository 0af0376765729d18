-- Billing state of each tenant as Stripe reports it (POST
-- /v1/webhooks/stripe/{source}, applied by stage 1; lib/store/billing_store.c).
--  stripe_customer_id (0001) and stripe_subscription_id: linked by
--                   checkout.session.completed (client_reference_id = the
--                   tenant's id or name).
--  plan (0001):     set from the subscription's price ([stripe] plans).
--  plan_status (0001): the subscription's status (active, trialing,
--                   past_due, canceled, …).
--  billing_status:  'ok', or 'past_due' after invoice.payment_failed until
--                   an invoice.paid.
--  billing_sub_event_at / billing_invoice_event_at: Stripe's `created` (unix
--                   seconds) of the last subscription / invoice event
--                   applied.  Stripe does not deliver in order: an event
--                   older than the one applied changes nothing.
--  billing_updated_at: when any of these last changed.
-- Event dedup is the raw event's (ingest_keys on the event id).
ALTER TABLE tenants ADD COLUMN stripe_subscription_id text,
                    ADD COLUMN billing_status text NOT NULL DEFAULT 'ok'
                        CHECK (billing_status IN ('ok', 'past_due')),
                    ADD COLUMN billing_sub_event_at bigint,
                    ADD COLUMN billing_invoice_event_at bigint,
                    ADD COLUMN billing_updated_at timestamptz;
CREATE INDEX tenants_stripe_customer ON tenants (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;
