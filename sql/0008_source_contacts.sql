-- What a source's sender has told us about a person it names by its own id
-- (a GoHighLevel contact), so that a later event carrying only that id (a
-- won opportunity with a contactId) gets the person's identifiers and click
-- ids.  `ids` holds exactly what conversions already keep, never more:
-- identifiers normalized and hashed per platform scheme (city, region,
-- postal code and country in Google's plain form) and click ids, as a flat
-- object {"ids.meta.em": "<sha256>", "click.gclid": "…"} so that a newer
-- value of one field replaces the old one in a single statement (jsonb ||).
-- Rows go with their source.
CREATE TABLE source_contacts (
	source_id   uuid NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	contact_key text NOT NULL,
	ids         jsonb NOT NULL DEFAULT '{}',
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source_id, contact_key)
);
