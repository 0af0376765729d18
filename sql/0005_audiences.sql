-- 0005_audiences: Customer Match audiences (issue 6).
--
-- An audience is a user list on an ad platform (Google: a Customer Match
-- list, its id in user_list_id) filled from the customers of some sources
-- of its tenant.  audience_members records what was SENT to the platform,
-- one row per member: written only after the platform accepted the request
-- (2xx), so a sync that failed half way sends the rest again next time.
-- A sync compares the current members with these rows and sends only the
-- difference (additions: new or changed members; removals: members sent
-- before that are gone or whose consent is now denied).
--
-- identifiers holds the platform's identifiers exactly as sent: hashes
-- (email, phone, names) and the clear region and postal code an address
-- needs, never clear personal data.  member_key is a SHA-256 of the
-- member's primary identifier (lib/destinations/google_audience.c), so a
-- customer whose other identifiers change keeps the key and is re-sent.

CREATE TABLE audiences (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id      bigint NOT NULL REFERENCES tenants (id),
	destination_id uuid NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
	name           text NOT NULL CHECK (name <> ''),
	user_list_id   text NOT NULL CHECK (user_list_id <> ''),
	source_ids     uuid[] NOT NULL CHECK (cardinality(source_ids) > 0),
	created_at     timestamptz NOT NULL DEFAULT now(),
	last_sync_at   timestamptz,        -- end of the last sync, successful or not
	last_error     text,               -- why the last sync stopped; NULL = it finished
	UNIQUE (tenant_id, name)
);

CREATE TABLE audience_members (
	audience_id bigint NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
	member_key  text NOT NULL,         -- hex SHA-256 of the primary identifier
	identifiers jsonb NOT NULL,        -- the platform identifiers as sent
	consent     jsonb,                 -- the consent sent with them, NULL = none
	sent_at     timestamptz NOT NULL,  -- last accepted addition
	removed_at  timestamptz,           -- accepted removal after sent_at; NULL = a member
	PRIMARY KEY (audience_id, member_key)
);
