-- 0004_oauth_state: single use of the OAuth2 consent state (issue 6).
--
-- `adsengctl destination authorize` signs a state token (lib/core/oauth_state.h)
-- and inserts its nonce here; the callback consumes it with one
-- UPDATE … WHERE used_at IS NULL AND expires_at > now() RETURNING, so a
-- state is accepted once, even when two callbacks race.  The redirect URI
-- the consent URL named is kept with it: the code exchange must send
-- exactly the same one, even if [server] public_url changed meanwhile or
-- --redirect-uri was given.  Rows are purged a day after they expire
-- (kept that long so a reused link is told "already used", not "unknown").

CREATE TABLE oauth_states (
	nonce          text PRIMARY KEY CHECK (nonce ~ '^[0-9a-f]{32}$'),
	destination_id uuid NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
	redirect_uri   text NOT NULL,
	created_at     timestamptz NOT NULL DEFAULT now(),
	expires_at     timestamptz NOT NULL,
	used_at        timestamptz
);

CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
