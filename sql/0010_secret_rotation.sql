-- Secret rotation (`adsengctl source rotate-secret`): the secret being
-- replaced moves to secret_previous (re-sealed with that column's associated
-- data) and stays valid until secret_previous_until, the end of the overlap
-- during which the platform may still sign with it.  After it the daemon
-- refuses the old secret even before anything rewrites the row: the source
-- cache keeps the end with the secret and checks it per request.  NULL with
-- a secret_previous: no end (rows written before this column existed).
ALTER TABLE sources ADD COLUMN secret_previous_until timestamptz;
