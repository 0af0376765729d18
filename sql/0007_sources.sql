-- Per-source credentials for calling the platform back, beside the webhook
-- secret: WooCommerce has no retries, so `adsengctl source reconcile` reads
-- missed orders from the shop's REST API with a consumer key and secret.
-- Vault-sealed like `secret`, associated data 'source:<id>:rest_credentials';
-- NULL when the source has none.  The shop's URL goes in settings
-- (store_url), where nothing secret lives.
ALTER TABLE sources ADD COLUMN rest_credentials bytea;
